/**
 * The hyperparameters of a training run: ONE zod schema for the command-line flags, the
 * `--config` JSON files and what model.json records. Defaults are the book's (ch04).
 */
import { z } from "zod";

/** A whole number in [min, max], with messages that read after a flag name: `--iters must be …`. */
export const int = (min: number, max: number) =>
  z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: min === 1 ? "must be a positive whole number" : `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

const positive = () =>
  z.number({ error: "must be a number" }).positive({ error: "must be a positive number" }).finite({ error: "must be finite" });

export const GRAD_MODES = ["analytic", "numerical"] as const;
export type GradMode = (typeof GRAD_MODES)[number];

export const DTYPES = ["float32", "float64"] as const;
export type Dtype = (typeof DTYPES)[number];

export const HyperparametersSchema = z.strictObject({
  /** SGD updates (the book's iters_num). */
  iters: int(1, 1e9).default(10000),
  batchSize: int(1, 1e6).default(100),
  lr: positive().default(0.1),
  hiddenSize: int(1, 100_000).default(50),
  grad: z.enum(GRAD_MODES, { error: `must be ${GRAD_MODES.join(" or ")}` }).default("analytic"),
  weightInitStd: z
    .number({ error: "must be a number" })
    .nonnegative({ error: "must be zero or positive" })
    .finite({ error: "must be finite" })
    .default(0.01),
  /** Seeds the weights and the minibatch draws; a random one is chosen (and recorded) when absent. */
  seed: int(0, 2 ** 32 - 1).optional(),
  /** Iterations between accuracy evaluations; default one epoch = max(floor(trainSize / batchSize), 1). */
  evalEvery: int(1, 1e9).optional(),
  /** Use only the first N training / test images. */
  trainLimit: int(1, 60_000).optional(),
  testLimit: int(1, 10_000).optional(),
  /**
   * Compute precision (the model is stored as float64 either way). float32 is the default: over
   * seeds 0, 1, 2 the book's job reaches the same test accuracy as float64 (see docs/performance.md);
   * float64 is the reference precision and gives bit for bit the reference kernels' run.
   */
  dtype: z.enum(DTYPES, { error: `must be ${DTYPES.join(" or ")}` }).default("float32"),
});

export type HyperparametersInput = z.input<typeof HyperparametersSchema>;
export type Hyperparameters = z.output<typeof HyperparametersSchema>;
/** Hyperparameters once the run has fixed every choice (the seed is always known). */
export type ResolvedHyperparameters = Hyperparameters & { seed: number; evalEvery: number };
