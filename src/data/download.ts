/**
 * The `download` source: the four MNIST .gz files from a list of mirrors, cached in a folder.
 *
 * Nothing reaches the cache unverified: a download is held in memory, checked against the pinned
 * size and sha256, written to a uniquely named temp file in the cache folder and renamed into place.
 * A cut connection therefore never leaves a partial file under the final name, and several
 * processes filling one empty cache at once each rename a complete, identical file.
 * This module never prints; callers that want a progress bar pass `onProgress`.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ChecksumError, DownloadError, MnistError } from "../errors.js";
import { DEFAULT_MIRRORS, MIRROR_ENV, MNIST_FILE_KEYS, MNIST_FILES, type MnistFileBytes, type MnistFileKey, type MnistFileSpec } from "./files.js";
import { maybeGunzip } from "./idx.js";
import { sha256Hex } from "./sha256.js";

export interface DownloadProgress {
  /** File being fetched, e.g. `train-images-idx3-ubyte.gz`. */
  file: string;
  /** URL of the current attempt. */
  url: string;
  /** Bytes received so far in this attempt (restarts at 0 on a retry or another mirror). */
  received: number;
  /** Expected size in bytes (the pinned .gz size). */
  total: number;
}

export interface DownloadOptions {
  /** Cache folder for the verified .gz files (created when missing). */
  dataDir: string;
  /** Base URLs to try in order (default: MNIST_MIRROR env var, comma-separated, else DEFAULT_MIRRORS). */
  mirrors?: string[];
  /** Retries per mirror after the first attempt, on network errors, timeouts and 5xx (default 3). */
  retries?: number;
  /** Delay before the first retry; doubled for each further one (default 500 ms). */
  backoffMs?: number;
  /**
   * Longest wait for the response, and then for each next piece of its body (default 60 000 ms): an
   * idle limit, so a slow but steady transfer is never cut, a stalled one always is.
   */
  timeoutMs?: number;
  /** Called as bytes arrive. */
  onProgress?: (event: DownloadProgress) => void;
  /**
   * Testing/advanced hook: the file table to fetch and verify against (default MNIST_FILES).
   * Lets tests serve small synthetic IDX files with their own checksums; not for everyday use,
   * since it replaces the pinned checksums that make the download trustworthy.
   */
  files?: Record<MnistFileKey, MnistFileSpec>;
}

const DEFAULTS = { retries: 3, backoffMs: 500, timeoutMs: 60_000 };

/** Mirror list: explicit option, else MNIST_MIRROR, else DEFAULT_MIRRORS. */
export function resolveMirrors(mirrors?: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = env[MIRROR_ENV]
    ?.split(",")
    .map((m) => m.trim())
    .filter((m) => m !== "");
  const list = mirrors ?? (fromEnv && fromEnv.length > 0 ? fromEnv : DEFAULT_MIRRORS);
  if (list.length === 0) throw new MnistError("no download mirrors given", 2);
  // `<base><name>.gz` must not glue the name onto the last path segment of a base missing its slash.
  return list.map((m) => (m.endsWith("/") ? m : `${m}/`));
}

export async function downloadMnist(options: DownloadOptions): Promise<MnistFileBytes> {
  const specs = options.files ?? MNIST_FILES;
  const mirrors = resolveMirrors(options.mirrors);
  const dataDir = options.dataDir;
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (err) {
    throw new MnistError(`${dataDir}: cannot create the download cache folder (${errorCode(err)})`);
  }
  await removeStaleTemps(dataDir, specs);
  const result: Partial<MnistFileBytes> = {};
  // One file at a time: the first failure stops everything, with no transfer left running behind it.
  for (const key of MNIST_FILE_KEYS) {
    const spec = specs[key];
    const gzPath = path.join(dataDir, `${spec.name}.gz`);
    const gz = (await readCached(gzPath, spec)) ?? (await fetchVerified(spec, mirrors, options));
    if (gz.fresh) await storeAtomically(gzPath, gz.bytes);
    const raw = maybeGunzip(gz.bytes, gzPath);
    const actual = sha256Hex(raw);
    if (actual !== spec.sha256) {
      throw new ChecksumError(gzPath, actual, spec.sha256, "the .gz matches its pinned checksum but its contents do not: the pinned file table is inconsistent");
    }
    result[key] = { bytes: raw, from: gzPath };
  }
  return result as MnistFileBytes;
}

interface GzBytes {
  bytes: Uint8Array;
  /** True when downloaded now (to be stored), false when read from the cache. */
  fresh: boolean;
}

