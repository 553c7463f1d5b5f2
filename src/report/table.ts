/**
 * mnist-report's table: one row per run folder, finished runs first, ranked by test accuracy (or
 * --sort KEY), as aligned text, CSV or JSON. The text table shows only the hyperparameters that
 * differ between the runs listed; the settings they share are said once, beside it.
 */
import type { ChalkInstance } from "chalk";
import { UsageError } from "../errors.js";
import { kebab } from "../io/zod-message.js";
import { DATA_SOURCES } from "../data/mnist.js";
import { HyperparametersSchema, NOT_WITH_LAYERS } from "../train/hyperparameters.js";

/** The settings a run records when none is given (its config.json repeats them); the data source defaults to the first. */
const TRAIN_DEFAULTS = { ...HyperparametersSchema.parse({}), dataSource: DATA_SOURCES[0] };
import type { RunData } from "./run-data.js";
import { runStatus, STATUS_ORDER, type RunStatus } from "./status.js";

/** Both data sources hold the same pinned files: a test set is the first N of these 10,000 images. */
const MNIST_TEST_COUNT = 10_000;

/** Recorded options that do not change results (thread count, checkpoint interval, cache folder). */
const NOT_HYPERPARAMETERS = new Set(["threads", "checkpointEvery", "dataDir"]);

/** Column order for the hyperparameters a table shows; any others follow alphabetically. */
const HYPER_ORDER = [
  "lr", "hiddenSize", "layers", "batchSize", "iters", "epochs", "optimizer", "activation", "init", "weightInitStd", "momentum", "rmsDecay",
  "beta1", "beta2", "adadeltaRho", "weightDecay", "dropout", "augment", "augmentShift", "augmentRotate", "augmentScale", "lrSchedule", "lrStepEpochs", "lrGamma", "sampling", "dtype", "grad", "seed",
  "trainLimit", "testLimit", "valSize", "earlyStop", "evalEvery", "dataSource",
];

export type HyperValue = number | string | null;

