"""What the model said per tracked frame, checked against the ground truth.

``sam2-eval run`` writes ``scores/tracked_frames.csv``: one row per object and tracked
(non-prompted) frame with the object-score logit, the best predicted IoU, MQF and whether the
memory policy promoted the frame. This module adds the ground-truth presence of the object on
that frame and sums it up: how often the model says "absent" when the object is gone (and
"present" when it is visible), and how many frames the policy promoted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training_ext.data.masks_io import read_id_mask
from training_ext.evaluation.inference import VideoPaths

TRACKED_FRAMES_CSV = "tracked_frames.csv"


def with_ground_truth(tracked: pd.DataFrame, videos: list[VideoPaths]) -> pd.DataFrame:
    """``tracked`` plus ``gt_present``: whether the object has a pixel in that frame's mask
    (empty where the frame has no annotation). Each annotation is read once."""
    by_name = {video.name: video for video in videos}
    ids_on_frame: dict[tuple[str, int], set[int] | None] = {}
    for video_name, frames in tracked.groupby("video", sort=False)["frame"]:
        video = by_name[video_name]
        names = video.frame_names()
        for frame in frames.unique():
            path = video.masks_dir / f"{names[frame]}.png"
            ids = set(np.unique(read_id_mask(path)).tolist()) if path.is_file() else None
            ids_on_frame[(video_name, frame)] = ids
    present = [
        np.nan if ids is None else object_id in ids
        for ids, object_id in zip(
            (ids_on_frame[key] for key in zip(tracked["video"], tracked["frame"], strict=True)),
            tracked["object"],
            strict=True,
        )
    ]
    return tracked.assign(gt_present=pd.Series(present, index=tracked.index, dtype=object))


def summarize(tracked: pd.DataFrame) -> dict[str, float | int]:
    """Presence accuracy of the object-score head and the policy's promotions."""
    known = tracked.dropna(subset=["gt_present"])
    absent = known[~known["gt_present"].astype(bool)]
    visible = known[known["gt_present"].astype(bool)]
    promoted = tracked[tracked["promoted"]]
    return {
        "tracked_object_frames": len(tracked),
        "absent_frames": len(absent),
        "absent_said_absent": float((absent["object_logit"] <= 0).mean()) if len(absent) else 1.0,
        "visible_frames": len(visible),
        "visible_said_present": float((visible["object_logit"] > 0).mean())
        if len(visible)
        else 1.0,
        "promoted_frames": len(promoted),
        "objects_with_promotions": promoted.groupby(["video", "object"]).ngroups,
    }


def describe(summary: dict[str, float | int]) -> str:
    """One line for the terminal."""
    return (
        f"object score: absent on {summary['absent_said_absent']:.1%} of "
        f"{summary['absent_frames']} frames without the object, present on "
        f"{summary['visible_said_present']:.1%} of {summary['visible_frames']} frames with it; "
        f"memory policy promoted {summary['promoted_frames']} frames of "
        f"{summary['objects_with_promotions']} objects"
    )
