#!/usr/bin/env bash
# hpoctl against the real binaries: a coordinator that needs a token, a worker, and a synthetic ZDT1
# study submitted, watched, listed, exported and plotted with hpoctl, the address and the token coming
# from HPO_COORDINATOR and HPO_TOKEN_FILE. Every output is checked against the coordinator's own
# answers (export) and against a brute-force front; every exit code against hpoctl --help.
#   hpoctl_test.sh BIN_DIR PYTHON
set -euo pipefail
bin=$1
python=${2:-python3}
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

echo "hpoctl-test-token" >"$dir/token"
"$bin/hpo-coordinator" --listen 127.0.0.1:0 --port-file "$dir/port" --db "$dir/hpo.db" \
  --token-file "$dir/token" --heartbeat-ms 200 --http 127.0.0.1:0 --http-port-file "$dir/http_port" \
  2>"$dir/coordinator.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $dir/port && -s $dir/http_port ]] && break; sleep 0.1; done
[[ -s $dir/port && -s $dir/http_port ]] || fail "coordinator did not start"
export HPO_COORDINATOR=127.0.0.1:$(cat "$dir/port")
export HPO_TOKEN_FILE=$dir/token
unset HPO_TOKEN
"$bin/hpo-worker" --coordinator "$HPO_COORDINATOR" --token-file "$dir/token" --slots 2 --wait-ms 200 \
  2>"$dir/worker.log" &
pids+=($!)

cat >"$dir/zdt1.json" <<'JSON'
{
  "name": "zdt1 <cli>",
  "objectives": [{"name": "f1", "direction": "minimize"}, {"name": "f2", "direction": "Minimize"}],
  "algorithm": {"nsga2": {"population": 10}},
  "budget": {"max_trials": 60, "max_parallel": 4},
  "task": {"synthetic": {"function": "zdt1", "dims": 5}},
  "seed": 4
}
JSON
id=$("$bin/hpoctl" submit "$dir/zdt1.json") || fail "submit"
[[ $id =~ ^[0-9]+$ ]] || fail "submit printed '$id'"

# watch: plain lines (stdout is a file), the last one says completed; exit 0.
timeout 120 "$bin/hpoctl" watch "$id" --interval-ms 100 >"$dir/watch.txt" || fail "watch exited $?"
last=$(tail -1 "$dir/watch.txt")
[[ $last == "study $id zdt1 <cli>: 60/60 finished (60 completed, 0 failed), 0 running, hypervolume "* ]] ||
  fail "last watch line: $last"
[[ $last == *", completed" ]] || fail "last watch line: $last"
grep -q $'\r' "$dir/watch.txt" && fail "watch rewrote lines on a file"

"$bin/hpoctl" export "$id" -o "$dir/export.json" || fail "export"
"$bin/hpoctl" pareto "$id" --format csv >"$dir/front.csv" || fail "pareto csv"
"$bin/hpoctl" pareto "$id" --format json >"$dir/front.json" || fail "pareto json"
"$bin/hpoctl" pareto "$id" --format svg -o "$dir/front.svg" || fail "pareto svg"
"$bin/hpoctl" pareto "$id" --constraint 'f1<=0.5' --constraint 'f2 < 2' --format json >"$dir/constrained.json" ||
  fail "pareto with constraints"
"$bin/hpoctl" pareto "$id" --objectives f2 --format csv >"$dir/f2.csv" || fail "pareto --objectives f2"
"$bin/hpoctl" pareto "$id" --constraint 'f1<=0.5' --format svg >"$dir/constrained.svg" || fail "constrained svg"
"$bin/hpoctl" trials "$id" --state completed --format csv >"$dir/trials.csv" || fail "trials csv"
"$bin/hpoctl" trials "$id" --state running,failed --format json >"$dir/none.json" || fail "trials json"
"$bin/hpoctl" show "$id" >"$dir/show.txt" || fail "show"
"$bin/hpoctl" studies >"$dir/studies.txt" || fail "studies"
"$bin/hpoctl" studies --format csv >"$dir/studies.csv" || fail "studies csv"
"$bin/hpoctl" studies --format json >"$dir/studies.json" || fail "studies json"
"$bin/hpoctl" show "$id" --format json >"$dir/show.json" || fail "show json"
"$python" - "$(cat "$dir/http_port")" "$id" "$dir/token" "$dir/dashboard.json" <<'PY' || fail "dashboard API"
import sys, urllib.request
port, study, token, out = sys.argv[1:5]
request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/studies/{study}",
                                 headers={"Authorization": "Bearer " + open(token).read().strip()})
