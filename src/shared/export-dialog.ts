/** What the save dialog of an export says: its title (what is saved, in which format) and its file filters. */
import type { ExportFormat } from './protocol';

const FORMATS: Record<ExportFormat, { what: 'table' | 'figure'; label: string; filter: Record<string, string[]> }> = {
  csv: { what: 'table', label: 'CSV', filter: { CSV: ['csv'] } },
  md: { what: 'table', label: 'Markdown', filter: { Markdown: ['md'] } },
  tex: { what: 'table', label: 'LaTeX', filter: { LaTeX: ['tex'] } },
  png: { what: 'figure', label: 'PNG image', filter: { 'PNG image': ['png'] } },
  svg: { what: 'figure', label: 'SVG image', filter: { 'SVG image': ['svg'] } },
};

export function exportDialog(format: ExportFormat): { title: string; filters: Record<string, string[]>; saveLabel: string } {
  const f = FORMATS[format];
  return { title: `Export the ${f.what} as ${f.label}`, filters: f.filter, saveLabel: 'Export' };
}
