"""Score folders of predicted masks against ground truth: ``<dir>/<video>/<frame>.png``.

Masks are palette (P) or single-channel (L) PNGs whose pixel values are object ids; 0 is
background and 255 in the ground truth is void (left out of every metric). The objects of a video
are the ids in any of its ground-truth frames; its first and last frames are not scored, so only
those in between need a prediction. Metrics are fractions (0-1), see
``training_ext.evaluation.metrics``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from training_ext.data.masks_io import VOID, open_id_mask, read_id_mask
from training_ext.errors import UserError
from training_ext.evaluation.metrics import (
    SCORE_MODES,
    Mode,
    absent_scores,
    frame_scores,
    object_scores,
)


@dataclass(frozen=True)
class ScoreResult:
    """Per-object rows, per-video means over objects, and means over all objects."""

    per_object: pd.DataFrame
    per_video: pd.DataFrame
    summary: dict[str, str | int | float | None]


@dataclass(frozen=True)
class _Video:
    name: str
    gt_frames: list[Path]
    pred_frames: list[Path]  # one per scored frame, gt_frames[1:-1]


def score_folders(
    gt_dir: Path,
    pred_dir: Path,
    mode: Mode,
    processes: int = 1,
    videos: list[str] | None = None,
) -> ScoreResult:
    """Score every ground-truth video in ``gt_dir`` (or only ``videos``) against ``pred_dir``,
    ``processes`` at once."""
    if mode not in SCORE_MODES:
        choices = " or ".join(map(repr, SCORE_MODES))
        raise UserError(f"scoring mode must be {choices}, got {mode!r}")
    if processes < 1:
        raise UserError(f"processes must be >= 1, got {processes}")
    videos = _plan(Path(gt_dir), Path(pred_dir), videos)
    for video in videos:  # cheap header checks first: a wrongly saved folder fails at once
        with open_id_mask(video.gt_frames[1]) as gt:
            open_id_mask(video.pred_frames[0], size_of=(video.gt_frames[1], gt.size)).close()
    jobs = [(video, mode) for video in videos]
    progress = {"total": len(jobs), "desc": "scoring", "unit": "video", "disable": None}
    if processes == 1 or len(jobs) == 1:
        rows = [row for job in tqdm(jobs, **progress) for row in _score_video(job)]
    else:
        with ProcessPoolExecutor(min(processes, len(jobs))) as pool:
            results = tqdm(pool.map(_score_video, jobs), **progress)
            rows = [row for video_rows in results for row in video_rows]
    if not rows:
        raise UserError(
            f"ground-truth folder {gt_dir} has no object ids (pixel values other than 0 and 255)"
            " in any mask: pass the folder of annotation PNGs"
        )
    frames = sum(len(video.pred_frames) for video in videos)
    return _tabulate(rows, mode, videos=len(videos), frames=frames)


def write_scores(result: ScoreResult, out_dir: Path) -> None:
    """Write ``per_object.csv``, ``per_video.csv`` and ``summary.json`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result.per_object.to_csv(out_dir / "per_object.csv", index=False)
    result.per_video.to_csv(out_dir / "per_video.csv", index=False)
    (out_dir / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")


def _plan(gt_dir: Path, pred_dir: Path, only: list[str] | None) -> list[_Video]:
    """The videos to score, after checking that every scored frame has a prediction."""
    if not gt_dir.is_dir():
        raise UserError(
            f"ground-truth folder {gt_dir} does not exist: pass the folder that holds one"
            " sub-folder of PNG masks per video"
        )
    if not pred_dir.is_dir():
        raise UserError(
            f"prediction folder {pred_dir} does not exist: pass the folder that holds one"
            " sub-folder of PNG masks per video"
        )
    names = sorted(entry.name for entry in gt_dir.iterdir() if _visible(entry) and entry.is_dir())
    if only is not None:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise UserError(f"ground-truth folder {gt_dir} has no video '{unknown[0]}'")
        names = sorted(only)
    if not names:
        raise UserError(
            f"ground-truth folder {gt_dir} has no video folders: expected"
            f" {gt_dir}/<video>/<frame>.png"
        )
    missing = [name for name in names if not (pred_dir / name).is_dir()]
    if missing:
        raise UserError(
            f"prediction folder {pred_dir} has no folder for video '{missing[0]}' ({len(missing)}"
            f" of {len(names)} ground-truth videos missing): write its masks as"
            f" {pred_dir / missing[0]}/<frame>.png"
        )
    return [_plan_video(gt_dir / name, pred_dir / name) for name in names]


def _plan_video(gt_video: Path, pred_video: Path) -> _Video:
    gt_frames = _png_frames(gt_video)
    if len(gt_frames) < 3:
        raise UserError(
            f"ground-truth video {gt_video} has {len(gt_frames)} PNG frames: the first and last"
            " frame are not scored, so a video needs at least 3"
        )
    predicted = {path.name for path in pred_video.glob("*.png") if _visible(path)}
    missing = [path.name for path in gt_frames[1:-1] if path.name not in predicted]
    if missing:
        raise UserError(
            f"prediction folder {pred_video} is missing frame {missing[0]} ({len(missing)} of"
            f" {len(gt_frames) - 2} scored frames missing) of ground-truth {gt_video}: write one"
            " PNG per ground-truth frame, same names"
        )
    return _Video(gt_video.name, gt_frames, [pred_video / path.name for path in gt_frames[1:-1]])


def _png_frames(folder: Path) -> list[Path]:
    """PNG files of ``folder`` in frame order: numerically when all names are numbers."""
    frames = [path for path in folder.glob("*.png") if _visible(path)]
    if all(path.stem.isdigit() for path in frames):
        return sorted(frames, key=lambda path: int(path.stem))
    return sorted(frames)


def _visible(path: Path) -> bool:
    """False for hidden entries such as ``.ipynb_checkpoints`` or macOS ``._00000.png``."""
    return not path.name.startswith(".")


def _ids(mask: np.ndarray) -> set[int]:
    """Pixel values present in an 8-bit mask (a cv2 histogram: faster than np.bincount)."""
    return set(np.flatnonzero(cv2.calcHist([mask], [0], None, [256], [0, 256])).tolist())


def _score_video(job: tuple[_Video, Mode]) -> list[dict[str, object]]:
    """Rows of one video: frames are read one at a time, each object scored where it occurs."""
    video, mode = job
    objects: set[int] = set()
    scored: list[dict[int, tuple[float, float, float]]] = []  # per scored frame: object -> J, F, Ḟ
    visible: list[set[int]] = []
    for index, gt_path in enumerate(video.gt_frames):
        gt = read_id_mask(gt_path)
        gt_ids = _ids(gt)
        objects |= gt_ids - {0, VOID}
        if index == 0 or index == len(video.gt_frames) - 1:
            continue
        pred = read_id_mask(video.pred_frames[index - 1], size_of=(gt_path, gt.shape[::-1]))
        scored.append(_score_frame(gt, pred, gt_ids, mode))
        visible.append(gt_ids)
    absent = absent_scores(mode)
    rows = []
    for obj in sorted(objects):
        j, f, fdot = np.array([frame.get(obj, absent) for frame in scored]).T
        shown = np.array([obj in ids for ids in visible])
        rows.append({"video": video.name, "object": obj, **object_scores(j, f, fdot, shown, mode)})
    return rows


def _score_frame(
    gt: np.ndarray, pred: np.ndarray, gt_ids: set[int], mode: Mode
) -> dict[int, tuple[float, float, float]]:
    """(J, F, Ḟ) of every id in the frame's ground truth or prediction (void pixels cleared)."""
    not_void = gt != VOID if VOID in gt_ids else None
    scores = {}
    for obj in sorted((gt_ids | _ids(pred)) - {0, VOID}):
        pred_mask = pred == obj
        if not_void is not None:
            pred_mask &= not_void
        scores[obj] = frame_scores(gt == obj, pred_mask, mode)
    return scores


def _tabulate(
    rows: Iterable[dict[str, object]], mode: Mode, videos: int, frames: int
) -> ScoreResult:
    per_object = pd.DataFrame(rows).sort_values(["video", "object"], ignore_index=True)
    metrics = [column for column in per_object.columns if column not in ("video", "object")]
    by_video = per_object.groupby("video", sort=True)
    per_video = by_video[metrics].mean()
    per_video.insert(0, "objects", by_video.size())
    summary: dict[str, str | int | float | None] = {
        "mode": mode,
        "videos": videos,
        "objects": len(per_object),
        "frames": frames,
    }
    for column, value in per_object[metrics].mean().items():
        summary[column] = float(value) if math.isfinite(value) else None
    return ScoreResult(per_object, per_video.reset_index(), summary)
