/**
 * Data augmentation in the trainer: the step and the loss pass see each batch's augmented copy,
 * made from a generator keyed by (seed, iteration); runs are reproducible, resumable bit for bit,
 * the same on the float64 engine and the reference nets and on any thread count; evaluation sees
 * the real images; the run's own generator draws exactly what it draws without augmentation.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import { augmentBatch, IMAGE_PIXELS } from "../../../src/data/augment.js";
import type { MnistSplit } from "../../../src/data/mnist.js";
import { TwoLayerNet } from "../../../src/reference/two-layer-net.js";
import { CheckpointSchema, stateFromCheckpoint, toCheckpointJson } from "../../../src/run/checkpoint.js";
import { augmentState, BatchAugmenter } from "../../../src/train/augmentation.js";
import { gatherBatch, predictSplit } from "../../../src/train/evaluate.js";
import { HyperparametersSchema, type ResolvedHyperparameters } from "../../../src/train/hyperparameters.js";
import { initialNet, train, type EpochEvent, type TrainOptions } from "../../../src/train/trainer.js";

/** 28×28 images with a random digit-sized patch (zero borders, as MNIST), labels at random. */
function split(count: number, seed: number): MnistSplit {
  const rng = new Rng(seed);
  const images = new Uint8Array(count * IMAGE_PIXELS);
  for (let i = 0; i < count; i++) {
    for (let y = 6; y < 22; y++) for (let x = 8; x < 20; x++) if (rng.uniform() < 0.5) images[i * IMAGE_PIXELS + y * 28 + x] = rng.int(256);
  }
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = rng.int(10);
  return { count, rows: 28, cols: 28, images, labels };
}
const DATA = { train: split(200, 1), test: split(60, 2) };
const hp = (o: Partial<ResolvedHyperparameters> = {}): ResolvedHyperparameters =>
  ({ ...HyperparametersSchema.parse({}), iters: 40, batchSize: 10, lr: 0.5, hiddenSize: 8, seed: 5, evalEvery: 9, augment: true, ...o }) as ResolvedHyperparameters;
const MLP: Partial<ResolvedHyperparameters> = { hiddenSize: [8, 6], activation: "relu", init: "he", optimizer: "adam", lr: 0.01, dropout: 0.2, weightDecay: 1e-3 };

/** A run's iteration losses, evaluations and result. */
async function run(h: ResolvedHyperparameters, options: TrainOptions = {}) {
  const losses: number[] = [];
  const epochs: unknown[] = [];
  const r = await train(DATA, h, {
    threads: 1,
    ...options,
    listeners: [...(options.listeners ?? []), { iteration: (e) => losses.push(e.loss), epoch: (e: EpochEvent) => epochs.push({ ...e, elapsedS: 0 }) }],
  });
  return { losses, epochs, r };
}

describe("augmentState", () => {
  it("is a function of (seed, iteration): another iteration or seed changes every word, and it is not the run's own stream", () => {
    expect(augmentState(5, 7)).toEqual(augmentState(5, 7));
    const states = [augmentState(5, 7), augmentState(5, 8), augmentState(6, 7), augmentState(5, 7 + 2 ** 32)];
    for (let a = 0; a < states.length; a++) for (let b = a + 1; b < states.length; b++) for (let k = 0; k < 4; k++) expect(states[a].s[k]).not.toBe(states[b].s[k]);
    expect(augmentState(5, 0).s).not.toEqual(new Rng(5).getState().s);
    // no two iterations of a run share a word (each word is one-to-one in the iteration)
    for (let k = 0; k < 4; k++) expect(new Set(Array.from({ length: 5000 }, (_, i) => augmentState(3, i).s[k])).size).toBe(5000);
  });
});

