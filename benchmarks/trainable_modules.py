"""Step time and peak memory: training only the memory modules vs the whole model.

    .venv/bin/python benchmarks/trainable_modules.py [--repeats 2] [--videos 24]

On a GPU the memory is peak CUDA memory per step; on CPU it is resident memory (RSS), which
includes the Python process and data, so the saving shows less there.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
from common import make_dataset, run_ours, step_times

from training_ext.runs.tensorboard_logs import read_tensorboard_series

FAST = ["-c", "demo_scratch", "scratch.num_epochs=1", "trainer.logging.log_scalar_frequency=1"]
VARIANTS = {
    "all modules": [],
    "memory modules": ["trainer.trainable_modules=[memory_attention,memory_encoder]"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--videos", type=int, default=24, help="train videos (2 steps each)")
    args = parser.parse_args()
    times: dict[str, list[pd.Series]] = {name: [] for name in VARIANTS}
    memory: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {"SAM2_DATASET": str(make_dataset(root, args.videos))}
        for repeat in range(args.repeats):
            names = list(VARIANTS) if repeat % 2 == 0 else list(reversed(VARIANTS))
            for name in names:
                run_dir = root / f"{name.split()[0]}{repeat}"
                run_ours(run_dir, env, *FAST, "validation=none", *VARIANTS[name])
                times[name].append(step_times(run_dir / "tensorboard"))
                mem = read_tensorboard_series(run_dir / "tensorboard", "Step_Stats/train/Mem (GB)")
                memory[name].append(mem.value.max())
    full, partial = (pd.concat(times[name]).median() for name in VARIANTS)
    full_mem, partial_mem = (max(memory[name]) for name in VARIANTS)
    print(f"tiny demo recipe, {args.repeats} runs each")
    print(f"all modules     {full * 1e3:7.1f} ms/step  peak {full_mem:.3f} GB")
    print(f"memory modules  {partial * 1e3:7.1f} ms/step  peak {partial_mem:.3f} GB")
    print(
        f"memory-only / full: step time {partial / full:.2f}x, peak memory "
        f"{partial_mem / full_mem:.2f}x"
    )


if __name__ == "__main__":
    main()
