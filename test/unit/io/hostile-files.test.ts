/**
 * Hostile and broken files, as properties: whatever the bytes or the JSON, the IDX parser and the
 * model, checkpoint and config loaders only ever fail with their typed errors, quickly.
 */
import { truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { checkPair, parseIdx, parseIdxImages, parseIdxLabels, MAX_IDX_BYTES } from "../../../src/data/idx.js";
import { FileFormatError, IdxFormatError, UsageError } from "../../../src/errors.js";
import { parseJsonText, readJsonFile } from "../../../src/io/files.js";
import { ModelJsonSchema, netFromModelJson, toModelJson } from "../../../src/run/model-json.js";
import { TwoLayerNet } from "../../../src/reference/two-layer-net.js";
import { CheckpointSchema } from "../../../src/run/checkpoint.js";
import { resolveTrainOptions, TrainOptionsSchema } from "../../../src/cli/train-options.js";
import { tempDir } from "../../helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Run `fn`; anything thrown must be one of `allowed`. Returns the error (or undefined). */
function onlyTyped(fn: () => unknown, allowed: (new (...a: never[]) => Error)[]): Error | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!allowed.some((cls) => err instanceof cls)) throw err;
    return err as Error;
  }
}

const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const IMAGES = Uint8Array.from([0, 0, 8, 3, ...u32(2), ...u32(2), ...u32(3), ...Array.from({ length: 12 }, (_, i) => i * 20)]);
const LABELS = Uint8Array.from([0, 0, 8, 1, ...u32(2), 3, 9]);

/** A valid file with a few bytes overwritten, cut short or extended. */
const mutated = (base: Uint8Array) =>
  fc
    .tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.option(fc.nat()), fc.uint8Array({ maxLength: 8 }))
    .map(([edits, cut, extra]) => {
      const b = Uint8Array.from([...base, ...extra]);
      for (const [pos, v] of edits) b[pos % b.length] = v;
      return cut === null ? b : b.subarray(0, cut % (b.length + 1));
    });

describe("IDX parser: only IdxFormatError escapes", () => {
  const parsers = [(b: Uint8Array) => parseIdx(b, "f"), (b: Uint8Array) => parseIdxImages(b, "f"), (b: Uint8Array) => parseIdxLabels(b, "f")];

  it("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const p of parsers) onlyTyped(() => p(bytes), [IdxFormatError]);
      }),
      { numRuns: 500 },
    );
  });

  it("valid files, mutated, raw and gzip", () => {
    fc.assert(
      fc.property(fc.oneof(mutated(IMAGES), mutated(LABELS)), fc.boolean(), (bytes, gz) => {
        const input = gz ? gzipSync(bytes) : bytes;
        for (const p of parsers) {
          const err = onlyTyped(() => p(input), [IdxFormatError]);
          if (err) expect(err.message.startsWith("f: ")).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("corrupt and truncated gzip", () => {
    const gz = gzipSync(IMAGES);
    fc.assert(
      fc.property(mutated(gz), (bytes) => {
        const err = onlyTyped(() => parseIdxImages(bytes, "f.gz"), [IdxFormatError]);
        if (err) expect(err.message.startsWith("f.gz: ")).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("a huge declared shape is refused from the header, before allocating", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 2 ** 32 - 1 }), { minLength: 1, maxLength: 6 }), fc.uint8Array({ maxLength: 16 }), (dims, payload) => {
        const bytes = Uint8Array.from([0, 0, 8, dims.length, ...dims.flatMap(u32), ...payload]);
        const err = onlyTyped(() => parseIdx(bytes, "f"), [IdxFormatError]) as IdxFormatError | undefined;
        if (dims.reduce((a, b) => a * b, 1) !== payload.length) expect(err).toBeDefined();
      }),
      { numRuns: 300 },
    );
    // a gzip bomb: more than MAX_IDX_BYTES once inflated
    expect(MAX_IDX_BYTES).toBeLessThan(2 ** 31);
  });

  it("image/label count mismatch names both files", () => {
    const img = parseIdxImages(IMAGES, "img");
    const labels = parseIdxLabels(Uint8Array.from([0, 0, 8, 1, ...u32(3), 1, 2, 3]), "lab");
    expect(() => checkPair(img, labels, "img", "lab")).toThrow(/^img: has 2 images but lab has 3 labels$/);
  });
});

const net = new TwoLayerNet(4, 3, 2, { seed: 1 });
const MODEL = toModelJson(net, undefined, new Date(0));

/** JSON values, including the keys an attacker would try. */
const hostileKey = fc.constantFrom("__proto__", "constructor", "prototype", "format", "params", "W1", "shape", "data", "hiddenSize");
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom(null, true, false, 0, -1, 1e308, 0.5, "", "NaN", "mnist-ts.model", "two-layer-net", "sigmoid", 1, 784, 2 ** 32),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.oneof(hostileKey, fc.string({ maxLength: 4 })), tie("value"), { maxKeys: 5 }),
  ),
})).value;

/** A valid document with one value somewhere replaced, or one key added. */
function mutateDoc(doc: unknown): fc.Arbitrary<unknown> {
  return fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), json, fc.option(hostileKey)).map(([route, value, key]) => {
    const copy = structuredClone(doc) as Record<string, unknown>;
    let node: Record<string, unknown> = copy;
    for (const step of route) {
      const keys = Object.keys(node);
      if (keys.length === 0) break;
      const k = keys[step % keys.length];
      const child = node[k];
      if (child === null || typeof child !== "object") {
        if (key === null) node[k] = value;
        break;
      }
      node = child as Record<string, unknown>;
    }
    if (key !== null) Object.defineProperty(node, key, { value, enumerable: true, configurable: true, writable: true });
    return copy;
  });
}

