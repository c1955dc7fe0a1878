"""Our launcher + Trainer subclass reproduce the stock `python -m training.train` loss sequence
on the same config and seed (see `training_ext.testing.stock_reference` for how stock runs on
CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import STEPS_PER_EPOCH, check_ok, run_command

from training_ext.runs.tensorboard_logs import read_step_losses
from training_ext.testing.stock_reference import run_stock_training, write_reference_configs

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset


def test_losses_equal_stock_training(synthetic_root: Path, tmp_path: Path) -> None:
    config_dir = tmp_path / "configs"
    config = write_reference_configs(config_dir)
    env = {"SAM2_CONFIG_PATH": str(config_dir), "SAM2_DATASET": str(synthetic_root)}

    stock_dir, ours_dir = tmp_path / "stock", tmp_path / "ours"
    check_ok(run_stock_training(config, stock_dir, env))
    check_ok(
        run_command(
            "sam2-train",
            "-c",
            config,
            "trainer._target_=training_ext.trainer.trainer.Trainer",
            "trainer.accelerator=auto",
            f"launcher.experiment_log_dir={ours_dir}",
            env=env,
        )
    )

    stock_losses = read_step_losses(stock_dir / "sam2_logs" / config / "tensorboard")
    our_losses = read_step_losses(ours_dir / "tensorboard")
    assert len(stock_losses) == STEPS_PER_EPOCH >= 20
    assert list(our_losses.step) == list(stock_losses.step)
    difference = (our_losses.loss - stock_losses.loss).abs().max()
    assert difference <= 1e-6, f"max loss difference {difference}"
