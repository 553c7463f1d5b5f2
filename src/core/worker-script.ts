/**
 * The file a worker thread runs: `name` (a compiled module of src/core) beside this one, or, when
 * this runs from the TypeScript sources (tests), its compiled copy in dist/core/: worker threads
 * run JavaScript.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export function workerScript(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const js = join(here, name);
  return existsSync(js) ? js : join(here, "..", "..", "dist", "core", name);
}
