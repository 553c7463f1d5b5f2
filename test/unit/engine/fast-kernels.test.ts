import { describe, expect, it } from "vitest";
import { denseLayers, Network, NO_OPTIMIZER } from "../../../src/engine/network.js";
import { fastKernelsAvailable } from "../../../src/engine/wasm.js";
import { Arena } from "../../../src/engine/arena.js";
import { LossPipeline } from "../../../src/engine/loss-pipeline.js";
import { matmul } from "../../../src/book/matrix.js";
import { Rng } from "../../../src/book/rng.js";
import { loadMnistRaw, PIXEL_SCALE } from "../../../src/data/mnist.js";
import { TwoLayerNet, PARAM_NAMES } from "../../../src/reference/two-layer-net.js";
import { train } from "../../../src/train/trainer.js";
import { HyperparametersSchema, type Dtype, type ResolvedHyperparameters } from "../../../src/train/hyperparameters.js";

/** The book's net on the engine: [affine H, sigmoid, affine O], plain SGD. */
const bookNet = (dtype: Dtype, D: number, H: number, O: number, maxRows: number) =>
  new Network({ dtype, inputSize: D, layers: denseLayers([H], O, "sigmoid"), weightDecay: 0, optimizer: NO_OPTIMIZER, maxRows });

const built = fastKernelsAvailable("float32") && fastKernelsAvailable("float64");
const TOL: Record<Dtype, number> = { float32: 1e-5, float64: 1e-12 };

/** Sparse random bytes: `zeroFraction` of them 0, like MNIST pixels. */
function sparseBytes(rng: Rng, n: number, zeroFraction: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.uniform() < zeroFraction ? 0 : 1 + rng.int(255);
  return b;
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor));
  return worst;
}

