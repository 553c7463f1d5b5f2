/**
 * What a run's settings mean, each rule in one place: the images it trains, validates and tests on,
 * the epoch length, the choices left open (seed, evaluation interval, iterations from epochs), and
 * the cross-checks between settings. The CLI and the trainer both go through here.
 */
import { randomInt } from "node:crypto";
import type { MnistSplit } from "../data/mnist.js";
import { UsageError } from "../errors.js";
import { isBookNet, ITERS_MAX, type Hyperparameters, type ResolvedHyperparameters } from "./hyperparameters.js";

/** One epoch = max(floor(trainSize / batchSize), 1) iterations (the book's iter_per_epoch). */
export function itersPerEpoch(trainSize: number, batchSize: number): number {
  return Math.max(Math.floor(trainSize / batchSize), 1);
}

/** Images trained on: the first trainLimit training images less the validation images held out. */
export function trainedCount(hp: Pick<Hyperparameters, "trainLimit" | "valSize">, available: number): number {
  return Math.min(hp.trainLimit ?? available, available) - (hp.valSize ?? 0);
}

/**
 * The cross-checks between settings (one-line usage errors), given the training images available.
 * `epochsAndIters`: both were asked for explicitly.
 */
export function checkSettings(hp: Hyperparameters, available: number, epochsAndIters = false): void {
  if (epochsAndIters) throw new UsageError("--epochs and --iters cannot both be given");
  const limit = Math.min(hp.trainLimit ?? available, available);
  if (hp.earlyStop !== undefined && hp.valSize === undefined) throw new UsageError("--early-stop needs --val-size (early stopping on the test set would leak it)");
  if (hp.valSize !== undefined && hp.valSize >= limit) throw new UsageError(`--val-size ${hp.valSize} leaves no training images (of ${limit})`);
  const trained = trainedCount(hp, available);
  if (hp.sampling === "shuffle" && hp.batchSize > trained) {
    throw new UsageError(`--sampling shuffle needs --batch-size at most the ${trained} training images (got ${hp.batchSize})`);
  }
  if (hp.grad === "numerical" && !isBookNet(hp)) throw new UsageError("--grad numerical is for the book's two-layer net only (one --hidden-size, sigmoid, std init, sgd, no weight decay or dropout)");
}

/** Fix every choice the settings leave open: a seed when none was given, the evaluation interval, iterations from epochs. */
export function resolveSettings<T extends Hyperparameters>(hp: T, available: number): T & ResolvedHyperparameters {
  const perEpoch = itersPerEpoch(trainedCount(hp, available), hp.batchSize);
  if (hp.epochs !== undefined && hp.epochs * perEpoch > ITERS_MAX) {
    throw new UsageError(`--epochs ${hp.epochs} is ${hp.epochs * perEpoch} iterations, more than the ${ITERS_MAX} --iters allows`);
  }
  return {
    ...hp,
    seed: hp.seed ?? randomInt(0, 2 ** 32 - 1),
    evalEvery: hp.evalEvery ?? perEpoch,
    ...(hp.epochs !== undefined ? { iters: hp.epochs * perEpoch } : {}),
  };
}

/** The first `limit` examples of a split (views, no copies). */
export function limitSplit(split: MnistSplit, limit?: number): MnistSplit {
  if (limit === undefined || limit >= split.count) return split;
  const D = split.rows * split.cols;
  return { ...split, count: limit, images: split.images.subarray(0, limit * D), labels: split.labels.subarray(0, limit) };
}

/** The last `count` examples of a split (views). */
export function tailSplit(split: MnistSplit, count: number): MnistSplit {
  const D = split.rows * split.cols;
  const from = split.count - count;
  return { ...split, count, images: split.images.subarray(from * D), labels: split.labels.subarray(from) };
}

/** The run's images: training (less the validation images: the last valSize), validation, test. */
export function runSplits(data: { train: MnistSplit; test: MnistSplit }, hp: Hyperparameters): { train: MnistSplit; val?: MnistSplit; test: MnistSplit } {
  const all = limitSplit(data.train, hp.trainLimit);
  const valSize = hp.valSize ?? 0;
  return {
    train: valSize > 0 ? limitSplit(all, all.count - valSize) : all,
    ...(valSize > 0 ? { val: tailSplit(all, valSize) } : {}),
    test: limitSplit(data.test, hp.testLimit),
  };
}
