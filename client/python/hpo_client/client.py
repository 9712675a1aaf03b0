"""The hpo_client API: Client, Study, Trial, Progress, HpoError and TrialPruned.

Thread safety: a Client and its Study objects may be used from several threads at once (the gRPC
channel is thread-safe; the client's own state sits behind one lock). Each Client owns one gRPC channel
and, once ask() is first called, one worker registration and one heartbeat thread; close() (or leaving
a ``with`` block) stops the thread, gives untold trials back and closes the channel.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import re
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import grpc
from google.protobuf import json_format

from hpo.v1 import service_pb2, service_pb2_grpc, study_pb2

# The coordinator address when neither the address argument nor $HPO_COORDINATOR names one.
DEFAULT_ADDRESS = "127.0.0.1:50051"

_TRIAL_STATES = {
    study_pb2.TRIAL_PENDING: "pending",
    study_pb2.TRIAL_RUNNING: "running",
    study_pb2.TRIAL_COMPLETED: "completed",
    study_pb2.TRIAL_FAILED: "failed",
    study_pb2.TRIAL_CANCELLED: "cancelled",
    study_pb2.TRIAL_PRUNED: "pruned",
}
_STUDY_STATES = {
    study_pb2.STUDY_RUNNING: "running",
    study_pb2.STUDY_COMPLETED: "completed",
    study_pb2.STUDY_FAILED: "failed",
    study_pb2.STUDY_CANCELLED: "cancelled",
}
_WORKER_STATES = {
    service_pb2.WORKER_LIVE: "live",
    service_pb2.WORKER_LOST: "lost",
}


class HpoError(Exception):
    """A call the coordinator refused or did not answer.

    ``code`` is the grpc.StatusCode (INVALID_ARGUMENT for a bad spec, NOT_FOUND for an unknown study,
    UNAUTHENTICATED for a missing or wrong token, FAILED_PRECONDITION for a lease that is no longer
    yours, UNAVAILABLE when the coordinator cannot be reached, ...) and ``message`` the coordinator's
    words, which for a bad spec name the field.
    """

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class TrialPruned(Exception):
    """Raised by an objective function given to Study.optimize() to end a trial the coordinator pruned,
    as in Optuna::

        def objective(trial):
            for epoch in range(1, 10):
                accuracy = train_one_epoch(trial.params)
                if trial.report(epoch, {"accuracy": accuracy}):
                    raise hpo_client.TrialPruned()
            return {"accuracy": accuracy}

    optimize() then sends nothing more for the trial: the coordinator has already ended it as "pruned"
    with the metrics last reported. Raised for a trial the coordinator did not prune, it fails the trial
    (the coordinator alone decides what is pruned).
    """


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where a study stands: what Study.wait() hands its callback and returns."""

    study_id: int
    name: str
    state: str  # "running", "completed", "failed" or "cancelled"
    max_trials: int
    completed: int
    failed: int
    running: int
    pending: int
    cancelled: int
    elapsed_s: float  # from the study's creation to its end, or to now while it runs
    pruned: int = 0  # stopped early by the study's pruner: finished, not failed
    # Why a running study gets no trial run: "no live worker matches selector gpu=H100" ("no live
    # worker" without a selector); "" when a worker can run it, for an external task, and once it ended.
    waiting: str = ""

    @property
    def finished(self) -> int:
        """Trials that count against the budget: completed, pruned and failed."""
        return self.completed + self.pruned + self.failed

    @property
    def done(self) -> bool:
        """True once the study will not change any more."""
        return self.state != "running"

    def __str__(self) -> str:
        pruned = f"{self.pruned} pruned, " if self.pruned else ""
        waiting = f" (waiting: {self.waiting})" if self.waiting else ""
        return (
            f"study {self.study_id} {self.name}: {self.finished}/{self.max_trials} finished "
            f"({self.completed} completed, {pruned}{self.failed} failed), {self.running} running, "
            f"elapsed {self.elapsed_s:.0f}s, {self.state}{waiting}"
        )


@dataclasses.dataclass(frozen=True)
class Hypervolume:
    """The hypervolume of a study's Pareto front as the coordinator computed it: what Study.hypervolume()
    returns. The client never computes one itself; hpoctl and the dashboard show these same numbers.

    ``value`` is the volume of objective space the front's trials dominate, bounded by
    ``reference_point``, in the product of the objectives' units; None while the front is empty (no
    completed trial, or with constraints no feasible one). ``reference_point`` has one value per
    objective (``objectives``, the study's objective names, in order), in the objective's own units and
    direction (a maximised objective's lies below the values seen); empty while the front is empty.
    ``rule`` says how it was chosen: "worst + 10% of range" (per objective, the worst value among the
    considered trials plus a tenth of their range) or "given" (the point passed to hypervolume()); see
    docs/hypervolume.md. ``trials`` is how many completed trials the front, the hypervolume and the
    reference point are taken from (the feasible ones).

    ``str()`` reads as hpoctl shows it, numbers to 4 significant digits: "hypervolume 4.753 (reference
    point [f1 1.035, f2 6.192], rule: worst + 10% of range)".
    """

    value: Optional[float]
    reference_point: List[float]
    rule: str
    trials: int
    objectives: List[str]

    def __str__(self) -> str:
        if self.value is None:
            return f"no hypervolume: the front is empty ({self.trials} completed trials considered)"
        point = ", ".join(
            (f"{self.objectives[k]} " if k < len(self.objectives) else "") + _significant(v)
            for k, v in enumerate(self.reference_point)
        )
        return f"hypervolume {_significant(self.value)} (reference point [{point}], rule: {self.rule})"


@dataclasses.dataclass(frozen=True)
class Worker:
    """A worker the coordinator has heard from: what Client.workers() returns, as `hpoctl workers`
    lists them. An ask/tell client is one too, from its first ask() (labels {"client": "python"})."""

    id: int
    name: str
    state: str  # "live" (heard from recently), or "lost" (stopped, killed or cut off)
    slots: int  # trials it runs at once
    slots_in_use: int  # trials running under its leases
    last_heartbeat_ms: int  # Unix ms of its last call; 0: none since the coordinator started
    device: str  # e.g. "cpu: Intel Xeon (2 threads)"
    labels: Dict[str, str]  # as matched against a study's worker_selector, "device" included
    registered_ms: int  # Unix ms