describe.skipIf(!built)("the engine (book net) against the float64 reference", () => {
  // shapes: edge sizes and non-multiples of the SIMD width (4 / 2) and of the 7-, 6-, 4- and 1-vector register blocks
  const shapes = [
    [1, 1, 1, 1], [3, 5, 7, 3], [2, 17, 1, 2], [5, 784, 50, 10], [4, 33, 37, 11], [7, 16, 64, 10], [1, 100, 9, 1],
    [3, 40, 28, 10], [2, 30, 52, 3],
  ];
  for (const dtype of ["float32", "float64"] as const) {
    for (const [n, D, H, O] of shapes) {
      it(`${dtype} training step (gradient, update, loss) matches the reference step (${D}-${H}-${O}, batch ${n})`, () => {
        const rng = new Rng(5 + D);
        const rows = 2 * n + 3;
        const images = sparseBytes(rng, rows * D, 0.8);
        const labels = Uint8Array.from({ length: rows }, () => rng.int(O));
        const net = new TwoLayerNet(D, H, O, { weightInitStd: 0.3, rng });
        const fast = bookNet(dtype, D, H, O, Math.max(n, 4));
        fast.setParams(net.params);
        // the float32 path starts from the float32-rounded parameters
        const ref = new TwoLayerNet(D, H, O, { weightInitStd: 0 });
        for (const k of PARAM_NAMES) ref.params[k].set(net.params[k].map((v) => (dtype === "float32" ? Math.fround(v) : v)));
        const indices = Int32Array.from({ length: n }, () => rng.int(rows));
        const x = new Float64Array(n * D);
        const t = new Uint8Array(n);
        for (let r = 0; r < n; r++) {
          for (let j = 0; j < D; j++) x[r * D + j] = PIXEL_SCALE[images[indices[r] * D + j]];
          t[r] = labels[indices[r]];
        }
        // the same steps from the packed images (keepImages): the same CSR, so the same bits
        const kept = bookNet(dtype, D, H, O, Math.max(n, 4));
        kept.setParams(net.params);
        kept.keepImages(images);
        for (let step = 0; step < 3; step++) {
          const loss = fast.trainStep(images, labels, indices, 0.5);
          expect(kept.trainStep(images, labels, indices, 0.5)).toBe(loss);
          ref.sgdStep(ref.gradient(x, t), 0.5);
          const refLoss = ref.loss(x, t);
          if (dtype === "float64") expect(loss).toBe(refLoss);
          else expect(Math.abs(loss - refLoss) / Math.max(refLoss, 1e-3)).toBeLessThan(1e-5);
        }
        const got = new TwoLayerNet(D, H, O, { weightInitStd: 0 });
        fast.getParams(got.params);
        for (const k of PARAM_NAMES) {
          if (dtype === "float64") expect(got.params[k]).toEqual(ref.params[k]);
          else expect(maxRel(got.params[k], ref.params[k], 1e-2)).toBeLessThan(1e-5);
        }
        const gotKept = new TwoLayerNet(D, H, O, { weightInitStd: 0 });
        kept.getParams(gotKept.params);
        for (const k of PARAM_NAMES) expect(gotKept.params[k]).toEqual(got.params[k]);
        // prediction (argmax of the logits) agrees with the reference's argmax of softmax
        const predicted = new Int32Array(rows);
        fast.predictRange(images, 0, rows, predicted);
        // and from packed rows: a part kept on its own (as an evaluation worker keeps its part)
        const part = bookNet(dtype, D, H, O, Math.max(n, 4));
        part.setParams(got.params);
        part.keepImages(images, 1, rows - 2);
        expect(part.keeps(images, 1, rows - 2)).toBe(true);
        expect(part.keeps(images, 0, rows)).toBe(false);
        const fromPart = new Int32Array(rows - 2);
        part.predictRange(images, 1, rows - 2, fromPart);
        expect(Array.from(fromPart)).toEqual(Array.from(predicted.subarray(1, rows - 1)));
        const xs = Float64Array.from(images, (v) => PIXEL_SCALE[v]);
        const y = ref.predict(xs);
        for (let r = 0; r < rows; r++) {
          let best = 0;
          for (let o = 1; o < O; o++) if (y[r * O + o] > y[r * O + best]) best = o;
          const margin = Math.abs(y[r * O + predicted[r]] - y[r * O + best]);
          if (predicted[r] !== best) expect(margin).toBeLessThan(dtype === "float32" ? 1e-5 : 1e-12); // a near-tie
        }
      });
    }
  }
});

describe.skipIf(!built)("packed images (keepImages)", () => {
  it("batches and predictions from packed rows equal those from the pixel scan: empty, dense and ragged rows, any width", () => {
    for (const dtype of ["float32", "float64"] as const) {
      for (const D of [1, 3, 15, 16, 17, 33, 784]) {
        const rng = new Rng(D);
        const [H, O, N] = [9, 4, 12];
        const images = sparseBytes(rng, N * D, 0.7);
        images.fill(0, 0, D); // an empty row
        images.fill(255, D, 2 * D); // a dense row: every pixel an entry, the buffers' worst case
        for (let j = 0; j < D; j++) images[2 * D + j] = 1 + (j % 255); // dense, every byte value
        const labels = Uint8Array.from({ length: N }, () => rng.int(O));
        const init = new TwoLayerNet(D, H, O, { weightInitStd: 0.3, rng });
        const scan = bookNet(dtype, D, H, O, N);
        const packed = bookNet(dtype, D, H, O, N);
        scan.setParams(init.params);
        packed.setParams(init.params);
        packed.keepImages(images);
        for (const batch of [[0, 1, 2], [1, 1, 1, 2, 2], [5, 0, 11, 3, 1, 7, 2, 9, 4, 10, 6, 8], [2]]) {
          const idx = Int32Array.from(batch);
          expect(packed.trainStep(images, labels, idx, 0.3)).toBe(scan.trainStep(images, labels, idx, 0.3));
        }
        const a = new Int32Array(N), b = new Int32Array(N);
        scan.predictRange(images, 0, N, a);
        packed.predictRange(images, 0, N, b);
        expect(Array.from(b)).toEqual(Array.from(a));
        const pa = new TwoLayerNet(D, H, O, { weightInitStd: 0 }), pb = new TwoLayerNet(D, H, O, { weightInitStd: 0 });
        scan.getParams(pa.params);
        packed.getParams(pb.params);
        for (const k of PARAM_NAMES) expect(pb.params[k]).toEqual(pa.params[k]);
      }
    }
  });
});

