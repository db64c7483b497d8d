/**
 * A small SVG renderer of the paper-style figures (figures.ts): the results panel shows these SVGs and exports
 * them as .svg files (and as PNG, drawn from the same SVG), so an exported figure is the one on screen. Chart.js
 * draws only on canvases and cannot emit SVG, hence this renderer.
 *
 * Output is standalone SVG 1.1 (presentation attributes only, no CSS, no scripts). Elements carry classes and
 * data attributes with the plotted values (`point` data-x/data-y, `band`, `bar` data-value, `whisker`
 * data-low/data-high, `published` data-value, `cell` data-row/data-col/data-value), so tests can check what is
 * drawn against the data.
 *
 * Pure: no DOM, no Node APIs; the webview bundles it.
 */
import type { BarFigure, Figure, HeatmapFigure, LineFigure } from './figures';

export interface SvgColors {
  background: string;
  foreground: string;
  grid: string;
  series: string[];
}

export interface SvgOptions {
  width?: number;
  height?: number;
  /** default: black on white with a colour-blind-safe palette (Okabe–Ito), as for print */
  colors?: SvgColors;
  fontFamily?: string;
  fontSize?: number;
}

export const PAPER_COLORS: SvgColors = {
  background: '#ffffff',
  foreground: '#222222',
  grid: '#dddddd',
  series: ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#f0e442', '#000000'],
};

interface Ctx {
  width: number;
  height: number;
  colors: SvgColors;
  font: string;
  size: number;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }[c] as string));
}

/** Numbers in attributes: at most 3 decimals, no exponent. */
function n(x: number): string {
  return String(Math.round(x * 1000) / 1000);
}

function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a).filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? n(v) : escapeXml(v as string)}"`).join('');
}

function el(name: string, a: Record<string, string | number | undefined>, content?: string): string {
  return content === undefined ? `<${name}${attrs(a)}/>` : `<${name}${attrs(a)}>${content}</${name}>`;
}

function text(ctx: Ctx, x: number, y: number, body: string, extra: Record<string, string | number | undefined> = {}): string {
  return el('text', { x, y, fill: ctx.colors.foreground, 'font-family': ctx.font, 'font-size': ctx.size, ...extra }, escapeXml(body));
}

/** A rough text width (no font metrics outside a browser): 0.58 em a character. */
function textWidth(body: string, size: number): number {
  return body.length * size * 0.58;
}

function truncate(body: string, max: number): string {
  return body.length > max ? `${body.slice(0, max - 1)}…` : body;
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  // integer multiples of the step, rounded to the step's decimals (0.6, not 0.6000000000000001; 0, not -0)
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 2);
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push(Number((k * step).toFixed(decimals)) + 0);
  return ticks;
}

function tickText(v: number, ticks: number[]): string {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
  let decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  while (decimals < 6 && Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-6) decimals++;
  return v.toFixed(decimals);
}

function colour(ctx: Ctx, i: number): string {
  return ctx.colors.series[i % ctx.colors.series.length];
}

