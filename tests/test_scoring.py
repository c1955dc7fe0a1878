"""score_folders / write_scores on real PNG folders: known answers, edge cases, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from training_ext.errors import UserError
from training_ext.evaluation.score import score_folders, write_scores

PALETTE = [channel for index in range(256) for channel in (index, 255 - index, index * 7 % 256)]
SHAPE = (60, 100)


def save_mask(path: Path, mask: np.ndarray, mode: str = "P") -> None:
    """An id mask as a palette PNG (full 256-colour palette) or a grayscale one (mode "L")."""
    image = Image.fromarray(mask.astype(np.uint8))
    if mode == "P":
        image.putpalette(PALETTE)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def write_video(folder: Path, masks: list[np.ndarray], mode: str = "P") -> None:
    for index, mask in enumerate(masks):
        save_mask(folder / f"{index:05d}.png", mask, mode)


def frame(*squares: tuple[int, int, int, int]) -> np.ndarray:
    """A SHAPE mask with (id, top, left, size) squares drawn in order."""
    mask = np.zeros(SHAPE, np.uint8)
    for obj, top, left, size in squares:
        mask[top : top + size, left : left + size] = obj
    return mask


def assert_one_line(error: pytest.ExceptionInfo[UserError], *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


@pytest.fixture
def two_videos(tmp_path: Path) -> tuple[Path, Path]:
    """Video 'a': ids 3 and 7, 3 perfect, 7 shifted 3 px in every frame. Video 'b': id 1, perfect
    except a wrong first and last frame, which are not scored, and a spurious predicted id 5."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    write_video(gt / "a", [frame((3, 2, 2, 10), (7, 20, 30, 10))] * 5)
    write_video(pred / "a", [frame((3, 2, 2, 10), (7, 20, 33, 10))] * 5)
    write_video(gt / "b", [frame((1, 5, 5, 8))] * 4)
    spurious = frame((1, 5, 5, 8), (5, 40, 80, 5))
    write_video(pred / "b", [frame(), spurious, spurious, frame((1, 30, 40, 8))])
    return gt, pred


def test_known_answers(two_videos: tuple[Path, Path]) -> None:
    result = score_folders(*two_videos, mode="davis")
    objects = result.per_object
    assert list(objects.columns) == [
        *("video", "object", "J&F", "J_mean", "J_recall", "J_decay"),
        *("F_mean", "F_recall", "F_decay"),
    ]
    assert objects[["video", "object"]].values.tolist() == [["a", 3], ["a", 7], ["b", 1]]
    exact = objects.set_index(["video", "object"])
    assert exact.loc[("a", 3), "J_mean"] == 1.0 and exact.loc[("a", 3), "F_mean"] == 1.0
    assert exact.loc[("a", 7), "J_mean"] == pytest.approx(70 / 130)  # 10 x 7 overlap
    assert exact.loc[("a", 7), "J_decay"] == 0.0  # the same in every frame
    assert exact.loc[("b", 1), "J&F"] == 1.0  # the wrong first and last frame do not count
    videos = result.per_video.set_index("video")
    assert list(result.per_video.columns[:2]) == ["video", "objects"]
    assert videos.loc["a", "objects"] == 2
    assert videos.loc["a", "J_mean"] == pytest.approx((1 + 70 / 130) / 2)
    summary = result.summary
    assert summary["mode"] == "davis"
    assert (summary["videos"], summary["objects"], summary["frames"]) == (2, 3, 3 + 2)
    assert summary["J_mean"] == pytest.approx((1 + 70 / 130 + 1) / 3)
    assert summary["J&F"] == pytest.approx(objects["J&F"].mean())


def test_processes_give_the_same_tables(two_videos: tuple[Path, Path]) -> None:
    one = score_folders(*two_videos, mode="mosev2", processes=1)
    two = score_folders(*two_videos, mode="mosev2", processes=2)
    pd.testing.assert_frame_equal(one.per_object, two.per_object)
    pd.testing.assert_frame_equal(one.per_video, two.per_video)


def test_grayscale_masks_score_like_palette_masks(
    two_videos: tuple[Path, Path], tmp_path: Path
) -> None:
    gt, pred = two_videos
    for video in ("a", "b"):
        for path in sorted((pred / video).glob("*.png")):
            save_mask(tmp_path / "gray" / video / path.name, np.asarray(Image.open(path)), "L")
    palette = score_folders(gt, pred, mode="davis").per_object
    gray = score_folders(gt, tmp_path / "gray", mode="davis").per_object
    pd.testing.assert_frame_equal(palette, gray)


