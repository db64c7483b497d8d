/**
 * The one place that loads h5wasm. h5wasm is ESM-only, so it is reached through a dynamic import
 * (kept as a real `import()` by tsc's node16 module mode). Loading also
 *  - turns on the throwing error handler: without it a failed read (missing filter, allocation failure)
 *    returns garbage or zeros instead of failing;
 *  - puts h5wasm-plugins' compiled filters (LZF for anndata 0.7 files, blosc, zstd...) on the plugin path.
 */
export type H5Wasm = typeof import('h5wasm/node', { with: { 'resolution-mode': 'import' } });

let loading: Promise<H5Wasm> | undefined;

export function loadH5Wasm(): Promise<H5Wasm> {
  if (!loading) {
    loading = (async () => {
      const h5 = await import('h5wasm/node');
      const mod = await h5.ready;
      mod.activate_throwing_error_handler();
      const plugins = await import('h5wasm-plugins');
      plugins.install_local_plugins(mod);
      return h5;
    })();
  }
  return loading;
}