open(out, "wb").write(urllib.request.urlopen(request, timeout=10).read())
PY

"$python" - "$dir" "$id" "$("$bin/hpoctl" watch "$id" --reference 1,10 | tail -1)" <<'PY' || fail "outputs do not match the study"
import csv, json, math, sys
import xml.etree.ElementTree as ET

d, study_id, reference_line = sys.argv[1], int(sys.argv[2]), sys.argv[3]
export = json.load(open(f"{d}/export.json"))
assert export["format"] == "hpo.export.v1", export["format"]
assert export["study"]["id"] == str(study_id) and export["study"]["state"] == "STUDY_COMPLETED"
assert export["study"]["spec"]["name"] == "zdt1 <cli>"
trials = {t["number"]: t for t in export["trials"]}
completed = {n: t for n, t in trials.items() if t["state"] == "TRIAL_COMPLETED"}
assert len(completed) == 60, len(completed)
point = {n: (t["metrics"]["f1"], t["metrics"]["f2"]) for n, t in completed.items()}

def front_of(points):
    def dom(a, b):
        return all(x <= y for x, y in zip(a, b)) and a != b
    return {n for n, p in points.items() if not any(dom(q, p) for q in points.values())}

front = front_of(point)
assert {t["number"] for t in export["pareto_front"]["trials"]} == front

# csv: the coordinator's front, best f1 first, values read back exactly.
rows = list(csv.DictReader(open(f"{d}/front.csv")))
assert list(rows[0].keys())[:3] == ["trial", "f1", "f2"], rows[0].keys()
assert [int(r["trial"]) for r in rows] == sorted(front, key=lambda n: (point[n][0], n)), rows
for r in rows:
    n = int(r["trial"])
    assert (float(r["f1"]), float(r["f2"])) == point[n], (r, point[n])
    for k in range(1, 6):
        assert float(r[f"x{k}"]) == completed[n]["params"][f"x{k}"]["double_value"]
assert [t["trial"] for t in json.load(open(f"{d}/front.json"))] == [int(r["trial"]) for r in rows]

# Constraints: the front among trials meeting both, recomputed here.
feasible = {n: p for n, p in point.items() if p[0] <= 0.5 and p[1] < 2}
got = json.load(open(f"{d}/constrained.json"))
assert {t["trial"] for t in got} == front_of(feasible), (got, front_of(feasible))
assert all(t["objectives"]["f1"] <= 0.5 and t["objectives"]["f2"] < 2 for t in got)
# One objective: the trials with the least f2.
best_f2 = min(p[1] for p in point.values())
f2_rows = list(csv.DictReader(open(f"{d}/f2.csv")))
assert {int(r["trial"]) for r in f2_rows} == {n for n, p in point.items() if p[1] == best_f2}
assert list(f2_rows[0].keys())[:2] == ["trial", "f2"]

# svg: well-formed, every completed trial once, the front highlighted.
ns = {"s": "http://www.w3.org/2000/svg"}
def circles(path):
    root = ET.parse(path).getroot()
    out = {}
    for c in root.iter("{http://www.w3.org/2000/svg}circle"):
        if "data-trial" in c.attrib:
            out.setdefault(c.get("class"), set()).add(int(c.get("data-trial")))
    return out
plot = circles(f"{d}/front.svg")
assert plot.get("front") == front, plot.get("front")
assert plot.get("front", set()) | plot.get("trial", set()) == set(completed), plot
assert not plot.get("trial", set()) & front
plot = circles(f"{d}/constrained.svg")
assert plot.get("front") == front_of({n: p for n, p in point.items() if p[0] <= 0.5})
assert plot.get("infeasible") == {n for n, p in point.items() if p[0] > 0.5}

# trials: the completed ones as csv, none running or failed.
trial_rows = list(csv.DictReader(open(f"{d}/trials.csv")))
assert len(trial_rows) == 60 and all(r["state"] == "completed" for r in trial_rows)
assert {int(r["trial"]): (float(r["f1"]), float(r["f2"])) for r in trial_rows} == point
assert json.load(open(f"{d}/none.json")) == []

def staircase(r1, r2):  # the hypervolume of the front within (r1, r2): horizontal strips, best f1 first
    hv, last = 0.0, r2
    for f1, f2 in sorted(point[n] for n in front):
        if f1 < r1 and f2 < last:
            hv += (r1 - f1) * (last - f2)
            last = f2
    return hv

