/** Learning-rate schedules: the rate of each iteration, from the run's settings. */
export const LR_SCHEDULES = ["constant", "step", "cosine"] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];

/**
 * Learning rate of iteration i (0-based) of `total`: constant; step: lr × γ^floor(i / stepIters);
 * cosine: lr × ½ (1 + cos(π i / total)).
 */
export function scheduledLr(schedule: LrSchedule, lr: number, i: number, total: number, stepIters: number, gamma: number): number {
  if (schedule === "step") return lr * gamma ** Math.floor(i / Math.max(stepIters, 1));
  if (schedule === "cosine") return lr * 0.5 * (1 + Math.cos((Math.PI * i) / Math.max(total, 1)));
  return lr;
}
