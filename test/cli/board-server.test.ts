/**
 * mnist-board's server, started as the built command on a fixture tree: the routes, what it
 * refuses (path traversal, writes, oversized bodies, foreign Host headers), malformed runs shown
 * and not fatal, a run growing while a page listens, and a clean stop on Ctrl-C.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMnistRaw } from "../../src/data/mnist.js";
import { curvesSpec, overlaySpec } from "../../src/report/curves.js";
import { readRun } from "../../src/report/run-data.js";
import { ROOT, runBin, tempDir } from "../helpers.js";
import { makeTree, SECRET, startBoard, TRAINED, type Board, type Tree } from "./board-fixture.js";

const tmp = tempDir("mnist-board-server-");
let tree: Tree;
let board: Board;

/** Every file under dir with its sha256: the tree must be the same after the tests (read-only). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) out[p] = "link";
      else if (e.isDirectory()) walk(p);
      else out[p] = createHash("sha256").update(readFileSync(p)).digest("hex") + ":" + statSync(p).mtimeMs;
    }
  };
  walk(dir);
  return out;
}

/** A request with the path exactly as given (fetch would normalize "..") and an optional Host header. */
function raw(rawPath: string, options: { method?: string; host?: string; body?: Buffer } = {}): Promise<{ status: number; body: string }> {
  const u = new URL(board.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: rawPath, method: options.method ?? "GET", headers: { Host: options.host ?? u.host } },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

const get = async (p: string) => {
  const res = await fetch(new URL(p, board.url));
  return { status: res.status, json: (await res.json()) as any };
};

function digitPng(pixels: Uint8Array, invert: boolean): Buffer {
  const png = new PNG({ width: 28, height: 28 });
  for (let i = 0; i < 784; i++) {
    const v = invert ? 255 - pixels[i] : pixels[i];
    png.data.set([v, v, v, 255], 4 * i);
  }
  return PNG.sync.write(png);
}

let before: Record<string, string>;

beforeAll(async () => {
  tree = await makeTree(tmp.dir);
  before = snapshot(tmp.dir);
  mkdirSync(path.join(tmp.dir, "drawings"));
  board = await startBoard([tree.root]);
});

afterAll(async () => {
  if (board && board.child.exitCode === null) await board.stop();
  tmp.cleanup();
});

describe("mnist-board server", () => {
  it("prints its URL first, on 127.0.0.1, and serves the page with every asset from itself", async () => {
    expect(board.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(board.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await page.text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThanOrEqual(4);
    for (const ref of refs) expect(ref.startsWith("/")).toBe(true);
    for (const ref of refs) expect((await fetch(new URL(ref, board.url))).status).toBe(200);
    const vendor = Buffer.from(await (await fetch(new URL("/vendor/vega-lite.min.js", board.url))).arrayBuffer());
    const require = createRequire(import.meta.url);
    expect(vendor.equals(readFileSync(require.resolve("vega-lite/build/vega-lite.min.js")))).toBe(true);
  });

  it("lists every run of the tree, nested ones included, with its status; malformed folders shown with the reason", async () => {
    tree.touch();
    const { status, json } = await get("/api/runs");
    expect(status).toBe(200);
    const byId = Object.fromEntries(json.runs.map((r: any) => [r.id, r]));
    expect(Object.keys(byId).sort()).toEqual(["bad-csv", "broken", "diverged", "early", "interrupted", "linked", "live", "sweep/lr-0.1", "sweep/lr-0.5"]);
    expect(byId[TRAINED].status).toBe("finished");
    expect(byId["sweep/lr-0.1"].status).toBe("finished");
    expect(byId.early.status).toBe("early-stopped");
    expect(byId.live.status).toBe("running");
    expect(byId.diverged.status).toBe("diverged");
    expect(byId.interrupted.status).toBe("interrupted");
    expect(byId.broken.status).toBe("malformed");
    expect(byId.broken.error).toMatch(/^broken\/config\.json: is not valid JSON/);
    expect(byId["bad-csv"].status).toBe("malformed");
    expect(byId["bad-csv"].error).toContain('bad-csv/loss.csv: expected the header "iteration,loss"');
    expect(byId.linked.status).toBe("malformed");
    expect(byId.linked.error).toBe("linked/loss.csv: leads outside the board's folder (a symbolic link); not read");
    // no absolute path leaks into messages
    expect(JSON.stringify(json)).not.toContain(tmp.dir);
    // results as the run recorded them
    const summary = JSON.parse(readFileSync(path.join(tree.root, TRAINED, "summary.json"), "utf8"));
    expect(byId[TRAINED].testAccuracy).toBe(summary.testAccuracy);
    expect(byId[TRAINED].wallTimeS).toBe(summary.wallTimeS);
    expect(byId[TRAINED].hasModel).toBe(true);
    expect(byId.live.hasModel).toBe(false);
    // lr differs between the sweep points and iters between finished and partial runs; batch size nowhere
    expect(json.columns).toContain("lr");
    expect(json.columns).toContain("iters");
    expect(json.columns).not.toContain("batchSize");
    expect(json.columns).not.toContain("dataSource");
  });

  it("gives one run the very chart spec behind its curves.svg, several the mnist-report overlay, and honours the controls", async () => {
    const one = await get(`/api/curves?runs=${TRAINED}`);
    expect(one.status).toBe(200);
    const run = await readRun(path.join(tree.root, TRAINED));
    expect(one.json.spec).toEqual(JSON.parse(JSON.stringify(curvesSpec(run))));
    expect(one.json.lastIteration).toEqual({ [TRAINED]: 1499 });

    const two = await get(`/api/curves?runs=${TRAINED},sweep/lr-0.1`);
    const other = await readRun(path.join(tree.root, "sweep", "lr-0.1"));
    expect(two.json.spec).toEqual(JSON.parse(JSON.stringify(overlaySpec([{ label: TRAINED, run }, { label: "sweep/lr-0.1", run: other }]))));

    const smoothed = await get(`/api/curves?runs=${TRAINED}&smooth=10&x=epoch`);
    const loss = smoothed.json.spec.hconcat[0];
    expect(loss.encoding.x.field).toBe("epoch");
    // epochs completed after iteration i, as epochs.csv counts them
    expect(loss.transform).toEqual([{ calculate: "(datum.iteration + 1) / 600", as: "epoch" }]);
    const avg = loss.data.values.filter((r: any) => r.series === "moving average (10 iterations)");
    // 1,500 points are drawn 1 in 2: the average at iteration 10 is that of iterations 1 to 10
    const mean = run.loss.slice(1, 11).reduce((a, p) => a + p.loss, 0) / 10;
    expect(avg.find((r: any) => r.iteration === 10).loss).toBeCloseTo(mean, 12);

    expect((await get(`/api/curves?runs=${TRAINED}&smooth=0`)).status).toBe(400);
    expect((await get(`/api/curves?runs=${TRAINED}&x=time`)).status).toBe(400);
    expect((await get(`/api/curves?runs=broken`)).json.error).toMatch(/^broken: broken\/config\.json/);
    expect((await get(`/api/curves`)).status).toBe(400);
  });

  it("evaluates a model as mnist-eval does: confusion matrix, per-class accuracy, errors, first-layer filters", async () => {
    const { status, json } = await get(`/api/model?run=${TRAINED}`);
    expect(status).toBe(200);
    const model = path.join(tree.root, TRAINED, "model.json");
    const ev = await runBin("mnist-eval", [model, "--json"]);
    expect(ev.code).toBe(0);
    const report = JSON.parse(ev.stdout);
    expect(json.confusion).toEqual(report.confusion);
    expect(json.perClass).toEqual(report.perClass);
    expect(json.testAccuracy).toBe(report.testAccuracy);
    expect(json.count).toBe(10000);
    const wrong = report.confusion.reduce((s: number, row: number[], i: number) => s + row.reduce((a, n, j) => a + (i === j ? 0 : n), 0), 0);
    expect(json.errorCount).toBe(wrong);
    expect(json.errors).toHaveLength(60);
    // each shown error is a real test image with its real label and a different prediction
    const { test } = await loadMnistRaw();
    for (const e of json.errors.slice(0, 5)) {
      expect(e.label).toBe(test.labels[e.index]);
      expect(e.predicted).not.toBe(e.label);
      expect(Buffer.from(e.pixels, "base64").equals(Buffer.from(test.images.subarray(e.index * 784, (e.index + 1) * 784)))).toBe(true);
    }
    // unit 3's filter: column 3 of W1, scaled from its min (0) to its max (255)
    const W1 = JSON.parse(readFileSync(model, "utf8")).params.W1.data as number[];
    const col = Array.from({ length: 784 }, (_, i) => W1[i * 50 + 3]);
    const lo = Math.min(...col);
    const hi = Math.max(...col);
    expect(json.weights.units).toBe(50);
    expect(Array.from(Buffer.from(json.weights.images[3], "base64"))).toEqual(col.map((v) => Math.round(((v - lo) / (hi - lo)) * 255)));

    expect((await get(`/api/model?run=live`)).json.error).toBe("live/model.json: no such file (the run has not finished)");
  });

  it("classifies a drawing exactly as mnist-predict classifies the same PNG", async () => {
    const { test } = await loadMnistRaw();
    const i = 0;
    const png = digitPng(test.images.subarray(i * 784, (i + 1) * 784), true);
    const file = path.join(tmp.dir, "drawings", "digit.png");
    writeFileSync(file, png);
    const res = await fetch(new URL(`/api/predict?run=${TRAINED}`, board.url), { method: "POST", body: png, headers: { "Content-Type": "image/png" } });
    expect(res.status).toBe(200);
    const got = (await res.json()) as any;
    const cli = await runBin("mnist-predict", [path.join(tree.root, TRAINED, "model.json"), file, "--json"]);
    const want = JSON.parse(cli.stdout).predictions[0];
    expect(got.digit).toBe(want.digit);
    expect(got.probabilities).toEqual(want.probabilities);
    expect(got.inverted).toBe(true);
    expect(got.digit).toBe(test.labels[i]);
    expect(Buffer.from(got.pixels, "base64")).toHaveLength(784);

    const blank = await fetch(new URL(`/api/predict?run=${TRAINED}`, board.url), { method: "POST", body: digitPng(new Uint8Array(784), true) });
    expect(blank.status).toBe(422);
    expect(((await blank.json()) as any).error).toBe("the drawing: holds no digit (a blank image)");
    const notPng = await fetch(new URL(`/api/predict?run=${TRAINED}`, board.url), { method: "POST", body: "hello" });
    expect(notPng.status).toBe(422);
    expect(((await notPng.json()) as any).error).toMatch(/^the drawing: is not a readable PNG/);
    const unfinished = await fetch(new URL(`/api/predict?run=live`, board.url), { method: "POST", body: png });
    expect(unfinished.status).toBe(422);
  });

  it("refuses bodies over the limit, writes, and foreign Host headers", async () => {
    const big = await fetch(new URL(`/api/predict?run=${TRAINED}`, board.url), { method: "POST", body: Buffer.alloc(2 * 1024 * 1024, 1) });
    expect(big.status).toBe(413);
    // a body sent without a declared length (chunked) is cut at the limit too
    const chunked = await raw(`/api/predict?run=${TRAINED}`, { method: "POST", body: Buffer.alloc(3 * 1024 * 1024, 1) });
    expect(chunked.status).toBe(413);
    for (const method of ["PUT", "DELETE", "PATCH"]) expect((await raw(`/files/${TRAINED}/model.json`, { method })).status).toBe(405);
    expect((await raw("/api/runs", { method: "POST" })).status).toBe(405);
    expect((await raw("/api/runs", { host: "attacker.example:80" })).status).toBe(421);
    expect((await raw("/api/runs", { host: `localhost:${new URL(board.url).port}` })).status).toBe(200);
  });

  it("serves files under the root only: every traversal attempt is a 404 without the secret", async () => {
    const ok = await raw(`/files/${TRAINED}/epochs.csv`);
    expect(ok.status).toBe(200);
    expect(ok.body).toBe(readFileSync(path.join(tree.root, TRAINED, "epochs.csv"), "utf8"));
    const attempts = [
      "/files/../secret.txt",
      "/files/../../secret.txt",
      "/files/%2e%2e/secret.txt",
      "/files/%2E%2E%2Fsecret.txt",
      "/files/..%2fsecret.txt",
      "/files/..%5csecret.txt",
      "/files/sweep/..%2f..%2fsecret.txt",
      "/files/sweep/secret-link.txt",
      "/files/escape/secret.txt",
      "/files/escape/model.json",
      `/files/${encodeURIComponent(tree.secretFile)}`,
      `/files//${tree.secretFile}`,
      "/files/%00secret.txt",
      "/files/%E0%A4%A",
      "/files/sweep",
      "/board.js/../../secret.txt",
      "/vendor/../../secret.txt",
      "/../secret.txt",
      "/api/run?run=../outside-run",
      "/api/run?run=escape",
      `/api/run?run=${encodeURIComponent(path.dirname(tree.secretFile) + "/outside-run")}`,
      "/api/model?run=..%2foutside-run",
      "/api/curves?runs=escape",
      "/api/curves?runs=linked",
      "/files/linked/loss.csv",
      "/package.json",
      "/vendor/vega.js",
    ];
    for (const p of attempts) {
      const r = await raw(p);
      // 422: a run folder that is there but not read (its file leads outside)
      expect([400, 404, 422], p).toContain(r.status);
      expect(r.body, p).not.toContain(SECRET);
      expect(r.body, p).not.toContain('"format":"mnist-ts.model"');
    }
    const linked = await raw("/api/run?run=linked");
    expect(JSON.parse(linked.body)).toMatchObject({ status: "malformed", loss: [] });
    expect(linked.body).not.toContain(SECRET);
  });

  it("tells a listening page when a run grows, and the run then reads with the new rows", async () => {
    const ac = new AbortController();
    const res = await fetch(new URL("/api/events", board.url), { signal: ac.signal });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const waitFor = async (pattern: RegExp, ms: number) => {
      const deadline = Date.now() + ms;
      while (!pattern.test(text)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${pattern} within ${ms} ms; got: ${text}`);
        const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), left))]);
        if (chunk && !chunk.done) text += decoder.decode(chunk.value);
      }
    };
    await waitFor(/event: hello/, 10_000);
    // the watcher's first look records the tree as it stands; give it a moment to take it, then change the run
    const before = (await get("/api/run?run=live")).json;
    expect(before.loss).toHaveLength(50);
    let last = -1;
    const deadline = Date.now() + 20_000;
    while (!/event: change\ndata: \{"runs":\[[^\]]*"live"/.test(text)) {
      if (Date.now() > deadline) throw new Error(`no change event for "live"; got: ${text}`);
      last = tree.grow(25);
      await waitFor(/event: change\ndata: \{"runs":\[[^\]]*"live"/, 3000).catch(() => undefined);
    }
    const after = (await get("/api/run?run=live")).json;
    expect(after.loss.at(-1).iteration).toBe(last);
    expect(after.status).toBe("running");
    const curves = (await get("/api/curves?runs=live")).json;
    expect(curves.lastIteration).toEqual({ live: last });

    // a folder that appears malformed while watched is listed as such; the server carries on
    mkdirSync(path.join(tree.root, "later"));
    writeFileSync(path.join(tree.root, "later", "loss.csv"), "garbage\n");
    await waitFor(/"later"/, 10_000);
    const runs = (await get("/api/runs")).json.runs;
    expect(runs.find((r: any) => r.id === "later").status).toBe("malformed");
    ac.abort();
  });

  it("changes nothing on disk", () => {
    const now = snapshot(tmp.dir);
    for (const k of Object.keys(now)) if (k.startsWith(path.join(tmp.dir, "drawings"))) delete now[k];
    // the tests themselves grew the live run and added one folder; nothing else may differ
    for (const k of Object.keys(before)) if (!k.includes(`${path.sep}live${path.sep}`)) expect(now[k], k).toBe(before[k]);
    expect(Object.keys(now).filter((k) => !(k in before))).toEqual([path.join(tree.root, "later", "loss.csv")]);
  });

  it("stops cleanly on Ctrl-C, even with a page still listening", async () => {
    const res = await fetch(new URL("/api/events", board.url));
    const reader = res.body!.getReader();
    await reader.read();
    const { code, signal } = await board.stop();
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(board.stderr()).toMatch(/mnist-board: stopped\n$/);
    expect(board.stderr()).not.toMatch(/at .*\.js:\d+/);
  });
});

describe("mnist-board command line", () => {
  it("a missing folder is exit 1, a bad port exit 2, a port in use exit 1: each one line", async () => {
    const missing = await runBin("mnist-board", [path.join(tmp.dir, "nope")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`mnist-board: ${path.join(tmp.dir, "nope")}: no such folder (train a run first, or name the folder that holds your runs)\n`);
    const port = await runBin("mnist-board", [tmp.dir, "--port", "http"]);
    expect(port.code).toBe(2);
    expect(port.stderr).toBe('mnist-board: --port must be a whole number from 0 to 65535 (got "http")\n');
    const blocker = http.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const taken = (blocker.address() as { port: number }).port;
    const busy = await runBin("mnist-board", [tmp.dir, "--port", String(taken)]);
    blocker.close();
    expect(busy.code).toBe(1);
    expect(busy.stderr).toBe(`mnist-board: --port ${taken}: the port is in use\n`);
  });

  it("without --port takes 6006, or the next free port when it is taken", async () => {
    // hold 6006 (if something else already holds it, the board must move on all the same)
    const holder = http.createServer();
    await new Promise<void>((r) => {
      holder.once("error", () => r());
      holder.listen(6006, "127.0.0.1", r);
    });
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "mnist-board.js"), tree.root], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise((r) => child.on("exit", r));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error("no URL within 30 s")), 30_000);
        child.stdout.on("data", (d) => {
          out += d;
          if (out.includes("\n")) {
            clearTimeout(timer);
            resolve(out.split("\n")[0]);
          }
        });
      });
      const port = Number(new URL(url).port);
      expect(port).toBeGreaterThan(6006);
      expect(port).toBeLessThan(6026);
      expect((await fetch(new URL("/api/runs", url))).status).toBe(200);
    } finally {
      child.kill("SIGINT");
      await exited;
      holder.close();
    }
  });

  it("an empty RUNS_DIR lists no runs, and a run started there later appears", async () => {
    const empty = path.join(tmp.dir, "empty");
    mkdirSync(empty);
    const b = await startBoard([empty]);
    try {
      expect(((await (await fetch(new URL("/api/runs", b.url))).json()) as any).runs).toEqual([]);
      mkdirSync(path.join(empty, "first"));
      writeFileSync(path.join(empty, "first", "loss.csv"), "iteration,loss\n0,2.3\n");
      const runs = ((await (await fetch(new URL("/api/runs", b.url))).json()) as any).runs;
      expect(runs.map((r: any) => [r.id, r.status, r.iterations])).toEqual([["first", "malformed", null]]);
      expect(runs[0].error).toBe("first/config.json: no such file");
    } finally {
      expect((await b.stop()).code).toBe(0);
    }
  });

  it("a run folder given as RUNS_DIR is the one run, named \".\"", async () => {
    const one = await startBoard([path.join(tree.root, TRAINED)]);
    try {
      const runs = (await (await fetch(new URL("/api/runs", one.url))).json()) as any;
      expect(runs.runs.map((r: any) => [r.id, r.status])).toEqual([[".", "finished"]]);
      const curves = (await (await fetch(new URL("/api/curves?runs=.", one.url))).json()) as any;
      expect(curves.lastIteration).toEqual({ ".": 1499 });
    } finally {
      expect((await one.stop()).code).toBe(0);
    }
  });
});
