"""One training at a time per run folder.

Two trainings writing the same ``checkpoints/checkpoint.pt``, logs and event files would corrupt
each other's resume state. The process that launches a run holds an exclusive ``flock`` on
``<run>/.lock`` for as long as it lives; the OS releases it when that process ends however it
ends (a crash, ``kill -9``, a node that leaves a SLURM job), so a requeued job or a rerun after a
stop takes it again without any cleanup. The file names the holder (host, pid) for the error.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from training_ext.errors import UserError

LOCK_NAME = ".lock"
_held: dict[Path, IO[str]] = {}  # kept open (and so locked) until this process exits


def lock_run_folder(run_dir: Path) -> None:
    """Hold the run folder's lock for the rest of this process, or explain who holds it."""
    run_dir = Path(run_dir).resolve()
    if run_dir in _held:
        return
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(run_dir / LOCK_NAME, "a+")  # noqa: SIM115 - held open on purpose
    except OSError as error:
        raise UserError(
            f"launcher.experiment_log_dir={run_dir} cannot be written ({error.strerror}): "
            "pick a folder you can write to"
        ) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UserError(
            f"run folder {run_dir} is in use by a training still running ({holder}): wait for "
            "it to end, stop it, or give another launcher.experiment_log_dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"host {socket.gethostname()}, pid {os.getpid()}\n")
    handle.flush()
    _held[run_dir] = handle
