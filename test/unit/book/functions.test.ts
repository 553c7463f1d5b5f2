// The seed notes' printed outputs (chapter 4 cells) are the expected values here.
import { describe, expect, it } from "vitest";
import {
  crossEntropyError,
  gradientDescent,
  meanSquaredError,
  numericalDiff,
  numericalGradient,
  sigmoid,
  sigmoidGrad,
  softmax,
} from "../../../src/book/functions.js";

const t = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
const y2 = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]; // "2" most likely
const y7 = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]; // "7" most likely

describe("loss functions (seed cells 3–7)", () => {
  it("mean squared error", () => {
    expect(meanSquaredError(y2, t)).toBeCloseTo(0.0975, 15);
    expect(meanSquaredError(y7, t)).toBeCloseTo(0.5975, 15);
    // The notes print 0.09750000000000003: NumPy's pairwise sum; ours agrees to the last few ulps.
    expect(Math.abs(meanSquaredError(y2, t) - 0.09750000000000003)).toBeLessThan(1e-16);
  });

  it("cross-entropy error, one-hot and index labels", () => {
    expect(crossEntropyError(y2, t)).toBe(0.510825457099338);
    expect(crossEntropyError(y7, t)).toBe(2.302584092994546);
    expect(crossEntropyError(y2, [2])).toBe(0.510825457099338);
    expect(crossEntropyError(Float64Array.from(y7), Uint8Array.of(2))).toBe(2.302584092994546);
  });

  it("batch cross-entropy is the mean over rows (the book's intent, not the notes' misplaced return)", () => {
    const y = Float64Array.from([...y2, ...y7]);
    const expected = (0.510825457099338 + 2.302584092994546) / 2;
    expect(crossEntropyError(y, Uint8Array.of(2, 2), 10)).toBeCloseTo(expected, 15);
    expect(crossEntropyError(y, Float64Array.from([...t, ...t]), 10)).toBeCloseTo(expected, 15);
    // a zero probability is guarded by delta = 1e-7: −log(1e-7)
    expect(crossEntropyError([0, 1], [1, 0])).toBeCloseTo(-Math.log(1e-7), 12);
  });

  it("rejects labels that fit neither form", () => {
    expect(() => crossEntropyError(Float64Array.from([...y2, ...y7]), [2, 2, 2], 10)).toThrow(RangeError);
    expect(() => crossEntropyError(y2, [12])).toThrow(/outside/);
  });
});

describe("activations", () => {
  it("sigmoid and its gradient, hand-computed", () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(Float64Array.of(-1, 0, 2))).toEqual(Float64Array.of(1 / (1 + Math.E), 0.5, 1 / (1 + Math.exp(-2))));
    expect(sigmoidGrad(0)).toBe(0.25);
    const s = 1 / (1 + Math.exp(-2));
    expect(sigmoidGrad(Float64Array.of(2))[0]).toBeCloseTo(s * (1 - s), 16);
  });

  it("softmax rows sum to 1 and survive logits of ±1000", () => {
    const y = softmax(Float64Array.of(0.3, 2.9, 4.0));
    expect(y[0] + y[1] + y[2]).toBeCloseTo(1, 15);
    expect(y[2]).toBeCloseTo(Math.exp(4) / (Math.exp(0.3) + Math.exp(2.9) + Math.exp(4)), 15);
    const big = softmax(Float64Array.of(1000, 1000, -1000, 990, -1000, 1000), 3);
    for (const v of big) expect(Number.isFinite(v)).toBe(true);
    expect(big[0]).toBeCloseTo(0.5, 15);
    expect(big[2]).toBe(0);
    expect(big[3]).toBeCloseTo(Math.exp(-10) / (1 + Math.exp(-10)), 15);
    expect(big[3] + big[4] + big[5]).toBeCloseTo(1, 15);
  });
});

