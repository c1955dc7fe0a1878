"""Stop signals mid-epoch: checkpoint at the next step, exit 3, resume at that step exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from helpers import (
    BIN,
    FAST_OVERRIDES,
    STEP_LINE,
    STEPS_PER_EPOCH,
    assert_one_line_error,
    check_ok,
    last_checkpoint,
    run_command,
    wait_for_training_step,
)

from training_ext.resume.checkpoint_io import atomic_torch_save
from training_ext.resume.preemption import PREEMPTED_EXIT_CODE, StopRequest
from training_ext.runs.tensorboard_logs import read_step_losses

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset


def demo_command(synthetic_root: Path, run_dir: Path, *overrides: str) -> list[str]:
    return [
        str(BIN / "sam2-train"),
        "-c",
        "demo_scratch",
        f"dataset.root={synthetic_root}",
        f"launcher.experiment_log_dir={run_dir}",
        *FAST_OVERRIDES,
        "trainer.logging.log_freq=1",
        *overrides,
    ]


def train_until_signalled(command: list[str], run_dir: Path, signum: int) -> dict:
    """Start training, signal it after step 4, expect the checkpointed stop."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_training_step(run_dir / "logs" / "log.txt", 4, process)
    process.send_signal(signum)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == PREEMPTED_EXIT_CODE, output[-3000:]
    assert f"Stopped by {signal.Signals(signum).name}" in output
    return last_checkpoint(run_dir)


def test_stop_signal_checkpoints_mid_epoch_and_resume_matches_uninterrupted_run(
    synthetic_root: Path, demo_run: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    command = demo_command(synthetic_root, run_dir)
    stopped = train_until_signalled(command, run_dir, signal.SIGUSR1)
    progress = stopped["train_dataset"]
    assert progress["epoch"] == 0 and stopped["epoch"] == 0
    assert 5 <= progress["batches_done"] < STEPS_PER_EPOCH
    assert stopped["steps"]["train"] == progress["batches_done"]  # no step lost

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    check_ok(resumed)
    log = (run_dir / "logs" / "log.txt").read_text()
    assert f"Resuming epoch 0 after its first {progress['batches_done']} batches" in log
    # the progress lines go on counting where the stopped run left off: each batch once
    assert sorted(int(index) for index in STEP_LINE.findall(log)) == list(range(STEPS_PER_EPOCH))
    final = last_checkpoint(run_dir)
    assert final["steps"]["train"] == STEPS_PER_EPOCH and final["epoch"] == 1
    assert "train_dataset" not in final

    # Same batches, prompts and learning rates as the run that was never stopped.
    expected = read_step_losses(demo_run / "tensorboard").set_index("step").loss
    got = read_step_losses(run_dir / "tensorboard").set_index("step").loss
    assert list(got.index) == list(range(STEPS_PER_EPOCH))
    torch.testing.assert_close(
        torch.tensor(got.to_numpy()), torch.tensor(expected.to_numpy()), rtol=1e-5, atol=1e-6
    )


def test_a_second_training_into_a_running_folder_is_refused(
    synthetic_root: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    command = demo_command(synthetic_root, run_dir, "validation=none")
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_training_step(run_dir / "logs" / "log.txt", 2, first)
        log_size = (run_dir / "logs" / "log.txt").stat().st_size
        second = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert_one_line_error(second, f"pid {first.pid}", "in use", "launcher.experiment_log_dir")
        assert first.poll() is None  # the first run goes on, its folder untouched by the second
    finally:
        first.send_signal(signal.SIGUSR1)
        first.wait(timeout=300)
    assert first.returncode == PREEMPTED_EXIT_CODE
    assert (run_dir / "logs" / "log.txt").stat().st_size >= log_size


def test_save_every_steps_writes_mid_epoch_checkpoints(
    synthetic_root: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    # Stop the run right after the step-10 checkpoint: kill it, as a crash would.
    process = subprocess.Popen(
        demo_command(synthetic_root, run_dir, "trainer.save_every_steps=5", "validation=none"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_training_step(run_dir / "logs" / "log.txt", 12, process)
    process.kill()
    process.wait()
    checkpoint = last_checkpoint(run_dir)
    assert checkpoint["steps"]["train"] in (10, 15)
    assert checkpoint["train_dataset"]["batches_done"] == checkpoint["steps"]["train"]


def test_kill_9_while_saving_leaves_the_previous_checkpoint_loadable(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    atomic_torch_save({"step": 1, "weights": torch.ones(3)}, path)
    # A child process saves a large checkpoint over it and is killed mid-write.
    writer = subprocess.Popen(
        [
            str(BIN / "python"),
            "-c",
            "import sys, torch\n"
            "from training_ext.resume.checkpoint_io import atomic_torch_save\n"
            "atomic_torch_save({'step': 2, 'weights': torch.zeros(400_000_000, dtype=torch.uint8)},"
            " sys.argv[1])",
            str(path),
        ]
    )
    partial = path.with_name("checkpoint.pt.tmp")
    deadline = time.monotonic() + 60
    while not (partial.exists() and partial.stat().st_size > 0):
        assert writer.poll() is None and time.monotonic() < deadline, "the save ended too soon"
        time.sleep(0.001)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert writer.returncode == -signal.SIGKILL
    assert partial.stat().st_size < 400_000_000  # it really died mid-write
    previous = torch.load(path)
    assert previous["step"] == 1 and torch.equal(previous["weights"], torch.ones(3))


def test_resume_from_a_folder_with_a_stale_partial_checkpoint(
    synthetic_root: Path, demo_run: Path, tmp_path: Path
) -> None:
    """A `.tmp` left by a killed save does not stop the next run from resuming."""
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    checkpoint = demo_run / "checkpoints" / "checkpoint.pt"
    (run_dir / "checkpoints" / "checkpoint.pt").write_bytes(checkpoint.read_bytes())
    (run_dir / "checkpoints" / "checkpoint.pt.tmp").write_bytes(b"half a checkpoint")
    result = run_command(
        "sam2-train",
        "-c",
        "demo_scratch",
        f"dataset.root={synthetic_root}",
        f"launcher.experiment_log_dir={run_dir}",
        *FAST_OVERRIDES,
        "scratch.num_epochs=2",
        "validation=none",
    )
    check_ok(result)
    final = last_checkpoint(run_dir)
    assert final["epoch"] == 2 and final["steps"]["train"] == 2 * STEPS_PER_EPOCH


@pytest.mark.parametrize("signum", [signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM])
def test_stop_request_records_the_first_signal_and_hands_it_to_the_replaced_handler(
    signum: int,
) -> None:
    received = []
    before = signal.signal(signum, lambda number, frame: received.append(number))
    request = StopRequest()
    request.install()
    try:
        os.kill(os.getpid(), signum)
        os.kill(os.getpid(), signal.SIGUSR1)  # later signals do not change the reason
        assert request.signum == signum and request.name == signal.Signals(signum).name
        assert request.agreed(torch.device("cpu"))  # one process: its own answer
        assert received == []  # recorded only; acted on at the step boundary
        request.hand_to_previous_handler()
        assert received == [signum]  # e.g. submitit's checkpoint-and-requeue
    finally:
        request.uninstall()
        signal.signal(signum, before)
