// The book's job, ours, in one process: prints one JSON line (wall seconds without data loading).
// node bench/job.js [--iters N] [--dtype float32|float64] [--seed S] [--kernels fast|reference] [--threads T] [--loss-thread auto|always]
import { loadMnistRaw } from "../dist/data/mnist.js";
import { train } from "../dist/train/trainer.js";
import { readFileSync } from "node:fs";
import { argValue } from "./args.js";

const iters = Number(argValue("--iters", "10000"));
const dtype = argValue("--dtype", "float32");
const seed = Number(argValue("--seed", "0"));
const kernels = argValue("--kernels", "fast");
const threads = Number(argValue("--threads", "1"));
const lossThread = argValue("--loss-thread", "auto");
const data = await loadMnistRaw();
// CPU time other processes used during the run, in cores (as the peers report it): busy − own
const busyS = () => {
  try {
    const v = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    return (v.slice(0, 8).reduce((a, b) => a + b, 0) - v[3] - v[4]) / 100;
  } catch {
    return Number.NaN;
  }
};
const busy0 = busyS();
const cpu0 = process.cpuUsage();
let evalS = 0;
let evalStart = 0;
const result = await train(
  data,
  { iters, batchSize: 100, lr: 0.1, hiddenSize: 50, grad: "analytic", weightInitStd: 0.01, seed, evalEvery: 600, dtype },
  {
    kernels,
    threads,
    lossThread,
    yieldEveryMs: 1e9,
    listeners: [
      {
        iteration() {
          evalStart = performance.now(); // an evaluation, when there is one, follows this event
        },
        epoch() {
          evalS += (performance.now() - evalStart) / 1000;
        },
      },
    ],
  },
);
console.log(
  JSON.stringify({
    total_s: result.wallTimeS,
    train_steps_s: result.wallTimeS - evalS,
    eval_s: evalS,
    final_test_acc: result.testAccuracy,
    final_loss: result.finalLoss,
    max_rss_kb: process.resourceUsage().maxRSS,
    foreign_cores: (() => {
      const cpu = process.cpuUsage(cpu0);
      const foreign = Math.max(0, busyS() - busy0 - (cpu.user + cpu.system) / 1e6);
      return foreign / result.wallTimeS;
    })(),
  }),
);