function open(ctx: Ctx, figure: Figure): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n`
    + `<svg xmlns="http://www.w3.org/2000/svg" version="1.1"${attrs({ width: ctx.width, height: ctx.height, viewBox: `0 0 ${ctx.width} ${ctx.height}`, 'data-kind': figure.kind })}>`
    + el('title', {}, escapeXml(figure.title))
    + el('rect', { x: 0, y: 0, width: ctx.width, height: ctx.height, fill: ctx.colors.background })
    + text(ctx, ctx.width / 2, ctx.size + 6, figure.title, { 'text-anchor': 'middle', 'font-weight': 'bold', class: 'figure-title' });
}

interface Plot { left: number; top: number; right: number; bottom: number }

function yAxis(ctx: Ctx, plot: Plot, lo: number, hi: number, label: string): { y: (v: number) => number; svg: string } {
  const y = (v: number) => plot.bottom - ((v - lo) / (hi - lo || 1)) * (plot.bottom - plot.top);
  const ticks = niceTicks(lo, hi);
  let svg = '';
  for (const t of ticks) {
    svg += el('line', { x1: plot.left, x2: plot.right, y1: y(t), y2: y(t), stroke: ctx.colors.grid, 'stroke-width': 1 });
    svg += text(ctx, plot.left - 6, y(t) + ctx.size / 3, tickText(t, ticks), { 'text-anchor': 'end', class: 'tick' });
  }
  svg += text(ctx, 0, 0, label, { transform: `translate(${n(ctx.size + 2)} ${n((plot.top + plot.bottom) / 2)}) rotate(-90)`, 'text-anchor': 'middle', class: 'axis-label' });
  svg += el('line', { x1: plot.left, x2: plot.left, y1: plot.top, y2: plot.bottom, stroke: ctx.colors.foreground, 'stroke-width': 1 });
  return { y, svg };
}

function diamond(x: number, y: number, r: number): string {
  return `M ${n(x)} ${n(y - r)} L ${n(x + r)} ${n(y)} L ${n(x)} ${n(y + r)} L ${n(x - r)} ${n(y)} Z`;
}

function legend(ctx: Ctx, items: { label: string; colour: string; dashed: boolean; marker: 'circle' | 'diamond' | 'bar' }[], x: number, y: number): string {
  let svg = `<g class="legend">`;
  items.forEach((it, i) => {
    const cy = y + i * (ctx.size + 8);
    if (it.marker === 'bar') {
      svg += el('rect', { x, y: cy - 5, width: 18, height: 10, fill: it.colour });
    } else {
      svg += el('line', { x1: x, x2: x + 18, y1: cy, y2: cy, stroke: it.colour, 'stroke-width': 2, 'stroke-dasharray': it.dashed ? '5 3' : undefined });
      svg += it.marker === 'diamond'
        ? el('path', { d: diamond(x + 9, cy, 4.5), fill: ctx.colors.background, stroke: it.colour, 'stroke-width': 1.5 })
        : el('circle', { cx: x + 9, cy, r: 3, fill: it.colour });
    }
    svg += text(ctx, x + 24, cy + ctx.size / 3, truncate(it.label, 40), { class: 'legend-label' });
  });
  return svg + '</g>';
}

function lineFigure(ctx: Ctx, f: LineFigure): string {
  const legendWidth = Math.min(ctx.width * 0.4, Math.max(0, ...f.series.map(s => textWidth(truncate(s.label, 40), ctx.size))) + 34);
  const plot: Plot = { left: 56, top: ctx.size + 20, right: ctx.width - legendWidth - 16, bottom: ctx.height - 44 };
  const xs = f.series.flatMap(s => s.points.map(p => p.x)).filter(Number.isFinite);
  const ys = f.series.flatMap(s => s.points.flatMap(p => (s.band ? [p.mean, p.low, p.high] : [p.mean]))).filter(Number.isFinite);
  let xLo = f.xFromZero ? 0 : Math.min(...xs);
  let xHi = Math.max(...xs);
  if (!xs.length) { xLo = 0; xHi = 1; }
  if (xHi <= xLo) { xHi = xLo + 1; }
  let yLo = ys.length ? Math.min(...ys) : 0;
  let yHi = ys.length ? Math.max(...ys) : 1;
  const pad = Math.max((yHi - yLo) * 0.08, f.unitY ? 0.02 : Math.abs(yHi) * 0.05 || 0.05);
  yLo -= pad; yHi += pad;
  if (f.unitY) { yLo = Math.max(0, yLo); yHi = Math.min(1, yHi); }
  else if (yLo < 0 && ys.every(v => v >= 0)) yLo = 0;
  const ax = yAxis(ctx, plot, yLo, yHi, f.yLabel);
  const x = (v: number) => plot.left + ((v - xLo) / (xHi - xLo)) * (plot.right - plot.left);
  let svg = open(ctx, f) + ax.svg;
  const xt = niceTicks(xLo, xHi);
  for (const t of xt) {
    svg += el('line', { x1: x(t), x2: x(t), y1: plot.bottom, y2: plot.bottom + 4, stroke: ctx.colors.foreground });
    svg += text(ctx, x(t), plot.bottom + ctx.size + 6, tickText(t, xt), { 'text-anchor': 'middle', class: 'tick' });
  }
  svg += el('line', { x1: plot.left, x2: plot.right, y1: plot.bottom, y2: plot.bottom, stroke: ctx.colors.foreground, 'stroke-width': 1 });
  svg += text(ctx, (plot.left + plot.right) / 2, ctx.height - 8, f.xLabel, { 'text-anchor': 'middle', class: 'axis-label' });
  f.series.forEach((s, i) => {
    const c = colour(ctx, s.group);
    const pts = s.points.filter(p => Number.isFinite(p.x) && Number.isFinite(p.mean)).sort((a, b) => a.x - b.x);
    let g = `<g${attrs({ class: 'series', 'data-series': i, 'data-label': s.label })}>`;
    if (s.band) {
      // one polygon per run of consecutive points that have an interval
      let run: typeof pts = [];
      const flush = () => {
        if (run.length) {
          const d = [...run.map(p => `${n(x(p.x))} ${n(ax.y(p.high))}`), ...[...run].reverse().map(p => `${n(x(p.x))} ${n(ax.y(p.low))}`)];
          g += el('path', { class: 'band', d: `M ${d.join(' L ')} Z`, fill: c, 'fill-opacity': 0.2, stroke: 'none', 'data-low': run.map(p => n(p.low)).join(' '), 'data-high': run.map(p => n(p.high)).join(' ') });
        }
        run = [];
      };
      for (const p of pts) { if (Number.isFinite(p.low) && Number.isFinite(p.high)) run.push(p); else flush(); }
      flush();
    }
    if (pts.length > 1) {
      g += el('path', { class: 'line', d: `M ${pts.map(p => `${n(x(p.x))} ${n(ax.y(p.mean))}`).join(' L ')}`, fill: 'none', stroke: c, 'stroke-width': 2, 'stroke-dasharray': s.dashed ? '6 4' : undefined });
    }
    for (const p of pts) {
      const a = { class: 'point', 'data-x': String(p.x), 'data-y': String(p.mean), 'data-n': String(p.n) };
      g += s.marker === 'diamond'
        ? el('path', { ...a, d: diamond(x(p.x), ax.y(p.mean), 5), fill: ctx.colors.background, stroke: c, 'stroke-width': 1.5 })
        : el('circle', { ...a, cx: x(p.x), cy: ax.y(p.mean), r: 3, fill: c });
    }
    svg += g + '</g>';
  });
  svg += legend(ctx, f.series.map(s => ({ label: s.label, colour: colour(ctx, s.group), dashed: s.dashed, marker: s.marker })), plot.right + 16, plot.top + 6);
  return svg + '</svg>\n';
}

function barFigure(ctx: Ctx, f: BarFigure): string {
  const labels = f.bars.map(b => truncate(b.label, 28));
  const longest = Math.max(0, ...labels.map(l => textWidth(l, ctx.size)));
  const slot0 = (ctx.width - 56 - 16) / Math.max(1, f.bars.length);
  const rotate = longest > slot0 - 6;
  const bottomSpace = rotate ? longest * Math.SQRT1_2 + ctx.size + 12 : ctx.size + 14;
  const hasPublished = f.bars.some(b => b.published !== null);
  const plot: Plot = { left: 56, top: ctx.size + 20 + (hasPublished ? ctx.size + 6 : 0), right: ctx.width - 16, bottom: ctx.height - bottomSpace };
  const ax = yAxis(ctx, plot, 0, 1, f.yLabel);
  let svg = open(ctx, f) + ax.svg;
  svg += el('line', { x1: plot.left, x2: plot.right, y1: plot.bottom, y2: plot.bottom, stroke: ctx.colors.foreground, 'stroke-width': 1 });
  const slot = (plot.right - plot.left) / Math.max(1, f.bars.length);
  const width = Math.min(60, slot * 0.6);
  const clamp = (v: number) => Math.max(0, Math.min(1, v));
  f.bars.forEach((b, i) => {
    const cx = plot.left + slot * (i + 0.5);
    const c = colour(ctx, i);
    let g = `<g${attrs({ class: 'bar-group', 'data-label': b.label, 'data-key': b.key })}>`;
    if (Number.isFinite(b.mean)) {
      g += el('rect', { class: 'bar', x: cx - width / 2, y: ax.y(clamp(b.mean)), width, height: plot.bottom - ax.y(clamp(b.mean)), fill: c, 'data-value': String(b.mean), 'data-n': String(b.n) });
    }
    if (Number.isFinite(b.low) && Number.isFinite(b.high)) {
      const y0 = ax.y(clamp(b.low));
      const y1 = ax.y(clamp(b.high));
      g += el('path', {
        class: 'whisker', d: `M ${n(cx)} ${n(y0)} L ${n(cx)} ${n(y1)} M ${n(cx - 6)} ${n(y0)} L ${n(cx + 6)} ${n(y0)} M ${n(cx - 6)} ${n(y1)} L ${n(cx + 6)} ${n(y1)}`,
        stroke: ctx.colors.foreground, 'stroke-width': 1.5, fill: 'none', 'data-low': String(b.low), 'data-high': String(b.high),
      });
    }
    if (b.published !== null) {
      g += el('path', { class: 'published', d: diamond(cx + width / 2 + 8, ax.y(clamp(b.published)), 5), fill: ctx.colors.background, stroke: ctx.colors.foreground, 'stroke-width': 1.5, 'data-value': String(b.published) });
    }
    const ly = plot.bottom + ctx.size + 4;
    g += rotate
      ? text(ctx, 0, 0, labels[i], { transform: `translate(${n(cx)} ${n(plot.bottom + 8)}) rotate(-45)`, 'text-anchor': 'end', class: 'bar-label' })
      : text(ctx, cx, ly, labels[i], { 'text-anchor': 'middle', class: 'bar-label' });
    svg += g + '</g>';
  });
  if (hasPublished) {
    const lx = plot.right - 150;
    const ly = ctx.size + 20;
    svg += `<g class="legend">${el('path', { d: diamond(lx, ly, 5), fill: ctx.colors.background, stroke: ctx.colors.foreground, 'stroke-width': 1.5 })}`
      + `${text(ctx, lx + 10, ly + ctx.size / 3, 'published; whiskers: CI', { class: 'legend-label' })}</g>`;
  }
  return svg + '</svg>\n';
}

function hexRgb(c: string): [number, number, number] | null {
  const m = /^#([0-9a-f]{6})$/i.exec(c.trim());
  if (!m) return null;
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function mix(a: string, b: string, t: number): { fill: string; dark: boolean } {
  const x = hexRgb(a) ?? [255, 255, 255];
  const y = hexRgb(b) ?? [0, 0, 0];
  const m = x.map((v, i) => Math.round(v + (y[i] - v) * t));
  const lum = (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
  return { fill: `#${m.map(v => v.toString(16).padStart(2, '0')).join('')}`, dark: lum < 0.5 };
}

