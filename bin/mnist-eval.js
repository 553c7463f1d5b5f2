#!/usr/bin/env node
import { main } from "../dist/cli/eval.js";
import { runCommand } from "../dist/cli/run-command.js";

await runCommand("mnist-eval", process.argv.slice(2), main);
