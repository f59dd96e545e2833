/** The bench's one table: each figure next to its target (docs/architecture.md "Targets"), "met" / "NOT MET" said plainly. */

export type Verdict = "met" | "NOT MET" | "info" | "error" | "not measured";

export interface Row {
  part: string;
  figure: string;
  measured: string;
  target: string;
  verdict: Verdict;
}

export function renderTable(rows: readonly Row[]): string {
  const head: Row = { part: "part", figure: "figure", measured: "measured", target: "target", verdict: "verdict" as Verdict };
  const cols = ["part", "figure", "measured", "target", "verdict"] as const;
  const width = cols.map((c) => Math.max(...[head, ...rows].map((r) => r[c].length)));
  const line = (r: Row) => cols.map((c, i) => r[c].padEnd(width[i]!)).join("  ").trimEnd();
  return [line(head), width.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export const verdict = (ok: boolean | null): Verdict => (ok === null ? "not measured" : ok ? "met" : "NOT MET");
export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
export const ms = (n: number) => (Number.isFinite(n) ? `${n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString("en-US")} ms` : "–");
