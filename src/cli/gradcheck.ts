/**
 * mnist-gradcheck: the book's gradient_check.py. On a real minibatch (the first --batch-size
 * training images by default, like x_train[:3]) and a freshly initialized network, compares the
 * numerical gradient (central differences, h = 1e-4, computed by the fast incremental method)
 * with back-propagation, per parameter tensor: mean and max |numerical − backprop| and the max
 * relative error |n − b| / max(|n|, |b|). Exits 1 when the max relative error exceeds --tolerance.
 * With --layers, the same for a layer net (SequentialNet): every conv, affine and batch-norm
 * parameter, the loss in training mode (dropout on with fixed masks, batch statistics).
 */
import { Chalk, supportsColor, type ChalkInstance } from "chalk";
import { z } from "zod";
import { CEE_DELTA, softmax } from "../book/functions.js";
import { Rng } from "../book/rng.js";
import { DATA_SOURCES, PIXEL_SCALE } from "../data/mnist.js";
import { loadForCommand } from "./data.js";
import { MnistError, UsageError } from "../errors.js";
import { describeZodIssue } from "../io/zod-message.js";
import { formatLayers, LayerSpecError, parseLayerList, type LayerSpec } from "../reference/layer-spec.js";
import { buildReferenceNet, paramShapes } from "../reference/net-from-spec.js";
import { fastNumericalGradient } from "../reference/numerical-gradient.js";
import type { SequentialNet } from "../reference/sequential-net.js";
import { PARAM_NAMES, TwoLayerNet, type Grads, type ParamName } from "../reference/two-layer-net.js";
import type { Command } from "commander";
import { dataDirOption, dataSourceOption, debugOption, EXIT, newProgram, noColorOption } from "./run-command.js";

const NAME = "mnist-gradcheck";

const num = () => z.number({ error: "must be a number" });
const whole = (min: number, max: number) =>
  num().int({ error: "must be a whole number" }).min(min, { error: min === 1 ? "must be a positive whole number" : `must be at least ${min}` }).max(max, { error: `must be at most ${max}` });

export const GradcheckOptionsSchema = z.strictObject({
  batchSize: whole(1, 10_000).default(3),
  hiddenSize: whole(1, 10_000).default(50),
  weightInitStd: num().nonnegative({ error: "must be zero or positive" }).finite({ error: "must be finite" }).default(0.01),
  seed: whole(0, 2 ** 32 - 1).default(0),
  /** First training image of the batch. */
  offset: whole(0, 59_999).default(0),
  tolerance: num().positive({ error: "must be a positive number" }).finite({ error: "must be finite" }).default(1e-2),
  /** A layer list (mnist-train's --layers) to check instead of the book's net. */
  layers: z.string().optional(),
  dataSource: z.enum(DATA_SOURCES as ["bundled", "download"], { error: `must be ${DATA_SOURCES.join(" or ")}` }).default("bundled"),
  dataDir: z.string().min(1).optional(),
});
export type GradcheckOptions = z.output<typeof GradcheckOptionsSchema>;

export interface TensorReport {
  shape: number[];
  /** mean |numerical − backprop| (what the book's gradient_check.py prints). */
  meanAbsDiff: number;
  maxAbsDiff: number;
  /** max over entries of |n − b| / max(|n|, |b|) (entries where both are 0 count as 0). */
  maxRelError: number;
  /** The same against the exact derivative of the book's loss −log(y + 1e-7) (no δ bias). */
  maxRelErrorSameLoss: number;
  /** max |numerical|, for scale. */
  maxAbs: number;
}

