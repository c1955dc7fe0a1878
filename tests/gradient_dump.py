"""A stock `optim.gradient_logger` for tests: saves the gradients of the first optimizer step."""

from __future__ import annotations

from pathlib import Path

import torch


class SaveFirstGradients:
    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def __call__(self, model: torch.nn.Module, rank: int, where: float) -> None:
        if rank == 0 and not self.path.exists():
            grads = {
                n: p.grad.detach().clone()
                for n, p in model.named_parameters()
                if p.grad is not None
            }
            torch.save(grads, self.path)
