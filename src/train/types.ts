/** What the training loop takes and gives: its data, options, events, result and resumable state. */
import type { RngState } from "../book/rng.js";
import type { MnistSplit } from "../data/mnist.js";
import type { WorkerPool } from "../engine/pool.js";
import type { MultiLayerNet } from "../reference/multi-layer-net.js";
import type { OptimizerState } from "../reference/optimizers.js";
import type { SequentialNet } from "../reference/sequential-net.js";
import type { TwoLayerNet } from "../reference/two-layer-net.js";
import type { ResolvedHyperparameters } from "./hyperparameters.js";

/** The networks the trainer trains (as their reference nets). */
export type TrainedNet = TwoLayerNet | MultiLayerNet | SequentialNet;

export interface IterationEvent {
  iteration: number;
  loss: number;
}

export interface EpochEvent {
  /** Index of this evaluation: 0 at iteration 0, then one per evalEvery iterations. */
  evaluation: number;
  /** Epochs completed when it was taken, fractional: (iteration + 1) / iterations per epoch (plan.ts's itersPerEpoch). */
  epoch: number;
  iteration: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** Accuracy on the held-out validation images (with valSize). */
  valAccuracy?: number;
  /** Seconds since training started. */
  elapsedS: number;
}

export interface TrainResult {
  /** The trained parameters in a reference net: TwoLayerNet for the book's net, SequentialNet for a `layers` list, else MultiLayerNet (see isBookNet). */
  net: TrainedNet;
  /** Number of iterations completed. */
  iterations: number;
  finalLoss: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** With valSize: validation accuracy of the final (with earlyStop: restored best) weights. */
  valAccuracy?: number;
  /** With earlyStop, when it stopped the run: where, and the evaluation whose weights were restored. */
  earlyStopped?: { iteration: number; bestIteration: number; bestValAccuracy: number };
  wallTimeS: number;
  /** True when a stop was requested (signal) before all iterations ran. */
  interrupted: boolean;
  /** Set when the loss became NaN or infinite: training stopped after that iteration. */
  diverged?: { iteration: number; loss: number };
  /**
   * The state after the last completed iteration, before any final evaluation: what a checkpoint
   * stores to resume an interrupted run.
   */
  state: TrainState;
}

/** Everything needed to continue a run exactly where it stopped (a checkpoint's contents). */
export interface TrainState {
  /** Iterations completed: the next iteration to run. */
  iteration: number;
  /** Evaluations emitted so far: the index of the next one. */
  epoch: number;
  /** Iteration of the last evaluation (-1 when none). */
  evaluatedAt: number;
  /** Loss of the last completed iteration (NaN when none). */
  finalLoss: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** Seconds of training so far (added to on resume, so elapsed times continue). */
  elapsedS: number;
  rng: RngState;
  /** Copies of the parameters (W1, b1, W2, b2 for the book's net; W1…Wn, b1…bn for an MultiLayerNet; also gamma{j}, beta{j} for a layer net). */
  params: Record<string, Float64Array>;
  /** A layer net's batch-norm running statistics (runningMean{j}, runningVar{j}): saved, never learned. */
  netState?: Record<string, Float64Array>;
  /** Last validation accuracy (NaN when none). */
  valAccuracy?: number;
  /** Optimizer slots (momentum, Adam moments, …) and step count. */
  optimizer?: OptimizerState;
  /** --sampling shuffle: this epoch's permutation and the position of the next batch in it. */
  sampler?: { order: Int32Array; pos: number };
  /** --early-stop: the best evaluation so far and the evaluations since without improvement. */
  best?: { valAccuracy: number; iteration: number; params: Record<string, Float64Array>; netState?: Record<string, Float64Array>; bad: number };
}

export interface TrainListener {
  start?(e: { totalIterations: number; trainSize: number; testSize: number; hyperparameters: ResolvedHyperparameters }): void;
  iteration?(e: IterationEvent): void;
  epoch?(e: EpochEvent): void;
  done?(e: TrainResult): void;
  /** Every `checkpointEvery` completed iterations: a snapshot (copies) to store. */
  checkpoint?(e: TrainState): void;
}

export interface TrainData {
  train: MnistSplit;
  test: MnistSplit;
}

export interface TrainOptions {
  listeners?: TrainListener[];
  /** Aborting stops the run after the iteration in progress. */
  signal?: AbortSignal;
  /** How often the loop yields to the event loop (ms), so timers, progress bars and signals run. */
  yieldEveryMs?: number;
  /** Continue from a state returned in TrainResult.state or passed to a `checkpoint` listener. */
  resumeFrom?: TrainState;
  /** Emit a `checkpoint` event every N completed iterations (never at the last one). */
  checkpointEvery?: number;
  /** --grad numerical: the fast incremental gradient, or with `naive: true` the book's loop (very slow). */
  numerical?: { naive?: boolean };
  /** Threads for the accuracy passes, the loss pass and the numerical gradient (default: every core); results do not depend on it. */
  threads?: number;
  /**
   * The run's worker pool (threads − 1 workers), started by the caller before the data loads so
   * that its threads start up meanwhile; the run takes it over and closes it. Else one is started here.
   */
  workers?: WorkerPool;
  /** The loss pass on a worker: `auto` (default) when measured faster, `always` whenever it may (for tests). */
  lossThread?: "auto" | "always";
  /** `fast` (default): the engine in hp.dtype. `reference`: the plain float64 reference nets. */
  kernels?: "fast" | "reference";
}

