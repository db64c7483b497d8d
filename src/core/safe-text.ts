/**
 * Error messages about user-named files must not echo arbitrary file contents: a recipe (perhaps from an
 * untrusted repository) can point `referenceGenes` or `vocab` at any file, e.g. one in the user's home, and the
 * message would print its first lines. These helpers show only what looks like a gene name, and describe JSON
 * syntax errors without quoting the text.
 */

/** A gene symbol or id as they are written: letters, digits, '.', '-', '_' (HLA-A, MT-CO1, ENSG00000141510.2). */
const GENE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function looksLikeGeneName(s: string): boolean {
  return GENE_NAME.test(s);
}

/** A quoted name when it looks like a gene, otherwise a neutral description of the entry. */
export function geneForMessage(s: string, entry: number): string {
  return looksLikeGeneName(s) ? `"${s}"` : `entry ${entry} (not shown: it does not look like a gene name)`;
}

/** Up to `n` names for a message: the gene-like ones, or a note that the entries do not look like genes. */
export function genesForMessage(names: readonly string[], n = 5): string {
  const first = names.slice(0, n);
  if (first.length && first.every(looksLikeGeneName)) return first.join(', ');
  return 'entries not shown: they do not look like gene names — is this a gene list?';
}

/** A JSON.parse failure without the quoted text Node puts in its message. */
export function jsonProblem(e: unknown): string {
  const m = /position (\d+)/.exec(e instanceof Error ? e.message : String(e));
  return m ? `not valid JSON (syntax error at character ${m[1]})` : 'not valid JSON';
}
