/** The run folder: created (or checked) before training starts, so an unwritable --out fails fast. */
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { MnistError } from "../errors.js";

export function defaultRunDir(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return path.join("runs", `${stamp}-${randomBytes(3).toString("hex")}`);
}

/** Create `dir` (and parents); refuse a non-empty one unless `force`; prove it is writable. */
export async function prepareRunDir(dir: string, force: boolean): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (err) {
    throw new MnistError(`--out ${dir}: cannot create the run folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const entries = await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    throw new MnistError(`--out ${dir}: cannot read the run folder (${err.code ?? err.message})`);
  });
  if (entries.length > 0 && !force) {
    throw new MnistError(`--out ${dir}: the folder is not empty (${entries.length} entries); choose another, or pass --force to overwrite`);
  }
  await checkWritable(dir, "--out ");
}

/** Prove `dir` accepts new files (and renames), before any work that would be lost if it did not. */
export async function checkWritable(dir: string, prefix = ""): Promise<void> {
  const probe = path.join(dir, `.write-test-${process.pid}`);
  try {
    await fs.writeFile(probe, "");
    await fs.rename(probe, probe + ".renamed");
    await fs.rm(probe + ".renamed");
  } catch (err) {
    await fs.rm(probe, { force: true }).catch(() => undefined);
    throw new MnistError(`${prefix}${dir}: the run folder is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
