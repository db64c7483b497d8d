/** Figures as DOM elements and their PNG / SVG export buttons (the host saves the file). */
import type { Figure } from '../../src/core/results/figures';
import { renderSvg } from '../../src/core/results/svg';
import { h, post } from '../shared/host';
import { fileStem } from './format';
import { view } from './state';

/** An SVG document (from core/results/svg.ts) as a DOM element, parsed (never innerHTML). */
export function svgElement(svgText: string, id: string, label: string): Element {
  const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
  const svg = document.importNode(doc.documentElement, true);
  svg.setAttribute('id', id);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('class', 'svg-figure');
  return svg;
}

function utf8Base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Draws an SVG document on a canvas at twice its size and returns the PNG data URL. */
async function svgToPng(svgText: string, width: number, height: number): Promise<string> {
  const img = new Image();
  img.src = `data:image/svg+xml;base64,${utf8Base64(svgText)}`;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = width * 2;
  canvas.height = height * 2;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas');
  ctx.scale(2, 2);
  ctx.drawImage(img, 0, 0, width, height);
  return canvas.toDataURL('image/png');
}

export const FIGURE_SIZE: Record<Figure['kind'], { width: number; height: number }> = {
  line: { width: 720, height: 400 }, bars: { width: 720, height: 400 }, heatmap: { width: 560, height: 560 },
};

/** PNG and SVG buttons of a figure: both print versions (white background) of the same figure data. */
export function figureExportButtons(id: string, name: string, figure: () => Figure): HTMLElement[] {
  const stem = `${fileStem(view.current?.experiment ?? 'results')}-${name}`;
  const png = h('vscode-button', { id: `png-${id}`, secondary: '', title: 'Save this figure as a PNG image' }, 'PNG');
  png.addEventListener('click', () => {
    const f = figure();
    const size = FIGURE_SIZE[f.kind];
    svgToPng(renderSvg(f, size), size.width, size.height)
      .then(content => post({ type: 'export', format: 'png', suggestedName: `${stem}.png`, content }))
      .catch((e: unknown) => post({ type: 'error', message: `Cannot draw the figure as PNG: ${String(e)}` }));
  });
  const svg = h('vscode-button', { id: `svg-${id}`, secondary: '', title: 'Save this figure as an SVG image' }, 'SVG');
  svg.addEventListener('click', () => {
    const f = figure();
    post({ type: 'export', format: 'svg', suggestedName: `${stem}.svg`, content: renderSvg(f, FIGURE_SIZE[f.kind]) });
  });
  return [png, svg];
}

export function pngButton(id: string, figure: string, canvas: HTMLCanvasElement): HTMLElement {
  const button = h('vscode-button', { id: `png-${id}`, secondary: '' }, 'PNG');
  button.setAttribute('title', `Save this figure as a PNG image`);
  button.addEventListener('click', () => post({
    type: 'export', format: 'png', suggestedName: `${fileStem(view.current?.experiment ?? 'results')}-${figure}.png`, content: canvas.toDataURL('image/png'),
  }));
  return button;
}
