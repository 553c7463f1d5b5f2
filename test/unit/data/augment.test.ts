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

/** The module comment's formula, literally: every pixel, bounds checked on every read. */
function literalTransform(src: Uint8Array, offset: number, t: { dx: number; dy: number; angle: number; scale: number }): Uint8Array {
  const out = new Uint8Array(IMAGE_PIXELS);
  const c = 13.5;
  const theta = (t.angle * Math.PI) / 180;
  const cos = Math.cos(theta) / t.scale;
  const sin = Math.sin(theta) / t.scale;
  const pixel = (x: number, y: number) => (x >= 0 && x < 28 && y >= 0 && y < 28 ? src[offset + y * 28 + x] : 0);
  for (let Y = 0; Y < 28; Y++)
    for (let X = 0; X < 28; X++) {
      const u = X - c - t.dx;
      const v = Y - c - t.dy;
      const sx = c + u * cos - v * sin;
      const sy = c + u * sin + v * cos;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const value = (1 - fy) * ((1 - fx) * pixel(x0, y0) + fx * pixel(x0 + 1, y0)) + fy * ((1 - fx) * pixel(x0, y0 + 1) + fx * pixel(x0 + 1, y0 + 1));
      out[Y * 28 + X] = Math.min(255, Math.max(0, Math.floor(value + 0.5)));
    }
  return out;
}

describe("transformImage", () => {
  it("gives the formula's bytes exactly (it skips only pixels that are 0): any transform, any image", () => {
    const rng = new Rng(12);
    const images = new Uint8Array(6 * IMAGE_PIXELS);
    images.set(randomImages(1, 13)); // a digit-sized patch
    for (let i = 0; i < IMAGE_PIXELS; i++) images[IMAGE_PIXELS + i] = rng.int(256); // non-zero up to the borders
    for (const [k, at] of [[2, 0], [3, 27], [4, 27 * 28 + 13]]) images[k * IMAGE_PIXELS + at] = 255; // a lone pixel at a corner, an edge
    // image 5 stays empty
    const out = new Uint8Array(IMAGE_PIXELS);
    const bounds = [
      { shift: 2, rotate: 10, scale: 0.1 },
      { shift: 27, rotate: 180, scale: 0.99 },
      { shift: 0, rotate: 0, scale: 0 },
    ];
    const special = [0, 90, -90, 180, -180, 45, 1e-12].map((angle) => ({ dx: 1, dy: -2, angle, scale: 1 }));
    const transforms = [...special, ...Array.from({ length: 600 }, (_, n) => drawTransform(rng, bounds[n % 3]))];
    const differing: string[] = [];
    transforms.forEach((t, n) => {
      for (let k = n < special.length ? 0 : n % 6; k < 6; k += n < special.length ? 1 : 6) {
        transformImage(images, k * IMAGE_PIXELS, out, 0, t);
        const literal = literalTransform(images, k * IMAGE_PIXELS, t);
        if (out.some((v, i) => v !== literal[i])) differing.push(`image ${k} ${JSON.stringify(t)}`);
      }
    });
    expect(differing).toEqual([]);
  });

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