def test_void_pixels_are_left_out(tmp_path: Path) -> None:
    gt_masks = [frame((1, 5, 5, 10), (255, 5, 15, 10))] * 4  # void right next to the object
    pred_masks = [frame((1, 5, 5, 20))] * 4  # half of it on void
    write_video(tmp_path / "gt" / "v", gt_masks)
    write_video(tmp_path / "pred" / "v", pred_masks)
    result = score_folders(tmp_path / "gt", tmp_path / "pred", mode="davis")
    assert result.per_object["object"].tolist() == [1]  # 255 is not an object
    row = result.per_object.iloc[0]
    # Outside the void the prediction also covers rows 15-24 (cols 5-24): 100 / (100 + 200).
    assert row["J_mean"] == pytest.approx(100 / 300)  # 100 / 400 if void counted


def test_mosev2_object_leaving_and_appearing_late(tmp_path: Path) -> None:
    """Scored frames 1-5. Id 2 leaves in frames 3-4 (predicted in 3, not in 4) and comes back in 5;
    id 9 first appears in frame 3 and is predicted exactly."""
    two, nine = (2, 5, 5, 10), (9, 20, 30, 8)
    gt_masks = [frame(two), frame(two), frame(two), frame(nine), frame(nine), frame(two, nine)]
    gt_masks.append(frame(two, nine))
    pred_masks = [*gt_masks[:3], frame(two, nine), frame(nine), *gt_masks[5:]]
    write_video(tmp_path / "gt" / "v", gt_masks)
    write_video(tmp_path / "pred" / "v", pred_masks)
    result = score_folders(tmp_path / "gt", tmp_path / "pred", mode="mosev2")
    rows = result.per_object.set_index("object")
    # Frame 3: id 2 predicted (100 px) but absent: J = (0 + 1) / (100 + 1), Ḟ = 0. Frame 4: 1, 1.
    gone_j, gone_fdot = (1 / 101 + 1) / 2, 0.5
    assert rows.loc[2, "J&Fdot_d"] == pytest.approx((gone_j + gone_fdot) / 2)
    assert rows.loc[2, "J&Fdot_r"] == 1.0  # frame 5
    assert rows.loc[2, "J_mean"] == pytest.approx((4 + 1 / 101) / 5)
    assert rows.loc[2, "Fdot_mean"] == pytest.approx(4 / 5)
    assert math.isnan(rows.loc[9, "J&Fdot_d"])  # never left after being seen
    assert rows.loc[9, "J&Fdot_r"] == 1.0  # appearing in frame 3 counts as a reappearance
    assert rows.loc[9, "J&Fdot"] == 1.0  # absent from both masks in frames 1-2: 1
    assert result.summary["J&Fdot_d"] == pytest.approx(rows.loc[2, "J&Fdot_d"])
    assert set(result.per_object.columns) >= {"J&Fdot", "Fdot_mean", "J&Fdot_d", "J&Fdot_r"}


def test_empty_prediction_and_object_only_in_first_frame(tmp_path: Path) -> None:
    gt_masks = [frame((4, 5, 5, 10), (6, 25, 40, 5))] + [frame((4, 5, 5, 10))] * 3
    write_video(tmp_path / "gt" / "v", gt_masks)
    write_video(tmp_path / "pred" / "v", [frame()] * 4)
    rows = score_folders(tmp_path / "gt", tmp_path / "pred", "davis").per_object
    rows = rows.set_index("object")
    assert rows.loc[4, "J&F"] == 0.0  # visible, never predicted
    assert rows.loc[6, "J&F"] == 1.0  # only in the (unscored) first frame, correctly not predicted


def test_write_scores(two_videos: tuple[Path, Path], tmp_path: Path) -> None:
    result = score_folders(*two_videos, mode="mosev2")
    write_scores(result, tmp_path / "out" / "scores")
    per_object = pd.read_csv(tmp_path / "out" / "scores" / "per_object.csv")
    assert list(per_object.columns) == list(result.per_object.columns)
    assert len(pd.read_csv(tmp_path / "out" / "scores" / "per_video.csv")) == 2
    summary = json.loads((tmp_path / "out" / "scores" / "summary.json").read_text())
    assert summary["J&Fdot_d"] is None  # no object ever leaves: null, not NaN
    assert summary["J&Fdot"] == pytest.approx(result.per_object["J&Fdot"].mean())
    assert set(summary) == {"mode", "videos", "objects", "frames", *result.per_object.columns[2:]}


