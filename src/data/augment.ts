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

/** src[srcOffset … + 784) transformed by `t` into dst[dstOffset … + 784). */
export function transformImage(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number, t: Transform): void {
  const side = IMAGE_SIDE;
  const theta = (t.angle * Math.PI) / 180;
  const cos = Math.cos(theta) / t.scale;
  const sin = Math.sin(theta) / t.scale;
  const pixel = (x: number, y: number): number => (x >= 0 && x < side && y >= 0 && y < side ? src[srcOffset + y * side + x] : 0);
  for (let Y = 0; Y < side; Y++) {
    const v = Y - CENTRE - t.dy;
    for (let X = 0; X < side; X++) {
      const u = X - CENTRE - t.dx;
      const sx = CENTRE + u * cos - v * sin;
      const sy = CENTRE + u * sin + v * cos;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const value =
        (1 - fy) * ((1 - fx) * pixel(x0, y0) + fx * pixel(x0 + 1, y0)) + //
        fy * ((1 - fx) * pixel(x0, y0 + 1) + fx * pixel(x0 + 1, y0 + 1));
      dst[dstOffset + Y * side + X] = Math.min(255, Math.max(0, Math.floor(value + 0.5)));
    }
  }
}

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
