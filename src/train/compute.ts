/**
 * How a run computes, chosen in one place: the engine (every network, analytic gradients: the
 * default), the float64 reference nets (`kernels: "reference"`, for tests and as the oracle), or the
 * book's numerical gradient of TwoLayerNet (on the worker pool, or the naive loop).
 *
 * Every way offers the same few operations to the training loop: a step (gradient and update) on a
 * batch, the book's loss of the updated network on that batch, accuracy over whole splits, and the
 * parameters and optimizer state in and out (the reference layout a checkpoint stores).
 */
import type { Rng } from "../book/rng.js";
import type { MnistSplit } from "../data/mnist.js";
import { EvalPool } from "../engine/eval-pool.js";
import { LossPipeline } from "../engine/loss-pipeline.js";
import { Network, predictRows, specOf } from "../engine/network.js";
import { NumericalGradientPool } from "../engine/numerical-gradient-pool.js";
import { WorkerPool } from "../engine/pool.js";
import { StepSplit } from "../engine/split.js";
import { fastKernelsAvailable } from "../engine/wasm.js";
import { MultiLayerNet } from "../reference/multi-layer-net.js";
import { Optimizer, type OptimizerConfig, type OptimizerState } from "../reference/optimizers.js";
import { SequentialNet } from "../reference/sequential-net.js";
import { TwoLayerNet, type Grads } from "../reference/two-layer-net.js";
import type { Batch } from "./augmentation.js";
import { accuracyOnSplit, gatherBatch } from "./evaluate.js";
import type { ResolvedHyperparameters } from "./hyperparameters.js";
import type { TrainedNet } from "./types.js";

export interface Compute {
  /**
   * Gradient and update on `indices` with rate lr; returns that forward pass's loss when `lossBefore`.
   * With `batch` (an augmented copy of those images), on it instead.
   */
  step(indices: Int32Array, lr: number, lossBefore: boolean, batch?: Batch): Promise<number>;
  /** The book's loss: the updated network on the batch of the last step, dropout off. */
  loss(indices: Int32Array): number;
  accuracy(): Promise<number[]>;
  /** Write the current parameters into the reference net's arrays. */
  syncParams(): void;
  /** Load the reference net's arrays. */
  loadParams(): void;
  optimizerState(): OptimizerState;
  setOptimizerState(s: OptimizerState): void;
  /** The loss pass on a second thread, when this way has one (engine, threads > 1). */
  pipeline?: LossPipeline;
  /** The training images the steps read (a shared copy with threads > 1). */
  trainImages: Uint8Array;
  close(): Promise<void>;
}

export interface ComputeOptions {
  threads: number;
  /** The run's worker pool when the caller started it (TrainOptions.workers): the engine's, closed with it. */
  workers?: WorkerPool;
  kernels: "fast" | "reference";
  numerical?: { naive?: boolean };
  /** Whether the loss pass may run on a worker (sampling with replacement, SGD: undoable). */
  pipelineAllowed: boolean;
  lossThread?: "auto" | "always";
}

/** The optimizer settings of a run (the book's defaults for what is missing). */
export function optimizerConfig(hp: Partial<ResolvedHyperparameters>): OptimizerConfig {
  return {
    optimizer: hp.optimizer ?? "sgd",
    momentum: hp.momentum ?? 0.9,
    rmsDecay: hp.rmsDecay ?? 0.99,
    beta1: hp.beta1 ?? 0.9,
    beta2: hp.beta2 ?? 0.999,
    adadeltaRho: hp.adadeltaRho ?? 0.9,
  };
}

export function computeFor(
  net: TrainedNet,
  hp: ResolvedHyperparameters,
  splits: MnistSplit[],
  rng: Rng,
  o: ComputeOptions,
): Compute {
  const dtype = hp.dtype ?? "float32";
  // (the reference ways have no use for a pool started for the engine)
  if (hp.grad === "numerical" || o.kernels === "reference" || !fastKernelsAvailable(dtype)) void o.workers?.close();
  if (hp.grad === "numerical") {
    if (!(net instanceof TwoLayerNet)) throw new RangeError("--grad numerical is for the book's two-layer net only");
    return referenceCompute(net, hp, splits, rng, new Optimizer(optimizerConfig(hp), sizesOf(net.params)), o);
  }
  // float64 without built kernels falls back to the reference: the same results, slower
  if (o.kernels === "reference" || !fastKernelsAvailable(dtype)) {
    return referenceCompute(net, hp, splits, rng, new Optimizer(optimizerConfig(hp), sizesOf(net.params)), o);
  }
  return engineCompute(net, hp, splits, rng, o);
}

const sizesOf = (p: Record<string, Float64Array>) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.length]));

