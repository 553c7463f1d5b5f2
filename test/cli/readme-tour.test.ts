// The README's tour as a newcomer types it, in a scratch folder: every `$` command runs, and every
// output line the README shows comes out, in order (wall times aside). The Ctrl-C step is done
// with a SIGINT after the first evaluation line, then --resume must finish the run.
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { ROOT, runProcess, tempDir, type RunResult } from "../helpers.js";

const tmp = tempDir("mnist-ts-tour-");
afterAll(() => tmp.cleanup());

interface Step {
  command: string;
  expected: string[];
}

/** The `$ command` lines of the README's tour, each with the output lines shown under it. */
function tourSteps(): Step[] {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const steps: Step[] = [];
  let inBlock = false;
  let current: Step | undefined;
  for (const line of readme.split("\n")) {
    if (line.startsWith("```")) {
      inBlock = !inBlock;
      current = undefined;
    } else if (inBlock && line.startsWith("$ ")) {
      current = { command: line.slice(2), expected: [] };
      steps.push(current);
    } else if (inBlock && current && line.trim() !== "" && line.trim() !== "…") current.expected.push(line);
  }
  return steps;
}

/** Wall-clock figures differ from run to run: mask them, and the run counts of an interruption. */
function normalize(line: string): string {
  return line
    .trimEnd()
    .replace(/\d+\.\d+ s\b/g, "# s")
    .replace(/interrupted after \d+ iterations/, "interrupted after # iterations")
    .replace(/^(\d+\s+runs\/.*\S)\s+\d+\.\d$/, "$1");
}

/** Each expected line appears in the output, in this order. */
function expectInOrder(output: string, expected: string[], command: string): void {
  const lines = output.split("\n").map(normalize);
  let at = 0;
  for (const want of expected.map(normalize)) {
    const found = lines.indexOf(want, at);
    expect(found, `"${want}" in the output of ${command}:\n${output}`).toBeGreaterThanOrEqual(0);
    at = found + 1;
  }
}

/** `npx mnist-x` here is this repository's bin, as after `npm install`. */
function shims(dir: string): string {
  const bin = path.join(dir, ".bin");
  mkdirSync(bin);
  for (const name of Object.keys(JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).bin)) {
    writeFileSync(path.join(bin, name), `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, "bin", name)}.js" "$@"\n`);
    chmodSync(path.join(bin, name), 0o755);
  }
  return bin;
}

/** Run until the first evaluation line, then Ctrl-C. */
function interruptAfterFirstEvaluation(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", `exec ${command.replace(/#.*$/, "")}`], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let sent = false;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => {
      stderr += d;
      if (!sent && /^epoch /m.test(stderr)) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

it("the README's tour runs as shown", async () => {
  const steps = tourSteps();
  expect(steps.map((s) => s.command.split(" ")[1] ?? s.command)).toContain("mnist-predict");
  expect(steps.length).toBeGreaterThanOrEqual(6);
  // the output the README shows: the training lines, eval's two accuracies, the prediction, the table, the interruption
  expect(steps.flatMap((s) => s.expected).length).toBeGreaterThan(15);
  const dir = tmp.dir;
  // the scratch folder stands for the clone: its configs, examples and bins, a runs/ of its own
  for (const f of ["configs", "examples", "bin"]) symlinkSync(path.join(ROOT, f), path.join(dir, f));
  const env = { ...process.env, PATH: `${shims(dir)}:${process.env.PATH}`, NO_COLOR: "1" };
  for (const step of steps) {
    const command = step.command.replace(/^npx /, "");
    const interrupt = /Ctrl-C/.test(step.command);
    const r = interrupt ? await interruptAfterFirstEvaluation(command, dir, env) : await runProcess("bash", ["-c", command], { cwd: dir, env });
    expect(r.code, `${step.command}\n${r.stderr}`).toBe(interrupt ? 130 : 0);
    expectInOrder(r.stdout + r.stderr, step.expected, step.command);
  }
}, 900_000);
