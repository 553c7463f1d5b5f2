/**
 * checkpoint.json: the state of an interrupted (or periodically saved) run, enough to continue it
 * bit for bit: parameters (float64, exact in JSON), the RNG state, the iteration and evaluation
 * counters and the elapsed time. The sha256 of the run's config.json is recorded too, so a
 * resumed run can check that the options it reads are the ones the checkpoint was made with.
 */
import { z } from "zod";
import type { TrainState } from "./trainer.js";

export const CHECKPOINT_FORMAT = "mnist-ts.checkpoint";
export const CHECKPOINT_VERSION = 1;
/** Largest checkpoint accepted: a 784-50-10 net is under 1 MB; a 784-5000-10 one about 90 MB. */
export const MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024;

const finite = z.number({ error: "must hold only finite numbers" }).finite({ error: "must hold only finite numbers" });
const count = z.number().int().min(0).max(1e9);
const uint32 = z.number().int().min(0).max(2 ** 32 - 1);
/** NaN (nothing measured yet) is stored as null. */
const maybeNumber = z.number().finite().nullable();

export const CheckpointSchema = z.strictObject({
  format: z.literal(CHECKPOINT_FORMAT, { error: `must be "${CHECKPOINT_FORMAT}"` }),
  version: z.literal(CHECKPOINT_VERSION, { error: `must be ${CHECKPOINT_VERSION} (this mnist-ts reads version ${CHECKPOINT_VERSION})` }),
  /** sha256 of the run's config.json, as written when the run started. */
  configSha256: z.string().regex(/^[0-9a-f]{64}$/, { error: "must be a sha256 in hex" }),
  iteration: count,
  epoch: count,
  evaluatedAt: z.number().int().min(-1).max(1e9),
  finalLoss: maybeNumber,
  trainAccuracy: maybeNumber,
  testAccuracy: maybeNumber,
  elapsedS: z.number().finite().min(0),
  rng: z.strictObject({
    s: z
      .array(uint32)
      .length(4)
      .refine((s) => s.some((w) => w !== 0), { error: "must not be all zero" }),
    spareNormal: finite.nullable(),
  }),
  params: z.strictObject({ W1: z.array(finite), b1: z.array(finite), W2: z.array(finite), b2: z.array(finite) }),
  createdAt: z.string(),
});
export type CheckpointJson = z.output<typeof CheckpointSchema>;

const orNull = (v: number) => (Number.isFinite(v) ? v : null);
const orNaN = (v: number | null) => (v === null ? Number.NaN : v);

export function toCheckpointJson(state: TrainState, configSha256: string, createdAt = new Date()): CheckpointJson {
  return {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    configSha256,
    iteration: state.iteration,
    epoch: state.epoch,
    evaluatedAt: state.evaluatedAt,
    finalLoss: orNull(state.finalLoss),
    trainAccuracy: orNull(state.trainAccuracy),
    testAccuracy: orNull(state.testAccuracy),
    elapsedS: state.elapsedS,
    rng: { s: [...state.rng.s], spareNormal: state.rng.spareNormal },
    params: { W1: Array.from(state.params.W1), b1: Array.from(state.params.b1), W2: Array.from(state.params.W2), b2: Array.from(state.params.b2) },
    createdAt: createdAt.toISOString(),
  };
}

/**
 * The trainer state of a validated checkpoint, after checking its parameter counts against the
 * network the run's options describe. Returns a message instead when they do not match.
 */
export function stateFromCheckpoint(c: CheckpointJson, sizes: { inputSize: number; hiddenSize: number; outputSize: number }): TrainState | string {
  const { inputSize: I, hiddenSize: H, outputSize: O } = sizes;
  const want = { W1: I * H, b1: H, W2: H * O, b2: O };
  for (const [name, n] of Object.entries(want) as [keyof typeof want, number][]) {
    if (c.params[name].length !== n) return `"params.${name}" has ${c.params[name].length} values, expected ${n} for a ${I}-${H}-${O} net`;
  }
  return {
    iteration: c.iteration,
    epoch: c.epoch,
    evaluatedAt: c.evaluatedAt,
    finalLoss: orNaN(c.finalLoss),
    trainAccuracy: orNaN(c.trainAccuracy),
    testAccuracy: orNaN(c.testAccuracy),
    elapsedS: c.elapsedS,
    rng: { s: c.rng.s, spareNormal: c.rng.spareNormal },
    params: {
      W1: Float64Array.from(c.params.W1),
      b1: Float64Array.from(c.params.b1),
      W2: Float64Array.from(c.params.W2),
      b2: Float64Array.from(c.params.b2),
    },
  };
}
