"""MQF, the memory quality score of a tracked frame.

quality = sigmoid(object-score logit) x (max predicted IoU over the output masks) x (mask
confidence), where mask confidence is the mean sigmoid probability over the pixels whose mask
logit is > 0. An empty mask has confidence 0 (not 0/0 = NaN), so its quality is 0.
"""

from __future__ import annotations

import torch


def memory_quality(
    object_score_logits: torch.Tensor, predicted_ious: torch.Tensor, mask_logits: torch.Tensor
) -> torch.Tensor:
    """MQF per object: logits (B, 1), IoUs (B, M), mask logits (B, 1, h, w) -> (B,)."""
    batch = mask_logits.shape[0]
    logits = mask_logits.reshape(batch, -1).float()
    foreground = logits > 0
    confidence = (logits.sigmoid() * foreground).sum(dim=1) / foreground.sum(dim=1).clamp(min=1)
    presence = object_score_logits.reshape(batch).float().sigmoid()
    best_iou = predicted_ious.reshape(batch, -1).float().max(dim=1).values
    return presence * best_iou * confidence
