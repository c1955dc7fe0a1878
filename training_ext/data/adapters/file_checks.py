"""Checks that open every file: what ``sam2-data validate`` adds to the index checks."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from training_ext.data.adapters import segmentation
from training_ext.data.adapters.davis_folder import frame_stems
from training_ext.data.adapters.indexed import DatasetIndex, VideoRecord
from training_ext.data.adapters.problems import Problem

MAX_OBJECT_ID = 255


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image, decoding it fully so truncated files are caught."""
    with Image.open(path) as image:
        image.load()
        return image.height, image.width


def check_indexed_files(index: DatasetIndex, progress: bool = True) -> list[Problem]:
    """Frames that are missing, unreadable or of another size than declared; empty videos."""
    problems = []
    for record in tqdm(
        index.videos, desc="checking videos", unit="video", disable=None if progress else True
    ):
        problems += _frame_problems(record)
        if record.objects and not any(_areas(record)):  # no objects at all: an index error
            problems.append(
                Problem(
                    f"{index.source}: video {record.name!r}",
                    "every mask is empty: no object in any frame",
                    "annotate at least one object or remove the video",
                    record.name,
                )
            )
    return problems


def _frame_problems(record: VideoRecord, first_frame_only: bool = False) -> list[Problem]:
    problems = []
    frames = list(zip(record.image_paths, record.frame_sizes, strict=True))
    for path, declared in frames[:1] if first_frame_only else frames:
        if not Path(path).is_file():
            fix = "add the image or fix its file_name / image_root"
            problems.append(Problem(path, "frame image does not exist", fix, record.name))
            continue
        try:
            size = image_size(path)
        except OSError as error:
            fix = "re-export the image or remove the frame"
            problems.append(Problem(path, f"unreadable image ({error})", fix, record.name))
            continue
        if size != tuple(declared):
            problems.append(
                Problem(
                    path,
                    f"image is {size[1]}x{size[0]} but the annotation file says "
                    f"{declared[1]}x{declared[0]} (mask size differs from frame size)",
                    "fix the image's height/width or resize the image",
                    record.name,
                )
            )
    return problems


def _areas(record: VideoRecord) -> list[int]:
    rles = [
        segmentation.to_rle(segment, height, width)
        for entries in record.objects.values()
        for _, segment, height, width in entries
    ]
    return segmentation.area(rles).tolist() if rles else []


def check_davis_files(
    img_folder: str | Path,
    gt_folder: str | Path,
    names: list[str],
    progress: bool = True,
    first_frame_only: bool = False,
) -> list[Problem]:
    """Open every frame and mask of ``names`` (or the first of each video): unreadable files,
    RGB masks, ids > 255, sizes. Without ``progress`` no tqdm is made (its multiprocessing lock
    would fix the start method that the stock launcher sets next)."""
    problems = []
    for name in (
        tqdm(names, desc="checking videos", unit="video", disable=None) if progress else names
    ):
        problems += _davis_video_problems(
            Path(img_folder) / name, Path(gt_folder) / name, name, first_frame_only
        )
    return problems


def check_first_frames(videos: list[VideoRecord]) -> list[Problem]:
    """The first frame of each of ``videos``: present, decodable, of the declared size."""
    return [
        problem for record in videos for problem in _frame_problems(record, first_frame_only=True)
    ]


def _davis_video_problems(
    frames_dir: Path, masks_dir: Path, name: str, first_frame_only: bool = False
) -> list[Problem]:
    found: dict[str, list[str]] = defaultdict(list)  # kind of problem -> files
    largest_id, any_object = 0, False
    stems = sorted(frame_stems(frames_dir, ".jpg") & frame_stems(masks_dir, ".png"), key=_order)
    for stem in stems[:1] if first_frame_only else stems:
        try:
            frame_size = image_size(frames_dir / f"{stem}.jpg")
        except OSError:
            found["unreadable frames"].append(f"{stem}.jpg")
            continue
        try:
            with Image.open(masks_dir / f"{stem}.png") as mask:
                mode, ids = mask.mode, np.asarray(mask)
        except OSError:
            found["unreadable masks"].append(f"{stem}.png")
            continue
        if ids.ndim != 2:
            found[f"{mode} masks (palette or grey expected)"].append(f"{stem}.png")
            continue
        if ids.shape != frame_size:
            found["masks whose size differs from their frame"].append(f"{stem}.png")
        largest_id = max(largest_id, int(ids.max()))
        if mode not in ("P", "L") and ids.max() <= MAX_OBJECT_ID:
            found[f"{mode} masks (8-bit palette or grey expected)"].append(f"{stem}.png")
        any_object = any_object or bool(ids.any())
    problems = [
        Problem(
            str(masks_dir if "mask" in kind else frames_dir),
            f"{len(files)} {kind}, e.g. {files[0]}",
            _DAVIS_FIXES.get(kind, _MODE_FIX),
            name,
        )
        for kind, files in found.items()
    ]
    if largest_id > MAX_OBJECT_ID:
        problems.append(
            Problem(
                str(masks_dir),
                f"object id {largest_id} > {MAX_OBJECT_ID}",
                "renumber objects 1..255 in 8-bit palette PNGs",
                name,
            )
        )
    if not any_object and not found and largest_id <= MAX_OBJECT_ID and not first_frame_only:
        problems.append(
            Problem(
                str(masks_dir),
                "every mask is empty: no object in any frame",
                "annotate an object or drop the video",
                name,
            )
        )
    return problems


def _order(stem: str) -> tuple[int, str]:
    """Frame order: numbers numerically (``9`` before ``10``), other names after them."""
    return (int(stem), "") if stem.isdigit() else (2**63, stem)


_MODE_FIX = "save masks as palette (P) or grey (L) PNGs whose values are object ids"
_DAVIS_FIXES = {
    "unreadable frames": "re-export the frames",
    "unreadable masks": "re-export the masks",
    "masks whose size differs from their frame": "save masks at their frame's resolution",
}
