// The engine's worker pool: job dispatch by kind, errors, close(), and its users sharing one pool.
// The workers run dist/engine/pool-worker.js, which the build produces.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import { countCorrect, EvalPool, partRange } from "../../../src/engine/eval-pool.js";
import { LossPipeline } from "../../../src/engine/loss-pipeline.js";
import { denseLayers, Network, NO_OPTIMIZER, PREDICT_CHUNK, type NetworkSpec } from "../../../src/engine/network.js";
import { NumericalGradientPool } from "../../../src/engine/numerical-gradient-pool.js";
import { WorkerPool, type JobKind } from "../../../src/engine/pool.js";
import { fastKernelsAvailable } from "../../../src/engine/wasm.js";
import { fastNumericalGradient } from "../../../src/reference/numerical-gradient.js";
import { PARAM_NAMES, TwoLayerNet } from "../../../src/reference/two-layer-net.js";

const built = fastKernelsAvailable("float32");
const [N, D, H, O] = [500, 40, 13, 10];
const spec = (maxRows: number): NetworkSpec => ({
  dtype: "float32",
  inputSize: D,
  layers: denseLayers([H], O, "sigmoid"),
  weightDecay: 0,
  optimizer: NO_OPTIMIZER,
  maxRows,
});

/** A small split in shared memory: sparse random pixels, random labels. */
function sharedSplit(rng: Rng) {
  const images = new Uint8Array(new SharedArrayBuffer(N * D));
  for (let i = 0; i < images.length; i++) images[i] = rng.uniform() < 0.8 ? 0 : 1 + rng.int(255);
  const labels = new Uint8Array(new SharedArrayBuffer(N));
  for (let i = 0; i < N; i++) labels[i] = rng.int(O);
  return { images, labels, count: N, rows: 1, cols: D };
}

function trainedNet(rng: Rng, maxRows: number): Network {
  const net = new Network(spec(maxRows));
  net.setParams(new TwoLayerNet(D, H, O, { weightInitStd: 0.5, rng }).params);
  return net;
}

