/**
 * The hyperparameters that shaped a run, out of everything its record holds: Adam's betas only
 * when it trained with Adam, the step schedule's settings only with that schedule, and so on. The
 * record itself keeps every field (a --config that repeats the run); this is for people reading it.
 */
import type { Hyperparameters } from "./hyperparameters.js";

type Key = keyof Hyperparameters;

/** When each conditional setting has an effect; every other field applies whenever it is set. */
const APPLIES_WHEN: Partial<Record<Key, (hp: Partial<Hyperparameters>) => boolean>> = {
  weightInitStd: (hp) => (hp.init ?? "std") === "std",
  momentum: (hp) => hp.optimizer === "momentum" || hp.optimizer === "nesterov",
  rmsDecay: (hp) => hp.optimizer === "rmsprop",
  beta1: (hp) => hp.optimizer === "adam",
  beta2: (hp) => hp.optimizer === "adam",
  adadeltaRho: (hp) => hp.optimizer === "adadelta",
  weightDecay: (hp) => (hp.weightDecay ?? 0) > 0,
  // a layer list declares the net itself: the fully connected shorthand's settings do not apply
  hiddenSize: (hp) => hp.layers === undefined,
  activation: (hp) => hp.layers === undefined,
  dropout: (hp) => hp.layers === undefined && (hp.dropout ?? 0) > 0,
  lrStepEpochs: (hp) => hp.lrSchedule === "step",
  lrGamma: (hp) => hp.lrSchedule === "step",
  augment: (hp) => hp.augment === true,
  augmentShift: (hp) => hp.augment === true,
  augmentRotate: (hp) => hp.augment === true,
  augmentScale: (hp) => hp.augment === true,
};

export function appliedHyperparameters(hp: Record<string, unknown>): Record<string, unknown> {
  const typed = hp as Partial<Hyperparameters>;
  return Object.fromEntries(Object.entries(hp).filter(([k, v]) => v !== undefined && (APPLIES_WHEN[k as Key]?.(typed) ?? true)));
}
