"""Work lost to a preemption: our Trainer vs the stock one, same config, signal mid-epoch.

SLURM signals a job before killing it (SIGUSR1 near the time limit, SIGTERM on preemption).
The stock trainer has no handler: the process dies and the rerun restarts from the last epoch
checkpoint (here: from scratch, one epoch). Ours checkpoints at the next step and the rerun
resumes there. Printed: steps trained before the signal, steps trained twice, signal-to-exit
time, and the steps both runs trained together (an uninterrupted run trains one epoch).

.venv/bin/python benchmarks/preemption_cost.py [--videos 24] [--signal-at 30]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from common import BIN, make_dataset

from training_ext.testing.stock_reference import (
    ONE_EPOCH_CONFIG,
    stock_training_command,
    write_reference_configs,
)

STEP_LINE = re.compile(r"Train Epoch: \[\d+\]\[\s*(\d+)/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24, help="train videos (2 steps each)")
    parser.add_argument("--signal-at", type=int, default=30, help="signal after this step")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        configs = root / "configs"
        write_reference_configs(configs, ("trainer.logging.log_freq=1",))
        env = {
            **os.environ,
            "SAM2_CONFIG_PATH": str(configs),
            "SAM2_DATASET": str(make_dataset(root, args.videos)),
        }
        commands = {
            "stock": stock_training_command(ONE_EPOCH_CONFIG),
            "ours": [
                str(BIN / "sam2-train"),
                "-c",
                ONE_EPOCH_CONFIG,
                "trainer._target_=training_ext.trainer.trainer.Trainer",
                "trainer.accelerator=auto",
                f"launcher.experiment_log_dir={root / 'ours' / 'sam2_logs' / ONE_EPOCH_CONFIG}",
            ],
        }
        print(f"tiny demo recipe on CPU, one epoch of {2 * args.videos} steps, SIGUSR1 after step")
        print(f"{args.signal_at}, then the same command again until the epoch is done\n")
        print(
            f"{'trainer':8} {'before signal':>13} {'trained twice':>13} {'exit after':>10} "
            f"{'total steps':>11}"
        )
        for name, command in commands.items():
            workdir = root / name
            workdir.mkdir()
            first, exit_seconds = run_until_signalled(command, workdir, env, args.signal_at)
            second = subprocess.run(
                command, cwd=workdir, env=env, capture_output=True, text=True, check=True
            )
            steps_before = len(first)
            steps_after = len(STEP_LINE.findall(second.stdout + second.stderr))
            trained_twice = steps_before + steps_after - 2 * args.videos
            print(
                f"{name:8} {steps_before:13d} {trained_twice:13d} {exit_seconds:9.2f}s "
                f"{steps_before + steps_after:11d}"
            )


def run_until_signalled(
    command: list[str], workdir: Path, env: dict[str, str], signal_at: int
) -> tuple[list[int], float]:
    """Steps the first run logged, and seconds from the signal to the process's exit."""
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    steps: list[int] = []
    signalled_at = None
    for line in process.stdout:
        match = STEP_LINE.search(line)
        if match:
            steps.append(int(match.group(1)))
            if signalled_at is None and steps[-1] >= signal_at:
                process.send_signal(signal.SIGUSR1)
                signalled_at = time.monotonic()
    process.wait()
    return steps, time.monotonic() - signalled_at


if __name__ == "__main__":
    main()
