#!/usr/bin/python3
"""Optuna's side of hpo-bench-load: the ask/tell rate of one Optuna process on SQLite storage.

A fresh SQLite file (--dir/optuna.db), NSGAIISampler (--population, --seed), four float parameters x1..x4
in [0, 1] and two minimised objectives, ZDT1 computed at once from them (the same synthetic task the
coordinator's study runs): --trials rounds of study.ask(), four suggest_float calls and study.tell(),
timed together. Optuna's logging is at WARNING.

Prints exactly one JSON object on one line of stdout:
  {"optuna_version": "3.1.0", "trials": 200, "seconds": 31.2, "trials_per_s": 6.4,
   "cycle_ms_p50": 150.1, "cycle_ms_p99": 300.2, "completed": 200}
On failure the line is {"error": "..."} and the exit status 1.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time


def zdt1(x):
    f1 = x[0]
    g = 1.0 + 9.0 * sum(x[1:]) / (len(x) - 1)
    return f1, g * (1.0 - math.sqrt(f1 / g))


def percentile(sorted_values, q):
    k = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[k - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--dir", required=True, help="an existing folder for optuna.db")
    parser.add_argument("--population", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = os.path.join(args.dir, "optuna.db")
    if os.path.exists(path):
        os.remove(path)
    study = optuna.create_study(
        study_name="hpo-bench-load",
        storage="sqlite:///" + path,
        directions=["minimize", "minimize"],
        sampler=optuna.samplers.NSGAIISampler(population_size=args.population, seed=args.seed),
    )
    cycle_ms = []
    start = time.perf_counter()
    for _ in range(args.trials):
        began = time.perf_counter()
        trial = study.ask()
        x = [trial.suggest_float("x%d" % (i + 1), 0.0, 1.0) for i in range(4)]
        study.tell(trial, list(zdt1(x)))
        cycle_ms.append(1e3 * (time.perf_counter() - began))
    seconds = time.perf_counter() - start
    completed = sum(1 for t in study.get_trials(deepcopy=False)
                    if t.state == optuna.trial.TrialState.COMPLETE)
    cycle_ms.sort()
    print(json.dumps({
        "optuna_version": optuna.__version__,
        "trials": args.trials,
        "seconds": seconds,
        "trials_per_s": args.trials / seconds if seconds > 0 else None,
        "cycle_ms_p50": statistics.median(cycle_ms) if cycle_ms else None,
        "cycle_ms_p99": percentile(cycle_ms, 0.99) if cycle_ms else None,
        "completed": completed,
    }))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # the one line the bench reads, whatever went wrong
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
        sys.exit(1)
