/**
 * File I/O shared by the commands: atomic writes (temp file + rename, so a reader never sees half
 * a file and a crash never leaves one) and bounded JSON reads that fail with one clear line.
 */
import { randomBytes } from "node:crypto";
import { promises as fs, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { z } from "zod";
import { FileFormatError, WriteError } from "../errors.js";
import { describeZodIssue } from "./zod-message.js";

export async function writeFileAtomic(file: string, contents: string | Uint8Array): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await fs.writeFile(tmp, contents);
    await fs.rename(tmp, file);
  } catch (err) {
    // under a path that is not a folder the cleanup fails too (ENOTDIR): the write's error is the one to report
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new WriteError(file, errorCode(err));
  }
}

/** The errno code of a failed call (ENOSPC, EIO, …), or its message when it has none. */
export function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? String(err);
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
      // the write already failed; that error is the one to report
    }
    throw new WriteError(file, errorCode(err));
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
  limits?: JsonLimits,
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
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new FileFormatError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (bytes.length > maxBytes) throw new FileFormatError(file, `is more than the ${maxBytes} bytes a valid file can be`);
  if (limits) checkJsonShape(bytes, file, limits);
  return parseJsonText(bytes.toString("utf8"), file, schema, invalidValue);
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

/**
 * What a JSON file may hold, checked on its bytes before JSON.parse builds anything: parsing
 * allocates per object and per number, so a file of a few hundred MB of `[{},{},…]` or of zeros
 * would take gigabytes. `maxNumbers` may depend on the file's own header (a model's declared
 * architecture): it gets the parsed value of each top-level key whose value is small.
 */
export interface JsonLimits {
  /** Objects and arrays together. */
  maxContainers: number;
  maxDepth: number;
  maxNumbers?: number | ((smallValues: Record<string, unknown>) => number | undefined);
}

/** Top-level values up to this size are parsed for `maxNumbers` (an architecture, a version). */
const SMALL_VALUE_BYTES = 64 * 1024;

/** One pass over the bytes: containers, depth and numbers outside strings; small top-level values. */
export function checkJsonShape(bytes: Uint8Array, file: string, limits: JsonLimits): void {
  let containers = 0;
  let depth = 0;
  let numbers = 0;
  let inString = false;
  let inNumber = false;
  let keyStart = -1;
  let lastKey: string | undefined;
  let valueStart = -1;
  const small: Record<string, unknown> = {};
  const closeValue = (end: number) => {
    if (lastKey !== undefined && valueStart >= 0 && end - valueStart <= SMALL_VALUE_BYTES) {
      try {
        small[lastKey] = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + valueStart, end - valueStart).toString("utf8"));
      } catch {
        // left for JSON.parse to report with its position
      }
    }
    lastKey = undefined;
    valueStart = -1;
  };
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) {
        inString = false;
        if (depth === 1 && keyStart >= 0) {
          lastKey = Buffer.from(bytes.buffer, bytes.byteOffset + keyStart, i - keyStart).toString("utf8");
          keyStart = -1;
        }
      }
      continue;
    }
    const numeric = (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;
    if (numeric) {
      if (!inNumber && ((c >= 0x30 && c <= 0x39) || c === 0x2d)) {
        inNumber = true;
        numbers++;
      }
      continue;
    }
    inNumber = false;
    if (c === 0x22) {
      inString = true;
      // a string at depth 1 that is not a value (no key pending) is a key
      if (depth === 1 && valueStart < 0) keyStart = i + 1;
    } else if (c === 0x3a && depth === 1) valueStart = i + 1;
    else if (c === 0x7b || c === 0x5b) {
      if (++containers > limits.maxContainers) throw new FileFormatError(file, `holds more than ${limits.maxContainers} objects and arrays (a valid file has far fewer)`);
      if (++depth > limits.maxDepth) throw new FileFormatError(file, `is nested more than ${limits.maxDepth} levels deep`);
    } else if (c === 0x7d || c === 0x5d) {
      if (depth === 1) closeValue(i);
      depth--;
    } else if (c === 0x2c && depth === 1) closeValue(i);
  }
  const max = typeof limits.maxNumbers === "function" ? limits.maxNumbers(small) : limits.maxNumbers;
  if (max !== undefined && numbers > max) throw new FileFormatError(file, `holds ${numbers} numbers, more than the ${max} its ${typeof limits.maxNumbers === "function" ? "declared shapes allow" : "format allows"}`);
}
