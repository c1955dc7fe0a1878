#!/usr/bin/env bash
# Train SAM2 in Docker: builds the image when it is missing, mounts data, checkpoints and output,
# and runs `sam2-train` in the container. Extra arguments are Hydra overrides.
#
#   SAM2_DATASET=/data/MOSE/train SAM2_CHECKPOINTS=/models/sam2.1 \
#       ./run_training_docker.sh scratch.base_lr=3e-6
#   ./run_training_docker.sh --dry-run ...     # print the docker command, run nothing
#
# Environment:
#   SAM2_DATASET      dataset root (DAVIS layout), mounted read-only at /data       (required)
#   SAM2_CONFIG       config name, or a .yaml file of yours     (default sam2.1_hiera_b+_finetune)
#   SAM2_CHECKPOINTS  folder of pretrained checkpoints, read-only at /checkpoints     (optional)
#   SAM2_OUTPUT       logs and checkpoints, at /output; rerun with it to resume (default ./sam2_logs)
#   NUM_GPUS          GPUs (one training process each); 0 trains on the CPU          (default 1)
#   SAM2_IMAGE        image name                                 (default sam2-training-ext:latest)
#   SAM2_BASE_IMAGE   base image to build on when the image is missing  (default: the Dockerfile's,
#                     a PyTorch CUDA devel image); it needs python >= 3.10 with pip, setuptools,
#                     wheel and the torch/torchvision to train with
#   SAM2_BUILD_CUDA   1: build sam2's CUDA extension (needs nvcc in the base); 0: without (CPU bases)
#   SAM2_GPU_MEMORY   memory of one GPU (e.g. 80GB): sam2-train refuses a config whose estimated
#                     peak per GPU is larger, before training starts
set -euo pipefail

fail() {
    echo "run_training_docker.sh: error: $*" >&2
    exit 2
}

dry_run=0
overrides=()
for argument in "$@"; do
    case "$argument" in
        --dry-run) dry_run=1 ;;
        -h | --help)
            sed -n '2,21p' "$0"
            exit 0
            ;;
        *) overrides+=("$argument") ;;
    esac
done

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
config=${SAM2_CONFIG:-sam2.1_hiera_b+_finetune}
output=$(realpath -m "${SAM2_OUTPUT:-$PWD/sam2_logs}")
num_gpus=${NUM_GPUS:-1}
image=${SAM2_IMAGE:-sam2-training-ext:latest}

[[ -n "${SAM2_DATASET:-}" ]] || fail "SAM2_DATASET is not set: export SAM2_DATASET=/path/to/dataset"
[[ -d "$SAM2_DATASET" ]] || fail "SAM2_DATASET=$SAM2_DATASET is not a directory: point it at the dataset root"
[[ "$num_gpus" =~ ^[0-9]+$ ]] || fail "NUM_GPUS=$num_gpus is not a number: use 0 (CPU) or a GPU count"
if [[ -n "${SAM2_CHECKPOINTS:-}" && ! -d "$SAM2_CHECKPOINTS" ]]; then
    fail "SAM2_CHECKPOINTS=$SAM2_CHECKPOINTS is not a directory: point it at the folder of .pt files"
fi

mounts=(-v "$(realpath "$SAM2_DATASET"):/data:ro")
environment=(-e SAM2_DATASET=/data -e HOME=/tmp)
# sam2-train names these host folders, not /output, /data, /checkpoints, in what it prints
host_paths="/output=$output;/data=$(realpath "$SAM2_DATASET")"
if [[ -n "${SAM2_CHECKPOINTS:-}" ]]; then
    mounts+=(-v "$(realpath "$SAM2_CHECKPOINTS"):/checkpoints:ro")
    environment+=(-e SAM2_CHECKPOINTS=/checkpoints)
    host_paths+=";/checkpoints=$(realpath "$SAM2_CHECKPOINTS")"
fi
environment+=(-e "SAM2_HOST_PATHS=$host_paths")
[[ -z "${SAM2_GPU_MEMORY:-}" ]] || environment+=(-e "SAM2_GPU_MEMORY=$SAM2_GPU_MEMORY")
if [[ "$config" == *.yaml || "$config" == *.yml ]]; then
    [[ -f "$config" && -r "$config" ]] || fail "SAM2_CONFIG=$config is not a readable file"
    mounts+=(-v "$(realpath "$(dirname "$config")"):/configs:ro")
    environment+=(-e SAM2_CONFIG_PATH=/configs)
    config=$(basename "${config%.*}")
elif [[ ! -f "$repo_dir/sam2_configs/$config.yaml" ]]; then
    fail "SAM2_CONFIG=$config is not a config of this project (no sam2_configs/$config.yaml): see ls sam2_configs, or give a .yaml file"
fi
run_name=${config//\//_}
command -v docker > /dev/null || fail "docker is not on PATH: install Docker (and the NVIDIA Container Toolkit for GPUs)"

# Under sudo, the container runs as the user who called sudo (not root), who then owns the output.
user_id=$(id -u)
group_id=$(id -g)
if ((user_id == 0)) && [[ "${SUDO_UID:-}" =~ ^[0-9]+$ ]]; then
    user_id=$SUDO_UID
    group_id=${SUDO_GID:-$SUDO_UID}
fi

gpu_flags=()
launcher_flags=(--num-gpus "$num_gpus")
if ((num_gpus == 0)); then
    launcher_flags=(--num-gpus 1 trainer.accelerator=cpu)
else
    gpu_flags=(--gpus "$num_gpus")
fi

docker_run=(docker run --rm --ipc=host --user "$user_id:$group_id"
    "${gpu_flags[@]}" "${mounts[@]}" -v "$output:/output" "${environment[@]}" "$image"
    -c "$config" "${launcher_flags[@]}" "launcher.experiment_log_dir=/output/$run_name"
    "${overrides[@]}")
build_args=()
[[ -z "${SAM2_BASE_IMAGE:-}" ]] || build_args+=(--build-arg "BASE_IMAGE=$SAM2_BASE_IMAGE")
[[ -z "${SAM2_BUILD_CUDA:-}" ]] || build_args+=(--build-arg "SAM2_BUILD_CUDA=$SAM2_BUILD_CUDA")
docker_build=(docker build -f "$repo_dir/Dockerfile.training" "${build_args[@]}" -t "$image" "$repo_dir")

if ((dry_run)); then
    if ! docker image inspect "$image" > /dev/null 2>&1; then
        printf '%q ' "${docker_build[@]}"
        echo
    fi
    printf '%q ' "${docker_run[@]}"
    echo
    exit 0
fi
if [[ ! -d "$output" ]]; then
    # Every folder created here belongs to the user the container runs as (not root under sudo).
    first_new=$output
    while [[ ! -d "$(dirname "$first_new")" ]]; do first_new=$(dirname "$first_new"); done
    mkdir -p "$output" || fail "cannot create SAM2_OUTPUT=$output"
    chown -R "$user_id:$group_id" "$first_new"
fi
docker image inspect "$image" > /dev/null 2>&1 || "${docker_build[@]}"
exec "${docker_run[@]}"