export interface GradcheckReport {
  /** The book's net (hiddenSize), or a layer net (layers: its list's canonical text). */
  network: { inputSize: number; hiddenSize?: number; layers?: string; outputSize: number; weightInitStd: number; seed: number };
  batch: { size: number; offset: number };
  h: number;
  numericalSeconds: number;
  /** One per parameter: W1, b1, … (and a layer net's gamma1, beta1, …). */
  tensors: Record<string, TensorReport>;
  maxRelError: number;
  tolerance: number;
  pass: boolean;
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The command line: its arguments and options (the docs reference is checked against them). */
export function buildProgram(): Command {
  return newProgram(NAME)
  .description("Gradient check (the book's gradient_check.py): numerical gradient vs back-propagation on a real MNIST minibatch.")
  .option("--batch-size <n>", "images in the minibatch (default 3)")
  .option("--offset <n>", "first training image of the minibatch (default 0: the book's x_train[:3])")
  .option("--hidden-size <n>", "hidden units (default 50)")
  .option("--layers <list>", 'check a layer net instead (mnist-train\'s --layers, e.g. "conv 4 3x3, relu, maxpool 2, affine 10")')
  .option("--weight-init-std <x>", "std of the Gaussian initial weights (default 0.01)")
  .option("--seed <n>", "seed of the initial weights (default 0)")
  .option("--tolerance <x>", "fail (exit 1) when the max relative error of any parameter exceeds this (default 1e-2)")
  .addOption(dataSourceOption())
  .addOption(dataDirOption())
  .option("--json", "print the report as one JSON line")
  .addOption(noColorOption())
  .addOption(debugOption())
      .helpOption("-h, --help");
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.parse(argv, { from: "user" });
  const flags = program.opts();
  const raw: Record<string, unknown> = {};
  for (const key of ["batchSize", "offset", "hiddenSize", "weightInitStd", "seed", "tolerance", "dataSource", "dataDir", "layers"]) {
    const v = flags[key];
    if (v === undefined) continue;
    raw[key] = !["dataSource", "dataDir", "layers"].includes(key) && typeof v === "string" && NUMERIC.test(v.trim()) ? Number(v) : v;
  }
  const parsed = GradcheckOptionsSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(describeZodIssue(parsed.error.issues[0], flags, "flag"));
  const o = parsed.data;
  if (o.layers !== undefined && raw.hiddenSize !== undefined) throw new UsageError("--layers and --hidden-size cannot both be given (the layer list declares the whole net)");
  // a bad list is refused (exit 2) before the data is read
  let specs: LayerSpec[] | undefined;
  try {
    specs = o.layers !== undefined ? parseLayerList(o.layers).layers : undefined;
  } catch (err) {
    if (err instanceof LayerSpecError) throw new UsageError(`--layers: ${err.message}`);
    throw err;
  }

  const data = await loadForCommand(o.dataSource, o.dataDir, (line) => process.stderr.write(line + "\n"));
  const D = data.train.rows * data.train.cols;
  if (o.offset + o.batchSize > data.train.count) {
    throw new UsageError(`--offset ${o.offset} + --batch-size ${o.batchSize} is past the ${data.train.count} training images`);
  }
  const bytes = data.train.images.subarray(o.offset * D, (o.offset + o.batchSize) * D);
  const x = Float64Array.from(bytes, (v) => PIXEL_SCALE[v]);
  const t = data.train.labels.slice(o.offset, o.offset + o.batchSize);
  const report = specs
    ? layerNetCheck(specs, x, t, o)
    : gradientCheck(new TwoLayerNet(D, o.hiddenSize, 10, { weightInitStd: o.weightInitStd, seed: o.seed }), x, t, o);
  if (flags.json) process.stdout.write(JSON.stringify(report) + "\n");
  else {
    const color = flags.color !== false && !process.env.NO_COLOR && process.stdout.isTTY === true;
    process.stdout.write(formatReport(report, new Chalk({ level: color && supportsColor ? supportsColor.level : 0 })));
  }
  if (!report.pass) {
    const names = Object.keys(report.tensors);
    const worst = names.find((k) => Number.isNaN(report.tensors[k].maxRelError)) ?? names.reduce((a, b) => (report.tensors[b].maxRelError > report.tensors[a].maxRelError ? b : a));
    if (Number.isNaN(report.maxRelError)) throw new MnistError(`max relative error is NaN (in ${worst}): the gradients are not finite numbers; try a smaller --weight-init-std`, EXIT.failure);
    throw new MnistError(`max relative error ${report.maxRelError.toExponential(2)} (in ${worst}) exceeds --tolerance ${o.tolerance}`, EXIT.failure);
  }
  return EXIT.ok;
}

export function gradientCheck(net: TwoLayerNet, x: Float64Array, t: Uint8Array, o: Pick<GradcheckOptions, "batchSize" | "offset" | "seed" | "weightInitStd" | "tolerance">): GradcheckReport {
  const t0 = performance.now();
  const numerical = fastNumericalGradient(net, x, t);
  const numericalSeconds = (performance.now() - t0) / 1000;
  const backprop = net.gradient(x, t);
  const sameLoss = bookLossGradient(net, x, t);
  const shapes: Record<ParamName, number[]> = {
    W1: [net.inputSize, net.hiddenSize], b1: [net.hiddenSize], W2: [net.hiddenSize, net.outputSize], b2: [net.outputSize],
  };
  const tensors = compareTensors(PARAM_NAMES, shapes, numerical, backprop, sameLoss);
  return finish({ inputSize: net.inputSize, hiddenSize: net.hiddenSize, outputSize: net.outputSize, weightInitStd: o.weightInitStd, seed: o.seed }, tensors, numericalSeconds, o);
}

/** Per tensor: the differences between the numerical gradient, back-propagation and the exact derivative of the δ-loss. */
function compareTensors(
  names: readonly string[],
  shapes: Record<string, number[]>,
  numerical: Record<string, Float64Array>,
  backprop: Record<string, Float64Array>,
  sameLoss: Record<string, Float64Array>,
): Record<string, TensorReport> {
  const tensors: Record<string, TensorReport> = {};
  for (const k of names) {
    const n = numerical[k], b = backprop[k], s = sameLoss[k];
    let sum = 0, maxAbsDiff = 0, maxRelError = 0, maxRelErrorSameLoss = 0, maxAbs = 0;
    for (let i = 0; i < n.length; i++) {
      const d = Math.abs(n[i] - b[i]);
      sum += d;
      maxAbsDiff = Math.max(maxAbsDiff, d);
      maxRelError = Math.max(maxRelError, relError(n[i], b[i]));
      maxRelErrorSameLoss = Math.max(maxRelErrorSameLoss, relError(n[i], s[i]));
      maxAbs = Math.max(maxAbs, Math.abs(n[i]));
    }
    tensors[k] = { shape: shapes[k], meanAbsDiff: sum / n.length, maxAbsDiff, maxRelError, maxRelErrorSameLoss, maxAbs };
  }
  return tensors;
}

function finish(
  network: GradcheckReport["network"],
  tensors: Record<string, TensorReport>,
  numericalSeconds: number,
  o: Pick<GradcheckOptions, "batchSize" | "offset" | "tolerance">,
): GradcheckReport {
  const maxRelError = Math.max(...Object.values(tensors).map((t) => t.maxRelError));
  return {
    network,
    batch: { size: o.batchSize, offset: o.offset },
    h: 1e-4,
    numericalSeconds,
    tensors,
    maxRelError,
    tolerance: o.tolerance,
    // NaN (gradients that overflowed) fails: it is no evidence that the two gradients agree
    pass: maxRelError <= o.tolerance,
  };
}

/**
 * A layer net (the --layers list, weights from the seed with std --weight-init-std, as mnist-train
 * draws them) on x [N × 784] = [N × 1 × 28 × 28]: its numerical gradient (the book's, every value
 * of every parameter: slow for big nets) against back-propagation, the loss in training mode with
 * the same dropout masks in every evaluation. Biases and batch norm's β are then drawn from
 * N(0, 0.1²) instead of starting at 0: on MNIST's blank margins a zero bias puts a ReLU exactly on
 * its kink, where the two one-sided derivatives differ and no gradient check can agree.
 */
export function layerNetCheck(specs: readonly LayerSpec[], x: Float64Array, t: Uint8Array, o: Pick<GradcheckOptions, "batchSize" | "offset" | "seed" | "weightInitStd" | "tolerance">): GradcheckReport {
  const rng = new Rng(o.seed);
  const net = buildReferenceNet(specs, rng, { init: "std", weightInitStd: o.weightInitStd });
  for (const [name, p] of Object.entries(net.params)) if (/^(b|beta)\d+$/.test(name)) rng.fillNormal(p, 0.1);
  const start = rng.getState();
  const t0 = performance.now();
  const numerical = net.numericalGradient(x, t);
  const numericalSeconds = (performance.now() - t0) / 1000;
  rng.setState(start); // the same dropout masks again (numericalGradient leaves it there too)
  const backprop = net.gradient(x, t);
  rng.setState(start);
  const sameLoss = layerNetBookLossGradient(net, x, t);
  const shapes = paramShapes(specs).params;
  const tensors = compareTensors(Object.keys(net.params), shapes, numerical, backprop, sameLoss);
  return finish({ inputSize: net.inputSize, layers: formatLayers(specs), outputSize: net.outputSize, weightInitStd: o.weightInitStd, seed: o.seed }, tensors, numericalSeconds, o);
}

/**
 * The exact derivative of the book's loss −(1/N) Σ log(y_t + δ) for a layer net: back-propagation
 * from the scores with each row's softmax gradient scaled by y_t / (y_t + δ) (one training-mode
 * pass; the caller resets the dropout generator so its masks are the other passes').
 */
function layerNetBookLossGradient(net: SequentialNet, x: Float64Array, t: Uint8Array): Record<string, Float64Array> {
  const { y: scores, shape } = net.forward(x, true);
  const [N, K] = shape;
  const y = softmax(scores, K);
  const d = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    const yt = y[n * K + t[n]];
    const c = yt / (yt + CEE_DELTA) / N;
    for (let k = 0; k < K; k++) d[n * K + k] = c * (y[n * K + k] - (k === t[n] ? 1 : 0));
  }
  return net.backward(d);
}

