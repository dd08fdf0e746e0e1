/** A number for a table cell; "n/a" for a figure that was not measured. */
export function cell(value: number | string | undefined | null, digits?: number): string {
  if (value === undefined || value === null) return 'n/a';
  if (typeof value === 'string') return value;
  if (Number.isNaN(value)) return 'n/a';
  return digits === undefined ? String(value) : value.toFixed(digits);
}

/** A Markdown table with padded columns, so it reads as well on a terminal as rendered. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${widths.map((w, i) => (cells[i] ?? '').padEnd(w)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}
