#!/usr/bin/env bash
# Installs the Debian packages hpo needs to build, test and run its demo, when they are missing.
# Idempotent and non-interactive: a machine that has everything is left untouched.
#
#   deploy/install-deps.sh           build, test and demo dependencies
#   deploy/install-deps.sh --peers   also the peers the benches compare against
#                                    (pagmo2, PyTorch, Optuna); never needed by `make test`
#
# clang and libclang-rt-dev (which brings libclang-rt-14-dev, holding libclang_rt.fuzzer-x86_64.a) build
# the libFuzzer targets of tests/fuzz; the rest of hpo builds with GCC. python3-grpcio and python3-protobuf
# run the Python client (client/python) and its tests; python3-venv, python3-setuptools and python3-wheel
# let its test `pip install ./client/python` into a virtual environment offline, and python3-mypy
# type-checks it; python3-numpy runs the example training script (examples/), and chromium the
# dashboard's browser test.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsqlite3-dev libboost-dev libopenblas-dev libdnnl-dev libeigen3-dev liblbfgspp-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libspdlog-dev
  clang libclang-rt-dev
  dataset-fashion-mnist python3 openssl
  python3-grpcio python3-protobuf python3-numpy
  python3-venv python3-setuptools python3-wheel python3-mypy
  chromium
)
if [[ "${1:-}" == "--peers" ]]; then
  packages+=(libpagmo-dev python3-torch python3-optuna)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
