"""Stopping a training run cleanly when SLURM (or anyone) asks it to.

SLURM sends SIGUSR1 before a job's time limit (``#SBATCH --signal=USR1@120``), SIGTERM when it
preempts or cancels a job; submitit uses SIGUSR2. A signal only records the request: the
Trainer acts on it at the next step boundary, where every rank agrees to stop at the same step,
saves a checkpoint and leaves with ``PREEMPTED_EXIT_CODE``. Re-running the same command (or the
requeued job) resumes from that step.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist

STOP_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM)
# sam2-train's exit code after a checkpointed stop; slurm/train.sbatch requeues on it.
PREEMPTED_EXIT_CODE = 3


class PreemptedExit(SystemExit):
    """Leave the process after the stop checkpoint; a SystemExit, so submitit records no error."""

    def __init__(self) -> None:
        super().__init__(PREEMPTED_EXIT_CODE)


class StopRequest:
    """Records the first stop signal; keeps the handlers that were there before (submitit's)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # Python delivers signals to the main thread only
        for signum in STOP_SIGNALS:
            self.previous[signum] = signal.signal(signum, self._record)

    def uninstall(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous.clear()

    def _record(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
            logging.warning(
                "Received %s: stopping after the current step", signal.Signals(signum).name
            )

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "a stop request"

    def agreed(self, device: torch.device) -> bool:
        """Whether any rank was signalled; every rank gets the same answer at the same step."""
        requested = self.signum is not None
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return requested
        flag = torch.tensor([float(requested)], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item() and self.signum is None:
            self.signum = signal.SIGTERM  # another rank was signalled
        return bool(flag.item())

    def hand_to_previous_handler(self) -> None:
        """Let the handler we replaced (submitit's checkpoint-and-requeue) act now."""
        previous: Callable | None = self.previous.get(self.signum)
        if callable(previous):
            previous(self.signum, None)
