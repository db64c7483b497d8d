/**
 * Quoting for the bash scripts given to sbatch: every word that reaches the worker goes through `bashQuote`, so a
 * path or label with spaces, quotes, `$`, backticks or newlines arrives byte-identical as one argument.
 */

/** Characters that never need quoting in bash (no expansion, globbing, word splitting or tilde at the start). */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

const C_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\', '\'': "\\'" };

/**
 * One bash word that expands to exactly `s`: as is when safe, else in single quotes ('\'' for each quote). A word
 * with control characters (line breaks, CR, tabs) is written in ANSI-C quotes `$'...'` with escapes, so the script
 * holds no raw CR (sbatch refuses scripts with DOS line breaks) and each line stays one line.
 */
export function bashQuote(s: string): string {
  if (s.includes('\0')) throw new Error(`an argument contains a NUL byte, which no program argument can hold: ${JSON.stringify(s)}`);
  if (PLAIN.test(s)) return s;
  // eslint-disable-next-line no-control-regex
  if (/[\x01-\x1f\x7f]/.test(s)) {
    // eslint-disable-next-line no-control-regex
    return `$'${s.replace(/[\x01-\x1f\x7f\\']/g, c => C_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`;
  }
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
