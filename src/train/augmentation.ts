/**
 * Data augmentation in the training loop (`augment`): each training batch is replaced by copies
 * of its images, each randomly shifted, rotated and scaled (src/data/augment.ts), made afresh for
 * every batch. The step, and the book's loss pass after it, see that copy: its bytes
 * [n × 784] with indices 0 … n − 1 and its labels gathered alongside. Nothing else is augmented:
 * the accuracy passes read the splits themselves.
 *
 * Seeding. Batch i's transforms come from a generator of their own, whose state is a function of
 * (the run's seed, i) and of nothing else (augmentState). Why not draw them from the run's
 * generator: that would move every later minibatch and dropout draw, so the run with augmentation
 * would no longer share its minibatches with the run without, and the generator's stream, which
 * checkpoints and the loss pipeline's undo handle, would change meaning with a flag. Why not one
 * more running generator: its state would have to go into checkpoint.json and be restored in step
 * with the rest. Keyed by (seed, iteration), a run resumed at iteration i draws exactly what the
 * uninterrupted run drew there with nothing new stored, a run without augmentation draws exactly
 * what it drew before, and the thread count cannot enter.
 */
import { Rng, type RngState } from "../book/rng.js";
import { augmentBatch, checkBounds, IMAGE_PIXELS, IMAGE_SIDE, type AugmentBounds } from "../data/augment.js";
import type { MnistSplit } from "../data/mnist.js";

/** A batch to step on instead of the training split's rows: its own images, as a split, and the indices 0 … n − 1. */
export interface Batch {
  split: MnistSplit;
  indices: Int32Array;
}

/** Four different odd constants (the golden ratio's and murmur3's), one per word of the state: no other stream starts from them. */
const WORD_KEYS = [0x9e3779b9, 0x85ebca6b, 0xc2b2ae35, 0x27d4eb2f];

/** murmur3's finalizer: a bijection of the uint32s that mixes every bit into every other. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The state of the augmentation generator of batch `iteration` in the run seeded `seed`. Each of
 * the four words hashes (seed, iteration) from its own key, by XOR and fmix32 only, so for a given
 * seed each word is a one-to-one function of the iteration: no two batches of a run share a word.
 */
export function augmentState(seed: number, iteration: number): RngState {
  const parts = [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0, Math.floor(iteration / 2 ** 32) >>> 0, iteration >>> 0];
  const s = WORD_KEYS.map((key) => parts.reduce((h, part) => fmix32(h ^ part), key));
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  return { s, spareNormal: null };
}

/** Makes each batch's augmented copy, in buffers reused from batch to batch. */
export class BatchAugmenter {
  private readonly rng = new Rng(0);
  private readonly out: Batch;

  constructor(
    private readonly train: MnistSplit,
    batchSize: number,
    private readonly seed: number,
    private readonly bounds: AugmentBounds,
  ) {
    if (train.rows !== IMAGE_SIDE || train.cols !== IMAGE_SIDE) {
      throw new RangeError(`augment: the images are ${train.rows}×${train.cols}; augmentation is for ${IMAGE_SIDE}×${IMAGE_SIDE} images`);
    }
    checkBounds(bounds);
    const split = { count: batchSize, rows: IMAGE_SIDE, cols: IMAGE_SIDE, images: new Uint8Array(batchSize * IMAGE_PIXELS), labels: new Uint8Array(batchSize) };
    this.out = { split, indices: Int32Array.from({ length: batchSize }, (_, r) => r) };
  }

  /** Iteration `iteration`'s batch: the training images at `indices`, each under its own transform, with their labels. */
  batch(iteration: number, indices: Int32Array): Batch {
    const { split } = this.out;
    if (indices.length !== split.count) throw new RangeError(`augment: a batch of ${indices.length} images, expected ${split.count}`);
    this.rng.setState(augmentState(this.seed, iteration));
    augmentBatch(this.train.images, indices, split.images, this.rng, this.bounds);
    for (let r = 0; r < indices.length; r++) split.labels[r] = this.train.labels[indices[r]];
    return this.out;
  }
}
