/**
 * The perturbation-prediction table of the results (the AAAI 2025 benchmark's MSE task): per experiment, dataset and
 * encoder (zero-shot or not) the number of trials and the test MSE of the MVC output as mean ± standard deviation
 * over trials (np.std, ddof 0, as the benchmark reports), beside the two reference scores of the same runs: no shift
 * of <cls>, and the control shift only.
 */
import type { RunRecord } from '../runs/schema';
import { mean, std } from '../stats';

export interface MeanSd {
  mean: number;
  /** population standard deviation over trials (ddof 0) */
  sd: number;
}

export interface PerturbationRow {
  experiment: string;
  dataset: string;
  model: string;
  zeroShot: boolean;
  trials: number;
  mse: MeanSd;
  mseNoShift: MeanSd;
  mseControlShift: MeanSd;
}

function meanSd(values: number[]): MeanSd {
  return { mean: mean(values), sd: std(values, 0) };
}

/** Rows of the completed perturbation-prediction runs (optionally of one experiment), sorted by experiment, dataset, model. */
export function perturbationRows(runs: readonly RunRecord[], experiment?: string): PerturbationRow[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of runs) {
    if (r.kind !== 'probe' || r.status !== 'completed' || !r.perturbation) continue;
    if (experiment !== undefined && r.experiment !== experiment) continue;
    const key = JSON.stringify([r.experiment, r.dataset.path, r.model.label]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const rows = [...groups.values()].map((list): PerturbationRow => ({
    experiment: list[0].experiment, dataset: list[0].dataset.path.replace(/^.*[\\/]/, ''), model: list[0].model.label,
    zeroShot: (list[0].parameters.probe as { zeroShot?: boolean } | undefined)?.zeroShot === true, trials: list.length,
    mse: meanSd(list.map(r => r.perturbation!.mse)), mseNoShift: meanSd(list.map(r => r.perturbation!.mseNoShift)),
    mseControlShift: meanSd(list.map(r => r.perturbation!.mseControlShift)),
  }));
  const key = (r: PerturbationRow) => [r.experiment, r.dataset, r.model];
  return rows.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    return 0;
  });
}

const fmt = (m: MeanSd) => `${m.mean.toFixed(4)} ± ${m.sd.toFixed(4)}`;

/** The rows as a Markdown table (empty string when there are none). */
export function perturbationMarkdown(rows: readonly PerturbationRow[]): string {
  if (!rows.length) return '';
  const lines = [
    '### Perturbation prediction (test MSE, mean ± sd over trials; lower is better)',
    '',
    '| experiment | dataset | encoder | trials | MSE | no shift | control shift only |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(r => `| ${r.experiment} | ${r.dataset} | ${r.model} | ${r.trials} | ${fmt(r.mse)} | ${fmt(r.mseNoShift)} | ${fmt(r.mseControlShift)} |`),
  ];
  return lines.join('\n') + '\n';
}

/** The rows as CSV with full precision. */
export function perturbationCsv(rows: readonly PerturbationRow[]): string {
  const head = 'experiment,dataset,encoder,zero_shot,trials,mse_mean,mse_sd,mse_no_shift_mean,mse_no_shift_sd,mse_control_shift_mean,mse_control_shift_sd';
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return [head, ...rows.map(r => [q(r.experiment), q(r.dataset), q(r.model), r.zeroShot, r.trials, r.mse.mean, r.mse.sd, r.mseNoShift.mean,
    r.mseNoShift.sd, r.mseControlShift.mean, r.mseControlShift.sd].join(','))].join('\n') + '\n';
}
