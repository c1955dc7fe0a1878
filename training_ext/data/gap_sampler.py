"""A clip sampler with a random frame stride: the random-gap sampler of the MOSEv2 recipes.

``GapSampler`` has the contract of the stock ``RandomUniformSampler``
(``sample(video, segment_loader, epoch=None) -> SampledFramesAndObjects``), so a recipe swaps it
in through ``vos.train_sampler``::

    vos:
      train_sampler:
        _target_: training_ext.data.gap_sampler.GapSampler
        num_frames: ${scratch.num_frames}
        max_num_objects: ${scratch.max_num_objects}
        min_gap: 1
        max_gap: 3

Each clip takes ``num_frames`` frames at one stride drawn uniformly from [min_gap, max_gap]
(lowered to the largest that fits a short video), starting where an object is visible; with
probability ``reverse_prob`` the clip runs backwards in time.
"""

from __future__ import annotations

import random

from training.dataset.vos_sampler import SampledFramesAndObjects, VOSSampler
from training.dataset.vos_segment_loader import LazySegments

from training_ext.errors import UserError

MAX_RETRIES = 1000


class GapSampler(VOSSampler):
    def __init__(
        self,
        num_frames: int,
        max_num_objects: int,
        min_gap: int = 1,
        max_gap: int = 3,
        reverse_prob: float = 0.0,
    ) -> None:
        super().__init__()
        if num_frames < 1 or max_num_objects < 1:
            raise UserError(
                f"GapSampler: num_frames and max_num_objects must be >= 1, got {num_frames} "
                f"and {max_num_objects}"
            )
        if not 1 <= min_gap <= max_gap:
            raise UserError(
                f"GapSampler: need 1 <= min_gap <= max_gap, got min_gap={min_gap}, "
                f"max_gap={max_gap}"
            )
        if not 0 <= reverse_prob <= 1:
            raise UserError(f"GapSampler: reverse_prob must be in [0, 1], got {reverse_prob}")
        self.num_frames = num_frames
        self.max_num_objects = max_num_objects
        self.min_gap = min_gap
        self.max_gap = max_gap
        self.reverse_prob = reverse_prob

    def sample(self, video, segment_loader, epoch=None) -> SampledFramesAndObjects:
        length = len(video.frames)
        if length < self.num_frames:
            raise ValueError(
                f"Cannot sample {self.num_frames} frames from video {video.video_name}: it has "
                f"{length} frames"
            )
        widest = (length - 1) // (self.num_frames - 1) if self.num_frames > 1 else self.max_gap
        for _ in range(MAX_RETRIES):
            gap = min(random.randint(self.min_gap, self.max_gap), max(widest, 1))
            span = (self.num_frames - 1) * gap + 1
            start = random.randrange(0, length - span + 1)
            frames = video.frames[start : start + span : gap]
            if random.random() < self.reverse_prob:
                frames = frames[::-1]
            visible = _visible_object_ids(segment_loader, frames[0].frame_idx)
            if visible:
                object_ids = random.sample(visible, min(len(visible), self.max_num_objects))
                return SampledFramesAndObjects(frames=frames, object_ids=object_ids)
        raise ValueError(f"No visible object on any sampled first frame of {video.video_name}")


def _visible_object_ids(segment_loader, frame_idx: int) -> list:
    """Objects with at least one pixel on ``frame_idx`` (all listed ones for lazy SA-1B)."""
    segments = segment_loader.load(frame_idx)
    if isinstance(segments, LazySegments):
        return list(segments.keys())
    return [object_id for object_id, segment in segments.items() if segment.sum()]
