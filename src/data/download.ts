/**
 * The `download` source. PLACEHOLDER while the downloader is written on its own branch.
 */
import type { MnistFileBytes } from "./files.js";

export interface DownloadOptions {
  /** Cache folder for the verified .gz files. */
  dataDir: string;
  /** Base URLs to try in order (default: MNIST_MIRROR env var, else DEFAULT_MIRRORS). */
  mirrors?: string[];
}

export async function downloadMnist(_options: DownloadOptions): Promise<MnistFileBytes> {
  throw new Error("download source not implemented yet");
}
