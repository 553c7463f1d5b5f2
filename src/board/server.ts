/**
 * mnist-board's HTTP server (Node's http module, no framework): the page and its assets, the
 * browser builds of vega and vega-lite from the installed packages, a read-only JSON API over the
 * run folders under one root, server-sent events when runs change, and digit prediction. Nothing
 * is written anywhere; nothing outside the root and the package is served.
 */
import { createReadStream, promises as fs } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MnistError } from "../errors.js";
import { curvesSpec, overlaySpec, type CurveOptions } from "../report/curves.js";
import { ModelCache } from "./model-view.js";
import { differingKeys, findRunDirs, readEntry, resolveUnder, runDir, runSignature, toRow, type RunEntry } from "./runs.js";

/** A drawing is a 280×280 PNG of a few kilobytes; nothing else takes a body. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Quiet event streams get a comment line this often. */
const HEARTBEAT_MS = 15_000;
/** Runs overlaid in one chart at most. */
const MAX_OVERLAID = 20;

const STATIC_DIR = fileURLToPath(new URL("./static/", import.meta.url));
const require = createRequire(import.meta.url);
/** The only files served besides the run folders: name → [file, content type]. */
const ASSETS: Record<string, [string, string]> = {
  "/": [path.join(STATIC_DIR, "index.html"), "text/html; charset=utf-8"],
  "/board.js": [path.join(STATIC_DIR, "board.js"), "text/javascript; charset=utf-8"],
  "/board.css": [path.join(STATIC_DIR, "board.css"), "text/css; charset=utf-8"],
  "/vendor/vega.min.js": [require.resolve("vega/build/vega.min.js"), "text/javascript; charset=utf-8"],
  "/vendor/vega-lite.min.js": [require.resolve("vega-lite/build/vega-lite.min.js"), "text/javascript; charset=utf-8"],
};

const CONTENT_TYPES: Record<string, string> = {
  ".svg": "image/svg+xml",
  ".csv": "text/csv; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".log": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".png": "image/png",
};

/**
 * Vega compiles its expressions with the Function constructor, hence 'unsafe-eval'; everything
 * else must come from this server, so a page that tried to load from anywhere else would fail.
 */
const CSP =
  "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface BoardOptions {
  root: string;
  /** How often the watcher looks at the run folders while a page listens (ms). */
  pollMs?: number;
  /** Host names the server answers to, besides 127.0.0.1/localhost/[::1] (the --host given). */
  hosts?: string[];
}

