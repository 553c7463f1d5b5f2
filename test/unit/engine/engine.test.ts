/**
 * The engine against the reference nets (src/reference/): float64 bit for bit (the same arithmetic
 * in the same order), float32 within a stated tolerance; per layer kind, per optimizer, per step.
 */
import { describe, expect, it } from "vitest";
import { argmaxRows } from "../../../src/book/matrix.js";
import { Rng } from "../../../src/book/rng.js";
import { PIXEL_SCALE } from "../../../src/data/mnist.js";
import { Network, type NetworkSpec } from "../../../src/engine/network.js";
import type { LayerSpec } from "../../../src/reference/layer-spec.js";
import { MultiLayerNet, type Activation } from "../../../src/reference/multi-layer-net.js";
import { Optimizer, OPTIMIZERS, type OptimizerConfig, type OptimizerName } from "../../../src/reference/optimizers.js";
import { TwoLayerNet } from "../../../src/reference/two-layer-net.js";

const D = 784;

/** Byte images with MNIST-like sparsity (≈ 80 % zero pixels). */
function images(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n * D);
  for (let i = 0; i < out.length; i++) if (rng.uniform() < 0.2) out[i] = 1 + rng.int(255);
  return out;
}
const normalized = (bytes: Uint8Array, idx: ArrayLike<number>) => {
  const x = new Float64Array(idx.length * D);
  for (let r = 0; r < idx.length; r++) for (let p = 0; p < D; p++) x[r * D + p] = PIXEL_SCALE[bytes[idx[r] * D + p]];
  return x;
};
const opt = (name: OptimizerName, adadeltaRho = 0.9): OptimizerConfig => ({ optimizer: name, momentum: 0.9, rmsDecay: 0.99, beta1: 0.9, beta2: 0.999, adadeltaRho });

function layersOf(hidden: number[], activation: Activation, dropout: number): LayerSpec[] {
  const out: LayerSpec[] = [];
  for (const h of hidden) {
    out.push({ type: "affine", units: h }, { type: activation });
    if (dropout > 0) out.push({ type: "dropout", ratio: dropout });
  }
  out.push({ type: "affine", units: 10 });
  return out;
}

function maxRelDiff(a: Record<string, Float64Array>, b: Record<string, Float64Array>): number {
  let worst = 0;
  for (const name of Object.keys(b)) {
    let scale = 1e-6;
    for (const v of b[name]) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < b[name].length; i++) worst = Math.max(worst, Math.abs(a[name][i] - b[name][i]) / scale);
  }
  return worst;
}

describe("engine: the book's net", () => {
  it("float64: steps, losses and parameters bit for bit TwoLayerNet's", () => {
    const rng = new Rng(4);
    const data = images(rng, 300);
    const labels = Uint8Array.from({ length: 300 }, () => rng.int(10));
    const ref = new TwoLayerNet(D, 50, 10, { seed: 1 });
    const net = new Network({ dtype: "float64", inputSize: D, layers: layersOf([50], "sigmoid", 0), weightDecay: 0, optimizer: opt("sgd"), maxRows: 100 });
    net.setParams(ref.params);
    for (let it = 0; it < 5; it++) {
      const idx = Int32Array.from({ length: 100 }, () => rng.int(300));
      const x = normalized(data, idx);
      const t = Uint8Array.from(idx, (i) => labels[i]);
      ref.sgdStep(ref.gradient(x, t), 0.1);
      const refLoss = ref.loss(x, t);
      if (it === 2) net.keepImages(data); // packed rows give the same CSR
      expect(net.trainStep(data, labels, idx, 0.1)).toBe(refLoss);
    }
    const p = net.params();
    for (const k of ["W1", "b1", "W2", "b2"]) expect(p[k]).toEqual(ref.params[k as "W1"]);
    const pred = new Int32Array(300);
    net.predictRange(data, 0, 300, pred);
    expect(pred).toEqual(argmaxRows(ref.predict(normalized(data, Int32Array.from({ length: 300 }, (_, i) => i))), 300, 10));
  });

  it("float32: within 1e-4 of the reference after 20 steps", () => {
    const rng = new Rng(5);
    const data = images(rng, 200);
    const labels = Uint8Array.from({ length: 200 }, () => rng.int(10));
    const ref = new TwoLayerNet(D, 50, 10, { seed: 2 });
    const net = new Network({ dtype: "float32", inputSize: D, layers: layersOf([50], "sigmoid", 0), weightDecay: 0, optimizer: opt("sgd"), maxRows: 50 });
    net.setParams(ref.params);
    for (let it = 0; it < 20; it++) {
      const idx = Int32Array.from({ length: 50 }, () => rng.int(200));
      const x = normalized(data, idx);
      const t = Uint8Array.from(idx, (i) => labels[i]);
      ref.sgdStep(ref.gradient(x, t), 0.5);
      const loss = net.trainStep(data, labels, idx, 0.5);
      expect(Math.abs(loss - ref.loss(x, t))).toBeLessThan(1e-5);
    }
    expect(maxRelDiff(net.params(), ref.params as unknown as Record<string, Float64Array>)).toBeLessThan(1e-4);
  });
});

