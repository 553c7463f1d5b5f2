/**
 * loss.csv (`iteration,loss`), epochs.csv (`evaluation,epoch,iteration,train_acc,test_acc,elapsed_s`)
 * and val.csv (`evaluation,epoch,iteration,val_acc`), streamed while training: rows are buffered briefly and
 * appended with synchronous writes, so whatever was trained is on disk when the process stops,
 * even on a signal. A write that fails (disk full, I/O error) leaves no half row: the file is cut
 * back to its last whole row and the rows stay in memory, for the CLI to save elsewhere.
 */
import { closeSync, ftruncateSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { FileFormatError, MnistError, WriteError } from "../errors.js";
import { errorCode, writeFileAtomicSync } from "../io/files.js";
import type { EpochEvent, IterationEvent, TrainListener } from "../train/trainer.js";
import { runFile, type RunFile } from "./layout.js";

export const CSV_HEADERS = {
  loss: "iteration,loss",
  epochs: "evaluation,epoch,iteration,train_acc,test_acc,elapsed_s",
  val: "evaluation,epoch,iteration,val_acc",
} as const satisfies Partial<Record<RunFile, string>>;
export type CsvFile = keyof typeof CSV_HEADERS;

/** Append all of `text` (writeSync may write part of it). */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

class CsvStream {
  private fd = -1;
  /** Rows not yet on disk (after a failed write, every row since the last good one). */
  pending: string[] = [];
  /** The file's length after its last whole row. */
  private length = 0;
  failed?: WriteError;

  /** `keepRows`: continue an existing file (a resumed run), keeping only the rows it accepts. */
  constructor(readonly file: string, header: string, keepRows?: (firstField: number) => boolean) {
    try {
      if (keepRows) {
        trimCsv(file, header, keepRows);
        this.fd = openSync(file, "a");
        this.length = fstatSync(this.fd).size;
      } else {
        this.fd = openSync(file, "w");
        writeAll(this.fd, header + "\n");
        this.length = header.length + 1;
      }
    } catch (err) {
      if (err instanceof MnistError) throw err;
      throw new WriteError(file, errorCode(err));
    }
  }
  row(line: string): void {
    this.pending.push(line);
    if (this.pending.length >= 500 && !this.failed) this.flush();
  }
  /** Write the pending rows; on failure cut the file back to its last whole row, keep them, throw. */
  flush(): void {
    if (this.pending.length === 0 || this.fd < 0) return;
    const text = this.pending.join("\n") + "\n";
    try {
      writeAll(this.fd, text);
    } catch (err) {
      try {
        ftruncateSync(this.fd, this.length);
      } catch {
        // a half row may stay; --resume drops a last line cut short
      }
      this.failed = new WriteError(this.file, errorCode(err));
      throw this.failed;
    }
    this.length += Buffer.byteLength(text);
    this.pending = [];
  }
  close(): void {
    if (this.fd < 0) return;
    try {
      if (!this.failed) this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

const CHUNK = 1024 * 1024;

/**
 * Rewrite `file` (atomically) with its header and only the complete rows whose first field passes
 * `keep`: after a crash, rows written after the last checkpoint, or a half-written last line, go.
 * Read in chunks, so a loss.csv of any length a run can write is trimmed in bounded memory.
 */
function trimCsv(file: string, header: string, keep: (firstField: number) => boolean): void {
  const kept: string[] = [header];
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new WriteError(file, errorCode(err));
    writeFileAtomicSync(file, header + "\n");
    return;
  }
  try {
    if (!fstatSync(fd).isFile()) throw new FileFormatError(file, "is not a regular file");
    const buf = Buffer.alloc(CHUNK);
    let carry = "";
    let first = true;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      const lines = (carry + buf.toString("utf8", 0, n)).split("\n");
      carry = lines.pop()!; // a line not yet ended (or cut short for good at the end)
      for (const line of lines) {
        if (first) {
          first = false; // the header
          continue;
        }
        const field = line.split(",", 1)[0];
        if (/^\d+$/.test(field) && keep(Number(field))) kept.push(line);
      }
    }
  } finally {
    closeSync(fd);
  }
  writeFileAtomicSync(file, kept.join("\n") + "\n");
}

/** Where a resumed run continues: rows for iterations and evaluations before these are kept. */
export interface CsvResume {
  iteration: number;
  /** The index of the next evaluation (TrainState.epoch). */
  evaluation: number;
}

export class CsvReporter implements TrainListener {
  private readonly streams: Partial<Record<CsvFile, CsvStream>> = {};
  private lastFlush = Date.now();
  /** The first write that failed; from then on rows are only kept in memory. */
  failure?: WriteError;

  /** `onFailure`: called once when a write fails (the CLI stops the run there and saves elsewhere). */
  constructor(
    private readonly runDir: string,
    resume?: CsvResume,
    validation = false,
    private readonly onFailure?: (err: WriteError) => void,
  ) {
    const byEvaluation = resume && ((e: number) => e < resume.evaluation);
    if (validation) this.streams.val = new CsvStream(runFile(runDir, "val"), CSV_HEADERS.val, byEvaluation);
    this.streams.loss = new CsvStream(runFile(runDir, "loss"), CSV_HEADERS.loss, resume && ((i) => i < resume.iteration));
    this.streams.epochs = new CsvStream(runFile(runDir, "epochs"), CSV_HEADERS.epochs, byEvaluation);
  }

  iteration(e: IterationEvent): void {
    this.streams.loss!.row(`${e.iteration},${e.loss}`);
    // Keep the file current for `tail -f` without a write per iteration.
    if (Date.now() - this.lastFlush > 1000) this.flushQuietly();
  }

  epoch(e: EpochEvent): void {
    // the epoch in full: readers recover the epoch length from it exactly
    this.streams.epochs!.row(`${e.evaluation},${e.epoch},${e.iteration},${e.trainAccuracy},${e.testAccuracy},${e.elapsedS.toFixed(3)}`);
    if (e.valAccuracy !== undefined) this.streams.val?.row(`${e.evaluation},${e.epoch},${e.iteration},${e.valAccuracy}`);
    this.flushQuietly();
  }

  done(): void {
    this.flushQuietly();
  }

  /** Flush from a training event: a failure is recorded and reported once, never thrown into the trainer. */
  private flushQuietly(): void {
    if (this.failure) return;
    try {
      this.flush();
    } catch (err) {
      if (!(err instanceof WriteError)) throw err;
      this.failure = err;
      this.onFailure?.(err);
    }
  }

  /** Write every pending row; throws the WriteError of a file that cannot take them. */
  flush(): void {
    for (const s of Object.values(this.streams)) s.flush();
    this.lastFlush = Date.now();
  }

  /**
   * Each CSV's rows that are not on disk, by file name: after a failed write, what must go with
   * the checkpoint wherever it is saved.
   */
  unwritten(): Partial<Record<CsvFile, string[]>> {
    const out: Partial<Record<CsvFile, string[]>> = {};
    for (const [k, s] of Object.entries(this.streams) as [CsvFile, CsvStream][]) if (s.pending.length > 0) out[k] = s.pending.slice();
    return out;
  }

  close(): void {
    for (const s of Object.values(this.streams)) {
      try {
        s.close();
      } catch (err) {
        if (!(err instanceof WriteError)) throw err;
        this.failure ??= err;
      }
    }
  }
}
