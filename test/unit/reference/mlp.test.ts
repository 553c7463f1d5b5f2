import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import { ACTIVATIONS, MultiLayerNet } from "../../../src/reference/multi-layer-net.js";
import { PARAM_NAMES, TwoLayerNet } from "../../../src/reference/two-layer-net.js";

function randomBatch(rng: Rng, n: number, width: number): Float64Array {
  const x = new Float64Array(n * width);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform();
  return x;
}

/** Worst |a − b| of each parameter tensor relative to the tensor's largest |b| (tiny entries do not blow it up). */
function worstRelError(net: MultiLayerNet, a: Record<string, Float64Array>, b: Record<string, Float64Array>): number {
  let worst = 0;
  for (const name of net.paramNames) {
    let scale = 1e-8;
    for (const v of b[name]) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < a[name].length; i++) worst = Math.max(worst, Math.abs(a[name][i] - b[name][i]) / scale);
  }
  return worst;
}

describe("MultiLayerNet", () => {
  it("with the book's settings draws the same weights and computes bit for bit what TwoLayerNet does", () => {
    const book = new TwoLayerNet(784, 50, 10, { seed: 7 });
    const mlp = new MultiLayerNet([784, 50, 10], { seed: 7 });
    for (const k of PARAM_NAMES) expect(mlp.params[k]).toEqual(book.params[k]);
    const rng = new Rng(3);
    const x = randomBatch(rng, 20, 784);
    const t = Uint8Array.from({ length: 20 }, () => rng.int(10));
    expect(mlp.predict(x)).toEqual(book.predict(x));
    expect(mlp.loss(x, t)).toBe(book.loss(x, t));
    const g1 = mlp.gradient(x, t);
    const g2 = book.gradient(x, t);
    for (const k of PARAM_NAMES) expect(g1[k]).toEqual(g2[k]);
  });

  it("initializes std / Xavier / He with the book's scales and zero biases", () => {
    const stdOf = (w: Float64Array) => Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    const xavier = new MultiLayerNet([400, 300, 10], { init: "xavier", seed: 1 });
    const he = new MultiLayerNet([400, 300, 10], { init: "he", seed: 1 });
    expect(stdOf(xavier.params.W1)).toBeCloseTo(Math.sqrt(1 / 400), 3);
    expect(stdOf(xavier.params.W2)).toBeCloseTo(Math.sqrt(1 / 300), 2);
    expect(stdOf(he.params.W1)).toBeCloseTo(Math.sqrt(2 / 400), 3);
    expect(he.params.b1.every((v) => v === 0) && he.params.b2.every((v) => v === 0)).toBe(true);
    expect(new MultiLayerNet([3, 4, 4, 2], { seed: 1 }).paramNames).toEqual(["W1", "b1", "W2", "b2", "W3", "b3"]);
  });

  describe("gradient check (analytic vs central differences, float64)", () => {
    for (const activation of ACTIVATIONS) {
      for (const hidden of [[6], [6, 5]]) {
        it(`${activation}, hidden ${hidden.join("-")}`, () => {
          const net = new MultiLayerNet([7, ...hidden, 4], { activation, init: "std", weightInitStd: 0.5, seed: 11 });
          for (const name of net.paramNames) if (name.startsWith("b")) new Rng(5).fillNormal(net.params[name], 0.1);
          const rng = new Rng(2);
          const x = randomBatch(rng, 5, 7);
          const t = Uint8Array.from({ length: 5 }, () => rng.int(4));
          expect(worstRelError(net, net.gradient(x, t), net.numericalGradient(x, t))).toBeLessThan(1e-5);
        });
      }
    }

    it("weight decay: ½λΣW² in the loss, λW in the weight gradients", () => {
      const net = new MultiLayerNet([7, 6, 5, 4], { activation: "relu", init: "he", weightDecay: 0.1, seed: 3 });
      const rng = new Rng(4);
      const x = randomBatch(rng, 5, 7);
      const t = Uint8Array.from({ length: 5 }, () => rng.int(4));
      expect(worstRelError(net, net.gradient(x, t), net.numericalGradient(x, t))).toBeLessThan(1e-5);
      const plain = new MultiLayerNet([7, 6, 5, 4], { activation: "relu", init: "he", seed: 3 });
      let s = 0;
      for (const w of ["W1", "W2", "W3"]) for (const v of plain.params[w]) s += v * v;
      expect(net.loss(x, t)).toBeCloseTo(plain.loss(x, t) + 0.05 * s, 12);
    });

    it("dropout with a fixed mask (inverted: kept units scaled by 1/(1 − p))", () => {
      for (const activation of ACTIVATIONS) {
        const net = new MultiLayerNet([7, 6, 5, 4], { activation, init: "xavier", dropout: 0.5, seed: 9 });
        const rng = new Rng(6);
        const x = randomBatch(rng, 5, 7);
        const t = Uint8Array.from({ length: 5 }, () => rng.int(4));
        const masks = net.dropoutMasks(5, new Rng(8));
        expect(masks.map((m) => m.length)).toEqual([30, 25]);
        expect(masks.every((m) => m.every((v) => v === 0 || v === 2))).toBe(true);
        expect(masks.some((m) => m.some((v) => v === 0))).toBe(true);
        expect(worstRelError(net, net.gradient(x, t, masks), net.numericalGradient(x, t, masks))).toBeLessThan(1e-5);
        // a dropped unit gets no gradient through it: its incoming weights' gradient is 0 when dropped in every row
        expect(net.loss(x, t, masks)).not.toBe(net.loss(x, t));
      }
    });
  });
});