describe.skipIf(!built)("the loss pass on a worker (LossPipeline)", () => {
  it("the worker's losses and those taken back are trainStep's, bit for bit; restore() rolls back", async () => {
    for (const dtype of ["float32", "float64"] as const) {
      const rng = new Rng(5);
      const [N, D, H, O, B] = [300, 40, 13, 10, 17];
      const images = new Uint8Array(new SharedArrayBuffer(N * D));
      images.set(sparseBytes(rng, N * D, 0.8));
      const labels = new Uint8Array(new SharedArrayBuffer(N));
      for (let i = 0; i < N; i++) labels[i] = rng.int(O);
      const init = new TwoLayerNet(D, H, O, { weightInitStd: 0.3, rng });
      const ref = bookNet(dtype, D, H, O, B);
      const net = bookNet(dtype, D, H, O, B);
      ref.setParams(init.params);
      net.setParams(init.params);
      net.keepImages(images);
      const pipe = new LossPipeline(net, images, labels, B);
      try {
        const batch = new Int32Array(B);
        const seen = { here: 0, worker: 0 };
        for (let it = 0; it < 40; it++) {
          for (let r = 0; r < B; r++) batch[r] = rng.int(N);
          const want = ref.trainStep(images, labels, batch, 0.5);
          net.step(images, labels, batch, 0.5);
          // the first job is posted before the worker has started: taken back
          if (it > 0) while (!pipe.ready) await new Promise((resolve) => setTimeout(resolve, 5));
          pipe.post(batch);
          if (it > 0) await new Promise((resolve) => setTimeout(resolve, 2)); // let the worker claim it
          expect(await pipe.take()).toBe(want);
          Object.assign(seen, pipe.counts);
        }
        expect(seen.here).toBeGreaterThan(0);
        expect(seen.worker).toBeGreaterThan(0);
        const before = new Uint8Array(net.paramByteLength);
        net.readParamBytes(before);
        net.step(images, labels, batch, 0.5);
        pipe.restore();
        const after = new Uint8Array(net.paramByteLength);
        net.readParamBytes(after);
        expect(after).toEqual(before);
      } finally {
        await pipe.close();
      }
    }
  });
});

