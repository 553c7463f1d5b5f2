/**
 * loss.csv (`iteration,loss`) and epochs.csv (`epoch,iteration,train_acc,test_acc,elapsed_s`),
 * streamed while training: rows are buffered briefly and appended with synchronous writes, so
 * whatever was trained is on disk when the process stops, even on a signal.
 */
import { closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import { writeFileAtomicSync } from "../io/files.js";
import { runFile } from "./layout.js";
import type { EpochEvent, IterationEvent, TrainListener } from "../train/trainer.js";

class CsvStream {
  private fd: number;
  private pending: string[] = [];
  /** `keepRows`: continue an existing file (a resumed run), keeping only the rows it accepts. */
  constructor(file: string, header: string, keepRows?: (firstField: number) => boolean) {
    if (keepRows) {
      trimCsv(file, header, keepRows);
      this.fd = openSync(file, "a");
    } else {
      this.fd = openSync(file, "w");
      writeSync(this.fd, header + "\n");
    }
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

/**
 * Rewrite `file` (atomically) with its header and only the complete rows whose first field passes
 * `keep`: after a crash, rows written after the last checkpoint, or a half-written last line, go.
 */
function trimCsv(file: string, header: string, keep: (firstField: number) => boolean): void {
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const lines = text.split("\n").slice(1, -1); // no header; the last piece is "" or a line cut short
  const rows = lines.filter((line) => {
    const first = line.split(",", 1)[0];
    return /^\d+$/.test(first) && keep(Number(first));
  });
  writeFileAtomicSync(file, [header, ...rows].join("\n") + "\n");
}

/** Where a resumed run continues: rows for iterations and evaluations before these are kept. */
export interface CsvResume {
  iteration: number;
  epoch: number;
}

export class CsvReporter implements TrainListener {
  private loss: CsvStream;
  private epochs: CsvStream;
  private lastFlush = Date.now();
  /** val.csv (`epoch,iteration,val_acc`) when the run holds out a validation set. */
  private val?: CsvStream;

  constructor(runDir: string, resume?: CsvResume, validation = false) {
    if (validation) this.val = new CsvStream(runFile(runDir, "val"), "epoch,iteration,val_acc", resume && ((e) => e < resume.epoch));
    this.loss = new CsvStream(runFile(runDir, "loss"), "iteration,loss", resume && ((i) => i < resume.iteration));
    this.epochs = new CsvStream(runFile(runDir, "epochs"), "epoch,iteration,train_acc,test_acc,elapsed_s", resume && ((e) => e < resume.epoch));
  }

  iteration(e: IterationEvent): void {
    this.loss.row(`${e.iteration},${e.loss}`);
    // Keep the file current for `tail -f` without a write per iteration.
    if (Date.now() - this.lastFlush > 1000) this.flush();
  }

  epoch(e: EpochEvent): void {
    this.epochs.row(`${e.epoch},${e.iteration},${e.trainAccuracy},${e.testAccuracy},${e.elapsedS.toFixed(3)}`);
    if (e.valAccuracy !== undefined) this.val?.row(`${e.epoch},${e.iteration},${e.valAccuracy}`);
    this.flush();
  }

  done(): void {
    this.close();
  }

  flush(): void {
    this.loss.flush();
    this.epochs.flush();
    this.val?.flush();
    this.lastFlush = Date.now();
  }

  close(): void {
    this.loss.close();
    this.epochs.close();
    this.val?.close();
  }
}
