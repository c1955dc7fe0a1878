"""A drop-in for the stock ``MemMeter`` that also works without CUDA."""

from __future__ import annotations

import psutil
from training.utils.train_utils import MemMeter

_BYTES_PER_GB = 1e9


class DeviceMemMeter(MemMeter):
    """Peak CUDA memory per iteration on GPU (stock behaviour); resident memory on CPU.

    The stock meter calls ``torch.cuda.reset_peak_memory_stats()`` after every train step,
    which raises on a machine without a CUDA device.
    """

    def update(self, n: int = 1, reset_peak_usage: bool = True) -> None:
        if self.device.type == "cuda":
            super().update(n=n, reset_peak_usage=reset_peak_usage)
            return
        self.val = psutil.Process().memory_info().rss / _BYTES_PER_GB
        self.sum += self.val * n
        self.count += n
        self.avg = self.sum / self.count
        self.peak = max(self.peak, self.val)