export interface Board {
  server: http.Server;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createBoard(options: BoardOptions): Board {
  const root = path.resolve(options.root);
  const pollMs = options.pollMs ?? 1000;
  const models = new ModelCache();
  const listeners = new Set<http.ServerResponse>();
  const allowedHosts = new Set(["127.0.0.1", "localhost", "[::1]", ...(options.hosts ?? [])]);
  const anyHost = (options.hosts ?? []).some((h) => h === "0.0.0.0" || h === "::" || h === "[::]");
  let signatures = new Map<string, string>();
  let timer: NodeJS.Timeout | null = null;
  let polling = false;
  let lastWrite = 0;

  const entry = async (id: string): Promise<RunEntry> => {
    const dir = await resolveUnder(root, id);
    if (dir === null || !(await isRunFolder(dir))) throw new HttpError(404, `no run "${id}" under the board's folder`);
    // The id as the runs list spells it ("a/b", or "." for the root), whatever separators the request used.
    const canonical = id.split(/[\\/]+/).filter((s) => s !== "" && s !== ".").join("/") || ".";
    return readEntry(root, canonical);
  };

  const routes: Record<string, (url: URL, req: http.IncomingMessage) => Promise<unknown>> = {
    "/api/runs": async () => {
      const now = Date.now();
      const entries = await Promise.all((await findRunDirs(root)).map((id) => readEntry(root, id, now)));
      const rows = entries.map(toRow);
      return { root: path.basename(root) || root, columns: differingKeys(rows), runs: rows };
    },
    "/api/run": async (url) => {
      const e = await entry(param(url, "run"));
      return { ...toRow(e), loss: e.run?.loss ?? [], epochs: e.run?.epochs ?? [] };
    },
    "/api/curves": async (url) => {
      const ids = param(url, "runs").split(",").filter((s) => s !== "");
      if (ids.length === 0 || ids.length > MAX_OVERLAID) throw new HttpError(400, `runs: expected 1 to ${MAX_OVERLAID} run ids separated by commas`);
      const opts = curveOptions(url);
      const entries = await Promise.all(ids.map(entry));
      const bad = entries.find((e) => !e.run);
      if (bad) throw new HttpError(422, `${bad.id}: ${bad.error}`);
      const last = Object.fromEntries(entries.map((e) => [e.id, e.run!.loss.at(-1)?.iteration ?? null]));
      // One run: the very chart behind its curves.svg; several: mnist-report --plot's overlay.
      const spec =
        entries.length === 1 ? curvesSpec(entries[0].run!, opts) : overlaySpec(entries.map((e) => ({ label: e.id, run: e.run! })), opts);
      return { spec, lastIteration: last };
    },
    "/api/model": async (url) => {
      const e = await entry(param(url, "run"));
      return models.view(e.dir, e.id);
    },
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const host = (req.headers.host ?? "").replace(/:\d+$/, "");
    // Another site's page could reach a local server through a DNS name it controls (DNS rebinding): answer only to our own names.
    if (!anyHost && !allowedHosts.has(host)) throw new HttpError(421, "unexpected Host header");
    const url = new URL(req.url ?? "/", "http://board.invalid");
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > MAX_BODY_BYTES) throw new HttpError(413, `request bodies are limited to ${MAX_BODY_BYTES} bytes`);

    if (req.method === "POST" && url.pathname === "/api/predict") {
      const e = await entry(param(url, "run"));
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body.length === 0) throw new HttpError(400, "the request body must be the drawing as a PNG");
      return sendJson(res, 200, await models.predict(e.dir, e.id, body));
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD" + (url.pathname === "/api/predict" ? ", POST" : ""));
      throw new HttpError(405, `${req.method} is not allowed here: the board is read-only`);
    }
    // A GET carries no body; one that does is drained up to the limit and ignored.
    await readBody(req, MAX_BODY_BYTES);
    if (url.pathname === "/api/events") return openEvents(req, res);
    const route = routes[url.pathname];
    if (route) return sendJson(res, 200, await route(url, req));
    if (url.pathname.startsWith("/files/")) return sendRunFile(res, decodePath(url.pathname.slice("/files/".length)));
    // Browsers ask for an icon on their own; there is none, and a 404 would be noise in their console.
    if (url.pathname === "/favicon.ico") return void res.writeHead(204, securityHeaders()).end();
    const asset = ASSETS[url.pathname];
    if (asset) return sendFile(res, asset[0], asset[1], req.method === "HEAD");
    throw new HttpError(404, "not found");
  };

  const sendRunFile = async (res: http.ServerResponse, rel: string): Promise<void> => {
    const file = await resolveUnder(root, rel);
    const stat = file ? await fs.stat(file).catch(() => null) : null;
    if (!file || !stat?.isFile()) throw new HttpError(404, "not found");
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
    await sendFile(res, file, type, false);
  };

  const openEvents = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive", ...securityHeaders() });
    res.write("retry: 2000\n\nevent: hello\ndata: {}\n\n");
    listeners.add(res);
    req.on("close", () => {
      listeners.delete(res);
      if (listeners.size === 0) stopWatching();
    });
    startWatching();
  };

  const poll = async (): Promise<void> => {
    if (polling) return;
    polling = true;
    try {
      const now = Date.now();
      const next = new Map<string, string>();
      for (const id of await findRunDirs(root)) next.set(id, await runSignature(runDir(root, id), now));
      const changed = [...next].filter(([id, sig]) => signatures.get(id) !== sig).map(([id]) => id);
      const removed = [...signatures.keys()].filter((id) => !next.has(id));
      const listChanged = removed.length > 0 || changed.some((id) => !signatures.has(id));
      signatures = next;
      if (changed.length + removed.length > 0) {
        const data = JSON.stringify({ runs: changed, removed, listChanged });
        for (const res of listeners) res.write(`event: change\ndata: ${data}\n\n`);
        lastWrite = now;
      } else if (now - lastWrite > HEARTBEAT_MS) {
        // A comment line now and then: a page gone without closing its connection shows up as a failed write.
        for (const res of listeners) res.write(": still here\n\n");
        lastWrite = now;
      }
    } finally {
      polling = false;
    }
  };

  const startWatching = (): void => {
    if (timer) return;
    // The first look only records where things stand; changes after it are sent.
    void poll().catch(() => undefined);
    timer = setInterval(() => void poll().catch(() => undefined), pollMs);
    timer.unref();
  };
  const stopWatching = (): void => {
    if (timer) clearInterval(timer);
    timer = null;
    signatures = new Map();
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof HttpError) {
        // The rest of an oversized body is not read: the connection ends with this answer.
        if (err.status === 413) res.setHeader("Connection", "close");
        return sendJson(res, err.status, { error: err.message });
      }
      // A bad run folder, model or drawing: the page shows the message and carries on.
      if (err instanceof MnistError) return sendJson(res, 422, { error: err.message.split(root + path.sep).join("") });
      process.stderr.write(`mnist-board: internal error on ${req.method} ${req.url}: ${(err as Error)?.message ?? String(err)}\n`);
      sendJson(res, 500, { error: "internal error" });
    });
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;

  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        stopWatching();
        for (const res of listeners) res.end();
        listeners.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function isRunFolder(dir: string): Promise<boolean> {
  for (const f of ["config.json", "loss.csv"]) if ((await fs.stat(path.join(dir, f)).catch(() => null))?.isFile()) return true;
  return false;
}

function decodePath(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw new HttpError(400, "malformed path");
  }
}

function param(url: URL, name: string): string {
  const v = url.searchParams.get(name);
  if (v === null) throw new HttpError(400, `missing the "${name}" query parameter`);
  return v;
}

function curveOptions(url: URL): CurveOptions {
  const smooth = url.searchParams.get("smooth");
  const x = url.searchParams.get("x");
  const options: CurveOptions = {};
  if (smooth !== null) {
    const n = Number(smooth);
    if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new HttpError(400, `smooth: expected a whole number of iterations from 1 to 10000 (got "${smooth}")`);
    options.smoothWindow = n;
  }
  if (x !== null) {
    if (x !== "iteration" && x !== "epoch") throw new HttpError(400, `x: expected "iteration" or "epoch" (got "${x}")`);
    options.lossX = x;
  }
  return options;
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, `request bodies are limited to ${limit} bytes`));
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function securityHeaders(): Record<string, string> {
  return { "X-Content-Type-Options": "nosniff", "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer" };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", ...securityHeaders() });
  res.end(text);
}

async function sendFile(res: http.ServerResponse, file: string, type: string, headOnly: boolean): Promise<void> {
  const stat = await fs.stat(file);
  res.writeHead(200, { "Content-Type": type, "Content-Length": stat.size, "Cache-Control": "no-cache", ...securityHeaders() });
  if (headOnly) return void res.end();
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(file);
    stream.on("error", reject);
    res.on("finish", resolve);
    res.on("close", resolve);
    stream.pipe(res);
  });
}
