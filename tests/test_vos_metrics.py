"""Per-frame and per-object VOS metrics on hand-built masks, checked against the definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training_ext.evaluation.metrics import (
    appearance_segments,
    boundary_f,
    davis_radius,
    disk,
    frame_scores,
    mean_recall_decay,
    mosev2_radii,
    object_scores,
    seg2bmap,
    segment_mean,
)


def square(shape: tuple[int, int], top: int, left: int, size: int) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top : top + size, left : left + size] = True
    return mask


def brute_force_bmap(mask: np.ndarray) -> np.ndarray:
    """Martin's boundary rule pixel by pixel: differs from its E, S or SE neighbour; on the last
    row only E counts, on the last column only S, never the bottom-right pixel."""
    height, width = mask.shape
    out = np.zeros_like(mask, dtype=bool)
    for y in range(height):
        for x in range(width):
            neighbours = []
            if x + 1 < width and y + 1 < height:
                neighbours = [mask[y, x + 1], mask[y + 1, x], mask[y + 1, x + 1]]
            elif x + 1 < width:
                neighbours = [mask[y, x + 1]]
            elif y + 1 < height:
                neighbours = [mask[y + 1, x]]
            out[y, x] = any(n != mask[y, x] for n in neighbours)
    return out


def brute_force_f(gt: np.ndarray, pred: np.ndarray, radius: int) -> float:
    """F from the definition: a boundary pixel is matched when some pixel of the other boundary
    lies within Euclidean distance ``radius`` (integer radius: the disk is exactly that ball)."""
    gt_points = np.argwhere(brute_force_bmap(gt))
    pred_points = np.argwhere(brute_force_bmap(pred))
    if len(gt_points) == 0 or len(pred_points) == 0:
        return float(len(gt_points) == len(pred_points))
    squared = ((gt_points[:, None, :] - pred_points[None, :, :]) ** 2).sum(-1)
    recall = np.mean(squared.min(axis=1) <= radius**2)
    precision = np.mean(squared.min(axis=0) <= radius**2)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def random_blobs(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A few random rectangles, some touching the image border."""
    mask = np.zeros(shape, bool)
    for _ in range(rng.integers(1, 4)):
        top, left = rng.integers(-3, shape[0]), rng.integers(-3, shape[1])
        mask[max(top, 0) : top + rng.integers(1, 12), max(left, 0) : left + rng.integers(1, 12)] = 1
    return mask


def test_seg2bmap_of_a_square_by_hand() -> None:
    expected = np.array([[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]], bool)
    np.testing.assert_array_equal(seg2bmap(square((4, 4), 1, 1, 2)), expected)


@pytest.mark.parametrize("seed", range(5))
def test_seg2bmap_matches_the_pixel_rule(seed: int) -> None:
    mask = random_blobs(np.random.default_rng(seed), (17, 23))
    np.testing.assert_array_equal(seg2bmap(mask), brute_force_bmap(mask))


