/**
 * The run folders under the board's root: found by walking the tree (sweep folders nest runs),
 * read with the same reader as mnist-report, and given a status. Ids are paths relative to the
 * root with "/" separators; every id from a request goes through resolveUnder before any file is
 * touched, so nothing outside the root is ever read.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { MnistError } from "../errors.js";
import { readRun, type RunData } from "../report/run-data.js";
import { RUN_FILES } from "../run/layout.js";

export type RunStatus = "running" | "finished" | "early-stopped" | "interrupted" | "diverged" | "malformed";

/** A run with no model.json whose CSVs changed this recently counts as still training (the trainer flushes at least every second). */
export const RUNNING_WINDOW_MS = 20_000;
/** Folders deeper than this under the root are not searched (sweeps of sweeps are two or three deep). */
const MAX_DEPTH = 8;
/** Bounds the work of one listing on a huge or hostile tree. */
const MAX_RUNS = 5000;
/** Options that say where data came from, not how the model was trained: never table columns. */
const NOT_HYPERPARAMETERS = new Set(["dataSource", "dataDir"]);
/** The files whose size and time say that a run changed. */
const WATCHED_FILES = [RUN_FILES.config, RUN_FILES.loss, RUN_FILES.epochs, RUN_FILES.val, RUN_FILES.model, RUN_FILES.summary, RUN_FILES.checkpoint];

export interface RunEntry {
  id: string;
  dir: string;
  status: RunStatus;
  /** Why the folder could not be read (status "malformed"). */
  error?: string;
  run?: RunData;
  /** summary.json's earlyStopped record, when the run stopped early. */
  earlyStopped?: unknown;
}

export interface RunRow {
  id: string;
  status: RunStatus;
  error?: string;
  config: Record<string, unknown>;
  iterations: number | null;
  finalLoss: number | null;
  trainAccuracy: number | null;
  testAccuracy: number | null;
  valAccuracy: number | null;
  bestTestAccuracy: number | null;
  wallTimeS: number | null;
  hasModel: boolean;
}

/** Real path of `rel` under `root`, or null when it is not a plain relative path that stays inside (symlinks included). */
export async function resolveUnder(root: string, rel: string): Promise<string | null> {
  if (rel.includes("\0") || path.isAbsolute(rel) || /^[a-zA-Z]:/.test(rel)) return null;
  const segments = rel.split(/[\\/]+/).filter((s) => s !== "" && s !== ".");
  if (segments.some((s) => s === "..")) return null;
  const realRoot = await fs.realpath(root);
  const real = await fs.realpath(path.join(realRoot, ...segments)).catch(() => null);
  if (real === null) return null;
  return real === realRoot || real.startsWith(realRoot + path.sep) ? real : null;
}

/** The folder of a run id (no checks: ids come from findRunDirs or have passed resolveUnder). */
export function runDir(root: string, id: string): string {
  return id === "." ? root : path.join(root, ...id.split("/"));
}

/** Every run folder under root (root itself included), sorted by id; a run folder's own subfolders are not searched. */
export async function findRunDirs(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
    if (found.length >= MAX_RUNS) return;
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    const names = new Set(entries.map((e) => e.name));
    if (names.has("config.json") || names.has("loss.csv")) {
      found.push(rel || ".");
      return;
    }
    if (depth >= MAX_DEPTH) return;
    // Symbolic links are not followed: they could lead out of the root or into a loop.
    const subdirs = entries.filter((e) => e.isDirectory() && !e.name.startsWith(".")).map((e) => e.name).sort();
    for (const name of subdirs) await walk(path.join(dir, name), rel ? `${rel}/${name}` : name, depth + 1);
  };
  await walk(root, "", 0);
  return found.sort();
}

