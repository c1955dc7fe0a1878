"""Device choice, thread split and memory meter of the Trainer subclass, in isolation."""

from __future__ import annotations

import pytest
import torch

from training_ext.devices import (
    available_cores,
    cpu_threads_per_rank,
    local_world_size,
    resolve_accelerator,
)
from training_ext.errors import UserError
from training_ext.trainer.memory_meter import DeviceMemMeter


def test_auto_picks_what_is_present() -> None:
    assert resolve_accelerator("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_accelerator("cpu") == "cpu"


def test_unknown_accelerator_is_a_user_error() -> None:
    with pytest.raises(UserError, match="trainer.accelerator='tpu' is not one of auto, cuda, cpu"):
        resolve_accelerator("tpu")


@pytest.mark.parametrize(
    ("environment", "expected_ranks"),
    [
        ({}, 1),
        ({"WORLD_SIZE": "4"}, 4),
        ({"WORLD_SIZE": "8", "SLURM_NTASKS_PER_NODE": "2"}, 2),
        ({"WORLD_SIZE": "8", "SLURM_NTASKS_PER_NODE": "4", "LOCAL_WORLD_SIZE": "2"}, 2),
    ],
)
def test_threads_split_over_the_ranks_of_one_machine(
    monkeypatch: pytest.MonkeyPatch, environment: dict, expected_ranks: int
) -> None:
    for variable in ("LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE", "WORLD_SIZE", "OMP_NUM_THREADS"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    assert local_world_size() == expected_ranks
    assert cpu_threads_per_rank() == max(1, available_cores() // expected_ranks)


def test_user_thread_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpu_threads_per_rank() == 3


def test_memory_meter_reports_resident_memory_on_cpu() -> None:
    meter = DeviceMemMeter("Mem (GB)", torch.device("cpu"), ":.2f")
    for _ in range(3):
        meter.update(reset_peak_usage=True)  # the stock meter raises here without CUDA
    assert meter.count == 3
    assert 0.01 < meter.val < 64 and meter.avg > 0
    assert meter.peak >= meter.avg or meter.peak == pytest.approx(meter.avg)  # avg is sum / count
    assert str(meter).startswith("Mem (GB): ")
