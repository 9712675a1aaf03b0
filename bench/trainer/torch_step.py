#!/usr/bin/python3
"""PyTorch's figures for hpo-bench-trainer: the same MLPs, batch, optimizer and inputs as the C++ bench.

Run by hpo-bench-trainer with Debian's /usr/bin/python3 in the bench's environment; prints exactly one
JSON object on one line of stdout, with flat keys (numbers, or null where a figure was not measured).
PyTorch is measured warm: before any timing, a throwaway trainer of the first shape runs --warmup steps in
every precision, and the latency model runs its forward passes (a fresh process's first trainer ran 3-4
times slower than later ones at width 256).

  --mode step      training throughput: MLP 784-W-W-10 (relu) at each --shapes W:batch, AdamW lr 1e-3,
                   random inputs preloaded as tensors on the device; samples/s (median of timed blocks).
                   Keys: step_<precision>_w<W>_b<batch>_sps, ..._cpu_per_wall (process CPU s / wall s).
  --mode latency   784-256-256-10 forward passes under no_grad: batch-1 p50/p99 (ms) and batch-256
                   samples/s at the median, with 1 thread and with --threads threads (on the CPU).
                   Keys: lat_<precision>_t<threads>_p50_ms, ..._p99_ms, ..._cpu_per_wall (over the
                   batch-1 passes), ..._b256_sps.
  --mode accuracy  Fashion-MNIST, 784-256-256-10, AdamW lr 1e-3 (weight decay 0.01, PyTorch's default),
                   batch 128, --epochs epochs on all 60,000 training images; test accuracy and training
                   samples/s (images x epochs / training time, evaluation excluded).
                   Keys: acc_<precision>_test, acc_<precision>_sps.
Precisions: fp32 and bf16 autocast on the CPU (PyTorch's CPU autocast has no fp16); fp32, bf16 and fp16
autocast on CUDA. Every mode also reports torch_version, device and threads. On failure the line is
{"error": "..."} and the exit status 1.
"""
import argparse
import ctypes
import gzip
import json
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

DATA = "/usr/share/datasets/fashion-mnist"
HALF = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Env:
    """The device, its precisions, and a synchronisation that makes wall-clock timing honest."""

    def __init__(self, device):
        self.device = torch.device(device)
        self.cuda = device == "cuda"
        self.precisions = ("fp32", "bf16", "fp16") if self.cuda else ("fp32", "bf16")

    def autocast(self, precision):
        return torch.autocast(self.device.type, dtype=HALF.get(precision, torch.bfloat16),
                              enabled=precision != "fp32")

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()


def set_threads(n):
    """torch.set_num_threads(n), and the same for the OpenBLAS that Debian's PyTorch calls for its fp32
    GEMMs: torch.set_num_threads sets OpenMP's count only, and OpenBLAS (pthreads) would otherwise run
    its own threads as well, so that "1 thread" could use every core."""
    torch.set_num_threads(n)
    with open("/proc/self/maps") as maps:
        libs = {line.split()[-1] for line in maps if "libopenblas" in line}
    for lib in sorted(libs):
        try:
            ctypes.CDLL(lib).openblas_set_num_threads(n)
        except (OSError, AttributeError):
            pass


def make_mlp(width, layers=2, classes=10, dim=784):
    mods, d = [], dim
    for _ in range(layers):
        mods += [nn.Linear(d, width), nn.ReLU()]
        d = width
    mods.append(nn.Linear(d, classes))
    return nn.Sequential(*mods)


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def percentile(values, p):
    """numpy's default (linear) percentile, as hpo's MeasureLatency computes it."""
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


class Trainer:
    """One MLP with AdamW and cross-entropy; fp16 on CUDA uses a GradScaler, as PyTorch's AMP recipe does."""

    def __init__(self, env, width, precision, seed, weight_decay=0.01):
        torch.manual_seed(seed)
        self.env, self.precision = env, precision
        self.model = make_mlp(width).to(env.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3, weight_decay=weight_decay)
        self.lossf = nn.CrossEntropyLoss()
        self.scaler = torch.cuda.amp.GradScaler(enabled=precision == "fp16" and env.cuda)

    def step(self, x, y):
        self.opt.zero_grad(set_to_none=True)
        with self.env.autocast(self.precision):
            loss = self.lossf(self.model(x), y)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()


def time_steps(env, step, batch, a):
    """Runs step() a.warmup times, then a.blocks timed blocks of a.steps; returns (batch x steps / block
    time of the median block, process CPU seconds per wall second over the blocks)."""
    for _ in range(a.warmup):
        step()
    env.sync()
    rates, cpu, wall = [], 0.0, 0.0
    for _ in range(a.blocks):
        c0, t0 = cpu_seconds(), time.perf_counter()
        for _ in range(a.steps):
            step()
        env.sync()
        dt = time.perf_counter() - t0
        cpu += cpu_seconds() - c0
        wall += dt
        rates.append(batch * a.steps / dt)
    return statistics.median(rates), cpu / wall


