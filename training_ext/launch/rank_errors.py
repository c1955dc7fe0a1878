"""Errors inside a training rank: one line for the user, the traceback in the run's log.

A rank is a process the user never typed: spawned by the stock launcher, or started by torchrun /
srun. Whatever fails in it (a checkpoint that does not load, a frame that does not decode, a bug)
is caught at the rank's edge (``rank_error_boundary``): the traceback is appended to
``<run>/logs/log.txt``, one line goes to ``<run>/logs/rank<N>.error``, and the rank leaves with
``RANK_FAILED_EXIT_CODE`` (or the error's own ``exit_code``: 4 for a full disk) without printing a
traceback. The launching ``sam2-train`` turns that into
one line on stderr (``TrainingFailed``), naming the cause and where the traceback is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import traceback
from collections.abc import Iterator
from pathlib import Path

from training_ext.errors import UserError

RANK_FAILED_EXIT_CODE = 1
_SUMMARY_LENGTH = 400


class RankFailed(SystemExit):
    """Leave a failed rank quietly (a SystemExit: no traceback from the process runner)."""

    def __init__(self, summary: str, code: int = RANK_FAILED_EXIT_CODE) -> None:
        super().__init__(code)
        self.summary = summary


class TrainingFailed(UserError):
    """A rank failed: sam2-train's one line, with the rank's exit code (1: a crash) not 2."""

    def __init__(self, message: str, exit_code: int = RANK_FAILED_EXIT_CODE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def summary_line(error: BaseException) -> str:
    """``error`` in one line: a UserError's own message, else ``Type: first line``."""
    text = str(error).strip()
    if "Original Traceback" in text:  # re-raised from a DataLoader worker: the original's line
        original = text.splitlines()[-1]
        qualified_type, _, message = original.partition(": ")
        if qualified_type.endswith(UserError.__name__):
            return message
        return f"{qualified_type.rpartition('.')[2]}: {message}"
    if isinstance(error, UserError):
        return str(error)
    text = (text.splitlines() or [""])[0]
    line = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return line if len(line) <= _SUMMARY_LENGTH else line[: _SUMMARY_LENGTH - 3] + "..."


class ShortWorkerErrors(logging.Filter):
    """The stock mixed-dataset iterator logs a DataLoader worker's exception, whose message is
    the worker's whole traceback, to the console; keep its last line (the boundary appends the
    traceback to the log anyway)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Original Traceback" in message:
            record.msg, record.args = message.strip().splitlines()[-1], ()
        return True


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def error_file(log_dir: Path, rank: int) -> Path:
    return Path(log_dir) / f"rank{rank}.error"


@contextlib.contextmanager
def rank_error_boundary(log_dir: str | Path) -> Iterator[None]:
    """Turn any exception in the block into ``RankFailed``, keeping its traceback in the log."""
    worker_errors = ShortWorkerErrors()
    logging.getLogger().addFilter(worker_errors)
    try:
        yield
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as error:
        log_dir, rank, summary = Path(log_dir), _rank(), summary_line(error)
        details = "".join(traceback.format_exception(error))
        with contextlib.suppress(OSError):  # an unwritable log folder must not hide the error
            log_dir.mkdir(parents=True, exist_ok=True)
            with open(log_dir / "log.txt", "a") as log:
                log.write(f"\nrank {rank} failed: {summary}\n{details}")
            error_file(log_dir, rank).write_text(summary + "\n")
        raise RankFailed(summary, getattr(error, "exit_code", RANK_FAILED_EXIT_CODE)) from None
    finally:
        logging.getLogger().removeFilter(worker_errors)


def clear_rank_errors(log_dir: Path) -> None:
    """Forget the failures of an earlier attempt in this run folder."""
    for path in Path(log_dir).glob("rank*.error"):
        path.unlink(missing_ok=True)


def training_failed(
    log_dir: Path, summary: str | None = None, exit_code: int = RANK_FAILED_EXIT_CODE
) -> TrainingFailed:
    """The one-line error for a failed run: the first failed rank's cause and the log to read."""
    log_dir = Path(log_dir)
    failures = sorted(log_dir.glob("rank*.error"), key=lambda p: int(p.stem[4:] or 0))
    if summary is None and failures:
        rank = failures[0].stem[4:]
        summary = f"rank {rank}: {failures[0].read_text().strip()}"
    if summary is None:
        summary = "a training process ended without saying why (killed? out of memory?)"
    return TrainingFailed(f"{summary} (traceback in {log_dir / 'log.txt'})", exit_code)
