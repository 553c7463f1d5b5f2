/**
 * Every failure a user can cause (bad flag, bad file, bad data) is one of these: the CLI's single
 * error handler prints `message` on one line and exits with `exitCode`, no stack trace.
 * Anything else escaping is a bug and is reported as such.
 */
export class MnistError extends Error {
  /** Process exit code the CLI uses for this failure (see README, "Exit codes"). */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** A flag or config value that fails validation: exit 2, like commander's own usage errors. */
export class UsageError extends MnistError {
  constructor(message: string) {
    super(message, 2);
  }
}

export type IdxErrorKind =
  | "bad-magic"
  | "truncated"
  | "trailing-bytes"
  | "absurd-dimensions"
  | "count-mismatch"
  | "bad-gzip"
  | "unsupported-type"
  | "bad-label";

/** Training stopped because the loss became NaN or infinite: exit 3. */
export class DivergedError extends MnistError {
  constructor(message: string) {
    super(message, 3);
  }
}

/** A malformed IDX file (or a pair of files that do not belong together). */
export class IdxFormatError extends MnistError {
  readonly kind: IdxErrorKind;
  readonly file: string;
  constructor(file: string, kind: IdxErrorKind, detail: string) {
    super(`${file}: ${detail}`, 1);
    this.file = file;
    this.kind = kind;
  }
}

/** Bytes whose sha256 is not the pinned one: a damaged install, a bad mirror, a truncated download. */
export class ChecksumError extends MnistError {
  readonly file: string;
  constructor(file: string, actual: string, expected: string, hint = "") {
    super(`${file}: sha256 ${actual} does not match the expected ${expected}${hint ? `; ${hint}` : ""}`, 1);
    this.file = file;
  }
}

/** Every mirror failed for a file. */
export class DownloadError extends MnistError {
  constructor(message: string) {
    super(message, 1);
  }
}

/** A model.json (or other JSON file) that cannot be read or does not match its schema. */
export class FileFormatError extends MnistError {
  readonly file: string;
  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`, 1);
    this.file = file;
  }
}

/**
 * A file could not be written for a reason outside the program (`code`: ENOSPC, EIO, EDQUOT,
 * EROFS, …). Where it happens mid-run, mnist-train saves what it can and exits 4 (see the README).
 */
export class WriteError extends MnistError {
  readonly file: string;
  readonly code: string;
  /** `then`: what happened next (the run stopped, where its state was saved), after a "; ". */
  constructor(file: string, code: string, exitCode = 1, then?: string) {
    super(`${file}: cannot write (${code})${then ? `; ${then}` : ""}`, exitCode);
    this.file = file;
    this.code = code;
  }
}
