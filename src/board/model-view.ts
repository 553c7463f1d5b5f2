/**
 * What the board shows of a trained model: its test-set confusion matrix and per-class accuracy
 * (mnist-eval's buildReport on mnist-eval's predictions), the test digits it gets wrong, its first
 * layer's weights as pictures (28×28 per unit, or a conv layer's filters), and the classification of a drawn digit through
 * mnist-predict's own preprocessing (decodePng → mnistFromImage → PIXEL_SCALE → predict).
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { FileFormatError } from "../errors.js";
import { loadMnistRaw, PIXEL_SCALE, type MnistSplit } from "../data/mnist.js";
import { decodePng, FIELD, mnistFromImage } from "../image/mnist-preprocess.js";
import { describeNet, netFromModelJson, type ModelJson } from "../run/model-json.js";
import { SequentialNet } from "../reference/sequential-net.js";
import { predictProbabilities, predictSplit } from "../train/evaluate.js";
import { buildReport } from "../report/evaluation.js";
import { readModelFile } from "../run/model-file.js";

/** Misclassified test digits sent to the page (mnist-eval --show-errors draws the first N the same way). */
export const MAX_ERRORS_SHOWN = 60;
/** First-layer units drawn (the book's ch07 figure shows 30 filters; an 800-unit layer would be a wall). */
export const MAX_UNITS_SHOWN = 100;

interface LoadedModel {
  key: string;
  model: ModelJson;
  net: ReturnType<typeof netFromModelJson>;
}

export interface ModelView {
  architecture: string;
  testAccuracy: number;
  recordedTestAccuracy: number | null;
  count: number;
  perClass: (number | null)[];
  confusion: number[][];
  errors: { index: number; label: number; predicted: number; pixels: string }[];
  errorCount: number;
  /** First-layer weights as `width` × `height` pictures (28×28 per unit, or a conv layer's filters); none when the first weighted layer does not see the pixels. */
  weights: { units: number; shown: number; images: string[]; width: number; height: number; kind: "units" | "filters" };
}

export interface DigitPrediction {
  digit: number;
  probabilities: number[];
  inverted: boolean;
  /** The 28×28 input the network saw, base64 bytes (white ink on black). */
  pixels: string;
}

/** Loads model.json files once per version (size and time) and keeps the computed views. */
export class ModelCache {
  private models = new Map<string, LoadedModel>();
  private views = new Map<string, Promise<ModelView>>();
  private test: Promise<MnistSplit> | null = null;

  async load(dir: string, label: string): Promise<LoadedModel> {
    const file = path.join(dir, "model.json");
    const stat = await fs.stat(file).catch(() => null);
    if (!stat?.isFile()) throw new FileFormatError(`${label}/model.json`, "no such file (the run has not finished)");
    const key = `${file}|${stat.size}|${stat.mtimeMs}`;
    const cached = this.models.get(file);
    if (cached?.key === key) return cached;
    let model: ModelJson;
    try {
      ({ model } = await readModelFile(file));
    } catch (err) {
      if (err instanceof FileFormatError) throw new FileFormatError(`${label}/model.json`, err.message.slice(err.file.length + 2));
      throw err;
    }
    const net = netFromModelJson(model);
    if (net.inputSize !== FIELD * FIELD || net.outputSize !== 10) {
      throw new FileFormatError(`${label}/model.json`, `the model has ${net.inputSize} inputs and ${net.outputSize} outputs; digits need ${FIELD * FIELD} and 10`);
    }
    const loaded = { key, model, net };
    this.models.set(file, loaded);
    return loaded;
  }

  /** The bundled MNIST test set, read on first use: the board never downloads. */
  private testSet(): Promise<MnistSplit> {
    this.test ??= loadMnistRaw({ source: "bundled" }).then((d) => d.test);
    return this.test;
  }

  async view(dir: string, label: string): Promise<ModelView> {
    const loaded = await this.load(dir, label);
    let view = this.views.get(loaded.key);
    if (!view) {
      view = this.testSet().then((test) => computeView(loaded, test, label));
      this.views.set(loaded.key, view);
      view.catch(() => this.views.delete(loaded.key));
    }
    return view;
  }