/** The cached .gz when present and intact; undefined when missing or damaged (it is then replaced). */
async function readCached(gzPath: string, spec: MnistFileSpec): Promise<GzBytes | undefined> {
  let bytes: Uint8Array;
  try {
    // A file of the wrong size cannot be the pinned one: replace it without reading it (it may be huge).
    const st = await stat(gzPath);
    if (!st.isFile() || st.size !== spec.gzBytes) return undefined;
    bytes = await readFile(gzPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new MnistError(`${gzPath}: cannot read the cached file (${errorCode(err)})`);
  }
  return bytes.length === spec.gzBytes && sha256Hex(bytes) === spec.gzSha256 ? { bytes, fresh: false } : undefined;
}

/** A temp file this old is a leftover: a download holds its temp file for one write and a rename. */
const STALE_TEMP_MS = 10 * 60_000;

/**
 * Remove the temp files of downloads that were killed between their write and their rename
 * (storeAtomically's names, older than STALE_TEMP_MS; another process's fresh one is left alone).
 */
async function removeStaleTemps(dataDir: string, specs: Record<MnistFileKey, MnistFileSpec>): Promise<void> {
  const prefixes = MNIST_FILE_KEYS.map((k) => `${specs[k].name}.gz.`);
  const names = await readdir(dataDir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.endsWith(".tmp") || !prefixes.some((p) => name.startsWith(p))) continue;
    const file = path.join(dataDir, name);
    const st = await stat(file).catch(() => undefined);
    if (st?.isFile() && Date.now() - st.mtimeMs > STALE_TEMP_MS) await rm(file, { force: true }).catch(() => undefined);
  }
}

async function storeAtomically(gzPath: string, bytes: Uint8Array): Promise<void> {
  // Unique per process and per call, so concurrent writers never share a temp file.
  const tmp = `${gzPath}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, gzPath);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new MnistError(`${gzPath}: cannot write the downloaded file (${errorCode(err)})`);
  }
}

/** What happened at one mirror, for the final one-line message. */
interface MirrorFailure {
  url: string;
  what: string;
  /** Set when the mirror answered 200 with bytes that are not the pinned file. */
  wrongBytes?: { sha256: string };
}

type Attempt =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; retry: boolean; what: string; wrongBytes?: { sha256: string } };

async function fetchVerified(spec: MnistFileSpec, mirrors: string[], options: DownloadOptions): Promise<GzBytes> {
  const retries = options.retries ?? DEFAULTS.retries;
  const backoffMs = options.backoffMs ?? DEFAULTS.backoffMs;
  const file = `${spec.name}.gz`;
  const failures: MirrorFailure[] = [];
  for (const base of mirrors) {
    const url = `${base}${file}`;
    let last: Attempt | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await sleep(backoffMs * 2 ** (attempt - 1));
      last = await attemptOnce(url, file, spec, options);
      if (last.ok) return { bytes: last.bytes, fresh: true };
      if (!last.retry) break;
    }
    if (last && !last.ok) {
      const tries = last.retry && retries > 0 ? ` after ${retries + 1} attempts` : "";
      failures.push({ url, what: `${last.what}${tries}`, wrongBytes: last.wrongBytes });
    }
  }
  const summary = failures.map((f) => `${f.url}: ${f.what}`).join("; ");
  const bad = failures.find((f) => f.wrongBytes);
  if (bad?.wrongBytes) throw new ChecksumError(bad.url, bad.wrongBytes.sha256, spec.gzSha256, `no mirror served the expected ${file} (${summary})`);
  throw new DownloadError(`${file}: every mirror failed (${summary})`);
}

async function attemptOnce(url: string, file: string, spec: MnistFileSpec, options: DownloadOptions): Promise<Attempt> {
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  const total = spec.gzBytes;
  const idle = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const rearm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new DOMException(`no data for ${timeoutMs} ms`, "TimeoutError")), timeoutMs);
  };
  rearm();
  try {
    const res = await fetch(url, { signal: idle.signal, redirect: "follow" });
    rearm();
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      // 5xx and 429 are the server's passing trouble; any other status will not change on retry.
      const retry = res.status >= 500 || res.status === 429;
      return { ok: false, retry, what: `HTTP ${res.status}` };
    }
    const chunks: Uint8Array[] = [];
    let received = 0;
    options.onProgress?.({ file, url, received, total });
    if (res.body) {
      for await (const chunk of res.body) {
        rearm();
        received += chunk.byteLength;
        // Stop reading a body that is already too big to be the pinned file (an error page loop, a wrong file).
        if (received > total) {
          return { ok: false, retry: false, what: `served more than the expected ${total} bytes`, wrongBytes: { sha256: `(unknown, over ${total} bytes)` } };
        }
        chunks.push(chunk);
        options.onProgress?.({ file, url, received, total });
      }
    }
    const bytes = concat(chunks, received);
    const actual = sha256Hex(bytes);
    if (received !== total || actual !== spec.gzSha256) {
      return { ok: false, retry: false, what: `wrong bytes (${received} bytes, sha256 ${actual.slice(0, 12)}…)`, wrongBytes: { sha256: actual } };
    }
    return { ok: true, bytes };
  } catch (err) {
    return { ok: false, retry: true, what: describeNetworkError(err, timeoutMs) };
  } finally {
    clearTimeout(timer);
  }
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** fetch() reports most failures as "fetch failed" or "terminated"; the useful part is in `cause`. */
function describeNetworkError(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: unknown };
  if (e?.name === "TimeoutError" || (e?.cause as Error | undefined)?.name === "TimeoutError") return `timed out: no data for ${timeoutMs} ms`;
  const cause = e?.cause as (Error & { code?: string }) | undefined;
  // "terminated: other side closed" for a cut transfer; "connect ECONNREFUSED …" rather than "fetch failed: …".
  const parts = [e?.message === "fetch failed" ? undefined : e?.message, cause?.message || cause?.code].filter((p) => p);
  const detail = parts.length > 0 ? parts.join(": ") : String(err);
  return `network error (${detail.replace(/\s+/g, " ")})`;
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
