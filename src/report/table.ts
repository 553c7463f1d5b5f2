/**
 * mnist-report's table: one row per run folder, ranked by test accuracy (complete runs first),
 * as aligned text, CSV or JSON.
 */
import type { ChalkInstance } from "chalk";
import type { RunData } from "./run-data.js";

export interface ReportRow {
  rank: number;
  run: string;
  status: "complete" | "incomplete";
  lr: number | null;
  /** A number, or the layer sizes joined by commas for a deeper net ("100,100"). */
  hiddenSize: number | string | null;
  batchSize: number | null;
  iters: number | null;
  seed: number | null;
  /** Iterations that ran (less than iters for an interrupted run). */
  iterations: number;
  /** Epochs that ran, fractional: iterations / iterations per epoch. */
  epochs: number;
  finalLoss: number | null;
  trainAccuracy: number | null;
  testAccuracy: number | null;
  /** Validation accuracy (runs with `--val-size`), else null. */
  valAccuracy: number | null;
  wallTimeS: number | null;
}

export const COLUMNS: (keyof ReportRow)[] = [
  "rank",
  "run",
  "status",
  "lr",
  "hiddenSize",
  "batchSize",
  "iters",
  "seed",
  "iterations",
  "epochs",
  "finalLoss",
  "trainAccuracy",
  "testAccuracy",
  "valAccuracy",
  "wallTimeS",
];

export function reportRows(runs: RunData[]): ReportRow[] {
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const rows = runs.map((r): Omit<ReportRow, "rank"> => ({
    run: r.dir,
    status: r.complete ? "complete" : "incomplete",
    lr: num(r.config.lr),
    hiddenSize: Array.isArray(r.config.hiddenSize) ? r.config.hiddenSize.join(",") : num(r.config.hiddenSize),
    batchSize: num(r.config.batchSize),
    iters: num(r.config.iters),
    seed: num(r.config.seed),
    iterations: r.summary.iterations,
    epochs: r.summary.epochs ?? r.summary.iterations / r.itersPerEpoch,
    finalLoss: num(r.summary.finalLoss),
    trainAccuracy: num(r.summary.trainAccuracy),
    testAccuracy: num(r.summary.testAccuracy),
    valAccuracy: num(r.summary.valAccuracy),
    wallTimeS: num(r.summary.wallTimeS),
  }));
  rows.sort(
    (a, b) =>
      Number(b.status === "complete") - Number(a.status === "complete") ||
      (b.testAccuracy ?? -1) - (a.testAccuracy ?? -1) ||
      a.run.localeCompare(b.run),
  );
  return rows.map((r, i) => ({ rank: i + 1, ...r }));
}

const HEADERS: Record<keyof ReportRow, string> = {
  rank: "#",
  run: "run",
  status: "status",
  lr: "lr",
  hiddenSize: "hidden",
  batchSize: "batch",
  iters: "iters",
  seed: "seed",
  iterations: "ran",
  epochs: "epochs",
  finalLoss: "final loss",
  trainAccuracy: "train acc",
  testAccuracy: "test acc",
  valAccuracy: "val acc",
  wallTimeS: "wall s",
};

function cell(row: ReportRow, key: keyof ReportRow): string {
  const v = row[key];
  if (v === null) return "-";
  switch (key) {
    case "finalLoss":
      return (v as number).toFixed(4);
    case "trainAccuracy":
    case "testAccuracy":
    case "valAccuracy":
      return (v as number).toFixed(4);
    case "wallTimeS":
      return (v as number).toFixed(1);
    case "epochs":
      return String(Math.round((v as number) * 100) / 100);
    default:
      return String(v);
  }
}

/** Aligned columns; numbers right-aligned; the best run's test accuracy highlighted. */
export function formatTable(rows: ReportRow[], c: ChalkInstance): string {
  // "ran" only when some run stopped early, "val acc" only when some run held out a validation set
  const keys = COLUMNS.filter(
    (k) => (k !== "iterations" || rows.some((r) => r.iterations !== r.iters)) && (k !== "valAccuracy" || rows.some((r) => r.valAccuracy !== null)),
  );
  const texts = rows.map((r) => keys.map((k) => cell(r, k)));
  const widths = keys.map((k, j) => Math.max(HEADERS[k].length, ...texts.map((t) => t[j].length)));
  const left = new Set<keyof ReportRow>(["run", "status"]);
  const pad = (s: string, j: number) => (left.has(keys[j]) ? s.padEnd(widths[j]) : s.padStart(widths[j]));
  const lines = [c.bold(keys.map((k, j) => pad(HEADERS[k], j)).join("  "))];
  texts.forEach((t, i) => {
    const styled = t.map((s, j) => {
      const text = pad(s, j);
      if (keys[j] === "testAccuracy" && i === 0 && rows[i].status === "complete") return c.green.bold(text);
      if (keys[j] === "status" && rows[i].status !== "complete") return c.yellow(text);
      return text;
    });
    lines.push(styled.join("  ").trimEnd());
  });
  return lines.join("\n") + "\n";
}

export function formatCsv(rows: ReportRow[]): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  // snake_case headers, like loss.csv and epochs.csv.
  const lines = [COLUMNS.map((k) => k.replace(/[A-Z]/g, (m) => "_" + m.toLowerCase())).join(",")];
  for (const r of rows) lines.push(COLUMNS.map((k) => (r[k] === null ? "" : quote(String(r[k])))).join(","));
  return lines.join("\n") + "\n";
}
