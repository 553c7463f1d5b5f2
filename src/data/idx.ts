/**
 * IDX parsing: pure functions on bytes (http://yann.lecun.com/exdb/mnist/ describes the format).
 * Header: two zero bytes, a type byte (0x08 = unsigned byte, the only type MNIST uses), the number
 * of dimensions, then each dimension as a big-endian uint32; the payload follows, row-major.
 * Every failure is an IdxFormatError naming the file and what was expected.
 */
import { gunzipSync } from "node:zlib";
import { IdxFormatError } from "../errors.js";

export const LABELS_MAGIC = 0x00000801;
export const IMAGES_MAGIC = 0x00000803;

/** Largest decompressed IDX we accept from a .gz: MNIST's biggest is 47 MB; this stops gzip bombs. */
export const MAX_IDX_BYTES = 512 * 1024 * 1024;

export interface IdxArray {
  /** Dimensions as declared in the header, e.g. [60000, 28, 28]. */
  dims: number[];
  /** Payload (a view into the input bytes, not a copy): product(dims) unsigned bytes, row-major. */
  data: Uint8Array;
}

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Gunzip when the bytes are gzip, else return them as they are. */
export function maybeGunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    const out = gunzipSync(bytes, { maxOutputLength: MAX_IDX_BYTES });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ERR_BUFFER_TOO_LARGE" ? `decompresses to more than ${MAX_IDX_BYTES} bytes` : `is not valid gzip (${(err as Error).message})`;
    throw new IdxFormatError(file, "bad-gzip", `${why}`);
  }
}

/**
 * Parse an IDX file (raw, or gzip-compressed). With `expectedMagic`, the magic number must match
 * (LABELS_MAGIC or IMAGES_MAGIC). The declared dimensions are checked against the file length
 * before anything is allocated, and the length must match exactly.
 */
export function parseIdx(bytes: Uint8Array, file = "<idx bytes>", expectedMagic?: number): IdxArray {
  const raw = maybeGunzip(bytes, file);
  if (raw.length < 4) throw new IdxFormatError(file, "truncated", `truncated: ${raw.length} bytes, an IDX header needs at least 4`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = view.getUint32(0, false);
  const hex = (m: number) => "0x" + m.toString(16).padStart(8, "0");
  if (expectedMagic !== undefined && magic !== expectedMagic) {
    const what = expectedMagic === LABELS_MAGIC ? "an IDX label file" : expectedMagic === IMAGES_MAGIC ? "an IDX image file" : "IDX";
    throw new IdxFormatError(file, "bad-magic", `wrong magic number ${hex(magic)}, expected ${hex(expectedMagic)} (${what})`);
  }
  if (raw[0] !== 0 || raw[1] !== 0) throw new IdxFormatError(file, "bad-magic", `wrong magic number ${hex(magic)}: not an IDX file`);
  if (raw[2] !== 0x08) throw new IdxFormatError(file, "unsupported-type", `IDX element type 0x${raw[2].toString(16)} is not supported (expected 0x08, unsigned byte)`);
  const ndim = raw[3];
  if (ndim === 0) throw new IdxFormatError(file, "absurd-dimensions", "IDX header declares 0 dimensions");
  const headerLength = 4 + 4 * ndim;
  if (raw.length < headerLength) throw new IdxFormatError(file, "truncated", `truncated: ${raw.length} bytes, the header of ${ndim} dimensions needs ${headerLength}`);
  const dims: number[] = [];
  let count = 1;
  const payload = raw.length - headerLength;
  for (let d = 0; d < ndim; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    dims.push(size);
    count *= size; // exact: stays below 2^53 while count ≤ payload (checked below), else Infinity-safe
    if (count > payload && count > MAX_IDX_BYTES) {
      throw new IdxFormatError(file, "absurd-dimensions", `declared dimensions ${dims.join("×")}… exceed the file's ${payload}-byte payload`);
    }
  }
  if (count > payload) throw new IdxFormatError(file, "truncated", `truncated: dimensions ${dims.join("×")} need ${count} payload bytes, the file has ${payload}`);
  if (count < payload) throw new IdxFormatError(file, "trailing-bytes", `${payload - count} trailing bytes after the ${dims.join("×")} payload`);
  return { dims, data: raw.subarray(headerLength) };
}

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count × rows × cols bytes, row-major (0 = background, 255 = ink). */
  pixels: Uint8Array;
}

/** Parse an image file: magic 0x00000803, dimensions [count, rows, cols]. */
export function parseIdxImages(bytes: Uint8Array, file = "<images>"): IdxImages {
  const { dims, data } = parseIdx(bytes, file, IMAGES_MAGIC);
  if (dims.length !== 3) throw new IdxFormatError(file, "absurd-dimensions", `image file has ${dims.length} dimensions, expected 3`);
  return { count: dims[0], rows: dims[1], cols: dims[2], pixels: data };
}

/** Parse a label file: magic 0x00000801, one dimension [count]. */
export function parseIdxLabels(bytes: Uint8Array, file = "<labels>", classes = 10): Uint8Array {
  const { dims, data } = parseIdx(bytes, file, LABELS_MAGIC);
  if (dims.length !== 1) throw new IdxFormatError(file, "absurd-dimensions", `label file has ${dims.length} dimensions, expected 1`);
  for (let i = 0; i < data.length; i++) {
    if (data[i] >= classes) throw new IdxFormatError(file, "bad-label", `label ${data[i]} at index ${i} is outside 0..${classes - 1}`);
  }
  return data;
}

/** Check that an image file and its label file describe the same number of examples. */
export function checkPair(images: IdxImages, labels: Uint8Array, imagesFile: string, labelsFile: string): void {
  if (images.count !== labels.length) {
    throw new IdxFormatError(imagesFile, "count-mismatch", `has ${images.count} images but ${labelsFile} has ${labels.length} labels`);
  }
}
