/**
 * The training step cut between threads (src/engine/split.ts): every value is computed by one
 * thread in the same order whatever the cut, so a step on 2 or 3 threads must give the parameters
 * of a step on one, bit for bit. The cut is forced everywhere (minWork = 0) on small nets, and
 * checked on the product alone against the uncut kernel.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import { Arena } from "../../../src/engine/arena.js";
import { Convolution } from "../../../src/engine/conv.js";
import { Network, specOf } from "../../../src/engine/network.js";
import { WorkerPool } from "../../../src/engine/pool.js";
import { cutByCount, cutRange, SpinPolicy, StepSplit } from "../../../src/engine/split.js";
import { DTYPES, type Dtype } from "../../../src/engine/wasm.js";
import { parseLayerList } from "../../../src/reference/layer-spec.js";
import { buildReferenceNet } from "../../../src/reference/net-from-spec.js";
import type { OptimizerConfig } from "../../../src/reference/optimizers.js";

const D = 784;
let pools: WorkerPool[] = [];
beforeAll(() => {
  pools = [new WorkerPool(1), new WorkerPool(2)];
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

function images(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n * D);
  for (let i = 0; i < out.length; i++) if (rng.uniform() < 0.3) out[i] = 1 + rng.int(255);
  return out;
}

describe("cutRange", () => {
  it("cuts [0, total) into contiguous parts on whole units, the last one taking the rest", () => {
    for (const [total, parts, unit] of [[10, 3, 1], [288, 2, 2], [7, 3, 2], [1, 3, 1], [37, 3, 4]]) {
      let at = 0;
      for (let p = 0; p < parts; p++) {
        const [from, to] = cutRange(total, parts, p, unit);
        expect(from).toBe(at);
        expect(to).toBeGreaterThanOrEqual(from);
        if (p < parts - 1) expect(to % unit).toBe(0);
        at = to;
      }
      expect(at).toBe(total);
    }
  });
});

describe("cutByCount", () => {
  /** The cut of rows with these counts into `parts` (a CSR's running starts). */
  const cuts = (counts: number[], parts: number) => {
    const ends = [0];
    for (const c of counts) ends.push(ends[ends.length - 1] + c);
    return Array.from({ length: parts }, (_, p) => cutByCount(ends, counts.length, parts, p));
  };
  it("cuts rows into contiguous parts holding about equal counts, every row in one part", () => {
    // 10 rows: the first three hold most of the entries
    expect(cuts([40, 40, 40, 5, 5, 5, 5, 5, 5, 10], 2)).toEqual([[0, 2], [2, 10]]);
    expect(cuts([1, 1, 1, 1], 2)).toEqual([[0, 2], [2, 4]]);
    expect(cuts([3, 3, 3, 3, 3, 3], 3)).toEqual([[0, 2], [2, 4], [4, 6]]);
    // one row with everything: the other parts are empty
    expect(cuts([0, 100, 0], 3)).toEqual([[0, 1], [1, 2], [2, 3]]);
    expect(cuts([100], 3)).toEqual([[0, 0], [0, 1], [1, 1]]);
    expect(cuts([], 2)).toEqual([[0, 0], [0, 0]]);
  });
  it("gives each part at most half a row more than its share", () => {
    const rng = new Rng(4);
    for (let trial = 0; trial < 50; trial++) {
      const counts = Array.from({ length: 1 + rng.int(120) }, () => rng.int(300));
      const total = counts.reduce((a, b) => a + b, 0), parts = 1 + rng.int(4);
      let at = 0;
      for (const [from, to] of cuts(counts, parts)) {
        expect(from).toBe(at);
        expect(to).toBeGreaterThanOrEqual(from);
        at = to;
      }
      expect(at).toBe(counts.length);
      // each boundary is at the row end nearest its share of the total
      const ends = [0];
      for (const c of counts) ends.push(ends[ends.length - 1] + c);
      for (let q = 1; q < parts; q++) {
        const b = cuts(counts, parts)[q][0], target = (total * q) / parts;
        for (let r = 0; r <= counts.length; r++) expect(Math.abs(ends[b] - target)).toBeLessThanOrEqual(Math.abs(ends[r] - target));
      }
    }
  });
});

