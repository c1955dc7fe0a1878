"""Our launcher + Trainer subclass reproduce the stock `python -m training.train` loss sequence.

The stock trainer cannot take a second step on a machine without CUDA: its MemMeter calls
`torch.cuda.reset_peak_memory_stats()` after every step, which raises there. The stock run below
therefore replaces that one torch function with a no-op (it only resets CUDA statistics); every
line of sam2's `training/` runs unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import STEPS_PER_EPOCH, check_ok, run_command
from training_ext.loss_curve import read_step_losses

PARITY_CONFIG = """\
# The demo recipe, as the stock trainer on CPU needs it spelled out.
defaults:
  - demo
  - _self_
scratch:
  num_epochs: 1
trainer:
  _target_: training.trainer.Trainer
  accelerator: cpu
  optim:
    amp:
      enabled: false
  data:
    train:
      pin_memory: false
  logging:
    log_scalar_frequency: 1
"""

STOCK_TRAIN_ON_CPU = (
    "import runpy, torch; "
    "torch.cuda.reset_peak_memory_stats = lambda *args, **kwargs: None; "
    "runpy.run_module('training.train', run_name='__main__', alter_sys=True)"
)


def test_losses_equal_stock_training(synthetic_root: Path, tmp_path: Path) -> None:
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    (config_dir / "parity.yaml").write_text(PARITY_CONFIG)
    env = {**os.environ, "SAM2_CONFIG_PATH": str(config_dir), "SAM2_DATASET": str(synthetic_root)}

    stock_dir, ours_dir = tmp_path / "stock", tmp_path / "ours"
    stock_dir.mkdir()
    stock = subprocess.run(
        [sys.executable, "-c", STOCK_TRAIN_ON_CPU, "-c", "parity"],
        cwd=stock_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    check_ok(stock)
    check_ok(
        run_command(
            "sam2-train",
            "-c",
            "parity",
            "trainer._target_=training_ext.trainer.Trainer",
            "trainer.accelerator=auto",
            f"launcher.experiment_log_dir={ours_dir}",
            env={"SAM2_CONFIG_PATH": str(config_dir), "SAM2_DATASET": str(synthetic_root)},
        )
    )

    stock_losses = read_step_losses(stock_dir / "sam2_logs" / "parity" / "tensorboard")
    our_losses = read_step_losses(ours_dir / "tensorboard")
    assert len(stock_losses) == STEPS_PER_EPOCH >= 20
    assert list(our_losses.step) == list(stock_losses.step)
    difference = (our_losses.loss.to_numpy() - stock_losses.loss.to_numpy()).__abs__().max()
    assert difference <= 1e-6, f"max loss difference {difference}"
