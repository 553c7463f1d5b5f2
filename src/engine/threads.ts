/**
 * The engine's threads: one way to find a worker script and one default thread count, for the
 * worker pool (pool.ts) that evaluation, the loss pass and the numerical gradient share.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Every core the machine reports. */
export function defaultThreads(): number {
  return availableParallelism();
}

/** Path of the compiled worker `name` (e.g. "pool-worker"): beside this module in dist/, or dist/engine/ when run from src/. */
export function workerScript(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const js = join(here, `${name}.js`);
  return existsSync(js) ? js : join(here, "..", "..", "dist", "engine", `${name}.js`);
}
