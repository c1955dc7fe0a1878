"""Helpers of the test suite: run our console scripts as a user does, check their output, wait
for training steps, read checkpoints. Fixtures live in conftest.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

BIN = Path(sys.executable).parent
# A small set: 10 train videos x multiplier 2 = 20 training steps per epoch on one rank.
TRAIN_VIDEOS = 10
STEPS_PER_EPOCH = 2 * TRAIN_VIDEOS
# Demo recipe, trimmed for tests: one epoch, every step's loss logged.
FAST_OVERRIDES = ["scratch.num_epochs=1", "trainer.logging.log_scalar_frequency=1"]


def synthetic_dataset(root: Path) -> Path:
    """The tests' synthetic set (`sam2-data synth`: TRAIN_VIDEOS train, 2 val videos) in
    ``root``."""
    check_ok(
        run_command(
            "sam2-data",
            "synth",
            "--out",
            root,
            "--seed",
            "3",
            "--train-videos",
            TRAIN_VIDEOS,
            "--val-videos",
            2,
            "--frames",
            8,
        )  # fmt: skip
    )
    return root


def run_command(
    name: str,
    *args: str,
    env: dict | None = None,
    unset: tuple[str, ...] = (),
    cwd: Path | None = None,
    timeout: int = 600,
) -> subprocess.CompletedProcess:
    """Run one of our console scripts (from this venv) and capture its output."""
    full_env = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in unset}
    return subprocess.run(
        [str(BIN / name), *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


def check_ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (
        f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit code 2, a single line on stderr containing ``fragments``, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def val_list(root: Path) -> Path:
    """The held-out video list of a synthetic set."""
    return root / "ImageSets" / "val.txt"


def val_videos(root: Path) -> list[str]:
    return val_list(root).read_text().split()


def val_data(root: Path) -> tuple:
    """`--data` and `--videos` arguments for the held-out split of a synthetic set."""
    return ("--data", root, "--videos", val_list(root))


STEP_LINE = re.compile(r"Train Epoch: \[0\]\[\s*(\d+)/")


def wait_for_training_step(
    log: Path, step: int, process: subprocess.Popen | None = None, timeout: float = 300
) -> None:
    """Wait until the stock log ``log`` shows step ``step`` of epoch 0 (needs log_freq=1)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process is None or process.poll() is None, "training ended before that step"
        steps = [int(m) for m in STEP_LINE.findall(log.read_text())] if log.exists() else []
        if steps and max(steps) >= step:
            return
        time.sleep(0.2)
    raise TimeoutError(f"no step {step} in {log}")


def train_demo(
    synthetic_root: Path, run_dir: Path, *overrides: str, env: dict | None = None
) -> dict:
    """`sam2-train -c demo` for one epoch with ``overrides``; returns its last checkpoint."""
    check_ok(
        run_command("sam2-train", *demo_training_args(synthetic_root, run_dir, *overrides), env=env)
    )
    return last_checkpoint(run_dir)


def demo_training_args(synthetic_root: Path, run_dir: Path, *overrides: str) -> list[str]:
    """The `sam2-train` arguments of one epoch of the demo recipe into ``run_dir``."""
    return [
        "-c",
        "demo_scratch",
        f"dataset.root={synthetic_root}",
        f"launcher.experiment_log_dir={run_dir}",
        *FAST_OVERRIDES,
        *overrides,
    ]


def last_checkpoint(run_dir: Path) -> dict:
    """A run's ``checkpoints/checkpoint.pt``, loaded on the CPU."""
    return torch.load(run_dir / "checkpoints" / "checkpoint.pt", map_location="cpu")


def copy_run(run_dir: Path, destination: Path) -> Path:
    shutil.copytree(run_dir, destination)
    return destination
