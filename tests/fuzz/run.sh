#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang, in a build directory of their own that shares
# nothing with the GCC build, and runs each for a while from its seed corpus (tests/fuzz/corpus/<target>,
# copied to a temporary directory so that the repository's corpus is left as it is).
#
#   tests/fuzz/run.sh                          every target for 15 s (what ctest's fuzz test runs)
#   tests/fuzz/run.sh --seconds 600 spec       one target for ten minutes
#   tests/fuzz/run.sh --build-dir DIR          build in DIR (default: build/fuzz)
#   tests/fuzz/run.sh --jobs N                 build with N jobs (default: the number of CPUs)
#
# Exits 0 when no target crashed, 1 when one did (its input is kept under <build-dir>/artifacts/<target>/
# and the command that replays it is printed), 77 (ctest's skip code for this test) when clang or the
# libFuzzer runtime is missing, saying which.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
all_targets=(spec idx npy text metrics_line)
seconds=15
build_dir=$repo/build/fuzz
jobs=$(nproc 2>/dev/null || echo 2)
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  if [[ ! -d $repo/tests/fuzz/corpus/$t ]]; then
    echo "run.sh: unknown target $t (one of ${all_targets[*]})" >&2
    exit 2
  fi
done

skip() { echo "fuzz: SKIPPED: $*"; exit 77; }
fail() { echo "fuzz: FAILED: $*"; exit 1; }

cc=${HPO_FUZZ_CC:-clang}
cxx=${HPO_FUZZ_CXX:-clang++}
command -v "$cxx" >/dev/null 2>&1 ||
  skip "no $cxx on PATH (Debian: clang; deploy/install-deps.sh installs it)"
command -v "$cc" >/dev/null 2>&1 || skip "no $cc on PATH (Debian: clang)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hpo-fuzz.XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
# A one-line fuzz target tells whether this clang can link libFuzzer with the sanitizers.
printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
  'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' > "$tmp/probe.cc"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$tmp/probe.cc" -o "$tmp/probe" > "$tmp/probe.log" 2>&1; then
  why=$(head -c 200 "$tmp/probe.log" | tr '\n' ' ')
  skip "$cxx cannot link a libFuzzer binary; the runtime libclang_rt.fuzzer-x86_64.a is missing" \
       "(Debian: libclang-rt-dev; deploy/install-deps.sh installs it): $why"
fi

# -O1 -g with assertions on: the usual fuzzing build.
echo "fuzz: configuring $build_dir with $cxx"
cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DHPO_FUZZ=ON -DHPO_CUDA=OFF \
  > "$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "cmake configure of $build_dir"; }
start=$SECONDS
cmake --build "$build_dir" -j "$jobs" --target "${targets[@]/#/fuzz_}" > "$tmp/build.log" 2>&1 ||
  { tail -n 60 "$tmp/build.log"; fail "build of ${targets[*]/#/fuzz_}"; }
grep -E 'warning:' "$tmp/build.log" | sort -u | head -n 20
echo "fuzz: built ${targets[*]/#/fuzz_} in $((SECONDS - start)) s"

# Per target: extra libFuzzer flags (the IDX and .npy readers must never allocate what a header merely claims:
# inputs are at most 4 KiB, so 32 MiB covers every honest file they can hold, even gzipped; the text reader
# holds a few copies of at most 4 KiB).
declare -A extra=([spec]="-dict=$repo/tests/fuzz/spec.dict" [idx]="-malloc_limit_mb=32" [npy]="-malloc_limit_mb=32"
                 [text]="-malloc_limit_mb=32" [metrics_line]="")
# A smaller ASan quarantine than the default 256 MiB keeps long runs well under -rss_limit_mb.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=32:malloc_context_size=10}
status=0
for t in "${targets[@]}"; do
  corpus=$tmp/corpus-$t
  artifacts=$build_dir/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  cp "$repo/tests/fuzz/corpus/$t/"* "$corpus/"
  # shellcheck disable=SC2086
  "$build_dir/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" ${extra[$t]} "$corpus" > "$tmp/$t.log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$t.log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tmp/$t.log")
  added=$(sed -n 's/^stat::new_units_added: *//p' "$tmp/$t.log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$tmp/$t.log")
  cov=$(grep -o 'cov: [0-9]*' "$tmp/$t.log" | tail -n 1)
  if [[ $rc -eq 0 ]]; then
    echo "fuzz: $t: ok, ${runs:-?} runs in $seconds s (${speed:-?}/s), ${cov:-cov: ?}," \
         "${added:-?} new inputs, peak RSS ${rss:-?} MB"
  else
    status=1
    tail -n 60 "$tmp/$t.log"
    crash=$(grep -o "Test unit written to [^ ]*" "$tmp/$t.log" | tail -n 1 | sed 's/Test unit written to //')
    echo "fuzz: $t: CRASHED (exit $rc) after ${runs:-?} runs;" \
         "replay with: $build_dir/bin/fuzz_$t ${crash:-<input>}"
  fi
done
[[ $status -eq 0 ]] || fail "a fuzz target crashed"
echo "fuzz: passed"
