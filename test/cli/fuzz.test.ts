/**
 * Property tests (fast-check) of what hostile or damaged inputs do to the bins: model.json for
 * mnist-eval, checkpoint.json for mnist-train --resume, --config files, and PNGs for mnist-predict.
 * Whatever the input: exit 0 or its documented code, at most one line on stderr naming the command,
 * never "internal error", peak memory bounded (measured in the child), and no file left behind.
 * Each case runs a process, so the runs per property are few (FUZZ_RUNS, default 4); the byte
 * scan that guards the JSON readers is checked in-process on many more inputs.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/book/rng.js";
import type { MnistSplit } from "../../src/data/mnist.js";
import { FileFormatError } from "../../src/errors.js";
import { checkJsonShape } from "../../src/io/files.js";
import { toCheckpointJson } from "../../src/run/checkpoint.js";
import { TrainOptionsSchema } from "../../src/cli/train-options.js";
import type { ResolvedHyperparameters } from "../../src/train/hyperparameters.js";
import { train } from "../../src/train/trainer.js";
import { createHash } from "node:crypto";
import { ROOT, runBin, runProcess, tempDir } from "../helpers.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 4);
const tmp = tempDir("mnist-ts-fuzz-");
afterAll(() => tmp.cleanup());
/** Peak memory a refused or handled input may cost a command: the runtime, MNIST, and a small model. */
const RSS_LIMIT = 600 * 1024 ** 2;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  rss: number;
}

let seq = 0;
/** Run a bin (asynchronously: the test worker stays responsive) and read its peak memory. */
async function runMeasured(bin: string, args: string[]): Promise<Outcome> {
  const rssFile = path.join(tmp.dir, `rss-${seq++}`);
  const env: NodeJS.ProcessEnv = { ...process.env, RSS_FILE: rssFile };
  delete env.FORCE_COLOR;
  const r = await runProcess(process.execPath, ["--import", path.join(ROOT, "test", "fixtures", "report-rss.mjs"), path.join(ROOT, "bin", `${bin}.js`), ...args], { cwd: ROOT, env });
  const rss = Number(readFileSync(rssFile, "utf8"));
  rmSync(rssFile);
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, rss };
}

/** The contract every outcome keeps. */
function expectHandled(bin: string, o: Outcome, codes: number[]): void {
  expect(codes, o.stderr).toContain(o.code);
  expect(o.stderr).not.toMatch(/internal error|\n\s+at /);
  if (o.code !== 0) {
    const lines = o.stderr.trim().split("\n");
    expect(lines.at(-1)).toMatch(new RegExp(`^${bin}: `));
    expect(lines.filter((l) => !/^mnist-\w+: (--threads|MNIST:|downloading)/.test(l)).length).toBe(1);
  }
  expect(o.rss).toBeLessThan(RSS_LIMIT);
}

/** JSON text → one damaged variant: a value replaced, a key removed or added, truncation, padding, nesting. */
function mutations(base: unknown): fc.Arbitrary<string> {
  const text = JSON.stringify(base);
  const paths: string[][] = [];
  const walk = (v: unknown, p: string[]) => {
    if (p.length > 0) paths.push(p);
    if (v && typeof v === "object" && p.length < 4) for (const [k, c] of Object.entries(v)) if (!Array.isArray(v) || Number(k) < 3) walk(c, [...p, k]);
  };
  walk(base, []);
  const setAt = (p: string[], value: unknown, remove = false) => {
    const copy = structuredClone(base) as Record<string, unknown>;
    let o = copy as Record<string, unknown>;
    for (const k of p.slice(0, -1)) o = o[k] as Record<string, unknown>;
    if (remove) delete o[p.at(-1)!];
    else o[p.at(-1)!] = value;
    return JSON.stringify(copy);
  };
  return fc.oneof(
    fc.tuple(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 3 })).map(([p, v]) => setAt(p, v)),
    fc.tuple(fc.constantFrom(...paths), fc.constantFrom(-1, 0, 1e9, 2 ** 53, 1e308, "x", null, [], {}, [1e9, 1e9])).map(([p, v]) => setAt(p, v)),
    fc.constantFrom(...paths).map((p) => setAt(p, undefined, true)),
    fc.nat({ max: text.length - 1 }).map((n) => text.slice(0, n)),
    fc.constantFrom("[", "{\"a\":").map((open) => open.repeat(5000)),
    fc.integer({ min: 1, max: 200_000 }).map((n) => "[" + Array(n).fill("{}").join(",") + "]"),
    fc.integer({ min: 1, max: 2_000_000 }).map((n) => text.replace(/"data":\[/, `"data":[${"0,".repeat(n)}`)),
  );
}

