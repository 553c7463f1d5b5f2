/**
 * The layers of src/, bottom up; an import may only go down (or stay in its own folder). The order
 * is the data flow: the book's math → data → reference nets → engine → training → run folder →
 * reports / export → the board (a web server) → the CLI, which composes them all → the package's index.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

const LAYERS: string[][] = [
  ["book"],
  ["errors.ts"],
  ["io"],
  ["data", "image"],
  ["reference"],
  ["engine"],
  ["train"],
  ["run"],
  ["report", "export"],
  ["board"],
  ["cli"],
  ["index.ts"],
];

const root = resolve(__dirname, "../..", "src");
const levelOf = (unit: string) => LAYERS.findIndex((l) => l.includes(unit));
const unitOf = (file: string) => relative(root, file).split(sep)[0];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : /\.ts$/.test(n) ? [p] : [];
  });
}

/** Imports of `file` (with its text) that go up a layer or sideways. */
function violations(file: string, text: string): string[] {
  const from = unitOf(file);
  const bad: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^;]*?from\s*["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g)) {
    const to = unitOf(resolve(dirname(file), (m[1] ?? m[2]).replace(/\.js$/, ".ts")));
    if (to !== from && levelOf(to) >= levelOf(from)) bad.push(`${relative(root, file)} imports ${m[1] ?? m[2]}`);
  }
  return bad;
}

describe("architecture", () => {
  const files = sourceFiles(root);

  it("every file of src/ belongs to a layer", () => {
    const unknown = [...new Set(files.map(unitOf))].filter((u) => levelOf(u) < 0);
    expect(unknown).toEqual([]);
  });

  it("no import goes up a layer or sideways into another folder of the same layer", () => {
    expect(files.flatMap((f) => violations(f, readFileSync(f, "utf8")))).toEqual([]);
  });

  it("the check flags an upward and a sideways import, and passes a downward one", () => {
    const book = join(root, "book", "x.ts");
    expect(violations(book, 'import { train } from "../train/trainer.js";')).toHaveLength(1);
    expect(violations(join(root, "report", "x.ts"), 'export { a } from "../export/onnx.js";')).toHaveLength(1);
    expect(violations(join(root, "cli", "x.ts"), 'import type { A } from "../engine/network.js";\nimport { b } from "./y.js";')).toEqual([]);
    expect(violations(book, 'const m = await import("../engine/wasm.js");')).toHaveLength(1);
  });
});
