/** Columns padded to their widest cell; numbers (cells starting with a digit or -) aligned right. Pure. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const numeric = header.map(
    (_, column) => rows.length > 0 && rows.every((row) => /^-?[\d,.]+$|^-$/.test(row[column] ?? '')),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        column === cells.length - 1 && !numeric[column]
          ? cell
          : numeric[column]
            ? cell.padStart(widths[column]!)
            : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export const count = (n: number | bigint): string => n.toLocaleString('en-US');

/** `45s`, `12m`, `3h 20m`, `4d 2h`: how long ago / how far behind. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** `2026-11-23T10:15:00Z (3h 20m ago)` */
export function formatTime(ms: number, now: number): string {
  return `${new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')} (${formatAge(now - ms)} ago)`;
}

/** `1 record`, `3 records`. */
export const plural = (n: number, noun: string): string => `${count(n)} ${noun}${n === 1 ? '' : 's'}`;
