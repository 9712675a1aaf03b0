#!/usr/bin/env bash
# hpoctl's operations commands against the real binaries: `hpoctl workers` (live and lost workers, their
# labels, device and slots in use), a study that no live worker matches saying so in `show`, `watch` and
# the dashboard's API, the time a study took, and `hpoctl delete` (a running study refused without
# --force; the rows gone, checked in the SQLite file; the pages given back).
#   hpoctl_ops_test.sh BIN_DIR PYTHON
set -euo pipefail
bin=$1
python=${2:-python3}
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
# sql QUERY: the one value QUERY reads from the database.
sql() { "$python" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$dir/hpo.db" "$1"; }

echo "hpoctl-ops-test-token" >"$dir/token"
"$bin/hpo-coordinator" --listen 127.0.0.1:0 --port-file "$dir/port" --db "$dir/hpo.db" \
  --token-file "$dir/token" --heartbeat-ms 200 --worker-lost-ms 1000 \
  --http 127.0.0.1:0 --http-port-file "$dir/http_port" 2>"$dir/coordinator.log" &
pids+=($!)
until_true 10 test -s "$dir/http_port" || fail "coordinator did not start"
export HPO_COORDINATOR=127.0.0.1:$(cat "$dir/port")
export HPO_TOKEN_FILE=$dir/token
unset HPO_TOKEN
http="http://127.0.0.1:$(cat "$dir/http_port")"

expect_exit 0 "$bin/hpoctl" workers
grep -q "no worker has called this coordinator since it started" "$dir/out" || fail "workers: $(cat "$dir/out")"

"$bin/hpo-worker" --coordinator "$HPO_COORDINATOR" --token-file "$dir/token" --slots 2 --wait-ms 200 \
  --name cpu-node --label gpu=A100 --label zone=a --device "test cpu" 2>"$dir/worker-a.log" &
pids+=($!)
has_live() { "$bin/hpoctl" workers >"$dir/workers.txt" 2>&1 && grep -qE "^ *[0-9]+  $1 +live" "$dir/workers.txt"; }
until_true 10 has_live cpu-node || fail "worker cpu-node not listed live: $(cat "$dir/workers.txt")"
head -1 "$dir/workers.txt" | grep -qE '^id  name +state  slots  last heartbeat  device +labels$' ||
  fail "workers header: $(head -1 "$dir/workers.txt")"
grep -E "cpu-node +live +0/2 .* test cpu +device=test cpu, gpu=A100, zone=a$" "$dir/workers.txt" >/dev/null ||
  fail "workers row: $(cat "$dir/workers.txt")"

cat >"$dir/h100.json" <<'JSON'
{
  "name": "zdt1 on h100",
  "objectives": [{"name": "f1", "direction": "MINIMIZE"}, {"name": "f2", "direction": "MINIMIZE"}],
  "budget": {"max_trials": 40, "max_parallel": 2},
  "task": {"synthetic": {"function": "zdt1", "dims": 5}},
  "worker_selector": {"gpu": "H100"},
  "seed": 7
}
JSON
study=$("$bin/hpoctl" submit "$dir/h100.json") || fail "submit"
waiting="no live worker matches selector gpu=H100"
expect_exit 0 "$bin/hpoctl" show "$study"
grep -qE "^waiting +$waiting$" "$dir/out" || fail "show says nothing of the wait: $(cat "$dir/out")"
timeout 2 "$bin/hpoctl" watch "$study" --interval-ms 100 >"$dir/watch-waiting.txt" 2>&1 || true
head -1 "$dir/watch-waiting.txt" | grep -q ", waiting: $waiting, elapsed " ||
  fail "watch says nothing of the wait: $(cat "$dir/watch-waiting.txt")"
"$python" - "$http" "$dir/token" "$study" "$waiting" <<'PY' || fail "the dashboard's API does not say it"
import json, sys, urllib.request
base, token, study, waiting = sys.argv[1], open(sys.argv[2]).read().strip(), sys.argv[3], sys.argv[4]
def get(path):
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    return json.load(urllib.request.urlopen(request))
assert get(f"/api/v1/studies/{study}")["waiting"] == waiting
workers = get("/api/v1/workers")["workers"]
assert [(w["name"], w["state"], w["labels"]["gpu"], w["slots"]) for w in workers] == [("cpu-node", "live", "A100", 2)], workers
PY

# An H100 worker: the study runs to its end, and says what it took.
"$bin/hpo-worker" --coordinator "$HPO_COORDINATOR" --token-file "$dir/token" --slots 2 --wait-ms 200 \
  --name gpu-node --label gpu=H100 2>"$dir/worker-b.log" &
gpu_pid=$!
pids+=($gpu_pid)
timeout 120 "$bin/hpoctl" watch "$study" --interval-ms 100 --no-hypervolume >"$dir/watch.txt" ||
  fail "watch exited $?: $(tail -3 "$dir/watch.txt")"
last=$(tail -1 "$dir/watch.txt")
[[ $last =~ ", took "[0-9hms]+" wall, "[0-9hms]+" compute, completed"$ ]] || fail "last watch line: $last"
expect_exit 0 "$bin/hpoctl" show "$study"
grep -qE "^took +[0-9hms]+ wall, [0-9hms]+ compute$" "$dir/out" || fail "show: $(cat "$dir/out")"
grep -qE "^first trial +" "$dir/out" || fail "show has no first trial: $(cat "$dir/out")"
grep -q "^waiting" "$dir/out" && fail "a completed study still waits: $(cat "$dir/out")"

# kill -9 of the H100 worker: it is lost once a second has passed without a heartbeat.
{ kill -KILL "$gpu_pid" && wait "$gpu_pid"; } 2>/dev/null || true
is_lost() { "$bin/hpoctl" workers --format json >"$dir/workers.json" &&
  "$python" -c 'import json, sys; w = {x["name"]: x["state"] for x in json.load(open(sys.argv[1]))["workers"]}; sys.exit(w != {"cpu-node": "WORKER_LIVE", "gpu-node": "WORKER_LOST"})' "$dir/workers.json"; }
until_true 10 is_lost || fail "gpu-node not lost: $(cat "$dir/workers.json")"
"$bin/hpoctl" workers | grep -qE "gpu-node +lost" || fail "the table does not say lost"

# A study only the lost worker could run waits again.
again=$("$bin/hpoctl" submit "$dir/h100.json") || fail "submit"
expect_exit 0 "$bin/hpoctl" show "$again"
grep -qE "^waiting +$waiting$" "$dir/out" || fail "the lost worker still counts: $(cat "$dir/out")"

# delete: a running study is refused without --force and keeps its rows; with --force it goes at once,
# trials running, and nothing of it comes back.
sed -e 's/"gpu": "H100"/"gpu": "A100"/' -e 's/"max_trials": 40/"max_trials": 100000/' "$dir/h100.json" >"$dir/busy.json"
busy=$("$bin/hpoctl" submit "$dir/busy.json") || fail "submit busy"
has_trials() { [[ $(sql "SELECT COUNT(*) FROM trials WHERE study_id = $1") -ge $2 ]]; }
until_true 20 has_trials "$busy" 10 || fail "busy study idle"
expect_exit 1 "$bin/hpoctl" delete "$busy"
grep -q "FAILED_PRECONDITION: study $busy is running; cancel it first" "$dir/err" || fail "$(cat "$dir/err")"
[[ $(sql "SELECT state FROM studies WHERE id = $busy") == 1 ]] || fail "the refused delete changed the study"
[[ $(sql "SELECT COUNT(*) FROM trials WHERE study_id = $busy") -ge 10 ]] || fail "the refused delete removed trials"
expect_exit 0 "$bin/hpoctl" delete "$busy" --force
grep -qE "^deleted study $busy zdt1 on h100 \(cancelled, [0-9]+ trials\)$" "$dir/out" || fail "$(cat "$dir/out")"
sleep 0.5  # reports in flight when it was deleted are refused, not stored
[[ $(sql "SELECT COUNT(*) FROM studies WHERE id = $busy") == 0 ]] || fail "the study's row is left"
[[ $(sql "SELECT COUNT(*) FROM trials WHERE study_id = $busy") == 0 ]] || fail "its trials are left"
[[ $(sql "SELECT COUNT(*) FROM trial_metrics WHERE trial_id NOT IN (SELECT id FROM trials)") == 0 ]] ||
  fail "metrics of deleted trials are left"
expect_exit 1 "$bin/hpoctl" show "$busy"
grep -q "NOT_FOUND" "$dir/err" || fail "show of a deleted study: $(cat "$dir/err")"
expect_exit 0 "$bin/hpoctl" delete "$again" --force
grep -qE "^deleted study $again zdt1 on h100 \(cancelled, 0 trials\)$" "$dir/out" || fail "$(cat "$dir/out")"
has_live cpu-node || fail "the worker did not survive its study's deletion: $(cat "$dir/workers.txt")"

# delete of the completed study: its 40 trials, their parameters and metrics go, and so do their pages.
trial_ids="SELECT id FROM trials WHERE study_id = $study"
[[ $(sql "SELECT COUNT(*) FROM trial_params WHERE trial_id IN ($trial_ids)") == 200 ]] || fail "params before"
[[ $(sql "PRAGMA auto_vacuum") == 2 ]] || fail "a new database is not incremental auto_vacuum"
pages=$(sql "PRAGMA page_count")
expect_exit 0 "$bin/hpoctl" delete "$study"
grep -qE "^deleted study $study zdt1 on h100 \(completed, 40 trials\)$" "$dir/out" || fail "$(cat "$dir/out")"
for table in trials trial_params trial_metrics; do
  [[ $(sql "SELECT COUNT(*) FROM $table") == 0 ]] || fail "rows left in $table"
done
[[ $(sql "SELECT COUNT(*) FROM studies") == 0 ]] || fail "studies left"
[[ $(sql "PRAGMA freelist_count") == 0 ]] || fail "freed pages kept: $(sql "PRAGMA freelist_count")"
[[ $(sql "PRAGMA page_count") -lt $pages ]] || fail "the file did not shrink from $pages pages"
expect_exit 1 "$bin/hpoctl" delete "$study"
grep -q "NOT_FOUND: study $study not found" "$dir/err" || fail "second delete: $(cat "$dir/err")"

# A new study gets a new id.
next=$("$bin/hpoctl" submit "$dir/h100.json") || fail "submit after delete"
[[ $next -gt $busy ]] || fail "study id $next reused"
expect_exit 0 "$bin/hpoctl" delete "$next" --force
echo "hpoctl: workers, waiting, took and delete checked on studies $study, $again, $busy and $next"