describe.each(DTYPES)("gemm cut between threads (%s)", (dtype) => {
  it.each([
    ["by rows", 90, 37, 3],
    ["by columns", 6, 37, 24],
  ])("%s: the whole product bit for bit, with a bias row, from zero and accumulating", (_, nq, count, yV) => {
    const a = new Arena(dtype as Dtype);
    const lanes = a.lanes;
    const S0 = a.values(nq * count), M0 = a.values(count * yV * lanes), B = a.values(yV * lanes);
    const Y1 = a.values(nq * yV * lanes), Y2 = a.values(nq * yV * lanes);
    a.commit();
    const rng = new Rng(7);
    for (const [p, n] of [[S0, nq * count], [M0, count * yV * lanes], [B, yV * lanes]]) {
      const v = a.f(p, n);
      for (let i = 0; i < n; i++) v[i] = rng.normal();
    }
    for (const pool of pools) {
      const split = new StepSplit(a, pool);
      split.minWork = 0;
      for (const init of [B, -1, -2]) {
        const args = (Y: number) => [S0, count * a.S, a.S, nq, count, M0, yV * 16, yV, init, Y, yV * 16] as const;
        a.f(Y1, nq * yV * lanes).fill(0.5);
        a.f(Y2, nq * yV * lanes).fill(0.5);
        a.k.gemm(...args(Y1));
        split.gemm(...args(Y2));
        expect(Array.from(a.f(Y2, nq * yV * lanes))).toEqual(Array.from(a.f(Y1, nq * yV * lanes)));
      }
      split.close();
    }
  });
});

const NETS = {
  "a conv net (im2col in chunks, a second conv, dropout)": "conv 6 5x5, relu, maxpool 2, conv 8 3x3 p1, relu, dropout 0.25, affine 24, relu, affine 10",
  "a fully connected net (the sparse first layer, dense products)": "affine 48, relu, affine 40, tanh, affine 10",
  "a wide first layer (its gradient by pixel, cut by columns)": "affine 160, relu, affine 10",
  "batch norm": "conv 4 3x3 s2, batchnorm, relu, affine 16, batchnorm, sigmoid, affine 10",
  "32 channels (the bias gradient cut by vectors, padded pooling and dropout cut by samples)": "conv 32 3x3 s3, relu, maxpool 2 p1, dropout 0.5, affine 10",
};
const ADAM: OptimizerConfig = { optimizer: "adam", momentum: 0.9, rmsDecay: 0.99, beta1: 0.9, beta2: 0.999, adadeltaRho: 0.9 };

/** Losses and parameters after 4 Adam steps of `batch` images, on this thread or cut between it and `pool`'s workers. */
function sameOnEveryThreadCount(text: string, dtype: Dtype, batch: number, colValues: number): void {
  const saved = Convolution.colValues;
  Convolution.colValues = colValues;
  try {
    const specs = parseLayerList(text).layers;
    const rng = new Rng(3);
    const imgs = images(rng, 4 * batch), labels = Uint8Array.from({ length: 4 * batch }, () => rng.int(10));
    const batches = [0, 1, 2, 3].map((i) => Int32Array.from({ length: batch }, (_, r) => (i * 7 + r * 3) % (4 * batch)));
    const run = (pool?: WorkerPool) => {
      const ref = buildReferenceNet(specs, new Rng(5), { init: "he" });
      const net = new Network(specOf(ref, dtype, batch, ADAM));
      net.setParams({ ...ref.params, ...ref.state });
      const split = pool ? new StepSplit(net.a, pool) : undefined;
      if (split) split.minWork = 0;
      net.stepSplit = split;
      const drops = new Rng(9);
      const losses = batches.map((idx) => [net.step(imgs, labels, idx, 0.01, drops, true), net.loss(labels, idx)]);
      split?.close();
      return { losses, params: net.params() };
    };
    const one = run();
    for (const pool of pools) {
      const many = run(pool);
      expect(many.losses).toEqual(one.losses);
      for (const [name, v] of Object.entries(one.params)) expect(Array.from(many.params[name]), name).toEqual(Array.from(v));
    }
  } finally {
    Convolution.colValues = saved;
  }
}

