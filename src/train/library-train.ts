/**
 * train() as the library offers it: any subset of the hyperparameters, the rest taking the same
 * defaults as mnist-train (the book's ch04 run), so `train(await loadMnistRaw(), { iters: 2000 })`
 * is a whole program. The loop itself is trainer.ts's, on the fast kernels.
 */
import { UsageError } from "../errors.js";
import type { MnistSplit } from "../data/mnist.js";
import { describeZodIssue } from "../io/zod-message.js";
import { checkLayersInput, HyperparametersSchema, type HyperparametersInput, type ResolvedHyperparameters } from "./hyperparameters.js";
import { checkSettings, resolveSettings } from "./plan.js";
import { train as trainLoop, type TrainListener, type TrainOptions as LoopOptions, type TrainResult } from "./trainer.js";

/** The two splits to train and test on (loadMnistRaw's result will do); `datasetSha256` is recorded in a saved model. */
export interface TrainInput {
  train: MnistSplit;
  test: MnistSplit;
  datasetSha256?: string;
}

export interface TrainOptions extends Omit<LoopOptions, "listeners"> {
  /** Who hears the run's events (start, iteration, epoch, checkpoint, done): one listener or several. */
  listeners?: TrainListener | TrainListener[];
}

/** What a run gives back: the trained net and its results, with every hyperparameter it used (seed included). */
export interface TrainOutcome extends TrainResult {
  hyperparameters: ResolvedHyperparameters;
  datasetSha256?: string;
}

/**
 * Train with the book's minibatch SGD (or the beyond-chapter-4 options). `hyperparameters` takes
 * the fields of mnist-train's options in camelCase (iters, batchSize, lr, hiddenSize, seed, epochs,
 * optimizer, …; see docs/library.md); each missing one gets mnist-train's default, the seed a random
 * value (returned in `hyperparameters.seed`), evalEvery one epoch. A bad value throws a UsageError
 * naming the field.
 */
export async function train(data: TrainInput, hyperparameters: HyperparametersInput = {}, options: TrainOptions = {}): Promise<TrainOutcome> {
  const parsed = HyperparametersSchema.safeParse(hyperparameters);
  if (!parsed.success) throw new UsageError(`hyperparameters: ${describeZodIssue(parsed.error.issues[0], hyperparameters, "key")}`);
  const hp = parsed.data;
  checkLayersInput(hyperparameters as Record<string, unknown>, "key", "hyperparameters: ");
  // the rules mnist-train applies (an epoch counts the images actually trained on, …)
  checkSettings(hp, data.train.count, hp.epochs !== undefined && hyperparameters.iters !== undefined);
  const resolved: ResolvedHyperparameters = resolveSettings(hp, data.train.count);
  const { listeners, ...rest } = options;
  const result = await trainLoop({ train: data.train, test: data.test }, resolved, {
    ...rest,
    listeners: listeners === undefined ? [] : Array.isArray(listeners) ? listeners : [listeners],
  });
  return { ...result, hyperparameters: resolved, ...(data.datasetSha256 ? { datasetSha256: data.datasetSha256 } : {}) };
}
