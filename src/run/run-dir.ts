/**
 * The run folder as a place: where a new run goes (runs/<timestamp>-<id>, runs/NAME), the checks
 * made before any work (so a bad --out fails before the data is loaded and leaves no folder), and
 * ownership: one process writes a run folder at a time, through a lock file holding its pid.
 */
import { randomBytes } from "node:crypto";
import { linkSync, promises as fs, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { MnistError, UsageError } from "../errors.js";
import { RUN_FILES, RUN_OUTPUTS, runFile } from "./layout.js";

/** Where runs go when --out is not given. */
export const RUNS_ROOT = "runs";
/** runs/latest: a symlink to the newest run started under RUNS_ROOT. */
export const LATEST = "latest";

export function defaultRunDir(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return path.join(RUNS_ROOT, `${stamp}-${randomBytes(3).toString("hex")}`);
}

/** --name NAME: runs/NAME. A plain folder name, so it cannot reach outside runs/ or shadow runs/latest. */
export function namedRunDir(name: string): string {
  if (name === "" || name === "." || name === ".." || name.startsWith(".") || /[/\\\0]/.test(name) || name.length > 200) {
    throw new UsageError(`--name must be a plain folder name (no "/", not starting with "."; got "${name}")`);
  }
  if (name === LATEST) throw new UsageError(`--name ${LATEST} is taken: ${RUNS_ROOT}/${LATEST} points at the newest run`);
  return path.join(RUNS_ROOT, name);
}

/**
 * Check, without creating anything, that `dir` can become a run folder: an existing folder must be
 * writable (and empty, unless `force`); a new one needs its nearest existing parent to be a
 * writable folder. Run before the data is loaded, so a bad --out fails in milliseconds.
 */
export async function checkRunDirUsable(dir: string, force: boolean, flag = "--out"): Promise<void> {
  const stat = await fs.stat(dir).catch((err: NodeJS.ErrnoException) => err);
  if (!(stat instanceof Error)) {
    if (!stat.isDirectory()) throw new MnistError(`${flag} ${dir}: cannot create the run folder (EEXIST: a file is in the way)`);
    await fs.access(dir, fs.constants.W_OK | fs.constants.X_OK).catch((err: NodeJS.ErrnoException) => {
      throw new MnistError(`${flag} ${dir}: the run folder is not writable (${err.code})`);
    });
    // a run in progress is named as such, rather than as a folder that is not empty
    const owner = readOwner(runFile(dir, "lock"));
    if (owner && owner.pid !== process.pid && ownerAlive(owner)) throw inUse(dir, owner.pid, flag);
    const entries = await runEntries(dir, flag);
    if (entries.length > 0 && !force) throw notEmpty(dir, entries.length, flag);
    return;
  }
  if (stat.code !== "ENOENT") throw new MnistError(`${flag} ${dir}: cannot create the run folder (${stat.code})`);
  let parent = path.dirname(path.resolve(dir));
  for (;;) {
    const s = await fs.stat(parent).catch((err: NodeJS.ErrnoException) => err);
    if (!(s instanceof Error)) {
      if (!s.isDirectory()) throw new MnistError(`${flag} ${dir}: cannot create the run folder (ENOTDIR)`);
      await fs.access(parent, fs.constants.W_OK | fs.constants.X_OK).catch((err: NodeJS.ErrnoException) => {
        throw new MnistError(`${flag} ${dir}: cannot create the run folder (${err.code})`);
      });
      return;
    }
    if (s.code !== "ENOENT") throw new MnistError(`${flag} ${dir}: cannot create the run folder (${s.code})`);
    const up = path.dirname(parent);
    if (up === parent) return;
    parent = up;
  }
}

const notEmpty = (dir: string, n: number, flag: string) =>
  new MnistError(`${flag} ${dir}: the folder is not empty (${n} entries); choose another, or pass --force to overwrite`);

/** A run folder this process owns until `release` (also released at exit). */
export interface RunLock {
  dir: string;
  release(): void;
}

/**
 * Create `dir` (and parents) and take ownership of it: the lock first (so a second process sees
 * it at once), then leftovers of an interrupted write are removed, then a non-empty folder is
 * refused, or with `force` emptied of the previous run's files (each named through `note`).
 * Finally a probe file proves the folder accepts new files and renames.
 */
export async function claimRunDir(dir: string, options: { force: boolean; note: (line: string) => void; flag?: string; resume?: boolean }): Promise<RunLock> {
  const flag = options.flag ?? "--out";
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (err) {
    throw new MnistError(`${flag} ${dir}: cannot create the run folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const lock = acquireLock(dir, flag);
  try {
    await removeLeftovers(dir);
    if (!options.resume) {
      const entries = await runEntries(dir, flag);
      if (entries.length > 0) {
        if (!options.force) throw notEmpty(dir, entries.length, flag);
        const removed: string[] = [];
        for (const f of RUN_OUTPUTS) {
          const file = runFile(dir, f);
          const s = await fs.lstat(file).catch(() => null);
          if (!s) continue;
          await fs.rm(file, { recursive: true, force: true }).catch((err: NodeJS.ErrnoException) => {
            throw new MnistError(`--force: cannot remove ${file} (${err.code ?? err.message})`);
          });
          removed.push(RUN_FILES[f]);
        }
        if (removed.length > 0) options.note(`--force: removed the previous run's ${removed.join(", ")} from ${dir}`);
      }
    }
    await checkWritable(dir, `${flag} `);
  } catch (err) {
    lock.release();
    throw err;
  }
  return lock;
}

