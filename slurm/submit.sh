#!/usr/bin/env bash
# Check the inputs of a SLURM training job, then submit slurm/train.sbatch with sbatch.
#
#   SAM2_DATASET=/data NUM_GPUS=8 NUM_NODES=2 slurm/submit.sh [--dry-run] [key=value ...]
#
# Environment (defaults in brackets):
#   SAM2_CONFIG [demo]   config name or .yaml path      SAM2_OUTPUT   run directory (resume lives here)
#   SAM2_DATASET         dataset folder, if the config reads it
#   NUM_NODES [1]        nodes                          NUM_GPUS [8]  GPUs per node = tasks per node;
#                                                                      0: CPU ranks (TASKS_PER_NODE [1])
#   CPUS_PER_TASK [10]   TIME [24:00:00]                PARTITION, ACCOUNT, QOS: passed to sbatch
#   SBATCH_EXTRA         more sbatch flags, space-separated
#   SAM2_TRAIN [sam2-train]  checks the config first (`sam2-train --check`); required
#   SAM2_GPU_MEMORY      memory of one GPU (e.g. 80GB): refuse a config whose estimated peak per
#                        GPU is larger (`sam2-train --estimate-memory`), before queueing
# --dry-run checks everything, then prints the sbatch command instead of running it (no sbatch
# needed).
set -euo pipefail

fail() {
  echo "submit.sh: error: $*" >&2
  exit 2
}

positive_integer() { # name value [minimum] [example]
  if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < ${3:-1})); then
    fail "$1='$2' is not a whole number >= ${3:-1}; e.g. $1=${4:-1}"
  fi
}

dry_run=0
if [[ ${1:-} == --dry-run ]]; then
  dry_run=1
  shift
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
config=${SAM2_CONFIG:-demo}
nodes=${NUM_NODES:-1}
gpus=${NUM_GPUS:-8}
cpus=${CPUS_PER_TASK:-10}
positive_integer NUM_NODES "$nodes"
positive_integer NUM_GPUS "$gpus" 0 8
positive_integer CPUS_PER_TASK "$cpus"
tasks=$gpus
if ((gpus == 0)); then
  tasks=${TASKS_PER_NODE:-1}
  positive_integer TASKS_PER_NODE "$tasks"
fi

if [[ -n ${SAM2_DATASET:-} && ! -d $SAM2_DATASET ]]; then
  fail "SAM2_DATASET=$SAM2_DATASET is not a directory; point it at your dataset folder"
fi
if [[ $config == *.yaml || $config == */* ]] && [[ ! -r $config ]]; then
  fail "SAM2_CONFIG=$config is not a readable file; give a readable .yaml or a config name (sam2-train --list-configs)"
fi
if ((!dry_run)); then
  command -v sbatch >/dev/null ||
    fail "sbatch not found on PATH; run this on a SLURM login node (or load the slurm module)"
fi

# The full check (paths, checkpoints, overrides) with the sam2-train the job will run.
train=${SAM2_TRAIN:-sam2-train}
command -v "$train" >/dev/null ||
  fail "SAM2_TRAIN: '$train' not found, so the config cannot be checked before queueing; activate the environment that has sam2-train or set SAM2_TRAIN=/path/to/sam2-train"
output=${SAM2_OUTPUT:-$PWD/sam2_logs/$(basename "${config%.yaml}")}
read -r -a extra <<<"${SAM2_OVERRIDES:-}"
"$train" --check -c "$config" "launcher.experiment_log_dir=$output" "${extra[@]}" "$@" >/dev/null

command=(sbatch --nodes="$nodes" --ntasks-per-node="$tasks" --cpus-per-task="$cpus")
command+=(--time="${TIME:-24:00:00}")
if ((gpus > 0)); then
  command+=(--gpus-per-node="$gpus")
else
  command+=(--gpus-per-node=0) # cancels train.sbatch's #SBATCH --gpus-per-node (--gres=none does not)
fi
[[ -n ${PARTITION:-} ]] && command+=(--partition="$PARTITION")
[[ -n ${ACCOUNT:-} ]] && command+=(--account="$ACCOUNT")
[[ -n ${QOS:-} ]] && command+=(--qos="$QOS")
read -r -a sbatch_extra <<<"${SBATCH_EXTRA:-}"
command+=("${sbatch_extra[@]}" "$here/train.sbatch" "$@")

if ((dry_run)); then
  printf '%q ' "${command[@]}"
  echo
  exit 0
fi
export SAM2_CONFIG="$config"
exec "${command[@]}"
