"""Semi-supervised VOS inference with a SAM2 video predictor, prompted from ground truth.

Prompts (``prompt``): the object's ``mask``, its bounding ``box``, or one positive ``point`` (the
pixel farthest inside the mask). Prompt frame (``prompt_frame``): ``first`` prompts the objects
visible in the first frame there (DAVIS protocol); ``appearance`` prompts every object on the
first frame it appears in, and its prediction before that frame is empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from sam2.sam2_video_predictor import SAM2VideoPredictor

from training_ext.data.masks_io import VOID, read_id_mask
from training_ext.errors import UserError
from training_ext.memory_policies.video_predictor import tracked_frames

PROMPTS = ("mask", "box", "point")
PROMPT_FRAMES = ("first", "appearance")


@dataclass(frozen=True)
class VideoPaths:
    """One video of a DAVIS-layout dataset."""

    name: str
    frames_dir: Path
    masks_dir: Path

    def frame_names(self) -> list[str]:
        """JPEG frame names in the order the SAM2 predictor loads them (numerically)."""
        return sorted((p.stem for p in self.frames_dir.glob("*.jpg")), key=int)


@dataclass(frozen=True)
class Prompt:
    frame_index: int
    object_id: int
    mask: np.ndarray  # (H, W) bool


def dataset_videos(root: Path, file_list: Path | None = None) -> list[VideoPaths]:
    """Videos of ``root`` (JPEGImages/ + Annotations/), optionally restricted to a file list."""
    frames_root, masks_root = root / "JPEGImages", root / "Annotations"
    for folder in (frames_root, masks_root):
        if not folder.is_dir():
            raise UserError(
                f"{folder} does not exist: a dataset root holds JPEGImages/ and Annotations/"
            )
    if file_list is not None:
        if not file_list.is_file():
            raise UserError(f"video list {file_list} not found")
        names = [line.strip() for line in file_list.read_text().splitlines() if line.strip()]
    else:
        names = sorted(p.name for p in frames_root.iterdir() if p.is_dir())
    if not names:
        raise UserError(f"no videos in {file_list or frames_root}")
    videos = [VideoPaths(name, frames_root / name, masks_root / name) for name in names]
    for video in videos:
        if not video.frames_dir.is_dir() or not video.masks_dir.is_dir():
            raise UserError(f"video {video.name}: {video.frames_dir} or {video.masks_dir} missing")
        stems = [p.stem for p in video.frames_dir.glob("*.jpg")]
        if not stems:
            raise UserError(f"video {video.name}: no .jpg frames in {video.frames_dir}")
        if not all(stem.isdigit() for stem in stems):
            bad = next(stem for stem in stems if not stem.isdigit())
            raise UserError(
                f"video {video.name}: frame {bad}.jpg is not named by its index; the SAM2 "
                "predictor needs <number>.jpg frames (e.g. 00000.jpg)"
            )
    return videos


def ground_truth_prompts(video: VideoPaths, prompt_frame: str) -> list[Prompt]:
    """Per object, its mask on the frame it is prompted on."""
    prompts, seen = [], set()
    for frame_index, name in enumerate(video.frame_names()):
        path = video.masks_dir / f"{name}.png"
        if not path.is_file():
            if frame_index == 0:
                raise UserError(f"{path} missing: the first frame needs a ground-truth mask")
            continue
        ids = read_id_mask(path)
        for object_id in np.unique(ids):
            if object_id in (0, VOID) or object_id in seen:
                continue
            seen.add(int(object_id))
            prompts.append(Prompt(frame_index, int(object_id), ids == object_id))
        if prompt_frame == "first":
            break
    if not prompts:
        raise UserError(f"video {video.name}: no object in its ground truth to prompt with")
    return prompts


def _add_prompt(predictor: SAM2VideoPredictor, state: dict, prompt: Prompt, kind: str) -> None:
    if kind == "mask":
        predictor.add_new_mask(state, prompt.frame_index, prompt.object_id, prompt.mask)
        return
    if kind == "box":
        ys, xs = np.nonzero(prompt.mask)
        box = np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float32)
        predictor.add_new_points_or_box(state, prompt.frame_index, prompt.object_id, box=box)
        return
    inside = cv2.distanceTransform(prompt.mask.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(np.argmax(inside), inside.shape)
    predictor.add_new_points_or_box(
        state,
        prompt.frame_index,
        prompt.object_id,
        points=np.array([[x, y]], dtype=np.float32),
        labels=np.array([1], dtype=np.int32),
    )


@torch.inference_mode()
def predict_video(
    predictor: SAM2VideoPredictor,
    video: VideoPaths,
    prompt: str = "mask",
    prompt_frame: str = "first",
    tracked: list[dict] | None = None,
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(frame name, id map)`` for every frame of ``video``, in order.

    Where objects overlap, the pixel goes to the object with the highest mask logit. With a
    memory-policy predictor, ``tracked`` (if given) receives one row per object and tracked frame
    (see ``memory_policies.predictor.tracked_frames``).
    """
    prompts = ground_truth_prompts(video, prompt_frame)
    state = predictor.init_state(str(video.frames_dir))
    for item in prompts:
        _add_prompt(predictor, state, item, prompt)
    first_frame = {item.object_id: item.frame_index for item in prompts}
    height, width = state["video_height"], state["video_width"]
    logits_per_frame = {}
    for frame_index, object_ids, mask_logits in predictor.propagate_in_video(state):
        logits_per_frame[frame_index] = (list(object_ids), mask_logits[:, 0].float().cpu())
    if tracked is not None:
        tracked += [{"video": video.name, **row} for row in tracked_frames(state)]
    for frame_index, name in enumerate(video.frame_names()):
        ids = np.zeros((height, width), np.uint8)
        if frame_index in logits_per_frame:
            object_ids, logits = logits_per_frame[frame_index]
            for row, object_id in enumerate(object_ids):
                if frame_index < first_frame[object_id]:
                    logits[row] = -torch.inf
            best = logits.argmax(dim=0)
            present = logits.max(dim=0).values > 0
            lookup = torch.tensor(object_ids, dtype=torch.uint8)
            ids = torch.where(present, lookup[best], 0).numpy().astype(np.uint8)
        yield name, ids
    predictor.reset_state(state)
