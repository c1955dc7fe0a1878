"""Live and peak bytes of every tensor storage an operation creates, by category.

A ``TorchDispatchMode`` (works on fake tensors): each new storage an op returns is counted, in
the category of the phase that made it, until the storage is freed. Gradients are moved to their
own category when autograd accumulates them. Sizes are rounded up to the CUDA caching
allocator's 512-byte blocks. Far cheaper than ``torch.distributed._tools.MemTracker``, whose
per-module bookkeeping on every op made one b+ step take minutes.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.weak import WeakIdKeyDictionary

ALLOCATOR_BLOCK = 512
PARAMETERS, GRADIENTS, OPTIMIZER, ACTIVATIONS, TEMPORARIES = (
    "parameters",
    "gradients",
    "optimizer state",
    "activations",
    "temporaries",
)


def allocated_bytes(storage: torch.UntypedStorage) -> int:
    """Bytes the CUDA caching allocator would hand out for ``storage``."""
    size = storage.nbytes()
    return -(-size // ALLOCATOR_BLOCK) * ALLOCATOR_BLOCK


@dataclass
class _Entry:
    category: str
    size: int


@dataclass
class Peak:
    """The moment live memory was highest."""

    total: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    phase: str = ""


class MemoryTracker(TorchDispatchMode):
    """Counts live storages; ``peak`` is the highest total seen, with its breakdown."""

    def __init__(self) -> None:
        super().__init__()
        self.live: Counter[str] = Counter()
        self.peak = Peak()
        self.phase = "forward"
        self.category = ACTIVATIONS
        self._entries: WeakIdKeyDictionary = WeakIdKeyDictionary()

    def add_existing(self, tensors: Iterable[torch.Tensor], category: str) -> None:
        """Count tensors made before tracking began (parameters, optimizer state)."""
        for tensor in tensors:
            self._count(tensor, category)
        self._update_peak()

    def live_total(self) -> int:
        return sum(self.live.values())

    def enter_phase(self, phase: str, category: str) -> None:
        """Tensors made from now on belong to ``category``; the peak reports ``phase``."""
        self.phase, self.category = phase, category

    def mark_gradient(self, gradient: torch.Tensor) -> None:
        """Move an accumulated gradient's storage into the gradients category."""
        entry = self._entries.get(gradient.untyped_storage())
        if entry is None:
            self._count(gradient, GRADIENTS)
        elif entry.category != GRADIENTS:
            self.live[entry.category] -= entry.size
            self.live[GRADIENTS] += entry.size
            entry.category = GRADIENTS

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        out = func(*args, **(kwargs or {}))
        for value in tree_leaves(out):
            if isinstance(value, torch.Tensor):
                self._count(value, self.category)
        self._update_peak()
        return out

    def _count(self, tensor: torch.Tensor, category: str) -> None:
        storage = tensor.untyped_storage()
        if storage in self._entries:
            return
        entry = _Entry(category, allocated_bytes(storage))
        self._entries[storage] = entry
        self.live[category] += entry.size
        weakref.finalize(storage, self._free, entry)

    def _free(self, entry: _Entry) -> None:
        self.live[entry.category] -= entry.size

    def _update_peak(self) -> None:
        total = self.live_total()
        if total > self.peak.total:
            self.peak = Peak(total, dict(self.live), self.phase)
