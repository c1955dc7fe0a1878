"""Per-object VOS metrics on numpy masks: DAVIS J and F, MOSEv2 J and adaptive F (Ḟ).

Conventions (DAVIS 2017 semi-supervised evaluation, MOSEv2 ``tools/score.py``):

- J is intersection over union, 1 for an empty union; MOSEv2 uses (inter + 1) / (union + 1).
- F is the boundary F-measure: boundaries by seg2bmap (Martin et al. 2003), a boundary pixel
  matches when it lies within a disk of radius r of the other mask's boundary; both boundaries
  empty gives 1, exactly one empty gives 0. DAVIS: r = ceil(0.008 * image diagonal).
- MOSEv2: where ceil(0.1 * sqrt(GT area)) < 0.008 * diagonal, Ḟ uses that radius and F the DAVIS
  one; otherwise (large objects, empty GT) both use the unrounded 0.008 * diagonal, as the
  reference does.
- Disks are sampled at offsets -r, -r + 1, ... as ``skimage.morphology.disk`` does, so a
  non-integer radius gives the same (slightly off-centre) structuring element as the references.
  Below r = 0.586 (MOSEv2, images with a diagonal under 73 px) that disk is empty and OpenCV
  shifts instead of dilating; reproduced as the reference does it, not corrected.

Callers clear void pixels (255 in the ground truth) from both masks first.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal, get_args

import cv2
import numpy as np

Mode = Literal["davis", "mosev2"]
SCORE_MODES: tuple[Mode, ...] = get_args(Mode)
DIAGONAL_FRACTION = 0.008
AREA_FRACTION = 0.1


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """Boundary map of a binary mask: pixels that differ from their E, S or SE neighbour.

    On the last row only the E neighbour counts, on the last column only the S one, and the
    bottom-right pixel is never a boundary (Martin et al. 2003, as DAVIS computes it).
    """
    # Repeating the last row and column turns those edge rules into the general one.
    binary = np.asarray(mask, dtype=bool).view(np.uint8)
    padded = cv2.copyMakeBorder(binary, 0, 1, 0, 1, cv2.BORDER_REPLICATE)
    centre = padded[:-1, :-1]
    return (centre != padded[:-1, 1:]) | (centre != padded[1:, :-1]) | (centre != padded[1:, 1:])


@lru_cache(maxsize=64)
def disk(radius: float) -> np.ndarray:
    """Disk structuring element: grid offsets -r, -r + 1, ... within distance r of the origin."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.uint8)


def davis_radius(shape: tuple[int, ...]) -> float:
    """DAVIS boundary tolerance in pixels for an image of ``shape`` (H, W)."""
    return float(math.ceil(DIAGONAL_FRACTION * math.hypot(shape[0], shape[1])))


def mosev2_radii(gt_area: int, shape: tuple[int, ...]) -> tuple[float, float]:
    """MOSEv2 (F radius, Ḟ radius) for a ground-truth object of ``gt_area`` pixels."""
    limit = DIAGONAL_FRACTION * math.hypot(shape[0], shape[1])
    adaptive = math.ceil(AREA_FRACTION * math.sqrt(gt_area)) if gt_area else math.inf
    if adaptive < limit:
        return float(math.ceil(limit)), float(adaptive)
    return limit, limit


