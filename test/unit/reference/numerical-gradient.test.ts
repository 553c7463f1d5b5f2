// The fast numerical gradient against the book's naive loop (the reference), single-threaded and
// on worker threads (from dist/, which the build produces: workers run compiled JavaScript).
import { beforeAll, describe, expect, it } from "vitest";
import type { Labels } from "../../../src/book/functions.js";
import { Rng } from "../../../src/book/rng.js";
import { loadMnistRaw, PIXEL_SCALE, type MnistRaw } from "../../../src/data/mnist.js";
import { fastNumericalGradient } from "../../../src/reference/numerical-gradient.js";
import { PARAM_NAMES, TwoLayerNet, type Grads } from "../../../src/reference/two-layer-net.js";
import { train as trainSrc } from "../../../src/train/trainer.js";
import type { ResolvedHyperparameters } from "../../../src/train/hyperparameters.js";
import { NumericalGradientPool } from "../../../dist/engine/numerical-gradient-pool.js";
import { train as trainDist } from "../../../dist/train/trainer.js";

/** The bound: 1e-9 relative or 1e-11 absolute, for every parameter. Returns the misses. */
function mismatches(fast: Grads, naive: Grads): string[] {
  const bad: string[] = [];
  for (const k of PARAM_NAMES) {
    expect(fast[k].length).toBe(naive[k].length);
    for (let i = 0; i < fast[k].length; i++) {
      const a = fast[k][i], b = naive[k][i];
      const d = Math.abs(a - b);
      if (!(d <= 1e-11 || d <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)))) bad.push(`${k}[${i}]: fast ${a}, naive ${b}`);
    }
  }
  return bad;
}

function oneHot(labels: ArrayLike<number>, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let r = 0; r < labels.length; r++) out[r * classes + labels[r]] = 1;
  return out;
}

function bitsEqual(a: Grads, b: Grads): boolean {
  return PARAM_NAMES.every((k) => a[k].length === b[k].length && a[k].every((v, i) => Object.is(v, b[k][i])));
}

describe("fast numerical gradient on small random nets", () => {
  const cases = [
    { I: 6, H: 5, O: 3, N: 4, std: 0.5, seed: 1 },
    { I: 12, H: 7, O: 4, N: 5, std: 1, seed: 2 },
    { I: 20, H: 3, O: 10, N: 3, std: 0.01, seed: 3 },
    { I: 9, H: 8, O: 2, N: 6, std: 3, seed: 4 }, // large weights: the exact (non-series) path
  ];
  for (const c of cases) {
    for (const labels of ["index", "one-hot"] as const) {
      it(`${c.I}-${c.H}-${c.O}, batch ${c.N}, std ${c.std}, ${labels} labels: equals the naive loop; zero-pixel columns are exactly 0`, () => {
        const rng = new Rng(c.seed);
        const net = new TwoLayerNet(c.I, c.H, c.O, { weightInitStd: c.std, rng });
        for (const v of [net.params.b1, net.params.b2]) for (let i = 0; i < v.length; i++) v[i] = rng.normal() * c.std;
        const x = new Float64Array(c.N * c.I);
        for (let i = 0; i < x.length; i++) x[i] = rng.uniform() < 0.4 ? 0 : rng.uniform();
        for (let n = 0; n < c.N; n++) x[n * c.I + 1] = 0; // pixel 1 is 0 in every image
        const idx = Int32Array.from({ length: c.N }, () => rng.int(c.O));
        const t: Labels = labels === "index" ? idx : oneHot(idx, c.O);
        const before = PARAM_NAMES.map((k) => Float64Array.from(net.params[k]));
        const fast = fastNumericalGradient(net, x, t);
        PARAM_NAMES.forEach((k, i) => expect(net.params[k]).toEqual(before[i])); // parameters untouched
        const naive = net.numericalGradient(x, t);
        expect(mismatches(fast, naive)).toEqual([]);
        for (let j = 0; j < c.H; j++) {
          expect(Object.is(fast.W1[1 * c.H + j], 0)).toBe(true);
          expect(naive.W1[1 * c.H + j]).toBe(0);
        }
      });
    }
  }

  it("rejects labels the loss rejects", () => {
    const net = new TwoLayerNet(4, 3, 2, { seed: 1 });
    const x = new Float64Array(8).fill(0.5);
    expect(() => fastNumericalGradient(net, x, Uint8Array.of(0, 2))).toThrow(/outside 0\.\.1/);
    expect(() => fastNumericalGradient(net, x, Uint8Array.of(0))).toThrow(RangeError);
  });
});