/**
 * Below this both gradients are rounding noise (the loss's last bits over 2h ≈ 1e−12): a gradient
 * that is zero by construction (a conv bias right before a batch norm, whose mean it cancels)
 * comes out as 1e−17 from back-propagation and 1e−12 from central differences.
 */
const NOISE = 1e-10;

function relError(a: number, b: number): number {
  const scale = Math.max(Math.abs(a), Math.abs(b));
  return scale < NOISE ? 0 : Math.abs(a - b) / scale;
}

/**
 * The exact derivative of the book's loss −(1/N) Σ log(y_t + δ): back-propagation differentiates
 * −log y_t; with δ, image n's gradient is scaled by c_n = y_t / (y_t + δ). Computed image by image.
 */
export function bookLossGradient(net: TwoLayerNet, x: Float64Array, t: Uint8Array): Grads {
  const N = t.length, D = net.inputSize, O = net.outputSize;
  const y = net.predict(x);
  const out: Grads = {
    W1: new Float64Array(net.params.W1.length), b1: new Float64Array(net.params.b1.length),
    W2: new Float64Array(net.params.W2.length), b2: new Float64Array(net.params.b2.length),
  };
  for (let n = 0; n < N; n++) {
    const g = net.gradient(x.subarray(n * D, (n + 1) * D), t.subarray(n, n + 1));
    const yt = y[n * O + t[n]];
    const c = yt / (yt + CEE_DELTA) / N;
    for (const k of PARAM_NAMES) for (let i = 0; i < out[k].length; i++) out[k][i] += c * g[k][i];
  }
  return out;
}