function heatmapFigure(ctx: Ctx, f: HeatmapFigure): string {
  const K = f.classes.length;
  const labels = f.classes.map(c => truncate(c, 24));
  const labelWidth = Math.max(0, ...labels.map(l => textWidth(l, ctx.size)));
  const left = labelWidth + ctx.size + 20;
  const top = ctx.size + 20;
  const bottom = labelWidth * Math.SQRT1_2 + 2 * ctx.size + 20;
  const cell = Math.max(4, Math.min((ctx.width - left - 70) / Math.max(1, K), (ctx.height - top - bottom) / Math.max(1, K)));
  const grid = cell * K;
  const max = f.normalized ? 1 : Math.max(1, ...f.values.flat().filter(Number.isFinite));
  const high = colour(ctx, 0);
  let svg = open(ctx, f);
  const showValues = K <= 15 && cell >= 24;
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      const v = f.values[i]?.[j] ?? 0;
      const { fill, dark } = mix(ctx.colors.background, high, Math.max(0, Math.min(1, v / max)));
      svg += el('rect', { class: 'cell', x: left + j * cell, y: top + i * cell, width: cell, height: cell, fill, stroke: ctx.colors.background, 'stroke-width': 0.5,
        'data-row': String(i), 'data-col': String(j), 'data-value': String(v) });
      if (showValues) {
        const body = f.normalized ? Math.max(0, Math.min(1, v)).toFixed(2) : String(v);
        svg += text(ctx, left + j * cell + cell / 2, top + i * cell + cell / 2 + ctx.size / 3, body, {
          'text-anchor': 'middle', fill: dark ? '#ffffff' : '#000000', 'font-size': Math.min(ctx.size, cell / 3), class: 'cell-value',
        });
      }
    }
  }
  svg += el('rect', { x: left, y: top, width: grid, height: grid, fill: 'none', stroke: ctx.colors.grid });
  labels.forEach((l, i) => {
    svg += text(ctx, left - 6, top + i * cell + cell / 2 + ctx.size / 3, l, { 'text-anchor': 'end', class: 'row-label' });
    svg += text(ctx, 0, 0, l, { transform: `translate(${n(left + i * cell + cell / 2)} ${n(top + grid + 8)}) rotate(-45)`, 'text-anchor': 'end', class: 'col-label' });
  });
  svg += text(ctx, left + grid / 2, ctx.height - 6, 'Predicted class', { 'text-anchor': 'middle', class: 'axis-label' });
  svg += text(ctx, 0, 0, 'True class', { transform: `translate(${n(ctx.size + 2)} ${n(top + grid / 2)}) rotate(-90)`, 'text-anchor': 'middle', class: 'axis-label' });
  // colour scale
  const lx = left + grid + 16;
  const lh = Math.max(60, Math.min(grid, 200));
  for (let s = 0; s < 10; s++) {
    svg += el('rect', { x: lx, y: top + (lh * s) / 10, width: 12, height: lh / 10 + 0.5, fill: mix(ctx.colors.background, high, 1 - s / 10).fill });
  }
  svg += text(ctx, lx + 16, top + ctx.size, f.normalized ? '1.00' : String(max), { class: 'scale-label' });
  svg += text(ctx, lx + 16, top + lh, f.normalized ? '0.00' : '0', { class: 'scale-label' });
  return svg + '</svg>\n';
}

/** The figure as a standalone SVG document. */
export function renderSvg(figure: Figure, options: SvgOptions = {}): string {
  const ctx: Ctx = {
    width: options.width ?? (figure.kind === 'heatmap' ? 560 : 720),
    height: options.height ?? (figure.kind === 'heatmap' ? 560 : 400),
    colors: options.colors ?? PAPER_COLORS,
    font: options.fontFamily ?? 'Helvetica, Arial, sans-serif',
    size: options.fontSize ?? 12,
  };
  if (figure.kind === 'line') return lineFigure(ctx, figure);
  if (figure.kind === 'bars') return barFigure(ctx, figure);
  return heatmapFigure(ctx, figure);
}
