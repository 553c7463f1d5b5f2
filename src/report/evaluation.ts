/** What mnist-eval (and the board's model view) report of a model on the test images. */
import type { ModelJson } from "../run/model-json.js";


export interface EvalReport {
  model: string;
  testAccuracy: number;
  count: number;
  /** perClass[k]: accuracy on the test images whose label is k (null when there are none). */
  perClass: (number | null)[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** Everything the model records about its training (--json); the text lists those that applied. */
  hyperparameters: unknown;
  /** The test accuracy mnist-train measured, and on how many test images (its first N). */
  recordedTestAccuracy: number | null;
  recordedCount: number | null;
}

/** `testImages`: the size of the whole test set, which a model trained without --test-limit was measured on. */
export function buildReport(modelFile: string, model: ModelJson, predicted: Int32Array, labels: Uint8Array, testImages = 10_000): EvalReport {
  const confusion = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
  let correct = 0;
  for (let i = 0; i < predicted.length; i++) {
    confusion[labels[i]][predicted[i]]++;
    if (predicted[i] === labels[i]) correct++;
  }
  const perClass = confusion.map((row, k) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? null : row[k] / total;
  });
  return {
    model: modelFile,
    testAccuracy: correct / predicted.length,
    count: predicted.length,
    perClass,
    confusion,
    hyperparameters: model.training?.hyperparameters ?? null,
    recordedTestAccuracy: model.training?.testAccuracy ?? null,
    recordedCount: model.training ? Math.min(model.training.hyperparameters.testLimit ?? testImages, testImages) : null,
  };
}
