"""The memory-selection policy interface: what a policy sees per tracked frame, what it decides.

SAM2 keeps two memory banks per object: conditioning frames (prompted frames, always attended,
temporal position 0) and a window of the ``num_maskmem - 1`` most recent non-conditioning
frames. After each tracked (non-conditioning) frame of an object, the predictor hands the policy
a :class:`FrameRecord` and the object's :class:`ObjectTrack`; the policy answers with a
:class:`MemoryDecision`: earlier frames to promote into the conditioning bank, and whether this
frame may enter the recent window. Policies decide only; :meth:`ObjectTrack.apply` records the
decision and the predictor turns the track into the memory the model attends to.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import torch


@dataclass(frozen=True)
class FrameRecord:
    """One object's tracking output on one non-conditioning frame."""

    frame_idx: int
    object_score_logit: float  # > 0: the model says the object is present
    predicted_ious: tuple[float, ...]  # the mask decoder's IoU estimates of its output masks
    quality: float  # MQF (see quality.py)
    mask_logits: torch.Tensor | None = None  # low-resolution mask logits (1, 1, h, w)

    @property
    def present(self) -> bool:
        return self.object_score_logit > 0

    @property
    def best_iou(self) -> float:
        return max(self.predicted_ious, default=0.0)


@dataclass(frozen=True)
class MemoryDecision:
    """``promote``: earlier frames to move into the conditioning bank (most recent first);
    ``remember``: whether the frame just tracked may enter the recent-memory window."""

    promote: tuple[int, ...] = ()
    remember: bool = True


@dataclass
class ObjectTrack:
    """One object's memory state during one propagation pass (a ``propagate_in_video`` call).

    ``history`` lists the tracked frames in tracking order (descending frame indices when
    propagating in reverse). ``excluded`` holds the frames kept out of the recent window:
    promoted frames (now conditioning memory) and frames the policy did not remember.
    """

    reverse: bool = False
    history: list[FrameRecord] = field(default_factory=list)
    promoted: list[int] = field(default_factory=list)
    excluded: set[int] = field(default_factory=set)
    first_absent_frame: int | None = None

    def apply(self, frame: FrameRecord, decision: MemoryDecision) -> None:
        """Record ``frame`` and what the policy decided about it."""
        new = [t for t in decision.promote if t not in self.promoted]
        self.promoted.extend(new)
        self.excluded.update(new)
        if not decision.remember:
            self.excluded.add(frame.frame_idx)
        if not frame.present and self.first_absent_frame is None:
            self.first_absent_frame = frame.frame_idx
        self.history.append(frame)

    def in_store(self, frame_idx: int) -> bool:
        """Whether ``frame_idx`` is still an ordinary recent-memory candidate."""
        return frame_idx not in self.excluded


class MemoryPolicy(ABC):
    """Decides, per object and tracked frame, how the memory banks change."""

    name: ClassVar[str]
    changes_memory: ClassVar[bool] = True  # False: outputs equal the stock predictor's

    @abstractmethod
    def decide(self, track: ObjectTrack, frame: FrameRecord) -> MemoryDecision:
        """The decision for ``frame``; ``track`` holds the frames tracked before it."""

    def observe(self, track: ObjectTrack, frame: FrameRecord) -> MemoryDecision:
        """Decide about ``frame`` and record it in ``track``."""
        decision = self.decide(track, frame)
        track.apply(frame, decision)
        return decision


@dataclass(frozen=True)
class NoMemoryPolicy(MemoryPolicy):
    """The stock behaviour: no promotion, every tracked frame enters the recent window."""

    name: ClassVar[str] = "none"
    changes_memory: ClassVar[bool] = False

    def decide(self, track: ObjectTrack, frame: FrameRecord) -> MemoryDecision:
        return MemoryDecision()
