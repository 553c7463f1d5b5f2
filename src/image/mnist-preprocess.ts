/**
 * A picture of a digit → the 28×28 input MNIST's own preprocessing would have made of it:
 * grayscale, white ink on black (dark ink on a light background is inverted), cropped to the ink,
 * scaled with area averaging (anti-aliased) to fit a 20×20 box keeping the aspect ratio, then
 * placed in a 28×28 field so that its centre of mass is at the centre.
 */
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { FileFormatError } from "../errors.js";

export interface GrayImage {
  width: number;
  height: number;
  /** [height × width] intensities 0–255, row-major. */
  data: Float64Array;
}

export const FIELD = 28;
export const BOX = 20;
/** Pixels at least this bright (0–255, after inversion and background removal) count as ink for cropping. */
const INK_THRESHOLD = 32;

/**
 * Largest picture decoded: 25 megapixels (a 24 MP camera photo), at most 20000 pixels a side.
 * Decoding costs about 20 bytes a pixel, and a PNG's size says nothing about its dimensions (a
 * 400 KB file can declare 20000 × 20000), so the header is checked before anything is inflated.
 */
export const MAX_IMAGE_PIXELS = 25_000_000;
export const MAX_IMAGE_SIDE = 20_000;

/** Refuse a PNG whose IHDR declares more than MAX_IMAGE_PIXELS (anything else is left to the decoder). */
export function checkPngDimensions(bytes: Uint8Array, file: string): void {
  if (bytes.length < 24) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ihdr = bytes[12] === 0x49 && bytes[13] === 0x48 && bytes[14] === 0x44 && bytes[15] === 0x52;
  if (!ihdr) return;
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || width * height > MAX_IMAGE_PIXELS) {
    throw new FileFormatError(file, `is ${width}×${height} pixels, more than the ${MAX_IMAGE_PIXELS / 1e6} megapixels (at most ${MAX_IMAGE_SIDE} a side) accepted; scale it down`);
  }
}

/** Decode a PNG or a JPEG, told apart by their signatures (not by the file name). */
export function decodeImage(bytes: Uint8Array, file: string): GrayImage {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return decodeJpeg(bytes, file);
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return decodePng(bytes, file);
  throw new FileFormatError(file, "is neither a PNG nor a JPEG image");
}

/** Decode a PNG (any colour type or depth pngjs reads) to gray; transparency is composited on white. */
export function decodePng(bytes: Uint8Array, file: string): GrayImage {
  checkPngDimensions(bytes, file);
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new FileFormatError(file, `is not a readable PNG (${(err as Error).message})`);
  }
  return grayFromRgba(png.width, png.height, png.data, file);
}

/** Decode a baseline or progressive JPEG (jpeg-js) to gray. The EXIF orientation is not applied. */
export function decodeJpeg(bytes: Uint8Array, file: string): GrayImage {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
  } catch (err) {
    throw new FileFormatError(file, `is not a readable JPEG (${(err as Error).message})`);
  }
  return grayFromRgba(img.width, img.height, img.data, file);
}

function grayFromRgba(width: number, height: number, rgba: Uint8Array, file: string): GrayImage {
  if (width === 0 || height === 0) throw new FileFormatError(file, "is an empty image");
  const data = new Float64Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const r = rgba[4 * i];
    const g = rgba[4 * i + 1];
    const b = rgba[4 * i + 2];
    const a = rgba[4 * i + 3] / 255;
    const lum = 0.299 * r + 0.587 * g + 0.114 * b;
    data[i] = a * lum + (1 - a) * 255;
  }
  return { width, height, data };
}

/** Median of the border pixels: the background's level. */
export function backgroundLevel(img: GrayImage): number {
  const { width: w, height: h, data } = img;
  const border: number[] = [];
  for (let x = 0; x < w; x++) border.push(data[x], data[(h - 1) * w + x]);
  for (let y = 1; y < h - 1; y++) border.push(data[y * w], data[y * w + w - 1]);
  border.sort((a, b) => a - b);
  return border[Math.floor(border.length / 2)];
}

/**
 * Ink as MNIST has it: bright on black. A light background (border median above mid-gray) is
 * inverted; the background level is then subtracted and the ink stretched to reach 255, so gray
 * paper or a faint pencil still give MNIST-like contrast.
 */
