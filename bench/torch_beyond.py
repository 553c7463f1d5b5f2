#!/usr/bin/env python3
"""The beyond-chapter-4 presets (configs/fast.json, configs/best-mlp.json) in PyTorch on CPU, for comparison.

Same architecture and schedule as mnist-train reads them from the preset: 784-H...-10, relu/tanh/sigmoid, He/Xavier/std
init (zero biases), Adam/momentum/SGD with the preset's lr, inverted dropout on the hidden layers, a new permutation of
the training images each epoch (last partial batch dropped), cosine/step/constant learning rate per iteration, pixels
scaled to [0, 1]. Not bit-comparable (different RNG, float32 BLAS): it measures the accuracy the recipe reaches and the
wall time of the training loop (data loading excluded) and the final evaluation.

usage: /usr/bin/python3 bench/torch_beyond.py --data DIR --config configs/fast.json [--seeds 0,1,2] [--threads 1]
(DIR: the four uncompressed IDX files). Prints one JSON line per seed on stdout.
"""
import argparse, json, math, struct, time

import numpy as np
import torch


def load_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(a.config))
    hidden = cfg.get("hiddenSize", 50)
    hidden = hidden if isinstance(hidden, list) else [hidden]
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[cfg.get("activation", "sigmoid")]
    B = cfg.get("batchSize", 100)
    lr = cfg.get("lr", 0.1)
    p = cfg.get("dropout", 0.0)
    xtr = torch.from_numpy(load_idx(f"{a.data}/train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255)
    ytr = torch.from_numpy(load_idx(f"{a.data}/train-labels-idx1-ubyte").astype(np.int64))
    xte = torch.from_numpy(load_idx(f"{a.data}/t10k-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255)
    yte = torch.from_numpy(load_idx(f"{a.data}/t10k-labels-idx1-ubyte").astype(np.int64))
    per_epoch = len(xtr) // B
    iters = cfg["epochs"] * per_epoch if "epochs" in cfg else cfg.get("iters", 10000)
    for seed in [int(s) for s in a.seeds.split(",")]:
        torch.manual_seed(seed)
        sizes = [784] + hidden + [10]
        layers = []
        for i in range(len(sizes) - 1):
            lin = torch.nn.Linear(sizes[i], sizes[i + 1])
            init = cfg.get("init", "std")
            std = math.sqrt(2 / sizes[i]) if init == "he" else math.sqrt(1 / sizes[i]) if init == "xavier" else cfg.get("weightInitStd", 0.01)
            torch.nn.init.normal_(lin.weight, 0, std)
            torch.nn.init.zeros_(lin.bias)
            layers.append(lin)
            if i < len(sizes) - 2:
                layers.append(act())
                if p > 0:
                    layers.append(torch.nn.Dropout(p))
        net = torch.nn.Sequential(*layers)
        opt_name = cfg.get("optimizer", "sgd")
        if opt_name == "adam":
            opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(cfg.get("beta1", 0.9), cfg.get("beta2", 0.999)), eps=1e-7)
        elif opt_name in ("momentum", "nesterov"):
            opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=cfg.get("momentum", 0.9), nesterov=opt_name == "nesterov")
        else:
            opt = torch.optim.SGD(net.parameters(), lr=lr)
        sched = cfg.get("lrSchedule", "constant")
        step_iters = cfg.get("lrStepEpochs", 10) * per_epoch
        loss_fn = torch.nn.CrossEntropyLoss()
        t0 = time.perf_counter()
        net.train()
        i = 0
        while i < iters:
            order = torch.randperm(len(xtr))
            for k in range(per_epoch):
                if i >= iters:
                    break
                f = 0.5 * (1 + math.cos(math.pi * i / iters)) if sched == "cosine" else cfg.get("lrGamma", 0.1) ** (i // step_iters) if sched == "step" else 1.0
                for g in opt.param_groups:
                    g["lr"] = lr * f
                idx = order[k * B : (k + 1) * B]
                opt.zero_grad()
                loss = loss_fn(net(xtr[idx]), ytr[idx])
                loss.backward()
                opt.step()
                i += 1
        t1 = time.perf_counter()
        net.eval()
        with torch.no_grad():
            test_acc = (net(xte).argmax(1) == yte).float().mean().item()
        t2 = time.perf_counter()
        print(json.dumps({"seed": seed, "config": a.config, "iters": iters, "threads": a.threads, "testAccuracy": test_acc,
                          "trainS": round(t1 - t0, 2), "evalS": round(t2 - t1, 2), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
