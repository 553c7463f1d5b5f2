/**
 * Several processes filling one empty download cache at once, against a loopback HTTP server that
 * serves small synthetic IDX .gz files slowly (so the transfers overlap). The pinned checksums are
 * those of the real MNIST files, which are not available offline, so the processes run the download
 * library with the test's file table (DownloadOptions.files) rather than `mnist-train`; the cache
 * logic they exercise (verify in memory, unique temp file, rename) is the one mnist-train uses.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, truncateSync, mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadMnist } from "../../../src/data/download.js";
import { MNIST_FILE_KEYS, MNIST_FILES, type MnistFileKey, type MnistFileSpec } from "../../../src/data/files.js";
import { ROOT, tempDir } from "../../helpers.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const images = (n: number) => Uint8Array.from([0, 0, 8, 3, ...u32(n), ...u32(28), ...u32(28), ...Array.from({ length: n * 784 }, (_, i) => (i * 31) & 0xff)]);
const labels = (n: number) => Uint8Array.from([0, 0, 8, 1, ...u32(n), ...Array.from({ length: n }, (_, i) => i % 10)]);
const RAW: Record<MnistFileKey, Uint8Array> = { trainImages: images(40), trainLabels: labels(40), testImages: images(10), testLabels: labels(10) };
const GZ = Object.fromEntries(MNIST_FILE_KEYS.map((k) => [k, gzipSync(RAW[k])])) as Record<MnistFileKey, Buffer>;
const FILES = Object.fromEntries(
  MNIST_FILE_KEYS.map((k): [MnistFileKey, MnistFileSpec] => [k, { name: MNIST_FILES[k].name, sha256: sha256(RAW[k]), gzSha256: sha256(GZ[k]), gzMd5: "", gzBytes: GZ[k].length }]),
) as Record<MnistFileKey, MnistFileSpec>;
const byName = new Map(MNIST_FILE_KEYS.map((k) => [`${FILES[k].name}.gz`, GZ[k]]));

const tmp = tempDir();
let server: http.Server;
let mirror: string;
let requests = 0;

beforeAll(async () => {
  // Each file goes out in four pieces 30 ms apart, so concurrent downloads interleave.
  server = http.createServer((req, res) => {
    const body = byName.get(path.basename(req.url ?? ""));
    requests++;
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { "Content-Length": body.length });
    const step = Math.ceil(body.length / 4);
    let offset = 0;
    const next = () => {
      res.write(body.subarray(offset, offset + step));
      offset += step;
      if (offset >= body.length) res.end();
      else setTimeout(next, 30);
    };
    next();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mnist/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  tmp.cleanup();
});

function child(dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(ROOT, "test", "fixtures", "download-child.mjs"), dataDir, mirror, JSON.stringify(FILES)], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const expectIntactCache = (dataDir: string) => {
  expect(readdirSync(dataDir).sort()).toEqual(MNIST_FILE_KEYS.map((k) => `${FILES[k].name}.gz`).sort()); // no temp files
  for (const k of MNIST_FILE_KEYS) expect(sha256(readFileSync(path.join(dataDir, `${FILES[k].name}.gz`)))).toBe(FILES[k].gzSha256);
};

describe("concurrent downloads into one cache", () => {
  it("six processes started together all succeed, with identical data and an intact cache", async () => {
    const dataDir = path.join(tmp.dir, "shared-cache");
    requests = 0;
    const results = await Promise.all(Array.from({ length: 6 }, () => child(dataDir)));
    for (const r of results) expect([r.code, r.stderr]).toEqual([0, ""]);
    const expected = JSON.stringify(Object.fromEntries(MNIST_FILE_KEYS.map((k) => [k, FILES[k].sha256])));
    for (const r of results) expect(r.stdout.trim()).toBe(expected);
    expectIntactCache(dataDir);
    // Without a lock each process may fetch what is not yet cached, but never more than once per file.
    expect(requests).toBeGreaterThanOrEqual(4);
    expect(requests).toBeLessThanOrEqual(6 * 4);
    // A later run uses the cache: no request at all.
    requests = 0;
    expect((await child(dataDir)).code).toBe(0);
    expect(requests).toBe(0);
  });

  it("a damaged or huge (2 GiB, sparse) cached file is replaced without being read", async () => {
    const dataDir = path.join(tmp.dir, "damaged-cache");
    mkdirSync(dataDir);
    const huge = path.join(dataDir, `${FILES.trainImages.name}.gz`);
    writeFileSync(huge, "");
    truncateSync(huge, 2 ** 31);
    writeFileSync(path.join(dataDir, `${FILES.testLabels.name}.gz`), Buffer.from(GZ.testLabels).fill(0, 10, 20));
    const before = process.memoryUsage().rss;
    const files = await downloadMnist({ dataDir, mirrors: [mirror], files: FILES, retries: 0 });
    expect(process.memoryUsage().rss - before).toBeLessThan(500 * 1024 * 1024);
    expect(sha256(files.trainImages.bytes)).toBe(FILES.trainImages.sha256);
    expect(statSync(huge).size).toBe(FILES.trainImages.gzBytes);
    expectIntactCache(dataDir);
  });
});
