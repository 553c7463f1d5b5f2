#!/usr/bin/env node
import { main } from "../dist/cli/train.js";
import { runCommand } from "../dist/cli/run-command.js";

await runCommand("mnist-train", process.argv.slice(2), main);
