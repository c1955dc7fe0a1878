"""Running the unmodified stock trainer next to ours, for parity tests and benchmarks.

The stock trainer cannot take a second step on a machine without CUDA: its ``MemMeter`` calls
``torch.cuda.reset_peak_memory_stats()`` after every step, which raises there. The reference run
replaces that one torch function with a no-op (it only resets CUDA statistics); every line of
sam2's ``training/`` runs unchanged, launched as ``python -m training.train -c <config>``.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf, open_dict
from training.trainer import Trainer as StockTrainer

from training_ext.config import compose_config, initialize_hydra
from training_ext.trainer.trainer import Trainer

_OUR_TRAINER_OPTIONS = set(inspect.signature(Trainer).parameters) - set(
    inspect.signature(StockTrainer).parameters
)

_STOCK_TRAIN_ON_CPU = (
    "import runpy, torch; "
    "torch.cuda.reset_peak_memory_stats = lambda *args, **kwargs: None; "
    "runpy.run_module('training.train', run_name='__main__', alter_sys=True)"
)

# One epoch, every step's loss and time logged: what parity tests and benchmarks compare.
ONE_EPOCH_CONFIG = "stock_cpu_demo_one_epoch"
_ONE_EPOCH_OVERRIDES = ["scratch.num_epochs=1", "trainer.logging.log_scalar_frequency=1"]


def write_reference_configs(folder: Path, overrides: tuple[str, ...] = ()) -> str:
    """Write the ``demo`` recipe as the stock trainer accepts it on CPU into ``folder``.

    The config is composed by ``sam2-train``'s machinery, then: the stock ``Trainer`` and loss as
    targets, ``accelerator: cpu``, AMP and pinned memory off, and without the options only our
    classes know. Add ``folder`` to ``SAM2_CONFIG_PATH``; the returned config name works for both
    the stock launcher and ``sam2-train`` (with
    ``trainer._target_=training_ext.trainer.trainer.Trainer``).
    """
    initialize_hydra()
    cfg = compose_config("demo_scratch", ["validation=none", *_ONE_EPOCH_OVERRIDES, *overrides])
    with open_dict(cfg):
        for option in _OUR_TRAINER_OPTIONS:
            cfg.trainer.pop(option, None)
        cfg.trainer._target_ = "training.trainer.Trainer"
        cfg.trainer.loss.all._target_ = "training.loss_fns.MultiStepMultiMasksAndIous"
        cfg.trainer.loss.all.pop("temporal_weight")
        cfg.trainer.accelerator = "cpu"
        cfg.trainer.optim.amp.enabled = False
        cfg.trainer.data.train.pin_memory = False
    folder.mkdir(parents=True, exist_ok=True)
    text = "# @package _global_\n" + OmegaConf.to_yaml(cfg)
    (folder / f"{ONE_EPOCH_CONFIG}.yaml").write_text(text)
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
        stock_training_command(config),
        cwd=workdir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def stock_training_command(config: str) -> list[str]:
    """The command line of ``run_stock_training`` (run it in the work directory)."""
    return [sys.executable, "-c", _STOCK_TRAIN_ON_CPU, "-c", config]
