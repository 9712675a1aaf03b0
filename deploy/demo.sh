#!/usr/bin/env bash
# The demo behind `make demo`: a coordinator on a SQLite file, two local workers, the example study on
# Fashion-MNIST, live progress, and the Pareto front of accuracy against latency. Every process it
# starts is stopped when it ends, also on Ctrl-C.
#
#   deploy/demo.sh [BUILD_DIR] [STUDY_FILE]
set -euo pipefail

build=${1:-build}
study=${2:-examples/fmnist-quick.json}
bin=$build/bin
run=$build/demo
for b in hpo-coordinator hpo-worker hpo-train hpoctl; do
  [[ -x $bin/$b ]] || { echo "demo: $bin/$b is missing; run 'make build' first" >&2; exit 1; }
done
mkdir -p "$run"
rm -f "$run"/hpo.db "$run"/hpo.db-wal "$run"/hpo.db-shm "$run"/port

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, stopping"; exit 130' INT TERM

"$bin/hpo-coordinator" --listen 127.0.0.1:0 --port-file "$run/port" --db "$run/hpo.db" \
  2>"$run/coordinator.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $run/port ]] && break; sleep 0.1; done
[[ -s $run/port ]] || { echo "demo: the coordinator did not start:" >&2; cat "$run/coordinator.log" >&2; exit 1; }
addr=127.0.0.1:$(cat "$run/port")
echo "demo: coordinator on $addr, database $run/hpo.db"

# Two workers, one training thread each, on this machine's cores.
for w in 1 2; do
  "$bin/hpo-worker" --coordinator "$addr" --slots 1 --threads 1 --name "demo-worker-$w" \
    2>"$run/worker-$w.log" &
  pids+=($!)
done

id=$("$bin/hpoctl" --coordinator "$addr" submit "$study")
echo "demo: submitted $study as study $id; training (logs in $run/)"
start=$(date +%s)
status=0
"$bin/hpoctl" --coordinator "$addr" watch "$id" || status=$?
echo "demo: finished in $(( $(date +%s) - start )) s"
echo
echo "Pareto front of study $id (accuracy up, latency down; feasible trials only):"
"$bin/hpoctl" --coordinator "$addr" pareto "$id" --format table
echo
echo "What mattered (hpoctl analyze $id: each parameter's share of each objective's variance):"
"$bin/hpoctl" --coordinator "$addr" analyze "$id" || true
echo
# What the search did: its algorithm, the constraint, and what early stopping saved.
"$bin/hpoctl" --coordinator "$addr" show "$id" > "$run/show.txt"
"$bin/hpoctl" --coordinator "$addr" trials "$id" --format json > "$run/trials.json"
python3 - "$run/show.txt" "$run/trials.json" "$study" <<'SUMMARY'
import json, sys
show, trials, spec = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
algorithm = next((l.split(None, 1)[1] for l in show.splitlines() if l.startswith("algorithm")), "?")
epochs = int(spec["task"]["builtin"]["fixed"]["epochs"])
pruned = [t for t in trials if t["state"] == "pruned"]
completed = [t for t in trials if t["state"] == "completed"]
infeasible = [t for t in completed if t.get("violated")]
run = sum(epochs for t in completed) + sum((t["progress"] or {}).get("step", 0) for t in pruned)
saved = len(trials) * epochs - run
print(f"summary: algorithm {algorithm.strip()}; {len(completed)} completed "
      f"({len(infeasible)} over the constraint {spec['constraints'][0]['metric']} <= {spec['constraints'][0]['max']}), "
      f"{len(pruned)} pruned early: {run} of {len(trials) * epochs} epochs trained, {saved} saved "
      f"({100.0 * saved / max(1, len(trials) * epochs):.0f}%)")
SUMMARY
exit $status