@dataclasses.dataclass(frozen=True)
class DeletedStudy:
    """What Client.delete_study() deleted: the study as it was just before (a running study deleted
    with force=True was cancelled first, so its state is "cancelled"), and how many trials went with
    it."""

    id: int
    name: str
    state: str  # "completed", "failed" or "cancelled"
    trials_deleted: int

    def __str__(self) -> str:
        return f"deleted study {self.id} {self.name} ({self.state}) and its {self.trials_deleted} trials"


class Trial:
    """A trial handed out by Study.ask(), to evaluate and pass to Study.tell() or Study.tell_failed().

    ``params`` maps each parameter's name to its value (float, int or str; a conditional parameter that
    is inactive is absent), in the order of the spec's ``parameters``. ``should_stop`` turns true when
    the coordinator takes the trial back (the study was cancelled, the lease ran out while the process
    was stopped, or the trial was pruned): stop evaluating it; a tell would be refused.

    ``report(step, metrics)`` sends intermediate results; with a pruner in the study's spec it returns
    True when the coordinator stops the trial early (``should_prune``). ``state`` is "running" until the
    trial is told ("completed"), failed ("failed") or pruned ("pruned") through this client; ``metrics``
    then holds what it was told, or last reported when pruned.
    """

    def __init__(
        self, client: "Client", response: service_pb2.AcquireTrialResponse, order: Sequence[str] = ()
    ):
        trial = response.trial
        self.id: int = trial.id
        self.number: int = trial.number
        self.study_id: int = trial.study_id
        self.seed: int = trial.seed
        self.attempt: int = trial.attempt
        self.params: Dict[str, Any] = _ordered_params(trial.params, order)
        self.state: str = "running"
        self.metrics: Dict[str, float] = {}  # what it was told with, or last reported when pruned
        self._client = client
        self._token: str = response.lease.token
        self._stopped = False
        self._telling = False  # guarded by client._lock: a tell or tell_failed is on its way
        self._pruned_at: Optional[int] = None  # the step whose report pruned it
        self._prune_reason = ""

    @property
    def should_stop(self) -> bool:
        """True once the coordinator has taken the trial back or pruned it: stop evaluating it."""
        return self._stopped

    @property
    def should_prune(self) -> bool:
        """The coordinator's last answer to report(): True once it has pruned the trial (then for good).
        False before any report."""
        return self._pruned_at is not None

    @property
    def prune_reason(self) -> str:
        """Why the coordinator pruned the trial, as it stores it in the trial's error (e.g. "pruned at
        step 3: asha: rung 1 (step 3): rank 5 of 6, promoting the best 2"); "" while it is not pruned."""
        return self._prune_reason

    def report(self, step: int, metrics: Mapping[str, float]) -> bool:
        """Reports the trial's intermediate `metrics` (name -> number) at `step` (an epoch, say: whole,
        >= 0) and returns should_prune: True when the study's pruner stopped the trial on this report.

        A pruned trial is over: the coordinator has already stored it as "pruned" with these metrics,
        so stop evaluating it and neither tell it nor report it again (a later report() returns True at
        once without a call; tell() and tell_failed() raise HpoError FAILED_PRECONDITION). Raises
        HpoError when the coordinator refuses the report (FAILED_PRECONDITION: the trial is no longer
        this client's; INVALID_ARGUMENT: a metric that is not finite) or cannot be reached.
        """
        return self._client._report(self, step, metrics)

    def __repr__(self) -> str:
        return f"Trial(id={self.id}, number={self.number}, state={self.state!r}, params={self.params!r})"


