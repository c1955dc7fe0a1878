"""Failures that only a rank sees, as a user meets them: one line from `sam2-train`, the
traceback in the run's log, exit code 1 (a crash) or 3 (a checkpointed stop), never a traceback
on the terminal — with the rank run in-process, spawned, or started by an external launcher."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from helpers import (
    BIN,
    FAST_OVERRIDES,
    STEPS_PER_EPOCH,
    check_ok,
    last_checkpoint,
    wait_for_training_step,
)

from training_ext.launch.rank_errors import RANK_FAILED_EXIT_CODE
from training_ext.resume.checkpoint_io import DISK_FULL_EXIT_CODE
from training_ext.resume.preemption import PREEMPTED_EXIT_CODE

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset


@pytest.fixture(scope="module")
def truncated_frame_data(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic set with one frame of every training video cut to its first 200 bytes."""
    root = tmp_path_factory.mktemp("bad") / "synthetic"
    shutil.copytree(synthetic_root, root)
    for video in sorted((root / "JPEGImages").glob("train_*")):
        frame = sorted(video.glob("*.jpg"))[2]
        frame.write_bytes(frame.read_bytes()[:200])
    return root


def train(data: Path, run_dir: Path, *args: str, env: dict | None = None):
    command = [
        str(BIN / "sam2-train"), "-c", "demo_scratch", f"dataset.root={data}",
        f"launcher.experiment_log_dir={run_dir}", *FAST_OVERRIDES, "validation=none", *args,
    ]  # fmt: skip
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


def assert_failed_in_one_line(result: subprocess.CompletedProcess, run_dir: Path, *fragments):
    assert result.returncode == RANK_FAILED_EXIT_CODE, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    log = run_dir / "logs" / "log.txt"
    for fragment in ("sam2-train: error:", *fragments, f"traceback in {log}"):
        assert fragment in lines[0], lines[0]
    assert "Traceback (most recent call last)" in log.read_text()


@pytest.mark.parametrize("ranks", [1, 2])
def test_undecodable_frame_fails_in_one_line(truncated_frame_data: Path, tmp_path: Path, ranks):
    run_dir = tmp_path / "run"
    result = train(
        truncated_frame_data, run_dir, "--num-gpus", str(ranks), "dataset.on_bad_frame=fail"
    )
    prefix = "rank " if ranks > 1 else ""
    assert_failed_in_one_line(result, run_dir, prefix, "/00002.jpg cannot be read", "on_bad_frame")


def test_external_launcher_rank_failure_is_one_line(
    truncated_frame_data: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    env = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": "29731"}  # fmt: skip
    result = train(
        truncated_frame_data, run_dir, "--external-launcher", "dataset.on_bad_frame=fail", env=env
    )
    assert_failed_in_one_line(result, run_dir, "rank 0: ", "/00002.jpg cannot be read")


def test_undecodable_frames_in_a_dataloader_worker_name_the_file(
    truncated_frame_data: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    result = train(
        truncated_frame_data, run_dir, "scratch.num_train_workers=1", "dataset.on_bad_frame=fail"
    )
    assert_failed_in_one_line(result, run_dir, "/00002.jpg cannot be read")


def test_by_default_a_bad_frame_costs_its_clips_not_the_run(
    synthetic_root: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(synthetic_root, data)
    bad = sorted((data / "JPEGImages" / "train_0003").glob("*.jpg"))[1]
    bad.write_bytes(bad.read_bytes()[:200])
    run_dir = tmp_path / "run"
    check_ok(train(data, run_dir))
    log = (run_dir / "logs" / "log.txt").read_text()
    skipped = re.findall(rf"Skipped a training clip: {re.escape(str(bad))} cannot be read", log)
    assert skipped, log[-3000:]
    assert f"({len(skipped)} skipped so far)" in log
    assert last_checkpoint(run_dir)["steps"]["train"] == STEPS_PER_EPOCH  # every step trained


def test_stopped_spawned_ranks_exit_3_without_a_traceback(
    synthetic_root: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    command = [
        str(BIN / "sam2-train"), "-c", "demo_scratch", "--num-gpus", "2",
        f"dataset.root={synthetic_root}", f"launcher.experiment_log_dir={run_dir}",
        *FAST_OVERRIDES, "validation=none", "trainer.logging.log_freq=1",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_training_step(run_dir / "logs" / "log.txt", 3, process)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == PREEMPTED_EXIT_CODE, stderr[-3000:]
    assert "Traceback" not in stdout + stderr
    assert not list((run_dir / "logs").glob("rank*.error"))


def test_disk_full_while_saving_keeps_the_last_checkpoint_and_says_so(
    synthetic_root: Path, tmp_path: Path, small_disk: Path
) -> None:
    run_dir = tmp_path / "run"
    checkpoints = small_disk / "checkpoints"
    command = [
        str(BIN / "sam2-train"), "-c", "demo_scratch", f"dataset.root={synthetic_root}",
        f"launcher.experiment_log_dir={run_dir}", f"trainer.checkpoint.save_dir={checkpoints}",
        *FAST_OVERRIDES, "validation=none", "trainer.save_every_steps=4",
        "trainer.logging.log_freq=1",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    saved = checkpoints / "checkpoint.pt"
    wait_for_training_step(run_dir / "logs" / "log.txt", 5, process)
    assert saved.is_file()
    kept = saved.read_bytes()
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * (free - len(kept) // 2))  # room for half a save
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == DISK_FULL_EXIT_CODE, stderr[-3000:]
    assert "Traceback" not in stdout + stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("sam2-train: error: ") and f"no space left in {checkpoints}" in line
    assert "MB checkpoint" in line and "run the same command to resume" in line
    assert saved.read_bytes() == kept  # the previous checkpoint, intact
    assert not list(checkpoints.glob("*.tmp"))  # no partial file holding the disk
