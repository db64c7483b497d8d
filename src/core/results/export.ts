/**
 * An experiment's results table as CSV (full precision, one column per number, for further analysis), Markdown
 * and LaTeX (rounded, `mean ± CI half-width`, for papers and notes).
 */
import { csvRow } from './csv';
import type { ExperimentResults, MetricSummary, ResultRow } from './model';

export type TableFormat = 'csv' | 'md' | 'tex';

export const CSV_COLUMNS = [
  'experiment', 'dataset', 'model', 'fraction', 'n',
  'accuracy_mean', 'accuracy_std', 'accuracy_ci_low', 'accuracy_ci_high',
  'macro_f1_mean', 'macro_f1_std', 'macro_f1_ci_low', 'macro_f1_ci_high',
  'reference_model', 'p_accuracy', 'p_macro_f1', 'published_accuracy', 'published_macro_f1',
] as const;

export interface ExportOptions {
  /** decimals of metrics in Markdown/LaTeX (default 3) */
  digits?: number;
}

export function exportTable(table: ExperimentResults, format: TableFormat, options: ExportOptions = {}): string {
  if (format === 'csv') return tableToCsv(table);
  if (format === 'md') return tableToMarkdown(table, options);
  if (format === 'tex') return tableToLatex(table, options);
  throw new Error(`unknown table format '${String(format)}' (csv, md or tex)`);
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
    ]));
  }
  return out.join('');
}

/** `0.812 ± 0.004`, or just the mean when the CI is undefined (one seed). */
function meanCi(m: MetricSummary, digits: number, pm: string): string {
  const mean = m.mean.toFixed(digits);
  return Number.isFinite(m.ciHalfWidth) ? `${mean}${pm}${m.ciHalfWidth.toFixed(digits)}` : mean;
}

/** p-values: three significant digits, scientific below 0.001. */
export function formatP(p: number | undefined): string {
  if (p === undefined || Number.isNaN(p)) return '';
  if (p < 1e-3) return p.toExponential(1);
  return p.toPrecision(2);
}

function published(cells: ResultRow['published']['accuracy'], digits: number): string {
  return cells.length ? cells[0].value.toFixed(digits) : '';
}

const HEADINGS = ['Dataset', 'Model', 'Fraction', 'n', 'Accuracy', 'Macro-F1', 'p (accuracy)', 'p (macro-F1)', 'Published accuracy', 'Published macro-F1'];

function cells(r: ResultRow, digits: number, pm: string): string[] {
  return [
    r.dataset, r.model, String(r.fraction), String(r.n), meanCi(r.accuracy, digits, pm), meanCi(r.macroF1, digits, pm),
    r.isReference ? 'ref.' : formatP(r.vsReference?.pAccuracy), r.isReference ? 'ref.' : formatP(r.vsReference?.pMacroF1),
    published(r.published.accuracy, digits), published(r.published.macroF1, digits),
  ];
}

function caption(table: ExperimentResults): string {
  return `${table.experiment}: mean ± 95% CI over seeds (Student t)${table.referenceModel ? `; p: Welch's t-test vs ${table.referenceModel} at the same fraction` : ''}`;
}

export function escapeMarkdown(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[*_`[\]<>]/g, c => `\\${c}`).replace(/\r?\n/g, ' ');
}

export function tableToMarkdown(table: ExperimentResults, options: ExportOptions = {}): string {
  const digits = options.digits ?? 3;
  const line = (values: string[]) => `| ${values.join(' | ')} |`;
  const align = HEADINGS.map((_, i) => (i < 2 ? '---' : '---:'));
  const out = [`**${escapeMarkdown(caption(table))}**`, '', line(HEADINGS), line(align)];
  for (const r of table.rows) out.push(line(cells(r, digits, ' ± ').map(escapeMarkdown)));
  return out.join('\n') + '\n';
}

const LATEX_SPECIALS: Record<string, string> = {
  '\\': '\\textbackslash{}', '&': '\\&', '%': '\\%', $: '\\$', '#': '\\#', _: '\\_', '{': '\\{', '}': '\\}',
  '~': '\\textasciitilde{}', '^': '\\textasciicircum{}', '<': '\\textless{}', '>': '\\textgreater{}',
};

/** Text made safe for LaTeX's text mode. */
export function escapeLatex(text: string): string {
  return text.replace(/[\\&%$#_{}~^<>]/g, c => LATEX_SPECIALS[c]).replace(/\r?\n/g, ' ');
}

export function tableToLatex(table: ExperimentResults, options: ExportOptions = {}): string {
  const digits = options.digits ?? 3;
  const out = [
    '% requires \\usepackage{booktabs}',
    '\\begin{table}[ht]',
    '\\centering',
    `\\caption{${escapeLatex(caption(table)).replace('±', '$\\pm$')}}`,
    '\\begin{tabular}{llrrllllll}',
    '\\toprule',
    HEADINGS.map(escapeLatex).join(' & ') + ' \\\\',
    '\\midrule',
  ];
  for (const r of table.rows) {
    const c = cells(r, digits, '\u0000').map(v => {
      const [mean, half] = v.split('\u0000');
      return half === undefined ? escapeLatex(v) : `$${mean} \\pm ${half}$`;
    });
    out.push(c.join(' & ') + ' \\\\');
  }
  out.push('\\bottomrule', '\\end{tabular}', '\\end{table}');
  return out.join('\n') + '\n';
}
