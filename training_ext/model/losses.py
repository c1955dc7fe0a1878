"""The stock SAM2 training loss plus an optional temporal-consistency term."""

from __future__ import annotations

import torch
from training.loss_fns import CORE_LOSS_KEY, MultiStepMultiMasksAndIous


def temporal_consistency(outs_batch: list[dict], targets_batch: torch.Tensor) -> torch.Tensor:
    """Mean change of the predicted mask between consecutive frames where the truth is unchanged.

    With p_t = sigmoid of the final predicted mask logits of frame t (``pred_masks_high_res``,
    shape N x 1 x H x W) and g_t the ground-truth masks (N x H x W), for every object n and
    consecutive pair (t-1, t) let S = {pixels x : g_t[n, x] = g_{t-1}[n, x]}. Then

        L = 1 / (N (T-1)) * sum_t sum_n mean_{x in S} |p_t[n, x] - p_{t-1}[n, x]|

    (a pair with empty S adds 0). Both frames receive gradient, so it reaches the memory
    attention and memory encoder through every frame tracked from memory.
    """
    frames = len(outs_batch)
    if frames < 2:
        return targets_batch.new_zeros(())
    probabilities = [torch.sigmoid(out["pred_masks_high_res"][:, 0]) for out in outs_batch]
    total = targets_batch.new_zeros(())
    for t in range(1, frames):
        stable = (targets_batch[t] > 0) == (targets_batch[t - 1] > 0)  # N x H x W
        change = (probabilities[t] - probabilities[t - 1]).abs() * stable
        per_object = change.flatten(1).sum(1) / stable.flatten(1).sum(1).clamp(min=1)
        total = total + per_object.sum()
    return total / (targets_batch.shape[1] * (frames - 1))


class MultiStepMultiMasksIousAndTemporal(MultiStepMultiMasksAndIous):
    """``MultiStepMultiMasksAndIous`` + ``temporal_weight`` x ``temporal_consistency``.

    With ``temporal_weight: 0`` (the default) the losses are exactly the stock ones.
    """

    def __init__(self, *args, temporal_weight: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.temporal_weight = temporal_weight

    def forward(self, outs_batch: list[dict], targets_batch: torch.Tensor) -> dict:
        losses = super().forward(outs_batch, targets_batch)
        if self.temporal_weight:
            term = temporal_consistency(outs_batch, targets_batch)
            losses["loss_temporal"] = term
            losses[CORE_LOSS_KEY] = losses[CORE_LOSS_KEY] + self.temporal_weight * term
        return losses
