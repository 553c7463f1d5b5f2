/**
 * The book's two figures for a run, as one SVG: the loss per iteration (Fig. 4-11, raw and
 * smoothed) beside the train/test accuracy per epoch (Fig. 4-12, train solid, test dashed), titled
 * with the hyperparameters. Pure: run data → Vega-Lite spec → SVG string (Vega renders headless,
 * no canvas or browser). The overlay of several runs for mnist-report is built the same way.
 */
import { createRequire } from "node:module";
import type { TopLevelSpec } from "vega-lite";
import type { EpochPoint, LossPoint, RunData } from "./run-data.js";

/** Raw loss points drawn at most (10,000 iterations → every 10th): keeps curves.svg small. */
export const MAX_RAW_POINTS = 1000;
/** Moving-average window of the smoothed loss, in iterations. */
export const SMOOTH_WINDOW = 100;

export const SERIES = { train: "train", test: "test" } as const;

/** Trailing moving average over `window` points (shorter at the start); NaN points are skipped. */
export function movingAverage(values: number[], window: number): number[] {
  const out = new Array<number>(values.length);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) {
      sum += values[i];
      count++;
    }
    const j = i - window;
    if (j >= 0 && Number.isFinite(values[j])) {
      sum -= values[j];
      count--;
    }
    out[i] = count > 0 ? sum / count : Number.NaN;
  }
  return out;
}

export interface LossSeries {
  rows: { iteration: number; loss: number | null; series: string }[];
  rawLabel: string;
  smoothLabel: string;
  stride: number;
}

/** Raw loss (every `stride`-th iteration when there are many) and its moving average, long form. */
export function lossSeries(loss: LossPoint[], maxRaw = MAX_RAW_POINTS, window = SMOOTH_WINDOW): LossSeries {
  const stride = Math.max(1, Math.ceil(loss.length / maxRaw));
  const rawLabel = stride === 1 ? "loss (every iteration)" : `loss (1 in ${stride} iterations)`;
  const smoothLabel = `moving average (${window} iterations)`;
  const smooth = movingAverage(
    loss.map((p) => p.loss),
    window,
  );
  const rows: LossSeries["rows"] = [];
  const finite = (v: number) => (Number.isFinite(v) ? v : null);
  for (let i = 0; i < loss.length; i += stride) rows.push({ iteration: loss[i].iteration, loss: finite(loss[i].loss), series: rawLabel });
  for (let i = 0; i < loss.length; i += stride) rows.push({ iteration: loss[i].iteration, loss: finite(smooth[i]), series: smoothLabel });
  // Always end on the last iteration, so the curve reaches the final loss.
  const last = loss.length - 1;
  if (last >= 0 && last % stride !== 0) {
    rows.push({ iteration: loss[last].iteration, loss: finite(loss[last].loss), series: rawLabel });
    rows.push({ iteration: loss[last].iteration, loss: finite(smooth[last]), series: smoothLabel });
  }
  return { rows, rawLabel, smoothLabel, stride };
}

/** Accuracy per epoch, long form: x = the epochs completed at each evaluation, as recorded. */
export function accuracySeries(epochs: EpochPoint[], run?: string) {
  return epochs.flatMap((e) => {
    const epoch = round(e.epoch, 4);
    return [
      { epoch, accuracy: e.trainAccuracy, split: SERIES.train, ...(run ? { run } : {}) },
      { epoch, accuracy: e.testAccuracy, split: SERIES.test, ...(run ? { run } : {}) },
    ];
  });
}

/** "lr 0.1 · hidden 50 · batch 100 · 10000 iterations · seed 1" (and the subsets, when limited; "layers conv 30 5x5, …" for a layer net). */
export function hyperparameterTitle(config: Record<string, unknown>): string {
  const parts = [
    `lr ${config.lr ?? "?"}`,
    typeof config.layers === "string" ? `layers ${config.layers}` : `hidden ${config.hiddenSize ?? "?"}`,
    `batch ${config.batchSize ?? "?"}`,
    `${config.iters ?? "?"} iterations`,
    `seed ${config.seed ?? "?"}`,
  ];
  if (config.grad && config.grad !== "analytic") parts.push(`${config.grad} gradient`);
  if (config.trainLimit !== undefined) parts.push(`${config.trainLimit} train images`);
  if (config.testLimit !== undefined) parts.push(`${config.testLimit} test images`);
  return parts.join(" · ");
}

const WIDTH = 360;
const HEIGHT = 240;
const DASH = { domain: [SERIES.train, SERIES.test], range: [[1, 0], [6, 4]] };

/**
 * What a viewer may change (mnist-board's controls); the defaults draw curves.svg. `smoothWindow`:
 * the moving average's window in iterations (1 = none); `lossX`: the loss chart's x axis.
 */
export interface CurveOptions {
  smoothWindow?: number;
  lossX?: "iteration" | "epoch";
}

/** The loss chart's x encoding, and the transform that makes epochs of iterations when asked. */
function lossAxis(options: CurveOptions, perEpoch: number | null) {
  if (options.lossX !== "epoch") return { transform: [], x: { field: "iteration", type: "quantitative", title: "iteration" } };
  return {
    // Overlaid runs bring their own epoch column (their epochs may differ in length).
    transform: perEpoch === null ? [] : [{ calculate: `(datum.iteration + 1) / ${perEpoch}`, as: "epoch" }],
    x: { field: "epoch", type: "quantitative", title: perEpoch === null ? "epochs" : `epochs (${perEpoch} iterations each)` },
  };
}

