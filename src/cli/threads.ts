/** --threads <n>: worker threads for the fast numerical gradient (not a hyperparameter: results do not depend on it). */
import { UsageError } from "../errors.js";

export const MAX_THREADS = 256;

export function parseThreads(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) throw new UsageError(`--threads must be a whole number from 1 to ${MAX_THREADS} (got "${value}")`);
  return n;
}
