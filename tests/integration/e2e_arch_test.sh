#!/usr/bin/env bash
# Architecture search end to end: examples/fmnist-arch.json (mlp, cnn and vit in one search space) through
# the real coordinator and a worker with two slots, shrunk to 6 one-epoch trials on a Fashion-MNIST subset
# and without its pruner. Every family must complete trials with the knobs of its own family only, and
# the front must hold only completed trials.
#   e2e_arch_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

require_fashion_mnist

# The example as shipped, with a smaller budget: 6 trials of 1 epoch on 1,000 images, no pruner. Seed 11's
# first six proposals cover all three families (the proposals of a seed are fixed); it is no other
# integration test's, since pruning_study_test tells its trainers apart from others by their trial seeds.
python3 - "$src/examples/fmnist-arch.json" "$dir/study.json" <<'PY'
import json, sys
study = json.load(open(sys.argv[1]))
study["budget"] = {"max_trials": 6, "max_parallel": 2}
study["task"]["builtin"]["fixed"]["epochs"] = 1
study["task"]["builtin"]["train_limit"] = 1000
study.pop("pruner", None)
study["seed"] = 11
json.dump(study, open(sys.argv[2], "w"))
PY

"$bin/hpo-coordinator" --listen 127.0.0.1:0 --port-file "$dir/port" --db "$dir/hpo.db" 2>"$dir/coordinator.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $dir/port ]] && break; sleep 0.1; done
[[ -s $dir/port ]] || fail "coordinator did not start"
addr=127.0.0.1:$(cat "$dir/port")
"$bin/hpo-worker" --coordinator "$addr" --slots 2 --threads 1 2>"$dir/worker.log" &
pids+=($!)

id=$("$bin/hpoctl" --coordinator "$addr" submit "$dir/study.json") || fail "submit"
timeout 500 "$bin/hpoctl" --coordinator "$addr" watch "$id" >"$dir/watch.log" || fail "watch exited $?"
"$bin/hpoctl" --coordinator "$addr" trials "$id" --format json >"$dir/trials.json" || fail "trials"
"$bin/hpoctl" --coordinator "$addr" pareto "$id" --format json >"$dir/front.json" || fail "pareto"

python3 - "$dir/trials.json" "$dir/front.json" <<'PY' || fail "the trials do not cover every family"
import json, sys
trials = json.load(open(sys.argv[1]))
trials = trials.get("trials", trials) if isinstance(trials, dict) else trials
front = json.load(open(sys.argv[2]))
front = front.get("trials", front) if isinstance(front, dict) else front
own = {"mlp": {"hidden_layers", "width"}, "cnn": {"stage1_channels", "stages", "depthwise"},
       "vit": {"d_model", "layers", "heads", "patch_size", "position"}}
families = {}
for t in trials:
    assert t["state"] == "completed", t
    params = {k: v for k, v in t["params"].items() if v is not None}  # a knob that does not count is null
    model = params["model"]
    families[model] = families.get(model, 0) + 1
    for family, knobs in own.items():
        present = knobs & set(params)
        if family == model:
            assert present == knobs, (model, params)
        else:
            assert not present, (model, params)
    # (How well one epoch on 1,000 images learns is the unit tests' concern; these are real measurements.)
    assert 0.0 <= t["metrics"]["accuracy"] <= 1.0 and t["metrics"]["params"] > 0, t
    assert t["metrics"]["latency_ms"] > 0, t
assert set(families) == {"mlp", "cnn", "vit"}, families
completed = {t["trial"] for t in trials}
assert front and all(f["trial"] in completed for f in front), front
print("families", families, "front", [f["trial"] for f in front])
PY
echo "e2e arch: study $id finished with every family"
