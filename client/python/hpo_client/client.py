"""The hpo_client API: Client, Study, Trial, Progress and HpoError.

Thread safety: a Client and its Study objects may be used from several threads at once (the gRPC
channel is thread-safe; the client's own state sits behind one lock). Each Client owns one gRPC channel
and, once ask() is first called, one worker registration and one heartbeat thread; close() (or leaving
a ``with`` block) stops the thread, gives untold trials back and closes the channel.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Union

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
}
_STUDY_STATES = {
    study_pb2.STUDY_RUNNING: "running",
    study_pb2.STUDY_COMPLETED: "completed",
    study_pb2.STUDY_FAILED: "failed",
    study_pb2.STUDY_CANCELLED: "cancelled",
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

    @property
    def finished(self) -> int:
        """Trials that count against the budget: completed and failed."""
        return self.completed + self.failed

    @property
    def done(self) -> bool:
        """True once the study will not change any more."""
        return self.state != "running"

    def __str__(self) -> str:
        return (
            f"study {self.study_id} {self.name}: {self.finished}/{self.max_trials} finished "
            f"({self.completed} completed, {self.failed} failed), {self.running} running, "
            f"elapsed {self.elapsed_s:.0f}s, {self.state}"
        )


class Trial:
    """A trial handed out by Study.ask(), to evaluate and pass to Study.tell() or Study.tell_failed().

    ``params`` maps each parameter's name to its value (float, int or str; a conditional parameter that
    is inactive is absent). ``should_stop`` turns true when the coordinator takes the trial back (the
    study was cancelled, or the lease ran out while the process was stopped): stop evaluating it; a tell
    would be refused.
    """

    def __init__(self, client: "Client", response: service_pb2.AcquireTrialResponse):
        trial = response.trial
        self.id: int = trial.id
        self.number: int = trial.number
        self.study_id: int = trial.study_id
        self.seed: int = trial.seed
        self.attempt: int = trial.attempt
        self.params: Dict[str, Any] = {name: _param_value(v) for name, v in trial.params.items()}
        self._client = client
        self._token: str = response.lease.token
        self._stopped = False

    @property
    def should_stop(self) -> bool:
        return self._stopped

    def __repr__(self) -> str:
        return f"Trial(id={self.id}, number={self.number}, params={self.params!r})"


class Study:
    """A study on the coordinator. Attribute values are those of the last answer (see refresh())."""

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
        "completed", "failed", "cancelled"); ValueError for another name. Each dict has the keys id,
        number, state, params (name -> value), metrics (name -> float), attempt, worker_id, device,
        error, seed, created_ms, started_ms, finished_ms and progress (None, or {"step", "metrics"}).
        """
        wanted = None
        if state is not None:
            wanted = {state} if isinstance(state, str) else set(state)
            unknown = wanted - set(_TRIAL_STATES.values())
            if unknown:
                raise ValueError(
                    f"unknown trial state {sorted(unknown)[0]!r}; expected one of "
                    "pending, running, completed, failed, cancelled"
                )
        response = self._client._study_call("ListTrials", service_pb2.ListTrialsRequest(study_id=self.id))
        trials = [_trial_dict(t) for t in response.trials]
        return [t for t in trials if wanted is None or t["state"] in wanted]

    def pareto_front(self) -> List[Dict[str, Any]]:
        """The completed trials no other completed trial dominates, for the study's objectives, as dicts
        (see trials()), best first by the first objective."""
        response = self._client._study_call(
            "GetParetoFront", service_pb2.GetParetoFrontRequest(study_id=self.id)
        )
        return [_trial_dict(t) for t in response.trials]

    def cancel(self) -> "Study":
        """Cancels the study: no more trials are handed out; running ones are told to stop."""
        self._update(
            self._client._study_call("CancelStudy", service_pb2.CancelStudyRequest(study_id=self.id))
        )
        return self

    # ---- ask/tell, for studies whose task is {"external": {}} ----

    def ask(self, timeout: Optional[float] = None) -> Optional[Trial]:
        """The next trial of this study to evaluate, or None when there is none to hand out any more:
        the study has ended, or every trial it still needs is already out with this client (tell those).

        Waits while none can be handed out yet (max_parallel trials are out, or a generation is being
        evaluated elsewhere); raises TimeoutError when `timeout` seconds pass first. The first call registers the
        client with the coordinator as a worker and starts its heartbeat thread, which keeps the lease of
        every asked trial alive until it is told, however long the evaluation takes.
        """
        return self._client._ask(self, timeout)

    def tell(self, trial: Trial, metrics: Mapping[str, float], device: Optional[str] = None) -> None:
        """Completes `trial` with `metrics` (name -> number; every objective must be there).

        `device` records where the metrics were measured (default: the Client's). Raises HpoError:
        FAILED_PRECONDITION when the trial is no longer this client's (its lease ran out and it was
        handed out again, or the study was cancelled), INVALID_ARGUMENT for bad metrics.
        """
        self._check_own(trial)
        values = {}
        for name, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"metric {name!r} must be a number, not {type(value).__name__}")
            values[str(name)] = float(value)
        self._client._finish(
            trial,
            "CompleteTrial",
            service_pb2.CompleteTrialRequest(
                trial_id=trial.id,
                lease_token=trial._token,
                metrics=values,
                device=self._client._device if device is None else device,
            ),
        )

    def tell_failed(self, trial: Trial, reason: str) -> None:
        """Fails `trial` with `reason` (kept as the trial's error). It counts against the budget."""
        self._check_own(trial)
        self._client._finish(
            trial,
            "FailTrial",
            service_pb2.FailTrialRequest(trial_id=trial.id, lease_token=trial._token, error=str(reason)),
        )

    def report(self, trial: Trial, step: int, metrics: Mapping[str, float]) -> None:
        """Reports intermediate values of a trial being evaluated (kept as the trial's progress)."""
        self._check_own(trial)
        self._client._worker_call(
            "ReportProgress",
            service_pb2.ReportProgressRequest(
                trial_id=trial.id,
                lease_token=trial._token,
                step=int(step),
                metrics={str(k): float(v) for k, v in metrics.items()},
            ),
        )

    def _check_own(self, trial: Trial) -> None:
        if not isinstance(trial, Trial):
            raise TypeError(f"expected a Trial from Study.ask(), not {type(trial).__name__}")
        if trial.study_id != self.id:
            raise ValueError(f"trial {trial.id} belongs to study {trial.study_id}, not to study {self.id}")
        if trial._client is not self._client:
            raise ValueError(f"trial {trial.id} was asked through another Client")


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

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stops the heartbeat thread, gives every asked but untold trial back to the coordinator (it
        is handed out again without counting as a failed attempt), and closes the channel."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        with self._lock:
            untold = list(self._leases.values())
            self._leases.clear()
        for trial in untold:
            try:
                self._worker_call(
                    "ReleaseTrial",
                    service_pb2.ReleaseTrialRequest(
                        trial_id=trial.id, lease_token=trial._token, reason="the Python client closed"
                    ),
                )
            except HpoError:
                pass  # best effort: the lease runs out anyway
        self._channel.close()

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

    # ---- internals ----

    def _study_call(self, method: str, request, timeout: Optional[float] = None):
        return _call(getattr(self._studies, method), request, timeout or self._timeout, self._metadata)

    def _worker_call(self, method: str, request, timeout: Optional[float] = None):
        worker_id = self._register()
        request.worker_id = worker_id
        return _call(getattr(self._workers, method), request, timeout or self._timeout, self._metadata)

    def _register(self) -> int:
        with self._lock:
            if self._worker_id is not None:
                return self._worker_id
        response = _call(
            self._workers.RegisterWorker,
            service_pb2.RegisterWorkerRequest(
                name=f"hpo_client@{socket.gethostname()}:{os.getpid()}",
                slots=1,
                device=self._device,
                labels={"client": "python"},
            ),
            self._timeout,
            self._metadata,
        )
        with self._lock:
            if self._worker_id is None:
                self._worker_id = response.worker_id
                self._heartbeat_s = max(response.heartbeat_ms, 50) / 1000.0
                self._heartbeat = threading.Thread(
                    target=self._heartbeat_loop, name="hpo_client-heartbeat", daemon=True
                )
                self._heartbeat.start()
            return self._worker_id

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
                if e.code == grpc.StatusCode.FAILED_PRECONDITION and study.refresh().state != "running":
                    return None
                raise
            if response.HasField("trial"):
                trial = Trial(self, response)
                with self._lock:
                    self._leases[trial.id] = trial
                return trial
            if study.refresh().state != "running" or self._holds_the_rest(study):
                return None
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"no trial of study {study.id} could be handed out within {timeout} s")

    def _holds_the_rest(self, study: Study) -> bool:
        """True when every trial the study still needs is out with this client: none pending, the
        budget covered by finished and running trials, and all the running ones asked here. Only a
        tell (or a lease running out) can change that, so waiting would wait for the caller itself."""
        counts = study._proto.counts
        if counts.pending > 0:
            return False
        if counts.completed + counts.failed + counts.running < study._proto.spec.budget.max_trials:
            return False
        with self._lock:
            mine = sum(1 for t in self._leases.values() if t.study_id == study.id)
        return mine >= counts.running

    def _finish(self, trial: Trial, method: str, request) -> None:
        try:
            self._worker_call(method, request)
        except HpoError as e:
            if e.code == grpc.StatusCode.FAILED_PRECONDITION:
                self._forget(trial)
            raise
        self._forget(trial)

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
                response = _call(
                    self._workers.Heartbeat,
                    service_pb2.HeartbeatRequest(worker_id=worker_id, leases=leases),
                    self._timeout,
                    self._metadata,
                )
            except HpoError:
                continue  # a coordinator restart: try again at the next beat, the lease has slack
            with self._lock:
                for trial_id in response.stop_trial_ids:
                    trial = self._leases.pop(trial_id, None)
                    if trial is not None:
                        trial._stopped = True