describe.skipIf(!built)("WorkerPool", () => {
  it("runs jobs by kind on the worker asked: evaluation contexts, the numerical gradient, drop", async () => {
    const rng = new Rng(1);
    const split = sharedSplit(rng);
    const net = trainedNet(rng, PREDICT_CHUNK);
    const params = new Uint8Array(net.paramByteLength);
    net.readParamBytes(params);
    const pool = new WorkerPool(2);
    try {
      expect(pool.size).toBe(2);
      const ctx = pool.newContext();
      const s = { images: split.images, labels: split.labels };
      await Promise.all([0, 1].map((w) => pool.run(w, "evaluate-setup", { ctx, spec: spec(PREDICT_CHUNK), splits: [s] })));
      const scratch = new Int32Array(PREDICT_CHUNK);
      for (const w of [0, 1]) {
        const jobs = [0, 1, 2].map((part) => ({ split: 0, ...partRange(N, 3, part) }));
        const got = await pool.run<number[]>(w, "evaluate", { ctx, params, jobs });
        expect(got).toEqual(jobs.map((j) => countCorrect(net, split, j.start, j.count, scratch)));
      }
      // a dropped context is gone, on that worker only
      await pool.run(0, "drop", { ctx });
      await expect(pool.run(0, "evaluate", { ctx, params, jobs: [] })).rejects.toThrow(/no evaluation context/);
      await expect(pool.run(1, "evaluate", { ctx, params, jobs: [] })).resolves.toEqual([]);

      // the numerical gradient on the same pool: as on one thread, bit for bit
      const ref = new TwoLayerNet(D, H, O, { weightInitStd: 0.5, rng });
      const x = Float64Array.from({ length: 7 * D }, () => (rng.uniform() < 0.7 ? 0 : rng.uniform()));
      const t = Uint8Array.from({ length: 7 }, () => rng.int(O));
      const numerical = new NumericalGradientPool(pool);
      expect(numerical.threads).toBe(3);
      const want = fastNumericalGradient(ref, x, t);
      const got = await numerical.gradient(ref, x, t);
      for (const k of PARAM_NAMES) expect(got[k]).toEqual(want[k]);
      await numerical.close(); // leaves the shared pool open
      await expect(pool.run(1, "evaluate", { ctx, params, jobs: [] })).resolves.toEqual([]);
    } finally {
      await pool.close();
    }
  });

  it("an error in a worker rejects its job's promise with the worker's message; the worker goes on", async () => {
    const pool = new WorkerPool(1);
    try {
      await expect(pool.run(0, "no-such-kind" as JobKind, {})).rejects.toThrow(/no-such-kind job on worker 0: unknown job kind "no-such-kind"/);
      const bad = { ...spec(10), inputSize: 0 };
      const failed = pool.run(0, "evaluate-setup", { ctx: pool.newContext(), spec: bad, splits: [] });
      await expect(failed).rejects.toThrow(/^evaluate-setup job on worker 0: input size 0/);
      // the worker's stack is kept as the cause
      const e = await failed.catch((err: Error) => err);
      expect((e as Error).cause).toBeInstanceOf(Error);
      expect(String(((e as Error).cause as Error).stack)).toMatch(/new Network/);
      // a job that throws in the middle of its work
      await expect(pool.run(0, "numerical-gradient", { buffer: new SharedArrayBuffer(8), layout: {}, dims: { N: 1, I: 1, H: 1, O: 1 }, rows: [0, 1], out: 0 })).rejects.toThrow(
        /^numerical-gradient job on worker 0: /,
      );
      await expect(pool.run(0, "drop", { ctx: 1 })).resolves.toBeUndefined();
      await expect(pool.run(1, "drop", { ctx: 1 })).rejects.toThrow(/no worker 1 in a pool of 1/);
    } finally {
      await pool.close();
    }
  });

  it("close() ends every worker and rejects the jobs still out and any later one", async () => {
    const pool = new WorkerPool(3);
    await Promise.all([0, 1, 2].map((w) => pool.run(w, "drop", { ctx: 0 })));
    expect(pool.running).toBe(3);
    const out = pool.run(2, "drop", { ctx: 0 }); // its reply cannot arrive before close() below
    const closing = pool.close();
    await expect(out).rejects.toThrow(/closed/);
    await closing;
    expect(pool.running).toBe(0);
    await expect(pool.run(0, "drop", { ctx: 0 })).rejects.toThrow(/closed/);
    await pool.close(); // idempotent
    expect(() => new WorkerPool(0)).toThrow(RangeError);
    expect(WorkerPool.forThreads(1)).toBeUndefined();
  });

  it("an idle pool that is never closed does not keep the process alive; a job out does until its reply", () => {
    const dir = mkdtempSync(join(tmpdir(), "pool-exit-"));
    const script = join(dir, "idle.mjs");
    writeFileSync(
      script,
      `import { WorkerPool } from ${JSON.stringify(new URL("../../../dist/engine/pool.js", import.meta.url).href)};
      const p = new WorkerPool(2);
      p.run(1, "drop", { ctx: 0 }).then(() => console.log("replied"));
      `,
    );
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("replied\n");
    expect(r.status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  it("evaluation and the loss lane share one worker (threads = 2): same accuracies and losses as one thread", async () => {
    const rng = new Rng(2);
    const split = sharedSplit(rng);
    const B = 17;
    const net = trainedNet(rng, PREDICT_CHUNK);
    const alone = new EvalPool(net, [split, split], 1);
    const want = await alone.accuracy([0, 1]);
    const pool = new WorkerPool(1);
    try {
      const evalPool = new EvalPool(net, [split], pool);
      expect(evalPool.threads).toBe(2);
      const shared = evalPool.split(0);
      net.keepImages(shared.images);
      const pipe = new LossPipeline(net, shared.images, shared.labels, B, "always", pool);
      const local = trainedNet(new Rng(0), B);
      const batch = new Int32Array(B);
      let onWorker = 0;
      for (let it = 0; it < 30; it++) {
        expect(await evalPool.accuracy([0])).toEqual([want[0]]);
        for (let r = 0; r < B; r++) batch[r] = rng.int(N);
        net.step(shared.images, shared.labels, batch, 0.5);
        const bytes = new Uint8Array(net.paramByteLength);
        net.readParamBytes(bytes);
        local.writeParamBytes(bytes);
        if (it > 0) while (!pipe.ready) await new Promise((resolve) => setTimeout(resolve, 5));
        pipe.post(batch);
        if (it > 0) await new Promise((resolve) => setTimeout(resolve, 2)); // let the worker claim it
        expect(await pipe.take()).toBe(local.batchLoss(shared.images, shared.labels, batch));
        onWorker = pipe.counts.worker;
        want[0] = (await alone.accuracy([0]))[0];
      }
      expect(onWorker).toBeGreaterThan(0);
      await pipe.close();
      await evalPool.close();
      expect(pool.running).toBe(1); // both left the shared pool open
    } finally {
      await pool.close();
    }
    expect(pool.running).toBe(0);
  });
});
