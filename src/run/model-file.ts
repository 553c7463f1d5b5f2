/**
 * Reading model.json, from the file or from a run folder holding one (`mnist-eval runs/X`). The
 * format (schema, network ↔ JSON) is src/run/model-json.ts; this is the file: its size bound, and
 * a scan of its bytes that rejects a file holding more numbers than its declared architecture has
 * parameters (or thousands of objects) before JSON.parse allocates for them. loadModel and
 * saveModel are the library's way to the same files.
 */
import { promises as fs } from "node:fs";
import { FileFormatError } from "../errors.js";
import { readJsonFile, writeFileAtomic, type JsonLimits } from "../io/files.js";
import { AnyModelJsonSchema, netFromModelJson, toModelJson, type ModelJson, type TrainingRecord } from "./model-json.js";
import { checkLayerList } from "../reference/layer-spec.js";
import { countValues, paramShapes } from "../reference/net-from-spec.js";
import type { TrainOutcome } from "../train/library-train.js";
import { recordedHyperparameters } from "../train/hyperparameters.js";
import type { TrainedNet } from "../train/types.js";
import { JSON_NUMBER_BYTES } from "../train/budget.js";
import { RUN_FILES, runFile } from "./layout.js";

/** model.json for a 784-50-10 net is under 1 MB; this bounds what a hostile file can make us parse. */
export const MAX_MODEL_BYTES = 256 * 1024 * 1024;
/** Numbers a model.json holds besides its parameters (shapes, the training record). */
const OTHER_NUMBERS = 1000;
/**
 * The most parameters a model.json mnist-train writes can hold (it refuses networks whose file
 * could pass MAX_MODEL_BYTES), so a larger declared architecture is never parsed in full.
 */
export const MAX_MODEL_PARAMS = Math.floor(MAX_MODEL_BYTES / JSON_NUMBER_BYTES);

export const MODEL_JSON_LIMITS: JsonLimits = {
  maxContainers: 1000,
  maxDepth: 8,
  maxNumbers: (top) => Math.min(declaredParams(top.architecture), MAX_MODEL_PARAMS) + OTHER_NUMBERS,
};

/** Parameters (and batch-norm statistics) of the architecture a model.json declares; 0 when it declares none readable. */
function declaredParams(a: unknown): number {
  if (typeof a !== "object" || a === null) return 0;
  const arch = a as { type?: unknown; sizes?: unknown; inputSize?: unknown; hiddenSize?: unknown; outputSize?: unknown; layers?: unknown; inputShape?: unknown; classes?: unknown };
  if (arch.type === "layers") {
    // the shapes from the list alone (the list's own faults are reported by the schema, field by field)
    const { inputShape, classes } = arch;
    if (!Array.isArray(inputShape) || inputShape.length > 3 || !inputShape.every((n) => Number.isInteger(n) && n > 0 && n <= 1e6)) return 0;
    if (!(Number.isInteger(classes) && (classes as number) > 0 && (classes as number) <= 1e6)) return 0;
    try {
      const shapes = paramShapes(checkLayerList(arch.layers, inputShape, classes as number).layers, inputShape, classes as number);
      return countValues(shapes.params) + countValues(shapes.state);
    } catch {
      return 0;
    }
  }
  const sizes = arch.type === "mlp" ? arch.sizes : [arch.inputSize, arch.hiddenSize, arch.outputSize];
  if (!Array.isArray(sizes) || sizes.length > 10 || !sizes.every((n) => Number.isInteger(n) && n > 0 && n <= 1e6)) return 0;
  let total = 0;
  for (let l = 1; l < sizes.length; l++) total += sizes[l - 1] * sizes[l] + sizes[l];
  return total;
}

/** `path` itself, or PATH/model.json when it is a folder (a run folder). */
export async function modelPath(file: string): Promise<string> {
  const stat = await fs.stat(file).catch(() => null);
  if (!stat?.isDirectory()) return file;
  const inside = runFile(file, "model");
  if (!(await fs.stat(inside).catch(() => null))) {
    const unfinished = await fs.stat(runFile(file, "checkpoint")).catch(() => null);
    throw new FileFormatError(file, `is a folder without ${RUN_FILES.model}${unfinished ? " (an unfinished run: continue it with mnist-train --resume)" : ""}`);
  }
  return inside;
}

/** A validated model.json, read from `file` or from the run folder `file`; returns the file it read. */
export async function readModelFile(file: string): Promise<{ file: string; model: ModelJson }> {
  const resolved = await modelPath(file);
  return { file: resolved, model: await readJsonFile(resolved, AnyModelJsonSchema, MAX_MODEL_BYTES, undefined, MODEL_JSON_LIMITS) };
}

/**
 * The library's reader: the network of a model.json (any architecture), or of the run folder
 * holding one, with the commands' checks; a bad file throws a FileFormatError naming the file and
 * the field at fault.
 */
export async function loadModel(file: string): Promise<Net> {
  return netFromModelJson((await readModelFile(file)).model);
}

export type Net = TrainedNet;

/**
 * Write a model.json atomically (a temporary file, then a rename), as mnist-train does, so
 * mnist-eval and mnist-predict take a net trained in code. Given train()'s result, the file records
 * how it was trained (hyperparameters, seed, accuracies), provided the data carried its
 * datasetSha256 (loadMnistRaw's does); given a bare net, only the net.
 */
export async function saveModel(file: string, model: Net | TrainOutcome): Promise<void> {
  const net = "net" in model ? model.net : model;
  let training: TrainingRecord | undefined;
  if ("net" in model && model.datasetSha256) {
    training = {
      hyperparameters: recordedHyperparameters(model.hyperparameters),
      seed: model.hyperparameters.seed,
      iterations: model.iterations,
      finalLoss: Number.isFinite(model.finalLoss) ? model.finalLoss : null,
      trainAccuracy: Number.isFinite(model.trainAccuracy) ? model.trainAccuracy : null,
      testAccuracy: Number.isFinite(model.testAccuracy) ? model.testAccuracy : null,
      datasetSha256: model.datasetSha256,
    };
  }
  await writeFileAtomic(file, JSON.stringify(toModelJson(net, training)) + "\n");
}