export interface ReportRow {
  rank: number;
  run: string;
  status: RunStatus;
  lr: number | null;
  /** A number, or the layer sizes joined by commas for a deeper net ("100,100"); null for a `layers` net. */
  hiddenSize: number | string | null;
  batchSize: number | null;
  iters: number | null;
  seed: number | null;
  /** Every recorded hyperparameter (defaults filled in for keys older runs did not record). */
  hyperparameters: Record<string, HyperValue>;
  /** The images the test accuracy was measured on: "all 10000" or "first N". */
  testSet: string;
  /** Iterations that ran (less than iters for an interrupted, diverged or early-stopped run). */
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

const RESULT_COLUMNS = ["iterations", "epochs", "finalLoss", "trainAccuracy", "testAccuracy", "valAccuracy", "wallTimeS"] as const;
type ResultKey = (typeof RESULT_COLUMNS)[number];

const RESULT_HEADERS: Record<ResultKey, string> = {
  iterations: "ran",
  epochs: "epochs",
  finalLoss: "final loss",
  trainAccuracy: "train acc",
  testAccuracy: "test acc",
  valAccuracy: "val acc",
  wallTimeS: "wall s",
};

const SHORT_HEADERS: Record<string, string> = { hiddenSize: "hidden", batchSize: "batch" };
const hyperHeader = (key: string) => SHORT_HEADERS[key] ?? kebab(key);

function hyperValue(v: unknown): HyperValue {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return v.join(",");
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  return String(v);
}

function testSetOf(config: Record<string, unknown>): string {
  const limit = typeof config.testLimit === "number" ? Math.min(config.testLimit, MNIST_TEST_COUNT) : MNIST_TEST_COUNT;
  return limit < MNIST_TEST_COUNT ? `first ${limit}` : `all ${MNIST_TEST_COUNT}`;
}

/** The sort keys --sort takes, each with its direction (accuracies high first, the rest low first). */
const SORT_KEYS: Record<string, { key: ResultKey | "run"; descending: boolean }> = {
  "test-acc": { key: "testAccuracy", descending: true },
  "train-acc": { key: "trainAccuracy", descending: true },
  "val-acc": { key: "valAccuracy", descending: true },
  "final-loss": { key: "finalLoss", descending: false },
  wall: { key: "wallTimeS", descending: false },
  ran: { key: "iterations", descending: true },
  run: { key: "run", descending: false },
};

export interface RowOptions {
  /** A result column (test-acc, train-acc, val-acc, final-loss, wall, ran, run) or a hyperparameter (lr, hidden-size, optimizer, …). */
  sort?: string;
  top?: number;
}

/** The hyperparameter a --sort name means (kebab or camelCase, or a table header such as "hidden"), if any. */
function hyperKey(name: string, known: Set<string>): string | undefined {
  const camel = name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  const alias = Object.entries(SHORT_HEADERS).find(([, h]) => h === name)?.[0];
  return [name, camel, alias].find((k): k is string => k !== undefined && known.has(k));
}

export function reportRows(runs: RunData[], options: RowOptions = {}): ReportRow[] {
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const rows = runs.map((r): Omit<ReportRow, "rank"> => {
    const config = { ...TRAIN_DEFAULTS, ...r.config } as Record<string, unknown>;
    const hyperparameters: Record<string, HyperValue> = {};
    for (const [k, v] of Object.entries(config)) if (!NOT_HYPERPARAMETERS.has(k)) hyperparameters[k] = hyperValue(v);
    // a layer net (its list, the canonical text of --layers, is its architecture column): no hidden size, activation or dropout
    const layerNet = typeof r.config.layers === "string";
    if (layerNet) for (const k of NOT_WITH_LAYERS) hyperparameters[k] = null;
    return {
      run: r.dir,
      status: runStatus(r),
      lr: num(r.config.lr),
      hiddenSize: layerNet ? null : Array.isArray(r.config.hiddenSize) ? r.config.hiddenSize.join(",") : num(r.config.hiddenSize),
      batchSize: num(r.config.batchSize),
      iters: num(r.config.iters),
      seed: num(r.config.seed),
      hyperparameters,
      testSet: testSetOf(r.config),
      iterations: r.summary.iterations,
      epochs: r.summary.epochs ?? r.summary.iterations / r.itersPerEpoch,
      finalLoss: num(r.summary.finalLoss),
      trainAccuracy: num(r.summary.trainAccuracy),
      testAccuracy: num(r.summary.testAccuracy),
      valAccuracy: num(r.summary.valAccuracy),
      wallTimeS: num(r.summary.wallTimeS),
    };
  });

  const known = new Set(rows.flatMap((r) => Object.keys(r.hyperparameters)));
  let value: (r: Omit<ReportRow, "rank">) => number | string | null;
  let descending: boolean;
  const name = options.sort ?? "test-acc";
  const result = SORT_KEYS[name] ?? Object.values(SORT_KEYS).find((s) => s.key === name);
  const hyper = result ? undefined : hyperKey(name, known);
  if (result) {
    value = (r) => r[result.key];
    descending = result.descending;
  } else if (hyper) {
    value = (r) => r.hyperparameters[hyper] ?? null;
    descending = false;
  } else {
    throw new UsageError(
      `--sort ${name}: not a column; use one of ${Object.keys(SORT_KEYS).join(", ")} or a hyperparameter (${[...known].sort(byHyperOrder).map(kebab).join(", ")})`,
    );
  }
  const compareValues = (a: number | string | null, b: number | string | null): number => {
    if (a === b) return 0;
    if (a === null) return 1; // missing values last, whichever the direction
    if (b === null) return -1;
    const c = typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b), undefined, { numeric: true });
    return descending ? -c : c;
  };
  rows.sort(
    (a, b) =>
      STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
      compareValues(value(a), value(b)) ||
      (b.testAccuracy ?? -1) - (a.testAccuracy ?? -1) ||
      a.run.localeCompare(b.run),
  );
  const ranked = rows.map((r, i) => ({ rank: i + 1, ...r }));
  return options.top !== undefined ? ranked.slice(0, options.top) : ranked;
}

function byHyperOrder(a: string, b: string): number {
  const ia = HYPER_ORDER.indexOf(a);
  const ib = HYPER_ORDER.indexOf(b);
  if (ia >= 0 && ib >= 0) return ia - ib;
  if (ia >= 0 || ib >= 0) return ia >= 0 ? -1 : 1;
  return a.localeCompare(b);
}

/** What the listed runs have in common and where they differ. */
export interface RowSettings {
  /** Hyperparameters whose values are not the same in every row, in column order. */
  varying: string[];
  /** The shared values of the others. */
  shared: Record<string, HyperValue>;
  /** More than one test set among the rows: their test accuracies do not compare directly. */
  testSets: string[];
}

export function rowSettings(rows: ReportRow[]): RowSettings {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.hyperparameters)))].sort(byHyperOrder);
  const varying: string[] = [];
  const shared: Record<string, HyperValue> = {};
  for (const key of keys) {
    const values = new Set(rows.map((r) => JSON.stringify(r.hyperparameters[key] ?? null)));
    if (values.size > 1) varying.push(key);
    else shared[key] = rows[0]?.hyperparameters[key] ?? null;
  }
  const testSets = [...new Set(rows.map((r) => r.testSet))];
  return { varying, shared, testSets };
}

