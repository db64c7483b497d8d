/**
 * Pre-flight in the real extension host: Run Fine-tune refuses scBERT on raw counts before anything is prepared,
 * asks again right after the fractions when a class is too small for scGPT's validation hold-out, and the grid
 * editor checks every item against its files instead of queueing runs that fail within a second.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as path from 'path';
import * as vscode from 'vscode';
import { checkWorkerEnvironment } from '../../src/core/finetune/env';
import { emptyPreset } from '../../src/core/presets/presets';
import { askForFinetune, type FinetunePrompts } from '../../src/host/commands/finetune';
import type { GridPanel } from '../../src/host/panels/grid';
import { PY_DIR, PYTHON as REF_PYTHON } from '../helpers/shared';
import { activeApi, makeScbertDemo } from './helpers';

const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;
const PYTHON = vscode.workspace.getConfiguration('scwb').get<string>('pythonPath', '') || '/usr/bin/python3';

describe('Pre-flight before runs (in the real extension host)', () => {
  const dir = path.join(WORKSPACE, 'preflight-demo');
  const checkpoint = path.join(dir, 'ckpt', 'scbert_tiny', 'scbert_tiny_pretrain.pth');

  before(async () => {
    await makeScbertDemo(dir, 240, 11);
    execFileSync(REF_PYTHON, [path.join(PY_DIR, 'preflight_values.py'), 'make', dir]);
  });

  it('Run Fine-tune refuses scBERT on raw counts with the reason and the fix, and prepares no run', async () => {
    const api = await activeApi();
    const before = (await api.runs.store!.list()).length;
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('scwb.runFinetune', {
        datasetPath: path.join(dir, 'sim.h5ad'), labelColumn: 'cell_type', model: 'scbert', checkpoint, epochs: 1, device: 'cpu',
        fractions: [1], seeds: [0], experiment: 'host preflight refused',
      })),
      (e: Error) => /Fine-tune cannot start: Value scale: .*raw counts.* Fix: Run Preprocess scBERT/.test(e.message),
    );
    assert.strictEqual((await api.runs.store!.list()).length, before);
  });

  /**
   * Run Fine-tune's questions on rare.h5ad, answered for scGPT without pre-training on CPU: `tooFew` is the item picked
   * when a class is too small for a fraction, `fractions` gives each answer to the fractions prompt; every question
   * asked is pushed to `asked`.
   */
  async function askScgptOnRare(asked: string[], tooFew: string, fractions: () => string | undefined) {
    const ui: FinetunePrompts = {
      pick: async <T extends vscode.QuickPickItem>(items: T[], options: vscode.QuickPickOptions) => {
        const ph = String(options.placeHolder);
        asked.push(ph);
        if (ph === 'Label column (cell types)') return items.find(i => i.label === 'cell_type');
        if (ph === 'Model') return items.find(i => i.label === 'scGPT');
        if (ph === 'scGPT checkpoint') return items.find(i => /No pre-training/.test(i.label));
        if (/too few cells/.test(ph)) return items.find(i => i.label === tooFew);
        if (ph === 'Where to train') return items.find(i => i.label === 'CPU');
        return items[0];
      },
      input: async options => {
        const p = String(options.prompt);
        asked.push(p);
        if (/fractions/.test(p)) return fractions();
        return options.value;
      },
      open: async () => undefined,
    };
    const dataset = path.join(dir, 'rare.h5ad');
    const api = await activeApi();
    return askForFinetune(dataset, await api.datasets.summaryOf(dataset), { checkpoints: async () => [] }, checkWorkerEnvironment(PYTHON), ui);
  }

  it('Run Fine-tune names the classes too small for a fraction right after the fractions, before the seeds', async () => {
    const asked: string[] = [];
    const fractionAnswers = ['0.1', '0.5'];
    const options = await askScgptOnRare(asked, 'Enter other fractions…', () => fractionAnswers.shift());
    const at = asked.findIndex(a => /too few cells/.test(a));
    assert.ok(at > 0, asked.join('\n'));
    assert.match(asked[at - 1], /Few-shot fractions/);
    assert.match(asked[at], /fraction 0\.1 \(every seed\): too few cells of C \(1 cell\)/);
    assert.match(asked[at + 1], /Few-shot fractions/, 'asked for the fractions again');
    assert.match(asked[at + 2], /^Seeds/);
    assert.deepStrictEqual(options?.fractions, [0.5]);
  });

  it('Run Fine-tune (scGPT) offers to keep the fractions with the published non-stratified validation split', async () => {
    const asked: string[] = [];
    const options = await askScgptOnRare(asked, 'Keep fractions 0.1 with the published validation split', () => '0.1');
    assert.ok(asked.some(a => /too few cells of C/.test(a)), asked.join('\n'));
    assert.deepStrictEqual([options?.fractions, options?.validationSplit], [[0.1], 'random']);
  });

  it('the grid editor checks every item against its file: a missing label column queues nothing and says why', async () => {
    const api = await activeApi();
    const queue = api.queue!;
    await queue.executor.setPaused(true);
    const panel = (await vscode.commands.executeCommand<GridPanel>('scwb.experiments.new', null))!;
    await panel.whenRendered();
    const doc = emptyPreset();
    doc.experiment = 'host preflight grid';
    const g = doc.grids[0];
    g.datasets[0] = { ...g.datasets[0], name: 'sim', path: path.join(dir, 'sim_scbert.h5ad'), labelColumn: 'celltype' };
    g.models = [{ kind: 'finetune', model: 'scbert', checkpoint, epochs: 1, batchSize: 16, precision: 'fp32' }, { kind: 'baseline', penalty: 'l1', C: 0.1 }];
    g.seeds = [0];
    assert.strictEqual(panel.update(doc).error, null);
    const r = await panel.submitChecked('queue');
    assert.ok('failed' in r, 'nothing may be queued');
    assert.strictEqual(r.failed.length, 2);
    assert.match(r.text, /^The experiment was not queued: 2 of 2 runs cannot start\. .*obs has no column 'celltype'.*Fix: choose a label column/);
    assert.ok(!(await queue.store.read()).items.some(i => i.spec.experiment === 'host preflight grid'));
    // with the right column it queues
    g.datasets[0].labelColumn = 'cell_type';
    panel.update(doc);
    const ok = await panel.submitChecked('queue');
    assert.deepStrictEqual(ok, { added: 2 });
    const mine = (await queue.store.read()).items.filter(i => i.spec.experiment === 'host preflight grid');
    for (const it of mine) await vscode.commands.executeCommand('scwb.queue.cancel', it.id);
    await queue.executor.setPaused(false);
  });
});
