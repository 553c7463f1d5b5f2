/**
 * The hyperparameters of a training run: ONE zod schema for the command-line flags, the
 * `--config` JSON files and what model.json records. Defaults are the book's (ch04).
 */
import { z } from "zod";
import { UsageError } from "../errors.js";
import { kebab } from "../io/zod-message.js";
import { checkLayerList, formatLayers, LayerSpecError } from "../reference/layer-spec.js";
import { ACTIVATIONS, INITS } from "../reference/multi-layer-net.js";
import { OPTIMIZERS } from "../reference/optimizers.js";
import { DTYPES } from "../engine/wasm.js";
import { LR_SCHEDULES } from "./schedule.js";

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

export { DTYPES, type Dtype } from "../engine/wasm.js";

/** The most iterations a run may have (also through --epochs). */
export const ITERS_MAX = 1e9;

/** The most layers a --layers net may have (a model.json of it stays a small file to check). */
export const MAX_LAYERS = 64;

/**
 * `layers`: the text of the --layers grammar (src/reference/layer-spec.ts) or the typed list,
 * validated against the 1×28×28 input and stored as its canonical text (formatLayers), which
 * reads back to the same list. A bad list is one line naming the layer.
 */
const layersField = z
  .union([z.string(), z.array(z.unknown())], { error: 'must be a layer list such as "conv 30 5x5, relu, maxpool 2, affine 10"' })
  .transform((value, ctx) => {
    try {
      const { layers } = checkLayerList(value);
      if (layers.length > MAX_LAYERS) {
        ctx.addIssue({ code: "custom", message: `: ${layers.length} layers, more than the ${MAX_LAYERS} a net may have`, input: undefined });
        return z.NEVER;
      }
      return formatLayers(layers);
    } catch (err) {
      if (!(err instanceof LayerSpecError)) throw err;
      // ": …" — describeZodIssue puts it right after the flag or key: `--layers: layer 2 "foo": …`
      ctx.addIssue({ code: "custom", message: `: ${err.message}`, input: undefined });
      return z.NEVER;
    }
  });

export const HyperparametersSchema = z.strictObject({
  /** SGD updates (the book's iters_num). */
  iters: int(1, ITERS_MAX).default(10000),
  batchSize: int(1, 1e6).default(100),
  lr: positive().default(0.1),
  /** Hidden units: one number (the book's one hidden layer) or a list, one per hidden layer (at most 8). */
  hiddenSize: z
    .union([int(1, 100_000), z.array(int(1, 100_000)).min(1, { error: "must list at least one layer" }).max(8, { error: "must list at most 8 layers" })], {
      error: "must be a positive whole number or a list of them (e.g. 100,100)",
    })
    .default(50),
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

  // Beyond chapter 4 (the book's ch06 and common practice). The defaults are the book's ch04 run.
  activation: z.enum(ACTIVATIONS, { error: `must be ${ACTIVATIONS.join(", ")}` }).default("sigmoid"),
  /** std: Gaussian with weightInitStd; xavier: std √(1/fan-in); he: √(2/fan-in). */
  init: z.enum(INITS, { error: `must be ${INITS.join(", ")}` }).default("std"),
  optimizer: z.enum(OPTIMIZERS, { error: `must be ${OPTIMIZERS.join(", ")}` }).default("sgd"),
  /** Momentum / Nesterov μ (the book's 0.9). */
  momentum: z.number({ error: "must be a number" }).min(0, { error: "must be in [0, 1)" }).lt(1, { error: "must be in [0, 1)" }).default(0.9),
  /** RMSprop decay ρ (the book's 0.99). */
  rmsDecay: z.number({ error: "must be a number" }).min(0, { error: "must be in [0, 1)" }).lt(1, { error: "must be in [0, 1)" }).default(0.99),
  /** Adam β1, β2 (the book's 0.9, 0.999). */
  beta1: z.number({ error: "must be a number" }).min(0, { error: "must be in [0, 1)" }).lt(1, { error: "must be in [0, 1)" }).default(0.9),
  beta2: z.number({ error: "must be a number" }).min(0, { error: "must be in [0, 1)" }).lt(1, { error: "must be in [0, 1)" }).default(0.999),
  /** Adadelta ρ (PyTorch's 0.9; its ε stays PyTorch's 1e−6). */
  adadeltaRho: z.number({ error: "must be a number" }).min(0, { error: "must be in [0, 1)" }).lt(1, { error: "must be in [0, 1)" }).default(0.9),
  /** λ of the L2 penalty ½ λ Σ W² (weights, not biases). */
  weightDecay: z.number({ error: "must be a number" }).nonnegative({ error: "must be zero or positive" }).finite({ error: "must be finite" }).default(0),
  /** Dropout probability of the hidden units while training (inverted dropout). */
  dropout: z.number({ error: "must be a number" }).min(0, { error: "must be in [0, 1)" }).lt(1, { error: "must be in [0, 1)" }).default(0),
  /**
   * Data augmentation: each training batch is replaced by copies of its images, each randomly
   * shifted, rotated and scaled within the bounds below (src/data/augment.ts), made per batch.
   * Evaluation, validation and test images are never augmented.
   */
  augment: z.boolean({ error: "must be true or false" }).default(false),
  /** --augment: the largest shift, whole pixels either way on each axis. */
  augmentShift: z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number of pixels" })
    .min(0, { error: "must be in [0, 27] pixels" })
    .max(27, { error: "must be in [0, 27] pixels" })
    .default(2),
  /** --augment: the largest rotation, degrees either way. */
  augmentRotate: z.number({ error: "must be a number" }).min(0, { error: "must be in [0, 180] degrees" }).max(180, { error: "must be in [0, 180] degrees" }).default(10),
  /** --augment: the largest relative change of size either way (0.1: 90 % to 110 %). */
  augmentScale: z.number({ error: "must be a number" }).min(0, { error: "must be in [0, 1)" }).lt(1, { error: "must be in [0, 1)" }).default(0.1),
  /** Epochs to train instead of `iters`: iters = epochs × max(floor(train size / batch size), 1). */
  epochs: int(1, 1e6).optional(),
  /** replacement: the book's batches drawn with replacement; shuffle: a new permutation each epoch. */
  sampling: z.enum(["replacement", "shuffle"], { error: "must be replacement or shuffle" }).default("replacement"),
  lrSchedule: z.enum(LR_SCHEDULES, { error: `must be ${LR_SCHEDULES.join(", ")}` }).default("constant"),
  /** --lr-schedule step: multiply lr by lrGamma every lrStepEpochs epochs. */
  lrStepEpochs: int(1, 1e6).default(10),
  lrGamma: positive().default(0.1),
  /** Hold out the last N training images (after trainLimit) as a validation set; never the test set. */
  valSize: int(1, 59_999).optional(),
  /**
   * The loss recorded per iteration. after: the book's, of the updated network on the same batch,
   * dropout off (one more forward pass). before: that of the forward pass that made the gradient
   * (the network before the update, dropout on): free, and what PyTorch's examples print.
   */
  lossPass: z.enum(["after", "before"], { error: "must be after or before" }).default("after"),
  /** Stop when validation accuracy has not improved for this many evaluations; restore the best weights. Needs valSize. */
  earlyStop: int(1, 1e6).optional(),
  /**
   * The whole network as a layer list (the book's ch05–ch08 nets: conv, maxpool, batchnorm, …), in
   * place of hiddenSize, activation and dropout, which then do not apply. Recorded as its canonical text.
   */
  layers: layersField.optional(),
});

