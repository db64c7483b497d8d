/**
 * An experiment's results table as CSV (full precision, one column per number, for further analysis), Markdown
 * and LaTeX (the paper-style layout of paper.ts, as the results panel shows it: rounded `mean ± CI half-width`
 * with significance marks, published values and differences, and a footnote).
 */
import { csvRow } from './csv';
import type { ExperimentResults } from './model';
import { paperTable, significanceMark, type PaperCell, type PaperOptions } from './paper';

export type TableFormat = 'csv' | 'md' | 'tex';

export const CSV_COLUMNS = [
  'experiment', 'dataset', 'model', 'fraction', 'n',
  'accuracy_mean', 'accuracy_std', 'accuracy_ci_low', 'accuracy_ci_high',
  'macro_f1_mean', 'macro_f1_std', 'macro_f1_ci_low', 'macro_f1_ci_high',
  'reference_model', 'p_accuracy', 'p_macro_f1', 'published_accuracy', 'published_macro_f1',
  // paper-style additions (after the original columns, so readers by position keep working)
  'accuracy_mark', 'macro_f1_mark', 'accuracy_minus_published', 'macro_f1_minus_published', 'accuracy_ci_half', 'macro_f1_ci_half',
  // why published values are left out (the file is not the paper's dataset)
  'published_note',
] as const;

/** digits: decimals of metrics in Markdown/LaTeX (default 3); level: of the intervals (default 0.95) */
export type ExportOptions = PaperOptions;

export function exportTable(table: ExperimentResults, format: TableFormat, options: ExportOptions = {}): string {
  if (format === 'csv') return tableToCsv(table);
  if (format === 'md') return tableToMarkdown(table, options);
  if (format === 'tex') return tableToLatex(table, options);
  throw new Error(`unknown table format '${String(format)}' (csv, md or tex)`);
}

/** full-precision difference ours - published, '' when there is no published value */
function diff(ours: number, published: number | undefined): number | '' {
  return published === undefined ? '' : ours - published;
}

export function tableToCsv(table: ExperimentResults): string {
  const out = [csvRow([...CSV_COLUMNS])];
  for (const r of table.rows) {
    out.push(csvRow([
      table.experiment, r.dataset, r.model, r.fraction, r.n,
      r.accuracy.mean, r.accuracy.std, r.accuracy.ciLow, r.accuracy.ciHigh,
      r.macroF1.mean, r.macroF1.std, r.macroF1.ciLow, r.macroF1.ciHigh,
      r.vsReference?.model ?? '', r.vsReference?.pAccuracy ?? '', r.vsReference?.pMacroF1 ?? '',
      r.published.accuracy[0]?.value ?? '', r.published.macroF1[0]?.value ?? '',
      significanceMark(r.vsReference?.pAccuracy), significanceMark(r.vsReference?.pMacroF1),
      diff(r.accuracy.mean, r.published.accuracy[0]?.value), diff(r.macroF1.mean, r.published.macroF1[0]?.value),
      r.accuracy.ciHalfWidth, r.macroF1.ciHalfWidth, r.publishedNote ?? '',
    ]));
  }
  return out.join('');
}

/** p-values: three significant digits, scientific below 0.001. */
export function formatP(p: number | undefined): string {
  if (p === undefined || Number.isNaN(p)) return '';
  if (p < 1e-3) return p.toExponential(1);
  return p.toPrecision(2);
}

export function escapeMarkdown(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[*_`[\]<>]/g, c => `\\${c}`).replace(/\r?\n/g, ' ');
}

/**
 * The paper-style table (paper.ts) as Markdown: a bold caption, the table, and the footnote that explains the
 * intervals, the significance marks and the differences.
 */
export function tableToMarkdown(table: ExperimentResults, options: ExportOptions = {}): string {
  const paper = paperTable(table, options);
  const line = (values: string[]) => `| ${values.join(' | ')} |`;
  const out = [`**${escapeMarkdown(paper.caption)}**`, '', line(paper.headings.map(escapeMarkdown)),
    line(paper.align.map(a => (a === 'l' ? '---' : '---:')))];
  for (const r of paper.rows) out.push(line(r.cells.map(c => escapeMarkdown(c.text))));
  out.push('', escapeMarkdown(paper.footnote));
  return out.join('\n') + '\n';
}

const LATEX_SPECIALS: Record<string, string> = {
  '\\': '\\textbackslash{}', '&': '\\&', '%': '\\%', $: '\\$', '#': '\\#', _: '\\_', '{': '\\{', '}': '\\}',
  '|': '\\textbar{}', '~': '\\textasciitilde{}', '^': '\\textasciicircum{}', '<': '\\textless{}', '>': '\\textgreater{}',
};

/** Text made safe for LaTeX's text mode. */
export function escapeLatex(text: string): string {
  return text.replace(/[\\&%$#_{}~^<>|]/g, c => LATEX_SPECIALS[c]).replace(/\r?\n/g, ' ');
}

function latexCell(c: PaperCell): string {
  if (c.kind !== 'metric') return escapeLatex(c.text);
  if (!c.mean) return '';
  const value = c.half ? `$${c.mean} \\pm ${c.half}$` : `$${c.mean}$`;
  return c.mark ? `${value}\\textsuperscript{${c.mark}}` : value;
}

/** The paper-style table (paper.ts) as a booktabs LaTeX table, the footnote under it. */
export function tableToLatex(table: ExperimentResults, options: ExportOptions = {}): string {
  const paper = paperTable(table, options);
  const math = (text: string) => escapeLatex(text).replace(/±/g, '$\\pm$').replace(/Δ/g, '$\\Delta$');
  const out = [
    '% requires \\usepackage{booktabs}',
    '\\begin{table}[ht]',
    '\\centering',
    `\\caption{${math(paper.caption)}}`,
    `\\begin{tabular}{${paper.align.join('')}}`,
    '\\toprule',
    paper.headings.map(math).join(' & ') + ' \\\\',
    '\\midrule',
  ];
  for (const r of paper.rows) out.push(r.cells.map(latexCell).join(' & ') + ' \\\\');
  out.push('\\bottomrule', '\\end{tabular}', '', `\\smallskip\\footnotesize ${math(paper.footnote).replace(/(\*+) p/g, '$^{$1}$p')}`, '\\end{table}');
  return out.join('\n') + '\n';
}
