/**
 * Loading the WebAssembly SIMD kernels (wasm/kernels.wat.js, assembled into dist/wasm/ by
 * `npm run build`): one compiled module per dtype, shared by every network that uses them.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The precisions the kernels are built in. */
export const DTYPES = ["float32", "float64"] as const;
export type Dtype = (typeof DTYPES)[number];

/** The slice of the WebAssembly JS API used here (lib ES2022 has no WebAssembly types). */
export interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const modules = new Map<Dtype, object>();

/** Where the built kernels live: dist/wasm/ of this package (from src/ or dist/). */
export function kernelsPath(dtype: Dtype): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, "..", "..", "dist", "wasm", `kernels-${dtype === "float32" ? "f32" : "f64"}.wasm`);
}

export function fastKernelsAvailable(dtype: Dtype): boolean {
  return modules.has(dtype) || existsSync(kernelsPath(dtype));
}

/**
 * The kernels' memory: shared, so that workers can run kernels on it (split.ts), and declared up to
 * wasm32's 4 GiB, the maximum the kernels' import names (a shared memory must have one; it is
 * address space, not memory, until grown).
 */
export function newKernelMemory(): WasmMemory {
  return new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
}

/**
 * An instance of the kernels for `dtype`, typed as the caller's exports: on a new memory, or on
 * `memory` (another thread's instance of the same network).
 */
export function instantiateKernels<T>(dtype: Dtype, memory: WasmMemory = newKernelMemory()): T {
  let m = modules.get(dtype);
  if (!m) {
    const path = kernelsPath(dtype);
    if (!existsSync(path)) {
      throw new Error(`the WebAssembly kernels are not built (${path} is missing): run \`npm run build\` with the wabt devDependency installed`);
    }
    m = new WebAssembly.Module(readFileSync(path));
    modules.set(dtype, m);
  }
  return new WebAssembly.Instance(m, { env: { memory } }).exports as T;
}
