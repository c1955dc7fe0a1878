"""Outputs that appear only when complete: written under a temporary sibling name, renamed into
place at the end (atomic on one filesystem), removed if anything fails on the way."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """An empty folder to fill, renamed to ``out`` when the block ends without an exception.

    Its mode follows the umask like ``mkdir`` (``mkdtemp`` alone would make it 0700, which
    another user, e.g. a container's, cannot read).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        staging.chmod(0o777 & ~_umask())
        yield staging
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def staged_file(out: Path, mode: str = "w") -> Iterator[IO]:
    """An open file that replaces ``out`` when the block ends without an exception."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        os.chmod(staging, 0o666 & ~_umask())
        with os.fdopen(handle, mode) as file:
            yield file
        os.replace(staging, out)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