export function curvesSpec(run: RunData, options: CurveOptions = {}): TopLevelSpec {
  const loss = lossSeries(run.loss, MAX_RAW_POINTS, options.smoothWindow ?? SMOOTH_WINDOW);
  const perEpoch = run.itersPerEpoch;
  const axis = lossAxis(options, perEpoch);
  const s = run.summary;
  const results = [
    s.finalLoss !== null ? `final loss ${s.finalLoss.toFixed(4)}` : null,
    s.trainAccuracy !== null ? `train ${s.trainAccuracy.toFixed(4)}` : null,
    s.testAccuracy !== null ? `test ${s.testAccuracy.toFixed(4)}` : null,
    run.complete ? null : "incomplete run",
  ].filter((x): x is string => x !== null);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: hyperparameterTitle(run.config), subtitle: results.join(" · "), anchor: "start" },
    background: "white",
    padding: 12,
    hconcat: [
      {
        title: "Loss per iteration",
        width: WIDTH,
        height: HEIGHT,
        data: { values: loss.rows },
        ...(axis.transform.length > 0 ? { transform: axis.transform } : {}),
        mark: { type: "line", strokeWidth: 1.5, clip: true },
        encoding: {
          x: axis.x,
          y: { field: "loss", type: "quantitative", title: "loss", scale: { zero: true } },
          color: {
            field: "series",
            type: "nominal",
            title: null,
            scale: { domain: [loss.rawLabel, loss.smoothLabel], range: ["#9ecae1", "#08519c"] },
            legend: { orient: "top-right", labelLimit: 400 },
          },
          order: { field: "series", sort: "descending" },
        },
      },
      {
        title: "Accuracy per epoch",
        width: WIDTH,
        height: HEIGHT,
        data: { values: accuracySeries(run.epochs) },
        mark: { type: "line", point: true, strokeWidth: 2 },
        encoding: {
          x: { field: "epoch", type: "quantitative", title: `epochs (${perEpoch} iterations each)` },
          y: { field: "accuracy", type: "quantitative", title: "accuracy", scale: { domain: [0, 1] } },
          color: { field: "split", type: "nominal", title: null, scale: { domain: DASH.domain, range: ["#1f77b4", "#ff7f0e"] }, legend: { orient: "bottom-right" } },
          strokeDash: { field: "split", type: "nominal", title: null, scale: DASH, legend: null },
        },
      },
    ],
    resolve: { scale: { color: "independent" }, legend: { color: "independent" } },
  } as TopLevelSpec;
}

/** Several runs on the same axes: smoothed loss per run, and accuracy per epoch (train solid, test dashed). */
export function overlaySpec(runs: { label: string; run: RunData }[], options: CurveOptions = {}): TopLevelSpec {
  const window = options.smoothWindow ?? SMOOTH_WINDOW;
  const lossRows = runs.flatMap(({ label, run }) => {
    const perEpoch = run.itersPerEpoch;
    return lossSeries(run.loss, MAX_RAW_POINTS, window)
      .rows.filter((r) => !r.series.startsWith("loss"))
      .map((r) => ({ iteration: r.iteration, loss: r.loss, run: label, ...(options.lossX === "epoch" ? { epoch: round((r.iteration + 1) / perEpoch, 4) } : {}) }));
  });
  const axis = lossAxis(options, null);
  const accRows = runs.flatMap(({ label, run }) => accuracySeries(run.epochs, label));
  const order = runs.map((r) => r.label);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: `${runs.length} runs`, subtitle: `loss: ${window > 1 ? `moving average over ${window} iterations` : "every iteration"} · accuracy: train solid, test dashed`, anchor: "start" },
    background: "white",
    padding: 12,
    hconcat: [
      {
        title: "Loss per iteration (smoothed)",
        width: WIDTH,
        height: HEIGHT,
        data: { values: lossRows },
        mark: { type: "line", strokeWidth: 1.5, clip: true },
        encoding: {
          x: options.lossX === "epoch" ? axis.x : { field: "iteration", type: "quantitative" },
          y: { field: "loss", type: "quantitative", scale: { zero: true } },
          color: { field: "run", type: "nominal", scale: { domain: order } },
        },
      },
      {
        title: "Accuracy per epoch",
        width: WIDTH,
        height: HEIGHT,
        data: { values: accRows },
        mark: { type: "line", strokeWidth: 1.5 },
        encoding: {
          x: { field: "epoch", type: "quantitative", title: "epochs" },
          y: { field: "accuracy", type: "quantitative", scale: { domain: [0, 1] } },
          color: { field: "run", type: "nominal", scale: { domain: order } },
          strokeDash: { field: "split", type: "nominal", title: null, scale: DASH },
          detail: { field: "split" },
        },
      },
    ],
    resolve: { scale: { color: "shared" } },
  } as TopLevelSpec;
}

/** Render a Vega-Lite spec to an SVG string, headless (Vega's "none" renderer, no canvas needed). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded on demand: vega is large and only the commands that draw need it. By require: its
  // CommonJS builds load in a third of the time that import() takes (which first scans each file
  // for its exports), ≈ 0.15 s off every run's end.
  const require = createRequire(import.meta.url);
  const vega = require("vega") as typeof import("vega");
  const vl = require("vega-lite") as typeof import("vega-lite");
  // Vega-Lite would print its warnings on stdout; a chart's stdout belongs to the command's results.
  const quiet = { level: () => quiet, error: (...a: unknown[]) => { throw new Error(a.join(" ")); }, warn: () => quiet, info: () => quiet, debug: () => quiet };
  const compiled = vl.compile(spec, { logger: quiet as never }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function curvesSvg(run: RunData): Promise<string> {
  return renderSvg(curvesSpec(run));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
