declare module 'h5wasm-plugins' {
  export const plugin_names: string[];
  export function install_local_plugins(h5wasmModule: unknown): void;
  export function list_plugins(h5wasmModule: unknown): string[];
}
