// The reference layers against three independent opinions: the book's printed im2col shapes
// (ch07), central differences (the book's gradient_check), and a NumPy implementation of the
// book's layers with PyTorch's conv2d / max_pool2d beside it (test/fixtures/reference-layers.py).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import { col2im, im2col } from "../../../src/reference/im2col.js";
import { Relu, Sigmoid, Tanh } from "../../../src/reference/layers/activations.js";
import { Affine } from "../../../src/reference/layers/affine.js";
import { BatchNormalization } from "../../../src/reference/layers/batch-normalization.js";
import { Convolution } from "../../../src/reference/layers/convolution.js";
import { Dropout } from "../../../src/reference/layers/dropout.js";
import { Flatten } from "../../../src/reference/layers/flatten.js";
import type { Layer, Shape } from "../../../src/reference/layers/layer.js";
import { Pooling } from "../../../src/reference/layers/pooling.js";
import { SoftmaxWithLoss } from "../../../src/reference/layers/softmax-with-loss.js";

const fixture = JSON.parse(readFileSync(new URL("../../fixtures/reference-layers.json", import.meta.url), "utf8"));

function randn(rng: Rng, n: number, std = 1): Float64Array {
  return rng.fillNormal(new Float64Array(n), std);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  expect(worst).toBeLessThan(tol);
}

/**
 * The book's gradient check for one layer: L = Σ r ⊙ forward(x) for a fixed random r, whose
 * gradient is backward(r); compared with central differences (h = 1e−4) for x and every
 * parameter. `before` runs ahead of every forward (to replay dropout's mask).
 */
function gradientCheck(layer: Layer, x: Float64Array, shape: Shape, train: boolean, rng: Rng, before: () => void = () => {}): void {
  before();
  const { y } = layer.forward(x, shape, train);
  const r = randn(rng, y.length);
  const dx = layer.backward(r);
  const analytic: Record<string, Float64Array> = { x: dx };
  for (const [k, g] of Object.entries(layer.grads)) analytic[k] = Float64Array.from(g);
  const L = (): number => {
    before();
    const out = layer.forward(x, shape, train).y;
    let s = 0;
    for (let i = 0; i < out.length; i++) s += r[i] * out[i];
    return s;
  };
  const arrays: Record<string, Float64Array> = { x, ...layer.params };
  const h = 1e-4;
  for (const [name, a] of Object.entries(arrays)) {
    const numerical = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) {
      const tmp = a[i];
      a[i] = tmp + h;
      const f1 = L();
      a[i] = tmp - h;
      const f2 = L();
      a[i] = tmp;
      numerical[i] = (f1 - f2) / (2 * h);
    }
    // Central differences of a smooth function are off by O(h²) ≈ 1e−8 here.
    expectClose(analytic[name], numerical, 1e-6);
  }
  // Every gradient is non-trivial, so a backward returning zeros could not pass.
  for (const g of Object.values(analytic)) expect(g.some((v) => Math.abs(v) > 1e-3)).toBe(true);
}

describe("im2col (book ch07)", () => {
  it("has the printed shapes: rand(1,3,7,7) → (9, 75), rand(10,3,7,7) → (90, 75)", () => {
    const rng = new Rng(1);
    const g = { C: 3, H: 7, W: 7, filterH: 5, filterW: 5, stride: 1, pad: 0 };
    expect(im2col(randn(rng, 1 * 3 * 7 * 7), { N: 1, ...g }).length).toBe(9 * 75);
    expect(im2col(randn(rng, 10 * 3 * 7 * 7), { N: 10, ...g }).length).toBe(90 * 75);
  });

  it("matches the book's NumPy im2col value for value (padding, a non-square window)", () => {
    const c = fixture.im2col;
    const [N, C, H, W] = c.shape;
    const col = im2col(Float64Array.from(c.x), { N, C, H, W, filterH: c.filter[0], filterW: c.filter[1], stride: c.stride, pad: c.pad });
    expect(c.colShape).toEqual([N * 4 * 5, C * 3 * 2]);
    expect(Array.from(col)).toEqual(c.col);
  });

  it("col2im is im2col's adjoint: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩", () => {
    const rng = new Rng(2);
    const g = { N: 2, C: 2, H: 5, W: 6, filterH: 3, filterW: 2, stride: 2, pad: 1 };
    const x = randn(rng, 2 * 2 * 5 * 6);
    const col = im2col(x, g);
    const c = randn(rng, col.length);
    const back = col2im(c, g);
    let lhs = 0;
    let rhs = 0;
    for (let i = 0; i < col.length; i++) lhs += col[i] * c[i];
    for (let i = 0; i < x.length; i++) rhs += x[i] * back[i];
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-12 * Math.max(1, Math.abs(lhs)));
  });
});

