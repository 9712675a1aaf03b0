"""Integration: `pip install ./client/python` into a fresh virtual environment, offline, then the installed
package (no PYTHONPATH, another working directory) against a real hpo-coordinator.

The venv sees Debian's python3-grpcio, python3-protobuf, python3-setuptools and python3-wheel
(--system-site-packages) and pip builds with them (--no-build-isolation --no-index): nothing is
downloaded. The sources are copied with the repository's layout (client/python beside proto/) into a
temporary folder first, so that the build's own files (build/, *.egg-info) never land in the source tree.

Exits 77 (ctest: skipped), saying why, when python3-venv is not installed. ctest runs it as
    /usr/bin/python3 tests/integration/python_package_test.py
with HPO_BIN_DIR at build/bin.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from coordinator_process import TOKEN, Coordinator  # noqa: E402

SKIP = 77
# pip's options for a build from Debian's packages alone: the venv's own setuptools and wheel, no index.
OFFLINE = ["--no-build-isolation", "--no-index"]

# Run by the venv's interpreter, in a folder that holds no hpo sources: an external study, asked and told
# through the installed package. Prints one JSON line for the test to check.
USE_THE_PACKAGE = r"""
import json, sys
import hpo_client
import hpo.v1.service_pb2_grpc
with hpo_client.Client(sys.argv[1], token=sys.argv[2]) as client:
    study = client.create_study({
        "name": "installed",
        "parameters": [{"name": "width", "int": {"low": 8, "high": 64}},
                       {"name": "lr", "float": {"low": 1e-4, "high": 1e-1, "log": True}}],
        "objectives": [{"name": "loss", "direction": "MINIMIZE"}],
        "budget": {"max_trials": 3},
        "task": {"external": {}},
        "seed": 2,
    })
    told = []
    while (trial := study.ask(timeout=10)) is not None:
        study.tell(trial, {"loss": trial.params["lr"] * trial.params["width"]})
        told.append(trial)
    try:
        study.tell(told[-1], {"loss": 1.0})
    except hpo_client.HpoError as e:
        again = e.code.name
    stored = {t["id"]: t["metrics"]["loss"] for t in study.trials(state="completed")}
    state = study.wait(interval=0.05, timeout=10).state
    hypervolume = study.hypervolume()  # the coordinator's, through the installed stubs
    workers = [w.state for w in client.workers() if w.labels.get("client") == "python"]
    deleted = client.delete_study(study.id).trials_deleted
client.close()
try:
    client.studies()
except hpo_client.HpoError as e:
    closed = e.code.name