describe("model.json loader: only FileFormatError escapes, and nothing is polluted", () => {
  const load = (text: string) => netFromModelJson(parseJsonText(text, "m.json", ModelJsonSchema));

  it("accepts its own output", () => {
    expect(load(JSON.stringify(MODEL)).params).toEqual(net.params);
  });

  it("random JSON, and valid models with a value replaced or a key added", () => {
    fc.assert(
      fc.property(fc.oneof(json, mutateDoc(MODEL)), (doc) => {
        const err = onlyTyped(() => load(JSON.stringify(doc)), [FileFormatError]);
        if (err) {
          expect(err.message.startsWith("m.json: ")).toBe(true);
          expect(err.message).not.toMatch(/\n/);
        }
      }),
      { numRuns: 400 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("random text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (text) => void onlyTyped(() => load(text), [FileFormatError])), { numRuns: 300 });
  });

  it("__proto__ keys are unknown keys and touch no prototype", () => {
    const text = JSON.stringify(MODEL).replace('{"format"', '{"__proto__":{"polluted":true},"format"');
    expect(() => load(text)).toThrow('m.json: unknown key "__proto__"');
    const inner = JSON.stringify(MODEL).replace('"W1":{', '"W1":{"__proto__":{"polluted":true},');
    expect(() => load(inner)).toThrow('m.json: unknown key "__proto__" in "params.W1"');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a huge declared shape with little data is refused by its counts, not allocated", () => {
    const huge = structuredClone(MODEL) as any;
    huge.architecture.hiddenSize = 100_000;
    huge.architecture.inputSize = 100_000;
    expect(() => load(JSON.stringify(huge))).toThrow(/m\.json: "architecture" declares more than 50000000 parameters/);
    const big = structuredClone(MODEL) as any;
    big.params.W1.shape = [4, 99_999];
    expect(() => load(JSON.stringify(big))).toThrow(/"params\.W1\.shape" is \[4, 99999\], expected \[4, 3\]/);
  });

  it("a 2 GB file is refused from its size, before reading (a sparse file)", async () => {
    const file = path.join(tmp.dir, "huge-model.json");
    writeFileSync(file, "");
    truncateSync(file, 2 ** 31);
    const before = process.memoryUsage().rss;
    await expect(readJsonFile(file, ModelJsonSchema, 256 * 1024 * 1024)).rejects.toThrow(`${file}: is 2147483648 bytes, more than the 268435456 a valid file can be`);
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });
});

describe("checkpoint.json loader: only FileFormatError escapes", () => {
  it("random JSON and mutated checkpoints", () => {
    const valid = {
      format: "mnist-ts.checkpoint", version: 1, configSha256: "a".repeat(64), iteration: 3, epoch: 1, evaluatedAt: 0,
      finalLoss: 2.3, trainAccuracy: 0.1, testAccuracy: null, elapsedS: 0.5, rng: { s: [1, 2, 3, 4], spareNormal: null },
      params: { W1: [0.1], b1: [0], W2: [0.2], b2: [0] }, createdAt: "x",
    };
    expect(parseJsonText(JSON.stringify(valid), "c.json", CheckpointSchema).iteration).toBe(3);
    fc.assert(
      fc.property(fc.oneof(json, mutateDoc(valid)), (doc) => void onlyTyped(() => parseJsonText(JSON.stringify(doc), "c.json", CheckpointSchema), [FileFormatError])),
      { numRuns: 300 },
    );
  });
});

describe("config files: only FileFormatError (unreadable) or UsageError (bad values) escape", () => {
  it("random JSON objects and values", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(json, fc.dictionary(fc.oneof(hostileKey, fc.constantFrom(...Object.keys(TrainOptionsSchema.shape))), json, { maxKeys: 4 })), async (doc) => {
        const file = path.join(tmp.dir, `cfg-${n++}.json`);
        writeFileSync(file, JSON.stringify(doc));
        try {
          await resolveTrainOptions({}, file);
        } catch (err) {
          if (!(err instanceof UsageError || err instanceof FileFormatError)) throw err;
          expect((err as Error).message.startsWith(`${file}: `)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("wrong types, unknown keys and __proto__ are each one line naming the file", async () => {
    const cases: [unknown, string][] = [
      [{ lr: "fast" }, '"lr" must be a number (got "fast")'],
      [{ iters: 3, learningRate: 0.1 }, 'unknown key "learningRate"'],
      [[1, 2], "the file must be an object (got an array of 2)"],
    ];
    for (const [doc, message] of cases) {
      const file = path.join(tmp.dir, "case.json");
      writeFileSync(file, JSON.stringify(doc));
      await expect(resolveTrainOptions({}, file)).rejects.toThrow(`${file}: ${message}`);
    }
    const file = path.join(tmp.dir, "proto.json");
    writeFileSync(file, '{"__proto__": {"lr": 5}, "iters": 3}');
    await expect(resolveTrainOptions({}, file)).rejects.toThrow(`${file}: unknown key "__proto__"`);
    truncateSync(file, 2 ** 31);
    await expect(resolveTrainOptions({}, file)).rejects.toThrow(/is 2147483648 bytes, more than the 1048576/);
  });
});
