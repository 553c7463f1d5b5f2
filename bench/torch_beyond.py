#!/usr/bin/env python3
"""A preset's recipe (configs/*.json) in PyTorch on CPU, for comparison with mnist-train.

The network: the config's "layers" text (the grammar of src/reference/layer-spec.ts, parsed here:
conv F KxK [sN] [pN], maxpool KxK [sN] [pN], affine N, relu|sigmoid|tanh, batchnorm, dropout P,
flatten; or the typed list of objects), on NCHW input [B, 1, 28, 28]; without "layers", the MLP
784-H...-10 of "hiddenSize"/"activation"/"dropout" on [B, 784]. Init "std" N(0, weightInitStd²),
"he" std √(2/fan_in), "xavier" √(1/fan_in), fan_in = C·FH·FW for a conv and the input size for an
affine; biases 0. The book's batchnorm (one γ, β per input value, i.e. per C·H·W feature, not
per channel) is Flatten → BatchNorm1d(C·H·W, eps=1e-6, momentum=0.1) → Unflatten, γ = 1, β = 0.
A maxpool with padding pads with zeros (F.pad) before max_pool2d, as the book's Pooling does.
An affine after an image flattens it first, as the book's Affine does.

The training loop does the work mnist-train's trainer does (src/train/trainer.ts):
  - batches: "sampling" "replacement" draws B indices per iteration (torch.randint, the book's
    np.random.choice); "shuffle" takes slices of a new permutation each epoch (last partial batch
    dropped); an epoch is ⌊N/B⌋ iterations;
  - optimizers adam (eps 1e-7 as the book's), sgd, momentum, nesterov, adagrad, rmsprop (eps 1e-7),
    adadelta (torch.optim.Adadelta(lr, rho=adadeltaRho, eps=1e-6));
  - the learning rate of every iteration: constant, cosine ½(1 + cos(π i/iters)), or step
    (× lrGamma every lrStepEpochs epochs); weightDecay as the book's: λ·W added to the weights'
    gradients (not the biases', γ's or β's), ½λΣW² added to the recorded loss;
  - the per-iteration loss as "lossPass" says: "after" (the default, the book's) is one more
    forward pass of the updated network on the same batch in eval mode (dropout off, batch norm
    on its running statistics) under no_grad, so both sides do the same work; "before" is the
    loss of the training forward pass that made the gradient;
  - accuracy over the training and test images (and validation ones with valSize) in batches of
    1000 in eval mode where the trainer evaluates: after iteration i when i % evalEvery == 0
    (evalEvery: one epoch by default), and after the last iteration if that was not such a point.
trainLimit, testLimit and valSize select the images as mnist-train does. Not reproduced: data
augmentation ("augment" keys are ignored: this is a timing peer), float64 ("dtype" is ignored:
float32 here), the book's non-inverted dropout (torch's is inverted: the same work), the book's
Nesterov form (torch's: the same work), batch norm's running variance (torch keeps the unbiased
one). Not bit-comparable (different RNG, float32 BLAS): it measures the accuracy the recipe reaches
and the time of the training loop.

Output, one JSON line per seed: trainS (the iterations: steps and loss passes), evalS (the
evaluations), loopS (both: what mnist-train's wallTimeS measures), testAccuracy (of the last
evaluation), trainAccuracy, finalLoss, iters, evaluations. Data loading is excluded.

usage: /usr/bin/python3 bench/torch_beyond.py --data DIR --config configs/fast.json [--seeds 0,1,2]
         [--threads 1] [--epochs N] [--max-iters N]
       /usr/bin/python3 bench/torch_beyond.py --data DIR --config C --eval-bench [--threads 1] [--min-time 2]
         [--eval-limit N]
(DIR: the four uncompressed IDX files). --epochs overrides the config's epochs; --max-iters stops
after N iterations (smoke tests). --eval-bench times instead the config's net (eval mode, no_grad)
over all 70,000 images in batches of 1000, median of ≥ 3 runs and ≥ --min-time seconds:
{"eval_s": …} (--eval-limit N: the first N images of each split only, for smoke tests).
"""
import argparse, json, math, re, struct, time

