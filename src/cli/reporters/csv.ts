/**
 * loss.csv (`iteration,loss`) and epochs.csv (`epoch,iteration,train_acc,test_acc,elapsed_s`),
 * streamed while training: rows are buffered briefly and appended with synchronous writes, so
 * whatever was trained is on disk when the process stops, even on a signal.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import path from "node:path";
import type { EpochEvent, IterationEvent, TrainListener } from "../../train/trainer.js";

class CsvStream {
  private fd: number;
  private pending: string[] = [];
  constructor(file: string, header: string) {
    this.fd = openSync(file, "w");
    writeSync(this.fd, header + "\n");
  }
  row(line: string): void {
    this.pending.push(line);
    if (this.pending.length >= 500) this.flush();
  }
  flush(): void {
    if (this.pending.length === 0 || this.fd < 0) return;
    writeSync(this.fd, this.pending.join("\n") + "\n");
    this.pending = [];
  }
  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}

export class CsvReporter implements TrainListener {
  private loss: CsvStream;
  private epochs: CsvStream;
  private lastFlush = Date.now();

  constructor(runDir: string) {
    this.loss = new CsvStream(path.join(runDir, "loss.csv"), "iteration,loss");
    this.epochs = new CsvStream(path.join(runDir, "epochs.csv"), "epoch,iteration,train_acc,test_acc,elapsed_s");
  }

  iteration(e: IterationEvent): void {
    this.loss.row(`${e.iteration},${e.loss}`);
    // Keep the file current for `tail -f` without a write per iteration.
    if (Date.now() - this.lastFlush > 1000) this.flush();
  }

  epoch(e: EpochEvent): void {
    this.epochs.row(`${e.epoch},${e.iteration},${e.trainAccuracy},${e.testAccuracy},${e.elapsedS.toFixed(3)}`);
    this.flush();
  }

  done(): void {
    this.close();
  }

  flush(): void {
    this.loss.flush();
    this.epochs.flush();
    this.lastFlush = Date.now();
  }

  close(): void {
    this.loss.close();
    this.epochs.close();
  }
}
