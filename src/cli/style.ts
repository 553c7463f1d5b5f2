/** Colour for human logs on stderr: on a TTY unless --no-color or NO_COLOR; never when piped. */
import { Chalk, supportsColorStderr, type ChalkInstance } from "chalk";

export function stderrChalk(colorFlag: boolean, env: NodeJS.ProcessEnv = process.env): ChalkInstance {
  const disabled = !colorFlag || (env.NO_COLOR !== undefined && env.NO_COLOR !== "") || !process.stderr.isTTY;
  return new Chalk({ level: disabled ? 0 : supportsColorStderr ? supportsColorStderr.level : 0 });
}
