"""Shared fixtures: a small synthetic dataset and one trained demo run (helpers: helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import TRAIN_VIDEOS, check_ok, run_command, train_demo


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data") / "synthetic"
    check_ok(
        run_command(
            "sam2-data",
            "synth",
            "--out",
            root,
            "--seed",
            "3",
            "--train-videos",
            TRAIN_VIDEOS,
            "--val-videos",
            2,
            "--frames",
            8,
        )
    )
    return root


@pytest.fixture(scope="session")
def demo_run(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One epoch of the demo recipe; tests copy it before changing it."""
    run_dir = tmp_path_factory.mktemp("runs") / "demo"
    train_demo(synthetic_root, run_dir)
    return run_dir
