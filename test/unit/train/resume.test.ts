/** The trainer's divergence stop and exact resume, on small synthetic data (no files, no processes). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import type { MnistSplit } from "../../../src/data/mnist.js";
import { CheckpointSchema, stateFromCheckpoint, toCheckpointJson } from "../../../src/run/checkpoint.js";
import type { ResolvedHyperparameters } from "../../../src/train/hyperparameters.js";
import { train, type EpochEvent, type TrainState } from "../../../src/train/trainer.js";

function split(count: number, seed: number): MnistSplit {
  const rng = new Rng(seed);
  const images = new Uint8Array(count * 4 * 4);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = rng.int(10);
  return { count, rows: 4, cols: 4, images, labels };
}
const DATA = { train: split(120, 1), test: split(40, 2) };
const HP: ResolvedHyperparameters = { iters: 60, batchSize: 8, lr: 0.5, hiddenSize: 6, grad: "analytic", weightInitStd: 0.01, seed: 11, evalEvery: 7 };

interface Recorded {
  losses: [number, number][];
  epochs: [number, number, number, number][];
}
function recorder(): Recorded & { listener: object } {
  const r: Recorded = { losses: [], epochs: [] };
  return {
    ...r,
    listener: {
      iteration: (e: { iteration: number; loss: number }) => r.losses.push([e.iteration, e.loss]),
      epoch: (e: EpochEvent) => r.epochs.push([e.epoch, e.iteration, e.trainAccuracy, e.testAccuracy]),
    },
  };
}

describe("resume", () => {
  it("stopping at any iteration and resuming from the state (through checkpoint.json) gives the uninterrupted run bit for bit", async () => {
    const full = recorder();
    const whole = await train(DATA, HP, { listeners: [full.listener] });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: HP.iters - 1 }), async (stopAfter) => {
        const first = recorder();
        const abort = new AbortController();
        const stopper = { iteration: (e: { iteration: number }) => e.iteration === stopAfter - 1 && abort.abort() };
        const a = await train(DATA, HP, { listeners: [first.listener, stopper], signal: abort.signal });
        expect(a.interrupted).toBe(true);
        expect(a.iterations).toBe(stopAfter);
        // through JSON, as the CLI stores it
        const json = JSON.parse(JSON.stringify(toCheckpointJson(a.state, "0".repeat(64))));
        const state = stateFromCheckpoint(CheckpointSchema.parse(json), { inputSize: 16, hiddenSize: HP.hiddenSize, outputSize: 10 });
        if (typeof state === "string") throw new Error(state);
        const second = recorder();
        const b = await train(DATA, HP, { listeners: [second.listener], resumeFrom: state });
        expect(b.interrupted).toBe(false);
        expect(b.net.params).toEqual(whole.net.params);
        expect([...first.losses, ...second.losses]).toEqual(full.losses);
        expect([...first.epochs, ...second.epochs]).toEqual(full.epochs);
        expect([b.finalLoss, b.trainAccuracy, b.testAccuracy]).toEqual([whole.finalLoss, whole.trainAccuracy, whole.testAccuracy]);
      }),
      { numRuns: 15 },
    );
  });

  it("checkpoint events every N iterations carry resumable snapshots, never the last iteration", async () => {
    const states: TrainState[] = [];
    const whole = await train(DATA, HP, { listeners: [{ checkpoint: (s: TrainState) => states.push(s) }], checkpointEvery: 20 });
    expect(states.map((s) => s.iteration)).toEqual([20, 40]);
    const resumed = await train(DATA, HP, { resumeFrom: states[1] });
    expect(resumed.net.params).toEqual(whole.net.params);
  });
});

describe("resume with Adadelta (two slots per parameter)", () => {
  // PyTorch's example: Adadelta at lr 1.0, StepLR(1, 0.7); 15 iterations per epoch, so 60 cross four rates
  const adadelta = (dtype: "float32" | "float64"): ResolvedHyperparameters => ({
    ...HP, hiddenSize: [6, 5], activation: "relu", init: "he", optimizer: "adadelta", adadeltaRho: 0.9, lr: 1.0,
    lrSchedule: "step", lrStepEpochs: 1, lrGamma: 0.7, weightDecay: 0.001, dtype,
  });
  for (const dtype of ["float32", "float64"] as const) {
    it(`${dtype}: stopping at any iteration and resuming through checkpoint.json gives the uninterrupted run bit for bit`, async () => {
      const hp = adadelta(dtype);
      const full = recorder();
      const whole = await train(DATA, hp, { listeners: [full.listener] });
      expect(Object.values(whole.state.optimizer!.slots).every((s) => s.length === 2)).toBe(true);
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: hp.iters - 1 }), async (stopAfter) => {
          const first = recorder();
          const abort = new AbortController();
          const stopper = { iteration: (e: { iteration: number }) => e.iteration === stopAfter - 1 && abort.abort() };
          const a = await train(DATA, hp, { listeners: [first.listener, stopper], signal: abort.signal });
          expect(a.interrupted).toBe(true);
          const json = JSON.parse(JSON.stringify(toCheckpointJson(a.state, "0".repeat(64))));
          const state = stateFromCheckpoint(CheckpointSchema.parse(json), { inputSize: 16, hiddenSize: [6, 5], outputSize: 10, optimizer: "adadelta", bookNet: false });
          if (typeof state === "string") throw new Error(state);
          expect(state.optimizer!.step).toBe(stopAfter);
          const second = recorder();
          const b = await train(DATA, hp, { listeners: [second.listener], resumeFrom: state });
          expect(b.net.params).toEqual(whole.net.params);
          expect(b.state.optimizer).toEqual(whole.state.optimizer);
          expect([...first.losses, ...second.losses]).toEqual(full.losses);
          expect([...first.epochs, ...second.epochs]).toEqual(full.epochs);
        }),
        { numRuns: 8 },
      );
    });
  }

  it("a checkpoint with one slot per parameter is refused for an adadelta run", async () => {
    const a = await train(DATA, { ...adadelta("float32"), iters: 5 });
    const json = JSON.parse(JSON.stringify(toCheckpointJson(a.state, "0".repeat(64))));
    for (const k of Object.keys(json.optimizer.slots)) json.optimizer.slots[k] = json.optimizer.slots[k].slice(0, 1);
    const state = stateFromCheckpoint(CheckpointSchema.parse(json), { inputSize: 16, hiddenSize: [6, 5], outputSize: 10, optimizer: "adadelta", bookNet: false });
    expect(state).toMatch(/has 1 arrays, expected 2 for adadelta/);
  });
});

describe("divergence", () => {
  it("a non-finite loss stops training at once and is reported with its iteration", async () => {
    const losses: number[] = [];
    const r = await train(DATA, { ...HP, lr: 1e308 }, { listeners: [{ iteration: (e: { loss: number }) => losses.push(e.loss) }] });
    expect(r.diverged).toBeDefined();
    expect(Number.isFinite(r.diverged!.loss)).toBe(false);
    expect(r.iterations).toBe(r.diverged!.iteration + 1);
    expect(losses).toHaveLength(r.iterations);
    expect(r.interrupted).toBe(false);
  });

  it("the loss pass on a second thread stops at the same iteration with the same state (divergence, abort)", async () => {
    const run = async (threads: number, lr: number, stopAt = -1) => {
      const seen: unknown[] = [];
      const abort = new AbortController();
      const listener = {
        iteration: (e: { iteration: number; loss: number }) => {
          seen.push([e.iteration, e.loss]);
          if (e.iteration === stopAt) abort.abort();
        },
        epoch: (e: EpochEvent) => seen.push([e.epoch, e.iteration, e.trainAccuracy, e.testAccuracy]),
      };
      const r = await train(DATA, { ...HP, lr }, { threads, lossThread: "always", signal: abort.signal, listeners: [listener] });
      return { seen, iterations: r.iterations, diverged: r.diverged, interrupted: r.interrupted, state: { ...r.state, elapsedS: 0 } };
    };
    // lr 3e38 overflows float32 at iteration 3, one whose loss the second thread computes
    const one = await run(1, 3e38);
    expect(one.diverged?.iteration).toBe(3);
    expect(await run(2, 3e38)).toEqual(one);
    for (const stopAt of [2, 7, 8, 13]) expect(await run(2, HP.lr, stopAt)).toEqual(await run(1, HP.lr, stopAt));
  });

  it("finite losses never trigger it (a large but finite lr stalls, it does not overflow)", async () => {
    const r = await train(DATA, { ...HP, lr: 10 });
    expect(r.diverged).toBeUndefined();
    expect(r.iterations).toBe(HP.iters);
  });
});
