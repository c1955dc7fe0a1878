"""A training frame that does not decode costs one clip, not the run.

``FrameCheckingVOSDataset`` is the stock ``VOSDataset`` with one change: when a sampled clip's
frames or masks cannot be read, it finds the file at fault and, with ``on_bad_frame: skip`` (the
default), logs a warning naming it, counts the clip as skipped and samples another video (as the
stock dataset already does when a video fails to *sample*); with ``on_bad_frame: fail`` the run
stops with one line naming the file. Validation clips are never skipped.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from PIL import Image
from training.dataset.vos_dataset import VOSDataset

from training_ext.errors import UserError

ON_BAD_FRAME = ("skip", "fail")
MAX_SKIPS_IN_A_ROW = 100  # then the data, not one frame, is the problem
_DECODE_ERRORS = (OSError, ValueError, SyntaxError)  # what PIL raises for a damaged file


def check_on_bad_frame(value: object) -> None:
    """One-line UserError unless ``value`` is a known ``dataset.on_bad_frame`` choice."""
    if value not in ON_BAD_FRAME:
        raise UserError(f"dataset.on_bad_frame={value}: use one of {', '.join(ON_BAD_FRAME)}")


class FrameCheckingVOSDataset(VOSDataset):
    def __init__(self, *args: Any, on_bad_frame: str = "skip", **kwargs: Any) -> None:
        check_on_bad_frame(on_bad_frame)
        super().__init__(*args, **kwargs)
        self.on_bad_frame = on_bad_frame
        self.skipped_clips = 0

    def construct(self, video: Any, sampled_frms_and_objs: Any, segment_loader: Any) -> Any:
        try:
            return super().construct(video, sampled_frms_and_objs, segment_loader)
        except _DECODE_ERRORS as error:
            culprit = unreadable_frame(sampled_frms_and_objs.frames) or f"video {video.video_id}"
            raise BadClip(f"{culprit} cannot be read ({error})") from error

    def __getitem__(self, idx: Any) -> Any:
        for _ in range(MAX_SKIPS_IN_A_ROW):
            try:
                return super().__getitem__(idx)
            except BadClip as bad:
                if self.on_bad_frame == "fail" or not self.training:
                    raise UserError(
                        f"{bad}: replace or remove the file (`sam2-data validate` lists every "
                        "one), or set dataset.on_bad_frame=skip to train on without its clips"
                    ) from None
                self.skipped_clips += 1
                logging.warning(
                    "Skipped a training clip: %s (%d skipped so far)", bad, self.skipped_clips
                )
                idx = random.randrange(len(self.video_dataset))
        raise UserError(
            f"{MAX_SKIPS_IN_A_ROW} training clips in a row could not be read: check the dataset "
            "with `sam2-data validate`"
        )


class BadClip(Exception):
    """A sampled clip with a file that cannot be read."""


def unreadable_frame(frames: list[Any]) -> str | None:
    """The first frame image of the clip that PIL cannot decode, if any."""
    for frame in frames:
        path = getattr(frame, "image_path", None)
        if path is None:
            continue
        try:
            with Image.open(path) as image:
                image.convert("RGB")
        except _DECODE_ERRORS:
            return str(path)
    return None
