"""Checkpoint files: written so they survive ``kill -9``, checked before anything loads them, and
the random-number state that goes in them."""

from __future__ import annotations

import errno
import os
import pickle
import random
import shutil
import zipfile
from collections.abc import Iterable, Mapping
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from training_ext.errors import UserError

DISK_FULL_EXIT_CODE = 4


class DiskFull(UserError):
    """A checkpoint did not fit on its disk (sam2-train exits with ``DISK_FULL_EXIT_CODE``)."""

    exit_code = DISK_FULL_EXIT_CODE


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary sibling, flushed to disk, then renamed over ``path``.

    ``os.replace`` is atomic: at every instant ``path`` is either the previous complete file or
    the new one (the stock trainer removes the old file before moving the new one in, which
    leaves a moment with no checkpoint at all). A save that fails leaves no temporary file behind;
    one that fails for lack of space is a ``DiskFull`` error saying so.
    """
    path = Path(path)
    temporary = path.with_name(f"{path.name}.tmp")
    try:
        with open(temporary, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
    except (OSError, RuntimeError) as error:  # torch's zip writer reports ENOSPC as RuntimeError
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        needed, free = tensor_bytes(obj), shutil.disk_usage(path.parent).free
        if needed < free and not (isinstance(error, OSError)):
            raise
        raise DiskFull(
            f"no space left in {path.parent} to save a {needed / 2**20:.0f} MB checkpoint "
            f"({free / 2**20:.0f} MB free); {path.name} from the last save is kept: free some "
            "space and run the same command to resume from it"
        ) from None
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def tensor_bytes(obj: Any) -> int:
    """The bytes of the tensors in a nested checkpoint dict (about its size on disk)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, Mapping):
        return sum(tensor_bytes(value) for value in obj.values())
    if isinstance(obj, list | tuple):
        return sum(tensor_bytes(value) for value in obj)
    return 0


def rng_state(model: torch.nn.Module | None = None) -> dict[str, Any]:
    """The python, numpy and torch (CPU and CUDA) random states of this process, and those of
    the numpy generators that ``model``'s modules own (``SAM2Train.rng`` picks the prompts).

    Only tensors and plain Python values, so ``torch.load(weights_only=True)`` (what the stock
    trainer uses) reads them.
    """
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (
            name,
            torch.from_numpy(keys.astype(np.int64)),
            position,
            has_gauss,
            cached_gaussian,
        ),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if model is not None:
        state["generators"] = {
            name: generator.bit_generator.state for name, generator in _generators(model)
        }
    return state


def _generators(model: torch.nn.Module) -> list[tuple[str, np.random.Generator]]:
    return [
        (f"{module_name}.{attribute}", value)
        for module_name, module in model.named_modules()
        for attribute, value in vars(module).items()
        if isinstance(value, np.random.Generator)
    ]


def restore_rng_state(state: dict[str, Any], model: torch.nn.Module | None = None) -> None:
    random.setstate(state["python"])
    name, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state(
        (name, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian)
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if model is not None:
        saved = state.get("generators", {})
        for name, generator in _generators(model):
            if name in saved:
                generator.bit_generator.state = saved[name]


def rng_states_of_all_ranks(model: torch.nn.Module) -> list[dict[str, Any]]:
    """Every rank's random state, in rank order (a collective: call it on every rank)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [rng_state(model)]
    states: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(states, rng_state(model))
    return states


def read_checkpoint(path: Path, what: str, hint: str) -> dict[str, Any]:
    """The checkpoint at ``path`` with its tensors memory-mapped (not read), or a one-line
    UserError naming ``what`` it is for and ``hint`` (how to fix) if it is no SAM2 checkpoint."""
    if not path.is_file():
        raise UserError(f"{what} {path} not found: {hint}")
    if not zipfile.is_zipfile(path):
        raise UserError(
            f"{what} {path} is not a torch.save file (truncated, or another format): {hint}"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError, OSError) as error:
        reason = (str(error).strip() or type(error).__name__).splitlines()[0].split(". ")[0]
        raise UserError(
            f"{what} {path} cannot be read as a checkpoint ({reason}): {hint}"
        ) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), Mapping):
        raise UserError(f"{what} {path} is not a SAM2 checkpoint with a 'model' state dict: {hint}")
    return checkpoint


def check_model_state(
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
    what: str,
    hint: str,
    ignore_missing: Iterable[str] = (),
    ignore_unexpected: Iterable[str] = (),
) -> None:
    """One-line UserError unless ``state`` has ``expected``'s keys and shapes (keys matching the
    unix patterns ``ignore_missing`` / ``ignore_unexpected`` may be absent / extra)."""
    ignore_missing, ignore_unexpected = list(ignore_missing), list(ignore_unexpected)
    missing = sorted(
        key
        for key in expected.keys() - state.keys()
        if not any(fnmatch(key, pattern) for pattern in ignore_missing)
    )
    unexpected = sorted(
        key
        for key in state.keys() - expected.keys()
        if not any(fnmatch(key, pattern) for pattern in ignore_unexpected)
    )
    reshaped = sorted(
        key for key in expected.keys() & state.keys() if expected[key].shape != state[key].shape
    )
    if missing or unexpected or reshaped:
        example = (missing or unexpected or reshaped)[0]
        raise UserError(
            f"{what} is for another architecture: {len(missing)} missing, {len(unexpected)} "
            f"unexpected, {len(reshaped)} differently shaped weights (e.g. {example}); {hint}"
        )
