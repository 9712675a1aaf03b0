"""deploy/: one rule labels every worker, and the selector the READMEs recommend matches it.

hpo-worker-node (deploy/hpo-worker-node.sh) is run for real with stand-ins for nvidia-smi and hpo-worker
(which prints the arguments it was given); so is the Slurm script's per-node part, with a stand-in srun.
The Kubernetes manifests, the systemd unit and the worker image must all start workers through it, the
DaemonSet must hold every GPU of its nodes with one slot each, and every {"worker_selector": {"gpu": ...}}
in the READMEs and manifests must be the label the rule gives the GPU that the Deployment's nodeSelector
names. Needs bash and coreutils only.

    python3 tests/deploy/deploy_test.py
"""

import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

SOURCE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPLOY = os.path.join(SOURCE, "deploy")
NODE_SCRIPT = os.path.join(DEPLOY, "hpo-worker-node.sh")
H100 = "NVIDIA H100 80GB HBM3"  # as nvidia-smi prints it
H100_LABEL = "NVIDIA-H100-80GB-HBM3"  # as GPU Feature Discovery's nvidia.com/gpu.product says it


def read(*parts):
    with open(os.path.join(SOURCE, *parts), encoding="utf-8") as f:
        return f.read()


def write_executable(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class Machine:
    """A folder with stand-ins: bin/hpo-worker (prints its arguments, one a line) and, when `gpus` is not
    None, bin/nvidia-smi listing those (uuid, name) pairs."""

    def __init__(self, root, gpus):
        self.bin = os.path.join(root, "bin")
        os.makedirs(self.bin)
        write_executable(os.path.join(self.bin, "hpo-worker"), '#!/bin/sh\nprintf "%s\\n" "$@"\n')
        if gpus is not None:
            lines = "".join(f"{uuid}, {name}\\n" for uuid, name in gpus)
            write_executable(
                os.path.join(self.bin, "nvidia-smi"),
                '#!/bin/sh\n[ "$1" = --query-gpu=uuid,name ] || { echo "unexpected: $*" >&2; exit 9; }\n'
                f'printf "{lines}"\n',
            )
        # The tools the script uses, and nothing else of the host's PATH (no real nvidia-smi).
        self.tools = os.path.join(root, "tools")
        os.makedirs(self.tools)
        for tool in ("bash", "sh", "cut", "tr", "sed", "sort", "paste", "wc", "nproc", "cat", "dirname"):
            found = shutil.which(tool)
            if found:
                os.symlink(found, os.path.join(self.tools, tool))

    def env(self, **extra):
        env = {"PATH": f"{self.bin}:{self.tools}", "HOME": "/nonexistent", "HOSTNAME": "gpu7.example"}
        env.update(extra)
        return env


def run_node(machine, args=(), **env):
    return subprocess.run(
        ["bash", NODE_SCRIPT, *args], env=machine.env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def labels(argv):
    """The values of --label X and --label=X, in order."""
    found = []
    for i, a in enumerate(argv):
        if a == "--label":
            found.append(argv[i + 1])
        elif a.startswith("--label="):
            found.append(a[len("--label="):])
    return found


def gpus_slots_threads(argv):
    return flag(argv, "--gpus"), flag(argv, "--slots"), flag(argv, "--threads")


def flag(argv, name):
    values = [argv[i + 1] for i, a in enumerate(argv) if a == name]
    return values[0] if len(values) == 1 else values


class NodeScriptTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hpo-deploy-test-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.count = 0

    def machine(self, gpus):
        self.count += 1
        return Machine(os.path.join(self.dir, str(self.count)), gpus)

    def test_every_gpu_a_slot_labelled_by_its_name(self):
        node = self.machine([(f"GPU-{i}", H100) for i in range(8)])
        ran = run_node(node, ["--coordinator=c:50051", "--name=pod-1", "--label=team=vision"], HPO_CPUS="32",
                       HPO_NODE_NAME="node-a")
        self.assertEqual(ran.returncode, 0, ran.stderr)
        argv = ran.stdout.splitlines()
        self.assertEqual(flag(argv, "--gpus"), ",".join(f"GPU-{i}" for i in range(8)))
        self.assertEqual(flag(argv, "--slots"), "8")
        self.assertEqual(flag(argv, "--threads"), "4")  # 32 CPUs over 8 slots
        self.assertEqual(labels(argv), [f"gpu={H100_LABEL}", "node=node-a", "team=vision"])
        self.assertEqual(argv[-3:], ["--coordinator=c:50051", "--name=pod-1", "--label=team=vision"])
        self.assertIn(f"hpo-worker-node: {node.bin}/hpo-worker --gpus", ran.stderr)

    def test_cuda_visible_devices_picks_the_gpus_and_settings_override(self):
        node = self.machine([("GPU-a", H100), ("GPU-b", H100), ("GPU-c", H100), ("GPU-d", H100)])
        ran = run_node(node, CUDA_VISIBLE_DEVICES="1,3", HPO_CPUS="9")
        self.assertEqual(ran.returncode, 0, ran.stderr)
        argv = ran.stdout.splitlines()
        self.assertEqual(gpus_slots_threads(argv), ("1,3", "2", "4"))
        self.assertEqual(labels(argv), [f"gpu={H100_LABEL}", "node=gpu7"])  # the short host name

        ran = run_node(node, CUDA_VISIBLE_DEVICES="1,3", HPO_SLOTS="4", HPO_CPUS="8",
                       HPO_GPU_LABEL="h100-pool")
        argv = ran.stdout.splitlines()
        self.assertEqual((flag(argv, "--slots"), flag(argv, "--threads")), ("4", "2"))
        self.assertEqual(labels(argv)[0], "gpu=h100-pool")

    def test_a_machine_without_a_gpu_is_gpu_cpu_with_one_slot(self):
        for cuda in (None, "NoDevFiles"):
            node = self.machine(None)
            env = {"HPO_CPUS": "6"}
            if cuda:
                env["CUDA_VISIBLE_DEVICES"] = cuda
            ran = run_node(node, **env)
            self.assertEqual(ran.returncode, 0, ran.stderr)
            argv = ran.stdout.splitlines()
            self.assertEqual(flag(argv, "--gpus"), [])
            self.assertEqual((flag(argv, "--slots"), flag(argv, "--threads")), ("1", "6"))
            self.assertEqual(labels(argv)[0], "gpu=cpu")

    def test_gpus_of_two_kinds_or_unnamed_ones_are_refused_saying_why(self):
        node = self.machine([("GPU-a", H100), ("GPU-b", "NVIDIA A100-SXM4-80GB")])
        ran = run_node(node)
        self.assertEqual(ran.returncode, 2)
        self.assertEqual(ran.stdout, "")  # hpo-worker never ran
        self.assertIn("the GPUs are of more than one kind (NVIDIA-A100-SXM4-80GB NVIDIA-H100-80GB-HBM3)",
                      ran.stderr)
        self.assertIn("HPO_GPU_LABEL", ran.stderr)
        self.assertEqual(run_node(node, HPO_GPU_LABEL="mixed").returncode, 0)

        bare = self.machine(None)
        ran = run_node(bare, CUDA_VISIBLE_DEVICES="0,1")
        self.assertEqual(ran.returncode, 2)
        self.assertIn("cannot name the GPUs 0,1", ran.stderr)
        ran = run_node(bare, HPO_SLOTS="0")
        self.assertEqual(ran.returncode, 2)
        self.assertIn("HPO_SLOTS must be a whole number >= 1, not '0'", ran.stderr)

    def test_the_slurm_script_starts_each_node_through_it(self):
        node = self.machine([("GPU-a", H100), ("GPU-b", H100)])
        shutil.copy(NODE_SCRIPT, os.path.join(node.bin, "hpo-worker-node"))
        # srun: runs the step's command once, as on one node, with the variables Slurm sets there.
        write_executable(os.path.join(node.bin, "srun"),
                         '#!/bin/bash\nwhile [[ $1 == --* ]]; do shift; done\n'
                         'CUDA_VISIBLE_DEVICES=0,1 SLURM_JOB_ID=4242 exec "$@"\n')
        token = os.path.join(self.dir, "worker.token")
        with open(token, "w") as f:
            f.write("t\n")
        ran = subprocess.run(
            ["bash", os.path.join(DEPLOY, "slurm", "hpo-workers.sbatch")],
            env=node.env(HPO_COORDINATOR="coord:50051", HPO_BIN=node.bin, HPO_TOKEN_FILE=token,
                         SLURM_JOB_NUM_NODES="1", HPO_CPUS="16", HPO_WORKER_ARGS="--tls-ca /ca.pem"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.assertEqual(ran.returncode, 0, ran.stderr)
        argv = ran.stdout.splitlines()
        self.assertEqual(gpus_slots_threads(argv), ("0,1", "2", "8"))
        self.assertEqual(labels(argv), [f"gpu={H100_LABEL}", "node=gpu7", "slurm_job=4242"])
        self.assertEqual(flag(argv, "--name"), "slurm-4242-gpu7")
        self.assertEqual(flag(argv, "--token-file"), token)
        self.assertEqual(flag(argv, "--tls-ca"), "/ca.pem")


class ManifestsTest(unittest.TestCase):
    def test_every_way_to_start_a_worker_goes_through_hpo_worker_node(self):
        for path in ("k8s/worker-daemonset.yaml", "k8s/worker-deployment.yaml"):
            text = read("deploy", path)
            self.assertIn('command: ["/usr/bin/tini", "--", "/usr/local/bin/hpo-worker-node"]', text, path)
            # The labels and slots come from the script alone (hpo-worker refuses a label given twice).
            self.assertNotRegex(text, r"--label[= ]?gpu=", path)
            self.assertNotIn("--slots", text, path)
        self.assertIn("exec \"$HPO_BIN/hpo-worker-node\"", read("deploy", "slurm", "hpo-workers.sbatch"))
        unit = read("deploy", "systemd", "hpo-worker.service")
        self.assertIn("ExecStart=/usr/local/bin/hpo-worker-node ", unit)
        self.assertNotIn("--label gpu=", read("deploy", "systemd", "worker.env").replace("#   ", ""))
        dockerfile = read("deploy", "docker", "Dockerfile.worker")
        self.assertIn("COPY --chmod=0755 deploy/hpo-worker-node.sh /usr/local/bin/hpo-worker-node",
                      dockerfile)
        self.assertIn('ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/hpo-worker-node"]', dockerfile)

    def test_the_daemonset_holds_every_gpu_of_its_nodes(self):
        text = read("deploy", "k8s", "worker-daemonset.yaml")
        count = re.search(r'nvidia\.com/gpu\.count: "(\d+)"', text)
        self.assertIsNotNone(count, "the DaemonSet selects nodes by their GPU count")
        requested = re.findall(r"nvidia\.com/gpu: (\d+)", text)
        self.assertEqual(requested, [count.group(1)])  # the limit: all of them, one slot each (the script)
        self.assertGreater(int(count.group(1)), 1)

    def test_the_recommended_selector_is_the_label_workers_set(self):
        # The kind the Deployment's nodes have, by GPU Feature Discovery, is the label its workers get.
        deployment = read("deploy", "k8s", "worker-deployment.yaml")
        product = re.search(r"nvidia\.com/gpu\.product: (\S+)", deployment).group(1)
        self.assertEqual(product, H100_LABEL)
        with tempfile.TemporaryDirectory() as root:
            ran = run_node(Machine(root, [("GPU-0", H100)]))
        self.assertEqual(ran.returncode, 0, ran.stderr)
        self.assertIn(f"gpu={product}", labels(ran.stdout.splitlines()))

        # Every selector on gpu that the docs and manifests show names that same label value.
        texts = {path: read(*path.split("/")) for path in (
            "README.md", "deploy/README.md", "docs/concepts.md", "docs/study-spec.md",
            "client/python/README.md",
            "deploy/k8s/worker-daemonset.yaml", "deploy/k8s/worker-deployment.yaml")}
        seen = 0
        for path, text in texts.items():
            for value in re.findall(r'(?:"worker_selector":\s*|`)\{\s*"gpu":\s*"([^"]*)"', text):
                self.assertEqual(value, H100_LABEL, f"{path} recommends worker_selector gpu={value}")
                seen += 1
            for value in re.findall(r"--label[= ]gpu=(\S+?)[`\s]", text):
                self.assertEqual(value, H100_LABEL, f"{path} labels a worker gpu={value}")
        self.assertGreaterEqual(seen, 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
