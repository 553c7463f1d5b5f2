/**
 * mnist-export model.json --onnx out.onnx: a trained network as an ONNX file, for onnxruntime and
 * every other ONNX runtime (see src/export/onnx.ts for the graph). The model may be given as its
 * run folder. One line on stdout says what was written; errors are one line on stderr.
 */
import { createRequire } from "node:module";
import { FileFormatError, MnistError, UsageError } from "../errors.js";
import { classesOf, describeArchitecture, inputShapeOf, ONNX_OPSET, toOnnx } from "../export/onnx.js";
import { writeFileAtomic } from "../io/files.js";
import { readModelFile } from "../run/model-file.js";
import type { Command } from "commander";
import { debugOption, EXIT, newProgram } from "./run-command.js";

const NAME = "mnist-export";
const MNIST_INPUTS = 28 * 28;
const MNIST_CLASSES = 10;

/** The command line: its arguments and options (the docs reference is checked against them). */
export function buildProgram(): Command {
  return newProgram(NAME)
  .description(
    `Export a trained model to ONNX (opset ${ONNX_OPSET}): input x float32 [N, ${MNIST_INPUTS}] ([N, 1, 28, 28] for a --layers net) in [0, 1] (pixel / 255), ` +
      `outputs logits [N, ${MNIST_CLASSES}] and probabilities (their softmax).`,
  )
  .argument("<model>", "model.json written by mnist-train, or the run folder that holds it")
  .requiredOption("--onnx <file>", "the .onnx file to write (replaced if it exists)")
  .addOption(debugOption())
      .helpOption("-h, --help");
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.parse(argv, { from: "user" });
  const flags = program.opts<{ onnx: string }>();
  if (flags.onnx.trim() === "") throw new UsageError("--onnx must name the file to write");
  const { file: modelFile, model } = await readModelFile(program.args[0]);
  if (inputShapeOf(model).reduce((a, b) => a * b, 1) !== MNIST_INPUTS || classesOf(model) !== MNIST_CLASSES) {
    throw new FileFormatError(modelFile, `the model is ${describeArchitecture(model)}, but MNIST needs ${MNIST_INPUTS} inputs and ${MNIST_CLASSES} outputs`);
  }
  let bytes: Uint8Array;
  try {
    bytes = toOnnx(model, { producerVersion: packageVersion(), docString: `mnist-ts ${describeArchitecture(model)} network; input x = pixel / 255` });
  } catch (err) {
    // ONNX holds float32: a weight beyond its range cannot be exported faithfully; nor can the book's zero-padded max pooling.
    if (err instanceof RangeError) throw new FileFormatError(modelFile, err.message);
    throw err;
  }
  try {
    await writeFileAtomic(flags.onnx, bytes);
  } catch (err) {
    if (err instanceof MnistError) throw new MnistError(`--onnx ${err.message}`, EXIT.failure);
    throw err;
  }
  process.stdout.write(`${flags.onnx}: ${describeArchitecture(model)} network, ONNX opset ${ONNX_OPSET}, ${bytes.length} bytes\n`);
  return EXIT.ok;
}

function packageVersion(): string {
  // dist/cli/ and src/cli/ are both two folders below package.json
  return (createRequire(import.meta.url)("../../package.json") as { version: string }).version;
}
