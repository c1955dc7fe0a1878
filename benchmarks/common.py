"""Helpers shared by the benchmarks: a synthetic set and timed tiny-recipe training runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from training_ext.data.synthetic import SynthSpec, generate
from training_ext.runs.tensorboard_logs import BATCH_TIME_TAG, read_tensorboard_series

BIN = Path(sys.executable).parent
WARMUP_STEPS = 5


def make_dataset(root: Path, train_videos: int) -> Path:
    return generate(root / "data", seed=0, spec=SynthSpec(train_videos=train_videos, val_videos=1))


def run_ours(run_dir: Path, env: dict[str, str], *args: str) -> None:
    """`sam2-train` with ``args``; raises with the tail of its output if it fails."""
    result = subprocess.run(
        [str(BIN / "sam2-train"), *args, f"launcher.experiment_log_dir={run_dir}"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    check(result)


def check(result: subprocess.CompletedProcess) -> None:
    if result.returncode != 0:
        raise SystemExit(f"training failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def step_times(tensorboard_dir: Path) -> pd.Series:
    """Per-step wall time of rank 0 after warm-up (needs log_scalar_frequency=1)."""
    times = read_tensorboard_series(tensorboard_dir, BATCH_TIME_TAG)
    return times[times.step >= WARMUP_STEPS].value.reset_index(drop=True)
