#!/usr/bin/env node
import { main } from "../dist/cli/board.js";
import { runCommand } from "../dist/cli/run-command.js";

await runCommand("mnist-board", process.argv.slice(2), main);
