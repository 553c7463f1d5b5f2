// Assembles the WebAssembly kernels (wasm/kernels.wat.js) into dist/wasm/ with wabt's wat2wasm.
// Without the `wabt` devDependency it says so and exits 0: the float64 reference path still works,
// and the fast path reports that the kernels are missing.
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { kernelsWat } from "../wasm/kernels.wat.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "dist", "wasm");
let wabtFactory;
try {
  wabtFactory = createRequire(import.meta.url)("wabt");
} catch {
  console.warn("build-wasm: the `wabt` devDependency is not installed; WebAssembly kernels not built");
  process.exit(0);
}
const wabt = await wabtFactory();
mkdirSync(outDir, { recursive: true });
for (const type of ["f32", "f64"]) {
  const text = kernelsWat(type);
  writeFileSync(join(outDir, `kernels-${type}.wat`), text);
  const mod = wabt.parseWat(`kernels-${type}.wat`, text, { simd: true, threads: true });
  // validated by the engine that runs it: wabt's own validator (1.0.39) rejects shared memories
  // even with its threads feature on
  const { buffer } = mod.toBinary({});
  new WebAssembly.Module(buffer);
  writeFileSync(join(outDir, `kernels-${type}.wasm`), buffer);
  mod.destroy();
}
console.log(`build-wasm: dist/wasm/kernels-f32.wasm, kernels-f64.wasm`);