/** A file was left in `dir` besides `keep`? (temp files, a lock, a stray run folder) */
const leftovers = (dir: string, keep: string[]) => readdirSync(dir).filter((e) => !keep.includes(e));

describe("the byte scan that guards JSON reading agrees with a plain count of the parsed value", () => {
  const count = (v: unknown): { containers: number; numbers: number; depth: number } => {
    if (typeof v === "number") return { containers: 0, numbers: 1, depth: 0 };
    if (v === null || typeof v !== "object") return { containers: 0, numbers: 0, depth: 0 };
    const parts = Object.values(v).map(count);
    return {
      containers: 1 + parts.reduce((a, p) => a + p.containers, 0),
      numbers: parts.reduce((a, p) => a + p.numbers, 0),
      depth: 1 + Math.max(0, ...parts.map((p) => p.depth)),
    };
  };
  it("exactly at the counts it passes; one below any of them it throws a FileFormatError", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const bytes = Buffer.from(JSON.stringify(value));
        const c = count(value);
        checkJsonShape(bytes, "f.json", { maxContainers: c.containers, maxDepth: c.depth, maxNumbers: c.numbers });
        if (c.containers > 0) expect(() => checkJsonShape(bytes, "f.json", { maxContainers: c.containers - 1, maxDepth: 99 })).toThrow(FileFormatError);
        if (c.depth > 0) expect(() => checkJsonShape(bytes, "f.json", { maxContainers: 1e9, maxDepth: c.depth - 1 })).toThrow(FileFormatError);
        if (c.numbers > 0) expect(() => checkJsonShape(bytes, "f.json", { maxContainers: 1e9, maxDepth: 99, maxNumbers: c.numbers - 1 })).toThrow(FileFormatError);
      }),
      { numRuns: 300 },
    );
  });
});

