/**
 * What the board shows of a trained model: its test-set confusion matrix and per-class accuracy
 * (mnist-eval's buildReport on mnist-eval's predictions), the test digits it gets wrong, its first
 * layer's weights as 28×28 pictures, and the classification of a drawn digit through
 * mnist-predict's own preprocessing (decodePng → mnistFromImage → PIXEL_SCALE → predict).
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { FileFormatError } from "../errors.js";
import { loadMnistRaw, PIXEL_SCALE, type MnistSplit } from "../data/mnist.js";
import { decodePng, FIELD, mnistFromImage } from "../image/mnist-preprocess.js";
import { netFromModelJson, type ModelJson } from "../run/model-json.js";
import { predictSplit } from "../train/evaluate.js";
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
  weights: { units: number; shown: number; images: string[] };
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
    const probabilities = Array.from(net.predict(x));
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
  const architecture = "sizes" in net ? `${net.sizes.join("-")} ${net.activation}` : `${net.inputSize}-${net.hiddenSize}-${net.outputSize} sigmoid`;
  return {
    architecture,
    testAccuracy: report.testAccuracy,
    recordedTestAccuracy: report.recordedTestAccuracy,
    count: report.count,
    perClass: report.perClass,
    confusion: report.confusion,
    errors,
    errorCount,
    weights: firstLayerImages(net.params.W1, D),
  };
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
  return { units: H, shown, images };
}
