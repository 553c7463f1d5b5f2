#!/usr/bin/env node
import { main } from "../dist/cli/report.js";
import { runCommand } from "../dist/cli/run-command.js";

await runCommand("mnist-report", process.argv.slice(2), main);
