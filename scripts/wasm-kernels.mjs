// The WebAssembly kernels of the logistic regressions, generated per class count and compiled with AssemblyScript
// into out/src/core/baselines/logreg-kernels.wasm:
//   - scores<K> / grad<K> (K = 2..MAX_CLASSES): the multinomial fit's two passes (src/core/baselines/softmax.ts);
//   - l1grad<G> / l1dot<G> / l1axpy<G> / l1xd<G> (G = 1..MAX_L1_GROUP): the column passes of the one-vs-rest L1
//     solver that fits G binary problems in step (src/core/baselines/l1-group.ts).
//
// Why generated: each stored matrix value touches the K weights (scores) or K residuals (gradient) of its row; with
// the K values held in named SIMD locals (two float64 per v128) the compiler keeps them in registers, where a loop
// over K loads and stores memory for every value. Measured on 17,000 x 16,906 rows, 11 classes: 3.5-4.6 ns per
// stored value unrolled, 7 ns with a loop over K, 9-10 ns for the JavaScript kernels (bench/RESULTS.md).
// Arithmetic is a multiply then an add per lane, the order of the JavaScript kernels, so both give the same bits.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const MAX_CLASSES = 64;
export const MAX_L1_GROUP = 16;

/** AssemblyScript source of scores<K> and grad<K> for one class count. */
function kernelsForK(K) {
  const S = 8 * K;
  const P = Math.floor(K / 2);
  const odd = K % 2 === 1;
  const ps = Array.from({ length: P }, (_, p) => p);
  const lines = [];
  // z[i*K + k] += v * W[j*K + k] for the stored values (i, v) of columns [j0, j1) of one row block
  lines.push(`export function scores${K}(colPtr: usize, base: i32, rowIdx: usize, values: usize, W: usize, z: usize, j0: i32, j1: i32): void {`);
  lines.push('  for (let j = j0; j < j1; j++) {');
  lines.push(`    const wp = W + <usize>j * ${S};`);
  for (const p of ps) lines.push(`    const w${p} = v128.load(wp, ${16 * p});`);
  if (odd) lines.push(`    const wl = load<f64>(wp, ${16 * P});`);
  lines.push('    const e = load<i32>(colPtr + (<usize>(base + j + 1) << 2));');
  lines.push('    for (let t = load<i32>(colPtr + (<usize>(base + j) << 2)); t < e; t++) {');
  lines.push('      const v = <f64>load<f32>(values + (<usize>t << 2));');
  lines.push('      const vv = f64x2.splat(v);');
  lines.push(`      const zp = z + <usize>load<i32>(rowIdx + (<usize>t << 2)) * ${S};`);
  for (const p of ps) lines.push(`      v128.store(zp, f64x2.add(v128.load(zp, ${16 * p}), f64x2.mul(vv, w${p})), ${16 * p});`);
  if (odd) lines.push(`      store<f64>(zp, load<f64>(zp, ${16 * P}) + v * wl, ${16 * P});`);
  lines.push('    }');
  lines.push('  }');
  lines.push('}');
  // grad[j*K + k] (= 0 when first) += sum over the stored values (i, v) of column j of v * r[i*K + k]
  lines.push(`export function grad${K}(colPtr: usize, base: i32, rowIdx: usize, values: usize, r: usize, grad: usize, j0: i32, j1: i32, first: bool): void {`);
  lines.push('  for (let j = j0; j < j1; j++) {');
  lines.push(`    const gp = grad + <usize>j * ${S};`);
  for (const p of ps) lines.push(`    let g${p} = first ? f64x2.splat(0) : v128.load(gp, ${16 * p});`);
  if (odd) lines.push(`    let gl: f64 = first ? 0 : load<f64>(gp, ${16 * P});`);
  lines.push('    const e = load<i32>(colPtr + (<usize>(base + j + 1) << 2));');
  lines.push('    for (let t = load<i32>(colPtr + (<usize>(base + j) << 2)); t < e; t++) {');
  lines.push('      const v = <f64>load<f32>(values + (<usize>t << 2));');
  lines.push('      const vv = f64x2.splat(v);');
  lines.push(`      const rp = r + <usize>load<i32>(rowIdx + (<usize>t << 2)) * ${S};`);
  for (const p of ps) lines.push(`      g${p} = f64x2.add(g${p}, f64x2.mul(vv, v128.load(rp, ${16 * p})));`);
  if (odd) lines.push(`      gl += v * load<f64>(rp, ${16 * P});`);
  lines.push('    }');
  for (const p of ps) lines.push(`    v128.store(gp, g${p}, ${16 * p});`);
  if (odd) lines.push(`    store<f64>(gp, gl, ${16 * P});`);
  lines.push('  }');
  lines.push('}');
  return lines.join('\n');
}

