"""Start a training epoch part-way through, as if the run had never stopped.

The stock ``TorchTrainMixedDataset`` builds one loader per epoch whose batch order is fixed by
the epoch number (``DistributedSampler`` seeded per epoch, dataset choice seeded per epoch).
``ResumableTrainData`` wraps it and, for the epoch a mid-epoch checkpoint was taken in, returns
a loader that skips the batches already trained on without loading them, then restores the
random state saved with the checkpoint (including the model's prompt-sampling generator). With
``num_workers: 0`` the resumed run sees exactly the batches, augmentations and prompts of an
uninterrupted run; with workers the batch order is the same and the augmentation draws differ.

The checkpoint entry rides on the stock hook: the stock loader passes ``checkpoint
["train_dataset"]`` to ``train_dataset.load_checkpoint_state``.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from training.dataset.sam2_datasets import MixedDataLoader, TorchTrainMixedDataset

from training_ext.resume.checkpoint_io import restore_rng_state


class ResumableTrainData:
    """The stock training data, able to start its resumed epoch after ``batches_done`` batches."""

    def __init__(self, data: TorchTrainMixedDataset, model: torch.nn.Module) -> None:
        self.data = data
        self.model = model
        self.resume: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.data, name)

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        """Stock hook: called with ``checkpoint["train_dataset"]`` when a run resumes."""
        self.resume = state

    def get_loader(self, epoch: int) -> EpochLoader:
        loader = self.data.get_loader(epoch=epoch)
        state = self.resume
        if state is None or state["epoch"] != epoch or not state["batches_done"]:
            return EpochLoader(loader)
        self.resume = None
        logging.info("Resuming epoch %d after its first %d batches", epoch, state["batches_done"])
        rng_state = _this_rank_state(state)
        return EpochLoader(loader, state["batches_done"], lambda: self._restore(rng_state))

    def _restore(self, rng_state: dict[str, Any] | None) -> None:
        if rng_state is not None:
            restore_rng_state(rng_state, self.model)


class EpochLoader:
    """One epoch's batches from ``first_batch`` on; ``len()`` is the whole epoch's length."""

    def __init__(
        self,
        loader: MixedDataLoader,
        first_batch: int = 0,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        self.batches = len(loader)
        self.first_batch = first_batch
        self.on_start = on_start
        self.loader = _skip_batches(loader, first_batch) if first_batch else loader

    def __len__(self) -> int:
        return self.batches

    def __iter__(self) -> Iterator:
        iterator = iter(self.loader)
        if self.on_start is not None:
            self.on_start()
        return iterator


def _this_rank_state(state: dict[str, Any]) -> dict[str, Any] | None:
    distributed = dist.is_available() and dist.is_initialized()
    rank, world_size = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    states = state.get("rng_states") or []
    if len(states) != world_size:
        logging.warning("The run resumes on another number of ranks: random states not restored")
        return None
    return states[rank]


class _SkippingBatchSampler:
    """A batch sampler without its first ``skip`` batches (indices only: nothing is loaded)."""

    def __init__(self, batch_sampler: Any, skip: int) -> None:
        self.batch_sampler = batch_sampler
        self.skip = skip

    def __len__(self) -> int:
        return len(self.batch_sampler) - self.skip

    def __iter__(self) -> Iterator:
        return itertools.islice(iter(self.batch_sampler), self.skip, None)


class _ContinuedMixedDataLoader(MixedDataLoader):
    """A stock MixedDataLoader whose dataset choices continue from a replayed position."""

    def __init__(self, dataloaders: list[DataLoader], replayed: MixedDataLoader) -> None:
        super().__init__(dataloaders, replayed.mixing_prob)
        self.replayed = replayed

    def __iter__(self) -> _ContinuedMixedDataLoader:
        super().__iter__()
        self.random_generator.set_state(self.replayed.random_generator.get_state())
        self._iter_mixing_prob = self.replayed._iter_mixing_prob.clone()
        return self


def _skip_batches(loader: MixedDataLoader, skip: int) -> MixedDataLoader:
    """``loader`` without its first ``skip`` batches, choosing datasets as the stock loader does.

    The stock dataset choices are replayed with the stock MixedDataLoader itself, over stand-in
    loaders of the same lengths that only say which dataset a batch came from.
    """
    stand_ins = [[index] * len(dl) for index, dl in enumerate(loader.dataloaders)]
    replayed = MixedDataLoader(stand_ins, loader.mixing_prob)
    choices = iter(replayed)
    taken = Counter(next(choices) for _ in range(skip))
    dataloaders = [
        DataLoader(
            dl.dataset,
            batch_sampler=_SkippingBatchSampler(dl.batch_sampler, taken[index]),
            num_workers=dl.num_workers,
            pin_memory=dl.pin_memory,
            collate_fn=dl.collate_fn,
            worker_init_fn=dl.worker_init_fn,
        )
        for index, dl in enumerate(loader.dataloaders)
    ]
    return _ContinuedMixedDataLoader(dataloaders, replayed)
