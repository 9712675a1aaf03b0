"""Integration: the Python client (hpo_client) against a real hpo-coordinator on a free loopback port,
with a bearer token, on a fresh SQLite file; and an hpo-worker for a synthetic study.

ctest runs it with PYTHONPATH at the assembled client (build/python) and HPO_BIN_DIR at build/bin:
    python3 tests/integration/python_client_test.py
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coordinator_process import BIN, TOKEN, Coordinator  # noqa: E402

try:
    import grpc
    import hpo_client
except ImportError as e:  # say what is missing rather than skipping
    sys.exit(
        f"python_client_test: {e}. It needs python3-grpcio and python3-protobuf (deploy/install-deps.sh) "
        "and PYTHONPATH at the build tree's python/ (the hpo_python target)"
    )


def dominates(a, b, directions):
    """True when metric dict a dominates b for {name: "MINIMIZE" | "MAXIMIZE"}."""
    better = False
    for name, direction in directions.items():
        x, y = a[name], b[name]
        if direction == "MAXIMIZE":
            x, y = -x, -y
        if x > y:
            return False
        if x < y:
            better = True
    return better


def brute_force_front(trials, directions):
    completed = [t for t in trials if t["state"] == "completed"]
    return {
        t["number"]
        for t in completed
        if not any(dominates(o["metrics"], t["metrics"], directions) for o in completed)
    }


def minimised(metrics, directions):
    """A metric dict as a point to minimise, in the order of `directions` (a maximised value negated)."""
    return [-metrics[n] if d == "MAXIMIZE" else metrics[n] for n, d in directions.items()]


def worst_plus_tenth(points):
    """docs/hypervolume.md's rule on minimised points: per objective, the worst value plus a tenth of the
    range; a tenth of the value's magnitude (1 for 0) when every point has the same value."""
    reference = []
    for values in zip(*points):
        worst, best = max(values), min(values)
        margin = 0.1 * (worst - best) if worst > best else (0.1 * abs(worst) if worst != 0 else 1.0)
        reference.append(worst + margin)
    return reference


def brute_force_hypervolume(points, reference):
    """The volume that minimised `points` dominate below `reference`, by brute force in any dimension: the
    grid of every point's coordinates (and the reference's), a cell counted when some point weakly
    dominates its lower corner."""
    inside = [p for p in points if all(v < r for v, r in zip(p, reference))]
    axes = [sorted({p[k] for p in inside} | {reference[k]}) for k in range(len(reference))]
    volume = 0.0

    def cells(k, corner, size):
        nonlocal volume
        if k == len(axes):
            if any(all(v <= c for v, c in zip(p, corner)) for p in inside):
                volume += size
            return
        for lo, hi in zip(axes[k], axes[k][1:]):
            cells(k + 1, corner + [lo], size * (hi - lo))

    cells(0, [], 1.0)
    return volume


def external_spec(name, max_trials, max_parallel=0, lease_seconds=0, seed=5):
    return {
        "name": name,
        "parameters": [
            {"name": "x", "float": {"low": 0.0, "high": 1.0}},
            {"name": "n", "int": {"low": 1, "high": 5}},
            {"name": "act", "categorical": {"choices": ["relu", "tanh"]}},
        ],
        "objectives": [
            {"name": "cost", "direction": "MINIMIZE"},
            {"name": "quality", "direction": "MAXIMIZE"},
        ],
        "algorithm": {"random": {}},
        "budget": {"max_trials": max_trials, "max_parallel": max_parallel, "lease_seconds": lease_seconds},
        "task": {"external": {}},
        "seed": seed,
    }


def pruning_spec(name, max_trials, max_parallel=1, seed=3):
    """An external study of one parameter x whose quality (maximised) grows with x, with an ASHA pruner
    over 9 steps (rungs at steps 1 and 3, reduction factor 3)."""
    return {
        "name": name,
        "parameters": [{"name": "x", "float": {"low": 0.0, "high": 1.0}}],
        "objectives": [{"name": "quality", "direction": "MAXIMIZE"}],
        "algorithm": {"random": {}},
        "budget": {"max_trials": max_trials, "max_parallel": max_parallel},
        "task": {"external": {}},
        "pruner": {"asha": {"max_resource": 9}},
        "seed": seed,
    }


def quality(x, step):
    """What a trial reports at `step` (1..9): a learning curve that ends at x."""
    return x * step / 9


