"""Gradient accumulation for the stock training loop, without touching the loop.

The stock ``train_epoch`` zeroes gradients, runs forward and backward, clips, logs gradients and
steps the optimizer on every batch. With ``accumulate_grad_batches = k`` the Trainer wraps the
pieces the loop calls so that, per window of k batches (the last window of an epoch may be
shorter): gradients are zeroed only at the window start, each loss is divided by the window
size, and clipping, gradient logging and the optimizer/scaler step happen only at the window end.
The result equals one batch of k times the batch size when every batch has as many objects
(the stock loss normalises by the number of objects per batch).
"""

from __future__ import annotations

from typing import Any


class AccumulationWindow:
    """Position of the current batch in its accumulation window."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.start_epoch(0)

    def start_epoch(self, batches: int, done: int = 0) -> None:
        """A new epoch of ``batches`` batches, the first ``done`` of them already trained."""
        self.batches, self.index = batches, done - 1

    def advance(self) -> None:
        self.index += 1

    @property
    def starts(self) -> bool:
        return self.index % self.every == 0

    @property
    def ends(self) -> bool:
        return (self.index + 1) % self.every == 0 or self.index + 1 >= self.batches

    @property
    def size(self) -> int:
        start = self.index - self.index % self.every
        return max(1, min(self.every, self.batches - start))


class _Delegate:
    """Forwards every attribute it does not define to the wrapped object."""

    def __init__(self, wrapped: Any, window: AccumulationWindow) -> None:
        self._wrapped = wrapped
        self._window = window

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


class AccumulatingOptimizer(_Delegate):
    """The stock ``Optimizer`` wrapper whose ``zero_grad`` acts only at a window start."""

    def zero_grad(self, *args: Any, **kwargs: Any) -> None:
        if self._window.starts:
            self._wrapped.zero_grad(*args, **kwargs)


class AccumulatingScaler(_Delegate):
    """A ``GradScaler`` that divides each loss by the window size and steps at its end."""

    def scale(self, loss: Any) -> Any:
        return self._wrapped.scale(loss / self._window.size)

    def unscale_(self, optimizer: Any) -> None:
        if self._window.ends:
            self._wrapped.unscale_(optimizer)

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        if self._window.ends:
            return self._wrapped.step(optimizer, *args, **kwargs)
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        if self._window.ends:
            self._wrapped.update(*args, **kwargs)


class AtWindowEnd(_Delegate):
    """A callable (gradient clipper, gradient logger) that runs only at a window end."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._window.ends:
            return self._wrapped(*args, **kwargs)
        return None
