/**
 * Data augmentation for 28×28 byte images, applied per batch: each image gets its own random
 * shift, rotation and scaling, drawn from the run's generator, and is resampled bilinearly.
 *
 * Geometry. Pixel (x, y) has its centre at (x, y), x to the right, y down; the image centre is
 * c = (13.5, 13.5). The content is scaled by s about c, rotated by θ about c (positive θ turns it
 * counter-clockwise as displayed) and moved by (dx, dy) whole pixels. Each output pixel (X, Y)
 * takes the source value at the inverse image of its centre:
 *   u = X − c − dx,  v = Y − c − dy
 *   sx = c + ( u·cos θ − v·sin θ) / s
 *   sy = c + ( u·sin θ + v·cos θ) / s
 * read bilinearly from the four surrounding pixels, pixels outside the image being 0 (MNIST's
 * background), and rounded to the nearest byte (⌊value + ½⌋). With θ = 0, s = 1 the source points
 * are pixel centres, so an unrotated, unscaled image is moved exactly.
 *
 * Draws: per image, in the order of `indices`, four draws whatever the bounds (so the stream
 * depends only on the number of images): dx = int(2·shift + 1) − shift, dy likewise, then
 * θ = (2u − 1)·rotate degrees and s = 1 + (2u − 1)·scale, u uniform in [0, 1).
 */
import type { Rng } from "../book/rng.js";

export const IMAGE_SIDE = 28;
export const IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE;
const CENTRE = (IMAGE_SIDE - 1) / 2;

export interface AugmentBounds {
  /** Largest shift in whole pixels, either way, on each axis. */
  shift: number;
  /** Largest rotation in degrees, either way. */
  rotate: number;
  /** Largest relative change of size, either way (0.1: 90 % to 110 %). */
  scale: number;
}

/** One image's transform. */
export interface Transform {
  dx: number;
  dy: number;
  /** Degrees, counter-clockwise as displayed. */
  angle: number;
  /** Size factor (1: unchanged). */
  scale: number;
}

export function checkBounds(bounds: AugmentBounds): void {
  const { shift, rotate, scale } = bounds;
  if (!(Number.isInteger(shift) && shift >= 0 && shift < IMAGE_SIDE)) throw new RangeError(`augment: shift must be a whole number of pixels in [0, ${IMAGE_SIDE}) (got ${shift})`);
  if (!(rotate >= 0 && rotate <= 180)) throw new RangeError(`augment: rotate must be in [0, 180] degrees (got ${rotate})`);
  if (!(scale >= 0 && scale < 1)) throw new RangeError(`augment: scale must be in [0, 1) (got ${scale})`);
}

/** One image's transform from `rng`: four draws, as the module comment says. */
export function drawTransform(rng: Rng, bounds: AugmentBounds): Transform {
  const dx = rng.int(2 * bounds.shift + 1) - bounds.shift;
  const dy = rng.int(2 * bounds.shift + 1) - bounds.shift;
  const angle = (2 * rng.uniform() - 1) * bounds.rotate;
  const scale = 1 + (2 * rng.uniform() - 1) * bounds.scale;
  return { dx, dy, angle, scale };
}

/**
 * src[srcOffset … + 784) transformed by `t` into dst[dstOffset … + 784).
 *
 * Every pixel computed is computed by the formula of the module comment, operation for operation
 * (u·cos, u·sin per column and v·sin, v·cos per row are taken once and summed in the same order),
 * so it has the formula's value. Only pixels whose value is 0 are skipped: a pixel can be non-zero
 * only when a source pixel of the bounding box of the non-zero ones has a weight of at least
 * 1/510, that is when sx lies in [xMin − 1 + 1/510, xMax + 1 − 1/510] (and sy likewise). Per
 * output row, the columns where that can hold are found from the line sx = sx(0) + X·cos (resp.
 * sin), widened by a column each way: rounding errors (≈ 1e-13) are far inside that slack. The
 * source is read from a copy with a border of zeros, so the four reads need no checks.
 */