describe.skipIf(!built)("trainer on the fast path", () => {
  const hp = (over: Partial<ResolvedHyperparameters>): ResolvedHyperparameters =>
    ({ ...HyperparametersSchema.parse({ iters: 300, trainLimit: 5000, testLimit: 1000, ...over }), seed: 3, evalEvery: 100 }) as ResolvedHyperparameters;

  it("float64 is bit for bit the reference run; each dtype is reproducible; float32 keeps the accuracy", async () => {
    const data = await loadMnistRaw();
    const ref = await train(data, hp({ dtype: "float64" }), { kernels: "reference" });
    const f64 = await train(data, hp({ dtype: "float64" }));
    const f32a = await train(data, hp({ dtype: "float32" }));
    const f32b = await train(data, hp({ dtype: "float32" }));
    for (const k of PARAM_NAMES) {
      expect(f64.net.params[k]).toEqual(ref.net.params[k]);
      expect(f32a.net.params[k]).toEqual(f32b.net.params[k]);
    }
    expect(f64.finalLoss).toBe(ref.finalLoss);
    expect(f64.testAccuracy).toBe(ref.testAccuracy);
    expect(f32a.finalLoss).toBe(f32b.finalLoss);
    expect(Math.abs(f32a.testAccuracy - ref.testAccuracy)).toBeLessThanOrEqual(0.005);
    expect(ref.testAccuracy).toBeGreaterThan(0.5);
  }, 600_000); // the float64 reference run is slow on a loaded machine

  it("the evaluation threads change no result", async () => {
    const data = await loadMnistRaw();
    const events: number[][] = [];
    const run = async (threads: number) => {
      const seen: number[] = [];
      const r = await train(data, hp({ dtype: "float32", iters: 120 }), { threads, listeners: [{ epoch: (e) => seen.push(e.trainAccuracy, e.testAccuracy) }] });
      events.push(seen);
      return r;
    };
    const one = await run(1);
    const two = await run(2);
    const three = await run(3);
    for (const k of PARAM_NAMES) expect(two.net.params[k]).toEqual(one.net.params[k]);
    expect(events[1]).toEqual(events[0]);
    expect(events[2]).toEqual(events[0]);
    expect(three.testAccuracy).toBe(one.testAccuracy);
  });

  it("the loss pass on a second thread changes no event, loss or parameter (float32 and float64)", async () => {
    const data = await loadMnistRaw();
    for (const dtype of ["float32", "float64"] as const) {
      const run = async (threads: number) => {
        const seen: unknown[] = [];
        const r = await train(data, hp({ dtype, iters: 250 }), {
          threads,
          lossThread: "always",
          checkpointEvery: 45,
          listeners: [
            {
              iteration: (e) => seen.push(["iteration", e.iteration, e.loss]),
              epoch: (e) => seen.push(["epoch", e.epoch, e.iteration, e.trainAccuracy, e.testAccuracy]),
              checkpoint: (c) => seen.push(["checkpoint", c.iteration, c.finalLoss, c.params, c.rng]),
            },
          ],
        });
        return { r, seen };
      };
      const one = await run(1);
      const two = await run(2);
      expect(two.seen).toEqual(one.seen);
      expect(two.seen.filter((e) => (e as unknown[])[0] === "iteration")).toHaveLength(250);
      for (const k of PARAM_NAMES) expect(two.r.net.params[k]).toEqual(one.r.net.params[k]);
      expect(two.r.finalLoss).toBe(one.r.finalLoss);
      expect(two.r.state).toEqual({ ...one.r.state, elapsedS: two.r.state.elapsedS });
    }
  });
});

describe.skipIf(!built)("gemm against a plain loop in the same order", () => {
  // Y[q] = init + Σ_i S[q, i] × M[i], i ascending, each multiply and add rounded to the dtype: the
  // kernel works on panels of rows and walks long sums in blocks (partial sums kept in Y), which
  // must not change a bit
  const round = (dtype: Dtype) => (dtype === "float32" ? Math.fround : (v: number) => v);
  for (const dtype of ["float32", "float64"] as const) {
    it.each([[0, 5], [1, 129], [7, 300], [256, 5], [257, 131], [600, 3], [1031, 2]])(`${dtype}: sums of %i terms, %i rows, each init (bias row, zero, accumulate)`, (count, nq) => {
      const a = new Arena(dtype);
      const yV = 3, cols = yV * a.lanes;
      const S0 = a.values(Math.max(1, nq * count)), M0 = a.values(Math.max(1, count * cols)), B = a.values(cols), Y = a.values(nq * cols);
      a.commit();
      const rng = new Rng(count + 1);
      const fill = (p: number, n: number) => a.f(p, n).forEach((_, i, v) => (v[i] = rng.normal()));
      fill(S0, nq * count);
      fill(M0, count * cols);
      fill(B, cols);
      const r = round(dtype);
      const s = Array.from(a.f(S0, nq * count)), m = Array.from(a.f(M0, count * cols)), b = Array.from(a.f(B, cols));
      for (const init of [B, -1, -2]) {
        a.f(Y, nq * cols).fill(0.25);
        const expected: number[] = [];
        for (let q = 0; q < nq; q++) {
          for (let j = 0; j < cols; j++) {
            let acc = init === B ? b[j] : init === -2 ? 0.25 : 0;
            for (let i = 0; i < count; i++) acc = r(acc + r(s[q * count + i] * m[i * cols + j]));
            expected.push(acc);
          }
        }
        a.k.gemm(S0, count * a.S, a.S, nq, count, M0, cols * a.S, yV, init, Y, cols * a.S);
        expect(Array.from(a.f(Y, nq * cols))).toEqual(expected);
      }
    });
  }
});

