/**
 * Quoting for the bash scripts given to sbatch: every word that reaches the worker goes through `bashQuote`, so a
 * path or label with spaces, quotes, `$`, backticks or newlines arrives byte-identical as one argument.
 */

/** Characters that never need quoting in bash (no expansion, globbing, word splitting or tilde at the start). */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One bash word that expands to exactly `s`: as is when safe, else in single quotes ('\'' for each quote). */
export function bashQuote(s: string): string {
  if (s.includes('\0')) throw new Error(`an argument contains a NUL byte, which no program argument can hold: ${JSON.stringify(s)}`);
  if (PLAIN.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A bash array literal `(w1 w2 ...)` of the quoted words, one per line after the first so long commands stay readable. */
export function bashArray(words: readonly string[]): string {
  return `(${words.map(bashQuote).join('\n  ')})`;
}

/** Whether `name` can be a shell variable name. */
export function isEnvName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}