print(json.dumps({
    "client": hpo_client.__file__, "stubs": hpo.v1.service_pb2_grpc.__file__,
    "params": [list(t.params) for t in told],
    "told_equals_stored": all(stored[t.id] == t.metrics["loss"] for t in told),
    "told": len(told), "state": state, "again": again, "closed": closed,
    "hypervolume": [hypervolume.value is not None, hypervolume.rule, hypervolume.trials],
    "workers": workers, "deleted": deleted,
}))
"""


def run(argv, **kwargs):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def clean_env():
    """The environment without PYTHONPATH (ctest's other Python test points it at build/python) nor the
    variables a user's shell may set for the client."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "HPO_COORDINATOR", "HPO_TOKEN", "HPO_TOKEN_FILE"):
        env.pop(name, None)
    env["PIP_NO_INPUT"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def copy_sources(target, with_protos=True):
    """client/python (and proto/) of this repository under `target`, as in the repository."""
    ignore = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "hpo")
    shutil.copytree(os.path.join(SOURCE, "client", "python"), os.path.join(target, "client", "python"),
                    ignore=ignore)
    if with_protos:
        shutil.copytree(os.path.join(SOURCE, "proto"), os.path.join(target, "proto"))


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="hpo-python-package-")
        cls.venv = os.path.join(cls.dir, "venv")
        made = run([sys.executable, "-m", "venv", "--system-site-packages", cls.venv])
        if made.returncode != 0:
            shutil.rmtree(cls.dir, ignore_errors=True)
            if "ensurepip" in made.stdout:
                print(f"python_package_test: SKIPPED: python3-venv is not installed ({sys.executable} "
                      "-m venv has no ensurepip); deploy/install-deps.sh installs it.", flush=True)
                print(made.stdout, flush=True)
                sys.exit(SKIP)
            raise RuntimeError(f"{sys.executable} -m venv failed:\n{made.stdout}")
        cls.python = os.path.join(cls.venv, "bin", "python")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def pip_install(self, root):
        argv = [self.python, "-m", "pip", "install", *OFFLINE, "./client/python"]
        return run(argv, cwd=root, env=clean_env())

    def test_pip_install_into_a_venv_then_use_the_package(self):
        root = os.path.join(self.dir, "repo")
        copy_sources(root)
        installed = self.pip_install(root)
        self.assertEqual(installed.returncode, 0, installed.stdout)
        self.assertIn("Successfully installed hpo-client-", installed.stdout)

        # What was installed: the client, its typing marker, and the generated modules with their .pyi.
        files = run([self.python, "-m", "pip", "show", "--files", "hpo-client"], env=clean_env())
        self.assertEqual(files.returncode, 0, files.stdout)
        listed = {line.strip() for line in files.stdout.splitlines()}
        for path in ("hpo_client/__init__.py", "hpo_client/client.py", "hpo_client/py.typed",
                     "hpo/__init__.py", "hpo/v1/__init__.py", "hpo/v1/study_pb2.py", "hpo/v1/study_pb2.pyi",
                     "hpo/v1/service_pb2.py", "hpo/v1/service_pb2.pyi", "hpo/v1/service_pb2_grpc.py"):
            self.assertIn(path, listed, files.stdout)
        requires = [line for line in files.stdout.splitlines() if line.startswith("Requires:")]
        self.assertEqual(requires, ["Requires: grpcio, protobuf"], files.stdout)
        # Nothing was generated into the copied sources.
        self.assertFalse(os.path.exists(os.path.join(root, "client", "python", "hpo")))

        coordinator = Coordinator(self.dir)
        try:
            elsewhere = os.path.join(self.dir, "elsewhere")
            os.makedirs(elsewhere)
            used = run([self.python, "-c", USE_THE_PACKAGE, coordinator.address, TOKEN], cwd=elsewhere,
                       env=clean_env(), timeout=120)
        finally:
            coordinator.stop()
        self.assertEqual(used.returncode, 0, used.stdout + coordinator.logs())
        result = json.loads(used.stdout.strip().splitlines()[-1])
        site = os.path.join(self.venv, "lib")
        self.assertTrue(result["client"].startswith(site), result)  # the installed copy, not the sources
        self.assertTrue(result["stubs"].startswith(site), result)
        self.assertEqual(result["told"], 3)
        self.assertTrue(result["told_equals_stored"], result)
        self.assertEqual(result["params"], [["width", "lr"]] * 3)  # the spec's order
        self.assertEqual(result["state"], "completed")
        self.assertEqual(result["again"], "FAILED_PRECONDITION")  # a second tell
        self.assertEqual(result["closed"], "FAILED_PRECONDITION")
        self.assertEqual(result["hypervolume"], [True, "worst + 10% of range", 3])
        self.assertEqual(result["workers"], ["live"])  # the client itself, from its first ask
        self.assertEqual(result["deleted"], 3)

        # And it uninstalls whole: the generated modules too.
        removed = run([self.python, "-m", "pip", "uninstall", "-y", "hpo-client"], env=clean_env())
        self.assertEqual(removed.returncode, 0, removed.stdout)
        gone = run([self.python, "-c", "import hpo.v1.study_pb2"], cwd=self.dir, env=clean_env())
        self.assertNotEqual(gone.returncode, 0, gone.stdout)

    def test_an_editable_install_imports_from_the_sources(self):
        root = os.path.join(self.dir, "editable")
        copy_sources(root)
        venv = os.path.join(self.dir, "editable-venv")
        made = run([sys.executable, "-m", "venv", "--system-site-packages", venv])
        self.assertEqual(made.returncode, 0, made.stdout)
        python = os.path.join(venv, "bin", "python")
        installed = run([python, "-m", "pip", "install", *OFFLINE, "-e", "./client/python"], cwd=root,
                        env=clean_env())
        self.assertEqual(installed.returncode, 0, installed.stdout)
        # The generated modules are beside the sources (an editable install has no build of its own).
        where = run([python, "-c", "import hpo_client, hpo.v1.service_pb2 as s; print(hpo_client.__file__); "
                     "print(s.__file__)"], cwd=self.dir, env=clean_env())
        self.assertEqual(where.returncode, 0, where.stdout)
        package = os.path.join(root, "client", "python")
        self.assertEqual(where.stdout.split(), [os.path.join(package, "hpo_client", "__init__.py"),
                                                os.path.join(package, "hpo", "v1", "service_pb2.py")])

    def test_a_source_distribution_carries_the_protos_and_installs_anywhere(self):
        root = os.path.join(self.dir, "sdist")
        copy_sources(root)
        package = os.path.join(root, "client", "python")
        made = run([self.python, "setup.py", "-q", "sdist", "--dist-dir", os.path.join(self.dir, "dist")],
                   cwd=package, env=clean_env())
        self.assertEqual(made.returncode, 0, made.stdout)
        (tarball,) = os.listdir(os.path.join(self.dir, "dist"))
        with tarfile.open(os.path.join(self.dir, "dist", tarball)) as tar:
            names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        carried = {"proto/hpo/v1/study.proto", "proto/hpo/v1/service.proto", "pyproject.toml", "setup.py",
                   "hpo_client/client.py", "hpo_client/py.typed"}
        self.assertTrue(carried <= names, sorted(names))
        # Installed from a folder with no repository around it, into a venv of its own.
        venv = os.path.join(self.dir, "sdist-venv")
        self.assertEqual(run([sys.executable, "-m", "venv", "--system-site-packages", venv]).returncode, 0)
        python = os.path.join(venv, "bin", "python")
        installed = run([python, "-m", "pip", "install", *OFFLINE, os.path.join(self.dir, "dist", tarball)],
                        cwd=self.dir, env=clean_env())
        self.assertEqual(installed.returncode, 0, installed.stdout)
        imported = run([python, "-c", "import hpo_client, hpo.v1.service_pb2_grpc"], cwd=self.dir,
                       env=clean_env())
        self.assertEqual(imported.returncode, 0, imported.stdout)

    def test_building_without_the_protos_says_where_it_looked(self):
        root = os.path.join(self.dir, "no-protos")
        copy_sources(root, with_protos=False)
        installed = self.pip_install(root)
        self.assertNotEqual(installed.returncode, 0, installed.stdout)
        self.assertIn("hpo-client: no hpo/v1/*.proto in ", installed.stdout)
        self.assertIn(os.path.join(root, "proto"), installed.stdout)
        self.assertIn("HPO_PROTO_DIR", installed.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
