"""Shared fixtures: a small synthetic dataset and one trained demo run (helpers: helpers.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import synthetic_dataset, train_demo


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_dataset(tmp_path_factory.mktemp("data") / "synthetic")


@pytest.fixture(scope="session")
def demo_run(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One epoch of the demo recipe; tests copy it before changing it."""
    run_dir = tmp_path_factory.mktemp("runs") / "demo"
    train_demo(synthetic_root, run_dir)
    return run_dir


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 40 MB filesystem (tmpfs) for the checkpoints; needs root (CI and these machines)."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount_point)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs the trained demo run is slow wherever it lives."""
    for item in items:
        if "demo_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
