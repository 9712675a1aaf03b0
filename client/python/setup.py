"""Builds the hpo-client package (metadata in pyproject.toml) and generates its gRPC modules.

The modules of the proto package hpo.v1 are generated from the .proto files into the build, never into
the source tree (an editable install excepted, which needs them beside the sources):
  - hpo/v1/<name>_pb2.py, <name>_pb2.pyi   (protoc --python_out, --pyi_out)
  - hpo/v1/<name>_pb2_grpc.py               (the gRPC Python plugin)
  - hpo/__init__.py, hpo/v1/__init__.py

The .proto files are taken from, in this order: $HPO_PROTO_DIR; ./proto (a source distribution carries
a copy there); ../../proto (the repository, for `pip install ./client/python`). The compiler is, in this
order: grpc_tools.protoc (grpcio-tools, when importable in the build environment); $PROTOC or protoc on
PATH with $HPO_GRPC_PYTHON_PLUGIN or grpc_python_plugin on PATH (Debian: protobuf-compiler and
protobuf-compiler-grpc).
"""

import glob
import importlib.util
import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_PACKAGE = os.path.join("hpo", "v1")


class StubError(RuntimeError):
    """The gRPC modules cannot be generated; the message says what is missing."""


def find_proto_root():
    """The folder that holds hpo/v1/*.proto (the protoc include path)."""
    candidates = []
    if os.environ.get("HPO_PROTO_DIR"):
        candidates.append(os.environ["HPO_PROTO_DIR"])
    candidates += [os.path.join(HERE, "proto"), os.path.join(HERE, "..", "..", "proto")]
    for root in candidates:
        if glob.glob(os.path.join(root, PROTO_PACKAGE, "*.proto")):
            return os.path.abspath(root)
    raise StubError(
        "hpo-client: no hpo/v1/*.proto in "
        + ", ".join(os.path.abspath(c) for c in candidates)
        + "; install from the hpo repository (pip install ./client/python) or set HPO_PROTO_DIR to its "
        "proto/ folder"
    )


def proto_files(root):
    return sorted(
        os.path.relpath(path, root).replace(os.sep, "/")
        for path in glob.glob(os.path.join(root, PROTO_PACKAGE, "*.proto"))
    )


def compiler_command():
    """The protoc command line up to its arguments, and a name for messages."""
    if importlib.util.find_spec("grpc_tools") is not None:  # grpcio-tools
        return [sys.executable, "-m", "grpc_tools.protoc"], "grpc_tools.protoc"
    protoc = os.environ.get("PROTOC") or shutil.which("protoc")
    plugin = os.environ.get("HPO_GRPC_PYTHON_PLUGIN") or shutil.which("grpc_python_plugin")
    missing = []
    if not protoc:
        missing.append("protoc (Debian: protobuf-compiler; or set $PROTOC)")
    if not plugin:
        missing.append("grpc_python_plugin (Debian: protobuf-compiler-grpc; or set $HPO_GRPC_PYTHON_PLUGIN)")
    if missing:
        raise StubError(
            "hpo-client: generating the gRPC modules of hpo.v1 needs the grpcio-tools package, or "
            + " and ".join(missing)
        )
    return [protoc, f"--plugin=protoc-gen-grpc_python={plugin}"], protoc


def generate_stubs(out_dir):
    """Generates the hpo.v1 modules into `out_dir`; returns the paths of the files written."""
    root = find_proto_root()
    protos = proto_files(root)
    command, name = compiler_command()
    os.makedirs(os.path.join(out_dir, PROTO_PACKAGE), exist_ok=True)
    args = command + [
        f"-I{root}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
    ] + protos
    result = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise StubError(f"hpo-client: {name} failed on {', '.join(protos)} in {root}:\n{result.stdout}")
    written = []
    for package in ("hpo", PROTO_PACKAGE):
        init = os.path.join(out_dir, package, "__init__.py")
        if not os.path.exists(init):
            with open(init, "w", encoding="utf-8"):
                pass
        written.append(init)
    for proto in protos:
        stem = os.path.join(out_dir, os.path.splitext(proto)[0])
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
            path = stem + suffix
            if not os.path.exists(path):
                raise StubError(f"hpo-client: {name} did not write {path}")
            written.append(path)
    return written


class BuildPyWithStubs(build_py):
    """build_py that also generates the hpo.v1 gRPC modules (into the source tree when editable)."""

    def run(self):
        super().run()
        editable = getattr(self, "editable_mode", False)
        try:
            self._stubs = generate_stubs(HERE if editable else self.build_lib)
        except StubError as e:
            sys.exit(str(e))
        if editable:
            # The editable install maps the packages it is told of to their folders here.
            packages = self.distribution.packages
            packages += [p for p in ("hpo", "hpo.v1") if p not in packages]

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + list(getattr(self, "_stubs", []))


class SdistWithProtos(sdist):
    """sdist that carries a copy of proto/hpo/v1 (under ./proto), so that it builds outside the repository."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        root = find_proto_root()
        for proto in proto_files(root):
            target = os.path.join(base_dir, "proto", proto)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(os.path.join(root, proto), target)


setup(
    packages=["hpo_client"],  # hpo and hpo.v1: generated by BuildPyWithStubs
    package_data={"hpo_client": ["py.typed"]},
    include_package_data=False,
    cmdclass={"build_py": BuildPyWithStubs, "sdist": SdistWithProtos},
)