class Study:
    """A study on the coordinator. Attribute values are those of the last answer (see refresh()):

    ``id``, ``name``, ``spec`` (the StudySpec as a dict, in the study file's layout), ``state``
    ("running", "completed", "failed" or "cancelled"), ``created_ms`` and ``finished_ms`` (Unix ms; 0
    while it runs), ``error`` (why a failed study stopped early, else ""), ``waiting`` (why a running
    study gets no trial run, e.g. "no live worker matches selector gpu=H100"; "" when a worker can run
    it, for an external task, and once it ended), ``first_trial_started_ms`` (when its first trial
    started, Unix ms; 0 before any did) and ``compute_ms`` (the run time of its ended trials, summed,
    each from its last start to its end).
    """

    def __init__(self, client: "Client", study: study_pb2.Study):
        self._client = client
        self._update(study)

    def _update(self, study: study_pb2.Study) -> None:
        self.id: int = study.id
        self.name: str = study.spec.name
        self.spec: Dict[str, Any] = json_format.MessageToDict(study.spec, preserving_proto_field_name=True)
        self.state: str = _STUDY_STATES.get(study.state, "unknown")
        self.created_ms: int = study.created_ms
        self.finished_ms: int = study.finished_ms
        self.error: str = study.error
        self.waiting: str = study.waiting
        self.first_trial_started_ms: int = study.first_trial_started_ms
        self.compute_ms: int = study.compute_ms
        self._proto = study

    def __repr__(self) -> str:
        return f"Study(id={self.id}, name={self.name!r}, state={self.state!r})"

    def refresh(self) -> "Study":
        """Fetches the study again (GetStudy); returns self."""
        self._update(self._client._study_call("GetStudy", service_pb2.GetStudyRequest(study_id=self.id)))
        return self

    def progress(self) -> Progress:
        """Fetches the study and returns its Progress."""
        self.refresh()
        counts = self._proto.counts
        end_ms = self.finished_ms or int(time.time() * 1000)
        return Progress(
            study_id=self.id,
            name=self.name,
            state=self.state,
            max_trials=self._proto.spec.budget.max_trials,
            completed=counts.completed,
            failed=counts.failed,
            running=counts.running,
            pending=counts.pending,
            cancelled=counts.cancelled,
            elapsed_s=max(end_ms - self.created_ms, 0) / 1000.0,
            pruned=counts.pruned,
            waiting=self.waiting,
        )

    def wait(
        self,
        callback: Optional[Callable[[Progress], None]] = None,
        interval: float = 1.0,
        timeout: Optional[float] = None,
    ) -> Progress:
        """Polls the study every `interval` seconds until it is completed, failed or cancelled.

        `callback` is called with a Progress first, then whenever the state or a trial count changes,
        and last with the final one. Returns the final Progress. Raises TimeoutError when `timeout`
        seconds pass first, and HpoError when a poll fails.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        last = None
        while True:
            progress = self.progress()
            key = dataclasses.replace(progress, elapsed_s=0.0)
            if callback is not None and key != last:
                callback(progress)
            last = key
            if progress.done:
                return progress
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"study {self.id} is still running after {timeout} s: {progress}")
            sleep = interval if deadline is None else min(interval, max(deadline - time.monotonic(), 0.0))
            time.sleep(sleep)

    def trials(self, state: Union[None, str, Iterable[str]] = None) -> List[Dict[str, Any]]:
        """The study's trials as dicts, in the order they were suggested.

        `state` keeps only trials in that state, or in any of several ("pending", "running",
        "completed", "pruned", "failed", "cancelled"); ValueError for another name. Each dict has the
        keys id, number, state, params (name -> value), metrics (name -> float), attempt, worker_id,
        device, error, seed, created_ms, started_ms, finished_ms and progress (None, or {"step",
        "metrics"}). A pruned trial's metrics are those it last reported, and its error says why
        ("pruned at step 3: asha: ...").
        """
        wanted = None
        if state is not None:
            wanted = {state} if isinstance(state, str) else set(state)
            unknown = wanted - set(_TRIAL_STATES.values())
            if unknown:
                raise ValueError(
                    f"unknown trial state {sorted(unknown)[0]!r}; expected one of "
                    "pending, running, completed, pruned, failed, cancelled"
                )
        response = self._client._study_call("ListTrials", service_pb2.ListTrialsRequest(study_id=self.id))
        order = self._param_order()
        trials = [_trial_dict(t, order) for t in response.trials]
        return [t for t in trials if wanted is None or t["state"] in wanted]

    def pareto_front(self) -> List[Dict[str, Any]]:
        """The completed trials no other completed trial dominates, for the study's objectives, as dicts
        (see trials()), best first by the first objective. Its hypervolume: hypervolume()."""
        response = self._client._study_call(
            "GetParetoFront", service_pb2.GetParetoFrontRequest(study_id=self.id)
        )
        order = self._param_order()
        return [_trial_dict(t, order) for t in response.trials]

    def analyze(self, trees: int = 0) -> Dict[str, Any]:
        """What the completed trials say, as the coordinator computes it for `hpoctl analyze` and the
        dashboard (StudyService.AnalyzeStudy): {"importance": {objective: {parameter: share, ...}}, most
        important first, each objective's shares summing to 1 (fANOVA on a random forest of `trees` trees;
        0: 64), "front": the front's summary (trials, hypervolume, reference, best, history), "method"}.
        The coordinator's whole answer, standard deviations included, is under "response"."""
        response = self._client._study_call(
            "AnalyzeStudy", service_pb2.AnalyzeStudyRequest(study_id=self.id, trees=trees)
        )
        return {
            "method": response.method,
            "importance": {
                o.objective: {p.parameter: p.importance for p in o.parameters} for o in response.importance
            },
            "front": {
                "trials": [
                    {"id": t.trial_id, "number": t.number, "objectives": list(t.objectives)}
                    for t in response.front.trials
                ],
                "hypervolume": response.front.hypervolume,
                "reference": list(response.front.reference),
                "best": list(response.front.best),
                "history": [(h.number, h.hypervolume) for h in response.front.history],
            },
            "response": json_format.MessageToDict(response, preserving_proto_field_name=True),
        }

    def hypervolume(self, reference_point: Optional[Iterable[float]] = None) -> Hypervolume:
        """The hypervolume of the study's Pareto front, as the coordinator computes it (GetParetoFront).

        `reference_point` bounds it: one number per objective, in the order of the spec's objectives and
        in each objective's own units and direction (e.g. [0.5, 10] for accuracy 0.5, latency_ms 10);
        the answer's rule is then "given". None: the coordinator chooses the point by its rule, "worst +
        10% of range" (docs/hypervolume.md). Raises HpoError INVALID_ARGUMENT, as the coordinator words
        it, for a point with another number of values than the study has objectives or a value that is
        not finite (and, sending nothing, for one that is not a sequence of numbers); NOT_FOUND for a
        study that no longer exists.
        """
        self._client._check_open()
        request = service_pb2.GetParetoFrontRequest(
            study_id=self.id, reference_point=_reference_point(reference_point)
        )
        response = self._client._study_call("GetParetoFront", request)
        return Hypervolume(
            value=response.hypervolume if response.HasField("hypervolume") else None,
            reference_point=list(response.reference_point),
            rule=response.reference_rule,
            trials=response.considered_trials,
            objectives=[o.name for o in response.objectives],
        )

    def cancel(self) -> "Study":
        """Cancels the study: no more trials are handed out; running ones are told to stop."""
        self._update(
            self._client._study_call("CancelStudy", service_pb2.CancelStudyRequest(study_id=self.id))
        )
        return self

    def delete(self, force: bool = False) -> DeletedStudy:
        """Deletes the study with its trials: Client.delete_study(self.id, force)."""
        return self._client.delete_study(self.id, force=force)

    # ---- ask/tell, for studies whose task is {"external": {}} ----

    def ask(self, timeout: Optional[float] = None) -> Optional[Trial]:
        """The next trial of this study to evaluate, or None when there is none to hand out any more:
        the study has ended, or every trial it still needs is already out with this client (tell those).

        Waits while none can be handed out yet (max_parallel trials are out, or a generation is being
        evaluated elsewhere); raises TimeoutError when `timeout` seconds pass first, and HpoError
        FAILED_PRECONDITION when the client is closed, before or while it waits. The first call registers
        the client with the coordinator as a worker and starts its heartbeat thread, which keeps the lease
        of every asked trial alive until it is told, however long the evaluation takes.
        """
        return self._client._ask(self, timeout)

    def tell(self, trial: Trial, metrics: Mapping[str, float], device: Optional[str] = None) -> None:
        """Completes `trial` with `metrics` (name -> number; every objective must be there).

        `device` records where the metrics were measured (default: the Client's). Sets trial.state to
        "completed" and trial.metrics to the metrics. Raises HpoError, sending nothing, with
          - INVALID_ARGUMENT naming the metric when an objective (or a constraint's metric) of the study
            is missing from `metrics`, or a value is not a finite number (fail a trial that diverged with
            tell_failed());
          - FAILED_PRECONDITION when the trial was already told or failed through this client, or was
            pruned, or the client is closed;
        and with FAILED_PRECONDITION when the coordinator refuses it: the trial is no longer this
        client's (its lease ran out and it was handed out again, or the study was cancelled).
        """
        self._check_own(trial)
        self._client._check_open()
        self._check_not_pruned(trial)
        values = self._check_metrics(trial, metrics)
        self._client._finish(
            trial,
            "completed",
            "CompleteTrial",
            service_pb2.CompleteTrialRequest(
                trial_id=trial.id,
                lease_token=trial._token,
                metrics=values,
                device=self._client._device if device is None else device,
            ),
            values,
        )

    def tell_failed(self, trial: Trial, reason: str) -> None:
        """Fails `trial` with `reason` (kept as the trial's error). It counts against the budget. Sets
        trial.state to "failed". Raises HpoError FAILED_PRECONDITION, sending nothing, for a trial that
        was pruned, or already told or failed, or when the client is closed; and when the coordinator
        refuses it (as tell())."""
        self._check_own(trial)
        self._check_not_pruned(trial)
        self._client._finish(
            trial,
            "failed",
            "FailTrial",
            service_pb2.FailTrialRequest(trial_id=trial.id, lease_token=trial._token, error=str(reason)),
        )

    def report(self, trial: Trial, step: int, metrics: Mapping[str, float]) -> bool:
        """Reports intermediate values of a trial being evaluated (kept as the trial's progress) and
        returns True when the study's pruner stopped it: the same as trial.report(step, metrics)."""
        self._check_own(trial)
        return self._client._report(trial, step, metrics)

    def optimize(
        self,
        fn: Callable[[Trial], Union[Mapping[str, float], Sequence[float], float]],
        n_trials: Optional[int] = None,
        n_jobs: int = 1,
        timeout: Optional[float] = None,
        callbacks: Optional[Iterable[Callable[["Study", Trial], None]]] = None,
    ) -> List[Trial]:
        """Evaluates trials of this (external) study with `fn`, as Optuna's Study.optimize does.

        Each trial is asked, passed to `fn(trial)`, and:
          - told with what `fn` returns: a dict of metrics by name (every objective, and any others), a
            sequence of values in the order of the spec's objectives, or, for a one-objective study, a
            number;
          - left alone when `fn` raises TrialPruned after trial.report(...) returned True (the
            coordinator has already ended it as pruned);
          - failed with "<ExceptionType>: <message>" when `fn` raises anything else (an Exception: the
            run goes on with the next trial), when it returns something that is not metrics, or when it
            raises TrialPruned for a trial the coordinator did not prune.
        `n_jobs` threads (>= 1; -1: one per CPU) do this at once, each asking for its own trials. It
        returns once `n_trials` trials (None: no limit) have been handed to `fn`, once `timeout` seconds
        have passed (no trial is asked after that; those running finish), or once the study hands out
        no more (it has ended). Each callback is called as callback(study, trial) after each trial,
        with trial.state "completed", "pruned", "failed" or "stopped" (the coordinator took it back:
        the study was cancelled, say) and trial.metrics; one at a time, from the thread that ran the
        trial. An exception from a callback, or an HpoError other than a refused
        tell (the trial was taken back), stops the run and is raised here once the running trials end.
        Returns the trials it finished, in the order they finished.
        """
        if n_trials is not None and n_trials < 0:
            raise ValueError(f"n_trials must be >= 0, not {n_trials}")
        if n_jobs == -1:
            n_jobs = os.cpu_count() or 1
        if n_jobs < 1:
            raise ValueError(f"n_jobs must be >= 1 (or -1: one per CPU), not {n_jobs}")
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0, not {timeout}")
        callbacks = list(callbacks or [])
        run = _OptimizeRun(self, fn, n_trials, timeout, callbacks)
        if n_jobs == 1:
            run.loop()
        else:
            threads = [
                threading.Thread(target=run.loop, name=f"hpo_client-optimize-{i}", daemon=True)
                for i in range(n_jobs)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if run.error is not None:
            raise run.error
        return run.finished

    def _objective_names(self) -> List[str]:
        return [o.name for o in self._proto.spec.objectives]

    def _param_order(self) -> List[str]:
        return [p.name for p in self._proto.spec.parameters]

    def _check_metrics(self, trial: Trial, metrics: Mapping[str, float]) -> Dict[str, float]:
        """`metrics` as name -> float, checked as the coordinator would before a tell: every value a
        finite number, every objective (and constraint metric) of the study there. Raises HpoError
        INVALID_ARGUMENT naming the metric otherwise; nothing is sent."""
        if not isinstance(metrics, Mapping):
            raise HpoError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"tell of trial {trial.number}: metrics must be a dict of name -> number, not "
                f"{type(metrics).__name__}",
            )
        values: Dict[str, float] = {}
        for name, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise HpoError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"tell of trial {trial.number}: metric {str(name)!r} must be a number, not "
                    f"{type(value).__name__}",
                )
            number = float(value)
            if not math.isfinite(number):
                raise HpoError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"tell of trial {trial.number}: metric {str(name)!r} is {number}, not a finite number "
                    "(a trial that diverged is failed with tell_failed())",
                )
            values[str(name)] = number
        spec = self._proto.spec
        needed = [("objective", o.name) for o in spec.objectives] + [
            ("constraint metric", c.metric) for c in spec.constraints
        ]
        for what, name in needed:
            if name not in values:
                given = ", ".join(sorted(values)) or "none"
                raise HpoError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"tell of trial {trial.number}: {what} {name!r} is missing from the metrics (given: "
                    f"{given}); tell every objective of the study, or fail the trial with tell_failed()",
                )
        return values

    def _check_not_pruned(self, trial: Trial) -> None:
        if trial.should_prune:
            why = trial.prune_reason
            if not why.startswith("pruned at step "):
                why = f"pruned at step {trial._pruned_at}" + (f": {why}" if why else "")
            raise HpoError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"trial {trial.id} was {why}; it has ended, there is nothing to tell",
            )

    def _check_own(self, trial: Trial) -> None:
        if not isinstance(trial, Trial):
            raise TypeError(f"expected a Trial from Study.ask(), not {type(trial).__name__}")
        if trial.study_id != self.id:
            raise ValueError(f"trial {trial.id} belongs to study {trial.study_id}, not to study {self.id}")
        if trial._client is not self._client:
            raise ValueError(f"trial {trial.id} was asked through another Client")


