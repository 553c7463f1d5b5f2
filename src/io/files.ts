/**
 * File I/O shared by the commands: atomic writes (temp file + rename, so a reader never sees half
 * a file and a crash never leaves one) and bounded JSON reads that fail with one clear line.
 */
import { randomBytes } from "node:crypto";
import { promises as fs, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { z } from "zod";
import { FileFormatError, MnistError } from "../errors.js";
import { describeZodIssue } from "./zod-message.js";

export async function writeFileAtomic(file: string, contents: string | Uint8Array): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await fs.writeFile(tmp, contents);
    await fs.rename(tmp, file);
  } catch (err) {
    // Under a path that is not a folder the cleanup fails too (ENOTDIR); the write's error is the one to report.
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new MnistError(`${file}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * writeFileAtomic, synchronously: for checkpoints written from a signal path or a training event,
 * where no other callback (a second Ctrl-C's exit) may run between the write and the rename.
 */
export function writeFileAtomicSync(file: string, contents: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    writeFileSync(tmp, contents);
    renameSync(tmp, file);
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // as in writeFileAtomic: the write's error is the one to report
    }
    throw new MnistError(`${file}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * Read and validate a JSON file. A missing, unreadable or unparsable file is a FileFormatError
 * (exit 1); a value the schema rejects is the same unless `invalidValue` says how to report it.
 */
export async function readJsonFile<S extends z.ZodType>(
  file: string,
  schema: S,
  maxBytes: number,
  invalidValue: (file: string, detail: string) => Error = (f, d) => new FileFormatError(f, d),
): Promise<z.output<S>> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(file, code === "ENOENT" ? "no such file" : `cannot read (${code})`);
  }
  if (!stat.isFile()) throw new FileFormatError(file, "is not a regular file");
  if (stat.size > maxBytes) throw new FileFormatError(file, `is ${stat.size} bytes, more than the ${maxBytes} a valid file can be`);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    throw new FileFormatError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseJsonText(text, file, schema, invalidValue);
}

/**
 * The pure half of readJsonFile: JSON text → validated value, or a FileFormatError (or whatever
 * `invalidValue` makes) naming `file`. Strict schemas reject `__proto__`, `constructor` and any
 * other unknown key, and JSON.parse makes them plain own properties, so no prototype is touched.
 */
export function parseJsonText<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  invalidValue: (file: string, detail: string) => Error = (f, d) => new FileFormatError(f, d),
): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FileFormatError(file, `is not valid JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidValue(file, describeZodIssue(parsed.error.issues[0], value, "key"));
  return parsed.data;
}
