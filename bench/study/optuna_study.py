"""Optuna's side of hpo-bench-study: the Fashion-MNIST accuracy/latency study driven by Optuna's TPE.

One multi-objective study (directions maximize accuracy, minimize latency_ms) of --trials trials with
TPESampler(seed=--seed) (--sampler tpe) or TPESampler(seed=--seed, multivariate=True) (--sampler tpe-mv),
study.optimize(n_jobs=--jobs), over the space of examples/fmnist-quick.json:

  hidden_layers  suggest_int 1..2
  width          suggest_int 16..512, log
  activation     suggest_categorical relu, gelu, tanh
  lr             suggest_float 3e-4..3e-3, log
  batch_size     suggest_categorical "64", "128", "256"

Each trial runs --train-binary (hpo-train) as a child process with exactly the arguments an hpo-worker
gives it for a builtin trial (worker/trial_runner.cc BuildTrainArgs): the parameters as --name=value in
name order, then the fixed knobs (--epochs, --optimizer) in name order, then --seed, --train-limit and
--threads. The seed is the one the coordinator gives trial number n of a study seeded s
(DeriveSeed(s, n) >> 11, base/rng.cc), so trial n trains with the same seed on both sides. The trial's
values are those of hpo-train's metrics line (its last stdout line that is a JSON object without "step").
A trial whose hpo-train fails is a FAIL trial and the study goes on.

Output, on stdout, one JSON object a line:
  {"optuna": "<version>", "sampler": "tpe", "seed": 1}                    first
  {"number": 0, "state": "COMPLETE", "accuracy": 0.85, "latency_ms": 0.02,
   "seconds": 4.2, "test_accuracy": 0.84, "train_time_s": 3.1, "seed": 123, "params": {...}}
                                                                          one per trial, in order
  {"done": 1, "wall_s": 123.4, "trials": 40}                              last
On a failure of the study itself: {"error": "..."} and exit status 1.

Run: /usr/bin/python3 optuna_study.py --train-binary build/bin/hpo-train --seed 1 --trials 40 --jobs 2
      --epochs 4 --train-limit 20000 [--sampler tpe-mv]
"""
import argparse
import json
import subprocess
import sys
import time
import warnings

MASK64 = (1 << 64) - 1


def mix64(x):
    """base/rng.cc Mix64 (SplitMix64's finaliser)."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def trial_seed(study_seed, number):
    """The coordinator's trial seed: DeriveSeed(study_seed, number) >> 11 (coordinator/study_runner.cc)."""
    return mix64(mix64(study_seed & MASK64) ^ mix64(~number & MASK64)) >> 11


def value_text(v):
    """A parameter as the worker writes it: ints as integers, floats exactly (repr), strings as they are."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def metrics_line(out):
    """The last stdout line that is a JSON object without "step", or None."""
    for line in reversed(out.splitlines()):
        line = line.strip()
        if not (line.startswith("{") and line.endswith("}")):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "step" not in obj:
            return obj
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-binary", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--optimizer", default="adamw")
    parser.add_argument("--train-limit", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sampler", choices=["tpe", "tpe-mv"], default="tpe")
    args = parser.parse_args()

    try:
        import optuna
    except ImportError as e:
        print(json.dumps({"error": "cannot import optuna: %s" % e}), flush=True)
        return 1
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    print(json.dumps({"optuna": optuna.__version__, "sampler": args.sampler, "seed": args.seed}), flush=True)

    fixed = {"epochs": str(args.epochs), "optimizer": args.optimizer}

    def objective(trial):
        params = {
            "hidden_layers": trial.suggest_int("hidden_layers", 1, 2),
            "width": trial.suggest_int("width", 16, 512, log=True),
            "activation": trial.suggest_categorical("activation", ["relu", "gelu", "tanh"]),
            "lr": trial.suggest_float("lr", 3e-4, 3e-3, log=True),
            "batch_size": trial.suggest_categorical("batch_size", ["64", "128", "256"]),
        }
        argv = [args.train_binary]
        argv += ["--%s=%s" % (k, value_text(params[k])) for k in sorted(params)]
        argv += ["--%s=%s" % (k, fixed[k]) for k in sorted(fixed) if k not in params]
        seed = trial_seed(args.seed, trial.number)
        trial.set_user_attr("seed", seed)
        argv += ["--seed=%d" % seed,
                 "--train-limit=%d" % args.train_limit, "--threads=%d" % args.threads]
        child = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        if child.returncode != 0:
            tail = child.stderr.strip().splitlines()[-1:] or ["no stderr"]
            raise RuntimeError("hpo-train exited with status %d: %s" % (child.returncode, tail[0]))
        metrics = metrics_line(child.stdout)
        if metrics is None or "accuracy" not in metrics or "latency_ms" not in metrics:
            raise RuntimeError("hpo-train printed no metrics line")
        for key in ("test_accuracy", "train_time_s"):
            if key in metrics:
                trial.set_user_attr(key, metrics[key])
        return float(metrics["accuracy"]), float(metrics["latency_ms"])

    sampler = optuna.samplers.TPESampler(seed=args.seed, multivariate=(args.sampler == "tpe-mv"))
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    start = time.monotonic()
    try:
        study.optimize(objective, n_trials=args.trials, n_jobs=args.jobs, catch=(RuntimeError,))
    except Exception as e:  # a failure of the study itself, not of one trial
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}), flush=True)
        return 1
    wall_s = time.monotonic() - start

    for t in sorted(study.trials, key=lambda t: t.number):
        row = {"number": t.number, "state": t.state.name, "params": t.params}
        if t.duration is not None:
            row["seconds"] = t.duration.total_seconds()
        if t.values is not None:
            row["accuracy"], row["latency_ms"] = t.values
        row.update({k: v for k, v in t.user_attrs.items()})
        print(json.dumps(row), flush=True)
    print(json.dumps({"done": 1, "wall_s": wall_s, "trials": len(study.trials)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
