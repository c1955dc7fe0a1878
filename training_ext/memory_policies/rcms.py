"""RCMS, Reliable Conditioned Memory Selection (the MOSEv2 baseline's inference-time policy).

When an object is first predicted absent (object-score logit <= 0) on a tracked frame, up to
``num_prev_frames_to_promote`` earlier tracked frames whose MQF exceeds
``low_quality_threshold`` become conditioning memory for the rest of the pass. The walk goes
back in the direction of tracking (towards higher frame indices when propagating in reverse),
most recent first, and happens once per object.
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
class RCMSPolicy(MemoryPolicy):
    name: ClassVar[str] = "rcms"
    num_prev_frames_to_promote: int = 4
    low_quality_threshold: float = 0.6

    def __post_init__(self) -> None:
        if self.num_prev_frames_to_promote < 1:
            raise UserError(
                f"num_prev_frames_to_promote must be >= 1, got {self.num_prev_frames_to_promote}"
            )
        if not 0 <= self.low_quality_threshold < 1:
            raise UserError(
                f"low_quality_threshold must be in [0, 1), got {self.low_quality_threshold}"
            )

    def decide(self, track: ObjectTrack, frame: FrameRecord) -> MemoryDecision:
        if frame.present or track.first_absent_frame is not None:
            return MemoryDecision()
        reliable = [
            past.frame_idx
            for past in reversed(track.history)
            if track.in_store(past.frame_idx) and past.quality > self.low_quality_threshold
        ]
        return MemoryDecision(promote=tuple(reliable[: self.num_prev_frames_to_promote]))
