#!/usr/bin/env bash
# End to end: the real binaries as separate processes. A coordinator, a worker with two slots, a 4-trial
# 1-epoch study on a Fashion-MNIST subset submitted with hpoctl, watched to the end, and the csv front
# checked against the stored trials.
#   e2e_test.sh BIN_DIR
set -euo pipefail
bin=$1
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

require_fashion_mnist

"$bin/hpo-coordinator" --listen 127.0.0.1:0 --port-file "$dir/port" --db "$dir/hpo.db" 2>"$dir/coordinator.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $dir/port ]] && break; sleep 0.1; done
[[ -s $dir/port ]] || fail "coordinator did not start"
addr=127.0.0.1:$(cat "$dir/port")
"$bin/hpo-worker" --coordinator "$addr" --slots 2 --threads 1 2>"$dir/worker.log" &
pids+=($!)

cat >"$dir/study.json" <<'JSON'
{
  "name": "e2e, with a comma",
  "parameters": [
    {"name": "width", "int": {"low": 16, "high": 128, "log": true}},
    {"name": "activation", "categorical": {"choices": ["relu", "tanh"]}},
    {"name": "lr", "float": {"low": 0.001, "high": 0.003, "log": true}}
  ],
  "objectives": [
    {"name": "accuracy", "direction": "MAXIMIZE"},
    {"name": "latency_ms", "direction": "MINIMIZE"}
  ],
  "budget": {"max_trials": 4, "max_parallel": 2},
  "task": {"builtin": {"fixed": {"epochs": 1, "hidden_layers": 1}, "train_limit": 6000}},
  "seed": 3
}
JSON
id=$("$bin/hpoctl" --coordinator "$addr" submit "$dir/study.json") || fail "submit"
[[ $id =~ ^[0-9]+$ ]] || fail "submit printed '$id', not a study id"
timeout 300 "$bin/hpoctl" --coordinator "$addr" watch "$id" >"$dir/watch.log" || fail "watch exited $?"
"$bin/hpoctl" --coordinator "$addr" pareto "$id" --format csv >"$dir/front.csv" || fail "pareto"
"$bin/hpoctl" --coordinator "$addr" trials "$id" >"$dir/trials.txt" || fail "trials"

header=$(head -1 "$dir/front.csv")
[[ $header == "trial,accuracy,latency_ms,width,activation,lr" ]] || fail "csv header is '$header'"
rows=$(($(wc -l <"$dir/front.csv") - 1))
((rows >= 1 && rows <= 4)) || fail "front has $rows rows"
completed=$(grep -cw completed "$dir/trials.txt" || true)
[[ $completed == 4 ]] || fail "$completed of 4 trials completed"

# The front must be exactly the non-dominated completed trials stored in the database.
python3 - "$dir/hpo.db" "$dir/front.csv" "$id" <<'PY' || fail "front does not match the stored trials"
import csv, sqlite3, sys
db, front_csv, study = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = sqlite3.connect(db)
rows = con.execute("""SELECT t.number, a.value, l.value FROM trials t
  JOIN trial_metrics a ON a.trial_id = t.id AND a.name = 'accuracy'
  JOIN trial_metrics l ON l.trial_id = t.id AND l.name = 'latency_ms'
  WHERE t.study_id = ? AND t.state = 3""", (study,)).fetchall()
assert len(rows) == 4, rows
for n, acc, lat in rows:
    assert 0.5 < acc <= 1.0, (n, acc)
    assert 0.0 < lat < 100.0, (n, lat)
def dominated(p):
    return any(q[1] >= p[1] and q[2] <= p[2] and (q[1] > p[1] or q[2] < p[2]) for q in rows)
expected = sorted(n for n, *_ in [r for r in rows if not dominated(r)])
got = []
with open(front_csv) as f:
    for r in csv.DictReader(f):
        n = int(r["trial"])
        stored = [x for x in rows if x[0] == n][0]
        assert float(r["accuracy"]) == stored[1] and float(r["latency_ms"]) == stored[2], (r, stored)
        assert r["activation"] in ("relu", "tanh") and 16 <= int(r["width"]) <= 128, r
        got.append(n)
assert sorted(got) == expected, (got, expected)
print(f"front {sorted(got)} matches the {len(rows)} stored trials")
PY
echo "e2e: study $id finished, front of $rows trial(s) checked"
