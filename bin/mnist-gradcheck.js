#!/usr/bin/env node
import { main } from "../dist/cli/gradcheck.js";
import { runCommand } from "../dist/cli/run-command.js";

await runCommand("mnist-gradcheck", process.argv.slice(2), main);
