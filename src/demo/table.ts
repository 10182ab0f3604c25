// The demo's and `gavel buyers`' plain-text tables (a module of its own, so that `gavel buyers` does
// not load the server to print one).

/** Plain-text table: left-aligned text, right-aligned numbers. */
export function table(headers: string[], rows: (string | number)[][], rightAligned: boolean[]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (rightAligned[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n") + "\n";
}