describe("training on augmented batches", () => {
  it("iteration 0 is a step on the augmented batch and the loss of the updated net on that same batch", async () => {
    const h = hp({ iters: 1 });
    const { losses, r } = await run(h, { kernels: "reference" });
    // by hand: the book's init and draw from the run's generator, the batch from augmentState(seed, 0)
    const rng = new Rng(h.seed);
    const net = initialNet(784, 10, h, rng) as TwoLayerNet;
    const indices = rng.choice(DATA.train.count, h.batchSize);
    const images = new Uint8Array(h.batchSize * IMAGE_PIXELS);
    const augmentRng = new Rng(0);
    augmentRng.setState(augmentState(h.seed, 0));
    augmentBatch(DATA.train.images, indices, images, augmentRng, { shift: 2, rotate: 10, scale: 0.1 });
    const x = new Float64Array(h.batchSize * 784);
    const t = new Uint8Array(h.batchSize);
    gatherBatch({ ...DATA.train, count: h.batchSize, images, labels: Uint8Array.from(indices, (i) => DATA.train.labels[i]) }, Int32Array.from(indices.keys()), x, t);
    const grads = net.gradient(x, t);
    for (const name of ["W1", "b1", "W2", "b2"] as const) for (let j = 0; j < net.params[name].length; j++) net.params[name][j] -= h.lr * grads[name][j];
    expect(losses).toEqual([net.loss(x, t)]);
    expect(r.net.params).toEqual(net.params);
  });

  it("changes the run; the same seed gives the same run bit for bit; the run's own generator draws what it draws without", async () => {
    for (const o of [{}, MLP]) {
      const a = await run(hp(o));
      const b = await run(hp(o));
      const plain = await run(hp({ ...o, augment: false }));
      expect(a.losses).toEqual(b.losses);
      expect(a.epochs).toEqual(b.epochs);
      expect(a.r.net.params).toEqual(b.r.net.params);
      expect(a.losses).toHaveLength(40);
      expect(a.losses.filter((l, i) => l === plain.losses[i])).toEqual([]);
      expect(a.r.net.params).not.toEqual(plain.r.net.params);
      // the same minibatches and dropout masks: the generator ends where the plain run's does
      expect(a.r.state.rng).toEqual(plain.r.state.rng);
    }
  });

  it("other bounds change the run; zero bounds are the plain run", async () => {
    const a = await run(hp());
    expect((await run(hp({ augmentRotate: 20 }))).losses).not.toEqual(a.losses);
    const none = await run(hp({ augmentShift: 0, augmentRotate: 0, augmentScale: 0 }));
    const plain = await run(hp({ augment: false }));
    expect(none.losses).toEqual(plain.losses);
    expect(none.r.net.params).toEqual(plain.r.net.params);
  });

  it("float64 on the engine is bit for bit the reference nets on the augmented batches (book net; MLP with dropout, Adam, weight decay)", async () => {
    for (const o of [{}, MLP, { lossPass: "before" as const }]) {
      const engine = await run(hp({ ...o, dtype: "float64" }));
      const reference = await run(hp({ ...o, dtype: "float64" }), { kernels: "reference" });
      expect(engine.losses).toEqual(reference.losses);
      expect(engine.epochs).toEqual(reference.epochs);
      expect(engine.r.net.params).toEqual(reference.r.net.params);
    }
  });

  it("does not depend on the thread count (the loss pass stays on the main thread)", async () => {
    for (const o of [{}, { dtype: "float64" as const }]) {
      const one = await run(hp(o), { threads: 1 });
      const two = await run(hp(o), { threads: 2, lossThread: "always" });
      expect(two.losses).toEqual(one.losses);
      expect(two.epochs).toEqual(one.epochs);
      expect(two.r.net.params).toEqual(one.r.net.params);
    }
  });

  it("evaluation sees the real images: the reported accuracies are the trained net's on the splits themselves", async () => {
    const h = hp({ iters: 60, valSize: 40 });
    const { r } = await run(h);
    const accuracy = (s: MnistSplit) => {
      const p = predictSplit(r.net, s, s.count, h.dtype);
      return p.filter((c, i) => c === s.labels[i]).length / s.count;
    };
    const trained = { ...DATA.train, count: 160, images: DATA.train.images.subarray(0, 160 * IMAGE_PIXELS), labels: DATA.train.labels.subarray(0, 160) };
    const val = { ...DATA.train, count: 40, images: DATA.train.images.subarray(160 * IMAGE_PIXELS), labels: DATA.train.labels.subarray(160) };
    expect(r.testAccuracy).toBe(accuracy(DATA.test));
    expect(r.trainAccuracy).toBe(accuracy(trained));
    expect(r.valAccuracy).toBe(accuracy(val));
  });

  it("stopping anywhere and resuming through checkpoint.json gives the uninterrupted run bit for bit", async () => {
    for (const o of [{}, { ...MLP, sampling: "shuffle" as const }]) {
      const h = hp(o);
      const whole = await run(h);
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: h.iters - 1 }), async (stopAfter) => {
          const abort = new AbortController();
          const stopper = { iteration: (e: { iteration: number }) => e.iteration === stopAfter - 1 && abort.abort() };
          const first = await run(h, { listeners: [stopper], signal: abort.signal });
          expect(first.r.interrupted).toBe(true);
          const json = JSON.parse(JSON.stringify(toCheckpointJson(first.r.state, "0".repeat(64))));
          const state = stateFromCheckpoint(CheckpointSchema.parse(json), { inputSize: 784, hiddenSize: h.hiddenSize, outputSize: 10 });
          if (typeof state === "string") throw new Error(state);
          const second = await run(h, { resumeFrom: state });
          expect([...first.losses, ...second.losses]).toEqual(whole.losses);
          expect([...first.epochs, ...second.epochs]).toEqual(whole.epochs);
          expect(second.r.net.params).toEqual(whole.r.net.params);
        }),
        { numRuns: 6 },
      );
    }
  });

  it("is for 28×28 images", () => {
    const small: MnistSplit = { count: 4, rows: 4, cols: 4, images: new Uint8Array(64), labels: new Uint8Array(4) };
    expect(() => new BatchAugmenter(small, 2, 1, { shift: 2, rotate: 10, scale: 0.1 })).toThrow(/augment: the images are 4×4; augmentation is for 28×28 images/);
  });
});