describe("numerical differentiation (seed cells 15–30)", () => {
  const function1 = (x: number) => 0.01 * x ** 2 + 0.1 * x;
  const function2 = (x: Float64Array) => x[0] ** 2 + x[1] ** 2;

  it("numericalDiff of 0.01x² + 0.1x at 5 and 10", () => {
    expect(Math.abs(numericalDiff(function1, 5) - 0.1999999999990898)).toBeLessThan(1e-12);
    expect(Math.abs(numericalDiff(function1, 10) - 0.2999999999986347)).toBeLessThan(1e-12);
  });

  it("partial derivatives of x0² + x1²", () => {
    expect(Math.abs(numericalDiff((x0) => x0 * x0 + 4.0 ** 2.0, 3.0) - 6.00000000000378)).toBeLessThan(1e-12);
    expect(Math.abs(numericalDiff((x1) => 3.0 ** 2.0 + x1 * x1, 4.0) - 7.999999999999119)).toBeLessThan(1e-12);
  });

  it("numericalGradient at (3,4), (0,2), (3,0), restoring x", () => {
    for (const [x, g] of [
      [[3, 4], [6, 8]],
      [[0, 2], [0, 4]],
      [[3, 0], [6, 0]],
    ]) {
      const xs = Float64Array.from(x);
      const grad = numericalGradient(function2, xs);
      expect(grad[0]).toBeCloseTo(g[0], 9);
      expect(grad[1]).toBeCloseTo(g[1], 9);
      expect(Array.from(xs)).toEqual(x);
    }
  });

  it("numericalGradient works on a Float32Array too", () => {
    const xs = Float32Array.of(3, 4);
    const grad = numericalGradient((v: Float32Array) => v[0] ** 2 + v[1] ** 2, xs);
    // x ± h is stored in float32, so the difference quotient sees the rounded points
    const [xp, xm] = [Math.fround(3 + 1e-4), Math.fround(3 - 1e-4)];
    expect(grad[0]).toBe((xp ** 2 + 16 - (xm ** 2 + 16)) / 2e-4);
    expect(Array.from(xs)).toEqual([3, 4]);
  });

  it("gradient descent: lr 0.1 converges, lr 10 diverges, lr 1e-10 barely moves", () => {
    const init = [-3.0, 4.0];
    const good = gradientDescent(function2, init, 0.1, 100);
    expect(Math.hypot(good[0], good[1])).toBeLessThan(1e-8);
    // the notes print [-6.11110793e-10, 8.14814391e-10]
    expect(good[0]).toBeCloseTo(-6.11110793e-10, 17);
    expect(good[1]).toBeCloseTo(8.14814391e-10, 17);
    const bad = gradientDescent(function2, init, 10, 100);
    expect(Math.max(Math.abs(bad[0]), Math.abs(bad[1]))).toBeGreaterThan(1e10);
    const tiny = gradientDescent(function2, init, 1e-10, 100);
    expect(Math.abs(tiny[0] + 3)).toBeLessThan(1e-6);
    expect(Math.abs(tiny[1] - 4)).toBeLessThan(1e-6);
    // the notes print [-2.99999994, 3.99999992]
    expect(tiny[0]).toBeCloseTo(-2.99999994, 8);
    expect(tiny[1]).toBeCloseTo(3.99999992, 8);
    expect(init).toEqual([-3.0, 4.0]);
  });
});

describe("simpleNet (seed cells 31–36)", () => {
  // The notes print W to 8 digits, so p, the loss and dW match to about 1e-7.
  const W = Float64Array.of(-1.5502921, -0.54133735, -0.3463818, -0.45569383, 2.05034381, 0.69028705);
  const x = [0.6, 0.9];
  const predict = (w: Float64Array) => {
    const p = new Float64Array(3);
    for (let j = 0; j < 3; j++) p[j] = x[0] * w[j] + x[1] * w[3 + j];
    return p;
  };
  const loss = (w: Float64Array) => crossEntropyError(softmax(predict(w)), [0, 0, 1]);

  it("predict, argmax and loss", () => {
    const p = predict(W);
    [-1.3402997, 1.52050702, 0.41342926].forEach((v, j) => expect(p[j]).toBeCloseTo(v, 7));
    expect(p.indexOf(Math.max(...p))).toBe(1);
    expect(loss(W)).toBeCloseTo(1.4347581873029989, 7);
  });

  it("numerical gradient dW", () => {
    const dW = numericalGradient(loss, W);
    const expected = [0.0247405, 0.4323556, -0.4570961, 0.03711075, 0.64853339, -0.68564415];
    expected.forEach((v, i) => expect(dW[i]).toBeCloseTo(v, 6));
  });
});