/** The shared settings worth a line: the book's core ones, and any other not at its default. */
export function describeShared(settings: RowSettings): string {
  const core = new Set(["lr", "hiddenSize", "batchSize", "iters", "seed"]);
  const defaults = TRAIN_DEFAULTS as Record<string, unknown>;
  const parts = Object.entries(settings.shared)
    .filter(([k, v]) => v !== null && (core.has(k) || JSON.stringify(hyperValue(defaults[k])) !== JSON.stringify(v)))
    // a layer list is quoted: its commas would run into the list's own
    .map(([k, v]) => `${hyperHeader(k)} ${typeof v === "string" && v.includes(", ") ? `"${v}"` : v}`);
  if (settings.testSets.length === 1) parts.push(`test set ${settings.testSets[0]}`);
  return parts.join(", ");
}

type Column = { header: string; text: (r: ReportRow) => string; left?: boolean; key: string };

function resultCell(row: ReportRow, key: ResultKey): string {
  const v = row[key];
  if (v === null) return "-";
  if (key === "epochs") return String(Math.round(v * 100) / 100);
  return key === "wallTimeS" ? v.toFixed(1) : key === "iterations" ? String(v) : v.toFixed(4);
}

/**
 * Aligned columns: rank, run, status, the hyperparameters that differ between these runs, the test
 * set when runs were evaluated on different ones, then the results ("ran" only when some run
 * stopped short, "val acc" only when some run held out a validation set). The best finished
 * run's test accuracy is highlighted; runs that did not finish are coloured by status.
 */
export function formatTable(rows: ReportRow[], c: ChalkInstance, settings = rowSettings(rows)): string {
  const columns: Column[] = [
    { key: "rank", header: "#", text: (r) => String(r.rank) },
    { key: "run", header: "run", text: (r) => r.run, left: true },
    { key: "status", header: "status", text: (r) => r.status, left: true },
  ];
  const differentTestSets = settings.testSets.length > 1;
  for (const key of settings.varying) {
    // the test set column says the same as test-limit, with the consequence spelled out
    if (differentTestSets && key === "testLimit") continue;
    columns.push({ key, header: hyperHeader(key), text: (r) => (r.hyperparameters[key] === null || r.hyperparameters[key] === undefined ? "-" : String(r.hyperparameters[key])) });
  }
  if (differentTestSets) columns.push({ key: "testSet", header: "test set", text: (r) => r.testSet, left: true });
  for (const key of RESULT_COLUMNS) {
    // the epochs that ran are in --csv and --json; the text table keeps to what tells runs apart
    if (key === "epochs") continue;
    if (key === "iterations" && !rows.some((r) => r.iterations !== r.iters)) continue;
    if (key === "valAccuracy" && !rows.some((r) => r.valAccuracy !== null)) continue;
    columns.push({ key, header: RESULT_HEADERS[key], text: (r) => resultCell(r, key) });
  }
  const texts = rows.map((r) => columns.map((col) => col.text(r)));
  const widths = columns.map((col, j) => Math.max(col.header.length, ...texts.map((t) => t[j].length)));
  const pad = (s: string, j: number) => (columns[j].left ? s.padEnd(widths[j]) : s.padStart(widths[j]));
  const lines = [c.bold(columns.map((col, j) => pad(col.header, j)).join("  ").trimEnd())];
  // the best finished run's test accuracy, wherever --sort put it
  let best = -1;
  rows.forEach((r, i) => {
    if (STATUS_ORDER[r.status] === 0 && r.testAccuracy !== null && (best < 0 || r.testAccuracy > rows[best].testAccuracy!)) best = i;
  });
  texts.forEach((t, i) => {
    const styled = t.map((s, j) => {
      const text = pad(s, j);
      const key = columns[j].key;
      if (key === "testAccuracy" && i === best) return c.green.bold(text);
      if (key === "status" && rows[i].status === "diverged") return c.red(text);
      if (key === "status" && rows[i].status !== "complete") return c.yellow(text);
      return text;
    });
    lines.push(styled.join("  ").trimEnd());
  });
  return lines.join("\n") + "\n";
}

/** Every hyperparameter any run records (not only those that differ), for scripts; snake_case headers like the CSVs. */
export function formatCsv(rows: ReportRow[]): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const snake = (k: string) => k.replace(/[A-Z]/g, (m) => "_" + m.toLowerCase());
  const hyper = [...new Set(rows.flatMap((r) => Object.keys(r.hyperparameters)))].sort(byHyperOrder);
  const lines = [["rank", "run", "status", ...hyper.map(snake), "test_set", ...RESULT_COLUMNS.map(snake)].join(",")];
  for (const r of rows) {
    const cells = [String(r.rank), quote(r.run), r.status, ...hyper.map((k) => (r.hyperparameters[k] === null || r.hyperparameters[k] === undefined ? "" : quote(String(r.hyperparameters[k])))), quote(r.testSet)];
    for (const k of RESULT_COLUMNS) cells.push(r[k] === null ? "" : String(r[k]));
    lines.push(cells.join(","));
  }
  return lines.join("\n") + "\n";
}