# watch --reference 1,10: the exact hypervolume of the front within (1, 10), to 4 digits, rule "given".
hv = staircase(1, 10)
shown = float(reference_line.split("hypervolume ")[1].split(" ")[0])
assert abs(shown - hv) <= 5e-4 * max(1.0, abs(hv)), (shown, hv, reference_line)
assert "(reference point [f1 1, f2 10], rule: given)" in reference_line, reference_line

# One hypervolume: the dashboard's and hpoctl's (export, show) are the coordinator's, at the reference
# point of the rule "worst + 10% of range" over the completed trials.
dashboard = json.load(open(f"{d}/dashboard.json"))["hypervolume"]
pf = export["pareto_front"]
assert pf["hypervolume"] == dashboard["value"], (pf, dashboard)
assert pf["reference_point"] == dashboard["reference"], (pf, dashboard)
assert pf["reference_rule"] == dashboard["rule"] == "worst + 10% of range", (pf, dashboard)
assert pf["considered_trials"] == dashboard["completed"] == 60, (pf, dashboard)
f1s, f2s = [p[0] for p in point.values()], [p[1] for p in point.values()]
ref = [max(v) + 0.1 * (max(v) - min(v)) for v in (f1s, f2s)]
assert all(abs(a - b) <= 1e-12 * max(1.0, abs(b)) for a, b in zip(dashboard["reference"], ref)), (dashboard, ref)
assert abs(dashboard["value"] - staircase(*ref)) <= 1e-9, (dashboard, staircase(*ref))
show_line = next(l for l in open(f"{d}/show.txt") if l.startswith("hypervolume "))
assert show_line.split()[1] == f"{dashboard['value']:.4g}", (show_line, dashboard)
assert f"(reference point [f1 {ref[0]:.4g}, f2 {ref[1]:.4g}], rule: worst + 10% of range)" in show_line, show_line

# studies in each format; show --format json with ids and times as numbers.
rows = [r for r in csv.DictReader(open(f"{d}/studies.csv")) if r["id"] == str(study_id)]
assert len(rows) == 1 and rows[0]["state"] == "completed" and rows[0]["completed"] == "60", rows
listed = [s for s in json.load(open(f"{d}/studies.json")) if s["id"] == study_id]
assert len(listed) == 1 and listed[0]["completed"] == 60 and listed[0]["name"] == "zdt1 <cli>", listed
assert isinstance(listed[0]["finished_ms"], int) and listed[0]["finished_ms"] >= listed[0]["created_ms"]
shown_study = json.load(open(f"{d}/show.json"))
assert shown_study["id"] == study_id and isinstance(shown_study["created_ms"], int), shown_study
assert shown_study["spec"]["seed"] == "4", shown_study["spec"]  # a user's 64-bit value stays a string
assert [o["direction"] for o in shown_study["spec"]["objectives"]] == ["MINIMIZE", "MINIMIZE"]

show = open(f"{d}/show.txt").read()
assert f"study         {study_id}\n" in show and "state         completed\n" in show, show
assert f"pareto front  {len(front)} trials\n" in show, show
assert any(l.split()[:3] == [str(study_id), "zdt1", "<cli>"] for l in open(f"{d}/studies.txt")), \
    open(f"{d}/studies.txt").read()
print(f"hpoctl: study {study_id}: front of {len(front)}, {len(feasible)} feasible, hypervolume {hv:.4f}")
PY

# cancel: a second study with no worker able to take it (a selector no worker matches).
sed -e 's/"seed": 4/"seed": 4, "worker_selector": {"gpu": "none"}/' "$dir/zdt1.json" >"$dir/idle.json"
idle=$("$bin/hpoctl" submit - <"$dir/idle.json") || fail "submit from stdin"
"$bin/hpoctl" cancel "$idle" >"$dir/cancel.txt" || fail "cancel"
grep -q ", cancelled$" "$dir/cancel.txt" || fail "cancel printed $(cat "$dir/cancel.txt")"
expect_exit 1 "$bin/hpoctl" watch "$idle"
grep -q "study $idle was cancelled" "$dir/err" || fail "watch of a cancelled study: $(cat "$dir/err")"

# YAML study files: by name, and on stdin; categorical choices that look like numbers stay strings.
cat >"$dir/idle.yaml" <<'YAML'
# evaluated by nobody: its trials are for ask/tell clients
name: from yaml
parameters:
  - name: width
    categorical: {choices: [32, 64]}
objectives:
- {name: f1, direction: minimize}
- name: f2
  direction: Minimize
budget: {max_trials: 5}
task:
  external: {}
