"""`Dockerfile.training` (hadolint) and `run_training_docker.sh` (shellcheck, dry run, and a
`docker` stub on PATH that records its argv: no Docker engine runs here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import assert_one_line_error, run_command

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "run_training_docker.sh"
BIN = Path(sys.executable).parent

DOCKER_STUB = """#!/bin/sh
# Records each call, one argument per line, calls separated by a line '--'.
for argument in "$@"; do echo "$argument"; done >> "$DOCKER_LOG"
echo -- >> "$DOCKER_LOG"
if [ "$1 $2" = "image inspect" ]; then exit "$IMAGE_MISSING"; fi
exit 0
"""


@pytest.fixture
def docker_stub(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "stub-bin"
    bin_dir.mkdir()
    stub = bin_dir / "docker"
    stub.write_text(DOCKER_STUB)
    stub.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "DOCKER_LOG": str(tmp_path / "docker.log"),
        "IMAGE_MISSING": "1",
    }


def launch(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    variables = {k: v for k, v in os.environ.items() if not k.startswith(("SAM2_", "NUM_GPUS"))}
    return subprocess.run(
        [str(SCRIPT), *args], env={**variables, **env}, cwd=cwd, capture_output=True, text=True
    )


def docker_calls(log: Path) -> list[list[str]]:
    calls, current = [], []
    for line in log.read_text().splitlines():
        if line == "--":
            calls.append(current)
            current = []
        else:
            current.append(line)
    return calls


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), str(REPO / "Dockerfile.training")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_script_passes_shellcheck() -> None:
    result = subprocess.run([str(BIN / "shellcheck"), str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_builds_the_missing_image_then_runs(docker_stub, synthetic_root: Path, tmp_path: Path):
    checkpoints = tmp_path / "ckpts"
    checkpoints.mkdir()
    env = {
        **docker_stub,
        "SAM2_DATASET": str(synthetic_root),
        "SAM2_CHECKPOINTS": str(checkpoints),
        "SAM2_CONFIG": "demo_scratch",
        "SAM2_OUTPUT": str(tmp_path / "out"),
        "NUM_GPUS": "2",
    }
    result = launch("scratch.base_lr=1e-4", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    inspect, build, run = docker_calls(Path(docker_stub["DOCKER_LOG"]))
    assert inspect[:2] == ["image", "inspect"]
    assert build == [
        "build",
        "-f",
        str(REPO / "Dockerfile.training"),
        "-t",
        "sam2-training-ext:latest",
        str(REPO),
    ]
    assert run[:2] == ["run", "--rm"] and "--ipc=host" in run
    assert run[run.index("--gpus") + 1] == "2"
    for mount in (
        f"{synthetic_root}:/data:ro",
        f"{checkpoints}:/checkpoints:ro",
        f"{tmp_path / 'out'}:/output",
    ):
        assert run[run.index(mount) - 1] == "-v"
    assert "SAM2_DATASET=/data" in run and "SAM2_CHECKPOINTS=/checkpoints" in run
    image = run.index("sam2-training-ext:latest")
    assert run[image + 1 :] == [
        "-c",
        "demo_scratch",
        "--num-gpus",
        "2",
        "launcher.experiment_log_dir=/output/demo_scratch",
        "scratch.base_lr=1e-4",
    ]
    assert (tmp_path / "out").is_dir()


@pytest.mark.skipif(os.geteuid() != 0, reason="sudo runs the script as root")
def test_under_sudo_the_container_runs_as_the_calling_user(docker_stub, synthetic_root, tmp_path):
    env = {
        **docker_stub,
        "SAM2_DATASET": str(synthetic_root),
        "SAM2_OUTPUT": str(tmp_path / "runs" / "mine" / "out"),
        "IMAGE_MISSING": "0",
        "SUDO_UID": "4321",
        "SUDO_GID": "8765",
    }
    assert launch(env=env, cwd=tmp_path).returncode == 0
    _, run = docker_calls(Path(docker_stub["DOCKER_LOG"]))
    assert run[run.index("--user") + 1] == "4321:8765"
    for created in ("runs", "runs/mine", "runs/mine/out"):  # the user's folders, not root's
        folder = (tmp_path / created).stat()
        assert (folder.st_uid, folder.st_gid) == (4321, 8765), created
    assert tmp_path.stat().st_uid != 4321  # folders that existed are left alone


def test_base_image_and_cuda_build_are_passed_to_docker_build(
    docker_stub, synthetic_root: Path, tmp_path: Path
) -> None:
    env = {
        **docker_stub,
        "SAM2_DATASET": str(synthetic_root),
        "SAM2_CONFIG": "demo_scratch",
        "SAM2_OUTPUT": str(tmp_path / "out"),
        "NUM_GPUS": "0",
        "SAM2_BASE_IMAGE": "local/debian-torch-cpu:1",
        "SAM2_BUILD_CUDA": "0",
    }
    assert launch(env=env, cwd=tmp_path).returncode == 0
    _, build, _ = docker_calls(Path(docker_stub["DOCKER_LOG"]))
    assert build[build.index("-t") - 4 : build.index("-t")] == [
        "--build-arg",
        "BASE_IMAGE=local/debian-torch-cpu:1",
        "--build-arg",
        "SAM2_BUILD_CUDA=0",
    ]


def test_dry_run_prints_the_command_and_runs_nothing(docker_stub, synthetic_root, tmp_path):
    env = {
        **docker_stub,
        "SAM2_DATASET": str(synthetic_root),
        "NUM_GPUS": "0",
        "IMAGE_MISSING": "0",
        "SAM2_OUTPUT": str(tmp_path / "out"),
        "SAM2_GPU_MEMORY": "24GB",
    }
    result = launch("--dry-run", "trainer.max_epochs=2", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("docker run --rm --ipc=host")
    assert "-e SAM2_GPU_MEMORY=24GB" in printed[0]  # sam2-train in the container checks the fit
    host_paths = f"SAM2_HOST_PATHS=/output={tmp_path / 'out'}\\;/data={synthetic_root}"
    assert host_paths in printed[0]  # printed paths are the host's
    assert "--gpus" not in printed[0]
    assert "--num-gpus 1 trainer.accelerator=cpu" in printed[0]
    assert printed[0].endswith("trainer.max_epochs=2")
    assert [call[:2] for call in docker_calls(Path(docker_stub["DOCKER_LOG"]))] == [
        ["image", "inspect"]
    ]
    assert not (tmp_path / "out").exists()


def test_config_file_is_mounted(docker_stub, synthetic_root: Path, tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("defaults:\n  - demo\n")
    env = {
        **docker_stub,
        "SAM2_DATASET": str(synthetic_root),
        "SAM2_CONFIG": str(tmp_path / "mine.yaml"),
        "IMAGE_MISSING": "0",
    }
    printed = launch("--dry-run", env=env, cwd=tmp_path).stdout
    assert f"-v {tmp_path}:/configs:ro" in printed and "SAM2_CONFIG_PATH=/configs" in printed
    assert "-c mine " in printed


# ---- bad input --------------------------------------------------------------------------------


def test_missing_dataset(docker_stub, tmp_path: Path) -> None:
    result = launch(env={**docker_stub, "SAM2_DATASET": str(tmp_path / "nope")}, cwd=tmp_path)
    assert_one_line_error(result, "is not a directory")
    unset = launch(env=docker_stub, cwd=tmp_path)
    assert_one_line_error(unset, "SAM2_DATASET is not set")


def test_num_gpus_not_a_number(docker_stub, synthetic_root: Path, tmp_path: Path) -> None:
    env = {**docker_stub, "SAM2_DATASET": str(synthetic_root), "NUM_GPUS": "two"}
    assert_one_line_error(launch(env=env, cwd=tmp_path), "NUM_GPUS=two is not a number")


def test_unreadable_config(docker_stub, synthetic_root: Path, tmp_path: Path) -> None:
    env = {
        **docker_stub,
        "SAM2_DATASET": str(synthetic_root),
        "SAM2_CONFIG": str(tmp_path / "missing.yaml"),
    }
    assert_one_line_error(launch(env=env, cwd=tmp_path), "is not a readable file")


def test_misspelled_config_name(docker_stub, synthetic_root: Path, tmp_path: Path) -> None:
    env = {
        **docker_stub,
        "SAM2_DATASET": str(synthetic_root),
        "SAM2_CONFIG": "sam2.1_hiera_b_finetune",
    }
    for args in (["--dry-run"], []):
        result = launch(*args, env=env, cwd=tmp_path)
        assert_one_line_error(result, "SAM2_CONFIG=sam2.1_hiera_b_finetune is not a config")
    assert not (tmp_path / "docker.log").exists()  # docker never called


def test_no_docker_on_path(synthetic_root: Path, tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("bash", "dirname", "realpath", "basename", "id", "sed", "mkdir", "env"):
        (tools / tool).symlink_to(shutil.which(tool))
    env = {"PATH": str(tools), "SAM2_DATASET": str(synthetic_root)}
    assert_one_line_error(launch(env=env, cwd=tmp_path), "docker is not on PATH")


def test_sam2_train_in_the_container_names_host_paths(tmp_path: Path) -> None:
    """What run_training_docker.sh sets up: sam2-train's messages name the host folders."""
    env = {"SAM2_HOST_PATHS": f"/output={tmp_path}/runs;/data={tmp_path}/MOSE"}
    result = run_command("sam2-train", "-c", "demo", "--check", "dataset.root=/data/train", env=env)
    line = assert_one_line_error(result, f"{tmp_path}/MOSE/train")
    assert "/data/train" not in line
