/** chart.js set up once for every webview: only the parts we use, colours from the VS Code theme. */
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement,
  Tooltip, type ChartConfiguration,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip, Legend);

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

/** Series colours and text/grid colours of the current theme. */
export function themeColors(): { series: string[]; foreground: string; grid: string } {
  return {
    series: [
      cssVar('--vscode-charts-blue', '#3794ff'), cssVar('--vscode-charts-orange', '#d18616'),
      cssVar('--vscode-charts-green', '#89d185'), cssVar('--vscode-charts-purple', '#b180d7'),
      cssVar('--vscode-charts-red', '#f14c4c'), cssVar('--vscode-charts-yellow', '#cca700'),
    ],
    foreground: cssVar('--vscode-foreground', '#cccccc'),
    grid: cssVar('--vscode-charts-lines', 'rgba(128,128,128,0.3)'),
  };
}

/** Applies theme colours and sensible defaults (no animation: charts are data, and tests read them at once). */
export function themedChart<T extends 'bar' | 'line'>(canvas: HTMLCanvasElement, config: ChartConfiguration<T>): Chart<T> {
  const { foreground, grid } = themeColors();
  Chart.defaults.color = foreground;
  Chart.defaults.borderColor = grid;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  config.options = { animation: false, responsive: true, maintainAspectRatio: false, ...config.options } as ChartConfiguration<T>['options'];
  return new Chart(canvas, config);
}

/** A canvas in a sized box (chart.js sizes the canvas to its parent). */
export function chartBox(id: string): { box: HTMLDivElement; canvas: HTMLCanvasElement } {
  const box = document.createElement('div');
  box.className = 'chart';
  const canvas = document.createElement('canvas');
  canvas.id = id;
  box.append(canvas);
  return { box, canvas };
}

export { Chart };
