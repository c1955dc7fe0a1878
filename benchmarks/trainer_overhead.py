"""Step time of our Trainer subclass vs the stock Trainer, same config, interleaved runs.

.venv/bin/python benchmarks/trainer_overhead.py [--repeats 4] [--videos 24]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
from common import check, make_dataset, run_ours, step_times

from training_ext.testing.stock_reference import (
    ONE_EPOCH_CONFIG,
    run_stock_training,
    write_reference_configs,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--videos", type=int, default=24, help="train videos (2 steps each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        configs = root / "configs"
        write_reference_configs(configs)
        env = {
            "SAM2_CONFIG_PATH": str(configs),
            "SAM2_DATASET": str(make_dataset(root, args.videos)),
        }
        times: dict[str, list[pd.Series]] = {"stock": [], "ours": []}
        for repeat in range(args.repeats):
            # Alternate which trainer goes first, so drift in machine speed cancels out.
            order = ("stock", "ours") if repeat % 2 == 0 else ("ours", "stock")
            for trainer in order:
                times[trainer].append(train(trainer, root / f"{trainer}{repeat}", env))
    stock, ours = (pd.concat(times[name], ignore_index=True) for name in ("stock", "ours"))
    # Both trainers see the same batches in the same order (same seed), so steps pair up.
    paired = (ours / stock).median()
    print(f"tiny demo recipe on CPU, {len(ours)} timed steps per trainer, {args.repeats} runs each")
    print(f"median step time  stock {stock.median() * 1e3:7.1f} ms")
    print(f"median step time  ours  {ours.median() * 1e3:7.1f} ms")
    print(f"ours / stock, ratio of medians:       {ours.median() / stock.median():.3f}x")
    print(f"ours / stock, median per-step ratio:  {paired:.3f}x (goal <= 1.03x)")


def train(trainer: str, workdir: Path, env: dict[str, str]) -> pd.Series:
    """One epoch with the stock or our trainer; per-step times after warm-up."""
    if trainer == "stock":
        check(run_stock_training(ONE_EPOCH_CONFIG, workdir, env))
        return step_times(workdir / "sam2_logs" / ONE_EPOCH_CONFIG / "tensorboard")
    run_ours(
        workdir,
        env,
        "-c",
        ONE_EPOCH_CONFIG,
        "trainer._target_=training_ext.trainer.trainer.Trainer",
        "trainer.accelerator=auto",
    )
    return step_times(workdir / "tensorboard")


if __name__ == "__main__":
    main()