describe.each(DTYPES)("training steps on 1, 2 and 3 threads (%s)", (dtype) => {
  it.each(Object.entries(NETS))("%s: the same losses and parameters bit for bit", (_, text) => {
    sameOnEveryThreadCount(text, dtype, 12, 6000); // a batch of 12 in several im2col chunks
  });
  it("a conv's gW over more windows than one exchange carries (several exchanges per chunk)", () => {
    sameOnEveryThreadCount("conv 2 1x1, relu, affine 10", dtype, 48, 1 << 22); // 48 × 784 windows: 147 products of 256
  });
});

describe("a failed worker", () => {
  it("fails the step with a message instead of waiting for it", async () => {
    const pool = new WorkerPool(1);
    const specs = parseLayerList("affine 16, relu, affine 10").layers;
    const net = new Network(specOf(buildReferenceNet(specs, new Rng(1), { init: "he" }), "float32", 8, ADAM));
    const split = new StepSplit(net.a, pool);
    split.minWork = 0;
    net.stepSplit = split;
    await pool.close();
    await new Promise((r) => setTimeout(r, 0));
    const rng = new Rng(2);
    const imgs = images(rng, 8), labels = new Uint8Array(8);
    expect(() => net.step(imgs, labels, Int32Array.from([0, 1, 2, 3]), 0.1)).toThrow(/a worker of the training step failed/);
  });
});

describe("SpinPolicy (whether the step's threads watch for each other)", () => {
  // windows of 100 ms of steps at `cores` of CPU time per wall ms, from time `t`
  const feed = (p: SpinPolicy, t: number, cores: number, windows = 1) => {
    let on = true;
    for (let w = 0; w < windows; w++) on = p.observe(100, 100 * cores, t + 100 * (w + 1));
    return on;
  };
  it("stays on while the process gets about a core a thread, ignoring the first window", () => {
    const p = new SpinPolicy(2);
    expect(feed(p, 0, 0.8)).toBe(true); // the workers' start
    expect(feed(p, 100, 1.9, 50)).toBe(true);
    expect(p.observe(40, 10, 5200)).toBe(true); // under a window: no decision
  });
  it("turns off after two low windows running, tries again after 4 s, then 8, 16, 32 s at most", () => {
    const p = new SpinPolicy(2);
    feed(p, 0, 2);
    expect(feed(p, 100, 1.3)).toBe(true); // one low window: a hiccup, perhaps
    expect(feed(p, 200, 1.9)).toBe(true);
    expect(feed(p, 300, 1.3)).toBe(true);
    expect(feed(p, 400, 1.3)).toBe(false); // off at 500
    expect(feed(p, 500, 1.0, 39)).toBe(false); // until 4,000 ms later
    expect(feed(p, 4400, 1.0)).toBe(true); // the try
    expect(feed(p, 4500, 1.3, 2)).toBe(false); // failed at 4,700: the next try 8 s later
    expect(feed(p, 4700, 1.0, 79)).toBe(false);
    expect(feed(p, 12600, 1.0)).toBe(true);
    expect(feed(p, 12700, 1.9, 10)).toBe(true); // succeeded: stays on, and the wait is 4 s again
    expect(feed(p, 13700, 1.2, 2)).toBe(false); // off at 13,900
    expect(feed(p, 13900, 1.0, 39)).toBe(false);
    expect(feed(p, 17800, 1.0)).toBe(true);
  });
  it("with 3 threads on 2 cores, watching never pays", () => {
    const p = new SpinPolicy(3);
    feed(p, 0, 2);
    expect(feed(p, 100, 2, 2)).toBe(false);
  });
});
