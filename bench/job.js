// The book's job, ours, in one process: prints one JSON line (wall seconds without data loading).
// node bench/job.js [--iters N] [--dtype float32|float64] [--seed S] [--kernels fast|reference]
import { loadMnistRaw } from "../dist/data/mnist.js";
import { train } from "../dist/train/trainer.js";
import { argValue } from "./args.js";

const iters = Number(argValue("--iters", "10000"));
const dtype = argValue("--dtype", "float32");
const seed = Number(argValue("--seed", "0"));
const kernels = argValue("--kernels", "fast");
const threads = Number(argValue("--threads", "1"));
const data = await loadMnistRaw();
let evalS = 0;
let evalStart = 0;
const result = await train(
  data,
  { iters, batchSize: 100, lr: 0.1, hiddenSize: 50, grad: "analytic", weightInitStd: 0.01, seed, evalEvery: 600, dtype, threads },
  {
    kernels,
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
  }),
);
