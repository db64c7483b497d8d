/** The perturbation-prediction table of the results panel (every experiment): test MSE of the MVC output. */
import type { PerturbationRow } from '../../src/core/results/perturbation';
import { h } from '../shared/host';

/** Mean ± sd over trials for each encoder, or null when no perturbation-prediction run has completed. */
export function perturbationSection(rows: readonly PerturbationRow[]): HTMLElement | null {
  if (!rows.length) return null;
  const f = (m: { mean: number; sd: number }) => `${m.mean.toFixed(4)} ± ${m.sd.toFixed(4)}`;
  const head = ['experiment', 'dataset', 'encoder', 'trials', 'test MSE', 'no shift', 'control shift only'];
  return h('section', { id: 'perturbation' },
    h('h2', {}, 'Perturbation prediction (test MSE, mean ± sd over trials; lower is better)'),
    h('table', { id: 'perturbation-table' },
      h('thead', {}, h('tr', {}, ...head.map(c => h('th', {}, c)))),
      h('tbody', {}, ...rows.map(r => h('tr', {},
        ...[r.experiment, r.dataset, r.model, String(r.trials), f(r.mse), f(r.mseNoShift), f(r.mseControlShift)].map(c => h('td', {}, c)))))));
}
