/** mnist-eval --show-errors N: the first N misclassified test digits, drawn side by side with their labels. */
import { UsageError } from "../errors.js";
import type { MnistSplit } from "../data/mnist.js";
import { digitArt, sideBySide } from "../image/digit-art.js";

export function parseShowErrors(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`--show-errors must be a whole number (got ${JSON.stringify(text)})`);
  return Number(text);
}

export function formatErrors(split: MnistSplit, predicted: Int32Array, n: number, width = 80): string {
  const D = split.rows * split.cols;
  const blocks: { caption: string; lines: string[] }[] = [];
  let total = 0;
  for (let i = 0; i < predicted.length; i++) {
    if (predicted[i] === split.labels[i]) continue;
    total++;
    if (blocks.length < n) {
      blocks.push({ caption: `#${i} true ${split.labels[i]} → predicted ${predicted[i]}`, lines: digitArt(split.images.subarray(i * D, (i + 1) * D), split.cols, "compact") });
    }
  }
  const head = `\nmisclassified: ${total} of ${predicted.length}; the first ${blocks.length} (test image #, true label → predicted)\n\n`;
  return head + sideBySide(blocks, width);
}
