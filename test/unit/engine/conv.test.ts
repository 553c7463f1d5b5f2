/**
 * The engine's convolution, pooling, batch norm and flatten layers against the reference
 * SequentialNet (the book's im2col formulation, itself checked against central differences) and
 * against central differences directly. float64: convolution sums a window in another order than
 * the book (channels last), so agreement is to rounding (≤ 1e-12 relative), not bit for bit;
 * fully connected layers with batch norm stay bit for bit. float32: within 2e-4 relative.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import { PIXEL_SCALE } from "../../../src/data/mnist.js";
import { Convolution } from "../../../src/engine/conv.js";
import { Network, NO_OPTIMIZER, specOf } from "../../../src/engine/network.js";
import type { Dtype } from "../../../src/engine/wasm.js";
import { parseLayerList } from "../../../src/reference/layer-spec.js";
import { buildReferenceNet } from "../../../src/reference/net-from-spec.js";
import { Optimizer, type OptimizerConfig } from "../../../src/reference/optimizers.js";
import type { SequentialNet } from "../../../src/reference/sequential-net.js";

const D = 784;

function images(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n * D);
  for (let i = 0; i < out.length; i++) if (rng.uniform() < 0.3) out[i] = 1 + rng.int(255);
  return out;
}
const normalized = (bytes: Uint8Array, idx: ArrayLike<number>) => {
  const x = new Float64Array(idx.length * D);
  for (let r = 0; r < idx.length; r++) for (let p = 0; p < D; p++) x[r * D + p] = PIXEL_SCALE[bytes[idx[r] * D + p]];
  return x;
};

/**
 * Largest |a − b| over the largest |b| of each tensor (that scale at least 1e-6 of the largest |b|
 * of all, so a tensor of near-zero values is not held to its own noise).
 */
function maxRelDiff(a: Record<string, ArrayLike<number>>, b: Record<string, ArrayLike<number>>): number {
  let worst = 0, all = 0;
  for (const v of Object.values(b)) for (let i = 0; i < v.length; i++) all = Math.max(all, Math.abs(v[i]));
  for (const name of Object.keys(b)) {
    expect(a[name], name).toBeDefined();
    expect(a[name].length, name).toBe(b[name].length);
    let scale = Math.max(1e-12, 1e-6 * all);
    for (let i = 0; i < b[name].length; i++) scale = Math.max(scale, Math.abs(b[name][i]));
    for (let i = 0; i < b[name].length; i++) worst = Math.max(worst, Math.abs(a[name][i] - b[name][i]) / scale);
  }
  return worst;
}

const NETS = {
  "the book's SimpleConvNet, smaller": "conv 6 5x5, relu, maxpool 2x2 s2, affine 20, relu, affine 10",
  "strides, padding, sigmoid, overlapping padded pooling": "conv 5 3x3 s2 p1, sigmoid, conv 4 2x2, relu, maxpool 3 s2 p1, flatten, affine 7, tanh, affine 10",
  "batch norm and dropout after a conv": "conv 4 3x3, batchnorm, relu, maxpool 2, dropout 0.3, affine 12, batchnorm, relu, affine 10",
  "batch norm first, conv channels not a whole vector": "batchnorm, conv 3 4x4 s3, relu, conv 6 3x3 p1, relu, affine 10",
};

function pair(text: string, dtype: Dtype, seed: number, maxRows = 16): { ref: SequentialNet; net: Network } {
  const specs = parseLayerList(text).layers;
  const ref = buildReferenceNet(specs, new Rng(seed), { init: "he" });
  // batch norm's γ, β and running statistics off their initial values, so every term matters
  const r = new Rng(seed + 1);
  for (const [name, v] of Object.entries({ ...ref.params, ...ref.state }))
    if (/^(gamma|beta|running)/.test(name)) for (let i = 0; i < v.length; i++) v[i] = name.startsWith("runningVar") ? 0.5 + r.uniform() : r.normal() * 0.5 + (name.startsWith("gamma") ? 1 : 0);
  const net = new Network(specOf(ref, dtype, maxRows, NO_OPTIMIZER));
  net.setParams({ ...ref.params, ...ref.state });
  return { ref, net };
}

