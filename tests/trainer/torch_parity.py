#!/usr/bin/python3
"""PyTorch's side of tests/trainer/torch_parity_test.cc: for every case of <dir>/manifest.json, builds the
PyTorch twin of the hpo model (bench/trainer/torch_models.py), loads hpo's parameters into it, runs a
training-mode forward pass, the mean softmax cross-entropy and backward in float64 (the reference), then
an inference-mode forward pass (batch norm's running statistics as the training pass left them), and writes
into the case's folder:
  logits.bin       the training pass's logits, float32, (rows * outputs) x classes
  eval_logits.bin  the inference pass's logits, the same shape
  grads.bin        every parameter's gradient in hpo's layout and offsets, float32
The manifest: {"cases": [{"name", "family", "config", "rows", "input": "f32" | "i32",
"params": [{"name", "rows", "cols", "offset"}]}]}, each case's folder <dir>/<name> holding params.bin
(float32), x.bin and labels.bin (int32), all little-endian. Exit status 0 when every case ran, 77 when
this Python cannot import torch.

usage: /usr/bin/python3 torch_parity.py <dir>
"""
import json
import os
import sys

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # the test skips itself on this exit status
    print(f"no torch: {e}", file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "trainer"))
import torch_models  # noqa: E402


def run_case(folder, case):
    def read(name, dtype):
        return np.fromfile(os.path.join(folder, name), dtype=np.dtype(dtype).newbyteorder("<"))

    flat = torch.from_numpy(read("params.bin", np.float32).astype(np.float64))
    arrays = {p["name"]: flat[p["offset"]:p["offset"] + p["rows"] * p["cols"]].reshape(p["rows"], p["cols"])
              for p in case["params"]}
    model = torch_models.build(case["family"], case["config"]).double()
    names = {name for name, _, _ in model.hpo_params()}
    if names != set(arrays):
        raise SystemExit(f"{case['name']}: hpo's tensors {sorted(set(arrays) - names)} have no PyTorch twin, "
                         f"PyTorch's {sorted(names - set(arrays))} none in hpo")
    torch_models.load_hpo(model, arrays)
    rows = case["rows"]
    if case["input"] == "i32":
        x = torch.from_numpy(read("x.bin", np.int32).astype(np.int64)).reshape(rows, -1)
    else:
        x = torch.from_numpy(read("x.bin", np.float32).astype(np.float64)).reshape(rows, -1)
    labels = torch.from_numpy(read("labels.bin", np.int32).astype(np.int64))

    model.train()
    logits = model(x)
    logits = logits.reshape(-1, logits.shape[-1])
    F.cross_entropy(logits, labels).backward()
    with torch.no_grad():
        model.eval()
        eval_logits = model(x).reshape(logits.shape)

    grads = np.zeros(flat.shape[0], dtype=np.float32)
    offsets = {p["name"]: p["offset"] for p in case["params"]}
    for name, g in torch_models.hpo_grads(model).items():
        grads[offsets[name]:offsets[name] + g.numel()] = g.reshape(-1).numpy()
    logits.detach().numpy().astype("<f4").tofile(os.path.join(folder, "logits.bin"))
    eval_logits.numpy().astype("<f4").tofile(os.path.join(folder, "eval_logits.bin"))
    grads.astype("<f4").tofile(os.path.join(folder, "grads.bin"))


def main():
    root = sys.argv[1]
    with open(os.path.join(root, "manifest.json")) as f:
        manifest = json.load(f)
    torch.set_num_threads(1)
    for case in manifest["cases"]:
        run_case(os.path.join(root, case["name"]), case)


if __name__ == "__main__":
    main()
