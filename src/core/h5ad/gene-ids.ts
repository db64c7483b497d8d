/**
 * How gene identifiers are matched across files: a versioned Ensembl id (ENSG00000141510.17, as GENCODE-based
 * pipelines write them) names the same gene as the unversioned one (ENSG00000141510, as most vocabularies and gene
 * lists hold them). Every other name matches only itself.
 */
const VERSIONED_ENSEMBL = /^(ENS[A-Z]{0,6}[GTP]\d{11})\.\d+$/;

/** The name under which `name` is matched: a versioned Ensembl id without its version, any other name as it is. */
export function geneMatchKey(name: string): string {
  const m = VERSIONED_ENSEMBL.exec(name);
  return m ? m[1] : name;
}

/**
 * A lookup from match keys to the values of `byName` (a vocabulary: name -> id). When two names share a key (two
 * versions of one id) the first one's value is kept.
 */
export function keyedLookup<V>(byName: ReadonlyMap<string, V>): Map<string, V> {
  const out = new Map<string, V>();
  for (const [name, v] of byName) {
    const key = geneMatchKey(name);
    if (!out.has(key)) out.set(key, v);
  }
  return out;
}
