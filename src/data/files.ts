/** The four MNIST files and their pinned checksums: one table for every source. */

export const MNIST_FILE_KEYS = ["trainImages", "trainLabels", "testImages", "testLabels"] as const;
export type MnistFileKey = (typeof MNIST_FILE_KEYS)[number];

export interface MnistFileSpec {
  /** File name without the .gz suffix, as LeCun published it. */
  name: string;
  /** sha256 of the uncompressed IDX file. */
  sha256: string;
  /** sha256, md5 and size of the published .gz file. */
  gzSha256: string;
  gzMd5: string;
  gzBytes: number;
}

export const MNIST_FILES: Record<MnistFileKey, MnistFileSpec> = {
  trainImages: {
    name: "train-images-idx3-ubyte",
    sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    gzSha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    gzMd5: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    gzBytes: 9_912_422,
  },
  trainLabels: {
    name: "train-labels-idx1-ubyte",
    sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    gzSha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    gzMd5: "d53e105ee54ea40749a09fcbcd1e9432",
    gzBytes: 28_881,
  },
  testImages: {
    name: "t10k-images-idx3-ubyte",
    sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    gzSha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    gzMd5: "9fb629c4189551a2d022fa330f9573f3",
    gzBytes: 1_648_877,
  },
  testLabels: {
    name: "t10k-labels-idx1-ubyte",
    sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    gzSha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    gzMd5: "ec29112dd5afa0611ce80d1b7f02629c",
    gzBytes: 4_542,
  },
};

/** The mirrors torchvision uses today (the original yann.lecun.com site no longer serves the files). */
export const DEFAULT_MIRRORS = [
  "https://ossci-datasets.s3.amazonaws.com/mnist/",
  "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/** Environment variable that replaces the mirror list (comma-separated base URLs). */
export const MIRROR_ENV = "MNIST_MIRROR";

/** Bytes of each file, raw or gzip, keyed like MNIST_FILES, with the path or URL each came from. */
export type MnistFileBytes = Record<MnistFileKey, { bytes: Uint8Array; from: string }>;
