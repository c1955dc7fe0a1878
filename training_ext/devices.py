"""Choosing the device, and CPU threads per rank, for a training process."""

from __future__ import annotations

import os

import torch

from training_ext.errors import UserError

ACCELERATORS = ("auto", "cuda", "cpu")


def resolve_accelerator(requested: str) -> str:
    """Map ``auto`` / ``cuda`` / ``cpu`` to the device type the stock trainer accepts."""
    if requested not in ACCELERATORS:
        raise UserError(
            f"trainer.accelerator={requested!r} is not one of {', '.join(ACCELERATORS)}"
        )
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "trainer.accelerator=cuda but no CUDA GPU is visible: "
            "run on a GPU machine or pass trainer.accelerator=auto (uses the CPU here)"
        )
    return requested


def local_world_size() -> int:
    """Ranks sharing this machine, from torchrun, SLURM or the stock local launcher."""
    for variable in ("LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE", "WORLD_SIZE"):
        value = os.environ.get(variable, "")
        if value.isdigit():
            return max(1, int(value))
    return 1


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def cpu_threads_per_rank() -> int:
    """``OMP_NUM_THREADS`` when the user set it, else this machine's cores split across ranks.

    Without the split every rank uses every core and N ranks run ~10x slower than one.
    """
    requested = os.environ.get("OMP_NUM_THREADS", "")
    if requested.isdigit() and int(requested) > 0:
        return int(requested)
    return max(1, available_cores() // local_world_size())
