// The reference net from a layer list: back-propagation against the book's numerical gradient
// through every layer type, and the book's SimpleConvNet / DeepConvNet shapes and draw order.
import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import { Affine } from "../../../src/reference/layers/affine.js";
import { buildReferenceNet, deepConvNet, simpleConvNet } from "../../../src/reference/net-from-spec.js";
import { SequentialNet } from "../../../src/reference/sequential-net.js";
import { layersFromHiddenSizes, parseLayerList } from "../../../src/reference/layer-spec.js";
import { MultiLayerNet } from "../../../src/reference/multi-layer-net.js";
import { numericalGradient } from "../../../src/book/functions.js";

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  expect(worst).toBeLessThan(tol);
}

describe("SequentialNet", () => {
  const LIST = "conv 3 3x3 p1, relu, maxpool 2, batchnorm, conv 2 2x2, tanh, flatten, affine 5, sigmoid, dropout 0.3, affine 4";
  const inputShape = [2, 6, 6];

  function smallNet(seed: number): { net: SequentialNet; x: Float64Array; t: number[]; maskRng: Rng } {
    const { layers } = parseLayerList(LIST, inputShape, 4);
    const rng = new Rng(seed);
    const maskRng = new Rng(seed + 1);
    const net = buildReferenceNet(layers, rng, { init: "he", inputShape, classes: 4, dropoutRng: maskRng });
    const x = rng.fillNormal(new Float64Array(3 * 2 * 6 * 6));
    return { net, x, t: [1, 3, 0], maskRng };
  }

  it("names parameters as the book: W/b per weighted layer, gamma/beta per batch norm", () => {
    const { net } = smallNet(1);
    expect(Object.keys(net.params).sort()).toEqual(["W1", "W2", "W3", "W4", "b1", "b2", "b3", "b4", "beta1", "gamma1"]);
    expect(Object.keys(net.state).sort()).toEqual(["runningMean1", "runningVar1"]);
    expect(net.params.W1.length).toBe(3 * 2 * 3 * 3);
    expect(net.params.gamma1.length).toBe(3 * 3 * 3);
    expect(net.params.W3.length).toBe(8 * 5);
  });

  it("gradient (backprop) equals the numerical gradient through conv, pool, batch norm, dropout and all activations", () => {
    const { net, x, t, maskRng } = smallNet(2);
    const start = maskRng.getState();
    const numerical = net.numericalGradient(x, t);
    // numericalGradient leaves the generator where it found it, so gradient() draws the same masks.
    expect(maskRng.getState()).toEqual(start);
    const analytic = net.gradient(x, t);
    expect(Object.keys(analytic).sort()).toEqual(Object.keys(net.params).sort());
    // The loss's log(y + 1e−7) guard, which the book's backward ignores, and h² put them ≈ 1e−7 apart.
    for (const name of Object.keys(net.params)) {
      expectClose(analytic[name], numerical[name], 2e-6);
      expect(numerical[name].some((v) => Math.abs(v) > 1e-2)).toBe(true);
    }
  });

  it("numericalGradient, starting each evaluation at the perturbed layer, gives the whole passes' values bit for bit", () => {
    const { net, x, t, maskRng } = smallNet(5);
    const start = maskRng.getState();
    const fast = net.numericalGradient(x, t);
    const stats = Object.fromEntries(Object.entries(net.state).map(([k, v]) => [k, Float64Array.from(v)]));
    const whole = (): number => {
      maskRng.setState(start);
      return net.loss(x, t, true);
    };
    for (const [name, p] of Object.entries(net.params)) expect(Array.from(fast[name]), name).toEqual(Array.from(numericalGradient(whole, p)));
    for (const [k, v] of Object.entries(stats)) net.state[k].set(v);
  });

  it("weight decay adds ½λΣW² over the conv and affine weights to the loss and λW to their gradients", () => {
    const { layers } = parseLayerList(LIST, inputShape, 4);
    const plain = buildReferenceNet(layers, new Rng(6), { inputShape, classes: 4, dropoutRng: new Rng(7) });
    const decayed = buildReferenceNet(layers, new Rng(6), { inputShape, classes: 4, dropoutRng: new Rng(7), weightDecay: 0.1 });
    const x = new Rng(8).fillNormal(new Float64Array(3 * 2 * 6 * 6));
    let squares = 0;
    for (const name of ["W1", "W2", "W3", "W4"]) for (const w of plain.params[name]) squares += w * w;
    const a = plain.lossAndGradient(x, [0, 1, 2]);
    const b = decayed.lossAndGradient(x, [0, 1, 2]);
    expect(b.loss).toBeCloseTo(a.loss + 0.05 * squares, 12);
    for (const name of Object.keys(a.grads)) {
      const want = name.startsWith("W") ? a.grads[name].map((g, i) => g + 0.1 * plain.params[name][i]) : a.grads[name];
      expect(Array.from(b.grads[name]), name).toEqual(Array.from(want));
    }
  });

  it("numericalGradient leaves the batch-norm statistics as they were", () => {
    const { net, x, t } = smallNet(3);
    net.loss(x, t, true);
    const before = Float64Array.from(net.state.runningVar1);
    expect(before.some((v) => v !== 0)).toBe(true);
    net.numericalGradient(x, t);
    expect(Array.from(net.state.runningVar1)).toEqual(Array.from(before));
  });

  it("predict is inference (no dropout, running statistics) and the same for the same seed", () => {
    const a = smallNet(4);
    const b = smallNet(4);
    a.net.loss(a.x, a.t, true);
    b.net.loss(b.x, b.t, true);
    const p1 = a.net.predict(a.x);
    expect(Array.from(a.net.predict(a.x))).toEqual(Array.from(p1)); // no random draw in inference
    expect(Array.from(b.net.predict(b.x))).toEqual(Array.from(p1));
    expect(p1.length).toBe(3 * 4);
  });

  it("accuracy: the share of rows whose top score is the label, over several batches", () => {
    // One affine layer with W = I: the top score is the largest input.
    const net = new SequentialNet([new Affine(new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]), new Float64Array(3))], [3]);
    const x = new Float64Array([0, 0, 1, 1, 0, 0, 0, 2, 0, 5, 4, 3, 0, 1, 0]);
    // tops: 2, 0, 1, 0, 1; labels 2, 0, 0, 0, 2 → 3 of 5
    expect(net.accuracy(x, [2, 0, 0, 0, 2], 2)).toBe(0.6);
    expect(net.accuracy(x, [0, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1], 2)).toBe(0.6);
  });
});

