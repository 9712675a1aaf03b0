#!/usr/bin/python3
"""Optuna's side of hpo-bench-load: the ask/tell rate of Optuna on durable storage, in one or more processes.

A fresh study in --dir (optuna.db for --storage sqlite, optuna.journal for --storage journal: Optuna's
JournalFileStorage, which its documentation recommends for several processes on one machine without a
database server; both fsync every write), NSGAIISampler (--population, --seed), four float parameters
x1..x4 in [0, 1] and two minimised objectives, ZDT1 computed at once from them (the same synthetic task
the coordinator's study runs): --trials rounds of study.ask(), four suggest_float calls and study.tell(),
timed together. Optuna's logging is at WARNING.

With --processes P > 1 the study is created first, then P processes (spawned, each importing Optuna and
loading the study with a sampler seeded --seed + its index) wait at one barrier and share the trials
between them, as Optuna's documentation runs a study in parallel. The rate is all trials over the time
from the barrier to the last process's last tell. A write refused because the database was locked is
retried (and counted).

Prints exactly one JSON object on one line of stdout:
  {"optuna_version": "3.1.0", "storage": "sqlite", "processes": 2, "trials": 200, "seconds": 31.2,
   "trials_per_s": 6.4, "cycle_ms_p50": 150.1, "cycle_ms_p99": 300.2, "retries": 0, "completed": 200}
On failure the line is {"error": "..."} and the exit status 1.
"""
import argparse
import json
import math
import multiprocessing
import os
import statistics
import sys
import time
import warnings

STUDY = "hpo-bench-load"


def zdt1(x):
    f1 = x[0]
    g = 1.0 + 9.0 * sum(x[1:]) / (len(x) - 1)
    return f1, g * (1.0 - math.sqrt(f1 / g))


def percentile(sorted_values, q):
    k = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[k - 1]


def import_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    return optuna


def storage_for(optuna, kind, folder):
    if kind == "journal":
        return optuna.storages.JournalStorage(
            optuna.storages.JournalFileStorage(os.path.join(folder, "optuna.journal")))
    return optuna.storages.RDBStorage("sqlite:///" + os.path.join(folder, "optuna.db"))


def locked(error):
    return "locked" in str(error)


def run_trials(optuna, study, trials):
    """trials rounds of ask/suggest/tell; (cycle milliseconds, retries)."""
    cycle_ms, retries = [], 0
    for _ in range(trials):
        began = time.perf_counter()
        while True:
            try:
                trial = study.ask()
                break
            except Exception as e:  # noqa: BLE001 - only a locked database is retried
                if not locked(e):
                    raise
                retries += 1
        x = [trial.suggest_float("x%d" % (i + 1), 0.0, 1.0) for i in range(4)]
        values = list(zdt1(x))
        for attempt in range(100):
            try:
                study.tell(trial, values)
                break
            except Exception as e:  # noqa: BLE001
                if not locked(e) or attempt == 99:
                    raise
                retries += 1
        cycle_ms.append(1e3 * (time.perf_counter() - began))
    return cycle_ms, retries


def worker(index, trials, args, barrier, results):
    try:
        optuna = import_optuna()
        study = optuna.load_study(
            study_name=STUDY, storage=storage_for(optuna, args.storage, args.dir),
            sampler=optuna.samplers.NSGAIISampler(population_size=args.population, seed=args.seed + index))
        barrier.wait()
        start = time.monotonic()
        cycle_ms, retries = run_trials(optuna, study, trials)
        results.put({"start": start, "end": time.monotonic(), "cycle_ms": cycle_ms, "retries": retries})
    except Exception as e:  # noqa: BLE001 - reported through the queue
        barrier.abort()
        results.put({"error": "process %d: %s: %s" % (index, type(e).__name__, e)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--dir", required=True, help="an existing folder for the study's storage")
    parser.add_argument("--storage", choices=["sqlite", "journal"], default="sqlite")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--population", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.processes < 1 or args.trials < args.processes:
        raise ValueError("--processes must be at least 1 and at most --trials")

    optuna = import_optuna()
    for name in ("optuna.db", "optuna.journal"):
        path = os.path.join(args.dir, name)
        if os.path.exists(path):
            os.remove(path)
    study = optuna.create_study(
        study_name=STUDY,
        storage=storage_for(optuna, args.storage, args.dir),
        directions=["minimize", "minimize"],
        sampler=optuna.samplers.NSGAIISampler(population_size=args.population, seed=args.seed),
    )
    if args.processes == 1:
        start = time.perf_counter()
        cycle_ms, retries = run_trials(optuna, study, args.trials)
        seconds = time.perf_counter() - start
    else:
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(args.processes)
        results = context.Queue()
        shares = [args.trials // args.processes + (i < args.trials % args.processes)
                  for i in range(args.processes)]
        processes = [context.Process(target=worker, args=(i, shares[i], args, barrier, results))
                     for i in range(args.processes)]
        for p in processes:
            p.start()
        ended = [results.get() for _ in processes]
        for p in processes:
            p.join()
        errors = [e["error"] for e in ended if "error" in e]
        if errors:
            raise RuntimeError("; ".join(errors))
        seconds = max(e["end"] for e in ended) - min(e["start"] for e in ended)
        cycle_ms = [ms for e in ended for ms in e["cycle_ms"]]
        retries = sum(e["retries"] for e in ended)
    completed = sum(1 for t in study.get_trials(deepcopy=False)
                    if t.state == optuna.trial.TrialState.COMPLETE)
    cycle_ms.sort()
    print(json.dumps({
        "optuna_version": optuna.__version__,
        "storage": args.storage,
        "processes": args.processes,
        "trials": args.trials,
        "seconds": seconds,
        "trials_per_s": args.trials / seconds if seconds > 0 else None,
        "cycle_ms_p50": statistics.median(cycle_ms) if cycle_ms else None,
        "cycle_ms_p99": percentile(cycle_ms, 0.99) if cycle_ms else None,
        "retries": retries,
        "completed": completed,
    }))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # the one line the bench reads, whatever went wrong
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
        sys.exit(1)
