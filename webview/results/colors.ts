/** Theme colours of the results panel's figures: CSS variables, colour arithmetic for the heatmap, chart backgrounds. */
import type { ChartType, Plugin } from 'chart.js';
import type { SvgColors } from '../../src/core/results/svg';
import { themeColors } from '../shared/charts';

export function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

export type Rgb = [number, number, number];

/** Any CSS colour as RGB, via the canvas's own colour parser (alpha dropped). */
export function toRgb(color: string): Rgb {
  const ctx = document.createElement('canvas').getContext('2d');
  if (!ctx) return [128, 128, 128];
  ctx.fillStyle = '#808080';
  ctx.fillStyle = color;
  const s = String(ctx.fillStyle);
  if (s.startsWith('#')) return [parseInt(s.slice(1, 3), 16), parseInt(s.slice(3, 5), 16), parseInt(s.slice(5, 7), 16)];
  const parts = s.match(/[\d.]+/g)?.map(Number) ?? [128, 128, 128];
  return [parts[0], parts[1], parts[2]];
}

export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function css(c: Rgb): string {
  return `rgb(${Math.round(c[0])}, ${Math.round(c[1])}, ${Math.round(c[2])})`;
}

/** WCAG relative luminance, to pick readable text on a heatmap cell. */
export function luminance(c: Rgb): number {
  const lin = (v: number) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

export function contrast(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

export function backgroundColor(): string {
  return cssVar('--vscode-editor-background', '#1e1e1e');
}

/** Paints the theme background under a chart, so an exported PNG is readable outside VS Code. */
export function backgroundPlugin<T extends ChartType>(): Plugin<T> {
  return {
    id: 'scwbBackground',
    beforeDraw(chart) {
      const ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = backgroundColor();
      ctx.fillRect(0, 0, chart.width, chart.height);
      ctx.restore();
    },
  };
}

/** The theme's colours for figures on screen; exports use the renderer's print colours (white background). */
export function screenColors(): SvgColors {
  const t = themeColors();
  return { background: backgroundColor(), foreground: t.foreground, grid: t.grid, series: t.series };
}
