/**
 * Reading a run folder back: config.json (the resolved options), loss.csv, epochs.csv, and, for a
 * completed run, summary.json (the `--json` summary line, wall time included) or model.json. A
 * folder whose run was interrupted has no model.json: it still reads, marked incomplete, with
 * whatever its CSVs hold.
 */
import { promises as fs } from "node:fs";
import { z } from "zod";
import { FileFormatError } from "../errors.js";
import { readJsonFile } from "../io/files.js";
import { itersPerEpoch, trainedCount } from "../train/plan.js";
import { CSV_HEADERS } from "../run/csv.js";
import { runFile } from "../run/layout.js";

export interface LossPoint {
  iteration: number;
  loss: number;
}

export interface EpochPoint {
  /** Index of the evaluation (0, 1, 2, …). */
  evaluation: number;
  /** Epochs completed when it was taken, fractional: (iteration + 1) / iterations per epoch. */
  epoch: number;
  iteration: number;
  trainAccuracy: number;
  testAccuracy: number;
  elapsedS: number;
}

/** What a completed run records about itself (summary.json is the `--json` line of mnist-train). */
export interface RunSummary {
  iterations: number;
  finalLoss: number | null;
  trainAccuracy: number | null;
  testAccuracy: number | null;
  /** The held-out validation accuracy (`--val-size`); absent or null without a validation set. */
  valAccuracy?: number | null;
  /** Set when --early-stop ended the run before its last iteration. */
  earlyStopped?: { iteration: number; bestIteration: number; bestValAccuracy: number };
  /** null when only model.json is there (runs written before summary.json existed). */
  wallTimeS: number | null;
  /** Epochs that ran, fractional (absent in runs written before it was recorded). */
  epochs?: number;
}

export interface RunData {
  dir: string;
  /** config.json: the resolved options (hyperparameters, seed, limits, data source). */
  config: Record<string, unknown>;
  loss: LossPoint[];
  epochs: EpochPoint[];
  /** Iterations per epoch: as recorded in epochs.csv, else (older run folders) from config.json by the trainer's rule. */
  itersPerEpoch: number;
  /** model.json was written: training ran to the end. */
  complete: boolean;
  /** For a complete run, its recorded results; for an incomplete one, the last CSV rows. */
  summary: RunSummary;
}

/** The summary.json / `--json` line mnist-train writes at the end of a run. */
export const SummarySchema = z.object({
  iterations: z.number().int().min(0),
  finalLoss: z.number().nullable(),
  trainAccuracy: z.number().nullable(),
  testAccuracy: z.number().nullable(),
  valAccuracy: z.number().nullable().optional(),
  earlyStopped: z.object({ iteration: z.number(), bestIteration: z.number(), bestValAccuracy: z.number() }).optional(),
  wallTimeS: z.number().nullable(),
  epochs: z.number().optional(),
});

const ModelTrainingSchema = z.object({
  training: z.object({ iterations: z.number(), finalLoss: z.number().nullable(), trainAccuracy: z.number().nullable(), testAccuracy: z.number().nullable() }),
});

/** Is `dir` a run folder (has config.json or loss.csv)? */
export async function isRunDir(dir: string): Promise<boolean> {
  for (const f of ["config", "loss"] as const) {
    if (await exists(runFile(dir, f))) return true;
  }
  return false;
}

