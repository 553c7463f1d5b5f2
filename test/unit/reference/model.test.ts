import { describe, expect, it } from "vitest";
import { crossEntropyError, numericalGradient, softmax } from "../../../src/book/functions.js";
import { Rng } from "../../../src/book/rng.js";
import { loadMnistRaw, PIXEL_SCALE } from "../../../src/data/mnist.js";
import { PARAM_NAMES, TwoLayerNet } from "../../../src/reference/two-layer-net.js";

function randomBatch(rng: Rng, n: number, width: number): Float64Array {
  const x = new Float64Array(n * width);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform();
  return x;
}

function maxRelError(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const scale = Math.max(Math.abs(a[i]), Math.abs(b[i]), 1e-8);
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
  }
  return worst;
}

describe("TwoLayerNet", () => {
  it("initializes like the book: Gaussian W (std), zero b, reproducible from the seed", () => {
    const a = new TwoLayerNet(784, 50, 10, { seed: 1 });
    const b = new TwoLayerNet(784, 50, 10, { seed: 1 });
    const c = new TwoLayerNet(784, 50, 10, { seed: 2 });
    for (const k of PARAM_NAMES) expect(a.params[k]).toEqual(b.params[k]);
    expect(a.params.W1).not.toEqual(c.params.W1);
    expect(a.params.b1.every((v) => v === 0) && a.params.b2.every((v) => v === 0)).toBe(true);
    const w = a.params.W1;
    let s = 0, s2 = 0;
    for (const v of w) (s += v), (s2 += v * v);
    expect(Math.abs(s / w.length)).toBeLessThan(0.0005);
    expect(Math.sqrt(s2 / w.length)).toBeCloseTo(0.01, 3);
    const wide = new TwoLayerNet(4, 3, 2, { weightInitStd: 0, seed: 5 });
    expect(wide.params.W1.every((v) => v === 0)).toBe(true);
  });

  it("predict gives softmax rows that sum to 1; loss matches the book's formula by hand", () => {
    const net = new TwoLayerNet(3, 2, 2, { seed: 3 });
    net.params.W1.set([0.1, -0.2, 0.3, 0.4, -0.5, 0.6]);
    net.params.b1.set([0.01, -0.02]);
    net.params.W2.set([1, -1, 0.5, 2]);
    net.params.b2.set([0.1, 0]);
    const x = Float64Array.of(1, 2, 3);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const h = [sig(0.1 + 0.6 - 1.5 + 0.01), sig(-0.2 + 0.8 + 1.8 - 0.02)];
    const a2 = [h[0] * 1 + h[1] * 0.5 + 0.1, -h[0] + 2 * h[1]];
    const y = softmax(Float64Array.from(a2));
    const pred = net.predict(x);
    expect(pred[0]).toBeCloseTo(y[0], 15);
    expect(pred[0] + pred[1]).toBeCloseTo(1, 15);
    expect(net.loss(x, Uint8Array.of(1))).toBeCloseTo(-Math.log(y[1] + 1e-7), 14);
    expect(net.accuracy(x, Uint8Array.of(y[1] > y[0] ? 1 : 0))).toBe(1);
  });

  for (const labels of ["one-hot", "index"] as const) {
    it(`analytic gradient equals the numerical one (6-5-3, batch 4, ${labels} labels)`, () => {
      const rng = new Rng(11);
      const net = new TwoLayerNet(6, 5, 3, { weightInitStd: 0.5, rng });
      for (const v of [net.params.b1, net.params.b2]) for (let i = 0; i < v.length; i++) v[i] = rng.normal() * 0.1;
      const x = randomBatch(rng, 4, 6);
      const idx = Uint8Array.of(0, 2, 1, 2);
      const t = labels === "index" ? idx : Float64Array.from([...idx].flatMap((k) => [0, 1, 2].map((j) => (j === k ? 1 : 0))));
      const analytic = net.gradient(x, t);
      // Back-propagation differentiates −log y; the book's loss is −log(y + 1e-7). Against the
      // δ-free loss the two agree to rounding; against the book's loss, to the δ/y ≈ 1e-6 bias.
      const exactLoss = () => {
        const y = net.predict(x);
        let s = 0;
        for (let r = 0; r < 4; r++) s += Math.log(y[r * 3 + idx[r]]);
        return -s / 4;
      };
      const bookNumeric = net.numericalGradient(x, t);
      for (const k of PARAM_NAMES) {
        expect(maxRelError(analytic[k], numericalGradient(exactLoss, net.params[k]))).toBeLessThan(1e-7);
        expect(maxRelError(analytic[k], bookNumeric[k])).toBeLessThan(1e-4);
      }
    });
  }

  it("one-hot and index labels give the same loss, accuracy and gradient", () => {
    const rng = new Rng(4);
    const net = new TwoLayerNet(5, 4, 3, { weightInitStd: 1, rng });
    const x = randomBatch(rng, 3, 5);
    const idx = Uint8Array.of(2, 0, 1);
    const hot = Float32Array.of(0, 0, 1, 1, 0, 0, 0, 1, 0);
    expect(net.loss(x, hot)).toBe(net.loss(x, idx));
    expect(net.accuracy(x, hot)).toBe(net.accuracy(x, idx));
    const g1 = net.gradient(x, hot), g2 = net.gradient(x, idx);
    for (const k of PARAM_NAMES) expect(g1[k]).toEqual(g2[k]);
    expect(() => net.gradient(x, Uint8Array.of(1, 2))).toThrow(RangeError);
    expect(() => net.predict(new Float64Array(7))).toThrow(/whole number/);
  });

  it("softmax output survives huge logits", () => {
    const net = new TwoLayerNet(2, 2, 3, { seed: 0 });
    net.params.W2.fill(0);
    net.params.b2.set([1000, -1000, 1000]);
    const y = net.predict(Float64Array.of(0.5, 0.5));
    expect(y[0]).toBeCloseTo(0.5, 12);
    expect(y[1]).toBe(0);
    expect(Number.isFinite(crossEntropyError(y, [1], 3))).toBe(true);
  });

  it("SGD on 2,000 real training images lowers the loss and reaches ≥ 85% on 1,000 test images", async () => {
    const data = await loadMnistRaw();
    const D = 784;
    const toFloat = (bytes: Uint8Array) => Float64Array.from(bytes, (v) => PIXEL_SCALE[v]);
    const xTrain = toFloat(data.train.images.subarray(0, 2000 * D));
    const tTrain = data.train.labels.subarray(0, 2000);
    const xTest = toFloat(data.test.images.subarray(0, 1000 * D));
    const tTest = data.test.labels.subarray(0, 1000);
    const rng = new Rng(0);
    const net = new TwoLayerNet(D, 50, 10, { rng });
    const before = net.loss(xTrain, tTrain);
    const xb = new Float64Array(100 * D);
    const tb = new Uint8Array(100);
    for (let step = 0; step < 600; step++) {
      const idx = rng.choice(2000, 100);
      for (let r = 0; r < 100; r++) {
        xb.set(xTrain.subarray(idx[r] * D, idx[r] * D + D), r * D);
        tb[r] = tTrain[idx[r]];
      }
      net.sgdStep(net.gradient(xb, tb), 0.5);
    }
    const after = net.loss(xTrain, tTrain);
    expect(before).toBeCloseTo(Math.log(10), 1);
    expect(after).toBeLessThan(0.6 * before);
    expect(net.accuracy(xTest, tTest)).toBeGreaterThanOrEqual(0.85);
  });
});