export function transformImage(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number, t: Transform): void {
  const side = IMAGE_SIDE, pad = PAD_SIDE;
  const padded = PADDED, columns = COLUMNS, uCos = U_COS, uSin = U_SIN;
  const theta = (t.angle * Math.PI) / 180;
  const cos = Math.cos(theta) / t.scale;
  const sin = Math.sin(theta) / t.scale;
  // the image inside a border of zeros, and the bounding box of its non-zero pixels
  columns.fill(0);
  let yMin = side, yMax = -1;
  for (let y = 0; y < side; y++) {
    const row = srcOffset + y * side;
    const to = (y + 1) * pad + 1;
    let any = 0;
    for (let x = 0; x < side; x++) {
      const p = src[row + x];
      padded[to + x] = p;
      columns[x] |= p;
      any |= p;
    }
    if (any !== 0) {
      if (yMin > y) yMin = y;
      yMax = y;
    }
  }
  dst.fill(0, dstOffset, dstOffset + IMAGE_PIXELS);
  if (yMax < 0) return;
  let xMin = 0, xMax = side - 1;
  while (columns[xMin] === 0) xMin++;
  while (columns[xMax] === 0) xMax--;
  const xLo = xMin - 1, yLo = yMin - 1;
  for (let X = 0; X < side; X++) {
    const u = X - CENTRE - t.dx;
    uCos[X] = CENTRE + u * cos;
    uSin[X] = CENTRE + u * sin;
  }
  for (let Y = 0; Y < side; Y++) {
    const v = Y - CENTRE - t.dy;
    const vSin = v * sin;
    const vCos = v * cos;
    // the columns X where sx = sx(0) + X·cos lies in [xMin − 1, xMax + 1) and sy = sy(0) + X·sin
    // in [yMin − 1, yMax + 1), with a column to spare each way
    let first = 0, last = side - 1;
    const sx0 = uCos[0] - vSin, sy0 = uSin[0] + vCos;
    if (cos !== 0) {
      const a = (xLo - sx0) / cos, b = (xMax + 1 - sx0) / cos;
      first = Math.max(first, Math.floor(Math.min(a, b)) - 1);
      last = Math.min(last, Math.ceil(Math.max(a, b)) + 1);
    } else if (sx0 < xLo || sx0 >= xMax + 1) continue;
    if (sin !== 0) {
      const a = (yLo - sy0) / sin, b = (yMax + 1 - sy0) / sin;
      first = Math.max(first, Math.floor(Math.min(a, b)) - 1);
      last = Math.min(last, Math.ceil(Math.max(a, b)) + 1);
    } else if (sy0 < yLo || sy0 >= yMax + 1) continue;
    const out = dstOffset + Y * side;
    for (let X = first; X <= last; X++) {
      const sx = uCos[X] - vSin;
      const sy = uSin[X] + vCos;
      const x0 = Math.floor(sx) | 0;
      const y0 = Math.floor(sy) | 0;
      // all four of (x0, y0) … (x0 + 1, y0 + 1) outside the box: the value is exactly 0
      if (x0 < xLo || x0 > xMax || y0 < yLo || y0 > yMax) continue;
      const fx = sx - x0;
      const fy = sy - y0;
      const k = (y0 + 1) * pad + x0 + 1;
      const value =
        (1 - fy) * ((1 - fx) * padded[k] + fx * padded[k + 1]) + //
        fy * ((1 - fx) * padded[k + pad] + fx * padded[k + pad + 1]);
      // a mean of bytes, ≥ 0 and ≤ 255 (to rounding): ⌊value + ½⌋ is a byte
      dst[out + X] = (value + 0.5) | 0;
    }
  }
}

/** transformImage's scratch: the image inside a one-pixel border of zeros, its columns' OR, per-column terms. */
const PAD_SIDE = IMAGE_SIDE + 2;
const PADDED = new Uint8Array(PAD_SIDE * PAD_SIDE);
const COLUMNS = new Uint8Array(IMAGE_SIDE);
const U_COS = new Float64Array(IMAGE_SIDE);
const U_SIN = new Float64Array(IMAGE_SIDE);

/**
 * Fill `out` [indices.length × 784] with the images `images` [N × 784] at `indices`, each under
 * its own random transform within `bounds`, drawn from `rng` in the order of `indices`.
 */
export function augmentBatch(images: Uint8Array, indices: ArrayLike<number>, out: Uint8Array, rng: Rng, bounds: AugmentBounds): void {
  checkBounds(bounds);
  const count = images.length / IMAGE_PIXELS;
  if (!Number.isInteger(count)) throw new RangeError(`augment: ${images.length} bytes are not whole 28×28 images`);
  if (out.length < indices.length * IMAGE_PIXELS) throw new RangeError(`augment: out holds ${out.length} bytes, ${indices.length} images need ${indices.length * IMAGE_PIXELS}`);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i];
    if (!(Number.isInteger(index) && index >= 0 && index < count)) throw new RangeError(`augment: index ${index} is outside 0..${count - 1}`);
    transformImage(images, index * IMAGE_PIXELS, out, i * IMAGE_PIXELS, drawTransform(rng, bounds));
  }
}