describe("Convolution", () => {
  it.each(fixture.conv.map((c: { stride: number; pad: number; wShape: number[] }, i: number) => [i, c.wShape.join("×"), c.stride, c.pad]))(
    "case %i: filters %s stride %i pad %i agrees with the NumPy book layer and with torch conv2d",
    (i) => {
      const c = fixture.conv[i as number];
      const conv = new Convolution(Float64Array.from(c.W), Float64Array.from(c.b), c.wShape, c.stride, c.pad);
      const { y, shape } = conv.forward(Float64Array.from(c.x), c.xShape, true);
      expect(shape).toEqual(c.yShape);
      const dx = conv.backward(Float64Array.from(c.dout));
      for (const ref of [c, c.torch]) {
        expectClose(y, ref.y, 1e-12);
        expectClose(dx, ref.dx, 1e-12);
        expectClose(conv.grads.W, ref.dW, 1e-12);
        expectClose(conv.grads.b, ref.db, 1e-12);
      }
    },
  );

  it("backward matches central differences (stride 2, pad 1, non-square filters)", () => {
    const rng = new Rng(3);
    const conv = new Convolution(randn(rng, 3 * 2 * 3 * 2), randn(rng, 3), [3, 2, 3, 2], 2, 1);
    gradientCheck(conv, randn(rng, 2 * 2 * 5 * 6), [2, 2, 5, 6], true, rng);
  });
});

describe("Pooling (max)", () => {
  it.each(fixture.pool.map((c: { pool: number[]; stride: number; pad: number }, i: number) => [i, c.pool.join("×"), c.stride, c.pad]))(
    "case %i: window %s stride %i pad %i agrees with the NumPy book layer (and torch max_pool2d without padding)",
    (i) => {
      const c = fixture.pool[i as number];
      const pool = new Pooling(c.pool[0], c.pool[1], c.stride, c.pad);
      const { y, shape } = pool.forward(Float64Array.from(c.x), c.xShape, true);
      expect(shape).toEqual(c.yShape);
      const dx = pool.backward(Float64Array.from(c.dout));
      const refs = c.pad === 0 ? [c, c.torch] : [c];
      if (c.pad === 0) expect(c.torch).toBeDefined();
      for (const ref of refs) {
        expect(Array.from(y)).toEqual(ref.y);
        expectClose(dx, ref.dx, 1e-15);
      }
    },
  );

  it("backward matches central differences (overlapping windows: 3×3, stride 2)", () => {
    const rng = new Rng(4);
    // Overlapping windows send two gradients to one pixel: col2im must add them.
    gradientCheck(new Pooling(3, 3, 2, 0), randn(rng, 2 * 2 * 7 * 7), [2, 2, 7, 7], true, rng);
  });
});

describe("BatchNormalization (book ch06)", () => {
  it.each(fixture.batchnorm.map((c: { shape: number[] }, i: number) => [i, c.shape.join("×")]))(
    "case %i: input %s, two training steps then inference, as the NumPy book layer",
    (i) => {
      const c = fixture.batchnorm[i as number];
      const bn = new BatchNormalization(Float64Array.from(c.gamma), Float64Array.from(c.beta));
      for (const step of c.train) {
        const { y, shape } = bn.forward(Float64Array.from(step.x), c.shape, true);
        expect(shape).toEqual(c.shape);
        expectClose(y, step.y, 1e-12);
        expectClose(bn.backward(Float64Array.from(step.dout)), step.dx, 1e-12);
        expectClose(bn.grads.gamma, step.dgamma, 1e-12);
        expectClose(bn.grads.beta, step.dbeta, 1e-12);
        expectClose(bn.state.runningMean, step.runningMean, 1e-14);
        expectClose(bn.state.runningVar, step.runningVar, 1e-14);
      }
      expectClose(bn.forward(Float64Array.from(c.inference.x), c.shape, false).y, c.inference.y, 1e-12);
    },
  );

  it("backward matches central differences on 2-D and 4-D input", () => {
    const rng = new Rng(5);
    const bn2 = new BatchNormalization(randn(rng, 4, 0.5).map((v) => v + 1), randn(rng, 4));
    gradientCheck(bn2, randn(rng, 6 * 4, 2), [6, 4], true, rng);
    const bn4 = new BatchNormalization(randn(rng, 2 * 3 * 3, 0.5).map((v) => v + 1), randn(rng, 2 * 3 * 3));
    gradientCheck(bn4, randn(rng, 4 * 2 * 3 * 3), [4, 2, 3, 3], true, rng);
  });

  it("refuses a backward after an inference forward", () => {
    const bn = new BatchNormalization(new Float64Array(2).fill(1), new Float64Array(2));
    bn.forward(new Float64Array([1, 2, 3, 4]), [2, 2], false);
    expect(() => bn.backward(new Float64Array(4))).toThrow(/inference/);
  });
});

