#!/usr/bin/env node
import { main } from "../dist/cli/export.js";
import { runCommand } from "../dist/cli/run-command.js";

await runCommand("mnist-export", process.argv.slice(2), main);
