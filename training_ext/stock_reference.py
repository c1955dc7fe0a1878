"""Running the unmodified stock trainer next to ours, for parity tests and benchmarks.

The stock trainer cannot take a second step on a machine without CUDA: its ``MemMeter`` calls
``torch.cuda.reset_peak_memory_stats()`` after every step, which raises there. The reference run
replaces that one torch function with a no-op (it only resets CUDA statistics); every line of
sam2's ``training/`` runs unchanged, launched as ``python -m training.train -c <config>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_STOCK_TRAIN_ON_CPU = (
    "import runpy, torch; "
    "torch.cuda.reset_peak_memory_stats = lambda *args, **kwargs: None; "
    "runpy.run_module('training.train', run_name='__main__', alter_sys=True)"
)

# A config that the stock trainer accepts on CPU: `demo` with the CPU settings spelled out and
# without our VOS validation (a `training_ext.trainer.Trainer` option).
STOCK_CPU_DEMO_YAML = """\
defaults:
  - demo
  - override validation: none
  - _self_
trainer:
  _target_: training.trainer.Trainer
  accelerator: cpu
  optim:
    amp:
      enabled: false
  data:
    train:
      pin_memory: false
"""


# One epoch, every step's loss and time logged: what parity tests and benchmarks compare.
ONE_EPOCH_CONFIG = "stock_cpu_demo_one_epoch"
_ONE_EPOCH_YAML = """\
defaults:
  - stock_cpu_demo
  - _self_
scratch:
  num_epochs: 1
trainer:
  logging:
    log_scalar_frequency: 1
"""


def write_reference_configs(folder: Path) -> str:
    """Write the reference configs into ``folder`` (add it to ``SAM2_CONFIG_PATH``); returns the
    name of the one-epoch config, which both the stock trainer and ``sam2-train`` accept."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stock_cpu_demo.yaml").write_text(STOCK_CPU_DEMO_YAML)
    (folder / f"{ONE_EPOCH_CONFIG}.yaml").write_text(_ONE_EPOCH_YAML)
    return ONE_EPOCH_CONFIG


def run_stock_training(
    config: str, workdir: Path, env: dict[str, str], timeout: int = 1800
) -> subprocess.CompletedProcess:
    """``python -m training.train -c config`` in ``workdir``; logs go to ``workdir/sam2_logs``.

    ``config`` is composed by the stock code, so it must be found by name: put its folder in
    ``SAM2_CONFIG_PATH`` inside ``env``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-c", _STOCK_TRAIN_ON_CPU, "-c", config],
        cwd=workdir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