import numpy as np
import torch
import torch.nn.functional as F


def load_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


# ---- the layer list -------------------------------------------------------------------------------

PLAIN = ("relu", "sigmoid", "tanh", "batchnorm", "flatten")


def _window(token):
    parts = re.split("[x×]", token, flags=re.I)
    return (int(parts[0]), int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))


def _stride_pad(tokens):
    out = {}
    for t in tokens:
        key = {"s": "stride", "p": "pad"}.get(t[:1].lower())
        if key is None:
            raise ValueError(f'unexpected "{t}" (stride and padding are written s2, p1)')
        out[key] = int(t[1:])
    return out


def parse_layers(text):
    """The layer-list text as typed dicts (as src/reference/layer-spec.ts's parseLayerList gives them)."""
    specs = []
    for item in (s.strip() for s in text.split(",")):
        word, *args = item.split()
        kind = word.lower()
        if kind == "conv":
            specs.append({"type": "conv", "filters": int(args[0]), "kernel": _window(args[1]), **_stride_pad(args[2:])})
        elif kind == "maxpool":
            specs.append({"type": "maxpool", "kernel": _window(args[0]), **_stride_pad(args[1:])})
        elif kind == "affine":
            specs.append({"type": "affine", "units": int(args[0])})
        elif kind == "dropout":
            specs.append({"type": "dropout", "ratio": float(args[0])})
        elif kind in PLAIN and not args:
            specs.append({"type": kind})
        else:
            raise ValueError(f'layer "{item}": not in the grammar')
    return specs


class ZeroPadMaxPool(torch.nn.Module):
    """The book's Pooling with padding: zeros around the image, then the max over each window."""

    def __init__(self, kernel, stride, pad):
        super().__init__()
        self.kernel, self.stride, self.pad = kernel, stride, pad

    def forward(self, x):
        return F.max_pool2d(F.pad(x, (self.pad,) * 4), self.kernel, self.stride)


def build_net(specs, input_shape, init, weight_init_std):
    """nn.Sequential of the typed list on one sample of input_shape; also its decayed weights."""
    mods, weights = [], []
    shape = tuple(input_shape)

    def std_for(fan_in):
        return math.sqrt(2 / fan_in) if init == "he" else math.sqrt(1 / fan_in) if init == "xavier" else weight_init_std

    for s in specs:
        t = s["type"]
        if t == "conv":
            C, H, W = shape
            kh, kw = s["kernel"]
            stride, pad = s.get("stride", 1), s.get("pad", 0)
            conv = torch.nn.Conv2d(C, s["filters"], (kh, kw), stride=stride, padding=pad)
            torch.nn.init.normal_(conv.weight, 0, std_for(C * kh * kw))
            torch.nn.init.zeros_(conv.bias)
            mods.append(conv)
            weights.append(conv.weight)
            shape = (s["filters"], (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1)
        elif t == "maxpool":
            C, H, W = shape
            kh, kw = s["kernel"]
            stride = s.get("stride") or kh
            pad = s.get("pad", 0)
            mods.append(ZeroPadMaxPool((kh, kw), stride, pad) if pad else torch.nn.MaxPool2d((kh, kw), stride))
            shape = (C, (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1)
        elif t == "affine":
            if len(shape) > 1:
                mods.append(torch.nn.Flatten())
            fan_in = math.prod(shape)
            lin = torch.nn.Linear(fan_in, s["units"])
            torch.nn.init.normal_(lin.weight, 0, std_for(fan_in))
            torch.nn.init.zeros_(lin.bias)
            mods.append(lin)
            weights.append(lin.weight)
            shape = (s["units"],)
        elif t == "batchnorm":
            n = math.prod(shape)
            bn = torch.nn.BatchNorm1d(n, eps=1e-6, momentum=0.1)  # γ = 1, β = 0
            mods.extend([torch.nn.Flatten(), bn, torch.nn.Unflatten(1, shape)] if len(shape) > 1 else [bn])
        elif t == "dropout":
            mods.append(torch.nn.Dropout(s["ratio"]))
        elif t == "flatten":
            mods.append(torch.nn.Flatten())
            shape = (math.prod(shape),)
        else:
            mods.append({"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}[t]())
    if shape != (10,):
        raise ValueError(f"the layer list ends in {shape}, not 10 class scores")
    return torch.nn.Sequential(*mods), weights


def net_of_config(cfg):
    """(net, decayed weights, input shape of one sample) for a config."""
    if "layers" in cfg:
        layers = cfg["layers"]
        specs = parse_layers(layers) if isinstance(layers, str) else [dict(s) for s in layers]
        input_shape = (1, 28, 28)
    else:
        hidden = cfg.get("hiddenSize", 50)
        hidden = hidden if isinstance(hidden, list) else [hidden]
        act, p = cfg.get("activation", "sigmoid"), cfg.get("dropout", 0.0)
        specs = []
        for h in hidden:
            specs += [{"type": "affine", "units": h}, {"type": act}] + ([{"type": "dropout", "ratio": p}] if p > 0 else [])
        specs.append({"type": "affine", "units": 10})
        input_shape = (784,)
    net, weights = build_net(specs, input_shape, cfg.get("init", "std"), cfg.get("weightInitStd", 0.01))
    return net, weights, input_shape


def make_optimizer(cfg, params):
    name, lr = cfg.get("optimizer", "sgd"), cfg.get("lr", 0.1)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(cfg.get("beta1", 0.9), cfg.get("beta2", 0.999)), eps=1e-7)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=cfg.get("momentum", 0.9), nesterov=name == "nesterov")
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=1e-7)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=cfg.get("rmsDecay", 0.99), eps=1e-7)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, rho=cfg.get("adadeltaRho", 0.9), eps=1e-6)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError(f"optimizer {name!r}")


