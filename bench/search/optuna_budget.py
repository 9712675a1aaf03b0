"""Optuna's side of hpo-bench-search --section budget: TPE at small budgets on the same problems.

For each problem, sampler and seed, one study of --trials trials through ask/tell (directions all
"minimize"; every variable a suggest_float over its box, named x0, x1, ...), then one JSON line:

  {"problem": "zdt1", "sampler": "tpe", "seed": 1, "trials": 200, "dims": 10, "objectives": 2,
   "constraints": 0, "ask_ms_median": 4.2, "ask_tell_ms_median": 4.9,
   "x": [...], "f": [...], "g": [...]}

x, f and g are flat lists in trial order (trials * dims, trials * objectives, trials * constraints
numbers; g is empty for an unconstrained problem), each number as Python's repr writes it, so that
it reads back exactly. The bench re-evaluates x with its own problems and checks f and g, then
computes every hypervolume itself, so both sides are judged by the same code. ask_ms_median is the
median time of study.ask() and the suggest_float calls (the proposal: TPE samples in suggest_float,
or in ask for the multivariate sampler), ask_tell_ms_median the same plus study.tell().

Each line also carries "optuna" (the version), "script_version" and "cached": 1 when the run was read
from --cache rather than run now. The first line is {"optuna": "<version>"}; on a failure a line
{"error": "..."} and exit status 1. Progress, one line per run, goes to stderr.

A run is deterministic (a seeded sampler on deterministic functions), so --cache FILE reuses the
runs FILE holds for the same problem, dims, sampler, seed, trials, Optuna version and SCRIPT_VERSION
(ask_ms included: the time measured when it ran), and appends the runs made now. This matters for
DTLZ2: Optuna 3.1's multi-objective TPE selects its "good" trials by greedy hypervolume subset
selection with a pure-Python WFG, again for every parameter (independent sampling), so one default
run of 200 trials on 3 objectives takes about 4 minutes. --jobs N runs N studies at once.

Samplers:
  tpe     TPESampler(seed=s), the defaults (the figures issue 7 quotes)
  tpe-mv  TPESampler(seed=s, multivariate=True)
  random  RandomSampler(seed=s)
For a constrained problem the TPE samplers get constraints_func (each g_j <= 0 holds), Optuna's way.

Run: /usr/bin/python3 optuna_budget.py --problems zdt1:10,tnk:2 --samplers tpe,tpe-mv --seeds 1,2,3
      --trials 200 [--jobs 2] [--cache /tmp/optuna_budget_cache.jsonl]
"""
import argparse
import json
import math
import statistics
import sys
import time
import warnings


def zdt_g(x):
    return 1.0 + 9.0 * sum(x[1:]) / (len(x) - 1)


def zdt1(x):
    f1 = x[0]
    g = zdt_g(x)
    return [f1, g * (1.0 - math.sqrt(f1 / g))]


def zdt2(x):
    f1 = x[0]
    g = zdt_g(x)
    return [f1, g * (1.0 - (f1 / g) * (f1 / g))]


def zdt3(x):
    f1 = x[0]
    g = zdt_g(x)
    return [f1, g * (1.0 - math.sqrt(f1 / g) - (f1 / g) * math.sin(10.0 * math.pi * f1))]


def dtlz2(x):
    g = sum((v - 0.5) * (v - 0.5) for v in x[2:])
    s = 1.0 + g
    a = x[0] * math.pi / 2.0
    b = x[1] * math.pi / 2.0
    return [s * math.cos(a) * math.cos(b), s * math.cos(a) * math.sin(b), s * math.sin(a)]


def tnk(x):
    return [x[0], x[1]]


def tnk_constraints(x):
    # atan2(x1, x2) is atan(x1 / x2) for x2 > 0 and pi/2 at x2 = 0 (x1 > 0).
    g1 = -(x[0] * x[0] + x[1] * x[1] - 1.0 - 0.1 * math.cos(16.0 * math.atan2(x[0], x[1])))
    g2 = (x[0] - 0.5) * (x[0] - 0.5) + (x[1] - 0.5) * (x[1] - 0.5) - 0.5
    return [g1, g2]


# name -> (objectives, evaluate, constraints or None, box of every variable)
PROBLEMS = {
    "zdt1": (2, zdt1, None, (0.0, 1.0)),
    "zdt2": (2, zdt2, None, (0.0, 1.0)),
    "zdt3": (2, zdt3, None, (0.0, 1.0)),
    "dtlz2": (3, dtlz2, None, (0.0, 1.0)),
    "tnk": (2, tnk, tnk_constraints, (0.0, math.pi)),
}


def make_sampler(optuna, name, seed, constraints):
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    kwargs = {"seed": seed}
    if name == "tpe-mv":
        kwargs["multivariate"] = True
    elif name != "tpe":
        raise ValueError("unknown sampler " + name)
    if constraints is not None:
        kwargs["constraints_func"] = lambda trial: trial.user_attrs["g"]
    return optuna.samplers.TPESampler(**kwargs)


