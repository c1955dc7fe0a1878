"""``training_ext.trainer.Trainer``: the stock SAM2 trainer, made to run on any machine.

Named as ``trainer._target_`` in our configs. It changes only what a machine without CUDA
needs; the training loop, losses, optimiser, data order and checkpoints are the stock ones, so
the loss sequence equals stock ``python -m training.train`` on the same config and seed.

- ``accelerator: auto`` picks cuda when a GPU is visible, else cpu.
- On cpu: gloo instead of nccl, AMP and pinned memory off, torch threads split across the
  ranks of a machine, CPU-side gather for meters, and a memory meter that reports resident
  memory (the stock one calls CUDA after every step and crashes).
- A tqdm progress bar over each training epoch on rank 0, when stderr is a terminal.
- ``vos_validation``: VOS validation (predict + J&F) in place of the stock val phase, logged to
  TensorBoard and ``logs/validation/``, keeping ``checkpoints/best.pt`` (see vos_validation.py);
  ``early_stopping_patience``: stop after that many validations without a better J&F.
- ``trainable_modules``: train only these sub-modules; the rest is frozen and left out of the
  optimizer (see trainable_modules.py).
- ``accumulate_grad_batches``: one optimizer step per k batches (see grad_accumulation.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
import training.trainer as stock
from tqdm import tqdm
from training.utils.distributed import barrier

from training_ext.accelerator import cpu_threads_per_rank, resolve_accelerator
from training_ext.grad_accumulation import (
    AccumulatingOptimizer,
    AccumulatingScaler,
    AccumulationWindow,
    AtWindowEnd,
)
from training_ext.memory_meter import DeviceMemMeter
from training_ext.trainable_modules import drop_frozen_parameters, freeze_all_but
from training_ext.vos_validation import BEST_METRIC, VOSValidation

# Validations since the last better J&F; kept with the best values, so it is checkpointed.
STALE_KEY = "Validation/validations_without_improvement"


class Trainer(stock.Trainer):
    def __init__(
        self,
        *,
        data: Any,
        accelerator: str = "auto",
        optim: Any = None,
        distributed: Any = None,
        vos_validation: Any = None,
        early_stopping_patience: int | None = None,
        trainable_modules: list[str] | None = None,
        accumulate_grad_batches: int = 1,
        **kwargs: Any,
    ) -> None:
        self.trainable_modules = list(trainable_modules) if trainable_modules else None
        self.window = AccumulationWindow(accumulate_grad_batches)
        self.early_stopping_patience = early_stopping_patience
        device_type = resolve_accelerator(accelerator)
        if device_type == "cpu":
            _prepare_cpu_process(data, optim, distributed)
        super().__init__(
            data=data,
            accelerator=device_type,
            optim=optim,
            distributed=distributed,
            **kwargs,
        )
        logging.info(
            "Device %s; %d torch threads in this rank", device_type, torch.get_num_threads()
        )
        self.vos_validation = VOSValidation(**vos_validation) if vos_validation else None
        self.validated_epoch: int | None = None
        if accumulate_grad_batches > 1:
            self.optim = AccumulatingOptimizer(self.optim, self.window)
            self.scaler = AccumulatingScaler(self.scaler, self.window)
            for name in ("gradient_clipper", "gradient_logger"):
                if getattr(self, name) is not None:
                    setattr(self, name, AtWindowEnd(getattr(self, name), self.window))

    def _construct_optimizers(self) -> None:
        if self.trainable_modules is not None:
            freeze_all_but(self.model, self.trainable_modules)
        super()._construct_optimizers()
        if self.trainable_modules is not None:
            drop_frozen_parameters(self.optim.optimizer)

    def _run_step(self, batch: Any, *args: Any, **kwargs: Any) -> None:
        self.window.advance()
        skip_sync = (
            self.window.every > 1 and not self.window.ends and hasattr(self.model, "no_sync")
        )
        with self.model.no_sync() if skip_sync else contextlib.nullcontext():
            super()._run_step(batch, *args, **kwargs)

    def run(self) -> None:
        super().run()
        if self.logger.tb_logger is not None:
            self.logger.tb_logger.flush()  # the stock writer flushes only at exit

    def run_val(self) -> None:
        if self.vos_validation is None:
            super().run_val()
            return
        if self.validated_epoch == int(self.epoch):
            return  # early stopping already validated this epoch
        self.validated_epoch = int(self.epoch)
        if self.distributed_rank == 0:
            self._run_vos_validation()
        stop = torch.tensor(float(self._should_stop_early()), device=self.device)
        torch.distributed.broadcast(stop, src=0)
        if stop.item():
            logging.info("Early stopping: stopping training after epoch %d", int(self.epoch))
            self.max_epochs = int(self.epoch) + 1
        barrier()

    def _should_stop_early(self) -> bool:
        patience = self.early_stopping_patience
        return patience is not None and self.best_meter_values.get(STALE_KEY, 0) >= patience

    def _run_vos_validation(self) -> None:
        epoch = int(self.epoch)
        summary = self.vos_validation.evaluate(
            stock.unwrap_ddp_if_wrapped(self.model),
            self.model_conf,
            epoch,
            Path(self.logging_conf.log_dir) / "validation",
        )
        for name, value in summary.items():
            self.logger.log(f"Validation/{name}", value, epoch)
        logging.info("VOS validation after epoch %d: %s", epoch, summary)
        key = f"Validation/{BEST_METRIC}"
        if summary[BEST_METRIC] > self.best_meter_values.get(key, float("-inf")):
            self.best_meter_values[key] = summary[BEST_METRIC]
            checkpoints = Path(self.checkpoint_conf.save_dir)
            shutil.copyfile(checkpoints / "checkpoint.pt", checkpoints / "best.pt.tmp")
            os.replace(checkpoints / "best.pt.tmp", checkpoints / "best.pt")
            logging.info(
                "New best %s %.4f: saved %s", key, summary[BEST_METRIC], checkpoints / "best.pt"
            )
            self.best_meter_values[STALE_KEY] = 0
        else:
            self.best_meter_values[STALE_KEY] = self.best_meter_values.get(STALE_KEY, 0) + 1

    def train_epoch(self, train_loader: Iterable) -> dict:
        self.window.start_epoch(len(train_loader))
        with _stock_mem_meter_replaced_by(DeviceMemMeter):
            return super().train_epoch(self._with_progress_bar(train_loader))

    def _with_progress_bar(self, loader: Iterable) -> Iterable:
        if self.distributed_rank != 0:
            return loader
        return _ProgressLoader(loader, desc=f"epoch {int(self.epoch) + 1}/{self.max_epochs}")


class _ProgressLoader:
    """A loader that keeps ``len()`` (the stock loop needs it) and shows a tqdm bar."""

    def __init__(self, loader: Iterable, desc: str) -> None:
        self.loader = loader
        self.desc = desc

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        # disable=None: no bar when stderr is not a terminal (CI logs, SLURM output files).
        return iter(tqdm(self.loader, total=len(self), desc=self.desc, unit="step", disable=None))


def _prepare_cpu_process(data: Any, optim: Any, distributed: Any) -> None:
    """Adjust this process and the (already resolved) config sections for CPU training."""
    torch.set_num_threads(cpu_threads_per_rank())
    os.environ.setdefault("MDETR_CPU_REDUCE", "1")  # meters gather over gloo, not cuda
    for phase_conf in data.values():
        if phase_conf is not None and "pin_memory" in phase_conf:
            phase_conf.pin_memory = False
    if optim is not None and optim.get("amp") is not None:
        optim.amp.enabled = False  # autocast is a no-op on CPU for float16; bf16 was 2.6x slower
    if distributed is not None and distributed.get("backend") == "nccl":
        logging.warning("distributed.backend=nccl needs CUDA; using gloo on this CPU machine")
        distributed.backend = "gloo"


@contextlib.contextmanager
def _stock_mem_meter_replaced_by(meter_class: type) -> Iterator[None]:
    """Let the stock ``train_epoch`` build ``meter_class`` where it builds its ``MemMeter``."""
    original = stock.MemMeter
    stock.MemMeter = meter_class
    try:
        yield
    finally:
        stock.MemMeter = original
