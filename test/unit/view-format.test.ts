import * as assert from 'assert';
import { axisFormatter, countFormatter, countOf, edgeFormatter, geneNamespaceText, perCellTotalLabel, proportionText } from '../../src/shared/view-format';
import { histogram } from '../../src/core/h5ad/stats';

/** number of decimals of a formatted number */
const decimals = (s: string) => (s.includes('.') ? s.split('.')[1].length : 0);

describe('webview number formats (issue 10: one format per axis and per matrix)', () => {
  it('gives every tick of a histogram axis the same number of decimals', () => {
    // per-cell totals around 100: the old per-value rule printed "98.50" beside "101"
    const edges = histogram([90, 95.5, 99, 103, 110, 120.25], 10).edges;
    const f = axisFormatter(edges);
    const labels = edges.map(f);
    assert.strictEqual(new Set(labels.map(decimals)).size, 1, labels.join(' '));
    assert.strictEqual(new Set(labels).size, labels.length, `neighbouring ticks stay distinct: ${labels.join(' ')}`);
  });

  it('prints integer edges without decimals and with thousands separators', () => {
    const f = axisFormatter([0, 500, 1000, 1500, 2000]);
    assert.deepStrictEqual([0, 500, 1000, 1500, 2000].map(f), ['0', '500', '1,000', '1,500', '2,000']);
  });

  it('takes as many decimals as the step needs, the same for all', () => {
    const f = axisFormatter([0, 0.25, 0.5, 0.75, 1]);
    assert.deepStrictEqual([0, 0.25, 0.5, 0.75, 1].map(f), ['0.00', '0.25', '0.50', '0.75', '1.00']);
    const g = axisFormatter([1, 1.5, 2, 2.5]);
    assert.deepStrictEqual([1, 1.5, 2, 2.5].map(g), ['1.0', '1.5', '2.0', '2.5']);
  });

  it('labels the bins of whole-number values without decimals: the smallest whole number in each bin', () => {
    // genes per cell from 39 to 7,823 in 50 bins: the edges are fractional ("39.0, 194.6, 1,128.2" before)
    const edges = histogram([39, 400, 1200, 7823], 50).edges;
    const f = edgeFormatter(edges, true);
    assert.deepStrictEqual([0, 1, 7].map(i => f(edges[i])), ['39', '195', '1,129']);
    assert.strictEqual(f(edges[50]), '7,823');
    // bins narrower than 1 cannot all start at a different whole number: decimals then
    const narrow = histogram([0, 3], 10).edges;
    assert.deepStrictEqual(edgeFormatter(narrow, true)(narrow[1]), axisFormatter(narrow)(narrow[1]));
    // values that are not whole (log-normalised sums) keep their decimals
    assert.strictEqual(edgeFormatter(edges, false)(edges[1]), axisFormatter(edges)(edges[1]));
  });

  it('writes seven-digit counts compactly, with as many digits as keep the ticks apart', () => {
    const f = countFormatter([0, 1_000_000, 2_000_000, 3_000_000]);
    assert.deepStrictEqual([0, 1_000_000, 2_500_000].map(f), ['0', '1M', '2.5M']);
    const g = countFormatter([1_234_100, 1_234_400]);
    assert.deepStrictEqual([1_234_100, 1_234_400].map(g), ['1.2341M', '1.2344M']);
    assert.deepStrictEqual([0, 250, 12_345].map(countFormatter([0, 12_345])), ['0', '250', '12,345']);
  });

  it('counts with the noun in the right number ("1 run", not "1 runs")', () => {
    assert.deepStrictEqual([0, 1, 2, 1200].map(n => countOf(n, 'run')), ['0 runs', '1 run', '2 runs', '1,200 runs']);
    assert.strictEqual(countOf(1, 'match', 'matches'), '1 match');
  });

  it('writes every confusion-matrix share with two decimals, zero included', () => {
    assert.deepStrictEqual([0, 0.004, 0.25, 1].map(proportionText), ['0.00', '0.00', '0.25', '1.00']);
  });

  it('labels the per-cell sum of X by what X holds', () => {
    assert.strictEqual(perCellTotalLabel('raw-counts'), 'Counts per cell');
    assert.strictEqual(perCellTotalLabel('log-normalized'), 'Sum of log-normalised values per cell');
    for (const k of ['normalized', 'log-normalized', 'scaled'] as const) assert.doesNotMatch(perCellTotalLabel(k), /^Counts/);
  });

  it('names a gene namespace in the same words in the dataset view and the Preprocess questions', () => {
    assert.strictEqual(geneNamespaceText('ensembl-human'), 'Ensembl human gene ids');
    assert.strictEqual(geneNamespaceText('symbol', 'upper'), 'gene symbols (human style, upper case)');
    assert.strictEqual(geneNamespaceText('symbol'), 'gene symbols');
    assert.strictEqual(geneNamespaceText('unknown'), 'not recognised as gene identifiers');
  });
});