def _call(method, request, timeout: float, metadata):
    try:
        return method(request, timeout=timeout, metadata=metadata)
    except grpc.RpcError as e:
        raise HpoError(e.code(), e.details() or e.code().name) from None


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


def _to_spec(spec) -> study_pb2.StudySpec:
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
        raise HpoError(grpc.StatusCode.INVALID_ARGUMENT, f"{source}: expected an object, got {type(spec).__name__}")
    try:
        return json_format.ParseDict(dict(spec), study_pb2.StudySpec())
    except json_format.ParseError as e:
        raise HpoError(grpc.StatusCode.INVALID_ARGUMENT, f"{source}: {e}") from None


def _param_value(value: study_pb2.ParamValue):
    kind = value.WhichOneof("kind")
    if kind == "double_value":
        return value.double_value
    if kind == "int_value":
        return value.int_value
    if kind == "string_value":
        return value.string_value
    return None


def _trial_dict(trial: study_pb2.Trial) -> Dict[str, Any]:
    progress = None
    if trial.HasField("progress"):
        progress = {"step": trial.progress.step, "metrics": dict(trial.progress.metrics)}
    return {
        "id": trial.id,
        "number": trial.number,
        "state": _TRIAL_STATES.get(trial.state, "unknown"),
        "params": {name: _param_value(v) for name, v in trial.params.items()},
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
