/** Beyond chapter 4 in the trainer: optimizers, schedules, shuffling, validation, early stopping, the MultiLayerNet's fast path and exact resume. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import type { MnistSplit } from "../../../src/data/mnist.js";
import { MultiLayerNet } from "../../../src/reference/multi-layer-net.js";
import { AnyModelJsonSchema, netFromModelJson, toModelJson } from "../../../src/run/model-json.js";
import { CheckpointSchema, stateFromCheckpoint, toCheckpointJson } from "../../../src/run/checkpoint.js";
import { HyperparametersSchema, type ResolvedHyperparameters } from "../../../src/train/hyperparameters.js";
import { Optimizer, OPTIMIZERS } from "../../../src/reference/optimizers.js";
import { scheduledLr } from "../../../src/train/schedule.js";
import { train, type EpochEvent } from "../../../src/train/trainer.js";

function split(count: number, seed: number): MnistSplit {
  const rng = new Rng(seed);
  const images = new Uint8Array(count * 4 * 4);
  for (let i = 0; i < images.length; i++) images[i] = rng.uniform() < 0.6 ? 0 : rng.int(256);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = rng.int(10);
  return { count, rows: 4, cols: 4, images, labels };
}
const DATA = { train: split(150, 1), test: split(40, 2) };
const hp = (o: Partial<ResolvedHyperparameters>): ResolvedHyperparameters =>
  ({ ...HyperparametersSchema.parse({}), iters: 60, batchSize: 8, lr: 0.01, hiddenSize: [6, 5], seed: 11, evalEvery: 7, ...o }) as ResolvedHyperparameters;
const BEYOND = hp({ activation: "relu", init: "he", optimizer: "adam", weightDecay: 0.001, dropout: 0.2, sampling: "shuffle", lrSchedule: "cosine", valSize: 30, earlyStop: 3 });

describe("optimizers (the book's common/optimizer.py)", () => {
  const config = { momentum: 0.9, rmsDecay: 0.99, beta1: 0.9, beta2: 0.999, adadeltaRho: 0.9 };
  const run = (optimizer: (typeof OPTIMIZERS)[number]) => {
    const opt = new Optimizer({ optimizer, ...config }, { p: 1 });
    const p = Float64Array.of(1);
    for (const g of [0.5, -0.25]) {
      opt.begin(0.1);
      opt.update("p", p, Float64Array.of(g), 0.1);
    }
    return p[0];
  };
  it("two steps of each match the formulas by hand", () => {
    expect(run("sgd")).toBeCloseTo(1 - 0.05 + 0.025, 15);
    // momentum: v1 = −0.05, p = 0.95; v2 = −0.045 + 0.025 = −0.02, p = 0.93
    expect(run("momentum")).toBeCloseTo(0.93, 15);
    // nesterov: v1 = −0.05; p += 0.81·v1 − 1.9·0.05 → 1 − 0.0405 − 0.095
    const p1 = 1 - 0.0405 - 0.095;
    const v2 = 0.9 * -0.05 + 0.025;
    expect(run("nesterov")).toBeCloseTo(p1 + 0.81 * v2 + 1.9 * 0.025, 15);
    // adagrad: h1 = 0.25, h2 = 0.3125
    expect(run("adagrad")).toBeCloseTo(1 - 0.05 / (0.5 + 1e-7) + 0.025 / (Math.sqrt(0.3125) + 1e-7), 15);
    // rmsprop: h1 = 0.0025, h2 = 0.99·0.0025 + 0.01·0.0625
    const h2 = 0.99 * 0.0025 + 0.01 * 0.0625;
    expect(run("rmsprop")).toBeCloseTo(1 - 0.05 / (0.05 + 1e-7) + 0.025 / (Math.sqrt(h2) + 1e-7), 15);
    // adam
    let p = 1, m = 0, v = 0;
    [0.5, -0.25].forEach((g, k) => {
      const lrT = (0.1 * Math.sqrt(1 - 0.999 ** (k + 1))) / (1 - 0.9 ** (k + 1));
      m += 0.1 * (g - m);
      v += 0.001 * (g * g - v);
      p -= (lrT * m) / (Math.sqrt(v) + 1e-7);
    });
    expect(run("adam")).toBeCloseTo(p, 15);
  });

  it("schedules: constant, step (γ every N iterations), cosine (to 0 at the end)", () => {
    expect(scheduledLr("constant", 0.1, 50, 100, 10, 0.5)).toBe(0.1);
    expect(scheduledLr("step", 0.1, 25, 100, 10, 0.5)).toBeCloseTo(0.025, 15);
    expect(scheduledLr("cosine", 0.1, 0, 100, 10, 0.5)).toBe(0.1);
    expect(scheduledLr("cosine", 0.1, 50, 100, 10, 0.5)).toBeCloseTo(0.05, 15);
  });
});

describe("trainer beyond chapter 4", () => {
  it("the fast float32 MultiLayerNet path follows the float64 reference MultiLayerNet (every option on)", async () => {
    const losses = { fast: [] as number[], ref: [] as number[] };
    const noStop = { ...BEYOND, earlyStop: undefined };
    const a = await train(DATA, noStop, { listeners: [{ iteration: (e) => losses.fast.push(e.loss) }] });
    const b = await train(DATA, noStop, { kernels: "reference", listeners: [{ iteration: (e) => losses.ref.push(e.loss) }] });
    expect(a.net).toBeInstanceOf(MultiLayerNet);
    expect(losses.fast).toHaveLength(60);
    for (let i = 0; i < 60; i++) expect(Math.abs(losses.fast[i] - losses.ref[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(losses.ref[i])));
    for (const name of (b.net as MultiLayerNet).paramNames) {
      const pa = (a.net as MultiLayerNet).params[name], pb = (b.net as MultiLayerNet).params[name];
      for (let i = 0; i < pa.length; i++) expect(Math.abs(pa[i] - pb[i])).toBeLessThan(1e-4);
    }
  });

  it("Adadelta as PyTorch's example runs it (lr 1.0, StepLR 0.7 every epoch): float64 on the engine is the reference run bit for bit, float32 follows it", async () => {
    // 150 training images, batch 8: 18 iterations per epoch, so 60 iterations span four learning rates
    const run = (dtype: "float32" | "float64") =>
      hp({ optimizer: "adadelta", lr: 1.0, lrSchedule: "step", lrStepEpochs: 1, lrGamma: 0.7, activation: "relu", init: "he", weightDecay: 0.001, dtype });
    const losses = { f64: [] as number[], ref: [] as number[], f32: [] as number[] };
    const ref = await train(DATA, run("float64"), { kernels: "reference", listeners: [{ iteration: (e) => losses.ref.push(e.loss) }] });
    const f64 = await train(DATA, run("float64"), { listeners: [{ iteration: (e) => losses.f64.push(e.loss) }] });
    const f32 = await train(DATA, run("float32"), { listeners: [{ iteration: (e) => losses.f32.push(e.loss) }] });
    expect(losses.ref).toHaveLength(60);
    expect(losses.f64).toEqual(losses.ref);
    expect(f64.net.params).toEqual(ref.net.params);
    expect([f64.finalLoss, f64.trainAccuracy, f64.testAccuracy]).toEqual([ref.finalLoss, ref.trainAccuracy, ref.testAccuracy]);
    for (let i = 0; i < 60; i++) expect(Math.abs(losses.f32[i] - losses.ref[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(losses.ref[i])));
    // it trains: the loss falls
    expect(losses.ref.slice(-10).reduce((a, b) => a + b) / 10).toBeLessThan(losses.ref.slice(0, 10).reduce((a, b) => a + b) / 10);
  });

  it("validation: the last valSize training images, accuracy per evaluation; early stop keeps the best weights", async () => {
    const events: EpochEvent[] = [];
    const r = await train(DATA, { ...BEYOND, iters: 400, lr: 0.05 }, { listeners: [{ epoch: (e) => events.push(e) }] });
    expect(events.every((e) => e.valAccuracy !== undefined)).toBe(true);
    const best = Math.max(...events.map((e) => e.valAccuracy!));
    expect(r.valAccuracy).toBe(best);
    expect(r.earlyStopped).toBeDefined();
    expect(r.iterations).toBeLessThan(400);
    expect(r.earlyStopped!.bestValAccuracy).toBe(best);
    // the restored weights are the best evaluation's: its test accuracy comes back too
    const bestEvent = events.find((e) => e.valAccuracy === best)!;
    expect(r.testAccuracy).toBe(bestEvent.testAccuracy);
  });

  it("shuffle sampling: each epoch's batches are a permutation of the training images", async () => {
    // 120 training images (150 − 30 held out), batch 8: 15 iterations per epoch cover all of them once
    const r = await train(DATA, { ...BEYOND, iters: 15, earlyStop: undefined }, {});
    expect(r.iterations).toBe(15);
    expect(r.state.sampler!.pos).toBe(120);
    expect([...r.state.sampler!.order].sort((x, y) => x - y)).toEqual([...Array(120).keys()]);
  });

  it("stopping anywhere and resuming through checkpoint.json gives the uninterrupted run bit for bit (Adam, shuffle, dropout, early stop)", async () => {
    const run = { ...BEYOND, iters: 80 };
    const rec = () => {
      const r = { losses: [] as number[], epochs: [] as unknown[] };
      return { r, l: { iteration: (e: { loss: number }) => r.losses.push(e.loss), epoch: (e: EpochEvent) => r.epochs.push({ ...e, elapsedS: 0 }) } };
    };
    const full = rec();
    const whole = await train(DATA, run, { listeners: [full.l] });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: whole.iterations - 1 }), async (stopAfter) => {
        const first = rec();
        const abort = new AbortController();
        const stopper = { iteration: (e: { iteration: number }) => e.iteration === stopAfter - 1 && abort.abort() };
        const a = await train(DATA, run, { listeners: [first.l, stopper], signal: abort.signal });
        if (!a.interrupted) return; // early stop came first
        const json = JSON.parse(JSON.stringify(toCheckpointJson(a.state, "0".repeat(64))));
        const state = stateFromCheckpoint(CheckpointSchema.parse(json), { inputSize: 16, hiddenSize: [6, 5], outputSize: 10 });
        if (typeof state === "string") throw new Error(state);
        const second = rec();
        const b = await train(DATA, run, { listeners: [second.l], resumeFrom: state });
        expect(b.net.params).toEqual(whole.net.params);
        expect([...first.r.losses, ...second.r.losses]).toEqual(full.r.losses);
        expect([...first.r.epochs, ...second.r.epochs]).toEqual(full.r.epochs);
      }),
      { numRuns: 8 },
    );
  });

  it("model.json of an MultiLayerNet round-trips (architecture mlp, W1…Wn, b1…bn)", async () => {
    const r = await train(DATA, { ...BEYOND, iters: 10, earlyStop: undefined });
    const json = JSON.parse(JSON.stringify(toModelJson(r.net)));
    expect(json.architecture).toEqual({ type: "mlp", sizes: [16, 6, 5, 10], activation: "relu" });
    expect(Object.keys(json.params)).toEqual(["W1", "b1", "W2", "b2", "W3", "b3"]);
    const net = netFromModelJson(AnyModelJsonSchema.parse(json)) as MultiLayerNet;
    expect(net.params).toEqual(r.net.params);
    json.params.W3.shape = [5, 9];
    expect(AnyModelJsonSchema.safeParse(json).success).toBe(false);
  });
});