describe("fast numerical gradient on real MNIST", () => {
  let data: MnistRaw;
  beforeAll(async () => {
    data = await loadMnistRaw();
  });
  const batch = (start: number, n: number) => ({
    x: Float64Array.from(data.train.images.subarray(start * 784, (start + n) * 784), (v) => PIXEL_SCALE[v]),
    t: data.train.labels.slice(start, start + n),
  });

  for (const labels of ["index", "one-hot"] as const) {
    it(`784-12-10 on a 4-image minibatch (${labels} labels), at initialization and after 200 SGD steps`, () => {
      const net = new TwoLayerNet(784, 12, 10, { seed: 7 });
      const { x, t } = batch(100, 4);
      const tt: Labels = labels === "index" ? t : oneHot(t, 10);
      expect(mismatches(fastNumericalGradient(net, x, tt), net.numericalGradient(x, tt))).toEqual([]);
      // trained weights: larger W2, confident outputs
      const rng = new Rng(1);
      for (let s = 0; s < 200; s++) {
        const start = rng.int(1000);
        const b = batch(start, 20);
        net.sgdStep(net.gradient(b.x, b.t), 0.5);
      }
      const fast = fastNumericalGradient(net, x, tt);
      expect(mismatches(fast, net.numericalGradient(x, tt))).toEqual([]);
      // pixels that are 0 in all four images get exactly 0
      let zeroColumns = 0;
      for (let i = 0; i < 784; i++) {
        if ([0, 1, 2, 3].every((n) => x[n * 784 + i] === 0)) {
          zeroColumns++;
          for (let j = 0; j < 12; j++) expect(Object.is(fast.W1[i * 12 + j], 0)).toBe(true);
        }
      }
      expect(zeroColumns).toBeGreaterThan(300);
    });
  }

  it("worker threads give the single-threaded result bit for bit, for any thread count (784-50-10, batch 20)", async () => {
    const net = new TwoLayerNet(784, 50, 10, { seed: 3 });
    const { x, t } = batch(0, 20);
    const ref = fastNumericalGradient(net, x, t);
    for (const threads of [1, 2, 3]) {
      const pool = new NumericalGradientPool(threads);
      try {
        expect(bitsEqual(await pool.gradient(net, x, t), ref)).toBe(true);
        // a second call reuses the shared buffer; a different batch size grows it
        const b = batch(50, 33);
        expect(bitsEqual(await pool.gradient(net, b.x, b.t), fastNumericalGradient(net, b.x, b.t))).toBe(true);
      } finally {
        await pool.close();
      }
      await expect(pool.gradient(net, x, t)).rejects.toThrow(/closed/);
    }
  });

  it("training with --grad numerical gives the naive loop's model (784-4-10, batch 3, 4 iterations)", async () => {
    const hp: ResolvedHyperparameters = {
      iters: 4, batchSize: 3, lr: 0.1, hiddenSize: 4, grad: "numerical", weightInitStd: 0.01,
      seed: 11, evalEvery: 100, trainLimit: 300, testLimit: 100,
    };
    const splits = { train: data.train, test: data.test };
    const naive = await trainSrc(splits, hp, { numerical: { naive: true } });
    const fast1 = await trainSrc(splits, hp, { threads: 1 });
    const fast2 = await trainDist(splits, hp, { threads: 2 });
    for (const k of PARAM_NAMES) {
      expect(fast2.net.params[k]).toEqual(fast1.net.params[k]);
      // gradients agree to 1e-11; 4 steps of lr 0.1 move the parameters by at most 4e-12 apart
      for (let i = 0; i < naive.net.params[k].length; i++) expect(Math.abs(fast1.net.params[k][i] - naive.net.params[k][i])).toBeLessThan(1e-11);
    }
    expect(fast1.finalLoss).toBeCloseTo(naive.finalLoss, 10);
    expect(fast1.testAccuracy).toBe(naive.testAccuracy);
    const analytic = await trainSrc(splits, { ...hp, grad: "analytic" });
    for (const k of PARAM_NAMES) for (let i = 0; i < analytic.net.params[k].length; i++) expect(Math.abs(fast1.net.params[k][i] - analytic.net.params[k][i])).toBeLessThan(1e-6);
  });
});