# What Study.optimize() evaluates, and what it calls after each trial.
ObjectiveFunction = Callable[[Trial], Union[Mapping[str, float], Sequence[float], float]]
Callback = Callable[[Study, Trial], None]


class _OptimizeRun:
    """The shared state of one Study.optimize() call: its threads each run loop()."""

    def __init__(
        self,
        study: Study,
        fn: "ObjectiveFunction",
        n_trials: Optional[int],
        timeout: Optional[float],
        callbacks: List["Callback"],
    ):
        self.study = study
        self.fn = fn
        self.n_trials = n_trials
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.callbacks = callbacks
        self.lock = threading.Lock()
        self.callback_lock = threading.Lock()
        self.started = 0  # guarded by lock: trials asked for (or being asked for)
        self.done = False  # guarded by lock: ask no more
        self.error: Optional[BaseException] = None  # guarded by lock: the first error that stops the run
        self.finished: List[Trial] = []  # guarded by lock

    def _stop(self, error: Optional[BaseException] = None) -> None:
        with self.lock:
            self.done = True
            if error is not None and self.error is None:
                self.error = error

    def _reserve(self) -> bool:
        with self.lock:
            if self.done or (self.n_trials is not None and self.started >= self.n_trials):
                return False
            self.started += 1
            return True

    def _unreserve(self) -> None:
        with self.lock:
            self.started -= 1

    def loop(self) -> None:
        try:
            while self._reserve():
                remaining = None
                if self.deadline is not None:
                    remaining = self.deadline - time.monotonic()
                    if remaining <= 0:
                        self._unreserve()
                        self._stop()
                        return
                try:
                    trial = self.study.ask(timeout=remaining)
                except TimeoutError:
                    self._unreserve()
                    self._stop()
                    return
                if trial is None:
                    self._unreserve()
                    self._stop()
                    return
                self._run(trial)
        except BaseException as e:  # an HpoError from ask, a callback's error, KeyboardInterrupt
            self._stop(e)

    def _run(self, trial: Trial) -> None:
        try:
            result = self.fn(trial)
        except TrialPruned:
            if trial.should_prune:
                trial.state = "pruned"
            else:
                self._fail(trial, "TrialPruned: raised by the objective function, but the coordinator did "
                                  "not prune the trial")
        except Exception as e:  # the objective's failure fails the trial, not the run
            self._fail(trial, f"{type(e).__name__}: {e}")
        else:
            if trial.should_prune:
                # It returned although a report pruned it: the coordinator has it as pruned already.
                trial.state = "pruned"
            else:
                try:
                    metrics = _result_metrics(result, self.study._objective_names())
                    self.study._check_metrics(trial, metrics)
                except (TypeError, ValueError) as e:
                    self._fail(trial, f"{type(e).__name__}: {e}")
                except HpoError as e:  # an objective missing, a value not finite: a bad result
                    self._fail(trial, e.message)
                else:
                    self._finish(trial, lambda: self.study.tell(trial, metrics))
        with self.lock:
            self.finished.append(trial)
        with self.callback_lock:
            for callback in self.callbacks:
                callback(self.study, trial)

    def _fail(self, trial: Trial, reason: str) -> None:
        self._finish(trial, lambda: self.study.tell_failed(trial, reason))

    def _finish(self, trial: Trial, send: Callable[[], None]) -> None:
        """Tells or fails `trial` with `send` (which sets its state), unless the coordinator has it."""
        if trial.should_prune or trial.should_stop:
            # Pruned or taken back by the coordinator: there is nothing to send.
            trial.state = "pruned" if trial.should_prune else "stopped"
            return
        try:
            send()
        except HpoError as e:
            if e.code != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            trial.state = "stopped"  # the lease ran out or the study was cancelled meanwhile