/** The folder's entries that count as content: not the lock (ours), not an interrupted write's temp file. */
async function runEntries(dir: string, flag: string): Promise<string[]> {
  const entries = await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    throw new MnistError(`${flag} ${dir}: cannot read the run folder (${err.code ?? err.message})`);
  });
  return entries.filter((e) => e !== RUN_FILES.lock && leftoverPid(e) === undefined);
}

/**
 * The pid in the name of a temp file this program writes (`.NAME.PID.HEX.tmp` by the atomic
 * writes, `.write-test-PID[.renamed]` by the probe, `.lock.PID.HEX.stale` by a lock takeover),
 * or undefined for any other name.
 */
function leftoverPid(name: string): number | undefined {
  const m =
    /^\.[^/]+\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name) ?? /^\.write-test-(\d+)(\.renamed)?$/.exec(name) ?? /^\.lock\.(\d+)\.[0-9a-f]{8}\.stale$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Remove temp files left by a process that was killed mid-write (never those of a live one). */
async function removeLeftovers(dir: string): Promise<void> {
  for (const e of await fs.readdir(dir)) {
    const pid = leftoverPid(e);
    if (pid !== undefined && (pid === process.pid || !isAlive(pid))) await fs.rm(path.join(dir, e), { force: true });
  }
}

/** Prove `dir` accepts new files (and renames), before any work that would be lost if it did not. */
export async function checkWritable(dir: string, prefix = ""): Promise<void> {
  const probe = path.join(dir, `.write-test-${process.pid}`);
  try {
    await fs.writeFile(probe, "");
    await fs.rename(probe, probe + ".renamed");
    await fs.rm(probe + ".renamed");
  } catch (err) {
    await fs.rm(probe, { force: true }).catch(() => undefined);
    throw new MnistError(`${prefix}${dir}: the run folder is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** What a lock file holds: the owner's pid and, where the system says, when that process started. */
interface LockOwner {
  pid: number;
  started?: string;
}

/** The start time of process `pid` (Linux: field 22 of /proc/PID/stat), to tell a reused pid from the owner. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function ownerAlive(owner: LockOwner): boolean {
  if (!isAlive(owner.pid)) return false;
  const started = processStart(owner.pid);
  return owner.started === undefined || started === undefined || started === owner.started;
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(file, "utf8")) as LockOwner;
    return Number.isInteger(o.pid) && o.pid > 0 ? o : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Create DIR/.lock with our pid, failing if it exists (link(2), atomic like O_EXCL). When it
 * exists and its owner is dead (a crash, kill -9) or its content unreadable, the stale lock is
 * moved aside under a name of our own and checked there: if it turns out to be a live owner's after all (two processes taking
 * over the same stale lock), it is linked back and we give way.
 */
function acquireLock(dir: string, flag: string): RunLock {
  const file = runFile(dir, "lock");
  const me: LockOwner = { pid: process.pid, started: processStart(process.pid) };
  // The lock appears with its content or not at all (a hard link of a written file), so another
  // process never reads an empty lock and takes it for a crashed owner's.
  const mine = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    writeFileSync(mine, JSON.stringify(me) + "\n");
  } catch (err) {
    throw new MnistError(`${flag} ${dir}: cannot create ${RUN_FILES.lock} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        createExclusive(mine, file, me);
        return ownLock(dir, file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "EEXIST") throw new MnistError(`${flag} ${dir}: cannot create ${RUN_FILES.lock} (${code ?? (err as Error).message})`);
      }
      takeOverIfStale(file, dir, flag);
    }
  } finally {
    rmSync(mine, { force: true });
  }
  throw new MnistError(`${flag} ${dir}: could not take the run folder's lock (other processes keep taking it)`);
}

/** `file` as a hard link of the written `from`; where links are not supported (FAT, some network file systems), O_EXCL. */
function createExclusive(from: string, file: string, owner: LockOwner): void {
  try {
    linkSync(from, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
    writeFileSync(file, JSON.stringify(owner) + "\n", { flag: "wx" });
  }
}

/** Move a stale lock out of the way; throw when its owner turns out to be alive. */
function takeOverIfStale(file: string, dir: string, flag: string): void {
  const owner = readOwner(file);
  if (owner && owner.pid !== process.pid && ownerAlive(owner)) throw inUse(dir, owner.pid, flag);
  const aside = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.stale`;
  try {
    renameSync(file, aside);
  } catch {
    return; // someone else moved it first: try again
  }
  const moved = readOwner(aside);
  if (moved && moved.pid !== process.pid && ownerAlive(moved)) {
    try {
      linkSync(aside, file);
    } catch {
      // a third process locked meanwhile; its lock stands
    }
    rmSync(aside, { force: true });
    throw inUse(dir, moved.pid, flag);
  }
  rmSync(aside, { force: true });
}

const inUse = (dir: string, pid: number, flag: string) =>
  new MnistError(`${flag} ${dir}: the run folder is in use by another mnist-train (pid ${pid}); wait for it, or choose another folder`);

function ownLock(dir: string, file: string): RunLock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off("exit", release);
    // Only our own lock: never one another process took after ours was (wrongly) judged stale.
    if (readOwner(file)?.pid === process.pid) {
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    }
  };
  process.on("exit", release);
  return { dir, release };
}

/**
 * Point runs/latest at `dir` when it is a folder directly under runs/: a new symlink renamed over
 * the old one, so a reader always finds one whole link. Best effort: a file system without
 * symlinks only loses the shortcut.
 */
export async function pointLatestAt(dir: string): Promise<boolean> {
  const parent = path.dirname(path.normalize(dir));
  if (parent !== RUNS_ROOT) return false;
  const link = path.join(RUNS_ROOT, LATEST);
  const tmp = path.join(RUNS_ROOT, `.${LATEST}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await fs.symlink(path.basename(dir), tmp);
    await fs.rename(tmp, link);
    return true;
  } catch {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    return false;
  }
}
