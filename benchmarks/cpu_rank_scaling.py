"""Training throughput with 2 CPU ranks vs 1 on this machine, with and without the thread split.

.venv/bin/python benchmarks/cpu_rank_scaling.py [--videos 24]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from common import make_dataset, run_ours, step_times

from training_ext.devices import available_cores

FAST = ["-c", "demo_scratch", "scratch.num_epochs=1", "trainer.logging.log_scalar_frequency=1"]


def throughput(run_dir: Path, ranks: int) -> float:
    """Clips per second: every rank trains one clip per step, in lockstep."""
    return ranks / step_times(run_dir / "tensorboard").median()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24, help="train videos (2 steps each)")
    parser.add_argument(
        "--no-split-run", action="store_true", help="skip the slow run without the thread split"
    )
    args = parser.parse_args()
    cores = available_cores()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {"SAM2_DATASET": str(make_dataset(root, args.videos))}
        os.environ.pop("OMP_NUM_THREADS", None)
        run_ours(root / "one", env, *FAST)
        run_ours(root / "two", env, *FAST, "--num-gpus", "2")
        one, two = throughput(root / "one", 1), throughput(root / "two", 2)
        print(f"{cores} cores; tiny demo recipe, batch 1 per rank")
        print(f"1 rank               {one:6.2f} clips/s")
        print(f"2 ranks (split)      {two:6.2f} clips/s")
        print(f"2 ranks / 1 rank: {two / one:.2f}x (goal >= 1.7x)")
        if not args.no_split_run:
            run_ours(
                root / "nosplit", {**env, "OMP_NUM_THREADS": str(cores)}, *FAST, "--num-gpus", "2"
            )
            unsplit = throughput(root / "nosplit", 2)
            print(
                f"2 ranks, {cores} threads each (no split): {unsplit:6.2f} clips/s, "
                f"{unsplit / one:.2f}x of 1 rank"
            )


if __name__ == "__main__":
    main()
