"""DAVIS-mode scores equal the reference vos-benchmark 0.1.0 (installed with --no-deps).

vos-benchmark has no void label (it would score 255 as an object), and it starts an object's
frame list at the object's first appearance (in GT or prediction) instead of at the first scored
frame: the folders below avoid both, and the last test pins the second difference down.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.morphology import disk as skimage_disk
from test_scoring import save_mask, write_video
from vos_benchmark.benchmark import benchmark

from training_ext.evaluation.metrics import disk
from training_ext.evaluation.score import score_folders

# (height, width, frames, object ids): 480x854 gives the DAVIS radius 8, the others 1 to 3.
VIDEOS = [
    (96, 128, 9, (1, 2)),
    (120, 200, 10, (3, 7, 12)),
    (480, 854, 6, (1, 2, 5)),
    (150, 150, 8, (9,)),
]


def draw(mask: np.ndarray, obj: int, kind: int, centre: tuple[int, int], size: int) -> None:
    if kind == 0:
        cv2.circle(mask, centre, size, obj, -1)
    elif kind == 1:
        corner = (centre[0] + size, centre[1] + size // 2)
        cv2.rectangle(mask, (centre[0] - size, centre[1] - size // 2), corner, obj, -1)
    else:
        angles = np.linspace(0, 2 * np.pi, 8)[:-1]
        points = np.stack([centre[0] + size * np.cos(angles), centre[1] + size * np.sin(angles)])
        cv2.fillPoly(mask, [points.T.astype(np.int32)], obj)


def make_folders(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """Moving, overlapping shapes (some leaving the image); predictions jittered, resized,
    sometimes missing or misplaced; objects hidden in some frames after the first scored one."""
    rng = np.random.default_rng(seed)
    for index, (height, width, frames, objects) in enumerate(VIDEOS):
        tracks = {
            obj: (
                rng.uniform(0.2, 0.8) * width,
                rng.uniform(0.2, 0.8) * height,
                *rng.uniform(-8, 8, 2),
            )
            for obj in objects
        }
        sizes = {obj: int(rng.choice([2, 5, 12, height // 4])) for obj in objects}
        hidden = {obj: set(rng.choice(np.arange(2, frames), 2, replace=False)) for obj in objects}
        gt_masks, pred_masks = [], []
        for t in range(frames):
            gt, pred = np.zeros((height, width), np.uint8), np.zeros((height, width), np.uint8)
            for obj in sorted(objects, key=sizes.get, reverse=True):  # small ones stay visible
                x, y, dx, dy = tracks[obj]
                centre = (int(x + dx * t), int(y + dy * t))
                if t not in hidden[obj]:
                    draw(gt, obj, obj % 3, centre, sizes[obj])
                luck = rng.random()
                if luck < 0.75:
                    jitter = tuple(int(c + rng.integers(-3, 4)) for c in centre)
                    draw(
                        pred, obj, obj % 3, jitter, max(1, int(sizes[obj] * rng.uniform(0.7, 1.3)))
                    )
                elif luck < 0.9:
                    draw(pred, obj, 0, (int(rng.integers(width)), int(rng.integers(height))), 4)
            gt_masks.append(gt)
            pred_masks.append(pred)
        # Every object is in the first scored frame, where vos-benchmark starts counting.
        assert set(np.unique(gt_masks[1])) == {0, *objects}
        write_video(root / "gt" / f"video{index}", gt_masks)
        write_video(root / "pred" / f"video{index}", pred_masks, mode="L" if index % 2 else "P")
    return root / "gt", root / "pred"


def test_per_video_scores_equal_vos_benchmark(tmp_path: Path) -> None:
    gt, pred = make_folders(tmp_path)
    ours = score_folders(gt, pred, "davis", processes=2)
    *_, (reference,) = benchmark([str(gt)], [str(pred)], num_processes=2, verbose=False)
    per_video = ours.per_video.set_index("video")
    assert sorted(reference) == sorted(per_video.index)
    for video, (j_by_object, f_by_object) in reference.items():
        j, f = np.array(list(j_by_object.values())), np.array(list(f_by_object.values()))
        assert per_video.loc[video, "objects"] == len(j)
        assert 100 * per_video.loc[video, "J_mean"] == pytest.approx(j.mean(), abs=1e-6)
        assert 100 * per_video.loc[video, "F_mean"] == pytest.approx(f.mean(), abs=1e-6)
        assert 100 * per_video.loc[video, "J&F"] == pytest.approx((j + f).mean() / 2, abs=1e-6)
    objects = ours.per_object.set_index(["video", "object"])
    for video, (j_by_object, f_by_object) in reference.items():
        for obj, j in j_by_object.items():
            assert 100 * objects.loc[(video, obj), "J_mean"] == pytest.approx(j, abs=1e-6)
            assert 100 * objects.loc[(video, obj), "F_mean"] == pytest.approx(
                f_by_object[obj], abs=1e-6
            )
    # The folders do exercise the edge cases: partly wrong, empty and perfect frames.
    assert 0.2 < ours.summary["J_mean"] < 0.9


@pytest.mark.parametrize("radius", [1, 2, 8, 0.008 * np.hypot(480, 854), 1.131, 3.7])
def test_disk_equals_skimage(radius: float) -> None:
    np.testing.assert_array_equal(disk(radius), skimage_disk(radius))


def test_late_object_counts_every_scored_frame_unlike_vos_benchmark(tmp_path: Path) -> None:
    """Id 2 appears in frame 3 of 6 and is predicted 2 px off: we (like the DAVIS toolkit and
    MOSEv2) count frames 1-2 as correct (absent from both), vos-benchmark skips them."""
    for t in range(6):
        gt, pred = np.zeros((40, 40), np.uint8), np.zeros((40, 40), np.uint8)
        gt[5:15, 5:15] = pred[5:15, 5:15] = 1
        if t >= 3:
            gt[20:30, 20:30] = 2
            pred[20:30, 22:32] = 2
        save_mask(tmp_path / "gt" / "v" / f"{t}.png", gt)
        save_mask(tmp_path / "pred" / "v" / f"{t}.png", pred)
    ours = score_folders(tmp_path / "gt", tmp_path / "pred", "davis").per_object
    *_, (reference,) = benchmark(
        [str(tmp_path / "gt")], [str(tmp_path / "pred")], num_processes=1, verbose=False
    )
    assert ours.set_index("object").loc[2, "J_mean"] == pytest.approx((1 + 1 + 80 / 120 * 2) / 4)
    assert reference["v"][0][2] == pytest.approx(100 * 80 / 120)
