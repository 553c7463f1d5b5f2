/**
 * mnist-board in a real browser: Debian's chromium (never one downloaded by npm) driven by
 * playwright-core. Loads the page over a fixture tree, sees its runs, watches a curve move when
 * the fixture run appends rows, and draws a real MNIST test digit's shape with mouse strokes,
 * reading back the network's answer. Screenshots go to the test's temp folder.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMnistRaw } from "../../src/data/mnist.js";
import { tempDir } from "../helpers.js";
import { makeTree, startBoard, TRAINED, type Board, type Tree } from "./board-fixture.js";

const CHROMIUM = "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
if (!available && process.env.CI) {
  // CI installs chromium (.ci/run): there, a missing browser is a failure, not a skip.
  describe("mnist-board in chromium", () => {
    it("needs Debian's chromium", () => {
      throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt-get install -y chromium`);
    });
  });
} else if (!available) {
  console.warn(`board-browser.test.ts: skipped: ${CHROMIUM} is not installed (apt-get install -y chromium); CI installs it and runs this test`);
  describe.skip("mnist-board in chromium (skipped: no /usr/bin/chromium)", () => {
    it("loads the page", () => undefined);
  });
} else {
  describe("mnist-board in chromium", browserTests);
}

function browserTests() {
  const tmp = tempDir("mnist-board-browser-");
  const shots = path.join(tmp.dir, "screenshots");
  let tree: Tree;
  let board: Board;
  let context: BrowserContext;
  let page: Page;
  const foreign: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    tree = await makeTree(tmp.dir);
    board = await startBoard([tree.root]);
    context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmp.dir, "profile-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1280, height: 1000 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("request", (req) => {
      if (!req.url().startsWith(board.url) && !req.url().startsWith("data:") && !req.url().startsWith("blob:")) foreign.push(req.url());
    });
    page.on("pageerror", (err) => pageErrors.push(err.message));
  });

  afterAll(async () => {
    await context?.close();
    if (board && board.child.exitCode === null) await board.stop();
    // The screenshots stay for a look after the run; the runs and the browser profile go.
    for (const e of readdirSync(tmp.dir)) if (e !== "screenshots") rmSync(path.join(tmp.dir, e), { recursive: true, force: true });
    console.log(`board-browser.test.ts: screenshots in ${shots}`);
  });

  it("shows every run of the fixture tree with its status", async () => {
    tree.touch();
    await page.goto(board.url);
    await page.waitForSelector(`#runs tbody tr[data-run="${TRAINED}"]`, { timeout: 20_000 });
    const rows = await page.$$eval("#runs tbody tr", (trs) => trs.map((tr) => [(tr as HTMLElement).dataset.run, (tr as HTMLElement).dataset.status]));
    expect(Object.fromEntries(rows)).toEqual({
      "bad-csv": "malformed",
      broken: "malformed",
      diverged: "diverged",
      early: "early-stopped",
      interrupted: "interrupted",
      linked: "malformed",
      live: "running",
      "sweep/lr-0.1": "finished",
      "sweep/lr-0.5": "finished",
    });
    // the differing hyperparameter is a column, and filtering by its value keeps the matching runs
    expect(await page.$$eval("#runs thead th", (ths) => ths.map((th) => th.textContent))).toContain("lr");
    await page.fill("#filter", "lr=0.1");
    await page.waitForFunction(() => document.querySelectorAll("#runs tbody tr").length === 1);
    expect(await page.$eval("#runs tbody tr", (tr) => (tr as HTMLElement).dataset.run)).toBe("sweep/lr-0.1");
    await page.fill("#filter", "sweep");
    await page.waitForFunction(() => document.querySelectorAll("#runs tbody tr").length === 2);
    await page.fill("#filter", "");
    // sorted by test accuracy, best first: the finished runs' values descend, runs without one last
    await page.click('#runs thead th[data-key="testAccuracy"]');
    const column = await page.$$eval('#runs tbody td[data-col="testAccuracy"]', (tds) => tds.map((td) => td.textContent));
    const numbers = column.filter((t) => t !== "").map(Number);
    expect(numbers.length).toBeGreaterThanOrEqual(4);
    expect(numbers).toEqual([...numbers].sort((a, b) => b - a));
    expect(column.slice(numbers.length).every((t) => t === "")).toBe(true);
    await page.waitForSelector("#live.on");
    await page.screenshot({ path: path.join(shots, "1-runs.png"), fullPage: true });
  });

  it("moves the live run's curve when the run appends rows, without a reload", async () => {
    // overlay only the live run
    for (const id of await page.$$eval("#runs tbody tr input.pick:checked", (els) => els.map((e) => (e.closest("tr") as HTMLElement).dataset.run!))) {
      await page.click(`#runs tbody tr[data-run="${id}"] input.pick`);
    }
    await page.click('#runs tbody tr[data-run="live"] input.pick');
    await page.waitForFunction(
      () => document.querySelector("#curves")?.getAttribute("data-runs") === "live" && document.querySelector("#curves")?.getAttribute("data-last-iteration") === '{"live":49}' && document.querySelector("#curves svg") !== null,
      undefined,
      { timeout: 20_000 },
    );
    const pathBefore = await page.$eval("#curves svg", (svg) => svg.innerHTML.length);
    await page.screenshot({ path: path.join(shots, "2-curve-before.png"), fullPage: true });
    const navigations: string[] = [];
    page.on("framenavigated", (f) => navigations.push(f.url()));

    const last = tree.grow(300);
    await page.waitForFunction((want) => document.querySelector("#curves")?.getAttribute("data-last-iteration") === want, JSON.stringify({ live: last }), { timeout: 20_000 });
    const pathAfter = await page.$eval("#curves svg", (svg) => svg.innerHTML.length);
    expect(pathAfter).toBeGreaterThan(pathBefore);
    expect(navigations).toEqual([]);
    await page.screenshot({ path: path.join(shots, "3-curve-after.png"), fullPage: true });

    // the smoothing control redraws with another window
    await page.$eval("#smooth", (input) => {
      (input as HTMLInputElement).value = "10";
      input.dispatchEvent(new Event("change"));
    });
    await page.waitForFunction(() => [...document.querySelectorAll("#curves svg text")].some((t) => t.textContent === "moving average (10 iterations)"), undefined, { timeout: 20_000 });
  });

  it("classifies a digit drawn with the mouse along a real MNIST test digit's shape", async () => {
    const { test } = await loadMnistRaw();
    const index = 0;
    const label = test.labels[index];
    const digit = test.images.subarray(index * 784, (index + 1) * 784);

    await page.click(`#runs tbody tr[data-run="${TRAINED}"] a.focus`);
    await page.waitForSelector("#weights canvas", { timeout: 60_000 });
    const pad = (await page.$("#pad"))!;
    await pad.scrollIntoViewIfNeeded();
    const box = (await pad.boundingBox())!;
    const cell = box.width / 28;
    // One stroke per horizontal run of ink in each row of the digit, as a pen would fill it in.
    for (let y = 0; y < 28; y++) {
      let x = 0;
      while (x < 28) {
        if (digit[y * 28 + x] < 128) {
          x++;
          continue;
        }
        const start = x;
        while (x < 28 && digit[y * 28 + x] >= 128) x++;
        const cy = box.y + (y + 0.5) * cell;
        await page.mouse.move(box.x + (start + 0.5) * cell, cy);
        await page.mouse.down();
        await page.mouse.move(box.x + (x - 0.5) * cell, cy, { steps: Math.max(2, x - start) });
        await page.mouse.up();
      }
    }
    await page.waitForSelector('#prediction[data-state="done"]', { timeout: 20_000 });
    expect(await page.$eval("#prediction", (e) => (e as HTMLElement).dataset.digit)).toBe(String(label));
    // the 28×28 input shown has ink, and ten probabilities summing to 1 are listed
    const ink = await page.$eval("#input28", (c) => {
      const d = (c as HTMLCanvasElement).getContext("2d")!.getImageData(0, 0, 28, 28).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 128) n++;
      return n;
    });
    expect(ink).toBeGreaterThan(40);
    const probs = await page.$$eval("#probs span[data-digit]", (els) => els.map((e) => Number(e.textContent)));
    expect(probs).toHaveLength(10);
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 2);
    expect(probs.indexOf(Math.max(...probs))).toBe(label);
    await page.screenshot({ path: path.join(shots, "4-draw.png"), fullPage: true });

    expect(pageErrors).toEqual([]);
    expect(foreign).toEqual([]);
  });
}