export function toInk(img: GrayImage): { image: GrayImage; inverted: boolean } {
  const bg = backgroundLevel(img);
  const inverted = bg > 127;
  const out = new Float64Array(img.data.length);
  let max = 0;
  for (let i = 0; i < out.length; i++) {
    const v = inverted ? 255 - img.data[i] : img.data[i];
    const base = inverted ? 255 - bg : bg;
    out[i] = Math.max(0, v - base);
    if (out[i] > max) max = out[i];
  }
  if (max > 0) for (let i = 0; i < out.length; i++) out[i] = (out[i] * 255) / max;
  return { image: { width: img.width, height: img.height, data: out }, inverted };
}

/** Bounding box of the pixels at least `threshold`, or null when there is no ink. */
export function inkBox(img: GrayImage, threshold = INK_THRESHOLD): { x0: number; y0: number; x1: number; y1: number } | null {
  let x0 = img.width;
  let y0 = img.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (img.data[y * img.width + x] >= threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

export function crop(img: GrayImage, box: { x0: number; y0: number; x1: number; y1: number }): GrayImage {
  const width = box.x1 - box.x0;
  const height = box.y1 - box.y0;
  const data = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data[y * width + x] = img.data[(y + box.y0) * img.width + x + box.x0];
  }
  return { width, height, data };
}

/**
 * Resample to width × height by area averaging: each output pixel is the mean of the source area
 * it covers (fractional pixels weighted by coverage), an anti-aliased shrink; enlarging is exact box sampling.
 */
export function resizeArea(img: GrayImage, width: number, height: number): GrayImage {
  const sx = img.width / width;
  const sy = img.height / height;
  const data = new Float64Array(width * height);
  for (let oy = 0; oy < height; oy++) {
    const fy0 = oy * sy;
    const fy1 = fy0 + sy;
    for (let ox = 0; ox < width; ox++) {
      const fx0 = ox * sx;
      const fx1 = fx0 + sx;
      let sum = 0;
      for (let y = Math.floor(fy0); y < Math.min(Math.ceil(fy1), img.height); y++) {
        const wy = Math.min(fy1, y + 1) - Math.max(fy0, y);
        if (wy <= 0) continue;
        for (let x = Math.floor(fx0); x < Math.min(Math.ceil(fx1), img.width); x++) {
          const wx = Math.min(fx1, x + 1) - Math.max(fx0, x);
          if (wx > 0) sum += wx * wy * img.data[y * img.width + x];
        }
      }
      data[oy * width + ox] = sum / (sx * sy);
    }
  }
  return { width, height, data };
}

/** Centre of mass (x, y) in pixel coordinates (pixel centres at integers). */
export function centreOfMass(img: GrayImage): { x: number; y: number } {
  let m = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const v = img.data[y * img.width + x];
      m += v;
      mx += v * x;
      my += v * y;
    }
  }
  return m > 0 ? { x: mx / m, y: my / m } : { x: (img.width - 1) / 2, y: (img.height - 1) / 2 };
}

export interface Preprocessed {
  /** [28 × 28] bytes, white ink on black: the network's input before the /255 scaling. */
  pixels: Uint8Array;
  inverted: boolean;
}

/** The whole pipeline. Throws when the picture has no ink at all. */
export function mnistFromImage(img: GrayImage, file: string): Preprocessed {
  const { image: ink, inverted } = toInk(img);
  const box = inkBox(ink);
  if (!box) throw new FileFormatError(file, "holds no digit (a blank image)");
  const digit = crop(ink, box);
  const scale = BOX / Math.max(digit.width, digit.height);
  const w = Math.max(1, Math.round(digit.width * scale));
  const h = Math.max(1, Math.round(digit.height * scale));
  const small = resizeArea(digit, w, h);
  const com = centreOfMass(small);
  // Centre at (14, 14) in pixel-index coordinates, as in the usual reconstruction of
  // MNIST centring (shift = round(28 / 2 - centre of mass)); it matches the real test digits.
  const centre = FIELD / 2;
  // Integer shift (as MNIST did), kept inside the field.
  const dx = Math.min(FIELD - w, Math.max(0, Math.round(centre - com.x)));
  const dy = Math.min(FIELD - h, Math.max(0, Math.round(centre - com.y)));
  const pixels = new Uint8Array(FIELD * FIELD);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) pixels[(y + dy) * FIELD + x + dx] = Math.round(Math.min(255, Math.max(0, small.data[y * w + x])));
  }
  return { pixels, inverted };
}