def expected_asha(xs, rungs=(1, 3), eta=3):
    """ASHA's decisions (search/pruner.h) for trials evaluated one after another in this order with the
    reports of quality(): the step each is pruned at, or None. A trial reaching a rung goes on iff its
    rank among the n trials there so far (itself included; ties to the earlier) is within
    max(1, n // eta)."""
    at_rung = {r: [] for r in rungs}
    pruned = []
    for x in xs:
        stop = None
        for r in rungs:
            value = quality(x, r)
            at_rung[r].append(value)
            rank = 1 + sum(1 for v in at_rung[r][:-1] if v >= value)
            if rank > max(1, len(at_rung[r]) // eta):
                stop = r
                break
        pruned.append(stop)
    return pruned


def _double(value):
    from hpo.v1 import study_pb2

    return study_pb2.ParamValue(double_value=float(value))


def evaluate(params):
    """A made-up trade-off: quality grows with x, so does cost."""
    x, n = params["x"], params["n"]
    cost = x * x + 0.1 * n + (0.05 if params["act"] == "tanh" else 0.0)
    quality = math.sqrt(x) - 0.01 * n
    return {"cost": cost, "quality": quality}


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="hpo-python-client-")
        cls.coordinator = Coordinator(cls.dir)
        cls.address = cls.coordinator.address

    @classmethod
    def tearDownClass(cls):
        cls.coordinator.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def client(self, **kwargs):
        kwargs.setdefault("address", self.address)
        kwargs.setdefault("token", TOKEN)
        client = hpo_client.Client(**kwargs)
        self.addCleanup(client.close)
        return client

    def test_ask_tell_drives_a_study_to_completion(self):
        client = self.client()
        study = client.create_study(external_spec("ask-tell", max_trials=12, max_parallel=3))
        self.assertEqual(study.state, "running")
        self.assertEqual(study.name, "ask-tell")

        told = {}  # number -> (params, metrics)
        failed = set()
        # Three at once: the budget's max_parallel; a fourth must wait.
        batch = [study.ask(timeout=10) for _ in range(3)]
        self.assertTrue(all(t is not None for t in batch))
        self.assertEqual(len({t.id for t in batch}), 3)
        with self.assertRaises(TimeoutError):
            study.ask(timeout=0.5)
        pending = list(batch)
        while pending:
            trial = pending.pop(0)
            self.assertEqual(trial.study_id, study.id)
            self.assertEqual(set(trial.params), {"x", "n", "act"})
            self.assertTrue(0.0 <= trial.params["x"] <= 1.0)
            self.assertIsInstance(trial.params["n"], int)
            self.assertTrue(1 <= trial.params["n"] <= 5)
            self.assertIn(trial.params["act"], ("relu", "tanh"))
            if trial.number == 4:
                study.tell_failed(trial, "diverged at step 3")
                failed.add(trial.number)
            else:
                metrics = evaluate(trial.params)
                study.tell(trial, metrics)
                told[trial.number] = (dict(trial.params), metrics)
            nxt = study.ask(timeout=10)
            if nxt is not None:
                pending.append(nxt)
        self.assertIsNone(study.ask(timeout=5))  # the study has ended

        progress = study.wait(interval=0.1, timeout=10)
        self.assertEqual(progress.state, "completed")
        self.assertEqual((progress.completed, progress.failed, progress.running), (11, 1, 0))
        self.assertEqual(len(told), 11)
        self.assertEqual(failed, {4})

        trials = study.trials(state=["completed", "failed"])
        self.assertEqual(len(trials), 12)
        for t in trials:
            if t["state"] == "failed":
                self.assertEqual(t["number"], 4)
                self.assertEqual(t["error"], "diverged at step 3")
                continue
            params, metrics = told[t["number"]]
            self.assertEqual(t["params"], params)
            self.assertEqual(t["metrics"], metrics)  # the same doubles, bit for bit
            self.assertEqual(t["attempt"], 1)
        self.assertEqual([t["number"] for t in study.trials(state="failed")], [4])
        self.assertEqual(len(study.trials("completed")), 11)

        directions = {"cost": "MINIMIZE", "quality": "MAXIMIZE"}
        front = study.pareto_front()
        self.assertEqual({t["number"] for t in front}, brute_force_front(trials, directions))
        self.assertGreaterEqual(len(front), 1)
        costs = [t["metrics"]["cost"] for t in front]
        self.assertEqual(costs, sorted(costs))  # best first by the first objective
        for t in front:
            self.assertEqual(t["metrics"], told[t["number"]][1])

        # The coordinator's analysis: the same front, and quality (sqrt(x) - 0.01 n) owes most to x.
        analysis = study.analyze()
        self.assertEqual([t["id"] for t in analysis["front"]["trials"]], [t["id"] for t in front])
        self.assertEqual(list(analysis["importance"]), ["cost", "quality"])
        self.assertEqual(next(iter(analysis["importance"]["quality"])), "x")
        self.assertAlmostEqual(sum(analysis["importance"]["quality"].values()), 1.0, places=9)
        self.assertEqual(len(analysis["front"]["history"]), 11)
        self.assertTrue(analysis["method"].startswith("fanova"))

    def test_ask_of_a_study_whose_end_is_still_being_stored_returns_none(self):
        # The coordinator stops handing out trials the moment a study's last result is in, while GetStudy
        # says "running" until that change is stored: ask() waits for the state instead of raising (under
        # load, optimize(n_jobs=3) raised "study 9 is not running" here once in 20 runs).
        client = self.client()
        study = client.create_study(external_spec("ending", max_trials=1))
        trial = study.ask(timeout=10)
        study.tell(trial, evaluate(trial.params))
        real_call, real_refresh = client._worker_call, study.refresh
        refreshes = []

        def refused(method, request, timeout=None):
            if method == "AcquireTrial":
                raise hpo_client.HpoError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"study {study.id} is ending (its last result is being stored); "
                    "it hands out no more trials",
                )
            return real_call(method, request, timeout)

        def slow_refresh():
            refreshes.append(1)
            return study if len(refreshes) <= 3 else real_refresh()  # "running" three more times

        client._worker_call, study.refresh = refused, slow_refresh
        self.assertIsNone(study.ask(timeout=10))
        self.assertEqual(len(refreshes), 4)
        self.assertEqual(study.state, "completed")

        # A refusal for another reason, while the study runs, is raised at once.
        other = client.create_study(external_spec("selector", max_trials=2))
        other_refreshes = []
        other.refresh = lambda: other_refreshes.append(1) or other

        def mismatch(method, request, timeout=None):
            raise hpo_client.HpoError(grpc.StatusCode.FAILED_PRECONDITION, "worker_selector wants gpu=H100")

        client._worker_call = mismatch
        with self.assertRaises(hpo_client.HpoError):
            other.ask(timeout=10)
        self.assertEqual(len(other_refreshes), 1)
        client._worker_call = real_call

    def test_report_prunes_a_trial_which_then_is_over(self):
        client = self.client()
        study = client.create_study(pruning_spec("pruned", max_trials=12))
        xs, pruned_at, told, prune_reasons = [], [], {}, {}
        while (trial := study.ask(timeout=10)) is not None:
            self.assertFalse(trial.should_prune)  # no report yet
            self.assertEqual(trial.state, "running")
            x = trial.params["x"]
            xs.append(x)
            stop = None
            for step in range(1, 10):
                if trial.report(step, {"quality": quality(x, step)}):
                    stop = step
                    break
                self.assertFalse(trial.should_prune)
            pruned_at.append(stop)
            if stop is None:
                study.tell(trial, {"quality": x})
                told[trial.number] = x
                self.assertEqual(trial.state, "completed")
                continue
            # Pruned: the trial is over here as on the coordinator.
            self.assertTrue(trial.should_prune)
            self.assertTrue(trial.should_stop)
            self.assertEqual(trial.state, "pruned")
            self.assertTrue(
                trial.prune_reason.startswith(f"pruned at step {stop}: asha: rung"), trial.prune_reason
            )
            self.assertEqual(trial.metrics, {"quality": quality(x, stop)})
            prune_reasons[trial.number] = trial.prune_reason
            self.assertTrue(trial.report(stop + 1, {"quality": 1.0}))  # nothing sent: still pruned
            for tell in (lambda: study.tell(trial, {"quality": x}), lambda: study.tell_failed(trial, "no")):
                with self.assertRaises(hpo_client.HpoError) as caught:
                    tell()
                self.assertEqual(caught.exception.code, grpc.StatusCode.FAILED_PRECONDITION)
                self.assertIn(f"trial {trial.id} was pruned at step {stop}: asha: ", caught.exception.message)
                self.assertIn("it has ended", caught.exception.message)

        # ASHA over rungs 1 and 3 decided exactly as the rule says for this order of trials.
        self.assertEqual(len(xs), 12)
        self.assertEqual(pruned_at, expected_asha(xs))
        self.assertGreaterEqual(sum(1 for p in pruned_at if p is not None), 1)
        self.assertIsNone(pruned_at[0])  # the first trial has no one to lose to

        progress = study.wait(interval=0.1, timeout=10)
        self.assertEqual(progress.state, "completed")
        n_pruned = sum(1 for p in pruned_at if p is not None)
        self.assertEqual((progress.completed, progress.pruned, progress.failed), (12 - n_pruned, n_pruned, 0))
        self.assertEqual(progress.finished, 12)
        self.assertIn(f"{n_pruned} pruned", str(progress))
        trials = study.trials(state="pruned")
        self.assertEqual(len(trials), n_pruned)
        for t in trials:
            stop = pruned_at[t["number"]]
            x = xs[t["number"]]
            self.assertEqual(t["metrics"], {"quality": quality(x, stop)})  # the last it reported
            self.assertEqual(t["progress"]["step"], stop)
            self.assertLess(stop, 9)
            self.assertTrue(t["error"].startswith(f"pruned at step {stop}: asha: "), t["error"])
            self.assertEqual(t["error"], prune_reasons[t["number"]])  # what report() was told
        front = study.pareto_front()
        self.assertEqual({t["number"] for t in front}, {max(told, key=told.get)})  # never a pruned one

    def test_optimize_with_pruning_over_threads(self):
        client = self.client()
        study = client.create_study(pruning_spec("optimize-pruned", max_trials=16, max_parallel=3, seed=8))
        seen = []

        def objective(trial):
            x = trial.params["x"]
            for step in range(1, 10):
                if trial.report(step, {"quality": quality(x, step)}):
                    raise hpo_client.TrialPruned()
                time.sleep(0.002)
            return {"quality": x}

        ran = study.optimize(objective, n_jobs=3, callbacks=[lambda s, t: seen.append((s, t.state))])
        self.assertEqual(len(ran), 16)
        self.assertEqual(len(seen), 16)
        self.assertTrue(all(s is study for s, _ in seen))
        states = [t.state for t in ran]
        self.assertEqual(set(states) - {"completed", "pruned"}, set())
        progress = study.wait(interval=0.1, timeout=10)
        self.assertEqual(progress.state, "completed")
        self.assertEqual(
            (progress.completed, progress.pruned, progress.failed),
            (states.count("completed"), states.count("pruned"), 0),
        )
        self.assertGreaterEqual(progress.pruned, 1)
        self.assertGreaterEqual(progress.completed, 1)
        stored = {t["id"]: t for t in study.trials()}
        for t in ran:
            self.assertEqual(stored[t.id]["state"], t.state)
            self.assertEqual(stored[t.id]["metrics"], t.metrics)

    def test_optimize_tells_fails_and_stops_at_n_trials(self):
        client = self.client()
        study = client.create_study(external_spec("optimize", max_trials=10, max_parallel=2))
        names = ["cost", "quality"]

        def objective(trial):
            if trial.number == 3:
                raise RuntimeError("out of memory")
            if trial.number == 4:
                return "oops"  # not metrics: the trial fails
            metrics = evaluate(trial.params)
            # A dict, or the values in the objectives' order.
            return metrics if trial.number % 2 == 0 else [metrics[n] for n in names]

        first = study.optimize(objective, n_trials=6, n_jobs=2)
        self.assertEqual(len(first), 6)
        self.assertEqual(study.progress().state, "running")  # 6 of 10: n_trials stopped it
        rest = study.optimize(objective, n_jobs=2)  # until the study hands out no more
        self.assertEqual(len(rest), 4)
        ran = {t.number: t for t in first + rest}
        self.assertEqual(sorted(ran), list(range(10)))
        progress = study.wait(interval=0.1, timeout=10)
        self.assertEqual(
            (progress.state, progress.completed, progress.failed, progress.pruned), ("completed", 8, 2, 0)
        )
        stored = {t["number"]: t for t in study.trials()}
        self.assertEqual(stored[3]["state"], "failed")
        self.assertEqual(stored[3]["error"], "RuntimeError: out of memory")
        self.assertEqual(stored[4]["state"], "failed")
        self.assertTrue(
            stored[4]["error"].startswith("TypeError: the objective function must return"), stored[4]
        )
        for number, t in ran.items():
            if number in (3, 4):
                self.assertEqual(t.state, "failed")
                continue
            self.assertEqual(t.state, "completed")
            self.assertEqual(stored[number]["metrics"], evaluate(t.params))
            self.assertEqual(t.metrics, evaluate(t.params))
        # Nothing left to ask: optimize returns at once; bad arguments are refused before any call.
        self.assertEqual(study.optimize(objective), [])
        for bad in ({"n_jobs": 0}, {"n_trials": -1}, {"timeout": -1}):
            with self.assertRaises(ValueError):
                study.optimize(objective, **bad)

    def test_optimize_raising_pruned_for_an_unpruned_trial_fails_it_and_timeout_stops(self):
        client = self.client()
        study = client.create_study(external_spec("optimize-timeout", max_trials=50, max_parallel=1))

        def objective(trial):
            if trial.number == 0:
                raise hpo_client.TrialPruned()  # the coordinator did not prune it
            time.sleep(0.3)
            return evaluate(trial.params)

        start = time.monotonic()
        ran = study.optimize(objective, timeout=1.0)
        self.assertLess(time.monotonic() - start, 3.0)
        self.assertGreaterEqual(len(ran), 2)
        self.assertLess(len(ran), 10)
        self.assertEqual(ran[0].state, "failed")
        (failed,) = study.trials(state="failed")
        self.assertEqual(failed["number"], 0)
        self.assertIn("TrialPruned", failed["error"])
        self.assertEqual(study.progress().state, "running")

    def test_heartbeats_keep_the_lease_of_a_slow_evaluation(self):
        client = self.client()
        study = client.create_study(external_spec("slow", max_trials=1, lease_seconds=1))
        trial = study.ask(timeout=10)
        self.assertIsNotNone(trial)
        time.sleep(3.0)  # three lease lengths: only heartbeats keep it
        self.assertFalse(trial.should_stop)
        study.tell(trial, {"cost": 1.0, "quality": 2.0})
        (stored,) = study.trials()
        self.assertEqual(stored["state"], "completed")
        self.assertEqual(stored["attempt"], 1)
        self.assertEqual(stored["metrics"], {"cost": 1.0, "quality": 2.0})
        self.assertEqual(study.wait(timeout=10).state, "completed")

    def test_report_progress_and_cancel_stops_the_trial(self):
        client = self.client()
        study = client.create_study(external_spec("cancelled", max_trials=5))
        trial = study.ask(timeout=10)
        study.report(trial, 3, {"loss": 0.25})
        (running,) = study.trials(state="running")
        self.assertEqual(running["progress"], {"step": 3, "metrics": {"loss": 0.25}})
        study.cancel()
        self.assertEqual(study.state, "cancelled")
        deadline = time.monotonic() + 10
        while not trial.should_stop and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(trial.should_stop)  # told by a heartbeat
        with self.assertRaises(hpo_client.HpoError) as caught:
            study.tell(trial, {"cost": 1.0, "quality": 1.0})
        self.assertEqual(caught.exception.code, grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIsNone(study.ask(timeout=5))

    def test_wait_follows_a_synthetic_study_run_by_a_worker(self):
        log = open(os.path.join(self.dir, "worker.log"), "w")
        worker = subprocess.Popen(
            [
                os.path.join(BIN, "hpo-worker"),
                "--coordinator", self.address,
                "--token-file", self.coordinator.token_file,
                "--slots", "2",
                "--wait-ms", "200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            client = self.client()
            study = client.create_study(
                {
                    "name": "zdt1",
                    "objectives": [
                        {"name": "f1", "direction": "MINIMIZE"},
                        {"name": "f2", "direction": "MINIMIZE"},
                    ],
                    "algorithm": {"nsga2": {"population": 8}},
                    "budget": {"max_trials": 40, "max_parallel": 4},
                    "task": {"synthetic": {"function": "zdt1", "dims": 4}},
                    "seed": 11,
                }
            )
            seen = []
            final = study.wait(callback=seen.append, interval=0.05, timeout=120)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            log.close()
        self.assertEqual(final.state, "completed")
        self.assertEqual(final.completed, 40)
        self.assertEqual(seen[-1], final)
        self.assertGreaterEqual(len(seen), 2)
        finished = [p.finished for p in seen]
        self.assertEqual(finished, sorted(finished))  # progress only moves forward
        self.assertTrue(all(p.max_trials == 40 and p.study_id == study.id for p in seen))

        trials = study.trials()
        completed = [t for t in trials if t["state"] == "completed"]
        self.assertEqual(len(completed), 40)
        for t in completed:
            self.assertEqual(set(t["params"]), {"x1", "x2", "x3", "x4"})
            # ZDT1: f1 = x1, f2 = g (1 - sqrt(f1 / g)), g = 1 + 9 * mean(x2..x4).
            x = [t["params"][f"x{i}"] for i in range(1, 5)]
            g = 1 + 9 * sum(x[1:]) / 3
            self.assertAlmostEqual(t["metrics"]["f1"], x[0], places=12)
            self.assertAlmostEqual(t["metrics"]["f2"], g * (1 - math.sqrt(x[0] / g)), places=9)
        front = study.pareto_front()
        directions = {"f1": "MINIMIZE", "f2": "MINIMIZE"}
        self.assertEqual({t["number"] for t in front}, brute_force_front(trials, directions))

    def hpoctl(self, *args):
        """Runs hpoctl against the test's coordinator; returns its stdout (exit 0 asserted)."""
        done = subprocess.run(
            [os.path.join(BIN, "hpoctl"), "--coordinator", self.address,
             "--token-file", self.coordinator.token_file, *args],
            capture_output=True, text=True, timeout=60,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout

    def test_hypervolume_is_the_coordinators_as_hpoctl_shows_it(self):
        client = self.client()
        study = client.create_study(external_spec("hypervolume", max_trials=9, seed=21))
        empty = study.hypervolume()  # no completed trial: an empty front has none
        self.assertEqual((empty.value, empty.reference_point, empty.rule, empty.trials), (None, [], "", 0))
        self.assertIn("no hypervolume", str(empty))
        while (trial := study.ask(timeout=10)) is not None:
            if trial.number == 2:
                study.tell_failed(trial, "diverged")  # not considered
            else:
                study.tell(trial, evaluate(trial.params))
        self.assertEqual(study.wait(interval=0.1, timeout=10).state, "completed")

        directions = {"cost": "MINIMIZE", "quality": "MAXIMIZE"}
        points = [minimised(t["metrics"], directions) for t in study.trials(state="completed")]
        self.assertEqual(len(points), 8)
        hv = study.hypervolume()
        self.assertEqual(hv.rule, "worst + 10% of range")
        self.assertEqual(hv.trials, 8)
        self.assertEqual(hv.objectives, ["cost", "quality"])
        # The point in the objectives' own directions: quality's lies below every value seen.
        expected_reference = worst_plus_tenth(points)
        self.assertEqual(len(hv.reference_point), 2)
        self.assertAlmostEqual(hv.reference_point[0], expected_reference[0], places=12)
        self.assertAlmostEqual(hv.reference_point[1], -expected_reference[1], places=12)
        self.assertIsNotNone(hv.value)
        self.assertGreater(hv.value, 0.0)
        self.assertAlmostEqual(hv.value, brute_force_hypervolume(points, expected_reference), places=12)

        # The same numbers as hpoctl's: export carries them exactly, show prints them as str() does.
        exported = json.loads(self.hpoctl("export", str(study.id)))["pareto_front"]
        self.assertEqual(exported["hypervolume"], hv.value)
        self.assertEqual(exported["reference_point"], hv.reference_point)
        self.assertEqual(exported["reference_rule"], hv.rule)
        self.assertEqual(exported["considered_trials"], hv.trials)
        shown = [line for line in self.hpoctl("show", str(study.id)).splitlines()
                 if line.startswith("hypervolume")]
        self.assertEqual(len(shown), 1, shown)
        self.assertEqual(" ".join(shown[0].split(None, 1)), str(hv))
        self.assertRegex(
            str(hv),
            r"^hypervolume \S+ \(reference point \[cost \S+, quality \S+\], rule: worst \+ 10% of range\)$",
        )

        # A given point is echoed with the rule "given" (cost <= 1.55 and quality >= -0.05 for every
        # trial, so all lie inside this one); trials not better than it in every objective add nothing.
        given = study.hypervolume([1.6, -0.1])
        self.assertEqual((given.reference_point, given.rule, given.trials), ([1.6, -0.1], "given", 8))
        self.assertGreater(given.value, 0.0)
        self.assertAlmostEqual(given.value, brute_force_hypervolume(points, [1.6, 0.1]), places=12)
        self.assertEqual(
            str(given),
            f"hypervolume {given.value:.4g} (reference point [cost 1.6, quality -0.1], rule: given)",
        )
        try:
            import numpy  # python3-numpy, when there: an array is a point too
        except ImportError:
            pass
        else:
            self.assertEqual(study.hypervolume(numpy.array([1.6, -0.1])), given)
        tight = study.hypervolume((0.5, 0.4))  # any sequence
        self.assertEqual((tight.reference_point, tight.rule), ([0.5, 0.4], "given"))
        self.assertAlmostEqual(tight.value, brute_force_hypervolume(points, [0.5, -0.4]), places=12)

        # The coordinator's refusals, as it words them; what cannot be sent is refused before a call.
        for bad in ([1.0], [1.0, 2.0, 3.0], [1.0, float("nan")], [float("inf"), 0.0]):
            with self.assertRaises(hpo_client.HpoError, msg=bad) as caught:
                study.hypervolume(bad)
            self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT, bad)
            self.assertIn("reference_point", caught.exception.message)
        for bad, phrase in (("0.5,10", "not str"), ({"cost": 1.0}, "not dict"), ([1.0, "2"], "[1] must be")):
            with self.assertRaises(hpo_client.HpoError, msg=bad) as caught:
                study.hypervolume(bad)
            self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn(phrase, caught.exception.message)

    def test_hypervolume_of_the_documented_example(self):
        # docs/hypervolume.md: (f1, f2) = (1, 4), (2, 2), (3, 3), (4, 1), both minimised: reference point
        # 4.3 in each, hypervolume 0.3 + 4.6 + 0.99 = 5.89.
        client = self.client()
        study = client.create_study({
            "name": "documented-hypervolume",
            "parameters": [{"name": "x", "float": {"low": 0.0, "high": 1.0}}],
            "objectives": [{"name": "f1", "direction": "MINIMIZE"}, {"name": "f2", "direction": "MINIMIZE"}],
            "algorithm": {"random": {}},
            "budget": {"max_trials": 4},
            "task": {"external": {}},
        })
        for f1, f2 in ((1, 4), (2, 2), (3, 3), (4, 1)):
            study.tell(study.ask(timeout=10), {"f1": f1, "f2": f2})
        hv = study.hypervolume()
        self.assertAlmostEqual(hv.value, 5.89, places=12)
        for value in hv.reference_point:
            self.assertAlmostEqual(value, 4.3, places=12)
        self.assertEqual(
            str(hv), "hypervolume 5.89 (reference point [f1 4.3, f2 4.3], rule: worst + 10% of range)"
        )
        self.assertEqual(hv.trials, 4)
        self.assertEqual(str(study.hypervolume([5, 5])),
                         "hypervolume 11 (reference point [f1 5, f2 5], rule: given)")  # 1 + 6 + 4
        # 4 significant digits, names from the answer's objectives.
        self.assertEqual(
            str(hpo_client.Hypervolume(4.75312, [1.03456, 6.19234], "worst + 10% of range", 7, ["f1", "f2"])),
            "hypervolume 4.753 (reference point [f1 1.035, f2 6.192], rule: worst + 10% of range)",
        )

    def test_delete_study_refuses_a_running_one_unless_forced(self):
        client = self.client()
        done = client.create_study(external_spec("to-delete", max_trials=3))
        while (trial := done.ask(timeout=10)) is not None:
            done.tell(trial, evaluate(trial.params))
        self.assertEqual(done.wait(interval=0.1, timeout=10).state, "completed")
        deleted = client.delete_study(done.id)
        self.assertEqual((deleted.id, deleted.name, deleted.state, deleted.trials_deleted),
                         (done.id, "to-delete", "completed", 3))
        self.assertEqual(str(deleted), f"deleted study {done.id} to-delete (completed) and its 3 trials")
        with self.assertRaises(hpo_client.HpoError) as caught:
            client.study(done.id)
        self.assertEqual(caught.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertNotIn(done.id, [s.id for s in client.studies()])
        with self.assertRaises(hpo_client.HpoError) as caught:
            client.delete_study(done.id)  # gone already
        self.assertEqual(caught.exception.code, grpc.StatusCode.NOT_FOUND)

        running = client.create_study(external_spec("running", max_trials=5))
        trial = running.ask(timeout=10)
        with self.assertRaises(hpo_client.HpoError) as caught:
            client.delete_study(running.id)
        self.assertEqual(caught.exception.code, grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn(f"study {running.id} is running", caught.exception.message)
        self.assertEqual(running.refresh().state, "running")  # untouched
        self.assertEqual(len(running.trials()), 1)
        forced = running.delete(force=True)  # cancelled first, then deleted
        self.assertEqual((forced.id, forced.state, forced.trials_deleted), (running.id, "cancelled", 1))
        with self.assertRaises(hpo_client.HpoError) as caught:
            running.refresh()
        self.assertEqual(caught.exception.code, grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(hpo_client.HpoError) as caught:
            running.tell(trial, evaluate(trial.params))
        self.assertIn(caught.exception.code, (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION))

    def test_study_fields_waiting_first_trial_and_compute_time(self):
        client = self.client()
        study = client.create_study(external_spec("timed", max_trials=2, max_parallel=1))
        self.assertEqual((study.waiting, study.first_trial_started_ms, study.compute_ms), ("", 0, 0))
        trial = study.ask(timeout=10)
        time.sleep(0.3)
        study.tell(trial, evaluate(trial.params))
        study.refresh()
        self.assertGreaterEqual(study.first_trial_started_ms, study.created_ms)
        self.assertLessEqual(study.first_trial_started_ms, int(time.time() * 1000))
        self.assertGreaterEqual(study.compute_ms, 300)
        self.assertLess(study.compute_ms, 30000)
        self.assertEqual(study.waiting, "")  # an external task never waits for a worker
        stored = study.trials()[0]
        self.assertEqual(study.first_trial_started_ms, stored["started_ms"])
        self.assertEqual(study.compute_ms, stored["finished_ms"] - stored["started_ms"])

        # A study no live worker can run says so, on a coordinator that has none.
        other = Coordinator(tempfile.mkdtemp(prefix="hpo-python-client-", dir=self.dir))
        self.addCleanup(other.stop)
        lonely = hpo_client.Client(address=other.address, token=TOKEN)
        self.addCleanup(lonely.close)
        self.assertEqual(lonely.workers(), [])
        self.assertEqual(lonely.workers(all=True), [])
        waiting = lonely.create_study({
            "name": "waiting",
            "objectives": [{"name": "f1", "direction": "MINIMIZE"}, {"name": "f2", "direction": "MINIMIZE"}],
            "budget": {"max_trials": 4},
            "task": {"synthetic": {"function": "zdt1", "dims": 3}},
            "worker_selector": {"gpu": "H100"},
        })
        self.assertEqual(waiting.refresh().waiting, "no live worker matches selector gpu=H100")
        progress = waiting.progress()
        self.assertEqual(progress.waiting, "no live worker matches selector gpu=H100")
        self.assertIn("(waiting: no live worker matches selector gpu=H100)", str(progress))
        self.assertEqual((waiting.first_trial_started_ms, waiting.compute_ms), (0, 0))

    def test_workers_lists_a_started_worker_as_live(self):
        log = open(os.path.join(self.dir, "listed-worker.log"), "w")
        worker = subprocess.Popen(
            [
                os.path.join(BIN, "hpo-worker"),
                "--coordinator", self.address,
                "--token-file", self.coordinator.token_file,
                "--name", "listed-worker",
                "--slots", "3",
                "--device", "cpu: test device",
                "--label", "zone=a",
                "--wait-ms", "200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            client = self.client()
            deadline = time.monotonic() + 30
            listed = []
            while not listed and time.monotonic() < deadline:
                listed = [w for w in client.workers() if w.name == "listed-worker"]
                if not listed:
                    time.sleep(0.1)
            self.assertEqual(len(listed), 1, client.workers())
            (w,) = listed
            self.assertIsInstance(w, hpo_client.Worker)
            self.assertEqual((w.state, w.slots, w.slots_in_use, w.device), ("live", 3, 0, "cpu: test device"))
            self.assertEqual(w.labels, {"zone": "a", "device": "cpu: test device"})
            self.assertGreater(w.id, 0)
            now_ms = int(time.time() * 1000)
            self.assertGreater(w.last_heartbeat_ms, 0)
            self.assertLessEqual(w.last_heartbeat_ms, now_ms + 1000)
            self.assertLessEqual(w.registered_ms, w.last_heartbeat_ms)
            self.assertIn(w.id, [x.id for x in client.workers(all=True)])

            # An ask/tell client is a worker too, from its first ask.
            study = client.create_study(external_spec("asking-worker", max_trials=1))
            trial = study.ask(timeout=10)
            mine = [x for x in client.workers() if x.id == client._worker_id]
            self.assertEqual(len(mine), 1, client.workers())
            self.assertEqual((mine[0].state, mine[0].slots, mine[0].slots_in_use), ("live", 1, 1))
            self.assertEqual(mine[0].labels.get("client"), "python")
            study.tell(trial, evaluate(trial.params))
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            log.close()

    def test_an_invalid_spec_raises_naming_the_field(self):
        client = self.client()
        before = len(client.studies())
        bad = external_spec("bad", max_trials=0)
        with self.assertRaises(hpo_client.HpoError) as caught:
            client.create_study(bad)
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("max_trials", caught.exception.message)

        misspelt = external_spec("misspelt", max_trials=3)
        misspelt["budgte"] = misspelt.pop("budget")
        with self.assertRaises(hpo_client.HpoError) as caught:
            client.create_study(misspelt)
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("budgte", caught.exception.message)

        wrong_range = external_spec("range", max_trials=3)
        wrong_range["parameters"][0]["float"] = {"low": 2.0, "high": 1.0}
        with self.assertRaises(hpo_client.HpoError) as caught:
            client.create_study(wrong_range)
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("parameters", caught.exception.message)
        self.assertEqual(len(client.studies()), before)  # nothing stored

        with self.assertRaises(hpo_client.HpoError) as caught:
            client.study(999999)
        self.assertEqual(caught.exception.code, grpc.StatusCode.NOT_FOUND)
        study = client.create_study(external_spec("states", max_trials=1))
        with self.assertRaises(ValueError):
            study.trials(state="done")

    def test_a_wrong_or_missing_token_is_unauthenticated(self):
        saved = dict(os.environ)
        try:
            for name in ("HPO_TOKEN", "HPO_TOKEN_FILE"):
                os.environ.pop(name, None)
            for token in ("not-the-token", None):
                client = hpo_client.Client(address=self.address, token=token)
                self.addCleanup(client.close)
                with self.assertRaises(hpo_client.HpoError) as caught:
                    client.studies()
                self.assertEqual(caught.exception.code, grpc.StatusCode.UNAUTHENTICATED, token)
                with self.assertRaises(hpo_client.HpoError) as caught:
                    client.create_study(external_spec("denied", max_trials=1))
                self.assertEqual(caught.exception.code, grpc.StatusCode.UNAUTHENTICATED)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def test_address_and_token_from_the_environment_and_study_files(self):
        saved = dict(os.environ)
        try:
            os.environ["HPO_COORDINATOR"] = self.address
            os.environ["HPO_TOKEN_FILE"] = self.coordinator.token_file
            os.environ["HPO_TOKEN"] = "ignored-when-a-file-is-named"
            client = hpo_client.Client()
            self.addCleanup(client.close)
            self.assertEqual(client.address, self.address)
            path = os.path.join(self.dir, "study.json")
            with open(path, "w") as f:
                json.dump(external_spec("from-file", max_trials=2), f)
            study = client.create_study(path)
            self.assertEqual(client.study(study.id).name, "from-file")
            del os.environ["HPO_TOKEN_FILE"]
            os.environ["HPO_TOKEN"] = TOKEN
            with hpo_client.Client() as by_env:
                self.assertIn(study.id, [s.id for s in by_env.studies()])
        finally:
            os.environ.clear()
            os.environ.update(saved)
        try:
            import yaml  # python3-yaml
        except ImportError:
            return
        path = os.path.join(self.dir, "study.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(external_spec("from-yaml", max_trials=2), f)
        self.assertEqual(self.client().create_study(path).name, "from-yaml")

    def test_tell_refuses_bad_metrics_naming_them_and_sends_nothing(self):
        client = self.client()
        spec = external_spec("bad-tells", max_trials=2)
        spec["constraints"] = [{"metric": "latency_ms", "max": 2.0}]
        study = client.create_study(spec)
        trial = study.ask(timeout=10)
        good = {"cost": 0.5, "quality": 0.25, "latency_ms": 1.0}
        cases = [
            (
                {"quality": 0.25, "latency_ms": 1.0},
                ["objective 'cost' is missing", "given: latency_ms, quality"],
            ),
            ({"cost": 0.5, "latency_ms": 1.0}, ["objective 'quality' is missing"]),
            ({"cost": 0.5, "quality": 0.25}, ["constraint metric 'latency_ms' is missing"]),
            (
                {**good, "quality": float("nan")},
                ["metric 'quality' is nan, not a finite number", "tell_failed"],
            ),
            ({**good, "cost": float("inf")}, ["metric 'cost' is inf, not a finite number"]),
            ({**good, "extra": -float("inf")}, ["metric 'extra' is -inf"]),
            ({**good, "cost": "0.5"}, ["metric 'cost' must be a number, not str"]),
            ({**good, "cost": True}, ["metric 'cost' must be a number, not bool"]),
            ([0.5, 0.25], ["metrics must be a dict", "not list"]),
        ]
        for metrics, phrases in cases:
            with self.assertRaises(hpo_client.HpoError, msg=metrics) as caught:
                study.tell(trial, metrics)
            self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn(f"tell of trial {trial.number}: ", caught.exception.message)
            for phrase in phrases:
                self.assertIn(phrase, caught.exception.message)
            self.assertEqual(trial.state, "running")
        # Nothing was sent: the trial still runs, and a good tell completes it.
        (running,) = study.trials(state="running")
        self.assertEqual(running["id"], trial.id)
        study.tell(trial, good)
        self.assertEqual(trial.state, "completed")
        self.assertEqual(trial.metrics, good)

        # A second tell or fail of a told trial is refused without a call, naming the trial.
        tell_again = lambda: study.tell(trial, {**good, "cost": 0.0})  # noqa: E731
        for again in (tell_again, lambda: study.tell_failed(trial, "no")):
            with self.assertRaises(hpo_client.HpoError) as caught:
                again()
            self.assertEqual(caught.exception.code, grpc.StatusCode.FAILED_PRECONDITION)
            self.assertIn(
                f"trial {trial.id} (number {trial.number}) is already completed", caught.exception.message
            )
        (stored,) = study.trials(state="completed")
        self.assertEqual(stored["metrics"], good)  # the first tell's

        failed = study.ask(timeout=10)
        study.tell_failed(failed, "diverged")
        self.assertEqual(failed.state, "failed")
        with self.assertRaises(hpo_client.HpoError) as caught:
            study.tell(failed, good)
        self.assertIn("is already failed", caught.exception.message)
        self.assertEqual(study.wait(interval=0.1, timeout=10).state, "completed")
        self.assertEqual(study.trials(state="failed")[0]["error"], "diverged")

    def test_optimize_fails_a_trial_whose_result_lacks_an_objective_and_goes_on(self):
        client = self.client()
        study = client.create_study(external_spec("optimize-missing", max_trials=3, max_parallel=1))

        def objective(trial):
            metrics = evaluate(trial.params)
            if trial.number == 0:
                del metrics["quality"]
            if trial.number == 1:
                metrics["cost"] = float("nan")
            return metrics

        ran = study.optimize(objective)
        self.assertEqual([t.state for t in ran], ["failed", "failed", "completed"])
        stored = {t["number"]: t for t in study.trials()}
        self.assertIn("objective 'quality' is missing", stored[0]["error"])
        self.assertIn("metric 'cost' is nan", stored[1]["error"])
        self.assertEqual(stored[2]["state"], "completed")

    def test_a_closed_client_raises_hpo_error(self):
        client = hpo_client.Client(address=self.address, token=TOKEN)
        study = client.create_study(external_spec("closed", max_trials=3))
        trial = study.ask(timeout=10)
        self.assertFalse(client.closed)
        client.close()
        self.assertTrue(client.closed)
        client.close()  # a second close does nothing
        calls = {
            "studies": client.studies,
            "study": lambda: client.study(study.id),
            "create_study": lambda: client.create_study(external_spec("after-close", max_trials=1)),
            "refresh": study.refresh,
            "trials": study.trials,
            "pareto_front": study.pareto_front,
            "hypervolume": study.hypervolume,
            "hypervolume given": lambda: study.hypervolume([1.0, 1.0]),
            "cancel": study.cancel,
            "delete": study.delete,
            "delete_study": lambda: client.delete_study(study.id, force=True),
            "workers": client.workers,
            "ask": lambda: study.ask(timeout=1),
            "tell": lambda: study.tell(trial, {"cost": 1.0, "quality": 1.0}),
            "tell_failed": lambda: study.tell_failed(trial, "no"),
            "report": lambda: trial.report(1, {"cost": 1.0}),
            "optimize": lambda: study.optimize(lambda t: [1.0, 1.0], n_trials=1),
            "with": lambda: client.__enter__(),
        }
        for name, call in calls.items():
            with self.assertRaises(hpo_client.HpoError, msg=name) as caught:
                call()
            self.assertEqual(caught.exception.code, grpc.StatusCode.FAILED_PRECONDITION, name)
            self.assertIn(f"the client of {self.address} is closed", caught.exception.message, name)
        # The coordinator got the untold trial back and hands it out again at once.
        again = self.client().study(study.id).ask(timeout=10)
        self.assertEqual(again.id, trial.id)

    def test_a_client_closed_while_asking_raises_hpo_error(self):
        client = hpo_client.Client(address=self.address, token=TOKEN)
        study = client.create_study(external_spec("closed-while-asking", max_trials=2, max_parallel=1))
        first = study.ask(timeout=10)
        self.assertIsNotNone(first)
        errors = []

        def ask():
            try:
                study.ask(timeout=30)  # waits: max_parallel 1 is out
            except BaseException as e:  # noqa: B902 - the test wants whatever it raises
                errors.append(e)

        asking = threading.Thread(target=ask)
        asking.start()
        time.sleep(0.5)
        client.close()
        asking.join(timeout=20)
        self.assertFalse(asking.is_alive())
        self.assertEqual(len(errors), 1)
        self.assertIsInstance(errors[0], hpo_client.HpoError)
        self.assertEqual(errors[0].code, grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("is closed", errors[0].message)

    def test_params_keep_the_order_of_the_spec(self):
        names = ["zeta", "alpha", "mu", "beta", "omega", "gamma", "delta", "kappa"]
        spec = external_spec("order", max_trials=4)
        spec["parameters"] = [{"name": n, "float": {"low": 0.0, "high": 1.0}} for n in names]
        spec["parameters"][3] = {"name": "beta", "categorical": {"choices": ["a", "b"]}}
        client = self.client()
        study = client.create_study(spec)
        told = []
        while (trial := study.ask(timeout=10)) is not None:
            self.assertEqual(list(trial.params), names)
            study.tell(trial, {"cost": trial.params["zeta"], "quality": trial.params["alpha"]})
            told.append(trial)
        self.assertEqual(len(told), 4)
        for t in study.trials():
            self.assertEqual(list(t["params"]), names)
        for t in study.pareto_front():
            self.assertEqual(list(t["params"]), names)
        self.assertEqual([p["name"] for p in study.spec["parameters"]], names)

    def test_params_of_a_synthetic_study_without_parameters_are_in_natural_order(self):
        self.assertEqual(
            list(hpo_client.client._ordered_params({f"x{i}": _double(i) for i in (10, 2, 1, 11, 3)}, [])),
            ["x1", "x2", "x3", "x10", "x11"],
        )
        self.assertEqual(
            list(hpo_client.client._ordered_params({n: _double(0) for n in ("b", "x2", "a")}, ["x2"])),
            ["x2", "a", "b"],
        )

    def test_close_gives_untold_trials_back(self):
        client = hpo_client.Client(address=self.address, token=TOKEN)
        study = client.create_study(external_spec("released", max_trials=1, lease_seconds=600))
        trial = study.ask(timeout=10)
        client.close()
        other = self.client()
        again = other.study(study.id).ask(timeout=10)  # at once, not after 600 s
        self.assertIsNotNone(again)
        self.assertEqual(again.id, trial.id)
        self.assertEqual(again.params, trial.params)


if __name__ == "__main__":
    unittest.main(verbosity=2)
