// Data augmentation: identity at zero bounds, exact whole-pixel shifts, an exact quarter turn,
// rotations/scalings against NumPy and torch grid_sample (test/fixtures/augment.py), and the
// same output for the same seed.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/book/rng.js";
import { augmentBatch, drawTransform, IMAGE_PIXELS, transformImage } from "../../../src/data/augment.js";

const fixture = JSON.parse(readFileSync(new URL("../../fixtures/augment.json", import.meta.url), "utf8"));
const image = Uint8Array.from(fixture.image as number[]);

/** n images of random bytes in their middle (zero borders, like MNIST digits). */
function randomImages(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * IMAGE_PIXELS);
  for (let i = 0; i < n; i++) for (let y = 5; y < 23; y++) for (let x = 5; x < 23; x++) images[i * IMAGE_PIXELS + y * 28 + x] = rng.int(256);
  return images;
}

/** The image moved by (dx, dy) whole pixels, zeros coming in: written directly. */
function shifted(src: Uint8Array, offset: number, dx: number, dy: number): Uint8Array {
  const out = new Uint8Array(IMAGE_PIXELS);
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++) {
      const sx = x - dx;
      const sy = y - dy;
      if (sx >= 0 && sx < 28 && sy >= 0 && sy < 28) out[y * 28 + x] = src[offset + sy * 28 + sx];
    }
  return out;
}

describe("augmentBatch", () => {
  it("is the identity, byte for byte, when every bound is 0", () => {
    const images = randomImages(5, 1);
    const out = new Uint8Array(3 * IMAGE_PIXELS);
    augmentBatch(images, [4, 0, 2], out, new Rng(2), { shift: 0, rotate: 0, scale: 0 });
    [4, 0, 2].forEach((index, i) => expect(out.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS)).toEqual(images.subarray(index * IMAGE_PIXELS, (index + 1) * IMAGE_PIXELS)));
  });

  it("with shifts only, each image is its source moved by the drawn whole pixels, within the bounds", () => {
    const images = randomImages(8, 3);
    const indices = [0, 1, 2, 3, 4, 5, 6, 7, 7, 7];
    const out = new Uint8Array(indices.length * IMAGE_PIXELS);
    const bounds = { shift: 3, rotate: 0, scale: 0 };
    augmentBatch(images, indices, out, new Rng(4), bounds);
    const replay = new Rng(4);
    const seen = new Set<string>();
    indices.forEach((index, i) => {
      const t = drawTransform(replay, bounds);
      expect(Math.abs(t.dx)).toBeLessThanOrEqual(3);
      expect(Math.abs(t.dy)).toBeLessThanOrEqual(3);
      seen.add(`${t.dx},${t.dy}`);
      expect(out.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS)).toEqual(shifted(images, index * IMAGE_PIXELS, t.dx, t.dy));
    });
    expect(seen.size).toBeGreaterThan(3); // the shifts do vary
  });

  it("the same seed gives the same batch; another seed another", () => {
    const images = randomImages(6, 5);
    const bounds = { shift: 2, rotate: 15, scale: 0.1 };
    const run = (seed: number) => {
      const out = new Uint8Array(4 * IMAGE_PIXELS);
      augmentBatch(images, [5, 1, 3, 1], out, new Rng(seed), bounds);
      return out;
    };
    expect(run(9)).toEqual(run(9));
    expect(run(9)).not.toEqual(run(10));
  });

  it("refuses bad bounds and indices", () => {
    const out = new Uint8Array(IMAGE_PIXELS);
    expect(() => augmentBatch(image, [0], out, new Rng(1), { shift: 1.5, rotate: 0, scale: 0 })).toThrow(/shift/);
    expect(() => augmentBatch(image, [0], out, new Rng(1), { shift: 0, rotate: -1, scale: 0 })).toThrow(/rotate/);
    expect(() => augmentBatch(image, [1], out, new Rng(1), { shift: 0, rotate: 0, scale: 0 })).toThrow(/index 1/);
  });
});

describe("transformImage", () => {
  it("a quarter turn is an exact permutation: out[27 − x][y] = in[y][x] (counter-clockwise as displayed)", () => {
    const out = new Uint8Array(IMAGE_PIXELS);
    transformImage(image, 0, out, 0, { dx: 0, dy: 0, angle: 90, scale: 1 });
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) expect(out[(27 - x) * 28 + y]).toBe(image[y * 28 + x]);
  });

  it.each(fixture.cases.map((c: { transform: object }, i: number) => [i, JSON.stringify(c.transform)]))(
    "case %i %s matches the NumPy and torch grid_sample resampling byte for byte",
    (i) => {
      const c = fixture.cases[i as number];
      const out = new Uint8Array(IMAGE_PIXELS);
      transformImage(image, 0, out, 0, c.transform);
      expect(Array.from(out)).toEqual(c.out);
      expect(Array.from(out)).not.toEqual(fixture.image);
    },
  );
});
