/** Entry of the `scwb` command line (bin/scwb.js). */
import { CliCommand, CliIO, UsageError } from './command';

// Each subcommand module is loaded only when used, so `scwb --help` stays instant.
const COMMANDS: Record<string, () => Promise<CliCommand>> = {
  baseline: async () => (await import('./commands/baseline.js')).command,
  checkpoint: async () => (await import('./commands/checkpoint.js')).command,
  embedding: async () => (await import('./commands/embedding.js')).command,
  finetune: async () => (await import('./commands/finetune.js')).command,
  annotate: async () => (await import('./commands/annotate.js')).command,
  inspect: async () => (await import('./commands/inspect.js')).command,
  preprocess: async () => (await import('./commands/preprocess.js')).command,
  protocol: async () => (await import('./commands/protocol.js')).command,
  results: async () => (await import('./commands/results.js')).command,
  simulate: async () => (await import('./commands/simulate.js')).command,
  split: async () => (await import('./commands/split.js')).command,
  // the AAAI 2025 benchmark (docs/worker-benchmark.md)
  pretrain: async () => (await import('./commands/benchmark.js')).pretrainCommand,
  probe: async () => (await import('./commands/benchmark.js')).probeCommand,
  slurm: async () => (await import('./commands/slurm.js')).command,
};

export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const lines = ['usage: scwb <command> [options]', '', 'commands:'];
    for (const key of Object.keys(COMMANDS).sort()) {
      const cmd = await COMMANDS[key]();
      lines.push(`  ${key.padEnd(12)}${cmd.summary}`);
    }
    io.out(lines.join('\n') + '\n');
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.err(`scwb: unknown command '${name}'. Run 'scwb --help' for the list.\n`);
    return 2;
  }
  const cmd = await load();
  const dashes = rest.indexOf('--');
  const options = dashes >= 0 ? rest.slice(0, dashes) : rest;
  if (options.includes('--help') || options.includes('-h')) {
    io.out(cmd.usage + '\n');
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`scwb ${name}: ${e.message}\n${cmd.usage}\n`);
      return 2;
    }
    io.err(`scwb ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

const defaultIO: CliIO = {
  out: t => process.stdout.write(t),
  err: t => process.stderr.write(t),
};
