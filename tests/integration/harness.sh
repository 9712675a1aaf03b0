# Sourced by the integration scripts (bash, set -euo pipefail): a scratch directory $dir removed at exit,
# the background processes in $pids stopped at exit (SIGTERM, then waited for), and the checks they share.
dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
# fail MESSAGE: says what failed, with the tail of every log in $dir, and exits 1.
fail() { echo "FAIL: $*" >&2; for f in "$dir"/*.log; do echo "== $f"; tail -20 "$f"; done >&2; exit 1; }
# expect_exit CODE CMD...: runs CMD, which must exit CODE; its stdout is in $dir/out, its stderr in $dir/err.
expect_exit() {
  local want=$1 got=0
  shift
  "$@" >"$dir/out" 2>"$dir/err" || got=$?
  [[ $got == "$want" ]] || fail "'$*' exited $got, not $want: $(cat "$dir/err")"
}
# until_true SECONDS CMD...: runs CMD every 0.1 s until it succeeds; fails (returns 1) after SECONDS.
until_true() {
  local limit=$1
  shift
  for _ in $(seq $((limit * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
# require_fashion_mnist: exits 1 saying so when Debian's dataset-fashion-mnist is not installed.
require_fashion_mnist() {
  if [[ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
    echo "Fashion-MNIST is not installed (dataset-fashion-mnist)"
    exit 1
  fi
}
