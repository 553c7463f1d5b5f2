/** The IDX parser on hand-built byte arrays. */
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { checkPair, isGzip, parseIdx, parseIdxImages, parseIdxLabels } from "../../../src/data/idx.js";
import { IdxFormatError, type IdxErrorKind } from "../../../src/errors.js";

const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** An IDX file: magic 00 00 <type> <ndim>, big-endian dims, then the payload as given. */
function idx(dims: number[], payload: number[], type = 0x08): Uint8Array {
  return Uint8Array.from([0, 0, type, dims.length, ...dims.flatMap(u32), ...payload]);
}

const LABELS = idx([3], [3, 1, 4]);
// Two 2×3 images: 0..5 and 250..255.
const IMAGES = idx([2, 2, 3], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);

function expectIdxError(fn: () => unknown, kind: IdxErrorKind, file: string, text?: string | RegExp): IdxFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(IdxFormatError);
  const err = caught as IdxFormatError;
  expect(err.kind).toBe(kind);
  expect(err.file).toBe(file);
  expect(err.message.startsWith(`${file}: `)).toBe(true);
  if (text !== undefined) expect(err.message).toMatch(text);
  return err;
}

describe("parsing valid files", () => {
  it("parses a label file", () => {
    const labels = parseIdxLabels(LABELS, "labels.idx");
    expect(Array.from(labels)).toEqual([3, 1, 4]);
    expect(parseIdx(LABELS).dims).toEqual([3]);
  });

  it("parses an image file: dimensions and pixel values", () => {
    const img = parseIdxImages(IMAGES, "images.idx");
    expect([img.count, img.rows, img.cols]).toEqual([2, 2, 3]);
    expect(Array.from(img.pixels)).toEqual([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
    expect(parseIdx(IMAGES).dims).toEqual([2, 2, 3]);
  });

  it("returns the payload as a view, not a copy", () => {
    const { data } = parseIdx(LABELS);
    expect(data.buffer).toBe(LABELS.buffer);
    expect(data.byteOffset).toBe(8);
  });

  it("detects gzip and gives the same result for gzipped bytes", () => {
    const gzImages = gzipSync(IMAGES);
    const gzLabels = gzipSync(LABELS);
    expect(isGzip(gzImages)).toBe(true);
    expect(isGzip(IMAGES)).toBe(false);
    expect(parseIdxImages(gzImages)).toEqual(parseIdxImages(IMAGES));
    expect(Array.from(parseIdxLabels(gzLabels))).toEqual([3, 1, 4]);
  });

  it("accepts a matching image/label pair", () => {
    const img = parseIdxImages(IMAGES);
    expect(() => checkPair(img, parseIdxLabels(idx([2], [0, 9])), "i", "l")).not.toThrow();
  });
});

describe("typed errors", () => {
  it("bad-magic: a label file given to the image parser", () => {
    expectIdxError(() => parseIdxImages(LABELS, "labels.idx"), "bad-magic", "labels.idx", /0x00000801.*expected 0x00000803.*image/);
  });

  it("bad-magic: an image file given to the label parser", () => {
    expectIdxError(() => parseIdxLabels(IMAGES, "images.idx"), "bad-magic", "images.idx", /0x00000803.*expected 0x00000801.*label/);
  });

  it("bad-magic: not an IDX file at all", () => {
    expectIdxError(() => parseIdx(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), "x.png"), "bad-magic", "x.png", /not an IDX file/);
  });

  it("truncated: shorter than the 4-byte magic", () => {
    expectIdxError(() => parseIdx(Uint8Array.from([0, 0, 8]), "tiny"), "truncated", "tiny", /3 bytes/);
  });

  it("truncated: header shorter than its declared dimensions", () => {
    // Declares 3 dimensions (16-byte header) but holds only one.
    expectIdxError(() => parseIdxImages(Uint8Array.from([0, 0, 8, 3, ...u32(2)]), "short-header"), "truncated", "short-header", /needs 16/);
  });

  it("truncated: payload shorter than the dimensions say", () => {
    expectIdxError(() => parseIdxLabels(idx([5], [1, 2, 3]), "short.idx"), "truncated", "short.idx", /need 5 payload bytes, the file has 3/);
  });

  it("trailing-bytes: payload longer than the dimensions say", () => {
    expectIdxError(() => parseIdxLabels(idx([2], [1, 2, 3, 4]), "long.idx"), "trailing-bytes", "long.idx", /2 trailing bytes/);
  });

  it("absurd-dimensions: 4e9×4e9×4e9 declared in a 20-byte file throws fast, before allocating", () => {
    const bytes = idx([4e9, 4e9, 4e9], [1, 2, 3, 4]);
    expect(bytes.length).toBe(20);
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    expectIdxError(() => parseIdxImages(bytes, "huge.idx"), "absurd-dimensions", "huge.idx", /exceed the file's 4-byte payload/);
    expect(performance.now() - t0).toBeLessThan(100);
    // Nothing near the declared size (or even a megabyte) was allocated.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });

  it("absurd-dimensions: zero dimensions", () => {
    expectIdxError(() => parseIdx(Uint8Array.from([0, 0, 8, 0]), "zero.idx"), "absurd-dimensions", "zero.idx", /0 dimensions/);
  });

  it("a label file with two dimensions is caught by its magic (the last magic byte is the dimension count)", () => {
    expectIdxError(() => parseIdxLabels(idx([1, 2], [0, 1]), "2d-labels"), "bad-magic", "2d-labels", /0x00000802, expected 0x00000801/);
  });

  it("unsupported-type: an element type other than unsigned byte", () => {
    // 0x0d = float32 in the IDX spec.
    expectIdxError(() => parseIdx(idx([1], [0, 0, 0, 0], 0x0d), "float.idx"), "unsupported-type", "float.idx", /0xd/);
  });

  it("bad-label: a label of 10 or more", () => {
    expectIdxError(() => parseIdxLabels(idx([3], [1, 10, 2]), "labels.idx"), "bad-label", "labels.idx", /label 10 at index 1/);
  });

  it("count-mismatch: images and labels of different lengths, naming both files", () => {
    const img = parseIdxImages(IMAGES);
    const labels = parseIdxLabels(LABELS);
    expectIdxError(() => checkPair(img, labels, "imgs.idx", "lbls.idx"), "count-mismatch", "imgs.idx", /2 images but lbls\.idx has 3 labels/);
  });

  it("bad-gzip: gzip magic followed by garbage", () => {
    const corrupt = Uint8Array.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expectIdxError(() => parseIdxLabels(corrupt, "broken.gz"), "bad-gzip", "broken.gz", /not valid gzip/);
  });

  it("bad-gzip: a truncated gzip stream", () => {
    const gz = gzipSync(IMAGES);
    expectIdxError(() => parseIdxImages(gz.subarray(0, gz.length - 6), "cut.gz"), "bad-gzip", "cut.gz");
  });
});