/**
 * AssemblyScript source of the L1 group kernels for G problems. Per-row data of the G problems is stored row-major,
 * two G-vectors per row: rc = [dloss_0..dloss_G-1, d2loss_0..d2loss_G-1] and qp = [curv_0..curv_G-1,
 * dxd_0..dxd_G-1], so that one stored value (i, v) reaches the values of all G problems in one or two cache lines
 * (the single-problem solver fetched a line per problem). Per-feature data is [j*G + k].
 */
function l1KernelsForG(G) {
  const S = 16 * G; // bytes of one row of rc / qp
  const H = 8 * G; // offset of the second G-vector
  const P = Math.floor(G / 2);
  const odd = G % 2 === 1;
  const ps = Array.from({ length: P }, (_, p) => p);
  const head = (name, params) => [
    `export function ${name}${G}(colPtr: usize, rowIdx: usize, values: usize, ${params}): void {`,
  ];
  const entries = (body) => [
    '    const e = load<i32>(colPtr + (<usize>(j + 1) << 2));',
    '    for (let t = load<i32>(colPtr + (<usize>j << 2)); t < e; t++) {',
    '      const v = <f64>load<f32>(values + (<usize>t << 2));',
    '      const vv = f64x2.splat(v);',
    ...body,
    '    }',
  ];
  const lines = [];
  // grad[j*G + k] = sum v * dloss[i, k], hdiag[j*G + k] = sum v^2 * d2loss[i, k] over columns cols[0, nc)
  lines.push(...head('l1grad', 'rc: usize, cols: usize, nc: i32, grad: usize, hdiag: usize'));
  lines.push('  for (let c = 0; c < nc; c++) {');
  lines.push('    const j = load<i32>(cols + (<usize>c << 2));');
  for (const p of ps) lines.push(`    let g${p} = f64x2.splat(0); let h${p} = f64x2.splat(0);`);
  if (odd) lines.push('    let gl: f64 = 0; let hl: f64 = 0;');
  lines.push(...entries([
    '      const vv2 = f64x2.splat(v * v);',
    `      const rp = rc + <usize>load<i32>(rowIdx + (<usize>t << 2)) * ${S};`,
    ...ps.flatMap(p => [
      `      g${p} = f64x2.add(g${p}, f64x2.mul(vv, v128.load(rp, ${16 * p})));`,
      `      h${p} = f64x2.add(h${p}, f64x2.mul(vv2, v128.load(rp, ${H + 16 * p})));`,
    ]),
    ...(odd ? [`      gl += v * load<f64>(rp, ${16 * P});`, `      hl += v * v * load<f64>(rp, ${H + 16 * P});`] : []),
  ]));
  lines.push(`    const gp = grad + <usize>j * ${H}; const hp = hdiag + <usize>j * ${H};`);
  for (const p of ps) lines.push(`    v128.store(gp, g${p}, ${16 * p}); v128.store(hp, h${p}, ${16 * p});`);
  if (odd) lines.push(`    store<f64>(gp, gl, ${16 * P}); store<f64>(hp, hl, ${16 * P});`);
  lines.push('  }');
  lines.push('}');
  // out[k] = sum v * dxd[i, k] over column j
  lines.push(...head('l1dot', 'qp: usize, j: i32, out: usize'));
  for (const p of ps) lines.push(`    let s${p} = f64x2.splat(0);`);
  if (odd) lines.push('    let sl: f64 = 0;');
  lines.push(...entries([
    `      const rp = qp + <usize>load<i32>(rowIdx + (<usize>t << 2)) * ${S};`,
    ...ps.map(p => `      s${p} = f64x2.add(s${p}, f64x2.mul(vv, v128.load(rp, ${H + 16 * p})));`),
    ...(odd ? [`      sl += v * load<f64>(rp, ${H + 16 * P});`] : []),
  ]));
  for (const p of ps) lines.push(`    v128.store(out, s${p}, ${16 * p});`);
  if (odd) lines.push(`    store<f64>(out, sl, ${16 * P});`);
  lines.push('}');
  // dxd[i, k] += v * z[k] * curv[i, k] over column j
  lines.push(...head('l1axpy', 'qp: usize, j: i32, z: usize'));
  for (const p of ps) lines.push(`    const z${p} = v128.load(z, ${16 * p});`);
  if (odd) lines.push(`    const zl = load<f64>(z, ${16 * P});`);
  lines.push(...entries([
    `      const rp = qp + <usize>load<i32>(rowIdx + (<usize>t << 2)) * ${S};`,
    ...ps.map(p => `      v128.store(rp, f64x2.add(v128.load(rp, ${H + 16 * p}), f64x2.mul(f64x2.mul(vv, z${p}), v128.load(rp, ${16 * p}))), ${H + 16 * p});`),
    ...(odd ? [`      store<f64>(rp, load<f64>(rp, ${H + 16 * P}) + v * zl * load<f64>(rp, ${16 * P}), ${H + 16 * P});`] : []),
  ]));
  lines.push('}');
  // xd[i*G + k] += v * d[k] over column j (the step's X d)
  lines.push(...head('l1xd', 'xd: usize, j: i32, d: usize'));
  for (const p of ps) lines.push(`    const d${p} = v128.load(d, ${16 * p});`);
  if (odd) lines.push(`    const dl = load<f64>(d, ${16 * P});`);
  lines.push(...entries([
    `      const xp = xd + <usize>load<i32>(rowIdx + (<usize>t << 2)) * ${H};`,
    ...ps.map(p => `      v128.store(xp, f64x2.add(v128.load(xp, ${16 * p}), f64x2.mul(vv, d${p})), ${16 * p});`),
    ...(odd ? [`      store<f64>(xp, load<f64>(xp, ${16 * P}) + v * dl, ${16 * P});`] : []),
  ]));
  lines.push('}');
  return lines.join('\n');
}

