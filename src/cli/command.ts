import * as path from 'path';
import type { RunSplit } from '../core/runs/schema';
/** One `scwb` subcommand. Each lives in src/cli/commands/<name>.ts and is listed in src/cli/main.ts. */
export interface CliCommand {
  readonly name: string;
  /** One line for `scwb --help`. */
  readonly summary: string;
  /** Full usage text for `scwb <name> --help`. */
  readonly usage: string;
  run(args: string[], io: CliIO): Promise<number>;
}

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

/** A user error: printed as `scwb <cmd>: message` with exit code 2, no stack. */
export class UsageError extends Error {}

/**
 * Minimal flag parser: `--name value`, `--flag` (boolean when listed in `booleans`), and positionals. `--` ends
 * the options: every argument after it is a positional, even one starting with `--` (a file named `--x.h5ad`).
 * Kept tiny on purpose: the CLI has a handful of flags per command.
 */
export function parseFlags(args: string[], booleans: readonly string[] = []): { flags: Map<string, string | true>; positionals: string[] } {
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) { flags.set(a.slice(2, eq), a.slice(eq + 1)); continue; }
      const name = a.slice(2);
      if (booleans.includes(name)) { flags.set(name, true); continue; }
      const v = args[i + 1];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      flags.set(name, v);
      i++;
    } else {
      positionals.push(a);
    }
  }
  return { flags, positionals };
}

/** The value of --name, undefined when absent; a flag given without a value is a usage error. */
export function stringFlag(flags: Map<string, string | true>, name: string): string | undefined {
  const v = flags.get(name);
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}

export function numberFlag(flags: Map<string, string | true>, name: string, fallback: number): number {
  const v = flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === true || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${String(v)}`);
  return n;
}

/**
 * Calls `onSignal` on SIGINT (Ctrl-C) and SIGTERM (what `timeout`, `kill` and cluster schedulers send) while a
 * command runs, so both cancel the same way: temp outputs removed, runs marked cancelled. Returns the remover.
 */
export function onTerminationSignals(onSignal: (signal: NodeJS.Signals) => void): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  const handlers = signals.map(s => {
    const h = () => onSignal(s);
    process.once(s, h);
    return [s, h] as const;
  });
  return () => { for (const [s, h] of handlers) process.removeListener(s, h); };
}

/** The train/test split the flags name, shared by `scwb baseline` and `scwb finetune` so both draw the same cells:
 * `--query FILE` (reference/query), `--group COL` (no group on both sides) or stratified (`--test-size 0.2 --seed 2022`). */
export function splitFromFlags(flags: Map<string, string | true>, cwd: string): RunSplit {
  const query = stringFlag(flags, 'query');
  const group = stringFlag(flags, 'group');
  if (query && group) throw new UsageError('--query and --group are different splits; give one');
  if (query && (flags.has('test-size') || flags.has('seed'))) throw new UsageError('--test-size/--seed do not apply to a reference/query split');
  const testSize = numberFlag(flags, 'test-size', 0.2);
  const seed = numberFlag(flags, 'seed', 2022);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got ${seed}`);
  const split: RunSplit = query
    ? { kind: 'reference-query', queryPath: path.resolve(cwd, query) }
    : group ? { kind: 'group', column: group, testSize, seed } : { kind: 'stratified', testSize, seed };
  return split;
}
