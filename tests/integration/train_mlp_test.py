"""examples/train_mlp.py optimises the validation accuracy and never looks at the test set for it.

The script is run twice with the same seed: on Fashion-MNIST, and on a copy whose test labels are all
wrong (each shifted to the next class). Its objective, val_accuracy (held-out training images), and
everything else it prints must be the same both times, while test_accuracy falls to 0: the test set only
feeds the one metric reported beside the objective. Needs Debian's /usr/bin/python3 with python3-numpy
and dataset-fashion-mnist (deploy/install-deps.sh installs them).

    /usr/bin/python3 tests/integration/train_mlp_test.py
"""

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCRIPT = os.path.join(SOURCE, "examples", "train_mlp.py")
SPEC = os.path.join(SOURCE, "examples", "command-mlp.json")
DATA = "/usr/share/datasets/fashion-mnist"
FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"]
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"


def run(python, data_dir):
    ran = subprocess.run(
        [python, SCRIPT, "--epochs=2", "--train-limit=3000", "--test-limit=2000", "--hidden=64", "--lr=0.003",
         f"--data-dir={data_dir}"],
        env=dict(os.environ, HPO_SEED="7", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300,
    )
    if ran.returncode != 0:
        raise AssertionError(f"{python} {SCRIPT} exited with {ran.returncode}: {ran.stderr}")
    lines = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    return lines[:-1], lines[-1]  # progress, result


class TrainMlpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(SPEC) as f:
            cls.spec = json.load(f)
        cls.python = cls.spec["task"]["command"]["argv"][0]  # the interpreter the example names
        missing = []
        if subprocess.run([cls.python, "-c", "import numpy"], capture_output=True).returncode != 0:
            missing.append(f"{cls.python} with numpy (python3-numpy)")
        if not os.path.exists(os.path.join(DATA, TEST_LABELS)):
            missing.append(f"Fashion-MNIST in {DATA} (dataset-fashion-mnist)")
        if missing:
            sys.exit(f"train_mlp_test: needs {' and '.join(missing)}; deploy/install-deps.sh installs them")

    def test_the_spec_optimises_validation_accuracy(self):
        objectives = {o["name"]: o["direction"] for o in self.spec["objectives"]}
        self.assertEqual(objectives, {"val_accuracy": "MAXIMIZE", "latency_ms": "MINIMIZE"})
        argv = self.spec["task"]["command"]["argv"]
        self.assertEqual(argv[:2], ["/usr/bin/python3", "examples/train_mlp.py"])

    def test_the_objective_never_depends_on_the_test_set(self):
        wrong = tempfile.mkdtemp(prefix="hpo-train-mlp-")
        self.addCleanup(shutil.rmtree, wrong, ignore_errors=True)
        for name in FILES:
            os.symlink(os.path.join(DATA, name), os.path.join(wrong, name))
        with gzip.open(os.path.join(DATA, TEST_LABELS), "rb") as f:
            labels = f.read()
        header, body = labels[:8], labels[8:]
        with gzip.open(os.path.join(wrong, TEST_LABELS), "wb") as f:
            f.write(header + bytes((b + 1) % 10 for b in body))

        progress, result = run(self.python, DATA)
        wrong_progress, wrong_result = run(self.python, wrong)

        self.assertEqual([p["step"] for p in progress], [1, 2])
        self.assertEqual(result["val_accuracy"], progress[-1]["val_accuracy"])  # the last epoch's
        self.assertGreater(result["val_accuracy"], 0.5)
        self.assertGreater(result["test_accuracy"], 0.5)
        self.assertNotIn("accuracy", result)
        # The same run but for the test labels: all it optimises on, bit for bit; the test score alone moves.
        self.assertEqual(wrong_progress, progress)
        for name in ("val_accuracy", "loss", "params"):
            self.assertEqual(wrong_result[name], result[name], name)
        self.assertLess(wrong_result["test_accuracy"], 0.3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
