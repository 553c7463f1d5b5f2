#!/usr/bin/env node
import { main } from "../dist/cli/predict.js";
import { runCommand } from "../dist/cli/run-command.js";

await runCommand("mnist-predict", process.argv.slice(2), main);
