"""The memory estimate against real training steps.

    .venv/bin/python benchmarks/memory_estimate_accuracy.py

CPU (always): for tiny-model configs, the estimate with CPU kernels (fake tensors, fp32, CPU
attention) against the same step on real tensors: the growth of resident memory (peak RSS,
Linux ``/proc/self/status`` VmHWM after resetting it) over the memory held before the step,
with glibc's mmap threshold pinned so freed tensors leave RSS (the script re-runs itself so).
The middle column is the tracker counting the real step's storages: estimate vs it isolates
what fake tensors change; it vs RSS what the tracker does not see.
GPU (when one is visible): the estimate with CUDA kernels against
``torch.cuda.max_memory_allocated`` of the real step, for SAM2.1 t and b+.
Prints one row per case with the ratio estimate / measured.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import torch

from training_ext.config import compose_config, initialize_hydra
from training_ext.memory_estimate.estimate import (
    MemoryEstimate,
    estimate_training_memory,
    measure_training_memory,
)
from training_ext.memory_estimate.tracker import GRADIENTS, OPTIMIZER, PARAMETERS

MiB = 2**20
PINNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
CPU_CASES = [
    ("demo", []),
    ("demo", ["trainer.model.image_size=256"]),
    ("demo", ["trainer.model.image_size=512", "scratch.num_frames=4"]),
    ("demo", ["trainer.model.image_size=512", "scratch.num_frames=8"]),
    ("sam2.1_hiera_t_finetune", ["trainer.model.image_size=256", "scratch.num_frames=4"]),
]
GPU_CASES = [
    ("sam2.1_hiera_t_finetune", []),
    ("sam2.1_hiera_b+_finetune", []),
]


def growth(estimate: MemoryEstimate) -> int:
    """Peak bytes above what lives through the step (parameters, optimizer state)."""
    peak = estimate.worst.peak
    held = sum(peak.by_category.get(key, 0) for key in (PARAMETERS, OPTIMIZER, GRADIENTS))
    return peak.total - held


class ResidentPeak:
    """Peak RSS growth over each step it surrounds."""

    def __init__(self) -> None:
        self.growths: list[int] = []

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        before = _status_kib("VmRSS")
        yield
        self.growths.append((_status_kib("VmHWM") - before) * 1024)


class CudaPeak:
    """Peak allocated CUDA memory over each step it surrounds."""

    def __init__(self) -> None:
        self.peaks: list[int] = []

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        yield
        torch.cuda.synchronize()
        self.peaks.append(torch.cuda.max_memory_allocated())


def _status_kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1))


def main() -> None:
    if any(os.environ.get(key) != value for key, value in PINNED_MALLOC.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **PINNED_MALLOC})
    initialize_hydra()
    print(
        "| device | config | overrides | estimate (MiB) | tracker on the real step | "
        "measured (MiB) | estimate / measured |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, overrides in CPU_CASES:
        cfg = compose_config(name, overrides)
        probe = ResidentPeak()
        tracked = growth(measure_training_memory(cfg, "cpu", probe))
        estimate = growth(estimate_training_memory(cfg, kernels="cpu"))
        _row("cpu (RSS growth)", name, overrides, estimate, tracked, max(probe.growths))
    if not torch.cuda.is_available():
        print("no GPU visible: the CUDA comparison did not run")
        return
    for name, overrides in GPU_CASES:
        cfg = compose_config(name, overrides)
        probe = CudaPeak()
        tracked = measure_training_memory(cfg, "cuda", probe).worst.peak.total
        estimate = estimate_training_memory(cfg).worst.peak.total
        _row("cuda (max allocated)", name, overrides, estimate, tracked, max(probe.peaks))


def _row(
    device: str, name: str, overrides: list[str], estimate: int, tracked: int, measured: int
) -> None:
    print(
        f"| {device} | {name} | {' '.join(overrides) or '-'} | {estimate / MiB:.0f} | "
        f"{tracked / MiB:.0f} | {measured / MiB:.0f} | {estimate / measured:.2f} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