def run(optuna, problem, dims, sampler_name, seed, trials):
    num_objectives, evaluate, constraints, (lo, hi) = PROBLEMS[problem]
    sampler = make_sampler(optuna, sampler_name, seed, constraints)
    study = optuna.create_study(directions=["minimize"] * num_objectives, sampler=sampler)
    xs, fs, gs, ask_ms, ask_tell_ms = [], [], [], [], []
    for _ in range(trials):
        start = time.perf_counter()
        trial = study.ask()
        x = [trial.suggest_float("x%d" % i, lo, hi) for i in range(dims)]
        asked = time.perf_counter()
        f = evaluate(x)
        g = constraints(x) if constraints is not None else []
        if constraints is not None:
            trial.set_user_attr("g", g)
        told_start = time.perf_counter()
        study.tell(trial, f)
        told = time.perf_counter()
        ask_ms.append((asked - start) * 1e3)
        ask_tell_ms.append((asked - start + told - told_start) * 1e3)
        xs.extend(x)
        fs.extend(f)
        gs.extend(g)
    return {
        "problem": problem,
        "sampler": sampler_name,
        "seed": seed,
        "trials": trials,
        "dims": dims,
        "objectives": num_objectives,
        "constraints": 0 if constraints is None else 2,
        "ask_ms_median": statistics.median(ask_ms),
        "ask_tell_ms_median": statistics.median(ask_tell_ms),
        "x": xs,
        "f": fs,
        "g": gs,
    }


# Bump when a change here changes what a run returns, so that cached runs of the old script are not reused.
SCRIPT_VERSION = 1


def cache_key(optuna_version, problem, dims, sampler, seed, trials):
    return (SCRIPT_VERSION, optuna_version, problem, dims, sampler, seed, trials)


def read_cache(path):
    """The runs a cache file holds, by key; a missing file or a line that does not parse is skipped."""
    runs = {}
    try:
        with open(path) as f:
            for line in f:
                try:
                    r = json.loads(line)
                    key = cache_key(r["optuna"], r["problem"], r["dims"], r["sampler"], r["seed"], r["trials"])
                    if r.get("script_version") == SCRIPT_VERSION:
                        runs[key] = r
                except (ValueError, KeyError, TypeError):
                    continue
    except OSError:
        pass
    return runs


def run_task(task):
    """One run in a worker process (or in this one): (its JSON object, seconds)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    name, dims, sampler_name, seed, trials = task
    start = time.perf_counter()
    result = run(optuna, name, dims, sampler_name, seed, trials)
    result["script_version"] = SCRIPT_VERSION
    result["optuna"] = optuna.__version__
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", required=True, help="name:dims,... (zdt1, zdt2, zdt3, dtlz2, tnk)")
    parser.add_argument("--samplers", default="tpe,tpe-mv", help="tpe, tpe-mv, random")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, each in its own process")
    parser.add_argument("--cache", default="", help="a file of finished runs to reuse and add to")
    args = parser.parse_args()
    try:
        import optuna
    except ImportError as e:
        print(json.dumps({"error": "optuna is not installed (%s)" % e}), flush=True)
        return 1
    print(json.dumps({"optuna": optuna.__version__}), flush=True)
    try:
        tasks = []
        for item in args.problems.split(","):
            name, dims = item.split(":")
            if name not in PROBLEMS:
                raise ValueError("unknown problem " + name)
            for sampler_name in args.samplers.split(","):
                for seed in args.seeds.split(","):
                    tasks.append((name, int(dims), sampler_name, int(seed), args.trials))
        cached = read_cache(args.cache) if args.cache else {}
        to_run = []
        for task in tasks:
            hit = cached.get(cache_key(optuna.__version__, *task))
            if hit is None:
                to_run.append(task)
            else:
                print(json.dumps(dict(hit, cached=1)), flush=True)
        print("optuna_budget: %d runs from the cache, %d to run" % (len(tasks) - len(to_run), len(to_run)),
              file=sys.stderr, flush=True)
        if args.jobs > 1 and len(to_run) > 1:
            import multiprocessing

            pool = multiprocessing.get_context("fork").Pool(min(args.jobs, len(to_run)))
            results = pool.imap_unordered(run_task, to_run)
        else:
            pool = None
            results = map(run_task, to_run)
        for result, seconds in results:
            line = json.dumps(result)
            if args.cache:
                with open(args.cache, "a") as f:
                    f.write(line + "\n")
            print(json.dumps(dict(result, cached=0)), flush=True)
            print("optuna_budget: %s %s seed %d: %d trials in %.1f s"
                  % (result["problem"], result["sampler"], result["seed"], result["trials"], seconds),
                  file=sys.stderr, flush=True)
        if pool is not None:
            pool.close()
            pool.join()
    except Exception as e:  # one line the bench can show, whatever went wrong
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