export function formatReport(r: GradcheckReport, c: ChalkInstance): string {
  const e = (v: number) => v.toExponential(2);
  const lines: string[] = [];
  const net = r.network.layers !== undefined ? `"${r.network.layers}"` : `${r.network.inputSize}-${r.network.hiddenSize}-${r.network.outputSize}`;
  const names = Object.keys(r.tensors);
  const w = Math.max(4, ...names.map((k) => k.length));
  lines.push(
    `${c.bold("gradient check")}  ${net} net (seed ${r.network.seed}, init std ${r.network.weightInitStd}), ` +
      `training images ${r.batch.offset}..${r.batch.offset + r.batch.size - 1}, h = ${r.h}; numerical gradient in ${r.numericalSeconds.toFixed(2)} s`,
  );
  lines.push("");
  lines.push(c.dim(`${" ".repeat(w + 4)}mean |num−bp|  max |num−bp|  max rel err  max rel err (δ-loss)  max |num|`));
  for (const k of names) {
    const t = r.tensors[k];
    const rel = t.maxRelError > r.tolerance ? c.red(e(t.maxRelError).padStart(11)) : e(t.maxRelError).padStart(11);
    lines.push(`  ${k.padEnd(w)}  ${e(t.meanAbsDiff).padStart(13)}  ${e(t.maxAbsDiff).padStart(12)}  ${rel}  ${e(t.maxRelErrorSameLoss).padStart(20)}  ${e(t.maxAbs).padStart(9)}`);
  }
  lines.push("");
  lines.push(
    r.pass
      ? c.green(`ok: max relative error ${e(r.maxRelError)} ≤ tolerance ${r.tolerance}`)
      : c.red(`FAIL: max relative error ${e(r.maxRelError)} ${Number.isNaN(r.maxRelError) ? "is not ≤" : ">"} tolerance ${r.tolerance}`),
  );
  return lines.join("\n") + "\n";
}
