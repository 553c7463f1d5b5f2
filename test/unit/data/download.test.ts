/**
 * The download source against a local HTTP server on 127.0.0.1 serving small synthetic IDX files.
 * Each mirror is a path prefix whose name says how it misbehaves.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { downloadMnist, resolveMirrors, type DownloadProgress } from "../../../src/data/download.js";
import { DEFAULT_MIRRORS, MIRROR_ENV, MNIST_FILE_KEYS, MNIST_FILES, type MnistFileKey, type MnistFileSpec } from "../../../src/data/files.js";
import { loadMnistRaw } from "../../../src/data/mnist.js";
import { ChecksumError, DownloadError } from "../../../src/errors.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function idxImages(count: number, seed: number): Uint8Array {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(0x00000803, 0);
  header.writeUInt32BE(count, 4);
  header.writeUInt32BE(28, 8);
  header.writeUInt32BE(28, 12);
  const pixels = Buffer.alloc(count * 28 * 28);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + seed) & 0xff;
  return Buffer.concat([header, pixels]);
}

function idxLabels(labels: number[]): Uint8Array {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(0x00000801, 0);
  header.writeUInt32BE(labels.length, 4);
  return Buffer.concat([header, Buffer.from(labels)]);
}

const TRAIN_LABELS = [5, 0, 4, 1, 9];
const TEST_LABELS = [7, 2, 1];
const RAW: Record<MnistFileKey, Uint8Array> = {
  trainImages: idxImages(5, 1),
  trainLabels: idxLabels(TRAIN_LABELS),
  testImages: idxImages(3, 2),
  testLabels: idxLabels(TEST_LABELS),
};
const GZ = Object.fromEntries(MNIST_FILE_KEYS.map((k) => [k, gzipSync(RAW[k])])) as Record<MnistFileKey, Buffer>;
// Same names as the real files, synthetic contents and checksums.
const FILES = Object.fromEntries(
  MNIST_FILE_KEYS.map((k): [MnistFileKey, MnistFileSpec] => [
    k,
    { name: MNIST_FILES[k].name, sha256: sha256(RAW[k]), gzSha256: sha256(GZ[k]), gzMd5: "", gzBytes: GZ[k].length },
  ]),
) as Record<MnistFileKey, MnistFileSpec>;
const FINAL_NAMES = new Set(MNIST_FILE_KEYS.map((k) => `${FILES[k].name}.gz`));
const byName = new Map(MNIST_FILE_KEYS.map((k) => [`${FILES[k].name}.gz`, GZ[k]]));

/** Every request, as "/mirror/file". */
let requests: string[] = [];
/** Per-URL hit counts for the flaky mirror. */
let hits = new Map<string, number>();

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? "/";
  requests.push(url);
  const [, mirror, file] = url.split("/");
  const body = byName.get(file ?? "");
  if (!body) {
    res.writeHead(404).end("not found");
    return;
  }
  const serve = (bytes: Uint8Array): void => {
    res.writeHead(200, { "Content-Type": "application/gzip", "Content-Length": bytes.length }).end(bytes);
  };
  switch (mirror) {
    case "good":
      return serve(body);
    case "missing":
      res.writeHead(404).end("not found");
      return;
    case "corrupt": {
      const bad = Buffer.from(body);
      bad[bad.length >> 1] ^= 0xff;
      return serve(bad);
    }
    case "broken":
      res.writeHead(500).end("internal error");
      return;
    case "flaky": {
      const n = (hits.get(url) ?? 0) + 1;
      hits.set(url, n);
      if (n === 1) res.writeHead(503).end("try later");
      else serve(body);
      return;
    }
    case "cut": {
      // Only the test images are cut, so the folder also holds files stored before the failure.
      if (!file?.startsWith("t10k-images")) return serve(body);
      res.writeHead(200, { "Content-Length": body.length });
      res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
      return;
    }
    case "hang":
      // Never answers; the client's timeout must end the request (afterAll closes the socket).
      return;
    case "drip": {
      // The whole body in 8 pieces 60 ms apart: slower in all than the 200 ms limit, never idle that long.
      res.writeHead(200, { "Content-Length": body.length });
      const piece = Math.ceil(body.length / 8);
      let at = 0;
      const next = (): void => {
        if (at >= body.length) return void res.end();
        res.write(body.subarray(at, at + piece));
        at += piece;
        setTimeout(next, 60);
      };
      next();
      return;
    }
    case "stall":
      // Half the body, then nothing (afterAll closes the socket).
      res.writeHead(200, { "Content-Length": body.length });
      res.write(body.subarray(0, body.length >> 1));
      return;
    default:
      res.writeHead(404).end("no such mirror");
  }
}