/** The fully connected shorthand's settings: a `layers` list declares them itself. */
export const NOT_WITH_LAYERS = ["hiddenSize", "activation", "dropout"] as const;

/**
 * The rules between `layers` and the other settings, on the input as given (flags, a config file,
 * the library's object: before defaults fill anything in): a layer list cannot come with
 * hiddenSize, activation or dropout. `style` names the settings as flags
 * (`--hidden-size`) or keys (`"hiddenSize"`); `where` starts the message (e.g. "hyperparameters: ").
 */
export function checkLayersInput(input: Record<string, unknown>, style: "flag" | "key", where = ""): void {
  if (input.layers === undefined) return;
  const name = (k: string) => (style === "flag" ? `--${kebab(k)}` : `"${k}"`);
  const given = NOT_WITH_LAYERS.find((k) => input[k] !== undefined);
  if (given) throw new UsageError(`${where}${name("layers")} and ${name(given)} cannot both be given (the layer list declares the whole net)`);
}

/** The hyperparameters as a run records them: without the settings a `layers` list makes moot. */
export function recordedHyperparameters<T extends Partial<Hyperparameters>>(hp: T): T {
  if (hp.layers === undefined) return hp;
  const out: Record<string, unknown> = { ...hp };
  for (const k of NOT_WITH_LAYERS) delete out[k];
  return out as T;
}

/** The hidden layer sizes as a list. */
export function hiddenSizes(hp: { hiddenSize: number | number[] }): number[] {
  return typeof hp.hiddenSize === "number" ? [hp.hiddenSize] : [...hp.hiddenSize];
}

/**
 * True when the run is the book's network (one sigmoid hidden layer, std init, plain SGD, no decay,
 * no dropout): TwoLayerNet and its fast kernels. Anything else trains an MultiLayerNet, or with
 * `layers` a SequentialNet.
 */
export function isBookNet(hp: Partial<Hyperparameters> & { hiddenSize: number | number[] }): boolean {
  return (
    hp.layers === undefined &&
    hiddenSizes(hp).length === 1 &&
    (hp.activation ?? "sigmoid") === "sigmoid" &&
    (hp.init ?? "std") === "std" &&
    (hp.optimizer ?? "sgd") === "sgd" &&
    (hp.weightDecay ?? 0) === 0 &&
    (hp.dropout ?? 0) === 0
  );
}

export type HyperparametersInput = z.input<typeof HyperparametersSchema>;
export type Hyperparameters = z.output<typeof HyperparametersSchema>;
/** Hyperparameters once the run has fixed every choice (the seed is always known). */
export type ResolvedHyperparameters = Hyperparameters & { seed: number; evalEvery: number };