/** The biases of conv/affine layers followed by a batch norm ("b1", …). */
function beforeBatchNorm(text: string): string[] {
  const specs = parseLayerList(text).layers;
  const out: string[] = [];
  let weighted = 0;
  specs.forEach((s, i) => {
    if (s.type === "conv" || s.type === "affine") {
      weighted++;
      if (specs[i + 1]?.type === "batchnorm") out.push(`b${weighted}`);
    }
  });
  return out;
}

afterEach(() => {
  Convolution.colValues = 1 << 22;
});

describe("engine conv layers against the reference", () => {
  for (const [what, text] of Object.entries(NETS)) {
    it(`${what}: scores, gradients and running statistics (float64 to rounding, float32 within 2e-4)`, () => {
      const rng = new Rng(7);
      const data = images(rng, 40);
      const labels = Uint8Array.from({ length: 40 }, () => rng.int(10));
      const idx = Int32Array.from({ length: 12 }, () => rng.int(40));
      for (const dtype of ["float64", "float32"] as const) {
        const tol = dtype === "float64" ? 1e-12 : 2e-4;
        const { ref, net } = pair(text, dtype, 3);
        // inference scores of the first 10 images
        const refScores = ref.predict(normalized(data, [...Array(10).keys()]));
        expect(maxRelDiff({ s: net.logits(data, 0, 10) }, { s: refScores })).toBeLessThan(tol);
        // a training pass's gradient (the same dropout masks: both draw from a generator in the same state)
        const dropRef = ref.layers.find((l) => l.kind === "dropout") as { rng: Rng } | undefined;
        const seedState = new Rng(99);
        if (dropRef) dropRef.rng.setState(seedState.getState());
        const gRef = ref.gradient(normalized(data, idx), Uint8Array.from(idx, (i) => labels[i]));
        const gNet = net.gradient(data, labels, idx, new Rng(99));
        expect(Object.keys(gNet).sort()).toEqual(Object.keys(gRef).sort());
        // (a bias right before a batch norm has a gradient of 0 in exact arithmetic: rounding noise, left out)
        const noise = new Set(beforeBatchNorm(text));
        const kept = (g: Record<string, Float64Array>) => Object.fromEntries(Object.entries(g).filter(([k]) => !noise.has(k)));
        expect(maxRelDiff(kept(gNet), kept(gRef))).toBeLessThan(dtype === "float64" ? 1e-10 : 2e-3);
        for (const k of noise) expect(Math.max(...gNet[k].map(Math.abs))).toBeLessThan(dtype === "float64" ? 1e-12 : 1e-5);
        // batch norm's running statistics moved the same way
        const after = net.params();
        expect(maxRelDiff(after, ref.state)).toBeLessThan(dtype === "float64" ? 1e-12 : 1e-5);
      }
    });
  }

  it("float64: a fully connected net with batch norm and dropout is bit for bit the reference", () => {
    const text = "affine 30, batchnorm, relu, dropout 0.2, affine 20, batchnorm, sigmoid, affine 10";
    const rng = new Rng(8);
    const data = images(rng, 30);
    const labels = Uint8Array.from({ length: 30 }, () => rng.int(10));
    const idx = Int32Array.from({ length: 10 }, () => rng.int(30));
    const { ref, net } = pair(text, "float64", 5);
    expect(net.logits(data, 0, 8)).toEqual(ref.predict(normalized(data, [...Array(8).keys()])));
    const dropRef = ref.layers.find((l) => l.kind === "dropout") as { rng: Rng };
    dropRef.rng.setState(new Rng(42).getState());
    const gRef = ref.gradient(normalized(data, idx), Uint8Array.from(idx, (i) => labels[i]));
    const gNet = net.gradient(data, labels, idx, new Rng(42));
    for (const name of Object.keys(gRef)) expect(gNet[name], name).toEqual(gRef[name]);
    const p = net.params();
    for (const name of Object.keys(ref.state)) expect(p[name], name).toEqual(ref.state[name]);
  });

  it("the convolution's chunks of the batch change no value", () => {
    const text = "conv 8 3x3 p1, relu, conv 4 3x3, relu, maxpool 2, affine 10";
    const rng = new Rng(9);
    const data = images(rng, 20);
    const labels = Uint8Array.from({ length: 20 }, () => rng.int(10));
    const idx = Int32Array.from({ length: 11 }, () => rng.int(20));
    const whole = pair(text, "float32", 4);
    const g1 = whole.net.gradient(data, labels, idx);
    const s1 = whole.net.logits(data, 0, 20);
    Convolution.colValues = 3 * 28 * 28 * 72; // a few samples per chunk
    const chunked = pair(text, "float32", 4);
    expect(chunked.net.gradient(data, labels, idx)).toEqual(g1);
    expect(chunked.net.logits(data, 0, 20)).toEqual(s1);
  });

  it("gradients agree with central differences of the engine's own loss (float64)", () => {
    const text = "conv 3 3x3 s2 p1, tanh, maxpool 2, batchnorm, affine 10";
    const rng = new Rng(10);
    const data = images(rng, 8);
    const labels = Uint8Array.from({ length: 8 }, () => rng.int(10));
    const idx = Int32Array.from([0, 1, 2, 3, 4, 5]);
    const { ref, net } = pair(text, "float64", 6);
    const start = { ...ref.params, ...ref.state };
    const grads = net.gradient(data, labels, idx);
    // the engine's training loss as a function of one parameter value: a step with lr 0 returns
    // its forward pass's loss and changes nothing but the running statistics, reset each time
    const lossAt = (name: string, i: number, v: number) => {
      const p = Object.fromEntries(Object.entries(start).map(([k, a]) => [k, Float64Array.from(a)]));
      p[name][i] = v;
      net.setParams(p);
      return net.step(data, labels, idx, 0, undefined, true);
    };
    const h = 1e-5;
    for (const name of Object.keys(ref.params)) {
      const n = start[name].length;
      for (const i of [0, Math.floor(n / 3), n - 1]) {
        const numeric = (lossAt(name, i, start[name][i] + h) - lossAt(name, i, start[name][i] - h)) / (2 * h);
        expect(Math.abs(numeric - grads[name][i]), `${name}[${i}]`).toBeLessThan(1e-6 + 1e-4 * Math.abs(numeric));
      }
    }
  });

  it("a short Adam run: every parameter close to the reference's after 5 updates (float64)", () => {
    const text = "conv 4 5x5, relu, maxpool 2, batchnorm, affine 16, relu, affine 10";
    const rng = new Rng(11);
    const data = images(rng, 50);
    const labels = Uint8Array.from({ length: 50 }, () => rng.int(10));
    const cfg: OptimizerConfig = { optimizer: "adam", momentum: 0.9, rmsDecay: 0.99, beta1: 0.9, beta2: 0.999 };
    const specs = parseLayerList(text).layers;
    const ref = buildReferenceNet(specs, new Rng(12), { init: "he" });
    const net = new Network(specOf(ref, "float64", 10, cfg));
    net.setParams({ ...ref.params, ...ref.state });
    const opt = new Optimizer(cfg, Object.fromEntries(Object.entries(ref.params).map(([k, v]) => [k, v.length])));
    for (let it = 0; it < 5; it++) {
      const idx = Int32Array.from({ length: 10 }, () => rng.int(50));
      const g = ref.gradient(normalized(data, idx), Uint8Array.from(idx, (i) => labels[i]));
      opt.begin(0.01);
      for (const name of Object.keys(ref.params)) opt.update(name, ref.params[name], g[name], 0.01);
      net.step(data, labels, idx, 0.01);
    }
    expect(maxRelDiff(net.params(), { ...ref.params, ...ref.state })).toBeLessThan(1e-9);
  });

  it("rejects a layer that does not fit its input, naming it", () => {
    expect(() => new Network({ dtype: "float32", inputSize: D, layers: [{ type: "affine", units: 10 }, { type: "conv", filters: 2, kernel: [3, 3], stride: 1, pad: 0 }], weightDecay: 0, optimizer: NO_OPTIMIZER, maxRows: 4 })).toThrow(/layer 2 "conv 2 3x3": conv needs an image input/);
  });
});