let server: http.Server;
let base: string;
const mirror = (name: string) => `${base}/${name}/`;

beforeAll(async () => {
  server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let dataDir: string;
let tmpRoot: string;

beforeEach(async () => {
  requests = [];
  hits = new Map();
  tmpRoot = await mkdtemp(path.join(os.tmpdir(), "mnist-ts-download-"));
  dataDir = path.join(tmpRoot, "cache"); // not created: downloadMnist must create it
});

afterEach(async () => {
  await rm(tmpRoot, { recursive: true, force: true });
});

const fast = { retries: 3, backoffMs: 1, timeoutMs: 5_000, files: FILES };

async function cacheListing(): Promise<string[]> {
  return (await readdir(dataDir)).sort();
}

function expectOnlyFinalNames(names: string[]): void {
  for (const n of names) expect(FINAL_NAMES.has(n), `unexpected file in cache: ${n}`).toBe(true);
}

describe("downloadMnist", () => {
  it("downloads, verifies and caches the four files; a second call makes no request", async () => {
    const events: DownloadProgress[] = [];
    const files = await downloadMnist({ ...fast, dataDir, mirrors: [mirror("good")], onProgress: (e) => events.push(e) });
    for (const k of MNIST_FILE_KEYS) {
      expect(Buffer.from(files[k].bytes).equals(Buffer.from(RAW[k]))).toBe(true);
      expect(files[k].from).toBe(path.join(dataDir, `${FILES[k].name}.gz`));
      expect((await readFile(files[k].from)).equals(GZ[k])).toBe(true);
    }
    expect(requests).toHaveLength(4);
    expect(await cacheListing()).toEqual([...FINAL_NAMES].sort());
    for (const k of MNIST_FILE_KEYS) {
      const last = events.filter((e) => e.file === `${FILES[k].name}.gz`).at(-1);
      expect(last).toMatchObject({ received: GZ[k].length, total: GZ[k].length });
    }

    const again = await downloadMnist({ ...fast, dataDir, mirrors: [mirror("good")] });
    expect(requests).toHaveLength(4);
    expect(Buffer.from(again.trainLabels.bytes).equals(Buffer.from(RAW.trainLabels))).toBe(true);
  });

  it("moves to the next mirror at once on a 404", async () => {
    await downloadMnist({ ...fast, dataDir, mirrors: [mirror("missing"), mirror("good")] });
    // One 404 and one success per file: no retry of the 404.
    expect(requests.filter((r) => r.startsWith("/missing/"))).toHaveLength(4);
    expect(requests.filter((r) => r.startsWith("/good/"))).toHaveLength(4);
  });

  it("throws ChecksumError naming the file when the only mirror serves wrong bytes, and stores nothing", async () => {
    const err = await downloadMnist({ ...fast, dataDir, mirrors: [mirror("corrupt")] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumError);
    const msg = (err as Error).message;
    expect(msg).toContain("train-images-idx3-ubyte.gz");
    expect(msg).toContain(FILES.trainImages.gzSha256);
    expect(msg).not.toContain("\n");
    // Wrong bytes are not retried on the same mirror.
    expect(requests).toEqual(["/corrupt/train-images-idx3-ubyte.gz"]);
    expect(await cacheListing()).toEqual([]);
  });

  it("falls back to the next mirror after wrong bytes", async () => {
    const files = await downloadMnist({ ...fast, dataDir, mirrors: [mirror("corrupt"), mirror("good")] });
    expect(Buffer.from(files.testImages.bytes).equals(Buffer.from(RAW.testImages))).toBe(true);
    expect(requests).toHaveLength(8);
  });

  it("leaves no partial or temp file when the connection is cut mid-transfer", async () => {
    const err = await downloadMnist({ ...fast, retries: 1, dataDir, mirrors: [mirror("cut")] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    const msg = (err as Error).message;
    expect(msg).toContain("t10k-images-idx3-ubyte.gz");
    expect(msg).toContain(mirror("cut"));
    expect(msg).toContain("network error");
    expect(msg).not.toContain("\n");
    // A cut is a network error: retried once (retries: 1), so two requests for that file.
    expect(requests.filter((r) => r.includes("t10k-images"))).toHaveLength(2);
    const names = await cacheListing();
    expectOnlyFinalNames(names);
    expect(names).not.toContain("t10k-images-idx3-ubyte.gz");
    expect(names).toEqual(["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]);
  });

  it("retries a 5xx with backoff and then succeeds", async () => {
    const files = await downloadMnist({ ...fast, dataDir, mirrors: [mirror("flaky")] });
    expect(files.trainLabels.bytes.length).toBe(RAW.trainLabels.length);
    // 503 then 200 for each of the four files.
    expect(requests).toHaveLength(8);
    for (const k of MNIST_FILE_KEYS) expect(hits.get(`/flaky/${FILES[k].name}.gz`)).toBe(2);
  });

  it("gives up on a mirror after `retries` retries of a 5xx, with a one-line DownloadError", async () => {
    const err = await downloadMnist({ ...fast, retries: 2, dataDir, mirrors: [mirror("broken"), mirror("missing")] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toBe(
      `train-images-idx3-ubyte.gz: every mirror failed (${mirror("broken")}train-images-idx3-ubyte.gz: HTTP 500 after 3 attempts; ${mirror("missing")}train-images-idx3-ubyte.gz: HTTP 404)`,
    );
    expect(requests).toHaveLength(4);
  });

  it("ends a request that hangs, or stalls mid-body, with the idle timeout; a slow steady one completes", async () => {
    for (const m of ["hang", "stall"]) {
      const err = await downloadMnist({ ...fast, retries: 0, timeoutMs: 200, dataDir, mirrors: [mirror(m)] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DownloadError);
      expect((err as Error).message).toContain(`${mirror(m)}train-images-idx3-ubyte.gz: timed out: no data for 200 ms`);
      expect(await cacheListing()).toEqual([]);
    }
    const t0 = performance.now();
    const files = await downloadMnist({ ...fast, retries: 0, timeoutMs: 200, dataDir, mirrors: [mirror("drip")] });
    expect(performance.now() - t0).toBeGreaterThan(400); // each file took ≥ 7 × 60 ms, longer than the limit
    expect(Object.keys(files)).toHaveLength(4);
  });

  it("removes the temp files a killed download left behind, not another run's fresh one", async () => {
    await mkdir(dataDir, { recursive: true });
    const stale = path.join(dataDir, "train-labels-idx1-ubyte.gz.4242.0123456789ab.tmp");
    const fresh = path.join(dataDir, "t10k-labels-idx1-ubyte.gz.4343.0123456789ab.tmp");
    const other = path.join(dataDir, "notes.tmp");
    for (const f of [stale, fresh, other]) await writeFile(f, "partial");
    const hourAgo = new Date(Date.now() - 3600_000);
    for (const f of [stale, other]) await utimes(f, hourAgo, hourAgo);
    await downloadMnist({ ...fast, dataDir, mirrors: [mirror("good")] });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(other)).toBe(true); // not a name downloads use
  });

  it("replaces a corrupt cached file and reuses the intact ones", async () => {
    await downloadMnist({ ...fast, dataDir, mirrors: [mirror("good")] });
    const labelsGz = path.join(dataDir, "train-labels-idx1-ubyte.gz");
    await writeFile(labelsGz, "not the labels");
    requests = [];
    const files = await downloadMnist({ ...fast, dataDir, mirrors: [mirror("good")] });
    expect(requests).toEqual(["/good/train-labels-idx1-ubyte.gz"]);
    expect((await readFile(labelsGz)).equals(GZ.trainLabels)).toBe(true);
    expect(Array.from(files.trainLabels.bytes.subarray(8))).toEqual(TRAIN_LABELS);
    expect(await cacheListing()).toEqual([...FINAL_NAMES].sort());
  });

  it("honours MNIST_MIRROR when no mirrors option is given", async () => {
    const saved = process.env[MIRROR_ENV];
    process.env[MIRROR_ENV] = ` ${mirror("missing")} ,${base}/good`;
    try {
      await downloadMnist({ ...fast, dataDir });
    } finally {
      if (saved === undefined) delete process.env[MIRROR_ENV];
      else process.env[MIRROR_ENV] = saved;
    }
    expect(requests.filter((r) => r.startsWith("/missing/"))).toHaveLength(4);
    expect(requests.filter((r) => r.startsWith("/good/"))).toHaveLength(4);
  });

  it("lets two concurrent downloads into one empty cache both succeed", async () => {
    const [a, b] = await Promise.all([
      downloadMnist({ ...fast, dataDir, mirrors: [mirror("good")] }),
      downloadMnist({ ...fast, dataDir, mirrors: [mirror("good")] }),
    ]);
    expect(Buffer.from(a.trainImages.bytes).equals(Buffer.from(b.trainImages.bytes))).toBe(true);
    expect(await cacheListing()).toEqual([...FINAL_NAMES].sort());
    for (const k of MNIST_FILE_KEYS) expect((await readFile(path.join(dataDir, `${FILES[k].name}.gz`))).equals(GZ[k])).toBe(true);
  });
});

describe("resolveMirrors", () => {
  it("prefers the option, then MNIST_MIRROR, then DEFAULT_MIRRORS, and adds a missing trailing slash", () => {
    expect(resolveMirrors(["http://a/x"], { [MIRROR_ENV]: "http://b/" })).toEqual(["http://a/x/"]);
    expect(resolveMirrors(undefined, { [MIRROR_ENV]: "http://b/, http://c/" })).toEqual(["http://b/", "http://c/"]);
    expect(resolveMirrors(undefined, { [MIRROR_ENV]: " , " })).toEqual(DEFAULT_MIRRORS);
    expect(resolveMirrors(undefined, {})).toEqual(DEFAULT_MIRRORS);
  });
});

describe("loadMnistRaw with source: download", () => {
  it("downloads, parses and pairs the files end to end", async () => {
    const raw = await loadMnistRaw({ source: "download", dataDir, mirrors: [mirror("good")], files: FILES, backoffMs: 1 });
    expect(raw.train.count).toBe(5);
    expect(raw.test.count).toBe(3);
    expect([raw.train.rows, raw.train.cols]).toEqual([28, 28]);
    expect(Array.from(raw.train.labels)).toEqual(TRAIN_LABELS);
    expect(Array.from(raw.test.labels)).toEqual(TEST_LABELS);
    expect(raw.train.images.length).toBe(5 * 784);
    expect(raw.train.images[3]).toBe((3 * 7 + 1) & 0xff);
    expect(raw.files.trainImages).toBe(path.join(dataDir, "train-images-idx3-ubyte.gz"));
    expect(raw.datasetSha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