worker_selector:
  gpu: none
YAML
yaml_id=$("$bin/hpoctl" submit "$dir/idle.yaml") || fail "submit yaml: $yaml_id"
"$bin/hpoctl" show "$yaml_id" --format json >"$dir/yaml.json" || fail "show yaml study"
"$python" - "$dir/yaml.json" <<'PY' || fail "the YAML study was not stored as written"
import json, sys
spec = json.load(open(sys.argv[1]))["spec"]
assert spec["name"] == "from yaml", spec
assert spec["parameters"][0]["categorical"]["choices"] == ["32", "64"], spec["parameters"]
assert [o["name"] for o in spec["objectives"]] == ["f1", "f2"], spec["objectives"]
assert [o["direction"] for o in spec["objectives"]] == ["MINIMIZE", "MINIMIZE"], spec["objectives"]
assert spec["worker_selector"] == {"gpu": "none"}, spec
PY
piped=$("$bin/hpoctl" submit - <"$dir/idle.yaml") || fail "submit yaml on stdin"
"$bin/hpoctl" cancel "$yaml_id" >/dev/null && "$bin/hpoctl" cancel "$piped" >/dev/null || fail "cancel yaml studies"
printf 'name: x\nbudget:\n  max_trails: 3\n' >"$dir/misspelt.yaml"
expect_exit 1 "$bin/hpoctl" submit "$dir/misspelt.yaml"
grep -q "max_trails" "$dir/err" || fail "misspelt yaml key: $(cat "$dir/err")"

# Exit codes and messages.
expect_exit 1 "$bin/hpoctl" show 999999
grep -q "NOT_FOUND" "$dir/err" || fail "unknown study: $(cat "$dir/err")"
echo wrong >"$dir/wrong"
expect_exit 1 "$bin/hpoctl" --token-file "$dir/wrong" studies
grep -q "UNAUTHENTICATED" "$dir/err" || fail "wrong token: $(cat "$dir/err")"
expect_exit 1 env -u HPO_TOKEN_FILE "$bin/hpoctl" studies
grep -q "UNAUTHENTICATED" "$dir/err" || fail "no token: $(cat "$dir/err")"
expect_exit 0 env -u HPO_TOKEN_FILE HPO_TOKEN=hpoctl-test-token "$bin/hpoctl" studies
expect_exit 3 env HPO_COORDINATOR=127.0.0.1:1 "$bin/hpoctl" --deadline-ms 2000 studies
expect_exit 3 "$bin/hpoctl" --coordinator 127.0.0.1:1 --deadline-ms 2000 show "$id"
expect_exit 2 "$bin/hpoctl" pareto "$id" --constraint 'f1=0.5'
grep -q "unknown comparison '='" "$dir/err" || fail "bad constraint: $(cat "$dir/err")"
expect_exit 2 "$bin/hpoctl" pareto "$id" --objectives f1,f3
grep -q "unknown objective 'f3'; the study's objectives are f1, f2" "$dir/err" || fail "$(cat "$dir/err")"
expect_exit 2 "$bin/hpoctl" trials "$id" --state finished
grep -q "unknown state 'finished'" "$dir/err" || fail "bad state: $(cat "$dir/err")"
expect_exit 2 env HPO_TOKEN_FILE="$dir/missing" "$bin/hpoctl" studies
grep -q "the coordinator asks for a token, and HPO_TOKEN_FILE names '$dir/missing', which does not exist" "$dir/err" ||
  fail "missing HPO_TOKEN_FILE: $(cat "$dir/err")"
expect_exit 3 "$bin/hpoctl" --coordinator 127.0.0.1:1 studies
grep -qx "hpoctl: cannot reach 127.0.0.1:1: connection refused (is hpo-coordinator running there?)" "$dir/err" ||
  fail "unreachable coordinator: $(cat "$dir/err")"
sed -e 's/"max_trials": 60/"max_trials": 0/' "$dir/zdt1.json" >"$dir/bad.json"
expect_exit 1 "$bin/hpoctl" submit "$dir/bad.json"
grep -q "INVALID_ARGUMENT" "$dir/err" && grep -q "max_trials" "$dir/err" || fail "bad spec: $(cat "$dir/err")"
expect_exit 0 "$bin/hpoctl" pareto --help
grep -q "Exit status:" "$dir/out" || fail "pareto --help has no exit codes"
[[ $(grep -c "Exit status" "$dir/out") == 1 ]] || fail "pareto --help: more than one footer"
echo "hpoctl: every command and exit code checked against study $id"
