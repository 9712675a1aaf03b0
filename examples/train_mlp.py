#!/usr/bin/env python3
"""Trains a small MLP on Fashion-MNIST with numpy: an example of a command task for hpo.

hpo runs it once per trial with the trial's parameters as --name=value arguments (and as JSON in the
environment variable HPO_PARAMS), e.g.

    python3 examples/train_mlp.py --epochs=2 --activation=relu --hidden=128 --lr=0.003

The last tenth of the training images (--train-limit counts before the split) is held out as the
validation set: the study optimises the accuracy on it, `val_accuracy`. The test set is never used to
choose anything; its accuracy is reported beside, as `test_accuracy`, for the trials you keep.

After each epoch it prints a progress line, {"step": <epoch>, "loss": ..., "val_accuracy": ...}, which the
worker relays to the coordinator (a pruner judges the trial by it); at the end it prints its metrics on
one line, {"val_accuracy": ..., "test_accuracy": ..., "latency_ms": <p50 of a batch-1 forward pass>, ...}.
Anything else goes to stderr. A bad argument exits 2 with the reason on stderr, and the trial fails with
it.

Run it by hand to try it:  /usr/bin/python3 examples/train_mlp.py --train-limit=2000 --epochs=1
Needs a python3 with numpy: Debian's /usr/bin/python3 with python3-numpy (deploy/install-deps.sh installs
both; examples/command-mlp.json names that interpreter), and the Fashion-MNIST files
(dataset-fashion-mnist, /usr/share/datasets/fashion-mnist/*.gz, IDX format).
"""

import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    p.add_argument("--hidden", type=int, default=128, help="units per hidden layer")
    p.add_argument("--layers", type=int, default=1, help="hidden layers")
    p.add_argument("--activation", choices=["relu", "tanh"], default="relu")
    p.add_argument("--batch-size", "--batch_size", type=int, default=128, dest="batch_size")
    p.add_argument("--weight-decay", "--weight_decay", type=float, default=0.0, dest="weight_decay",
                   help="decoupled weight decay (AdamW)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-limit", "--train_limit", type=int, default=0, dest="train_limit",
                   help="train on the first N training images only (0: all 60000)")
    p.add_argument("--test-limit", "--test_limit", type=int, default=0, dest="test_limit",
                   help="measure test_accuracy on the first N test images only (0: all 10000)")
    p.add_argument("--seed", type=int, default=None, help="default: $HPO_SEED, else 0")
    p.add_argument("--data-dir", "--data_dir", default=os.environ.get("HPO_DATA_DIR", DEFAULT_DATA_DIR),
                   dest="data_dir")
    a = p.parse_args(argv)
    checks = [(a.lr > 0, "--lr must be positive"), (a.hidden >= 1, "--hidden must be at least 1"),
              (a.layers >= 1, "--layers must be at least 1"), (a.batch_size >= 1, "--batch-size must be at least 1"),
              (a.epochs >= 1, "--epochs must be at least 1"), (a.weight_decay >= 0, "--weight-decay must be >= 0"),
              (a.train_limit >= 0, "--train-limit must be >= 0"), (a.test_limit >= 0, "--test-limit must be >= 0")]
    for ok, message in checks:
        if not ok:
            p.error(message)
    if a.seed is None:
        a.seed = int(os.environ.get("HPO_SEED", "0"))
    return a


def read_idx(path, magic, limit):
    """The first `limit` items (0: all) of an IDX file (gzip), as a uint8 array."""
    with gzip.open(path, "rb") as f:
        header = f.read(8)
        got_magic, count = struct.unpack(">II", header)
        if got_magic != magic:
            raise ValueError(f"{path}: magic {got_magic}, expected {magic}")
        shape = (count,)
        if magic == IMAGE_MAGIC:
            rows, cols = struct.unpack(">II", f.read(8))
            shape = (count, rows * cols)
        n = count if limit == 0 else min(limit, count)
        item = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        data = np.frombuffer(f.read(n * item), dtype=np.uint8)
        if data.size != n * item:
            raise ValueError(f"{path}: truncated")
        return data.reshape((n,) + shape[1:])


def load(data_dir, split, limit):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"), IMAGE_MAGIC, limit)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), LABEL_MAGIC, limit)
    return images.astype(np.float32) / 255.0, labels.astype(np.int64)


