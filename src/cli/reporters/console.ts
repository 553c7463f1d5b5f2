/**
 * Human logs on stderr: one line per evaluation (`epoch 3.00  train 0.9051  test 0.9093  loss 0.3093`), and on a
 * TTY a cli-progress bar (iteration, it/s, current loss, ETA). Piped, plain lines and no ANSI codes.
 */
import cliProgress from "cli-progress";
import type { ChalkInstance } from "chalk";
import type { EpochEvent, IterationEvent, TrainListener } from "../../train/trainer.js";

export interface ConsoleReporterOptions {
  chalk: ChalkInstance;
  /** Draw the progress bar (stderr is a TTY and not --quiet). */
  progress: boolean;
  stream?: NodeJS.WriteStream;
}

export class ConsoleReporter implements TrainListener {
  private readonly chalk: ChalkInstance;
  private readonly stream: NodeJS.WriteStream;
  private bars?: cliProgress.MultiBar;
  private bar?: cliProgress.SingleBar;
  private total = 0;
  private startedAt = 0;
  private lastDraw = 0;
  /** The latest iteration's loss, for the evaluation lines (the trainer emits it before the evaluation). */
  private loss = Number.NaN;

  constructor(options: ConsoleReporterOptions) {
    this.chalk = options.chalk;
    this.stream = options.stream ?? process.stderr;
    if (options.progress) {
      this.bars = new cliProgress.MultiBar(
        {
          stream: this.stream,
          format: "{bar} {value}/{total} | {speed} it/s | loss {loss} | ETA {eta_formatted}",
          barsize: 30,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 200,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  start(e: { totalIterations: number }): void {
    this.total = e.totalIterations;
    this.startedAt = performance.now();
    this.bar = this.bars?.create(e.totalIterations, 0, { speed: "0", loss: "-" });
  }

  iteration(e: IterationEvent): void {
    this.loss = e.loss;
    if (!this.bar) return;
    const now = performance.now();
    if (now - this.lastDraw < 100 && e.iteration + 1 < this.total) return;
    this.lastDraw = now;
    const speed = (e.iteration + 1) / Math.max((now - this.startedAt) / 1000, 1e-9);
    this.bar.update(e.iteration + 1, { speed: speed >= 100 ? speed.toFixed(0) : speed.toPrecision(3), loss: e.loss.toFixed(4) });
  }

  epoch(e: EpochEvent): void {
    const c = this.chalk;
    const val = e.valAccuracy !== undefined ? `  val ${c.yellow(e.valAccuracy.toFixed(4))}` : "";
    this.log(
      `${c.bold(`epoch ${e.epoch.toFixed(2)}`)}  train ${c.green(e.trainAccuracy.toFixed(4))}  test ${c.cyan(e.testAccuracy.toFixed(4))}${val}  loss ${this.loss.toFixed(4)}  ` +
        c.dim(`(iteration ${e.iteration}, evaluation ${e.evaluation}, ${e.elapsedS.toFixed(1)} s)`),
    );
  }

  done(): void {
    this.stop();
  }

  /** A line above the bar (or plain when there is none). */
  log(line: string): void {
    if (this.bars) this.bars.log(line + "\n");
    else this.stream.write(line + "\n");
  }

  stop(): void {
    // MultiBar writes logged lines on its next render: render once more so none is lost.
    this.bars?.update();
    this.bars?.stop();
    this.bars = undefined;
    this.bar = undefined;
  }
}