def test_missing_folders(tmp_path: Path) -> None:
    (tmp_path / "pred").mkdir()
    with pytest.raises(UserError) as error:
        score_folders(tmp_path / "nope", tmp_path / "pred", "davis")
    assert_one_line(error, "ground-truth folder", "nope", "does not exist")
    (tmp_path / "gt").mkdir()
    with pytest.raises(UserError) as error:
        score_folders(tmp_path / "gt", tmp_path / "pred", "davis")
    assert_one_line(error, f"ground-truth folder {tmp_path / 'gt'} has no video folders")
    write_video(tmp_path / "gt" / "v", [frame((1, 0, 0, 5))] * 3)
    with pytest.raises(UserError) as error:
        score_folders(tmp_path / "gt", tmp_path / "missing", "davis")
    assert_one_line(error, f"prediction folder {tmp_path / 'missing'} does not exist")


def test_prediction_missing_a_video(two_videos: tuple[Path, Path]) -> None:
    gt, pred = two_videos
    for path in (pred / "b").iterdir():
        path.unlink()
    (pred / "b").rmdir()
    with pytest.raises(UserError) as error:
        score_folders(gt, pred, "davis")
    assert_one_line(
        error, f"prediction folder {pred} has no folder for video 'b' (1 of 2 ground-truth videos"
    )


def test_prediction_missing_a_frame(two_videos: tuple[Path, Path]) -> None:
    gt, pred = two_videos
    (pred / "a" / "00004.png").unlink()  # the last frame is not scored: fine
    score_folders(gt, pred, "davis")
    (pred / "a" / "00002.png").unlink()
    with pytest.raises(UserError) as error:
        score_folders(gt, pred, "davis")
    assert_one_line(
        error, f"prediction folder {pred / 'a'} is missing frame 00002.png (1 of 3 scored frames"
    )


def test_size_mismatch(two_videos: tuple[Path, Path]) -> None:
    gt, pred = two_videos
    save_mask(pred / "b" / "00002.png", np.zeros((30, 100), np.uint8))
    with pytest.raises(UserError) as error:
        score_folders(gt, pred, "davis", processes=2)  # found in a worker, reported the same
    assert_one_line(error, str(pred / "b" / "00002.png"), "100x30", "100x60", str(gt / "b"))


def test_rgb_masks(two_videos: tuple[Path, Path]) -> None:
    gt, pred = two_videos
    rgb = Image.fromarray(np.zeros((*SHAPE, 3), np.uint8))
    rgb.save(pred / "a" / "00001.png")
    with pytest.raises(UserError) as error:
        score_folders(gt, pred, "davis")
    assert_one_line(error, str(pred / "a" / "00001.png"), "mode RGB", "palette", "single-channel")
    rgb.save(gt / "b" / "00003.png")  # a later frame: found while scoring
    save_mask(pred / "a" / "00001.png", frame())
    with pytest.raises(UserError) as error:
        score_folders(gt, pred, "davis")
    assert_one_line(error, str(gt / "b" / "00003.png"), "mode RGB")


def test_too_short_or_objectless_ground_truth(tmp_path: Path) -> None:
    write_video(tmp_path / "gt" / "v", [frame((1, 0, 0, 5))] * 2)
    write_video(tmp_path / "pred" / "v", [frame()] * 2)
    with pytest.raises(UserError) as error:
        score_folders(tmp_path / "gt", tmp_path / "pred", "davis")
    assert_one_line(error, str(tmp_path / "gt" / "v"), "has 2 PNG frames", "at least 3")
    write_video(tmp_path / "gt" / "v", [frame((255, 0, 0, 5))] * 3)
    write_video(tmp_path / "pred" / "v", [frame()] * 3)
    with pytest.raises(UserError) as error:
        score_folders(tmp_path / "gt", tmp_path / "pred", "davis")
    assert_one_line(error, "has no object ids")


def test_bad_mode(two_videos: tuple[Path, Path]) -> None:
    with pytest.raises(UserError) as error:
        score_folders(*two_videos, mode="ytvos")  # type: ignore[arg-type]
    assert_one_line(error, "'davis' or 'mosev2'", "'ytvos'")


def test_unreadable_png_and_hidden_files(two_videos: tuple[Path, Path]) -> None:
    gt, pred = two_videos
    (gt / "a" / "._00001.png").write_bytes(b"macOS metadata")  # hidden: ignored
    (gt / ".cache").mkdir()
    score_folders(gt, pred, "davis")
    (pred / "a" / "00002.png").write_bytes(b"not a png")
    with pytest.raises(UserError) as error:
        score_folders(gt, pred, "davis")
    assert_one_line(error, str(pred / "a" / "00002.png"), "cannot be read as an image")