def _result_metrics(result: object, objectives: List[str]) -> Dict[str, float]:
    """What an objective function returned, as metrics by name."""
    if isinstance(result, Mapping):
        return {str(k): _number(k, v) for k, v in result.items()}
    if isinstance(result, numbers.Real) and not isinstance(result, bool):
        if len(objectives) != 1:
            raise ValueError(
                f"the objective function returned one number, but the study has {len(objectives)} "
                f"objectives ({', '.join(objectives)}): return a dict or a sequence"
            )
        return {objectives[0]: _number(objectives[0], result)}
    if isinstance(result, (str, bytes)) or not isinstance(result, Sequence):
        raise TypeError(
            "the objective function must return a dict of metrics, a sequence of objective values or "
            f"a number, not {type(result).__name__}"
        )
    if len(result) != len(objectives):
        raise ValueError(
            f"the objective function returned {len(result)} values for {len(objectives)} objectives "
            f"({', '.join(objectives)})"
        )
    return {name: _number(name, v) for name, v in zip(objectives, result)}


def _number(name: object, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"metric {name!r} must be a number, not {type(value).__name__}")
    return float(value)


class Client:
    """A connection to the hpo coordinator.

    `address` is "host:port" (default: $HPO_COORDINATOR, else 127.0.0.1:50051). The bearer token is
    `token`, else the contents of `token_file`, else of the file named by $HPO_TOKEN_FILE, else
    $HPO_TOKEN; with none, calls carry no token. `tls_ca` (a PEM file) connects with TLS. `timeout` is
    each call's deadline in seconds. `device` is what ask/tell reports as the device the metrics were
    measured on (default "": none).
    """

    def __init__(
        self,
        address: Optional[str] = None,
        token: Optional[str] = None,
        token_file: Optional[str] = None,
        *,
        tls_ca: Optional[str] = None,
        timeout: float = 10.0,
        device: str = "",
    ):
        self.address = address or os.environ.get("HPO_COORDINATOR") or DEFAULT_ADDRESS
        token = _resolve_token(token, token_file)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        if tls_ca:
            with open(tls_ca, "rb") as f:
                credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
            self._channel = grpc.secure_channel(self.address, credentials)
        else:
            self._channel = grpc.insecure_channel(self.address)
        self._studies = service_pb2_grpc.StudyServiceStub(self._channel)
        self._workers = service_pb2_grpc.WorkerServiceStub(self._channel)
        self._timeout = timeout
        self._device = device
        self._lock = threading.Lock()
        self._worker_id: Optional[int] = None  # guarded by _lock; set by the first ask()
        self._heartbeat_s = 1.0  # guarded by _lock
        self._leases: Dict[int, Trial] = {}  # guarded by _lock; asked and not yet told
        self._stop = threading.Event()
        self._heartbeat: Optional[threading.Thread] = None
        self._closed = False  # guarded by _lock; set by close()

    def __enter__(self) -> "Client":
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True once close() has been called: every call then raises HpoError FAILED_PRECONDITION."""
        with self._lock:
            return self._closed

    def close(self) -> None:
        """Stops the heartbeat thread, gives every asked but untold trial back to the coordinator (it
        is handed out again without counting as a failed attempt), and closes the channel. Any later
        call through this client, or its studies and trials, raises HpoError FAILED_PRECONDITION. A
        second close() does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            worker_id = self._worker_id
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        with self._lock:
            untold = list(self._leases.values())
            self._leases.clear()
        for trial in untold:
            self._release_closing(worker_id, trial.id, trial._token)
        self._channel.close()

    def _release_closing(self, worker_id: Optional[int], trial_id: int, token: str) -> None:
        """Hands a trial back while (or after) the client closes; best effort: its lease runs out anyway."""
        request = service_pb2.ReleaseTrialRequest(
            worker_id=worker_id, trial_id=trial_id, lease_token=token, reason="the Python client closed"
        )
        try:
            self._rpc(self._workers.ReleaseTrial, request, self._timeout, closing=True)
        except (HpoError, ValueError):
            pass

    # ---- studies ----

    def create_study(self, spec: Union[Mapping[str, Any], str, os.PathLike, study_pb2.StudySpec]) -> Study:
        """Creates a study from `spec`: a dict in the study file's JSON layout, the path of a JSON (or,
        with python3-yaml, a .yaml/.yml) study file, or a StudySpec. Raises HpoError INVALID_ARGUMENT
        naming the field for a spec that does not parse or that the coordinator refuses."""
        request = service_pb2.CreateStudyRequest(spec=_to_spec(spec))
        return Study(self, self._study_call("CreateStudy", request))

    def study(self, study_id: int) -> Study:
        """The study with this id; HpoError NOT_FOUND when there is none."""
        return Study(self, self._study_call("GetStudy", service_pb2.GetStudyRequest(study_id=study_id)))

    def studies(self) -> List[Study]:
        """Every study the coordinator holds."""
        response = self._study_call("ListStudies", service_pb2.ListStudiesRequest())
        return [Study(self, s) for s in response.studies]

    def delete_study(self, study_id: int, force: bool = False) -> DeletedStudy:
        """Deletes the study `study_id` with all its trials (their parameters, metrics and progress), in
        one transaction on the coordinator; its id is not used again, and a later client.study(study_id)
        raises HpoError NOT_FOUND. Returns what was deleted.

        A running study is refused with HpoError FAILED_PRECONDITION ("study 3 is running; cancel it
        first, or force the deletion ...") unless `force`, which cancels it first (its running trials are
        told to stop at their next heartbeat). NOT_FOUND for an unknown study.
        """
        response = self._study_call(
            "DeleteStudy", service_pb2.DeleteStudyRequest(study_id=study_id, force=force)
        )
        study = response.study
        return DeletedStudy(
            id=study.id,
            name=study.spec.name,
            state=_STUDY_STATES.get(study.state, "unknown"),
            trials_deleted=response.trials_deleted,
        )

    def workers(self, all: bool = False) -> List[Worker]:  # noqa: A002 - the RPC's own name
        """The workers the coordinator has heard from since it started, by id, "live" or "lost" (not
        heard from for longer than its --worker-lost-ms). With `all`, also the workers registered with
        its database that have not called since it started (state "lost", last_heartbeat_ms 0)."""
        response = self._study_call("ListWorkers", service_pb2.ListWorkersRequest(all=all))
        return [
            Worker(
                id=w.id,
                name=w.name,
                state=_WORKER_STATES.get(w.state, "unknown"),
                slots=w.slots,
                slots_in_use=w.slots_in_use,
                last_heartbeat_ms=w.last_heartbeat_ms,
                device=w.device,
                labels=dict(w.labels),
                registered_ms=w.registered_ms,
            )
            for w in response.workers
        ]

    # ---- internals ----

    def _closed_error(self) -> HpoError:
        return HpoError(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"the client of {self.address} is closed; make a new hpo_client.Client",
        )

    def _check_open(self) -> None:
        """Raises HpoError FAILED_PRECONDITION once the client is closed."""
        if self.closed:
            raise self._closed_error()

    def _rpc(self, method: Callable[..., Any], request: Any, timeout: float, closing: bool = False) -> Any:
        """Calls `method` with the client's token; every failure becomes an HpoError."""
        if not closing:
            self._check_open()
        try:
            return method(request, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            if not closing:
                self._check_open()  # close() cancelled the call (a long-polling ask, say)
            raise HpoError(e.code(), e.details() or e.code().name) from None
        except ValueError as e:  # grpc's "Cannot invoke RPC on closed channel!": closed meanwhile
            self._check_open()
            raise HpoError(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}") from None

    def _study_call(self, method: str, request: Any, timeout: Optional[float] = None) -> Any:
        return self._rpc(getattr(self._studies, method), request, timeout or self._timeout)

    def _worker_call(self, method: str, request: Any, timeout: Optional[float] = None) -> Any:
        worker_id = self._register()
        request.worker_id = worker_id
        return self._rpc(getattr(self._workers, method), request, timeout or self._timeout)

    def _register(self) -> int:
        with self._lock:
            if self._worker_id is not None:
                return self._worker_id
        response = self._rpc(
            self._workers.RegisterWorker,
            service_pb2.RegisterWorkerRequest(
                name=f"hpo_client@{socket.gethostname()}:{os.getpid()}",
                slots=1,
                device=self._device,
                labels={"client": "python"},
            ),
            self._timeout,
        )
        with self._lock:
            if not self._closed and self._worker_id is None:
                self._worker_id = response.worker_id
                self._heartbeat_s = max(response.heartbeat_ms, 50) / 1000.0
                self._heartbeat = threading.Thread(
                    target=self._heartbeat_loop, name="hpo_client-heartbeat", daemon=True
                )
                self._heartbeat.start()
            worker_id = self._worker_id
        if worker_id is None:  # closed meanwhile: nothing registered, no heartbeat thread
            raise self._closed_error()
        return worker_id

    def _ask(self, study: Study, timeout: Optional[float]) -> Optional[Trial]:
        deadline = None if timeout is None else time.monotonic() + timeout
        poll_s = 5.0
        while True:
            wait_s = poll_s if deadline is None else min(poll_s, max(deadline - time.monotonic(), 0.0))
            try:
                response = self._worker_call(
                    "AcquireTrial",
                    service_pb2.AcquireTrialRequest(study_id=study.id, wait_ms=int(wait_s * 1000)),
                    timeout=wait_s + self._timeout,
                )
            except HpoError as e:
                # A study that has ended is refused as FAILED_PRECONDITION: there is nothing more to ask.
                if e.code == grpc.StatusCode.FAILED_PRECONDITION and self._has_ended(study, e):
                    return None
                raise
            if response.HasField("trial"):
                trial = Trial(self, response, study._param_order())
                with self._lock:
                    closed = self._closed
                    if not closed:
                        self._leases[trial.id] = trial
                if closed:
                    # close() ran while this ask waited, and may have released a trial that the coordinator
                    # then handed to this very call: hand it back, and say the client is closed.
                    self._release_closing(self._worker_id, trial.id, trial._token)
                    raise self._closed_error()
                return trial
            if study.refresh().state != "running" or self._holds_the_rest(study):
                return None
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"no trial of study {study.id} could be handed out within {timeout} s")

    def _has_ended(self, study: Study, refusal: HpoError) -> bool:
        """Whether a refused AcquireTrial means that the study has ended. The coordinator stops handing
        out trials the moment a study's last result is in, and says "hands out no more trials"; GetStudy
        says "running" until that change is stored (milliseconds, longer on a busy machine), so the state
        is asked again for up to 10 s before the refusal is taken for another reason."""
        deadline = time.monotonic() + 10.0
        while True:
            if study.refresh().state != "running":
                return True
            if "hands out no more trials" not in refusal.message or time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def _report(self, trial: Trial, step: int, metrics: Mapping[str, float]) -> bool:
        if trial.should_prune:
            return True  # it has ended: nothing more to send
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"step must be a whole number >= 0, not {step!r}")
        values = {str(k): _number(k, v) for k, v in metrics.items()}
        response = self._worker_call(
            "ReportProgress",
            service_pb2.ReportProgressRequest(
                trial_id=trial.id, lease_token=trial._token, step=int(step), metrics=values
            ),
        )
        if response.should_prune:
            trial._pruned_at = int(step)
            trial._prune_reason = response.reason
            trial._stopped = True
            trial.state = "pruned"
            trial.metrics = values
            self._forget(trial)  # no more heartbeats for it, and nothing to give back on close()
        return response.should_prune

    def _holds_the_rest(self, study: Study) -> bool:
        """True when every trial the study still needs is out with this client: none pending, the
        budget covered by finished and running trials, and all the running ones asked here. Only a
        tell (or a lease running out) can change that, so waiting would wait for the caller itself."""
        counts = study._proto.counts
        if counts.pending > 0:
            return False
        finished = counts.completed + counts.pruned + counts.failed
        if finished + counts.running < study._proto.spec.budget.max_trials:
            return False
        with self._lock:
            mine = sum(1 for t in self._leases.values() if t.study_id == study.id)
        return mine >= counts.running

    def _finish(
        self, trial: Trial, state: str, method: str, request: Any, metrics: Optional[Dict[str, float]] = None
    ) -> None:
        """Sends the tell (CompleteTrial) or fail (FailTrial) `request` of `trial`, once: then sets
        trial.state to `state` (and trial.metrics to `metrics`). A second tell, or one while another
        thread's is on its way, raises HpoError FAILED_PRECONDITION without a call."""
        self._check_open()
        with self._lock:
            if trial.state != "running" or trial._telling:
                already = "being told" if trial._telling else trial.state
                raise HpoError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"trial {trial.id} (number {trial.number}) is already {already}; a trial is told or "
                    "failed once",
                )
            trial._telling = True
        try:
            self._worker_call(method, request)
        except HpoError as e:
            with self._lock:
                trial._telling = False  # not told: a refusal is final, a transport error may be retried
            if e.code == grpc.StatusCode.FAILED_PRECONDITION:
                self._forget(trial)
            raise
        with self._lock:
            trial._telling = False
            trial.state = state
            if metrics is not None:
                trial.metrics = metrics
            self._leases.pop(trial.id, None)

    def _forget(self, trial: Trial) -> None:
        with self._lock:
            self._leases.pop(trial.id, None)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self._heartbeat_s):
            with self._lock:
                leases = [service_pb2.Lease(trial_id=t.id, token=t._token) for t in self._leases.values()]
                worker_id = self._worker_id
            if not leases:
                continue
            try:
                response = self._rpc(
                    self._workers.Heartbeat,
                    service_pb2.HeartbeatRequest(worker_id=worker_id, leases=leases),
                    self._timeout,
                    closing=True,  # close() stops this loop before it closes the channel
                )
            except HpoError:
                continue  # a coordinator restart: try again at the next beat, the lease has slack
            with self._lock:
                for trial_id in response.stop_trial_ids:
                    trial = self._leases.pop(trial_id, None)
                    if trial is not None:
                        trial._stopped = True