def test_disk_samples_offsets_from_minus_r() -> None:
    np.testing.assert_array_equal(disk(1), [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    assert disk(2).shape == (5, 5) and disk(2).sum() == 13
    # offsets -1.5, -0.5, 0.5, 1.5: only the four points at distance sqrt(0.5) are inside
    expected = np.zeros((4, 4), np.uint8)
    expected[1:3, 1:3] = 1
    np.testing.assert_array_equal(disk(1.5), expected)


def test_radii() -> None:
    assert davis_radius((480, 854)) == 8  # 0.008 * 979.6 = 7.84
    diagonal_limit = 0.008 * math.hypot(480, 854)
    assert mosev2_radii(100, (480, 854)) == (8, 1)  # ceil(0.1 * 10) = 1 < 7.84
    assert mosev2_radii(10_000, (480, 854)) == (diagonal_limit, diagonal_limit)
    assert mosev2_radii(0, (480, 854)) == (diagonal_limit, diagonal_limit)


def test_jaccard_of_shifted_squares_by_counting() -> None:
    gt = square((40, 40), 5, 5, 10)
    pred = square((40, 40), 5, 8, 10)  # 3 columns right: 10 x 7 overlap, 200 - 70 union
    assert frame_scores(gt, pred, "davis")[0] == pytest.approx(70 / 130)
    assert frame_scores(gt, pred, "mosev2")[0] == pytest.approx(71 / 131)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("shape", [(12, 12), (120, 90)])  # DAVIS radius 1 and 2
def test_boundary_f_matches_brute_force(seed: int, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(seed)
    gt, pred = random_blobs(rng, shape), random_blobs(rng, shape)
    expected = brute_force_f(gt, pred, davis_radius(shape))
    assert frame_scores(gt, pred, "davis")[1] == pytest.approx(expected)
    assert boundary_f(gt, pred, davis_radius(shape)) == pytest.approx(expected)


def test_adaptive_f_uses_a_tighter_radius_for_small_objects() -> None:
    shape = (100, 100)  # F radius ceil(0.008 * 141.4) = 2
    gt = square(shape, 40, 40, 6)  # area 36: Ḟ radius ceil(0.1 * 6) = 1
    pred = square(shape, 40, 42, 6)  # every boundary pixel moves 2 px
    _, f, fdot = frame_scores(gt, pred, "mosev2")
    assert f == 1.0
    assert fdot == pytest.approx(brute_force_f(gt, pred, 1))
    assert fdot < 0.8


def test_mosev2_large_objects_use_the_unrounded_radius() -> None:
    shape = (480, 854)  # DAVIS radius 8; MOSEv2 uses 7.84 for objects this large
    gt = square(shape, 100, 100, 200)
    for shift, mosev2_f_is_one in ((7, True), (8, False)):
        pred = square(shape, 100, 100 + shift, 200)
        assert frame_scores(gt, pred, "davis")[1] == 1.0
        _, f, fdot = frame_scores(gt, pred, "mosev2")
        assert (f == 1.0) == mosev2_f_is_one and fdot == f


def test_empty_masks() -> None:
    empty, blob = np.zeros((30, 30), bool), square((30, 30), 3, 3, 3)
    assert frame_scores(empty, empty, "davis")[:2] == (1.0, 1.0)
    assert frame_scores(empty, empty, "mosev2") == (1.0, 1.0, 1.0)
    assert frame_scores(empty, blob, "davis")[:2] == (0.0, 0.0)  # object gone, predicted
    assert frame_scores(blob, empty, "davis")[:2] == (0.0, 0.0)  # object missed
    assert frame_scores(empty, blob, "mosev2") == (pytest.approx(1 / 10), 0.0, 0.0)


def test_mean_recall_decay_on_a_constructed_sequence() -> None:
    # 8 frames: bins at round(0, 1.75, 3.5, 5.25, 7) = 0, 2, 4, 5, 7, edges inclusive
    values = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    mean, recall, decay = mean_recall_decay(values)
    assert mean == pytest.approx(0.55)
    assert recall == 0.5  # 0.5 itself is not > 0.5
    assert decay == pytest.approx((0.9 + 0.8 + 0.7) / 3 - (0.4 + 0.3 + 0.2) / 3)
    # 5 frames: bins [0, 1] ... [3, 4]
    assert mean_recall_decay(np.array([1, 0.5, 0, 0, 0.25]))[2] == pytest.approx(0.75 - 0.125)
    assert mean_recall_decay(np.array([0.7])) == (0.7, 1.0, 0.0)


def test_decay_of_a_long_video() -> None:
    # 300 frames (beyond uint8 frame indices): bins start 0 and 224, end 75 and 299
    values = np.arange(300) / 299
    expected = np.arange(0, 76).mean() / 299 - np.arange(224, 300).mean() / 299
    assert mean_recall_decay(values)[2] == pytest.approx(expected)


def test_appearance_segments() -> None:
    assert appearance_segments(np.array([1, 1, 0, 0, 1, 1, 1, 0])) == ([(2, 4), (7, 8)], [(4, 7)])
    # starting empty: that first run is not a disappearance, the object appearing is a reappearance
    assert appearance_segments(np.array([0, 0, 1, 1, 0, 1])) == ([(4, 5)], [(2, 4), (5, 6)])
    assert appearance_segments(np.ones(5, bool)) == ([], [])
    assert math.isnan(segment_mean(np.ones(5), []))


def test_object_scores_mosev2_segments() -> None:
    visible = np.array([1, 1, 0, 0, 1, 1], bool)
    j = np.array([0.9, 0.8, 1.0, 0.0, 0.5, 0.7])
    f = np.array([0.6, 0.6, 1.0, 1.0, 0.2, 0.2])
    fdot = np.array([0.5, 0.5, 1.0, 0.0, 0.4, 0.6])
    row = object_scores(j, f, fdot, visible, "mosev2")
    assert row["J_mean"] == pytest.approx(3.9 / 6)
    assert row["F_mean"] == pytest.approx(3.6 / 6)
    assert row["J&F"] == pytest.approx((3.9 + 3.6) / 12)
    assert row["Fdot_mean"] == pytest.approx(3.0 / 6)
    assert row["J&Fdot"] == pytest.approx((3.9 + 3.0) / 12)
    assert row["J&Fdot_d"] == pytest.approx((0.5 + 0.5) / 2)  # frames 2-3
    assert row["J&Fdot_r"] == pytest.approx((0.6 + 0.5) / 2)  # frames 4-5
    davis = object_scores(j, f, None, visible, "davis")
    assert list(davis) == ["J&F", "J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay"]
    assert math.isnan(object_scores(j, f, fdot, np.ones(6, bool), "mosev2")["J&Fdot_d"])