  async predict(dir: string, label: string, png: Uint8Array): Promise<DigitPrediction> {
    const { net } = await this.load(dir, label);
    const { pixels, inverted } = mnistFromImage(decodePng(png, "the drawing"), "the drawing");
    const x = new Float64Array(FIELD * FIELD);
    for (let i = 0; i < x.length; i++) x[i] = PIXEL_SCALE[pixels[i]];
    const probabilities = Array.from(predictProbabilities(net, x));
    return { digit: probabilities.indexOf(Math.max(...probabilities)), probabilities, inverted, pixels: Buffer.from(pixels).toString("base64") };
  }
}

function computeView(loaded: LoadedModel, test: MnistSplit, label: string): ModelView {
  const { model, net } = loaded;
  const predicted = predictSplit(net, test, test.count, model.training?.hyperparameters.dtype);
  const report = buildReport(`${label}/model.json`, model, predicted, test.labels);
  const D = test.rows * test.cols;
  const errors: ModelView["errors"] = [];
  let errorCount = 0;
  for (let i = 0; i < predicted.length; i++) {
    if (predicted[i] === test.labels[i]) continue;
    errorCount++;
    if (errors.length < MAX_ERRORS_SHOWN) {
      errors.push({ index: i, label: test.labels[i], predicted: predicted[i], pixels: Buffer.from(test.images.subarray(i * D, (i + 1) * D)).toString("base64") });
    }
  }
  return {
    architecture: describeNet(net),
    testAccuracy: report.testAccuracy,
    recordedTestAccuracy: report.recordedTestAccuracy,
    count: report.count,
    perClass: report.perClass,
    confusion: report.confusion,
    errors,
    errorCount,
    weights: net instanceof SequentialNet ? layerNetImages(net, D) : firstLayerImages(net.params.W1, D),
  };
}

/** Layers that keep each pixel where it is (a batch norm before the first weighted layer does). */
const IN_PLACE = new Set(["relu", "sigmoid", "tanh", "batchnorm", "dropout", "flatten"]);

/**
 * A layer net's first weights as pictures: a first conv's filters on one channel (FH × FW each, as
 * the book's ch07 figure of SimpleConvNet's 30 filters), or a first affine's units (28×28 each)
 * when only layers that keep the pixels in place come before it; else none.
 */
export function layerNetImages(net: SequentialNet, D: number): ModelView["weights"] {
  const specs = net.specs ?? [];
  const first = specs.findIndex((s) => !IN_PLACE.has(s.type));
  const spec = specs[first];
  if (spec?.type === "affine") return firstLayerImages(net.params.W1, D);
  if (spec?.type === "conv" && net.inputShape[0] === 1) {
    const [FH, FW] = spec.kernel;
    const K = FH * FW;
    const W1 = net.params.W1; // [FN × 1 × FH × FW]: filter f is the K values from f·K
    const shown = Math.min(spec.filters, MAX_UNITS_SHOWN);
    const images: string[] = [];
    for (let f = 0; f < shown; f++) images.push(scaledImage(W1.subarray(f * K, (f + 1) * K)));
    return { units: spec.filters, shown, images, width: FW, height: FH, kind: "filters" };
  }
  return { units: 0, shown: 0, images: [], width: FIELD, height: FIELD, kind: "units" };
}

/** Values scaled from their min to their max as bytes, base64 (128 everywhere when all are equal). */
function scaledImage(values: ArrayLike<number>): string {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    min = Math.min(min, values[i]);
    max = Math.max(max, values[i]);
  }
  const span = max - min;
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) bytes[i] = span > 0 ? Math.round(((values[i] - min) / span) * 255) : 128;
  return Buffer.from(bytes).toString("base64");
}

/**
 * Column j of W1 [D × H] is unit j's 28×28 filter. Each is scaled from its own min to its own
 * max, as the book's filter_show does with imshow, so a faint filter still shows its shape.
 */
export function firstLayerImages(W1: Float64Array, D: number): ModelView["weights"] {
  const H = W1.length / D;
  const shown = Math.min(H, MAX_UNITS_SHOWN);
  const images: string[] = [];
  for (let j = 0; j < shown; j++) {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < D; i++) {
      const v = W1[i * H + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const bytes = new Uint8Array(D);
    const span = max - min;
    for (let i = 0; i < D; i++) bytes[i] = span > 0 ? Math.round(((W1[i * H + j] - min) / span) * 255) : 128;
    images.push(Buffer.from(bytes).toString("base64"));
  }
  return { units: H, shown, images, width: FIELD, height: FIELD, kind: "units" };
}
