/** `scwb protocol PRESET|RUN`: a preset's or a fine-tune run's protocol against the published one, element by element. */
import * as fs from 'fs';
import * as path from 'path';
import { CliCommand, CliIO, UsageError, parseFlags, stringFlag } from '../command';
import { PRESETS } from '../../core/presets/presets';
import { presetProtocol, runProtocol, type ProtocolReport } from '../../core/protocols/report';
import { RUN_FILE, RunStore, defaultStoreRoot } from '../../core/runs/store';

const USAGE = `usage: scwb protocol PRESET|RUN [--json] [--store DIR]

Prints the fully resolved fine-tuning protocol: every element (precision, optimiser eps, head dropout, kept
checkpoint, class weights, shuffling, initialisation, few-shot draw, split, epochs, ...) with our value, the
published value and its source (repository and file), and which elements deviate from the published protocol.
docs/protocols.md lists the elements.

PRESET is a preset id (${PRESETS.map(p => p.id).join(', ')}); RUN is a run id in the run store or a run's folder.
  --json        print {"preset", "elements": [{"element", "ours", "published", "source", "deviation"}], "deviations"}
  --store DIR   run store folder (default: ./.scwb/runs)
Exit status: 0, or 1 when the protocol deviates.`;

export const command: CliCommand = {
  name: 'protocol',
  summary: 'show a preset\'s or a run\'s fine-tuning protocol against the published one, element by element',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const { flags, positionals } = parseFlags(args, ['json']);
    for (const name of flags.keys()) if (!['json', 'store'].includes(name)) throw new UsageError(`unknown option --${name}`);
    if (positionals.length !== 1) throw new UsageError('give exactly one PRESET id or RUN (id or folder)');
    const target = positionals[0];
    const report = await resolveReport(target, stringFlag(flags, 'store'));
    io.out(flags.has('json') ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
    return report.deviations.length ? 1 : 0;
  },
};

async function resolveReport(target: string, store: string | undefined): Promise<ProtocolReport> {
  const preset = PRESETS.find(p => p.id === target);
  if (preset) return presetProtocol(preset);
  const asDir = path.resolve(target);
  if (fs.existsSync(path.join(asDir, RUN_FILE))) {
    return runProtocol(await new RunStore(path.dirname(asDir)).get(path.basename(asDir)));
  }
  const root = store ? path.resolve(store) : defaultStoreRoot(process.cwd());
  if (/^[A-Za-z0-9._-]+$/.test(target) && fs.existsSync(path.join(root, target, RUN_FILE))) {
    return runProtocol(await new RunStore(root).get(target));
  }
  throw new UsageError(`'${target}' is neither a preset (${PRESETS.map(p => p.id).join(', ')}) nor a run in ${root}`);
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The report as a plain-text table. */
export function formatReport(r: ProtocolReport): string {
  const lines = [r.run ? `run ${r.run}${r.preset ? ` (preset ${r.preset})` : ''}` : `preset ${r.preset}`];
  let scope: string | undefined;
  for (const e of r.elements) {
    if (e.scope !== scope) {
      scope = e.scope;
      if (scope) lines.push('', `${scope}:`);
    }
    const mark = e.deviation ? 'DEVIATES' : e.documented ? 'documented' : 'ok';
    lines.push(`  ${mark.padEnd(10)} ${e.element.padEnd(15)} ours ${show(e.ours)}; published ${show(e.published)} (${e.source})${e.documented ? ` — ${e.documented}` : ''}`);
  }
  if (!r.elements.length) lines.push('', 'no fine-tune runs: there is no published fine-tuning protocol to compare');
  else lines.push('', r.deviations.length ? `deviations: ${r.deviations.join(', ')}` : 'published protocol: no deviations');
  return lines.join('\n') + '\n';
}