def _resolve_token(token: Optional[str], token_file: Optional[str]) -> Optional[str]:
    if token:
        return token.strip()
    path = token_file or os.environ.get("HPO_TOKEN_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read().strip()
        except OSError as e:
            raise ValueError(f"token file {path!r}: {e.strerror}") from None
        if not text:
            raise ValueError(f"token file {path!r} is empty")
        return text
    return (os.environ.get("HPO_TOKEN") or "").strip() or None


def _to_spec(
    spec: Union[Mapping[str, Any], str, "os.PathLike[str]", study_pb2.StudySpec]
) -> study_pb2.StudySpec:
    if isinstance(spec, study_pb2.StudySpec):
        return spec
    source = "study spec"
    if isinstance(spec, (str, os.PathLike)):
        path = os.fspath(spec)
        source = f"study file {path!r}"
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise HpoError(grpc.StatusCode.INVALID_ARGUMENT, f"{source}: {e.strerror}") from None
        try:
            if path.endswith((".yaml", ".yml")):
                import yaml  # python3-yaml; only needed for YAML study files

                spec = yaml.safe_load(text)
            else:
                spec = json.loads(text)
        except ValueError as e:  # json.JSONDecodeError and yaml.YAMLError's parse errors
            raise HpoError(grpc.StatusCode.INVALID_ARGUMENT, f"{source}: {e}") from None
    if not isinstance(spec, Mapping):
        raise HpoError(
            grpc.StatusCode.INVALID_ARGUMENT, f"{source}: expected an object, got {type(spec).__name__}"
        )
    try:
        return json_format.ParseDict(dict(spec), study_pb2.StudySpec())
    except json_format.ParseError as e:
        raise HpoError(grpc.StatusCode.INVALID_ARGUMENT, f"{source}: {e}") from None


def _significant(value: float) -> str:
    """`value` to 4 significant digits, as hpoctl and the dashboard print it (C's %.4g)."""
    return "%.4g" % value


def _reference_point(point: Optional[Iterable[float]]) -> List[float]:
    """A hypervolume reference point (a list, a tuple, a NumPy array, ...) as the request's values; []
    for None. Its length and finiteness are the coordinator's to check (it names the field); what cannot
    be sent at all raises HpoError INVALID_ARGUMENT here."""
    if point is None:
        return []
    if isinstance(point, (str, bytes, Mapping)) or not isinstance(point, Iterable):
        raise HpoError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "reference_point must be a sequence of numbers, one per objective in the spec's order, not "
            f"{type(point).__name__}",
        )
    values: List[float] = []
    for k, value in enumerate(point):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise HpoError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"reference_point[{k}] must be a number, not {type(value).__name__}",
            )
        values.append(float(value))
    return values


