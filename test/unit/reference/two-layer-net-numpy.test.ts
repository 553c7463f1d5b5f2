// TwoLayerNet against NumPy running the book's own code (test/fixtures/two-layer-net-numpy.py made
// the JSON): forward pass, loss, back-propagated and numerical gradients, one SGD step.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PARAM_NAMES, TwoLayerNet } from "../../../src/reference/two-layer-net.js";

interface Fixture {
  sizes: [number, number, number];
  batch: number;
  lr: number;
  x: number[];
  labels: number[];
  params: Record<string, number[]>;
  y: number[];
  loss: number;
  gradient: Record<string, number[]>;
  numericalGradient: Record<string, number[]>;
  paramsAfterStep: Record<string, number[]>;
  lossAfterStep: number;
}

const fx: Fixture = JSON.parse(readFileSync(path.join(__dirname, "../../fixtures", "two-layer-net-numpy.json"), "utf8"));
const [I, H, O] = fx.sizes;
const x = Float64Array.from(fx.x);
const oneHot = new Float64Array(fx.batch * O);
fx.labels.forEach((k, r) => (oneHot[r * O + k] = 1));
const indices = Uint8Array.from(fx.labels);

function net(): TwoLayerNet {
  const n = new TwoLayerNet(I, H, O, { weightInitStd: 0 });
  for (const name of PARAM_NAMES) n.params[name].set(fx.params[name]);
  return n;
}

/** Largest |a − b| over two arrays of the same length. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("TwoLayerNet = the book's NumPy code", () => {
  it("forward pass (softmax outputs) and loss", () => {
    const n = net();
    expect(maxDiff(n.predict(x), fx.y)).toBeLessThan(1e-15);
    expect(Math.abs(n.loss(x, oneHot) - fx.loss)).toBeLessThan(1e-14);
    // label indices give the same loss as one-hot rows
    expect(Math.abs(n.loss(x, indices) - fx.loss)).toBeLessThan(1e-14);
  });

  it("back-propagated gradient", () => {
    for (const t of [oneHot, indices]) {
      const g = net().gradient(x, t);
      for (const name of PARAM_NAMES) expect(maxDiff(g[name], fx.gradient[name]), name).toBeLessThan(1e-15);
    }
  });

  it("numerical gradient (the book's central differences, h = 1e-4)", () => {
    const g = net().numericalGradient(x, oneHot);
    // each entry is a difference of two losses divided by 2e-4: the losses' rounding (~1e-16) grows 5000×
    for (const name of PARAM_NAMES) expect(maxDiff(g[name], fx.numericalGradient[name]), name).toBeLessThan(1e-11);
  });

  it("one SGD step: the parameters and the loss after it", () => {
    const n = net();
    n.sgdStep(n.gradient(x, oneHot), fx.lr);
    for (const name of PARAM_NAMES) expect(maxDiff(n.params[name], fx.paramsAfterStep[name]), name).toBeLessThan(1e-15);
    expect(Math.abs(n.loss(x, oneHot) - fx.lossAfterStep)).toBeLessThan(1e-14);
  });
});