export function kernelSource(maxClasses = MAX_CLASSES, maxGroup = MAX_L1_GROUP) {
  const parts = ['// generated by scripts/wasm-kernels.mjs; do not edit'];
  for (let K = 2; K <= maxClasses; K++) parts.push(kernelsForK(K));
  for (let G = 1; G <= maxGroup; G++) parts.push(l1KernelsForG(G));
  return parts.join('\n') + '\n';
}

/** Compiles the kernels into `outFile` (memory imported as env.memory, shared, up to 4 GiB). */
export async function buildKernels(outFile) {
  const { default: asc } = await import('assemblyscript/asc');
  const source = kernelSource();
  let wasm = null;
  let errors = '';
  const { error } = await asc.main([
    'kernels.ts', '--outFile', 'kernels.wasm', '-O3', '--noAssert', '--runtime', 'stub',
    '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536', '--enable', 'simd,threads',
  ], {
    readFile: name => (name === 'kernels.ts' ? source : null),
    writeFile: (name, contents) => { if (name.endsWith('.wasm')) wasm = contents; },
    listFiles: () => [],
    stdout: { write: () => true },
    stderr: { write: s => { errors += s; return true; } },
  });
  if (error || !wasm) throw new Error(`AssemblyScript failed on the logistic-regression kernels: ${error?.message ?? ''}\n${errors}`);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const tmp = `${outFile}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, wasm);
  fs.renameSync(tmp, outFile);
}
