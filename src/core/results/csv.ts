/** RFC 4180 CSV: fields with a comma, quote, CR or LF are quoted, quotes doubled; rows end with CRLF-free \n. */

export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const s = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : Number.isNaN(value) ? '' : String(value)) : value;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: ReadonlyArray<string | number | null | undefined>): string {
  return values.map(csvField).join(',') + '\n';
}

/** Parses CSV text into rows of fields (quoted fields may span lines). A trailing newline adds no row. */
export function parseCsv(text: string, source = 'CSV'): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // byte-order mark
  let line = 1;
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i++; } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"') {
      if (field !== '') throw new Error(`${source}: line ${line}: a quote inside an unquoted field`);
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      line++;
    } else {
      field += c;
    }
  }
  if (quoted) throw new Error(`${source}: a quoted field is not closed`);
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
