/**
 * One point of a sweep: what to do with its run folder given the settings the sweep asks for.
 * A folder is reused only when its config.json records exactly those settings; otherwise the
 * sweep stops with the differences, or (by choice) trains the point into a new folder beside it.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { FileFormatError, MnistError, UsageError } from "../errors.js";
import { parseJsonText } from "../io/files.js";
import { kebab } from "../io/zod-message.js";
import { buildProgram } from "./train.js";
import { resolveSettings } from "../train/plan.js";
import { resolveTrainOptions, TrainOptionsSchema, type TrainOptions } from "./train-options.js";
import { parseCsv } from "../report/run-data.js";

/** Both data sources hold the same pinned MNIST files, so the training split is always this size. */
const MNIST_TRAIN_COUNT = 60_000;

/**
 * Recorded options that do not change a run's results: the thread count (never recorded), how
 * often checkpoints are written, and where the download cache lives.
 */
const NOT_COMPARED = new Set(["threads", "checkpointEvery", "dataDir"]);

/** Flags the sweep itself sets for each point; in the requested settings they are a mistake. */
const SWEEP_OWNED = ["out", "force", "resume", "json", "quiet"];

export type PointAction = "fresh" | "resume" | "done" | "diverged";
export type OnMismatch = "error" | "new";

export interface PointPlan {
  action: PointAction;
  /** The folder to use: the requested one, or with ON_MISMATCH=new, the first free or matching `DIR-k`. */
  dir: string;
}

export interface RequestedSettings {
  /** The resolved options, as mnist-train would write them to config.json. */
  options: Record<string, unknown>;
  /** Without --seed a run draws its own, so any recorded seed satisfies the request. */
  seedGiven: boolean;
}

/** mnist-train flags → the options a fresh run with them would record (same parser, same defaults). */
export async function requestedSettings(trainArgs: string[]): Promise<RequestedSettings> {
  const program = buildProgram();
  program.parse(trainArgs, { from: "user" });
  const flags = program.opts() as Record<string, unknown>;
  const owned = SWEEP_OWNED.filter((k) => flags[k] !== undefined);
  if (owned.length > 0) throw new UsageError(`the sweep sets ${owned.map((k) => `--${k}`).join(", ")} for each point; leave it out of TRAIN_FLAGS`);
  const hyperFlags = { ...flags };
  for (const key of ["json", "quiet", "color", "config", "out", "force", "debug", "resume"]) delete hyperFlags[key];
  const options = await resolveTrainOptions(hyperFlags, flags.config as string | undefined);
  const seedGiven = options.seed !== undefined;
  // The seed does not enter the derived values (eval interval, iterations from --epochs).
  const resolved: Record<string, unknown> = { ...resolveSettings({ ...options, seed: options.seed ?? 0 }, MNIST_TRAIN_COUNT) };
  if (!seedGiven) delete resolved.seed;
  return { options: resolved, seedGiven };
}

/** The settings that differ, as `--flag: recorded X, requested Y`; empty when the run is the one asked for. */
export function settingDifferences(recorded: Record<string, unknown>, requested: RequestedSettings): string[] {
  const keys = [...new Set([...Object.keys(recorded), ...Object.keys(requested.options)])].sort();
  const show = (v: unknown) => (v === undefined ? "unset" : Array.isArray(v) ? v.join(",") : String(v));
  const out: string[] = [];
  for (const key of keys) {
    if (NOT_COMPARED.has(key) || (key === "seed" && !requested.seedGiven)) continue;
    const a = recorded[key];
    const b = requested.options[key];
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`--${kebab(key)}: recorded ${show(a)}, requested ${show(b)}`);
  }
  return out;
}

type FolderState =
  | { kind: "absent" }
  | { kind: "foreign"; why: string }
  | { kind: "run"; differences: string[]; state: "complete" | "resumable" | "diverged" | "incomplete" };

async function inspect(dir: string, requested: RequestedSettings): Promise<FolderState> {
  const stat = await fs.stat(dir).catch(() => null);
  if (!stat) return { kind: "absent" };
  if (!stat.isDirectory()) return { kind: "foreign", why: "not a folder" };
  const entries = (await fs.readdir(dir)).filter((e) => !e.startsWith(".write-test-"));
  if (entries.length === 0) return { kind: "absent" };
  if (!entries.includes("config.json")) return { kind: "foreign", why: "not a run folder (no config.json)" };
  const configFile = path.join(dir, "config.json");
  const text = await fs.readFile(configFile, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new FileFormatError(configFile, `cannot read (${err.code ?? err.message})`);
  });
  // Defaults fill keys an older mnist-ts did not record, so they do not count as differences.
  const recorded = parseJsonText(text, configFile, TrainOptionsSchema) as TrainOptions & Record<string, unknown>;
  const differences = settingDifferences(recorded, requested);
  const has = (f: string) => entries.includes(f);
  let state: "complete" | "resumable" | "diverged" | "incomplete" = "incomplete";
  if (has("model.json")) state = "complete";
  else if (has("checkpoint.json")) state = "resumable";
  else if (has("loss.csv") && (await lastLossDiverged(path.join(dir, "loss.csv")))) state = "diverged";
  return { kind: "run", differences, state };
}

async function lastLossDiverged(file: string): Promise<boolean> {
  const rows = parseCsv(await fs.readFile(file, "utf8"), file, ["iteration", "loss"]);
  const last = rows.at(-1);
  return last !== undefined && !Number.isFinite(last[1]);
}

/**
 * Decide a point: `done` (a complete run with these settings), `diverged` (it ran with these
 * settings and diverged: rerunning the same seed would again), `resume` (interrupted, with a
 * checkpoint), or `fresh` (nothing usable yet). A folder with other settings is an error, or with
 * `onMismatch: "new"` the point moves on to `DIR-2`, `DIR-3`, … (the first free or matching one).
 */
export async function planPoint(dir: string, requested: RequestedSettings, onMismatch: OnMismatch = "error"): Promise<PointPlan> {
  for (let k = 1; k <= 1000; k++) {
    const candidate = k === 1 ? dir : `${dir}-${k}`;
    const folder = await inspect(candidate, requested);
    if (folder.kind === "absent") return { action: "fresh", dir: candidate };
    if (folder.kind === "foreign") {
      if (onMismatch === "new") continue;
      throw new MnistError(`${candidate}: ${folder.why}; move it away, or set ON_MISMATCH=new to train this point into a new folder`);
    }
    if (folder.differences.length > 0) {
      if (onMismatch === "new") continue;
      throw new MnistError(
        `${candidate}: holds a run with other settings (${folder.differences.join("; ")}); ` +
          `remove it, or set ON_MISMATCH=new to train this point into a new folder beside it`,
      );
    }
    const action = { complete: "done", resumable: "resume", diverged: "diverged", incomplete: "fresh" } as const;
    return { action: action[folder.state], dir: candidate };
  }
  throw new MnistError(`${dir}: 1000 folders ${dir}-k already hold other runs; choose another SWEEP_DIR`);
}