describe.skipIf(!built)("uniforms (dropout's draws)", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`${dtype}: the numbers of as many Rng.uniform() calls, bit for bit, and the generator left where they leave it`, () => {
      const a = new Arena(dtype);
      const out = a.alloc(8 * 5000), st = a.alloc(16);
      a.commit();
      for (const [seed, n] of [[0, 1], [7, 4999], [123456789, 5000], [2 ** 32 + 5, 0]]) {
        const ref = new Rng(seed), rng = new Rng(seed);
        ref.uniform(); // a state past the seed's first words
        rng.uniform();
        ref.normal(); // a pending Box-Muller spare is not part of the uniform stream, and stays
        rng.normal();
        const expected = Array.from({ length: n }, () => ref.uniform());
        const words = a.i32(st, 4);
        words.set(rng.getState().s);
        a.k.uniforms(out, n, st);
        expect(Array.from(a.f64(out, n))).toEqual(expected);
        const state = rng.getState();
        rng.setState({ ...state, s: Array.from(new Uint32Array(words.buffer, words.byteOffset, 4)) });
        expect(rng.getState()).toEqual(ref.getState());
        expect([rng.normal(), rng.uniform()]).toEqual([ref.normal(), ref.uniform()]);
      }
    });
  }
});

describe.skipIf(!built)("transpose_w2", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`${dtype}: WT[o, h] = W[h, o] for h < H, o < O, and nothing else written (whole blocks and edges)`, () => {
      for (const [H, O] of [[1, 1], [3, 5], [4, 4], [5, 3], [17, 30], [33, 37], [64, 8], [40, 1]]) {
        const a = new Arena(dtype);
        const L = a.lanes, HV = Math.ceil(H / L) + 1, OV = Math.ceil(O / L) + 1; // padded past the next vector
        const W = a.values(H * OV * L), WT = a.values((O + 3) * HV * L); // rows past O: must stay as they are
        a.commit();
        const w = a.f(W, H * OV * L), wt = a.f(WT, (O + 3) * HV * L);
        w.forEach((_, i) => (w[i] = i + 1));
        wt.fill(-7);
        a.k.transpose_w2(W, WT, H, HV, O, OV);
        const expected = new Array(wt.length).fill(-7);
        for (let h = 0; h < H; h++) for (let o = 0; o < O; o++) expected[o * HV * L + h] = w[h * OV * L + o];
        expect(Array.from(wt), `${H} × ${O}`).toEqual(expected);
      }
    });
  }
});

describe.skipIf(!built)("sum_rows", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`${dtype}: out[j] = Σ_r X[r, j], r ascending, over V vectors of rows wider than V (whole cache lines and the rest)`, () => {
      const round = dtype === "float32" ? Math.fround : (v: number) => v;
      for (const [n, V] of [[0, 3], [1, 4], [7, 5], [300, 9], [33, 1]]) {
        const a = new Arena(dtype);
        const L = a.lanes, rowV = V + 2; // rows wider than the columns summed
        const X = a.values(Math.max(1, n) * rowV * L), out = a.values((V + 1) * L);
        a.commit();
        const x = a.f(X, n * rowV * L), o = a.f(out, (V + 1) * L);
        const rng = new Rng(n + V);
        x.forEach((_, i) => (x[i] = rng.normal()));
        o.fill(-7);
        a.k.sum_rows(X, n, V, out, rowV * 16);
        const expected = new Array((V + 1) * L).fill(-7);
        for (let j = 0; j < V * L; j++) {
          let acc = 0;
          for (let r = 0; r < n; r++) acc = round(acc + x[r * rowV * L + j]);
          expected[j] = acc;
        }
        expect(Array.from(o), `${n} rows × ${V} vectors`).toEqual(expected);
      }
    });
  }
});