describe("hostile files through the bins", () => {
  const run = path.join(tmp.dir, "run");
  let model: unknown;
  beforeAll(async () => {
    const r = await runBin("mnist-train", ["--train-limit", "500", "--test-limit", "50", "--iters", "10", "--hidden-size", "3", "--seed", "1", "--quiet", "--out", run]);
    expect(r.code).toBe(0);
    model = JSON.parse(readFileSync(path.join(run, "model.json"), "utf8"));
  }, 120_000);

  it("model.json → mnist-eval", async () => {
    const dir = path.join(tmp.dir, "models");
    mkdirSync(dir);
    await fc.assert(
      fc.asyncProperty(mutations(model), async (text) => {
        const file = path.join(dir, "model.json");
        writeFileSync(file, text);
        expectHandled("mnist-eval", await runMeasured("mnist-eval", [file, "--limit", "20", "--json"]), [0, 1]);
        expect(leftovers(dir, ["model.json"])).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  }, 180_000);

  it("PNG → mnist-predict (damaged bytes, any declared dimensions)", async () => {
    const dir = path.join(tmp.dir, "pngs");
    mkdirSync(dir);
    const image = new PNG({ width: 28, height: 28 });
    for (let p = 0; p < 28 * 28; p++) image.data.fill(p % 28 === 14 ? 255 : 0, 4 * p, 4 * p + 3), (image.data[4 * p + 3] = 255);
    const good = PNG.sync.write(image);
    const damaged = fc.oneof(
      // the IHDR's width and height, anything up to 2^31 (the CRC left stale or not checked)
      fc.tuple(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 2 ** 31 - 1 })).map(([w, h]) => {
        const b = Buffer.from(good);
        b.writeUInt32BE(w, 16);
        b.writeUInt32BE(h, 20);
        return b;
      }),
      fc.tuple(fc.nat({ max: good.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([at, bytes]) => {
        const b = Buffer.from(good);
        b.set(bytes.subarray(0, b.length - at), at);
        return b;
      }),
      fc.nat({ max: good.length - 1 }).map((n) => good.subarray(0, n)),
    );
    await fc.assert(
      fc.asyncProperty(damaged, async (bytes) => {
        const file = path.join(dir, "digit.png");
        writeFileSync(file, bytes);
        expectHandled("mnist-predict", await runMeasured("mnist-predict", [run, file, "--json"]), [0, 1]);
        expect(leftovers(dir, ["digit.png"])).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  }, 180_000);

  it("--config → mnist-train: refused before any run folder exists, or trains", async () => {
    const dir = path.join(tmp.dir, "configs");
    mkdirSync(dir);
    const keys = Object.keys(TrainOptionsSchema.shape);
    const config = fc.oneof(
      fc.dictionary(fc.constantFrom(...keys), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.integer({ min: -10, max: 200_000 }), fc.constantFrom(100000, [30000, 30000], 1e9, "float64")), { maxKeys: 4 }),
      fc.jsonValue({ maxDepth: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(config, async (value) => {
        const file = path.join(dir, "config.json");
        writeFileSync(file, JSON.stringify(value));
        const out = path.join(dir, "out");
        // the flags keep a valid config's run short (flags override the file)
        const o = await runMeasured("mnist-train", ["--config", file, "--iters", "2", "--train-limit", "100", "--test-limit", "10", "--eval-every", "1", "--batch-size", "5", "--quiet", "--out", out]);
        expectHandled("mnist-train", o, [0, 1, 2]);
        if (o.code === 2) expect(leftovers(dir, ["config.json"])).toEqual([]);
        if (o.code === 0) expect(leftovers(out, ["config.json", "loss.csv", "epochs.csv", "val.csv", "model.json", "summary.json", "curves.svg"])).toEqual([]);
        rmSync(out, { recursive: true, force: true });
      }),
      { numRuns: RUNS },
    );
  }, 180_000);

  it("checkpoint.json → mnist-train --resume: refused with one line (folder unlocked, no temp files), or resumed", async () => {
    // A run folder in the state an interruption leaves: config.json and a checkpoint of it.
    const recorded = TrainOptionsSchema.parse({ iters: 30, batchSize: 10, hiddenSize: [5, 4], optimizer: "adam", sampling: "shuffle", seed: 2, evalEvery: 10, trainLimit: 200, testLimit: 20 });
    const configText = JSON.stringify(recorded, null, 2) + "\n";
    const split = (count: number, seed: number): MnistSplit => {
      const rng = new Rng(seed);
      const images = new Uint8Array(count * 784).map(() => rng.int(256));
      return { count, rows: 28, cols: 28, images, labels: new Uint8Array(count).map(() => rng.int(10)) };
    };
    const abort = new AbortController();
    const r = await train({ train: split(200, 1), test: split(20, 2) }, recorded as ResolvedHyperparameters, { signal: abort.signal, listeners: [{ iteration: (e) => e.iteration === 12 && abort.abort() }] });
    const checkpoint = toCheckpointJson(r.state, createHash("sha256").update(configText).digest("hex"));
    await fc.assert(
      fc.asyncProperty(mutations(checkpoint), async (text) => {
        const dir = path.join(tmp.dir, "resume");
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        writeFileSync(path.join(dir, "config.json"), configText);
        writeFileSync(path.join(dir, "checkpoint.json"), text);
        const o = await runMeasured("mnist-train", ["--resume", dir, "--quiet"]);
        expectHandled("mnist-train", o, [0, 1]);
        const files = ["config.json", "checkpoint.json", "loss.csv", "epochs.csv"];
        expect(leftovers(dir, o.code === 0 ? [...files, "model.json", "summary.json", "curves.svg"] : files)).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  }, 180_000);
});
