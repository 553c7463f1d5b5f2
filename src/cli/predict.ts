/**
 * mnist-predict model.json image.png…: classify pictures of digits (your own handwriting, from any
 * paint program, or a photo). Each PNG or JPEG goes through MNIST's own preprocessing
 * (src/image/mnist-preprocess.ts); prints the digit and the ten probabilities, and with --show the
 * 28×28 input the network saw. Every file gets an answer: a bad one an error line, and the exit
 * code is 1 at the end when any failed.
 */
import { promises as fs } from "node:fs";
import { Chalk, supportsColor, type ChalkInstance } from "chalk";
import { FileFormatError, MnistError } from "../errors.js";
import { PIXEL_SCALE } from "../data/mnist.js";
import { readModelFile } from "../run/model-file.js";
import { digitArt } from "../image/digit-art.js";
import { decodeImage, FIELD, mnistFromImage } from "../image/mnist-preprocess.js";
import { describeNet, netFromModelJson } from "../run/model-json.js";
import { predictProbabilities } from "../train/evaluate.js";
import type { Command } from "commander";
import { debugOption, EXIT, newProgram, noColorOption } from "./run-command.js";

const NAME = "mnist-predict";
/** A photo of a digit is a few MB; this bounds what we decode. */
const MAX_IMAGE_BYTES = 64 * 1024 * 1024;

export interface Prediction {
  image: string;
  digit: number;
  probabilities: number[];
  /** The picture had dark ink on a light background and was inverted. */
  inverted: boolean;
}

/** A file that could not be classified: why (a missing file, not an image, no digit in it). */
export interface PredictionError {
  image: string;
  error: string;
}

/** The command line: its arguments and options (the docs reference is checked against them). */
export function buildProgram(): Command {
  return newProgram(NAME)
  .description("Classify pictures of digits (PNG or JPEG) with a trained model (MNIST preprocessing: invert, crop, fit 20×20, centre by mass in 28×28).")
  .argument("<model>", "model.json written by mnist-train, or its run folder")
  .argument("<image...>", "PNG or JPEG files, one digit each (dark on light or light on dark)")
  .option("--show", "draw the 28×28 input the network sees, with Unicode shading")
  .option("--json", "print one JSON line: { model, predictions: [{ image, digit, probabilities, inverted } or { image, error }] }")
  .addOption(noColorOption())
  .addOption(debugOption())
      .helpOption("-h, --help");
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.parse(argv, { from: "user" });
  const flags = program.opts();
  const [modelFile, ...images] = program.args;

  const { model } = await readModelFile(modelFile);
  const net = netFromModelJson(model);
  if (net.inputSize !== FIELD * FIELD || net.outputSize !== 10) {
    throw new FileFormatError(modelFile, `the model is ${describeNet(net, true)}, but digits need ${FIELD * FIELD} inputs and 10 outputs`);
  }
  const x = new Float64Array(FIELD * FIELD);
  const results: { prediction: Prediction | PredictionError; pixels?: Uint8Array }[] = [];
  for (const image of images) {
    try {
      const { pixels, inverted } = mnistFromImage(decodeImage(await readImage(image), image), image);
      for (let i = 0; i < x.length; i++) x[i] = PIXEL_SCALE[pixels[i]];
      const probabilities = Array.from(predictProbabilities(net, x));
      const digit = probabilities.indexOf(Math.max(...probabilities));
      results.push({ prediction: { image, digit, probabilities, inverted }, pixels });
    } catch (err) {
      // one bad picture must not cost the others their answer
      if (!(err instanceof MnistError)) throw err;
      results.push({ prediction: { image, error: err.message } });
      process.stderr.write(`${NAME}: ${err.message}\n`);
    }
  }

  if (flags.json) {
    process.stdout.write(JSON.stringify({ model: modelFile, predictions: results.map((r) => r.prediction) }) + "\n");
  } else {
    const color = flags.color !== false && !process.env.NO_COLOR && process.stdout.isTTY === true;
    const c = new Chalk({ level: color && supportsColor ? supportsColor.level : 0 });
    const blocks = results.flatMap((r) => ("error" in r.prediction ? [] : [formatPrediction(r.prediction, c, flags.show ? r.pixels : undefined)]));
    process.stdout.write(blocks.join("\n"));
  }
  return results.some((r) => "error" in r.prediction) ? EXIT.failure : EXIT.ok;
}

async function readImage(image: string): Promise<Uint8Array> {
  const stat = await fs.stat(image).catch(() => null);
  if (!stat) throw new FileFormatError(image, "no such file");
  if (!stat.isFile()) throw new FileFormatError(image, "is not a regular file");
  if (stat.size > MAX_IMAGE_BYTES) throw new FileFormatError(image, `is ${stat.size} bytes, more than the ${MAX_IMAGE_BYTES} accepted`);
  return fs.readFile(image);
}

export function formatPrediction(p: Prediction, c: ChalkInstance, pixels?: Uint8Array): string {
  const lines: string[] = [];
  lines.push(`${c.bold(p.image)}: ${c.green.bold(String(p.digit))}  ${c.dim(`(p = ${p.probabilities[p.digit].toFixed(3)}${p.inverted ? "; dark ink on a light background, inverted" : ""})`)}`);
  if (pixels) lines.push(...digitArt(pixels, FIELD, "full").map((l) => "  " + l));
  p.probabilities.forEach((prob, k) => {
    const bar = "█".repeat(Math.round(prob * 30));
    const row = `  ${k}  ${prob.toFixed(4)}  ${bar}`;
    lines.push(k === p.digit ? c.green(row) : row);
  });
  return lines.join("\n") + "\n";
}