export async function readEntry(root: string, id: string, now = Date.now()): Promise<RunEntry> {
  const dir = runDir(root, id);
  const outside = await linkOutside(root, dir);
  if (outside) return { id, dir, status: "malformed", error: `${id}/${outside}: leads outside the board's folder (a symbolic link); not read` };
  let run: RunData;
  try {
    run = await readRun(dir);
  } catch (err) {
    if (!(err instanceof MnistError)) throw err;
    return { id, dir, status: "malformed", error: err.message.replace(root + path.sep, "") };
  }
  let earlyStopped: unknown;
  if (run.complete) {
    const summary = await fs.readFile(path.join(dir, RUN_FILES.summary), "utf8").catch(() => null);
    try {
      earlyStopped = summary ? (JSON.parse(summary) as { earlyStopped?: unknown }).earlyStopped : undefined;
    } catch {
      // readRun has validated summary.json already; a file replaced since is read again next time
    }
  }
  const status = await statusOf(dir, run, earlyStopped, now);
  return { id, dir, status, run, ...(earlyStopped ? { earlyStopped } : {}) };
}

/** The first of a run's files that is a link to something outside the root, if any. */
async function linkOutside(root: string, dir: string): Promise<string | null> {
  const realRoot = await fs.realpath(root);
  for (const f of WATCHED_FILES) {
    const real = await fs.realpath(path.join(dir, f)).catch(() => null);
    if (real !== null && !real.startsWith(realRoot + path.sep)) return f;
  }
  return null;
}

async function statusOf(dir: string, run: RunData, earlyStopped: unknown, now: number): Promise<RunStatus> {
  if (run.complete) return earlyStopped ? "early-stopped" : "finished";
  const last = run.loss.at(-1);
  if (last && !Number.isFinite(last.loss)) return "diverged";
  const mtime = async (f: string) => (await fs.stat(path.join(dir, f)).catch(() => null))?.mtimeMs ?? 0;
  const written = Math.max(await mtime("loss.csv"), await mtime("epochs.csv"));
  // An interruption writes checkpoint.json after flushing the CSVs; a run still going appends to them again within a second.
  const checkpoint = await mtime("checkpoint.json");
  if (now - written < RUNNING_WINDOW_MS && checkpoint < written) return "running";
  return "interrupted";
}

export function toRow(e: RunEntry): RunRow {
  const run = e.run;
  const best = run && run.epochs.length > 0 ? Math.max(...run.epochs.map((p) => p.testAccuracy)) : null;
  return {
    id: e.id,
    status: e.status,
    ...(e.error ? { error: e.error } : {}),
    config: run?.config ?? {},
    iterations: run?.summary.iterations ?? null,
    finalLoss: finiteOrNull(run?.summary.finalLoss),
    trainAccuracy: run?.summary.trainAccuracy ?? null,
    testAccuracy: run?.summary.testAccuracy ?? null,
    valAccuracy: run?.summary.valAccuracy ?? null,
    bestTestAccuracy: best,
    wallTimeS: run?.summary.wallTimeS ?? null,
    hasModel: run?.complete ?? false,
  };
}

/** The config keys whose values are not the same in every readable run: the columns worth showing. */
export function differingKeys(rows: RunRow[]): string[] {
  const readable = rows.filter((r) => r.status !== "malformed");
  const keys = new Set<string>();
  for (const r of readable) for (const k of Object.keys(r.config)) if (!NOT_HYPERPARAMETERS.has(k)) keys.add(k);
  const differing = [...keys].filter((k) => new Set(readable.map((r) => JSON.stringify(r.config[k] ?? null))).size > 1);
  // The book's main knobs first, the rest alphabetically.
  const first = ["lr", "hiddenSize", "batchSize", "iters", "epochs", "optimizer", "activation", "seed"];
  return differing.sort((a, b) => rank(a, first) - rank(b, first) || a.localeCompare(b));
}

/**
 * A fingerprint of a run's files (size and time) and of whether it was written to recently (the
 * "running" window), from stat calls alone: when it changes, watchers are told.
 */
export async function runSignature(dir: string, now = Date.now()): Promise<string> {
  const parts: string[] = [];
  let written = 0;
  for (const f of WATCHED_FILES) {
    const s = await fs.stat(path.join(dir, f)).catch(() => null);
    parts.push(s ? `${s.size}:${s.mtimeMs}` : "-");
    if (s && (f === "loss.csv" || f === "epochs.csv")) written = Math.max(written, s.mtimeMs);
  }
  parts.push(now - written < RUNNING_WINDOW_MS ? "recent" : "old");
  return parts.join("|");
}

function rank(key: string, first: string[]): number {
  const i = first.indexOf(key);
  return i < 0 ? first.length : i;
}

function finiteOrNull(v: number | null | undefined): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}