def predict_correct(net, x, y):
    """Correct predictions of net (in eval mode) on x in batches of 1000."""
    correct = 0
    with torch.no_grad():
        for s in range(0, len(x), 1000):
            correct += (net(x[s : s + 1000]).argmax(1) == y[s : s + 1000]).sum().item()
    return correct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=float, help="override the config's epochs")
    ap.add_argument("--max-iters", type=int, help="stop after this many iterations (smoke tests)")
    ap.add_argument("--eval-bench", action="store_true", help="time the net's evaluation of all 70,000 images instead")
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--eval-limit", type=int, help="--eval-bench on the first N images of each split only (smoke tests)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(a.config))
    B = cfg.get("batchSize", 100)
    lr = cfg.get("lr", 0.1)
    lam = cfg.get("weightDecay", 0.0)
    _, _, input_shape = net_of_config(cfg)
    xtr_all = torch.from_numpy(load_idx(f"{a.data}/train-images-idx3-ubyte").reshape(-1, *input_shape).astype(np.float32) / 255)
    ytr_all = torch.from_numpy(load_idx(f"{a.data}/train-labels-idx1-ubyte").astype(np.int64))
    xte = torch.from_numpy(load_idx(f"{a.data}/t10k-images-idx3-ubyte").reshape(-1, *input_shape).astype(np.float32) / 255)
    yte = torch.from_numpy(load_idx(f"{a.data}/t10k-labels-idx1-ubyte").astype(np.int64))

    if a.eval_bench:
        torch.manual_seed(0)
        net, _, _ = net_of_config(cfg)
        net.eval()
        n = a.eval_limit or None
        xa, ya, xb, yb = xtr_all[:n], ytr_all[:n], xte[:n], yte[:n]
        evaluate = lambda: (predict_correct(net, xa, ya), predict_correct(net, xb, yb))
        evaluate()
        ts = []
        begin = time.perf_counter()
        while len(ts) < 3 or time.perf_counter() - begin < a.min_time:
            t0 = time.perf_counter()
            evaluate()
            ts.append(time.perf_counter() - t0)
        print(json.dumps({"config": a.config, "threads": a.threads, "images": len(xa) + len(xb), "eval_s": float(np.median(ts)), "torch": torch.__version__}), flush=True)
        return

    limit = min(cfg.get("trainLimit", len(xtr_all)), len(xtr_all))
    val_size = cfg.get("valSize", 0)
    xtr, ytr = xtr_all[: limit - val_size], ytr_all[: limit - val_size]
    splits = [(xtr, ytr)]
    test_limit = min(cfg.get("testLimit", len(xte)), len(xte))
    splits.append((xte[:test_limit], yte[:test_limit]))
    if val_size:
        splits.append((xtr_all[limit - val_size : limit], ytr_all[limit - val_size : limit]))
    N = len(xtr)
    per_epoch = max(N // B, 1)
    epochs = a.epochs if a.epochs is not None else cfg.get("epochs")
    iters = round(epochs * per_epoch) if epochs is not None else cfg.get("iters", 10000)
    total_iters = iters  # the schedule's length
    if a.max_iters is not None:
        iters = min(iters, a.max_iters)
    eval_every = cfg.get("evalEvery", per_epoch)
    sampling = cfg.get("sampling", "replacement")
    loss_after = cfg.get("lossPass", "after") == "after"
    sched = cfg.get("lrSchedule", "constant")
    step_iters = max(cfg.get("lrStepEpochs", 10) * per_epoch, 1)
    gamma = cfg.get("lrGamma", 0.1)
    loss_fn = torch.nn.CrossEntropyLoss()

    for seed in [int(s) for s in a.seeds.split(",")]:
        torch.manual_seed(seed)
        net, weights, _ = net_of_config(cfg)
        opt = make_optimizer(cfg, net.parameters())
        decay = (lambda: 0.5 * lam * sum((w * w).sum().item() for w in weights)) if lam else (lambda: 0.0)
        train_s = eval_s = 0.0
        evaluations = 0
        accuracies = []
        final_loss = float("nan")

        def evaluate():
            nonlocal eval_s, evaluations, accuracies
            t = time.perf_counter()
            net.eval()
            accuracies = [predict_correct(net, x, y) / len(x) for x, y in splits]
            net.train()
            eval_s += time.perf_counter() - t
            evaluations += 1

        net.train()
        order, pos = None, N
        evaluated_at = -1
        t0 = time.perf_counter()
        for i in range(iters):
            f = 0.5 * (1 + math.cos(math.pi * i / max(total_iters, 1))) if sched == "cosine" else gamma ** (i // step_iters) if sched == "step" else 1.0
            for g in opt.param_groups:
                g["lr"] = lr * f
            if sampling == "shuffle":
                if pos + B > N:
                    order, pos = torch.randperm(N), 0
                idx = order[pos : pos + B]
                pos += B
            else:
                idx = torch.randint(0, N, (B,))
            x, y = xtr[idx], ytr[idx]
            opt.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            if lam:
                with torch.no_grad():
                    for w in weights:
                        w.grad.add_(w, alpha=lam)
            opt.step()
            if loss_after:
                net.eval()
                with torch.no_grad():
                    final_loss = loss_fn(net(x), y).item() + decay()
                net.train()
            else:
                final_loss = loss.item() + decay()
            if i % eval_every == 0:
                train_s += time.perf_counter() - t0
                evaluate()
                evaluated_at = i
                t0 = time.perf_counter()
        train_s += time.perf_counter() - t0
        if iters > 0 and evaluated_at != iters - 1:
            evaluate()
        out = {"seed": seed, "config": a.config, "iters": iters, "threads": a.threads, "testAccuracy": accuracies[1], "trainAccuracy": accuracies[0],
               "finalLoss": final_loss, "lossPass": "after" if loss_after else "before", "evaluations": evaluations,
               "trainS": round(train_s, 3), "evalS": round(eval_s, 3), "loopS": round(train_s + eval_s, 3), "torch": torch.__version__}
        if val_size:
            out["valAccuracy"] = accuracies[2]
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
