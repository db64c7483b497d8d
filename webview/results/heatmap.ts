/** The confusion-matrix heatmap, drawn by hand on a canvas (chart.js has no heatmap). */
import type { ConfusionView } from '../../src/shared/protocol';
import { proportionText } from '../../src/shared/view-format';
import { themeColors } from '../shared/charts';
import { backgroundColor, contrast, css, mix, toRgb } from './colors';
import { truncate } from './format';

/** Heatmap of the row-normalised matrix, drawn by hand (chart.js has no heatmap), crisp at any devicePixelRatio. */
export function drawConfusion(canvas: HTMLCanvasElement, view: ConfusionView, normalized: boolean): void {
  const K = view.classes.length;
  const showValues = K <= 15;
  const cell = showValues ? Math.max(44, Math.min(96, 320 / K)) : Math.max(6, Math.min(24, 900 / K));
  const grid = cell * K;
  const fontFamily = getComputedStyle(document.body).fontFamily || 'sans-serif';
  const labelSize = Math.round(Math.min(12, Math.max(7, cell * 0.7)));
  const showLabels = cell >= 7;
  const labels = view.classes.map(c => truncate(c, 28));

  const ctx0 = canvas.getContext('2d');
  if (!ctx0) return;
  const ctx: CanvasRenderingContext2D = ctx0;
  ctx.font = `${labelSize}px ${fontFamily}`;
  const labelWidth = showLabels ? Math.max(...labels.map(l => ctx.measureText(l).width)) : 0;
  const axisTitle = 18;
  const left = axisTitle + labelWidth + 8;
  const top = 8;
  const bottom = (showLabels ? labelWidth * Math.SQRT1_2 + labelSize + 8 : 4) + axisTitle + 4;
  const legendWidth = 12;
  const right = 16 + legendWidth + 36;
  const width = Math.max(320, Math.ceil(left + grid + right));
  const height = Math.max(320, Math.ceil(top + grid + bottom));
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);

  const background = toRgb(backgroundColor());
  const high = toRgb(themeColors().series[0]);
  const foreground = toRgb(themeColors().foreground);
  const gridColor = themeColors().grid;
  ctx.fillStyle = css(background);
  ctx.fillRect(0, 0, width, height);

  const gap = cell >= 12 ? 1 : 0;
  const valueSize = Math.round(Math.max(9, Math.min(14, cell / 3.5)));
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      const v = Math.max(0, Math.min(1, view.normalized[i][j] || 0));
      const colour = mix(background, high, v);
      ctx.fillStyle = css(colour);
      ctx.fillRect(left + j * cell, top + i * cell, cell - gap, cell - gap);
      if (showValues) {
        const text = contrast(foreground, colour) >= contrast(background, colour) ? foreground : background;
        ctx.fillStyle = css(text);
        ctx.font = `${i === j ? '600 ' : ''}${valueSize}px ${fontFamily}`;
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        ctx.fillText(normalized ? proportionText(v) : String(view.counts[i][j]), left + j * cell + (cell - gap) / 2, top + i * cell + (cell - gap) / 2);
      }
    }
  }
  ctx.strokeStyle = gridColor;
  ctx.lineWidth = 1;
  ctx.strokeRect(left - 0.5, top - 0.5, grid + 1 - gap, grid + 1 - gap);

  ctx.fillStyle = css(foreground);
  if (showLabels) {
    ctx.font = `${labelSize}px ${fontFamily}`;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    labels.forEach((l, i) => ctx.fillText(l, left - 6, top + i * cell + cell / 2));
    labels.forEach((l, j) => {
      ctx.save();
      ctx.translate(left + j * cell + cell / 2, top + grid + 6);
      ctx.rotate(-Math.PI / 4);
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(l, 0, 0);
      ctx.restore();
    });
  }
  ctx.font = `600 12px ${fontFamily}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'alphabetic';
  ctx.fillText('Predicted class', left + grid / 2, height - 6);
  ctx.save();
  ctx.translate(13, top + grid / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('True class', 0, 0);
  ctx.restore();

  const legendX = left + grid + 16;
  const legendHeight = Math.max(80, Math.min(grid, 240));
  const gradient = ctx.createLinearGradient(0, top, 0, top + legendHeight);
  gradient.addColorStop(0, css(high));
  gradient.addColorStop(1, css(background));
  ctx.fillStyle = gradient;
  ctx.fillRect(legendX, top, legendWidth, legendHeight);
  ctx.strokeStyle = gridColor;
  ctx.strokeRect(legendX - 0.5, top - 0.5, legendWidth + 1, legendHeight + 1);
  ctx.fillStyle = css(foreground);
  ctx.font = `11px ${fontFamily}`;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText(proportionText(1), legendX + legendWidth + 4, top);
  ctx.textBaseline = 'bottom';
  ctx.fillText(proportionText(0), legendX + legendWidth + 4, top + legendHeight);

  canvas.onmousemove = (e: MouseEvent) => {
    const rect = canvas.getBoundingClientRect();
    // the canvas may be drawn scaled down to fit a narrow panel (CSS max-width)
    const scale = rect.width > 0 ? width / rect.width : 1;
    const j = Math.floor(((e.clientX - rect.left) * scale - left) / cell);
    const i = Math.floor(((e.clientY - rect.top) * scale - top) / cell);
    if (i < 0 || j < 0 || i >= K || j >= K) { canvas.removeAttribute('title'); return; }
    const total = view.counts[i].reduce((a, b) => a + b, 0);
    canvas.title = `true ${view.classes[i]}, predicted ${view.classes[j]}: ${view.counts[i][j]} of ${total} cells (${(100 * view.normalized[i][j]).toFixed(1)}%)`;
  };
}
