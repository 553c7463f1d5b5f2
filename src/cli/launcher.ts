/**
 * Signals sent to `npx mnist-train` (what a sweep script, `timeout` or a scheduler does) must reach
 * the command. npx runs a bin as `npm exec` → `sh -c BIN` → node: npm forwards SIGTERM and SIGINT
 * to the shell only, and the shell dies of SIGTERM (leaving us orphaned) or holds SIGINT until we
 * exit; SIGHUP kills npm alone. So under npx each command watches its launchers, and when the
 * shell or npm is gone it signals itself with SIGTERM: the same stop, checkpoint and exit code as
 * a signal sent to `node bin/mnist-train.js`.
 */
import { readFileSync } from "node:fs";

/** How often the launchers are looked at: a signal via npx is acted on within this. */
const POLL_MS = 200;

/** The parent pid of `pid` (Linux /proc; undefined elsewhere or when it is gone). */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Started by `npx` / `npm exec` directly: npm says so in the environment, and our parent is the
 * `sh -c …` it runs (a command started by some other program under npx inherits the environment,
 * not that parent, and is left alone).
 */
export function startedByNpx(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.npm_lifecycle_event !== "npx" && env.npm_command !== "exec") return false;
  try {
    const argv = readFileSync(`/proc/${process.ppid}/cmdline`, "utf8").split("\0");
    return /(^|\/)(ba|da|z|k|)sh$/.test(argv[0]) && argv[1] === "-c";
  } catch {
    return false;
  }
}

/** Under npx, treat the death of the launching shell or of npm itself as SIGTERM. */
export function watchLaunchers(): void {
  if (!startedByNpx()) return;
  const shell = process.ppid;
  const npm = parentOf(shell);
  const timer = setInterval(() => {
    const orphaned = process.ppid !== shell || !alive(shell);
    const npmGone = npm !== undefined && npm > 1 && !alive(npm);
    if (orphaned || npmGone) {
      clearInterval(timer);
      process.kill(process.pid, "SIGTERM");
    }
  }, POLL_MS);
  // Never what keeps the process alive.
  timer.unref();
}
