"""slurm/submit.sh, slurm/train.sbatch and `sam2-train --use-cluster 1` on a real SLURM.

The cluster (Debian's slurmctld + slurmd, one node, 2 placeholder GPUs) is started by the
fixture and stopped at the end; the jobs train the tiny demo on CPU with 2 tasks (gloo).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from helpers import (
    BIN,
    FAST_OVERRIDES,
    STEPS_PER_EPOCH,
    assert_one_line_error,
    check_ok,
    last_checkpoint,
    wait_for_training_step,
)
from slurm_cluster import LocalSlurm, job_env, require, running, submit

from training_ext.runs.tensorboard_logs import read_step_losses

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset

REPO = Path(__file__).resolve().parents[1]
SUBMIT = REPO / "slurm" / "submit.sh"
TASKS = 2
STEPS_PER_TASK = STEPS_PER_EPOCH // TASKS


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> LocalSlurm:
    require(LocalSlurm)
    with running(LocalSlurm(tmp_path_factory.mktemp("slurm"))) as cluster:
        yield cluster


def test_sbatch_job_with_two_tasks_trains_and_writes_a_checkpoint(
    slurm: LocalSlurm, synthetic_root: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    job_id = submit(
        slurm, job_env(slurm, run_dir, NUM_GPUS=str(TASKS)), synthetic_root, "validation=none"
    )
    job = slurm.wait_for_job(job_id)
    output = (tmp_path / "job.out").read_text()
    assert job["JobState"] == "COMPLETED", output[-3000:]
    assert f"{TASKS} tasks on 1 node(s)" in output
    assert re.search(rf"^WORLD_SIZE={TASKS}$", (run_dir / "logs" / "log.txt").read_text(), re.M)
    assert last_checkpoint(run_dir)["steps"]["train"] == STEPS_PER_TASK  # each rank half


def test_cpu_job_without_gpus_submits_and_trains(
    slurm: LocalSlurm, synthetic_root: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    env = job_env(slurm, run_dir, NUM_GPUS="0", TASKS_PER_NODE=str(TASKS))
    job = slurm.wait_for_job(submit(slurm, env, synthetic_root, "validation=none"))
    output = (tmp_path / "job.out").read_text()
    assert job["JobState"] == "COMPLETED", output[-3000:]
    assert re.search(rf"^WORLD_SIZE={TASKS}$", (run_dir / "logs" / "log.txt").read_text(), re.M)


def test_signalled_sbatch_job_checkpoints_requeues_and_resumes_at_that_step(
    slurm: LocalSlurm, synthetic_root: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    env = job_env(slurm, run_dir, NUM_GPUS=str(TASKS))
    job_id = submit(slurm, env, synthetic_root, "validation=none", "trainer.logging.log_freq=1")
    wait_for_training_step(run_dir / "logs" / "log.txt", 3)
    # What SLURM does two minutes before the time limit (#SBATCH --signal=USR1@120).
    check_ok(subprocess.run(["scancel", "--signal=USR1", job_id], env=env, capture_output=True))
    job = slurm.wait_for_job(job_id)
    output = (tmp_path / "job.out").read_text()
    assert job["JobState"] == "COMPLETED", output[-3000:]
    assert job["Restarts"] == "1"
    assert "requeueing job" in output and "(restart 1)" in output
    log = (run_dir / "logs" / "log.txt").read_text()
    saved = int(re.search(r"Saved checkpoint at epoch 0 after batch (\d+)", log).group(1))
    assert 4 <= saved < STEPS_PER_TASK
    assert f"Resuming epoch 0 after its first {saved} batches" in log
    # The same steps as an uninterrupted run, each trained exactly once.
    assert last_checkpoint(run_dir)["steps"]["train"] == STEPS_PER_TASK
    assert list(read_step_losses(run_dir / "tensorboard").step) == list(range(STEPS_PER_TASK))


def test_submitit_job_survives_preemption_and_completes(
    slurm: LocalSlurm, synthetic_root: Path, tmp_path: Path
) -> None:
    """`sam2-train --use-cluster 1` (the stock submitit path), signalled as submitit's
    preemption notice: the checkpoint is saved, submitit requeues, the job finishes."""
    run_dir = tmp_path / "run"
    env = job_env(slurm, run_dir, NUM_GPUS=str(TASKS))
    result = check_ok(
        subprocess.run(
            [
                str(BIN / "sam2-train"),
                "-c",
                "demo_scratch",
                "--use-cluster",
                "1",
                "--num-gpus",
                str(TASKS),
                "--partition",
                "debug",
                f"dataset.root={synthetic_root}",
                f"launcher.experiment_log_dir={run_dir}",
                *FAST_OVERRIDES,
                "validation=none",
                "trainer.logging.log_freq=1",
                "submitit.cpus_per_task=1",
                "submitit.timeout_hour=1",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    )
    job_id = re.search(r"Submitit Job ID: (\d+)", result.stdout).group(1)
    wait_for_training_step(run_dir / "logs" / "log.txt", 3)
    check_ok(subprocess.run(["scancel", "--signal=USR2", job_id], env=env, capture_output=True))
    job = slurm.wait_for_job(job_id)
    assert job["JobState"] == "COMPLETED", job
    assert job["Restarts"] == "1"
    log = (run_dir / "logs" / "log.txt").read_text()
    assert "Stopped by SIGUSR2" in log and "Resuming epoch 0 after its first" in log
    assert last_checkpoint(run_dir)["steps"]["train"] == STEPS_PER_TASK


def run_submit(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/bash", str(SUBMIT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        ({"SAM2_DATASET": "/no/such/dataset"}, ["SAM2_DATASET=/no/such/dataset", "directory"]),
        ({"SAM2_CONFIG": "/no/such/exp.yaml"}, ["SAM2_CONFIG=/no/such/exp.yaml", "readable"]),
        ({"NUM_GPUS": "eight"}, ["NUM_GPUS='eight'", "whole number"]),
        ({"NUM_NODES": "0"}, ["NUM_NODES='0'", "whole number >= 1"]),
        ({"CPUS_PER_TASK": "-2"}, ["CPUS_PER_TASK='-2'", "whole number"]),
    ],
)
def test_submit_rejects_bad_input_in_one_line(
    tmp_path: Path, env: dict[str, str], fragments: list[str]
) -> None:
    assert_one_line_error(run_submit(tmp_path, env, "--dry-run"), "submit.sh: error:", *fragments)


def test_submit_without_sbatch_on_path_says_so(tmp_path: Path) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("dirname", "basename"):
        (tools / tool).symlink_to(subprocess.check_output(["which", tool], text=True).strip())
    result = run_submit(tmp_path, {"PATH": str(tools)})
    assert_one_line_error(result, "sbatch not found on PATH")


def test_submit_without_sam2_train_refuses_to_queue_unchecked(tmp_path: Path) -> None:
    env = {"SAM2_TRAIN": str(tmp_path / "no-such-sam2-train")}
    result = run_submit(tmp_path, env, "--dry-run")
    assert_one_line_error(result, "no-such-sam2-train' not found", "cannot be checked")


def test_submit_checks_the_config_with_sam2_train_before_queueing(
    tmp_path: Path, synthetic_root: Path
) -> None:
    # --dry-run needs no sbatch: PATH holds the venv and the basic tools only
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("dirname", "basename"):
        (tools / tool).symlink_to(subprocess.check_output(["which", tool], text=True).strip())
    env = {"PATH": f"{BIN}:{tools}", "SAM2_OUTPUT": str(tmp_path / "run")}
    result = run_submit(tmp_path, env, "--dry-run", "dataset.root=/no/such/data")
    assert_one_line_error(result, "sam2-train: error: dataset.img_folder", "/no/such/data")
    ok = check_ok(run_submit(tmp_path, env, "--dry-run", f"dataset.root={synthetic_root}"))
    assert "--ntasks-per-node=8 " in ok.stdout and "--gpus-per-node=8 " in ok.stdout
    assert ok.stdout.rstrip().endswith(f"train.sbatch dataset.root={synthetic_root}")


def test_train_sbatch_outside_slurm_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    result = subprocess.run(
        ["/bin/bash", str(REPO / "slurm" / "train.sbatch")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert_one_line_error(result, "not inside a SLURM job")


def test_slurm_scripts_pass_shellcheck() -> None:
    check_ok(
        subprocess.run(
            [str(BIN / "shellcheck"), str(SUBMIT), str(REPO / "slurm" / "train.sbatch")],
            capture_output=True,
            text=True,
        )
    )
