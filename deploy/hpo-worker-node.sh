#!/usr/bin/env bash
# hpo-worker-node: starts hpo-worker with one trial slot per GPU that this machine, pod or Slurm step was
# given, and with the labels that every deployment of hpo sets by this one rule (the Kubernetes
# DaemonSet and Deployment, the Slurm script and the systemd unit all start workers through it):
#
#   gpu=<the GPUs' name as nvidia-smi prints it, blanks as '-'>, e.g. gpu=NVIDIA-H100-80GB-HBM3. That is
#       also the value of the node label nvidia.com/gpu.product of NVIDIA's GPU Feature Discovery, so a
#       Kubernetes nodeSelector and a study's worker_selector name a GPU kind with the same words:
#       {"worker_selector": {"gpu": "NVIDIA-H100-80GB-HBM3"}}. gpu=cpu on a machine without a GPU.
#   node=<the node's name>: $HPO_NODE_NAME (Kubernetes: spec.nodeName), else the short host name.
#
# Usage: hpo-worker-node [hpo-worker flags...]
# Its arguments follow these in hpo-worker's command line: --coordinator, --token-file, --name, further
# --label flags (hpo-worker refuses a label given twice, so gpu= and node= come from here alone).
#
# Environment:
#   HPO_BIN               folder of hpo-worker (default: this script's own folder when hpo-worker is
#                         there, else hpo-worker on PATH)
#   CUDA_VISIBLE_DEVICES  when set (Slurm sets it to the GPUs of the job), the GPUs to use, one slot each;
#                         else every GPU nvidia-smi lists, by UUID (a pod sees only those it was given)
#   HPO_SLOTS             trials at once (default: one per GPU, 1 without a GPU)
#   HPO_CPUS              CPUs for all trials together (default: nproc); each trial gets
#                         --threads = HPO_CPUS / slots, at least 1
#   HPO_GPU_LABEL         the value of gpu= (default: the rule above)
#   HPO_NODE_NAME         the value of node= (default: the short host name)
#
# Exits 2, saying why, when the GPUs are of more than one kind (start one worker per kind, each with its
# CUDA_VISIBLE_DEVICES) or nvidia-smi cannot name GPUs that CUDA_VISIBLE_DEVICES lists; else it becomes
# hpo-worker (exec), so that signals reach the worker itself.
set -euo pipefail

die() {
  echo "hpo-worker-node: $*" >&2
  exit 2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -n ${HPO_BIN:-} ]]; then
  worker=$HPO_BIN/hpo-worker
elif [[ -x $here/hpo-worker ]]; then
  worker=$here/hpo-worker
else
  worker=$(command -v hpo-worker) || die "hpo-worker is neither in $here nor on PATH; set HPO_BIN"
fi

# The GPUs: CUDA_VISIBLE_DEVICES as given, else the UUIDs nvidia-smi lists.
gpus=${CUDA_VISIBLE_DEVICES:-}
[[ $gpus == NoDevFiles ]] && gpus=  # Slurm's word for none
names=
if command -v nvidia-smi > /dev/null; then
  listed=$(nvidia-smi --query-gpu=uuid,name --format=csv,noheader) \
    || die "nvidia-smi failed: $listed"
  if [[ -z $gpus && -n $listed ]]; then
    gpus=$(cut -d, -f1 <<< "$listed" | tr -d ' ' | paste -sd, -)
  fi
  # Each distinct name once, blanks as '-' (a blank run as one '-').
  names=$(cut -d, -f2- <<< "$listed" | sed 's/^ *//; s/ *$//' | tr -s ' ' '-' | sed '/^$/d' | sort -u)
fi

if [[ -n $gpus ]]; then
  IFS=, read -r -a ids <<< "$gpus"
  slots=${HPO_SLOTS:-${#ids[@]}}
  if [[ -n ${HPO_GPU_LABEL:-} ]]; then
    kind=$HPO_GPU_LABEL
  elif [[ -z $names ]]; then
    die "cannot name the GPUs $gpus (no nvidia-smi on PATH, or it lists none); set HPO_GPU_LABEL"
  elif [[ $(wc -l <<< "$names") -gt 1 ]]; then
    die "the GPUs are of more than one kind ($(paste -sd' ' - <<< "$names")): start one worker per kind," \
      "each with CUDA_VISIBLE_DEVICES naming its GPUs and HPO_GPU_LABEL its kind"
  else
    kind=$names
  fi
  args=(--gpus "$gpus")
else
  slots=${HPO_SLOTS:-1}
  kind=${HPO_GPU_LABEL:-cpu}
  args=()
fi
[[ $slots =~ ^[1-9][0-9]*$ ]] || die "HPO_SLOTS must be a whole number >= 1, not '$slots'"
cpus=${HPO_CPUS:-$(nproc)}
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "HPO_CPUS must be a whole number >= 1, not '$cpus'"
threads=$((cpus / slots))
((threads >= 1)) || threads=1
node=${HPO_NODE_NAME:-${HOSTNAME%%.*}}

args+=(--slots "$slots" --threads "$threads" --label "gpu=$kind" --label "node=$node" "$@")
echo "hpo-worker-node: $worker ${args[*]}" >&2
exec "$worker" "${args[@]}"
