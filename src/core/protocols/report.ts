/**
 * Protocol reports (docs/protocols.md) of a preset (before anything runs) and of a run (from run.json): every
 * element with our value, the published value, its source and whether it deviates. `scwb protocol` prints them,
 * the grid editor shows a preset's, and fine-tune preparation records a run's deviations in run.json.
 */
import { fewShotDrawOf } from '../finetune/prepare';
import { gridCombinations } from '../presets/grid';
import type { Preset } from '../presets/schema';
import { FinetuneParametersSchema, type RunRecord } from '../runs/schema';
import { deviationNames, protocolElements, type ProtocolElement } from './protocol';
import { PUBLISHED_T_95, SOURCES } from './published';

export interface ProtocolReport {
  /** the preset id, or the run's preset ('' when it came from none) */
  preset: string;
  /** the run id (run reports only) */
  run?: string;
  elements: ProtocolElement[];
  /** names of the deviating elements */
  deviations: string[];
  /** names of elements that differ on purpose, documented (not deviations) */
  documented: string[];
}

/** The experiments whose published statistics are the deep-dive notebook's (Student's t-test, np.std x 2.262 CI). */
const PAPER_STATISTICS = 'Student\'s t-test (scipy ttest_ind, equal variances); CI np.std (ddof 0) / sqrt(n) x 2.262';

function finish(preset: string, elements: ProtocolElement[], run?: string): ProtocolReport {
  return {
    preset, ...(run !== undefined ? { run } : {}), elements, deviations: deviationNames(elements),
    documented: Array.from(new Set(elements.filter(e => e.documented).map(e => e.element))),
  };
}

function scopeOf(model: string, ablation: string, fraction: number, fewShotRun: boolean): string {
  const parts = [model === 'scbert' ? 'scBERT' : 'scGPT'];
  if (ablation !== 'none') parts.push(ablation);
  parts.push(fraction < 1 ? 'fraction < 1' : fewShotRun ? 'fraction 1 (few-shot runs)' : 'fraction 1');
  return parts.join(' · ');
}

/** A preset's protocol as it would run: one set of elements per fine-tune model, ablation and kind of fraction. */
export function presetProtocol(preset: Preset): ProtocolReport {
  const elements: ProtocolElement[] = [];
  const seen = new Set<string>();
  preset.grids.forEach((g, gi) => {
    for (const c of gridCombinations(g, gi).combos) {
      const m = c.model;
      if (m.kind !== 'finetune') continue;
      const fewShotRun = g.fewShotRuns && m.model === 'scbert';
      const scope = scopeOf(m.model, c.ablation, c.fraction, fewShotRun);
      const subject = {
        model: m.model, ablation: c.ablation, fraction: c.fraction,
        choices: { ...(m.protocol ?? {}), ...(m.precision !== 'published' ? { precision: m.precision } : {}) },
        epochs: m.epochs, batchSize: m.batchSize,
        // an unbound checkpoint is one the user will choose, and must when the grid has an ablation that loads one
        hasCheckpoint: m.checkpoint !== '' || g.ablations.some(a => a !== 'no-pretraining'),
        fewShotDraw: fewShotDrawOf(m.model, c.fraction, g.stratifiedFewShot, fewShotRun), fewShotRun,
        split: c.dataset.split.kind === 'stratified' ? c.dataset.split : { kind: c.dataset.split.kind },
      };
      for (const e of protocolElements(subject)) {
        const key = `${scope}\u0000${e.element}\u0000${JSON.stringify(e.ours)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        elements.push({ ...e, scope });
      }
    }
  });
  if (['Table1', 'Table2', 'Fig2'].includes(preset.publishedExperiment)) {
    const ours = preset.statistics === 'published' ? PAPER_STATISTICS : 'Welch\'s t-test; CI t(n-1) x sd (ddof 1) / sqrt(n)';
    elements.push({ element: 'statistics', ours, published: PAPER_STATISTICS, source: SOURCES.scbertCollate, deviation: ours !== PAPER_STATISTICS, scope: 'results table' });
    if (preset.statistics === 'published') {
      elements.push({ element: 'ciT', ours: PUBLISHED_T_95, published: PUBLISHED_T_95, source: SOURCES.scbertCollate, deviation: false, scope: 'results table' });
    }
  }
  if (preset.publishedExperiment === 'Table1') {
    const n = table1Runs(preset);
    elements.push({ element: 'n', ours: n, published: 10, source: SOURCES.scbertCollate, deviation: n !== 10, scope: 'results table' });
  }
  return finish(preset.id, elements);
}

/** scBERT fine-tunes (no ablation) at fraction 1 per dataset: Table 1's n (7 full runs + 3 few-shot runs at 1.0). */
function table1Runs(preset: Preset): number {
  let n = 0;
  preset.grids.forEach((g, gi) => {
    for (const c of gridCombinations(g, gi).combos) {
      if (c.model.kind === 'finetune' && c.model.model === 'scbert' && c.ablation === 'none' && c.fraction === 1) n++;
    }
  });
  return n / Math.max(1, new Set(preset.grids.flatMap(g => g.datasets.map(d => d.name))).size);
}

/** The worker's resolvedProtocol of a run (top level of run.json, or under parameters). */
function resolvedOf(run: RunRecord): Record<string, unknown> | null {
  const r = run.resolvedProtocol ?? (run.parameters.resolvedProtocol as Record<string, unknown> | undefined);
  return r && typeof r === 'object' ? r : null;
}

/** A fine-tune run's protocol from its run.json. Throws for runs that are not fine-tunes or lack their parameters. */
export function runProtocol(run: RunRecord): ProtocolReport {
  if (run.kind !== 'finetune') throw new Error(`run ${run.id} is a ${run.kind} run; protocols describe fine-tune runs`);
  const parsed = FinetuneParametersSchema.safeParse(run.parameters.finetune);
  if (!parsed.success) throw new Error(`run ${run.id}: run.json parameters.finetune: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`);
  const p = parsed.data;
  const fewShotDraw = run.protocol?.fewShotDraw;
  const elements = protocolElements({
    model: p.model, ablation: p.ablation, fraction: run.fraction, choices: p, amp: p.amp, epochs: p.epochs,
    batchSize: p.batchSize, lr: p.lr, hasCheckpoint: p.checkpoint !== null, fewShotDraw,
    // a stream draw at fraction 1 is a few-shot script run
    fewShotRun: fewShotDraw === 'stream', split: run.split, device: p.device, resolved: resolvedOf(run), validation: run.protocol?.validation,
  });
  return finish(run.protocol?.preset ?? '', elements, run.id);
}
