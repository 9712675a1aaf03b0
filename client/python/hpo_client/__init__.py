"""hpo_client: the Python client of the hpo coordinator.

Create studies from a dict or a study file, follow them, fetch their trials and Pareto front as plain
dicts and the front's hypervolume as the coordinator computes it, cancel and delete them, list the
coordinator's workers, and, for studies whose task is ``{"external": {}}``, evaluate trials in Python with
ask/tell::

    import hpo_client

    with hpo_client.Client() as client:          # $HPO_COORDINATOR, $HPO_TOKEN_FILE / $HPO_TOKEN
        study = client.create_study({
            "name": "my-sweep",
            "parameters": [{"name": "lr", "float": {"low": 1e-4, "high": 0.1, "log": True}}],
            "objectives": [{"name": "loss", "direction": "MINIMIZE"}],
            "budget": {"max_trials": 20},
            "task": {"external": {}},
        })
        while (trial := study.ask()) is not None:
            study.tell(trial, {"loss": train(**trial.params)})
        print(study.pareto_front())

Or let ``study.optimize(objective, n_trials=20, n_jobs=2)`` ask, evaluate and tell; an objective may
``trial.report(step, metrics)`` as it goes and ``raise hpo_client.TrialPruned()`` when that returns True
(the study's pruner stopped the trial early).

Errors from the coordinator are raised as :class:`HpoError`, which carries the gRPC status code and the
coordinator's message (for a bad spec, the message names the field); so are a tell that lacks an objective
or has a value that is not finite (naming the metric), a second tell of a trial, and any call on a closed
client.

Install from the repository with ``pip install ./client/python`` (client/python/README.md): it generates
the gRPC modules of hpo.v1 from proto/ and installs them beside this package. The package is typed.
"""

from hpo_client.client import (
    DEFAULT_ADDRESS,
    Client,
    DeletedStudy,
    HpoError,
    Hypervolume,
    Progress,
    Study,
    Trial,
    TrialPruned,
    Worker,
)

__all__ = [
    "DEFAULT_ADDRESS",
    "Client",
    "DeletedStudy",
    "HpoError",
    "Hypervolume",
    "Progress",
    "Study",
    "Trial",
    "TrialPruned",
    "Worker",
]
