"""``training_ext.trainer.trainer.Trainer``: the stock SAM2 trainer, made to run on any machine.

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
- Preemption: on SIGUSR1/SIGUSR2/SIGTERM, every rank stops at the next step boundary, a
  mid-epoch checkpoint is saved and the process exits with code 3 (see preemption.py); the same
  command resumes at that step, skipping the batches already trained on (resumable_data.py).
  ``save_every_steps``: also save such a checkpoint every n steps. Checkpoint files are replaced
  atomically (checkpoint_io.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import training.trainer as stock
from tqdm import tqdm
from training.utils.distributed import barrier

from training_ext.devices import cpu_threads_per_rank, resolve_accelerator
from training_ext.evaluation.in_training import BEST_METRIC, VOSValidation
from training_ext.host_paths import on_host
from training_ext.launch.rank_errors import rank_error_boundary
from training_ext.resume.checkpoint_io import atomic_torch_save, rng_states_of_all_ranks
from training_ext.resume.epoch_resume import EpochLoader, ResumableTrainData
from training_ext.resume.preemption import PreemptedExit, StopRequest
from training_ext.trainer.grad_accumulation import (
    AccumulatingOptimizer,
    AccumulatingScaler,
    AccumulationWindow,
    AtWindowEnd,
)
from training_ext.trainer.memory_meter import DeviceMemMeter
from training_ext.trainer.trainable_modules import drop_frozen_parameters, freeze_all_but

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
        save_every_steps: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.log_dir = kwargs["logging"]["log_dir"]
        with rank_error_boundary(self.log_dir):
            self.trainable_modules = list(trainable_modules) if trainable_modules else None
            self.save_every_steps = save_every_steps
            self.stop_request = StopRequest()
            # What the next checkpoint records about the epoch in progress (mid-epoch saves only).
            self.epoch_progress: dict[str, Any] | None = None
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
            self.stop_request.install()

    def _setup_dataloaders(self) -> None:
        super()._setup_dataloaders()
        if self.train_dataset is not None:
            self.train_dataset = ResumableTrainData(self.train_dataset, self.model)

    def _save_checkpoint(self, checkpoint: dict, checkpoint_path: str) -> None:
        if self.epoch_progress is not None:
            checkpoint["train_dataset"] = self.epoch_progress  # read back by the stock loader
        atomic_torch_save(checkpoint, checkpoint_path)

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
        try:
            with rank_error_boundary(self.log_dir):
                super().run()
        finally:
            self.stop_request.uninstall()  # the process's own handlers again
        if self.logger.tb_logger is not None:
            self.logger.tb_logger.flush()  # the stock writer flushes only at exit

    def run_val(self) -> None:
        if self.stop_request.agreed(self.device):
            self._leave_for_requeue()  # the epoch's checkpoint is saved: validate after resuming
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

    def train_epoch(self, train_loader: EpochLoader) -> dict:
        first = train_loader.first_batch
        self.window.start_epoch(len(train_loader), done=first)
        loader = _TrainLoader(
            train_loader,
            before_batch=self._at_step_boundary,
            progress=self.distributed_rank == 0,
            desc=f"epoch {int(self.epoch) + 1}/{self.max_epochs}",
        )
        optim = self.optim
        if first:
            self.optim = _ResumedEpochSchedule(optim, self, first, len(train_loader))
        try:
            with _stock_names_replaced(
                MemMeter=DeviceMemMeter, ProgressMeter=_progress_meter_counting_from(first)
            ):
                return super().train_epoch(loader)
        finally:
            self.optim = optim

    def _at_step_boundary(self, batch_index: int, first_batch: int) -> None:
        """Before batch ``batch_index`` of the epoch: save and/or stop if asked to."""
        if batch_index % self.window.every:
            return  # inside an accumulation window: its gradients are not in a checkpoint
        stop = self.stop_request.agreed(self.device)
        every = self.save_every_steps
        due = bool(every) and batch_index > first_batch and self.steps["train"] % every == 0
        if stop or due:
            self._save_mid_epoch_checkpoint(batch_index)
        if stop:
            self._leave_for_requeue()

    def _save_mid_epoch_checkpoint(self, batches_done: int) -> None:
        self.epoch_progress = {
            "epoch": int(self.epoch),
            "batches_done": batches_done,
            "rng_states": rng_states_of_all_ranks(stock.unwrap_ddp_if_wrapped(self.model)),
        }
        try:
            self.save_checkpoint(int(self.epoch), checkpoint_names=["checkpoint"])
        finally:
            self.epoch_progress = None
        logging.info(
            "Saved checkpoint at epoch %d after batch %d (step %d)",
            int(self.epoch),
            batches_done,
            self.steps["train"],
        )

    def _leave_for_requeue(self) -> None:
        barrier()  # no rank leaves (and gets the job step killed) before rank 0 has saved
        if self.logger.tb_logger is not None:
            self.logger.tb_logger.flush()
        logging.warning(
            "Stopped by %s at epoch %d, step %d: checkpoint in %s; the same command resumes here",
            self.stop_request.name,
            int(self.epoch),
            self.steps["train"],
            on_host(str(self.checkpoint_conf.save_dir)),
        )
        self.stop_request.hand_to_previous_handler()  # submitit: checkpoint and requeue
        raise PreemptedExit()


class _TrainLoader:
    """An epoch's batches for the stock loop: full-epoch ``len()``, a hook before each batch,
    and a tqdm bar on rank 0 (when stderr is a terminal: none in CI logs or SLURM files)."""

    def __init__(
        self,
        loader: EpochLoader,
        before_batch: Callable[[int, int], None],
        progress: bool,
        desc: str,
    ) -> None:
        self.loader = loader
        self.before_batch = before_batch
        self.progress = progress
        self.desc = desc

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        first = self.loader.first_batch
        bar = tqdm(
            total=len(self),
            initial=first,
            desc=self.desc,
            unit="step",
            disable=None if self.progress else True,
        )
        iterator = iter(self.loader)
        with bar:
            for index in range(first, len(self)):
                self.before_batch(index, first)
                batch = next(iterator, None)
                if batch is None:
                    return
                yield batch
                bar.update()


class _ResumedEpochSchedule:
    """The stock optimizer wrapper, for an epoch resumed after ``skipped`` batches.

    The stock loop counts the epoch's batches from 0 after a resume; the learning-rate and
    weight-decay schedule position is computed as the stock loop does, from the true index.
    """

    def __init__(self, optim: Any, trainer: Trainer, skipped: int, batches: int) -> None:
        self._optim = optim
        self._trainer = trainer
        self._index = skipped
        self._batches = batches

    def __getattr__(self, name: str) -> Any:
        return getattr(self._optim, name)

    def step_schedulers(self, where: float, step: int) -> None:
        trainer = self._trainer
        exact_epoch = trainer.epoch + float(self._index) / self._batches
        trainer.where = float(exact_epoch) / trainer.max_epochs
        self._index += 1
        self._optim.step_schedulers(trainer.where, step=int(exact_epoch * self._batches))


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
def _stock_names_replaced(**replacements: type) -> Iterator[None]:
    """Let the stock ``train_epoch`` build our classes where it builds its own (e.g. MemMeter)."""
    originals = {name: getattr(stock, name) for name in replacements}
    for name, replacement in replacements.items():
        setattr(stock, name, replacement)
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(stock, name, original)


def _progress_meter_counting_from(first_batch: int) -> type:
    """The stock progress line, numbering batches from where a resumed epoch starts."""
    if not first_batch:
        return stock.ProgressMeter

    class ResumedProgressMeter(stock.ProgressMeter):
        def display(self, batch: int, enable_print: bool = False) -> None:
            super().display(batch + first_batch, enable_print)

    return ResumedProgressMeter
