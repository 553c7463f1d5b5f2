/**
 * mnist-train's options: the hyperparameter schema plus where the data comes from. The same
 * schema validates the flags, a `--config` file and the config.json a run writes (which can be fed
 * back with --config to repeat the run).
 */
import { z } from "zod";
import { UsageError } from "../errors.js";
import { readJsonFile } from "../io/files.js";
import { describeZodIssue, kebab } from "../io/zod-message.js";
import { DATA_SOURCES } from "../data/mnist.js";
import { checkLayersInput, HyperparametersSchema, int, NOT_WITH_LAYERS } from "../train/hyperparameters.js";

export const TrainOptionsSchema = HyperparametersSchema.extend({
  dataSource: z.enum(DATA_SOURCES as ["bundled", "download"], { error: `must be ${DATA_SOURCES.join(" or ")}` }).default("bundled"),
  dataDir: z.string({ error: "must be a folder path" }).min(1, { error: "must be a folder path" }).optional(),
  /** Write checkpoint.json every N iterations (does not change the results; not a hyperparameter). */
  checkpointEvery: int(1, 1e9).optional(),
  /**
   * Threads for the accuracy passes, the loss pass and the numerical gradient, the main one
   * included (default: every core). Not a hyperparameter: results are the same for any value, so
   * the model does not record it.
   */
  threads: int(1, 256).optional(),
});
export type TrainOptions = z.output<typeof TrainOptionsSchema>;

/** The schema's defaults, for --help. */
export const TRAIN_DEFAULTS = TrainOptionsSchema.parse({});

/** Keys that take numbers, so flag strings can be converted before validation. */
const NUMERIC_KEYS = new Set([
  "iters", "batchSize", "lr", "hiddenSize", "weightInitStd", "seed", "evalEvery", "trainLimit", "testLimit", "limit", "checkpointEvery", "threads",
  "momentum", "rmsDecay", "beta1", "beta2", "adadeltaRho", "weightDecay", "dropout", "epochs", "lrStepEpochs", "lrGamma", "valSize", "earlyStop",
  "augmentShift", "augmentRotate", "augmentScale",
]);
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Flag strings → typed values (numbers only when the text is a plain decimal number, so "1e-1" is
 * 0.1 but "0x10", "" and "abc" stay strings and fail validation with their text quoted).
 */
export function flagValues(flags: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    // --hidden-size 100,100: one hidden layer per number
    if (key === "hiddenSize" && typeof value === "string" && value.includes(",")) {
      out[key] = value.split(",").map((v) => (NUMBER_TEXT.test(v.trim()) ? Number(v) : v));
      continue;
    }
    out[key] = NUMERIC_KEYS.has(key) && typeof value === "string" && NUMBER_TEXT.test(value.trim()) ? Number(value) : value;
  }
  return out;
}

/** The run's length, given one of two ways. */
const LENGTH = ["epochs", "iters"] as const;

/**
 * Resolve options: schema defaults < config file < flags. The run's length and its net are each
 * one setting that can be given two ways: a flag for one way replaces the file's setting, whichever
 * way the file gives it (--iters its "epochs", --layers its "hiddenSize"). A shorthand flag
 * (--hidden-size, --activation, --dropout) cannot edit a file's layer list: that is refused.
 */
export async function resolveTrainOptions(flags: Record<string, unknown>, configFile?: string): Promise<TrainOptions> {
  const fromFile = configFile ? await readJsonFile(configFile, TrainOptionsSchema.partial(), 1024 * 1024, (f, d) => new UsageError(`${f}: ${d}`)) : {};
  const given = flagValues(flags);
  // the keys the file itself gives (its parsed form has every default filled in)
  const fileKeys = configFile ? stripUndefined(await readJsonFile(configFile, z.record(z.string(), z.unknown()), 1024 * 1024, (f, d) => new UsageError(`${f}: ${d}`))) : {};
  if (configFile) checkLayersInput(fileKeys, "key", `${configFile}: `);
  checkLayersInput(given, "flag");
  const file = stripUndefined(fromFile);
  if (LENGTH.some((k) => given[k] !== undefined)) for (const k of LENGTH) delete file[k];
  if (given.layers !== undefined) for (const k of NOT_WITH_LAYERS) delete file[k];
  else if (fileKeys.layers !== undefined) {
    const k = NOT_WITH_LAYERS.find((key) => given[key] !== undefined);
    if (k) throw new UsageError(`--${kebab(k)}: ${configFile} declares the whole net as "layers"; change it with --layers`);
  }
  const parsed = TrainOptionsSchema.safeParse({ ...file, ...given });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // A bad value here came from a flag (the file was valid on its own).
    throw new UsageError(describeZodIssue(issue, flags, "flag"));
  }
  return parsed.data;
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