def warm_up(a, env, width, batch):
    """A throwaway trainer of this shape in every precision, --warmup steps each: PyTorch's first trainer
    in a process pays for its lazy set-up (allocator, kernels, thread pools), which later ones do not."""
    g = torch.Generator().manual_seed(a.seed + 1)
    x = torch.randn(batch, 784, generator=g).to(env.device)
    y = torch.randint(0, 10, (batch,), generator=g).to(env.device)
    for precision in env.precisions:
        t = Trainer(env, width, precision, a.seed + 1)
        for _ in range(max(a.warmup, 10)):
            t.step(x, y)
    env.sync()


def mode_step(a, env, out):
    g = torch.Generator().manual_seed(a.seed)
    first_width, first_batch = (int(v) for v in a.shapes[0].split(":"))
    warm_up(a, env, first_width, first_batch)
    for shape in a.shapes:
        width, batch = (int(v) for v in shape.split(":"))
        x = torch.randn(batch, 784, generator=g).to(env.device)
        y = torch.randint(0, 10, (batch,), generator=g).to(env.device)
        for precision in env.precisions:
            t = Trainer(env, width, precision, a.seed)
            key = f"step_{precision}_w{width}_b{batch}"
            out[key + "_sps"], out[key + "_cpu_per_wall"] = time_steps(env, lambda: t.step(x, y), batch, a)


def mode_latency(a, env, out):
    g = torch.Generator().manual_seed(a.seed)
    torch.manual_seed(a.seed)
    model = make_mlp(256).to(env.device).eval()
    x1 = torch.randn(1, 784, generator=g).to(env.device)
    x256 = torch.randn(256, 784, generator=g).to(env.device)
    for threads in ([a.threads] if env.cuda else sorted({1, a.threads})):
        set_threads(threads)
        for precision in env.precisions:
            key = f"lat_{precision}_t{threads}"

            def timed(x):
                t0 = time.perf_counter_ns()
                model(x)
                env.sync()
                return (time.perf_counter_ns() - t0) / 1e6

            with torch.no_grad(), env.autocast(precision):
                for _ in range(a.latency_warmup):
                    timed(x1)
                c0, t0 = cpu_seconds(), time.perf_counter()
                lat = [timed(x1) for _ in range(a.latency_samples)]
                cpu_per_wall = (cpu_seconds() - c0) / (time.perf_counter() - t0)
                for _ in range(3):
                    timed(x256)
                batch_ms = []
                while len(batch_ms) < 10 or (len(batch_ms) < 200 and sum(batch_ms) < 200):
                    batch_ms.append(timed(x256))
            out[key + "_p50_ms"] = percentile(lat, 50)
            out[key + "_p99_ms"] = percentile(lat, 99)
            out[key + "_cpu_per_wall"] = cpu_per_wall
            out[key + "_b256_sps"] = 256 / (statistics.median(batch_ms) / 1e3)
    set_threads(a.threads)


def load_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = struct.unpack(">I", data[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(env):
    """(train images, train labels, test images, test labels) on the device: images n x 784 in [0, 1]."""
    def images(name):
        x = load_idx(f"{DATA}/{name}").reshape(-1, 784).astype(np.float32) / 255.0
        return torch.from_numpy(x).to(env.device)

    def labels(name):
        return torch.from_numpy(load_idx(f"{DATA}/{name}").astype(np.int64)).to(env.device)

    return (images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz"),
            images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))


def train_epochs(env, trainer, xtr, ytr, epochs, batch):
    """Trains `trainer` (a step(x, y) and a model) for `epochs` shuffled epochs of `batch`; returns the
    training seconds."""
    n, train_s = xtr.shape[0], 0.0
    for _ in range(epochs):
        trainer.model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n).to(env.device)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            trainer.step(xtr[idx], ytr[idx])
        env.sync()
        train_s += time.perf_counter() - t0
    return train_s


def mode_accuracy(a, env, out):
    xtr, ytr, xte, yte = fashion_mnist(env)
    n = xtr.shape[0]
    warm_up(a, env, 256, a.batch)
    for precision in env.precisions:
        t = Trainer(env, 256, precision, a.seed)
        train_s = train_epochs(env, t, xtr, ytr, a.epochs, a.batch)
        t.model.eval()
        with torch.no_grad(), env.autocast(precision):
            pred = t.model(xte).float().argmax(1)
        out[f"acc_{precision}_test"] = (pred == yte).float().mean().item()
        out[f"acc_{precision}_sps"] = n * a.epochs / train_s
    out["acc_train_images"] = n
    out["acc_epochs"] = a.epochs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("step", "latency", "accuracy"), required=True)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shapes", nargs="+", default=["256:128", "1024:128"], help="width:batch of each MLP")
    ap.add_argument("--batch", type=int, default=128, help="the batch of --mode accuracy")
    ap.add_argument("--warmup", type=int, default=10, help="untimed training steps first")
    ap.add_argument("--steps", type=int, default=20, help="training steps per timed block")
    ap.add_argument("--blocks", type=int, default=5, help="timed blocks (the median is reported)")
    ap.add_argument("--latency-warmup", type=int, default=200)
    ap.add_argument("--latency-samples", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=5)
    a = ap.parse_args()

    if a.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": f"PyTorch {torch.__version__} here has no CUDA device"}), flush=True)
        sys.exit(1)
    env = Env(a.device)
    set_threads(a.threads)
    out = {"torch_version": torch.__version__, "device": a.device, "threads": a.threads}
    {"step": mode_step, "latency": mode_latency, "accuracy": mode_accuracy}[a.mode](a, env, out)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