describe("the book's nets", () => {
  it("SimpleConvNet: W1 30×1×5×5, W2 4320×100, W3 100×10, drawn in order with std 0.01", () => {
    const net = simpleConvNet(new Rng(5));
    expect(net.params.W1.length).toBe(30 * 25);
    expect(net.params.W2.length).toBe(30 * 12 * 12 * 100);
    expect(net.params.W3.length).toBe(100 * 10);
    const replay = new Rng(5);
    expect(Array.from(net.params.W1)).toEqual(Array.from(replay.fillNormal(new Float64Array(750), 0.01)));
    expect(Array.from(net.params.W2.subarray(0, 10))).toEqual(Array.from(replay.fillNormal(new Float64Array(10), 0.01)));
    expect(net.predict(new Float64Array(2 * 784)).length).toBe(20);
  });

  it("DeepConvNet: eight weighted layers, He scales √(2/fan-in), affine from 64×4×4", () => {
    const net = deepConvNet(new Rng(6));
    const sizes = [16 * 9, 16 * 16 * 9, 32 * 16 * 9, 32 * 32 * 9, 64 * 32 * 9, 64 * 64 * 9, 64 * 4 * 4 * 50, 50 * 10];
    sizes.forEach((n, i) => expect(net.params[`W${i + 1}`].length).toBe(n));
    const replay = new Rng(6);
    expect(Array.from(net.params.W1)).toEqual(Array.from(replay.fillNormal(new Float64Array(144), Math.sqrt(2 / 9))));
    expect(Array.from(net.params.W2.subarray(0, 5))).toEqual(Array.from(replay.fillNormal(new Float64Array(5), Math.sqrt(2 / 144))));
  });
});

describe("--hidden-size as a layer list is the existing MultiLayerNet", () => {
  it.each([
    ["sigmoid", 0],
    ["relu", 0.5],
  ] as const)("affine 50, %s (dropout %d), affine 10: the same weights, loss, gradient and dropout masks as MultiLayerNet([784, 50, 10])", (activation, dropout) => {
    const mlp = new MultiLayerNet([784, 50, 10], { seed: 11, activation, dropout, weightInitStd: 0.01 });
    const layers = layersFromHiddenSizes([50], activation);
    if (dropout) layers.splice(2, 0, { type: "dropout", ratio: dropout });
    const maskRng = new Rng(12);
    const net = buildReferenceNet(layers, new Rng(11), { init: "std", weightInitStd: 0.01, dropoutRng: maskRng });
    for (const name of ["W1", "b1", "W2", "b2"]) expect(Array.from(net.params[name])).toEqual(Array.from(mlp.params[name]));
    const data = new Rng(13);
    const x = Float64Array.from({ length: 4 * 784 }, () => data.uniform());
    const t = [3, 1, 4, 1];
    const masks = mlp.dropoutMasks(4, new Rng(12));
    const start = maskRng.getState();
    expect(net.loss(x, t, dropout > 0)).toBeCloseTo(mlp.loss(x, t, masks), 14);
    maskRng.setState(start);
    const g = net.gradient(x, t);
    const h = mlp.gradient(x, t, masks);
    for (const name of ["W1", "b1", "W2", "b2"]) {
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < g[name].length; i++) {
        worst = Math.max(worst, Math.abs(g[name][i] - h[name][i]));
        scale = Math.max(scale, Math.abs(h[name][i]));
      }
      expect(scale).toBeGreaterThan(0);
      expect(worst).toBeLessThanOrEqual(1e-12 * scale);
    }
  });
});