function engineCompute(net: TrainedNet, hp: ResolvedHyperparameters, splits: MnistSplit[], rng: Rng, o: ComputeOptions): Compute {
  const B = hp.batchSize;
  const spec = specOf(net, hp.dtype ?? "float32", 1, optimizerConfig(hp));
  const engine = new Network({ ...spec, maxRows: Math.max(B, predictRows(spec)) });
  // the reference net's own arrays (batch norm's running statistics too): sync writes into them
  const params: Record<string, Float64Array> = { ...net.params, ...(net instanceof SequentialNet ? net.state : {}) };
  engine.setParams(params);
  // the run's workers (threads − 1), shared by evaluation and the loss pass
  const workers = o.workers ?? WorkerPool.forThreads(o.threads);
  const pool = new EvalPool(engine, splits, workers ?? 1);
  const train = pool.split(0);
  engine.keepImages(train.images);
  const pipeline =
    workers && o.pipelineAllowed ? new LossPipeline(engine, train.images, train.labels, B, o.lossThread, workers) : undefined;
  // the step on every thread, unless a worker is kept for the loss pass
  const split = workers && !pipeline ? new StepSplit(engine.a, workers) : undefined;
  engine.stepSplit = split;
  let last: Batch | undefined; // the augmented batch of the last step, which `loss` reads
  return {
    step: async (indices, lr, lossBefore, batch) => {
      last = batch;
      const from = batch?.split ?? train;
      return engine.step(from.images, from.labels, batch?.indices ?? indices, lr, rng, lossBefore);
    },
    loss: (indices) => (last ? engine.loss(last.split.labels, last.indices) : engine.loss(train.labels, indices)),
    accuracy: () => pool.accuracy(splits.map((_, k) => k)),
    syncParams: () => engine.getParams(params),
    loadParams: () => engine.setParams(params),
    optimizerState: () => engine.optimizerState(),
    setOptimizerState: (s) => engine.setOptimizerState(s),
    pipeline,
    trainImages: train.images,
    close: async () => {
      await pipeline?.close();
      split?.close();
      await pool.close();
      await workers?.close();
    },
  };
}

/**
 * The float64 reference nets on normalized batches (and the numerical gradient of TwoLayerNet).
 * A SequentialNet's batch [B × 784] is its [B × 1 × 28 × 28]; its training pass uses dropout and
 * the batch's statistics (updating batch norm's running ones), and the book's loss after the update
 * is its inference form (running statistics, dropout off), as the book's trainer records
 * network.loss(x, t) with train_flg=False.
 */
function referenceCompute(
  net: TrainedNet,
  hp: ResolvedHyperparameters,
  splits: MnistSplit[],
  rng: Rng,
  opt: Optimizer,
  o: ComputeOptions,
): Compute {
  const B = hp.batchSize, train = splits[0];
  const D = train.rows * train.cols;
  const x = new Float64Array(B * D); // [B × D] the batch, normalized
  const t = new Uint8Array(B);
  const numerical = hp.grad === "numerical" && !o.numerical?.naive ? new NumericalGradientPool(o.threads) : undefined;
  const params = net.params as Record<string, Float64Array>;
  return {
    step: async (indices, lr, lossBefore, batch) => {
      gatherBatch(batch?.split ?? train, batch?.indices ?? indices, x, t);
      let grads: Grads | Record<string, Float64Array>;
      let loss = Number.NaN;
      if (net instanceof SequentialNet) {
        // the masks are drawn from the run's generator (net-from-spec's dropoutRng) during this pass
        const pass = net.lossAndGradient(x, t);
        grads = pass.grads;
        loss = pass.loss;
      } else if (net instanceof MultiLayerNet) {
        const masks = net.dropoutMasks(B, rng);
        grads = net.gradient(x, t, masks);
        if (lossBefore) loss = net.loss(x, t, masks);
      } else {
        grads = hp.grad === "analytic" ? net.gradient(x, t) : numerical ? await numerical.gradient(net, x, t) : net.numericalGradient(x, t);
        if (lossBefore) loss = net.loss(x, t);
      }
      opt.begin(lr);
      for (const name of Object.keys(params)) opt.update(name, params[name], (grads as Record<string, Float64Array>)[name], lr);
      return lossBefore ? loss : Number.NaN;
    },
    loss: () => net.loss(x, t),
    accuracy: async () => splits.map((s) => accuracyOnSplit(net, s)),
    syncParams: () => {},
    loadParams: () => {},
    optimizerState: () => opt.getState(),
    setOptimizerState: (s) => opt.setState(s),
    trainImages: train.images,
    close: async () => {
      await numerical?.close();
    },
  };
}
