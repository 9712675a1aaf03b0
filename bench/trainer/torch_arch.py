#!/usr/bin/python3
"""PyTorch's figures for hpo-bench-trainer's arch section: the CNN, ViT and language model of
bench/trainer/torch_models.py (the twins of hpo's families, also checked against them by
tests/trainer/torch_parity_test.cc), with the same shapes, batch and optimizer as the C++ side.

Run by hpo-bench-trainer with Debian's /usr/bin/python3 in the bench's environment, with --threads as
torch_step.py; prints exactly one JSON object on one line of stdout, with flat keys. PyTorch is measured
warm: a throwaway trainer of the first model runs --warmup steps in every precision before any timing.

  --mode arch           --spec '{"models": [{"tag", "family", "config", "batch", "precisions",
                        "latency", "decode", "prompt"}, ...]}' (config: hpo's field names, see
                        torch_models.py). Per model:
                          training on random inputs preloaded as tensors, AdamW lr 1e-3 (weight decay 0.01
                          on weight matrices), fp32 or bf16 autocast: <tag>_train_<precision>_sps (rows per
                          second at the median block; a row is an image or a sequence) and ..._cpu_per_wall;
                          with latency: batch-1 forward passes under no_grad in eval mode, eager and
                          torch.jit.trace: <tag>_lat_eager_p50_ms, ..._p99_ms, <tag>_lat_jit_p50_ms, ..._p99_ms;
                          with decode (lm): after a prompt of `prompt` tokens fills the preallocated KV cache,
                          the step of the next token at that position, timed repeatedly:
                          <tag>_decode_p50_ms, ..._p99_ms.
  --mode arch-accuracy  --spec '{"models": [{"tag", "family", "config"}, ...]}' and --recipes
                        '{"<tag>": {"lr", "weight_decay", "schedule", "warmup_fraction",
                        "label_smoothing"}}' (hpo's knobs; schedule constant, cosine or warmup_cosine,
                        stepped per optimizer step as hpo's trainer/schedule.cc): Fashion-MNIST, --epochs
                        epochs of all 60,000 training images at --batch, AdamW (weight decay on weight
                        matrices), fp32: <tag>_acc_test and <tag>_acc_sps (images x epochs / training
                        time).
On failure the line is {"error": "..."} and the exit status 1.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402
import torch_step  # noqa: E402


class ArchTrainer:
    """One model of torch_models with AdamW and the mean cross-entropy over every output row."""

    def __init__(self, env, spec, precision, seed, recipe=None, total_steps=1):
        torch.manual_seed(seed)
        recipe = recipe or {}
        self.env, self.precision = env, precision
        self.smoothing = recipe.get("label_smoothing", 0.0)
        self.model = torch_models.build(spec["family"], spec["config"]).to(env.device)
        lr = recipe.get("lr", 1e-3)
        self.opt = torch.optim.AdamW(torch_models.decay_groups(self.model, recipe.get("weight_decay", 0.01)),
                                     lr=lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, schedule(recipe.get("schedule", "constant"), total_steps, recipe.get("warmup_fraction", 0.0)))
        self.scaler = torch.cuda.amp.GradScaler(enabled=precision == "fp16" and env.cuda)

    def step(self, x, y):
        self.opt.zero_grad(set_to_none=True)
        with self.env.autocast(self.precision):
            logits = self.model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1),
                                   label_smoothing=self.smoothing)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        self.sched.step()


def schedule(kind, total, warmup_fraction):
    """The multiplier of the peak rate at optimizer step t (from 0), as hpo's LrSchedule::At."""
    warmup = min(math.ceil(warmup_fraction * total), total - 1) if kind == "warmup_cosine" else 0

    def at(t):
        t = min(t, total - 1)
        if kind == "constant":
            return 1.0
        if t < warmup:
            return (t + 1) / warmup
        progress = min(1.0, (t - warmup) / max(1, total - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return at


def inputs(env, spec, batch, g):
    """Random inputs and labels of `batch` rows for the model of `spec`."""
    c = spec["config"]
    if spec["family"] == "lm":
        x = torch.randint(0, c.get("vocab", 256), (batch, c["seq_len"]), generator=g)
        y = torch.randint(0, c.get("vocab", 256), (batch, c["seq_len"]), generator=g)
    else:
        x = torch.randn(batch, c["height"] * c["width"] * c["channels"], generator=g)
        y = torch.randint(0, c["classes"], (batch,), generator=g)
    return x.to(env.device), y.to(env.device)


def latency(env, run, warmup, samples):
    """(p50, p99) in ms of run() over `samples` timed calls after `warmup` untimed ones."""
    def timed():
        t0 = time.perf_counter_ns()
        run()
        env.sync()
        return (time.perf_counter_ns() - t0) / 1e6

    for _ in range(warmup):
        timed()
    lat = [timed() for _ in range(samples)]
    return torch_step.percentile(lat, 50), torch_step.percentile(lat, 99)


def mode_arch(a, env, spec, out):
    g = torch.Generator().manual_seed(a.seed)
    first = spec["models"][0]
    x, y = inputs(env, first, first["batch"], g)
    for precision in first.get("precisions", ["fp32"]):
        if precision in env.precisions:
            t = ArchTrainer(env, first, precision, a.seed + 1)
            for _ in range(max(a.warmup, 3)):
                t.step(x, y)
    env.sync()
    for m in spec["models"]:
        tag = m["tag"]
        x, y = inputs(env, m, m["batch"], g)
        for precision in m.get("precisions", ["fp32"]):
            if precision not in env.precisions:
                continue
            t = ArchTrainer(env, m, precision, a.seed)
            key = f"{tag}_train_{precision}"
            out[key + "_sps"], out[key + "_cpu_per_wall"] = torch_step.time_steps(
                env, lambda: t.step(x, y), m["batch"], a)
        model = torch_models.build(m["family"], m["config"]).to(env.device).eval()
        with torch.no_grad():
            if m.get("latency"):
                x1 = x[:1].clone()
                out[f"{tag}_lat_eager_p50_ms"], out[f"{tag}_lat_eager_p99_ms"] = latency(
                    env, lambda: model(x1), a.latency_warmup, a.latency_samples)
                traced = torch.jit.trace(model, x1)
                out[f"{tag}_lat_jit_p50_ms"], out[f"{tag}_lat_jit_p99_ms"] = latency(
                    env, lambda: traced(x1), a.latency_warmup, a.latency_samples)
            if m.get("decode"):
                prompt = m.get("prompt", 64)
                caches = model.new_caches()
                model(x[:1, :prompt], 0, caches)
                token = x[:1, prompt:prompt + 1].clone()
                out[f"{tag}_decode_p50_ms"], out[f"{tag}_decode_p99_ms"] = latency(
                    env, lambda: model(token, prompt, caches), a.latency_warmup, a.latency_samples)


def mode_arch_accuracy(a, env, spec, out):
    xtr, ytr, xte, yte = torch_step.fashion_mnist(env)
    recipes = json.loads(a.recipes)
    for m in spec["models"]:
        steps = -(-xtr.shape[0] // a.batch) * a.epochs
        t = ArchTrainer(env, m, "fp32", a.seed, recipes.get(m["tag"]), steps)
        train_s = torch_step.train_epochs(env, t, xtr, ytr, a.epochs, a.batch)
        t.model.eval()
        with torch.no_grad():
            pred = torch.cat([t.model(xte[i:i + 1000]).argmax(1) for i in range(0, xte.shape[0], 1000)])
        out[f"{m['tag']}_acc_test"] = (pred == yte).float().mean().item()
        out[f"{m['tag']}_acc_sps"] = xtr.shape[0] * a.epochs / train_s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("arch", "arch-accuracy"), required=True)
    ap.add_argument("--spec", required=True, help="the models, a JSON object (see above)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=5, help="untimed training steps first")
    ap.add_argument("--steps", type=int, default=5, help="training steps per timed block")
    ap.add_argument("--blocks", type=int, default=5, help="timed blocks (the median is reported)")
    ap.add_argument("--latency-warmup", type=int, default=50)
    ap.add_argument("--latency-samples", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--recipes", default="{}", help="per model tag, its training recipe (see above)")
    ap.add_argument("--batch", type=int, default=128, help="the batch of --mode arch-accuracy")
    a = ap.parse_args()

    if a.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": f"PyTorch {torch.__version__} here has no CUDA device"}), flush=True)
        sys.exit(1)
    env = torch_step.Env(a.device)
    torch_step.set_threads(a.threads)
    out = {"torch_version": torch.__version__, "device": a.device, "threads": a.threads}
    try:
        {"arch": mode_arch, "arch-accuracy": mode_arch_accuracy}[a.mode](a, env, json.loads(a.spec), out)
    except Exception as e:  # reported as the one JSON line the bench reads
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        sys.exit(1)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