def _natural_key(name: str) -> List[Any]:
    """Sorts x2 before x10: digit runs compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def _ordered_params(params: Mapping[str, study_pb2.ParamValue], order: Sequence[str]) -> Dict[str, Any]:
    """A trial's parameters as name -> value in the order of the spec's parameters (`order`); any the
    spec does not list (a synthetic task's default x1..xN) follow in natural order (x2 before x10)."""
    listed = set(order)
    unlisted = sorted((n for n in params if n not in listed), key=_natural_key)
    names = [n for n in order if n in params] + unlisted
    return {name: _param_value(params[name]) for name in names}


def _param_value(value: study_pb2.ParamValue) -> Union[float, int, str, None]:
    kind = value.WhichOneof("kind")
    if kind == "double_value":
        return value.double_value
    if kind == "int_value":
        return value.int_value
    if kind == "string_value":
        return value.string_value
    return None


def _trial_dict(trial: study_pb2.Trial, order: Sequence[str] = ()) -> Dict[str, Any]:
    progress = None
    if trial.HasField("progress"):
        progress = {"step": trial.progress.step, "metrics": dict(trial.progress.metrics)}
    return {
        "id": trial.id,
        "number": trial.number,
        "state": _TRIAL_STATES.get(trial.state, "unknown"),
        "params": _ordered_params(trial.params, order),
        "metrics": {name: v for name, v in trial.metrics.items()},
        "attempt": trial.attempt,
        "worker_id": trial.worker_id,
        "device": trial.device,
        "error": trial.error,
        "seed": trial.seed,
        "created_ms": trial.created_ms,
        "started_ms": trial.started_ms,
        "finished_ms": trial.finished_ms,
        "progress": progress,
    }