class Mlp:
    def __init__(self, sizes, activation, rng):
        self.activation = activation
        self.params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            scale = np.sqrt((2.0 if activation == "relu" else 1.0) / fan_in)
            self.params.append([(rng.standard_normal((fan_in, fan_out)) * scale).astype(np.float32),
                                np.zeros(fan_out, dtype=np.float32)])

    def act(self, z):
        return np.maximum(z, 0) if self.activation == "relu" else np.tanh(z)

    def act_grad(self, a):
        return (a > 0).astype(np.float32) if self.activation == "relu" else 1 - a * a

    def forward(self, x, keep=False):
        outs = [x]
        for i, (w, b) in enumerate(self.params):
            z = outs[-1] @ w + b
            outs.append(z if i == len(self.params) - 1 else self.act(z))
        return outs if keep else outs[-1]

    def loss_and_grads(self, x, y):
        outs = self.forward(x, keep=True)
        logits = outs[-1]
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        n = x.shape[0]
        loss = float(-np.log(p[np.arange(n), y] + 1e-12).mean())
        d = p
        d[np.arange(n), y] -= 1
        d /= n
        grads = []
        for i in range(len(self.params) - 1, -1, -1):
            w, _ = self.params[i]
            grads.append((outs[i].T @ d, d.sum(axis=0)))
            if i > 0:
                d = (d @ w.T) * self.act_grad(outs[i])
        return loss, grads[::-1]


class AdamW:
    def __init__(self, params, lr, weight_decay, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.wd, self.b1, self.b2, self.eps, self.t = lr, weight_decay, b1, b2, eps, 0
        self.m = [[np.zeros_like(t) for t in layer] for layer in params]
        self.v = [[np.zeros_like(t) for t in layer] for layer in params]

    def step(self, params, grads):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for layer, layer_grads, ms, vs in zip(params, grads, self.m, self.v):
            for k, (g, m, v) in enumerate(zip(layer_grads, ms, vs)):
                m *= self.b1
                m += (1 - self.b1) * g
                v *= self.b2
                v += (1 - self.b2) * g * g
                update = self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)
                if k == 0 and self.wd > 0:
                    update += self.lr * self.wd * layer[k]
                layer[k] -= update.astype(np.float32)


def accuracy(model, x, y, batch=1000):
    right = 0
    for i in range(0, len(x), batch):
        right += int((model.forward(x[i:i + batch]).argmax(axis=1) == y[i:i + batch]).sum())
    return right / len(x)


def latency_ms(model, sample, warmup=20, repeats=200):
    """p50 wall time of one forward pass at batch 1, after warm-up."""
    x = sample[None, :]
    for _ in range(warmup):
        model.forward(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.forward(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000.0)


def main(argv):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    try:
        x_train, y_train = load(args.data_dir, "train", args.train_limit)
        x_test, y_test = load(args.data_dir, "test", args.test_limit)
    except (OSError, ValueError) as e:
        print(f"train_mlp.py: cannot read Fashion-MNIST from {args.data_dir}: {e}", file=sys.stderr)
        return 1
    # A tenth of the training images (at least one) is held out: val_accuracy, the metric to optimise.
    n_val = max(1, len(x_train) // 10)
    x_val, y_val = x_train[-n_val:], y_train[-n_val:]
    x_fit, y_fit = x_train[:-n_val], y_train[:-n_val]
    if len(x_fit) == 0:
        print("train_mlp.py: --train-limit leaves no image to train on", file=sys.stderr)
        return 2
    model = Mlp([x_train.shape[1]] + [args.hidden] * args.layers + [10], args.activation, rng)
    optimizer = AdamW(model.params, args.lr, args.weight_decay)
    start = time.perf_counter()
    loss = val_accuracy = float("nan")
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_fit))
        total, batches = 0.0, 0
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            batch_loss, grads = model.loss_and_grads(x_fit[idx], y_fit[idx])
            optimizer.step(model.params, grads)
            total += batch_loss
            batches += 1
        loss = total / batches
        if not np.isfinite(loss):
            print(f"train_mlp.py: diverged at epoch {epoch} (loss {loss}); try a smaller --lr", file=sys.stderr)
            return 3
        val_accuracy = accuracy(model, x_val, y_val)
        print(json.dumps({"step": epoch, "loss": loss, "val_accuracy": val_accuracy}), flush=True)
    train_time_s = time.perf_counter() - start
    params = sum(w.size + b.size for w, b in model.params)
    print(json.dumps({
        "val_accuracy": val_accuracy,  # of the last epoch, as its progress line said
        "test_accuracy": accuracy(model, x_test, y_test),  # reported, never optimised
        "latency_ms": latency_ms(model, x_val[0]),
        "loss": loss,
        "params": params,
        "train_time_s": train_time_s,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