def _crop_to_union(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Both masks cut to the union's bounding box plus one pixel, or None when both are empty.

    The margin keeps seg2bmap exact (boundaries reach one pixel above/left of a mask, and the
    pixel below/right decides the mask's own last row/column); dilation needs no more, since
    only boundary pixels, all inside the crop, are looked up in the dilated maps.
    """
    x, y, w, h = cv2.boundingRect((gt | pred).view(np.uint8))
    if w == 0:
        return None
    rows = slice(max(y - 1, 0), y + h + 1)
    cols = slice(max(x - 1, 0), x + w + 1)
    return gt[rows, cols], pred[rows, cols]


def _boundary_f(gt_boundary: np.ndarray, pred_boundary: np.ndarray, radius: float) -> float:
    n_gt, n_pred = int(np.count_nonzero(gt_boundary)), int(np.count_nonzero(pred_boundary))
    if n_gt == 0 or n_pred == 0:
        return float(n_gt == n_pred)
    footprint = disk(radius)
    gt_near = cv2.dilate(gt_boundary.view(np.uint8), footprint).view(bool)
    pred_near = cv2.dilate(pred_boundary.view(np.uint8), footprint).view(bool)
    precision = int(np.count_nonzero(pred_boundary & gt_near)) / n_pred
    recall = int(np.count_nonzero(gt_boundary & pred_near)) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def boundary_f(gt: np.ndarray, pred: np.ndarray, radius: float) -> float:
    """Boundary F-measure of binary masks ``pred`` against ``gt`` with tolerance ``radius``."""
    cropped = _crop_to_union(gt.astype(bool, copy=False), pred.astype(bool, copy=False))
    if cropped is None:
        return 1.0
    return _boundary_f(seg2bmap(cropped[0]), seg2bmap(cropped[1]), radius)


def absent_scores(mode: Mode) -> tuple[float, float, float]:
    """(J, F, Ḟ) of a frame where the object is in neither mask; Ḟ is NaN in DAVIS mode."""
    return 1.0, 1.0, (math.nan if mode == "davis" else 1.0)


def frame_scores(gt: np.ndarray, pred: np.ndarray, mode: Mode) -> tuple[float, float, float]:
    """(J, F, Ḟ) of one object in one frame from its binary masks; Ḟ is NaN in DAVIS mode."""
    cropped = _crop_to_union(gt.astype(bool, copy=False), pred.astype(bool, copy=False))
    if cropped is None:
        return absent_scores(mode)
    gt_crop, pred_crop = cropped
    inter = int(np.count_nonzero(gt_crop & pred_crop))
    union = int(np.count_nonzero(gt_crop | pred_crop))
    gt_boundary, pred_boundary = seg2bmap(gt_crop), seg2bmap(pred_crop)
    if mode == "davis":
        f = _boundary_f(gt_boundary, pred_boundary, davis_radius(gt.shape))
        return inter / union, f, math.nan
    f_radius, fdot_radius = mosev2_radii(int(np.count_nonzero(gt_crop)), gt.shape)
    f = _boundary_f(gt_boundary, pred_boundary, f_radius)
    fdot = f if fdot_radius == f_radius else _boundary_f(gt_boundary, pred_boundary, fdot_radius)
    return (inter + 1) / (union + 1), f, fdot


def mean_recall_decay(values: np.ndarray) -> tuple[float, float, float]:
    """DAVIS statistics of per-frame values: mean, fraction > 0.5, and decay.

    Decay splits the frames into 4 bins at round-half-up positions of linspace(0, n - 1, 5), each
    bin including its right edge, and returns mean(first bin) - mean(last bin).
    """
    values = np.asarray(values, dtype=float)
    edges = np.floor(np.linspace(0, len(values) - 1, 5) + 0.5).astype(int)
    decay = values[edges[0] : edges[1] + 1].mean() - values[edges[3] : edges[4] + 1].mean()
    return float(values.mean()), float((values > 0.5).mean()), float(decay)


def appearance_segments(
    visible: np.ndarray,
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """[start, end) runs of ``visible`` that begin with a change: (disappearances, reappearances).

    A disappearance is a run of frames with an empty ground truth that follows a visible frame, a
    reappearance a run of visible frames that follows an empty one; a run starting at the first
    frame is neither (MOSEv2 J&Ḟ_d and J&Ḟ_r).
    """
    visible = np.asarray(visible, dtype=bool)
    starts = np.flatnonzero(visible[1:] != visible[:-1]) + 1
    ends = np.append(starts, len(visible))[1:]
    disappear = [(int(s), int(e)) for s, e in zip(starts, ends, strict=True) if not visible[s]]
    reappear = [(int(s), int(e)) for s, e in zip(starts, ends, strict=True) if visible[s]]
    return disappear, reappear


def segment_mean(values: np.ndarray, segments: list[tuple[int, int]]) -> float:
    """Mean over segments of each segment's mean value; NaN when there are no segments."""
    if not segments:
        return math.nan
    return float(np.mean([np.mean(values[start:end]) for start, end in segments]))


def object_scores(
    j: np.ndarray, f: np.ndarray, fdot: np.ndarray | None, visible: np.ndarray, mode: Mode
) -> dict[str, float]:
    """One object's row from its per-frame J, F, Ḟ and GT visibility over the evaluated frames.

    DAVIS keys: J&F, J_mean, J_recall, J_decay, F_mean, F_recall, F_decay. MOSEv2 adds J&Fdot,
    Fdot_mean and J&Fdot_d / J&Fdot_r (NaN when the object has no such segment).
    """
    j_stats, f_stats = mean_recall_decay(j), mean_recall_decay(f)
    row = {"J&F": (j_stats[0] + f_stats[0]) / 2}
    for name, stats in (("J", j_stats), ("F", f_stats)):
        row.update(zip((f"{name}_mean", f"{name}_recall", f"{name}_decay"), stats, strict=True))
    if mode == "mosev2":
        fdot_mean = float(np.mean(fdot))
        row["J&Fdot"] = (j_stats[0] + fdot_mean) / 2
        row["Fdot_mean"] = fdot_mean
        for suffix, segments in zip("dr", appearance_segments(visible), strict=True):
            row[f"J&Fdot_{suffix}"] = (segment_mean(j, segments) + segment_mean(fdot, segments)) / 2
    return row
