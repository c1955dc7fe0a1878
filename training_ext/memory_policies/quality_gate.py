"""A quality-gated recent memory, in the manner of SAMURAI and SAM2Long.

Only frames where the object is predicted present (object-score logit > 0) and the best
predicted IoU exceeds ``iou_threshold`` enter the recent-memory window; the window is filled
with the most recent frames that passed, so it keeps ``num_maskmem - 1`` frames when there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from training_ext.errors import UserError
from training_ext.memory_policies.base import (
    FrameRecord,
    MemoryDecision,
    MemoryPolicy,
    ObjectTrack,
)


@dataclass(frozen=True)
class QualityGatePolicy(MemoryPolicy):
    name: ClassVar[str] = "quality_gate"
    iou_threshold: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.iou_threshold < 1:
            raise UserError(f"iou_threshold must be in [0, 1), got {self.iou_threshold}")

    def decide(self, track: ObjectTrack, frame: FrameRecord) -> MemoryDecision:
        return MemoryDecision(remember=frame.present and frame.best_iou > self.iou_threshold)