export async function readRun(dir: string): Promise<RunData> {
  const config = await readJson(runFile(dir, "config"), z.record(z.string(), z.unknown()));
  const loss = parseCsv(await readText(runFile(dir, "loss")), runFile(dir, "loss"), ["iteration", "loss"]).map(
    ([iteration, l]) => ({ iteration, loss: l }),
  );
  const epochsFile = runFile(dir, "epochs");
  const epochsText = await readText(epochsFile);
  let epochs: EpochPoint[];
  let itersPerEpoch: number;
  if (epochsText.startsWith(EPOCHS_HEADER.join(",") + "\n") || !epochsText.startsWith(OLD_EPOCHS_HEADER.join(","))) {
    epochs = parseCsv(epochsText, epochsFile, EPOCHS_HEADER).map(([evaluation, epoch, iteration, trainAccuracy, testAccuracy, elapsedS]) => ({
      evaluation,
      epoch,
      iteration,
      trainAccuracy,
      testAccuracy,
      elapsedS,
    }));
    const first = epochs[0];
    itersPerEpoch = first && first.epoch > 0 ? Math.round((first.iteration + 1) / first.epoch) : configItersPerEpoch(config);
  } else {
    // Run folders written before epochs.csv recorded epochs: its first column was the evaluation index.
    itersPerEpoch = configItersPerEpoch(config);
    epochs = parseCsv(epochsText, epochsFile, OLD_EPOCHS_HEADER).map(([evaluation, iteration, trainAccuracy, testAccuracy, elapsedS]) => ({
      evaluation,
      epoch: (iteration + 1) / itersPerEpoch,
      iteration,
      trainAccuracy,
      testAccuracy,
      elapsedS,
    }));
  }
  const complete = await exists(runFile(dir, "model"));
  // val.csv (evaluation,epoch,iteration,val_acc; before: epoch,iteration,val_acc) is there when the run held out a validation set
  const valFile = runFile(dir, "val");
  let lastVal: number | null = null;
  if (await exists(valFile)) {
    const text = await readText(valFile);
    const header = text.startsWith(OLD_VAL_HEADER.join(",") + "\n") ? OLD_VAL_HEADER : VAL_HEADER;
    lastVal = parseCsv(text, valFile, header).at(-1)?.at(-1) ?? null;
  }
  let summary: RunSummary;
  if (complete && (await exists(runFile(dir, "summary")))) {
    const s = await readJson(runFile(dir, "summary"), SummarySchema);
    summary = { ...s, valAccuracy: s.valAccuracy ?? lastVal };
  } else if (complete) {
    const { training } = await readJson(runFile(dir, "model"), ModelTrainingSchema);
    summary = { ...training, valAccuracy: lastVal, wallTimeS: null };
  } else {
    const last = epochs.at(-1);
    summary = {
      iterations: loss.length,
      finalLoss: loss.at(-1)?.loss ?? null,
      trainAccuracy: last?.trainAccuracy ?? null,
      testAccuracy: last?.testAccuracy ?? null,
      valAccuracy: lastVal,
      wallTimeS: last?.elapsedS ?? null,
    };
  }
  summary.epochs ??= summary.iterations / itersPerEpoch;
  return { dir, config, loss, epochs, itersPerEpoch, complete, summary };
}

const EPOCHS_HEADER = CSV_HEADERS.epochs.split(",");
const VAL_HEADER = CSV_HEADERS.val.split(",");
const OLD_EPOCHS_HEADER = ["epoch", "iteration", "train_acc", "test_acc", "elapsed_s"];
const OLD_VAL_HEADER = ["epoch", "iteration", "val_acc"];

/** A run's epoch length from its config.json (the full 60,000-image training set unless limited). */
function configItersPerEpoch(config: Record<string, unknown>): number {
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
  const trained = trainedCount({ trainLimit: num(config.trainLimit), valSize: num(config.valSize) }, 60_000);
  return itersPerEpoch(Math.max(trained, 1), num(config.batchSize) ?? 100);
}

/** Rows of numbers under an expected header. A trailing partial line (a run still writing) is dropped. */
export function parseCsv(text: string, file: string, header: string[]): number[][] {
  const lines = text.split("\n");
  if (lines[0].trim() !== header.join(",")) throw new FileFormatError(file, `expected the header "${header.join(",")}"`);
  const rows: number[][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    // The last line without its newline may be half-written by a run still in progress.
    if (i === lines.length - 1 && !text.endsWith("\n")) break;
    const cells = line.split(",");
    if (cells.length !== header.length) throw new FileFormatError(file, `line ${i + 1} has ${cells.length} fields, expected ${header.length}`);
    // "NaN" (a diverged loss) parses to NaN and is kept: the curves show where it stops.
    rows.push(cells.map(Number));
  }
  return rows;
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

/** A CSV longer than this is refused rather than read (a run of 10 million iterations writes about 300 MB). */
const MAX_CSV_BYTES = 400 * 1024 * 1024;

async function readText(file: string): Promise<string> {
  try {
    // The type first: a FIFO or device would block the read forever (or never end).
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw new FileFormatError(file, "is not a regular file");
    if (stat.size > MAX_CSV_BYTES) throw new FileFormatError(file, `is ${stat.size} bytes, more than the ${MAX_CSV_BYTES} read`);
    return await fs.readFile(file, "utf8");
  } catch (err) {
    if (err instanceof FileFormatError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(file, code === "ENOENT" ? "no such file" : `cannot read (${code})`);
  }
}

/** model.json can be large (float64 weights); config.json and summary.json are small. */
const MAX_JSON_BYTES = 256 * 1024 * 1024;

function readJson<S extends z.ZodType>(file: string, schema: S): Promise<z.output<S>> {
  return readJsonFile(file, schema, MAX_JSON_BYTES);
}
