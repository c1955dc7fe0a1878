"""One CPU epoch of the demo recipe on each dataset format (converted from the synthetic set),
and the trainer refusing an invalid dataset before anything is written."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import FAST_OVERRIDES, assert_one_line_error, check_ok, run_command

from dataset_files import coco_images_set, sa1b_from_davis, sav_from_davis
from training_ext.runs.tensorboard_logs import read_step_losses

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset

VIDEOS = 3  # per run: 3 training steps of batch 1


@pytest.fixture(scope="module")
def first_videos(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    listed = tmp_path_factory.mktemp("lists") / "three.txt"
    train = (synthetic_root / "ImageSets" / "train.txt").read_text().split()
    listed.write_text("\n".join(train[:VIDEOS]) + "\n")
    return listed


def convert(synthetic_root: Path, file_list: Path, to: str, out: Path) -> Path:
    check_ok(
        run_command(
            "sam2-data",
            "convert",
            synthetic_root,
            "--file-list",
            file_list,
            "--to",
            to,
            "--out",
            out,
        )
    )
    return out


def train(run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    result = check_ok(
        run_command(
            "sam2-train",
            "-c",
            "demo_scratch",
            "validation=none",
            f"launcher.experiment_log_dir={run_dir}",
            *FAST_OVERRIDES,
            *overrides,
        )
    )
    assert (run_dir / "checkpoints" / "checkpoint.pt").is_file()
    return result


def steps(run_dir: Path) -> int:
    return len(read_step_losses(run_dir / "tensorboard"))


def test_coco_video_mixed_with_coco_images(
    synthetic_root: Path, first_videos: Path, tmp_path: Path
) -> None:
    annotations = convert(synthetic_root, first_videos, "coco_video", tmp_path / "train.json")
    data = json.loads(annotations.read_text())
    data["images"].append(  # a fourth video, without objects: skipped with a warning
        {**data["images"][0], "id": 999, "video_id": 99, "order_in_video": 0}
    )
    annotations.write_text(json.dumps(data))
    images = coco_images_set(tmp_path / "coco")
    run_dir = tmp_path / "run"
    result = train(
        run_dir,
        "dataset=coco_video",
        f"dataset.json={annotations}",
        f"dataset.image_root={synthetic_root / 'JPEGImages'}",
        "dataset.skip_invalid_videos=true",
        "+mix=coco_images",
        f"mix.json={images.save()}",
        f"mix.image_root={images.image_root}",
        "mix.batch_size=3",
    )
    assert "skipping 1 of 4 videos that fail validation" in result.stderr
    assert steps(run_dir) == VIDEOS + 1  # 3 clips of one video + 1 batch of 3 images


def test_youtube_vis(synthetic_root: Path, first_videos: Path, tmp_path: Path) -> None:
    annotations = convert(synthetic_root, first_videos, "youtube_vis", tmp_path / "train.json")
    train(
        tmp_path / "run",
        "dataset=youtube_vis",
        f"dataset.json={annotations}",
        f"dataset.image_root={synthetic_root / 'JPEGImages'}",
    )
    assert steps(tmp_path / "run") == VIDEOS


def test_sav_and_sa1b(synthetic_root: Path, first_videos: Path, tmp_path: Path) -> None:
    names = first_videos.read_text().split()
    sav = sav_from_davis(synthetic_root, names, tmp_path / "sav")
    train(tmp_path / "sav_run", "dataset=sav", f"dataset.root={sav}", "dataset.ann_every=1")
    assert steps(tmp_path / "sav_run") == VIDEOS
    sa1b = sa1b_from_davis(synthetic_root, names, tmp_path / "sa1b")
    train(tmp_path / "sa1b_run", "dataset=sa1b", f"dataset.root={sa1b}")
    assert steps(tmp_path / "sa1b_run") == VIDEOS


def test_trainer_refuses_invalid_datasets(synthetic_root: Path, tmp_path: Path) -> None:
    images = coco_images_set(tmp_path / "coco")
    images.data["annotations"][0]["category_id"] = 8
    bad = images.save()
    run_dir = tmp_path / "run"
    common = ["-c", "demo_scratch", "validation=none", f"launcher.experiment_log_dir={run_dir}"]
    result = run_command(
        "sam2-train",
        *common,
        f"dataset.root={synthetic_root}",
        "+mix=coco_images",
        f"mix.json={bad}",
        f"mix.image_root={images.image_root}",
    )
    assert_one_line_error(
        result,
        f"{bad}: annotations[0].category_id: category_id 8 is not in categories",
        "pass mix.skip_invalid_videos=true",
    )
    result = run_command(
        "sam2-train",
        *common,
        "dataset=coco_video",
        f"dataset.json={tmp_path}/none.json",
        f"dataset.image_root={tmp_path}",
    )
    assert_one_line_error(result, f"dataset.json: file {tmp_path}/none.json does not exist")
    result = run_command("sam2-train", *common, "dataset=youtube_vis")
    assert_one_line_error(result, "dataset.json has no value")
    assert not run_dir.exists()