describe("Affine, activations, Flatten", () => {
  it("Affine backward matches central differences on a 4-D input (the book's reshape)", () => {
    const rng = new Rng(6);
    const affine = new Affine(randn(rng, 12 * 5), randn(rng, 5));
    gradientCheck(affine, randn(rng, 3 * 3 * 2 * 2), [3, 3, 2, 2], true, rng);
  });

  it("Affine computes x·W + b (a hand example)", () => {
    const affine = new Affine(new Float64Array([1, 2, 3, 4, 5, 6]), new Float64Array([0.5, -1]));
    // [[1, 2, 3]] · [[1, 2], [3, 4], [5, 6]] = [22, 28]
    expect(Array.from(affine.forward(new Float64Array([1, 2, 3]), [1, 3], false).y)).toEqual([22.5, 27]);
  });

  it.each([
    ["Relu", () => new Relu()],
    ["Sigmoid", () => new Sigmoid()],
    ["Tanh", () => new Tanh()],
  ] as const)("%s backward matches central differences", (_name, make) => {
    const rng = new Rng(7);
    // Keep ReLU's inputs away from its kink at 0, where central differences straddle two slopes.
    const x = randn(rng, 2 * 3 * 4).map((v) => (Math.abs(v) < 0.05 ? v + 0.1 : v));
    gradientCheck(make(), x, [2, 3, 4], true, rng);
  });

  it("Relu and Sigmoid give the book's values", () => {
    expect(Array.from(new Relu().forward(new Float64Array([-1, 0, 2]), [1, 3], true).y)).toEqual([0, 0, 2]);
    expect(new Sigmoid().forward(new Float64Array([0]), [1, 1], true).y[0]).toBe(0.5);
  });

  it("Flatten keeps the values and makes [N, C·H·W]", () => {
    const x = Float64Array.from({ length: 24 }, (_, i) => i);
    const { y, shape } = new Flatten().forward(x, [2, 3, 2, 2], true);
    expect(shape).toEqual([2, 12]);
    expect(Array.from(y)).toEqual(Array.from(x));
  });
});

describe("Dropout", () => {
  it("training: each value kept with 1/(1 − p) or zeroed by the generator's draws; inference: identity", () => {
    const x = Float64Array.from({ length: 1000 }, (_, i) => 1 + (i % 7));
    const rng = new Rng(8);
    const replay = new Rng(8);
    const { y } = new Dropout(0.4, rng).forward(x, [10, 100], true);
    let kept = 0;
    for (let i = 0; i < x.length; i++) {
      const expected = replay.uniform() >= 0.4 ? x[i] / 0.6 : 0;
      expect(y[i]).toBe(expected);
      if (y[i] !== 0) kept++;
    }
    expect(kept).toBeGreaterThan(500); // ≈ 600 kept of 1000
    expect(kept).toBeLessThan(700);
    expect(Array.from(new Dropout(0.4, rng).forward(x, [10, 100], false).y)).toEqual(Array.from(x));
  });

  it("backward matches central differences with the mask held fixed", () => {
    const rng = new Rng(9);
    const maskRng = new Rng(10);
    const start = maskRng.getState();
    gradientCheck(new Dropout(0.5, maskRng), randn(rng, 3 * 8), [3, 8], true, rng, () => maskRng.setState(start));
  });
});

describe("SoftmaxWithLoss", () => {
  it("loss is the cross entropy of the softmax and dx = (y − t)/N, by labels or one-hot", () => {
    const x = new Float64Array([1, 2, 3, 0, 0, 0]);
    const layer = new SoftmaxWithLoss();
    const loss = layer.forward(x, 3, [2, 0]);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const s = e[0] + e[1] + e[2];
    expect(loss).toBeCloseTo(-(Math.log(e[2] / s + 1e-7) + Math.log(1 / 3 + 1e-7)) / 2, 12);
    const dx = layer.backward();
    expectClose(dx, [e[0] / s / 2, e[1] / s / 2, (e[2] / s - 1) / 2, (1 / 3 - 1) / 2, 1 / 3 / 2, 1 / 3 / 2], 1e-15);
    const oneHot = new SoftmaxWithLoss();
    expect(oneHot.forward(x, 3, [0, 0, 1, 1, 0, 0])).toBe(loss);
    expect(Array.from(oneHot.backward())).toEqual(Array.from(dx));
  });
});
