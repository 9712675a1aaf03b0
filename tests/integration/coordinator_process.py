"""A real hpo-coordinator for the Python tests: on 127.0.0.1:<free port>, with --token-file, on its own
SQLite file in a given folder. Uses only the standard library (the package test imports it from an
interpreter that has no hpo_client).

The binaries are in $HPO_BIN_DIR (ctest sets it to build/bin), else ../../build/bin from here.
"""

import os
import subprocess
import time

BIN = os.environ.get("HPO_BIN_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin"
)
TOKEN = "python-client-test-token"


def read(path):
    with open(path) as f:
        return f.read().strip()


class Coordinator:
    """hpo-coordinator on 127.0.0.1:<free port> with --token-file (TOKEN), on `directory`/hpo.db."""

    def __init__(self, directory):
        self.dir = directory
        self.token_file = os.path.join(directory, "token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        port_file = os.path.join(directory, "port")
        self.log = open(os.path.join(directory, "coordinator.log"), "w")
        self.process = subprocess.Popen(
            [
                os.path.join(BIN, "hpo-coordinator"),
                "--listen", "127.0.0.1:0",
                "--port-file", port_file,
                "--db", os.path.join(directory, "hpo.db"),
                "--token-file", self.token_file,
                "--heartbeat-ms", "200",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(200):
            if os.path.exists(port_file) and read(port_file):
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"hpo-coordinator exited with {self.process.returncode}: {self.logs()}")
            time.sleep(0.05)
        else:
            raise RuntimeError("hpo-coordinator wrote no port file in 10 s")
        self.address = "127.0.0.1:" + read(port_file)

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        with open(os.path.join(self.dir, "coordinator.log")) as f:
            return f.read()[-4000:]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
