/** Issue 10, first use: Checkpoints view refresh, one reused results panel that fits, the Run Baseline checks. */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { main } from '../../src/cli/main';
import type { BaselineGridResult } from '../../src/core/runs/baseline';
import { runBaselineCommand, type BaselinePrompts } from '../../src/host/commands/baseline';
import { PY_DIR, PYTHON } from '../helpers/shared';
import { activeApi, until } from './helpers';

const SHARED_H5AD = vscode.workspace.getConfiguration('scwb').get<string[]>('datasetFolders', [])[0];
const WORKSPACE = vscode.workspace.workspaceFolders![0].uri.fsPath;

/** Resolves on the next change event of a tree. */
function nextChange(tree: { onDidChangeTreeData: vscode.Event<unknown> }): Promise<void> {
  return new Promise(resolve => { const sub = tree.onDidChangeTreeData(() => { sub.dispose(); resolve(); }); });
}

describe('First use (issue 10, in the real extension host)', () => {
  it('Checkpoints view: a deleted model folder leaves the view; Refresh Checkpoints re-lists', async () => {
    const api = await activeApi();
    const folder = path.join(WORKSPACE, 'models', 'scgpt_first_use');
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, 'best_model.pt'), Buffer.alloc(64));
    fs.writeFileSync(path.join(folder, 'vocab.json'), '{"<pad>": 0, "CD3E": 1}');
    const listed = async () => (await api.checkpoints.all()).map(c => c.path);
    await until(async () => (await listed()).includes(folder));
    // Let the creation events settle, then delete the folder as a user does (rm -r / Delete in the explorer):
    // the watcher reports only the folder, never best_model.pt inside it.
    await new Promise(r => setTimeout(r, 1500));
    const changed = nextChange(api.checkpoints);
    fs.rmSync(folder, { recursive: true, force: true });
    await changed;
    assert.ok(!(await listed()).includes(folder), 'the deleted scGPT folder is still listed');

    const refreshed = nextChange(api.checkpoints);
    await vscode.commands.executeCommand('scwb.checkpoints.refresh');
    await refreshed;
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('scwb.checkpoints.refresh'));
  });

  it('a second experiment reuses the results panel in its editor group, shows the new experiment and fits at half width', async () => {
    const api = await activeApi();
    // an editor on the left, so the panel opens beside it at half the width
    await vscode.window.showTextDocument(vscode.Uri.file(path.join(WORKSPACE, 'README.md')), { viewColumn: vscode.ViewColumn.One });
    const dataset = path.join(SHARED_H5AD, 'scanpy_pbmc68k_reduced_2025.h5ad');
    const run = (experiment: string) => vscode.commands.executeCommand<BaselineGridResult>('scwb.runBaseline', {
      datasetPath: dataset, labelColumn: 'bulk_labels', split: { kind: 'stratified', testSize: 0.2, seed: 2022 },
      model: { penalty: 'l1', C: 0.1 }, fractions: [0.5, 1], seeds: [0], experiment,
    });
    await run('first use A');
    const panel = await until(() => api.panels.results());
    const shownA = await until(() => (panel.lastRenderedDetail?.experiment === 'first use A' && Number(panel.lastRenderedDetail.confusionClasses) > 0 ? panel.lastRenderedDetail : undefined));
    const column = panel.panel.viewColumn;
    assert.strictEqual(shownA.fitsWidth, true, `at half width the table and confusion matrix overflow: ${JSON.stringify(shownA)}`);

    // the results' group also holds a file, and the user looks at the results (their group is the active one)
    // when the next experiment ends
    await vscode.window.showTextDocument(vscode.Uri.file(path.join(WORKSPACE, 'README.md')), { viewColumn: column, preserveFocus: true, preview: false });
    panel.panel.reveal(undefined, false);
    await until(() => panel.panel.active);
    const groups = vscode.window.tabGroups.all.length;
    await run('first use B');
    const shownB = await until(() => (panel.lastRenderedDetail?.experiment === 'first use B' && Number(panel.lastRenderedDetail.confusionClasses) > 0 ? panel.lastRenderedDetail : undefined));
    assert.strictEqual(api.panels.results(), panel, 'a second results panel was made');
    assert.strictEqual(vscode.window.tabGroups.all.length, groups, 'the results panel moved into a new editor group');
    assert.strictEqual(panel.panel.viewColumn, column);
    assert.strictEqual(shownB.fitsWidth, true);
    // it stays on B (a reloaded webview must not bring back the experiment it showed before)
    await new Promise(r => setTimeout(r, 1500));
    assert.strictEqual(panel.lastRenderedDetail?.experiment, 'first use B');
  });

  it('Run Baseline on raw counts warns, offers the preprocessed file, and runs fraction 1 once for several seeds', async () => {
    const api = await activeApi();
    const dir = path.join(WORKSPACE, 'first-use');
    fs.mkdirSync(dir, { recursive: true });
    const raw = path.join(dir, 'sim.h5ad');
    const pre = path.join(dir, 'sim.benchmark.h5ad');
    const recipe = path.join(dir, 'benchmark.json');
    fs.writeFileSync(recipe, JSON.stringify({ recipe: 'benchmark', params: {} }));
    const quiet = { out: () => undefined, err: () => undefined };
    assert.strictEqual(await main(['simulate', '--cells', '400', '--genes', '300', '--seed', '3', '--out', raw], quiet), 0);
    assert.strictEqual(await main(['preprocess', recipe, raw, pre], quiet), 0);

    const asked: string[] = [];
    let firstItems: string[] = [];
    const prompts: BaselinePrompts = {
      async pick<T extends vscode.QuickPickItem>(items: T[], options: vscode.QuickPickOptions) {
        const ph = options.placeHolder ?? '';
        asked.push(ph);
        if (asked.length === 1) firstItems = items.map(i => i.label);
        if (/raw counts/.test(ph)) return items.find(i => i.label === 'Use sim.benchmark.h5ad');
        if (/Label column/.test(ph)) return items.find(i => i.label === 'cell_type');
        if (/repeats the same fit/.test(ph)) return items.find(i => /once/.test(i.label));
        return items[0]; // split and model: the published defaults
      },
      async input(options: vscode.InputBoxOptions) {
        const p = options.prompt ?? '';
        asked.push(p);
        if (/fractions/.test(p)) return '0.5,1';
        if (/Seeds/.test(p)) return '0,1,2';
        return 'first use raw counts';
      },
      async open() { return undefined; },
    };
    const result = await runBaselineCommand(vscode.Uri.file(raw), {
      summaryOf: f => api.datasets.summaryOf(f), pickDataset: async () => raw, runs: api.runs,
      showResults: e => void vscode.commands.executeCommand('scwb.results.open', { experiment: e }), prompts,
    });
    assert.match(asked[0], /sim\.h5ad holds raw counts; the published baseline is fitted on log-normalised data/);
    assert.deepStrictEqual(firstItems, ['Use sim.benchmark.h5ad', 'Preprocess sim.h5ad first…', 'Fit on log1p(normalize_total 1e4), computed on the fly', 'Continue with raw counts']);
    assert.ok(asked.some(a => /Fraction 1 with 3 seeds repeats the same fit/.test(a)), asked.join('\n'));
    assert.ok(result, 'the flow ran nothing');
    // fraction 0.5 with each seed, fraction 1 once
    assert.deepStrictEqual(result.runs.map(r => [r.fraction, r.seed]), [[0.5, 0], [0.5, 1], [0.5, 2], [1, 0]]);
    assert.ok(result.runs.every(r => r.status === 'completed'), JSON.stringify(result.runs.map(r => r.error)));
    for (const r of result.runs) assert.strictEqual((await api.runs.store!.get(r.id)).dataset.path, pre);
  });

  it('Run Baseline on FPKM values says so and fits on log1p computed on the fly, recorded in run.json', async () => {
    const api = await activeApi();
    const dir = path.join(WORKSPACE, 'first-use-fpkm');
    fs.mkdirSync(dir, { recursive: true });
    execFileSync(PYTHON, [path.join(PY_DIR, 'preflight_values.py'), 'make', dir]);
    const fpkm = path.join(dir, 'fpkm.h5ad');
    let first: { placeHolder: string; items: string[] } | undefined;
    const prompts: BaselinePrompts = {
      async pick<T extends vscode.QuickPickItem>(items: T[], options: vscode.QuickPickOptions) {
        const ph = options.placeHolder ?? '';
        first ??= { placeHolder: ph, items: items.map(i => i.label) };
        if (/published baseline/.test(ph)) return items.find(i => /computed on the fly/.test(i.label));
        if (/Label column/.test(ph)) return items.find(i => i.label === 'cell_type');
        return items[0];
      },
      async input(options: vscode.InputBoxOptions) {
        const p = options.prompt ?? '';
        if (/fractions/.test(p)) return '1';
        if (/Seeds/.test(p)) return '0';
        return 'first use fpkm';
      },
      async open() { return undefined; },
    };
    const result = await runBaselineCommand(vscode.Uri.file(fpkm), {
      summaryOf: f => api.datasets.summaryOf(f), pickDataset: async () => fpkm, runs: api.runs, showResults: () => undefined, prompts,
    });
    assert.ok(first);
    assert.match(first.placeHolder, /fpkm\.h5ad holds normalised values that are not log-transformed \(TPM\/FPKM\/CPM\); the published baseline is fitted on log-normalised data/);
    assert.deepStrictEqual(first.items, ['Preprocess fpkm.h5ad first…', 'Fit on log1p of the stored values, computed on the fly', 'Continue with the values as stored']);
    assert.ok(result && result.runs.length === 1 && result.runs[0].status === 'completed', JSON.stringify(result?.runs));
    const values = (await api.runs.store!.get(result.runs[0].id)).parameters.values as Record<string, unknown>;
    assert.deepStrictEqual([values.scale, values.transform, values.decision], ['normalized', 'log1p', 'transform']);
  });

  it('dataset view: the per-cell histogram says what X holds, one tick format per axis, numeric obs columns binned', async () => {
    const api = await activeApi();
    const dir = path.join(WORKSPACE, 'first-use');
    const expectations: [string, string][] = [['sim.h5ad', 'Counts per cell'], ['sim.benchmark.h5ad', 'Sum of log-normalised values per cell']];
    for (const [name, title] of expectations) {
      const file = vscode.Uri.file(path.join(dir, name));
      await vscode.commands.executeCommand('scwb.dataset.open', file);
      const view = await until(() => api.panels.datasetViews().find(v => v.uri.fsPath === file.fsPath));
      const stats = await until(() => (view.lastRenderedDetail?.stage === 'stats' ? view.lastRenderedDetail : undefined));
      assert.strictEqual(stats.totalsTitle, title, `${name}: X holds ${stats.valueKind}`);
      for (const ticks of [String(stats.countTicks), String(stats.geneTicks)]) {
        const decimals = new Set(ticks.split('|').map(t => (t.includes('.') ? t.split('.')[1].length : 0)));
        assert.strictEqual(decimals.size, 1, `${name}: ticks ${ticks}`);
      }
      if (name === 'sim.h5ad') {
        // a numeric obs column with many values: a few ranges, not one bar per value
        const summary = await api.datasets.summaryOf(file.fsPath);
        const numeric = summary.obs.find(c => c.kind === 'numeric');
        assert.ok(numeric, `no numeric obs column in ${summary.obs.map(c => `${c.name} (${c.kind})`).join(', ')}`);
        await (view as unknown as { onMessage(m: { type: 'dataset/selectColumn'; column: string }): Promise<void> }).onMessage({ type: 'dataset/selectColumn', column: numeric.name });
        const comp = await until(() => (view.lastRenderedDetail?.stage === 'stats' && view.lastRenderedDetail.column === numeric.name ? view.lastRenderedDetail : undefined));
        assert.ok(Number(comp.compositionBars) > 1 && Number(comp.compositionBars) <= 25, `${numeric.name}: ${comp.compositionBars} bars`);
      }
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    }
  });

  for (const theme of ['Default Dark Modern', 'Default Light Modern', 'Default High Contrast Light']) {
    it(`the About panel's text is readable (WCAG AA contrast >= 4.5) in ${theme}`, async () => {
      const api = await activeApi();
      const config = vscode.workspace.getConfiguration('workbench');
      await config.update('colorTheme', theme, vscode.ConfigurationTarget.Global);
      try {
        api.panels.about()?.panel.dispose();
        await vscode.commands.executeCommand('scwb.showAbout');
        const detail = await until(() => { const d = api.panels.about()?.lastRenderedDetail; return d && d.minContrast !== undefined ? d : undefined; });
        assert.ok(Number(detail.minContrast) >= 4.5, `contrast ${detail.minContrast} for "${detail.minContrastText}"`);
      } finally {
        api.panels.about()?.panel.dispose();
        await config.update('colorTheme', undefined, vscode.ConfigurationTarget.Global);
      }
    });
  }
});