describe("engine: deeper nets against MultiLayerNet", () => {
  const cases: { hidden: number[]; activation: Activation; optimizer: OptimizerName; decay: number; dropout: number; lr?: number; rho?: number }[] = [
    ...OPTIMIZERS.map((o) => ({ hidden: [13, 9], activation: "relu" as Activation, optimizer: o, decay: 0, dropout: 0 })),
    { hidden: [17], activation: "tanh", optimizer: "momentum", decay: 0.01, dropout: 0 },
    { hidden: [6, 11, 5], activation: "sigmoid", optimizer: "adam", decay: 0.001, dropout: 0.3 },
    { hidden: [20, 20], activation: "relu", optimizer: "sgd", decay: 0, dropout: 0.5 },
    // PyTorch's example: Adadelta at lr 1.0; then another ρ, with weight decay and dropout
    { hidden: [13, 9], activation: "relu", optimizer: "adadelta", decay: 0, dropout: 0, lr: 1.0 },
    { hidden: [15, 7], activation: "tanh", optimizer: "adadelta", decay: 0.01, dropout: 0.25, lr: 0.7, rho: 0.95 },
  ];
  for (const dtype of ["float64", "float32"] as const) {
    for (const c of cases) {
      const lr = c.lr ?? 0.05;
      const title = `${dtype}: ${c.hidden.join("-")} ${c.activation} ${c.optimizer}${c.rho !== undefined ? ` ρ ${c.rho}` : ""}${c.lr !== undefined ? ` lr ${lr}` : ""}${c.decay ? ` decay ${c.decay}` : ""}${c.dropout ? ` dropout ${c.dropout}` : ""}`;
      it(title, () => {
        const rng = new Rng(9);
        const data = images(rng, 120);
        const labels = Uint8Array.from({ length: 120 }, () => rng.int(10));
        const ref = new MultiLayerNet([D, ...c.hidden, 10], { activation: c.activation, init: "he", weightDecay: c.decay, dropout: c.dropout, seed: 3 });
        const sizes: Record<string, number> = {};
        for (const n of ref.paramNames) sizes[n] = ref.params[n].length;
        const refOpt = new Optimizer(opt(c.optimizer, c.rho), sizes);
        const spec: NetworkSpec = { dtype, inputSize: D, layers: layersOf(c.hidden, c.activation, c.dropout), weightDecay: c.decay, optimizer: opt(c.optimizer, c.rho), maxRows: 30 };
        const net = new Network(spec);
        net.setParams(ref.params);
        const rngRef = new Rng(77), rngNet = new Rng(77);
        for (let it = 0; it < 6; it++) {
          const idx = Int32Array.from({ length: 30 }, () => rng.int(120));
          const x = normalized(data, idx);
          const t = Uint8Array.from(idx, (i) => labels[i]);
          const masks = ref.dropoutMasks(30, rngRef);
          const g = ref.gradient(x, t, masks);
          const before = ref.loss(x, t, masks);
          refOpt.begin(lr);
          for (const n of ref.paramNames) refOpt.update(n, ref.params[n], g[n], lr);
          const lossBefore = net.step(data, labels, idx, lr, rngNet, true);
          const after = net.loss(labels, idx);
          if (dtype === "float64") {
            expect(lossBefore).toBe(before);
            expect(after).toBe(ref.loss(x, t));
          } else {
            expect(Math.abs(lossBefore - before)).toBeLessThan(1e-4 * Math.max(1, before));
            expect(Math.abs(after - ref.loss(x, t))).toBeLessThan(1e-4 * Math.max(1, after));
          }
        }
        if (dtype === "float64") {
          const p = net.params();
          for (const n of ref.paramNames) expect(p[n]).toEqual(ref.params[n]);
          const st = net.optimizerState(), rs = refOpt.getState();
          expect(st.step).toBe(rs.step);
          for (const n of ref.paramNames) expect(st.slots[n]).toEqual(rs.slots[n]);
        } else {
          expect(maxRelDiff(net.params(), ref.params)).toBeLessThan(2e-3);
        }
        // the dropout generators advanced alike
        expect(rngNet.getState()).toEqual(rngRef.getState());
      });
    }
  }

  it("optimizer state and parameters round-trip: a network restored from them continues identically", () => {
    const rng = new Rng(1);
    const data = images(rng, 60);
    const labels = Uint8Array.from({ length: 60 }, () => rng.int(10));
    const spec: NetworkSpec = { dtype: "float64", inputSize: D, layers: layersOf([8, 8], "relu", 0), weightDecay: 0, optimizer: opt("adam"), maxRows: 20 };
    const a = new Network(spec);
    a.setParams(new MultiLayerNet([D, 8, 8, 10], { init: "he", seed: 4 }).params);
    const batches = Array.from({ length: 6 }, () => Int32Array.from({ length: 20 }, () => rng.int(60)));
    for (const idx of batches.slice(0, 3)) a.step(data, labels, idx, 0.01);
    const b = new Network(spec);
    b.setParams(a.params());
    b.setOptimizerState(a.optimizerState());
    for (const idx of batches.slice(3)) expect(b.trainStep(data, labels, idx, 0.01)).toBe(a.trainStep(data, labels, idx, 0.01));
    const bytes = new Uint8Array(a.paramByteLength);
    a.readParamBytes(bytes);
    const c = new Network(spec);
    c.writeParamBytes(bytes);
    expect(c.params()).toEqual(a.params());
  });
});
