/**
 * model.json files for the library: saveModel writes what mnist-train writes (so mnist-eval and
 * mnist-predict take a net trained in code), loadModel reads what they read, with the same checks.
 */
import { readJsonFile, writeFileAtomic } from "../io/files.js";
import { AnyModelJsonSchema, netFromModelJson, toModelJson, type ModelJson, type TrainingRecord } from "./model-json.js";
import type { MultiLayerNet } from "../reference/multi-layer-net.js";
import type { TwoLayerNet } from "../reference/two-layer-net.js";
import type { TrainOutcome } from "../train/library-train.js";

/** model.json for a 784-50-10 net is under 1 MB; this bounds what a hostile file can make us parse. */
export const MAX_MODEL_BYTES = 256 * 1024 * 1024;

export type Net = TwoLayerNet | MultiLayerNet;

/**
 * Read a model.json (either architecture). A missing, malformed or inconsistent file throws a
 * FileFormatError naming the file and the field at fault.
 */
export async function loadModel(file: string): Promise<Net> {
  return netFromModelJson(await readModelJson(file));
}

/** The validated model.json, training record included (`model.training`, absent for a net saved bare). */
export function readModelJson(file: string): Promise<ModelJson> {
  return readJsonFile(file, AnyModelJsonSchema, MAX_MODEL_BYTES);
}

/**
 * Write a model.json atomically (a temporary file, then a rename). Given train()'s result, the file
 * records how it was trained (hyperparameters, seed, accuracies), as mnist-train's does, provided
 * the data carried its datasetSha256 (loadMnistRaw's does); given a bare net, only the net.
 */
export async function saveModel(file: string, model: Net | TrainOutcome): Promise<void> {
  const net = "net" in model ? model.net : model;
  let training: TrainingRecord | undefined;
  if ("net" in model && model.datasetSha256) {
    training = {
      hyperparameters: model.hyperparameters,
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
