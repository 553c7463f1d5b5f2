#!/usr/bin/env python3
"""PyTorch CPU peer for bench/deep.js: the median time of one training iteration (batch, forward,
backward, Adam update) of a 784-H...-10 relu MLP, and of evaluating it on all 70,000 MNIST images.

usage: /usr/bin/python3 bench/torch_step.py --data DIR --hidden 1024,1024 [--threads 1] [--batch 100]
       [--min-time 2] [--eval]
Prints one JSON line: {"step_s": …, "eval_s": …, "threads": …}.
"""
import argparse, json, time

import numpy as np
import torch

from torch_beyond import load_idx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--hidden", default="1024,1024")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--eval", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    xtr = torch.from_numpy(load_idx(f"{a.data}/train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255)
    ytr = torch.from_numpy(load_idx(f"{a.data}/train-labels-idx1-ubyte").astype(np.int64))
    xte = torch.from_numpy(load_idx(f"{a.data}/t10k-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255)
    sizes = [784] + [int(h) for h in a.hidden.split(",")] + [10]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out = {"threads": a.threads, "hidden": sizes[1:-1]}

    def step():
        idx = torch.randint(0, len(xtr), (a.batch,))
        loss = torch.nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    ts = []
    begin = time.perf_counter()
    while len(ts) < 20 or time.perf_counter() - begin < a.min_time:
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    out["step_s"] = float(np.median(ts))
    if a.eval:
        def evaluate():
            with torch.no_grad():
                for x in (xtr, xte):
                    for s in range(0, len(x), 1000):
                        model(x[s : s + 1000]).argmax(1)
        evaluate()
        es = []
        begin = time.perf_counter()
        while len(es) < 3 or time.perf_counter() - begin < a.min_time:
            t0 = time.perf_counter()
            evaluate()
            es.append(time.perf_counter() - t0)
        out["eval_s"] = float(np.median(es))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
