#!/usr/bin/env node
// The sweep scripts' helper: is a point done, resumable, or to train (see src/cli/sweep-point.ts).
import { main } from "../../dist/cli/sweep-point.js";
import { runCommand } from "../../dist/cli/run-command.js";

await runCommand("sweep", process.argv.slice(2), main);
