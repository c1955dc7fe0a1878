"""Dataset adapters on small real files: masks as drawn, identity and filter options, every bad
case of the validator (one line each), conversion round trips, statistics."""

from __future__ import annotations

import json
import logging
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from dataset_files import (
    HEIGHT,
    WIDTH,
    JsonSet,
    box_mask,
    coco_images_set,
    coco_video_set,
    encode,
    sa1b_from_davis,
    sav_from_davis,
    write_frame,
    youtube_vis_set,
)
from training_ext.cli import data as data_cli
from training_ext.config import compose_config, initialize_hydra
from training_ext.data.adapters.coco_images import CocoImagesRawDataset
from training_ext.data.adapters.coco_video import CocoVideoRawDataset
from training_ext.data.adapters.davis_folder import CheckedPNGRawDataset
from training_ext.data.adapters.problems import InvalidDatasetError
from training_ext.data.adapters.youtube_vis import YouTubeVISRawDataset
from training_ext.data.masks_io import read_id_mask, write_palette_mask
from training_ext.errors import UserError

KINDS = ("rle", "uncompressed_rle", "polygon")


def sam2_data(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    """``sam2-data`` in this process: exit code, stdout, stderr."""
    code = data_cli.main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("kind", KINDS)
def test_coco_video_masks_are_the_drawn_ones(tmp_path: Path, kind: str) -> None:
    files = coco_video_set(tmp_path, kind=kind)
    dataset = CocoVideoRawDataset(str(files.save()), str(files.image_root))
    assert len(dataset) == 2
    video, loader = dataset.get_video(1)
    assert video.video_name == "v2" and [f.frame_idx for f in video.frames] == [0, 1, 2]
    assert video.frames[2].image_path == str(files.image_root / "v2" / "00002.jpg")
    for t in range(3):
        masks = loader.load(t)
        assert sorted(masks) == [1, 2]
        for obj in (1, 2):
            assert masks[obj].dtype == torch.bool
            assert np.array_equal(masks[obj].numpy(), box_mask(t, obj))


@pytest.mark.parametrize("kind", KINDS)
def test_youtube_vis_masks_and_absent_objects(tmp_path: Path, kind: str) -> None:
    files = youtube_vis_set(tmp_path, kind=kind)
    dataset = YouTubeVISRawDataset(str(files.save()), str(files.image_root))
    video, loader = dataset.get_video(0)
    assert video.video_name == "v1" and len(video.frames) == 3
    assert np.array_equal(loader.load(1)[2].numpy(), box_mask(1, 2))
    assert sorted(loader.load(2)) == [1]  # object 2 is null in the last frame


@pytest.mark.parametrize("kind", KINDS)
def test_coco_images_are_one_frame_videos(tmp_path: Path, kind: str) -> None:
    files = coco_images_set(tmp_path, kind=kind)
    dataset = CocoImagesRawDataset(str(files.save()), str(files.image_root))
    video, loader = dataset.get_video(2)
    assert len(dataset) == 3 and len(video.frames) == 1
    assert np.array_equal(loader.load(0)[2].numpy(), box_mask(3, 2))


def test_object_identity_crowd_and_keyframes(tmp_path: Path) -> None:
    files = coco_video_set(tmp_path, videos=1)
    for annotation in files.data["annotations"]:
        annotation["instance_id"] = 10 * annotation.pop("track_id")  # ids 10, 20
    files.data["annotations"][0]["iscrowd"] = 1  # object 10 in frame 0
    for image in files.data["images"]:
        image["is_key"] = image["order_in_video"] != 1
    path = str(files.save())
    root = str(files.image_root)

    video, loader = CocoVideoRawDataset(path, root).get_video(0)
    assert sorted(loader.load(0)) == [20] and sorted(loader.load(1)) == [10, 20]
    _, loader = CocoVideoRawDataset(path, root, crowd="keep").get_video(0)
    assert sorted(loader.load(0)) == [10, 20]
    _, loader = CocoVideoRawDataset(path, root, object_key="category_id").get_video(0)
    assert sorted(loader.load(1)) == [1, 2]
    video, _ = CocoVideoRawDataset(path, root, keyframe_field="is_key").get_video(0)
    assert [frame.frame_idx for frame in video.frames] == [0, 2]


def test_track_ids_above_255_are_renumbered_by_first_appearance(tmp_path: Path) -> None:
    files = coco_video_set(tmp_path, videos=1)
    for annotation in files.data["annotations"]:
        annotation["track_id"] = {1: 1000, 2: "car-7"}[annotation["track_id"]]
    _, loader = CocoVideoRawDataset(str(files.save()), str(files.image_root)).get_video(0)
    assert np.array_equal(loader.load(0)[2].numpy(), box_mask(0, 2))


def test_skipping_invalid_videos_warns_with_a_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = coco_video_set(tmp_path, videos=3)
    files.data["annotations"] = [a for a in files.data["annotations"] if a["image_id"] > 3]
    path, root = str(files.save()), str(files.image_root)
    with pytest.raises(InvalidDatasetError, match="no object in any frame"):
        CocoVideoRawDataset(path, root)
    with caplog.at_level(logging.WARNING):
        dataset = CocoVideoRawDataset(path, root, skip_invalid_videos=True)
    assert [video.name for video in dataset.videos] == ["v2", "v3"]
    assert "skipping 1 of 3 videos" in caplog.text


# ---- bad input: each problem is one line naming file/key, problem and fix -------------------


def _drop_frame_file(files: JsonSet) -> None:
    (files.image_root / "v1" / "00001.jpg").unlink()


def _corrupt_frame_file(files: JsonSet) -> None:
    (files.image_root / "v1" / "00001.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")


def _resize_frame_file(files: JsonSet) -> None:
    Image.new("RGB", (WIDTH + 8, HEIGHT)).save(files.image_root / "v2" / "00000.jpg")


def _set(path: str, value: object) -> Callable[[JsonSet], None]:
    """Mutation setting ``data[a][i][b] = value`` for path 'a.i.b'."""

    def mutate(files: JsonSet) -> None:
        *parents, leaf = path.split(".")
        node = files.data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if value is _DELETE:
            del node[int(leaf) if leaf.isdigit() else leaf]
        else:
            node[int(leaf) if leaf.isdigit() else leaf] = value

    return mutate


_DELETE = object()


def _no_objects_in_v2(files: JsonSet) -> None:
    files.data["annotations"] = [a for a in files.data["annotations"] if a["image_id"] <= 3]


def _gap(files: JsonSet) -> None:
    files.data["images"][2]["order_in_video"] = 5


COCO_VIDEO_CASES = {
    "missing frame": (_drop_frame_file, "v1/00001.jpg: frame image does not exist"),
    "unreadable frame": (_corrupt_frame_file, "v1/00001.jpg: unreadable image"),
    "frame size": (_resize_frame_file, "mask size differs from frame size"),
    "duplicate order": (_set("images.1.order_in_video", 0), "duplicate values [0]"),
    "no video_id": (_set("images.4.video_id", _DELETE), "images[4].video_id: image 5 has no"),
    "unknown image": (_set("annotations.3.image_id", 99), "annotations[3].image_id: image 99"),
    "rle size": (
        _set("annotations.0.segmentation", encode(np.ones((8, 8), bool))),
        "annotations[0].segmentation: RLE size [8, 8] differs from the image size [32, 40]",
    ),
    "bad segmentation": (_set("annotations.2.segmentation", [[1, 2]]), "not a polygon list"),
    "empty categories": (_set("categories", []), "coco_video.json: categories: missing or empty"),
    "missing categories": (_set("categories", _DELETE), "categories: missing or empty"),
    "unknown category": (_set("annotations.5.category_id", 7), "category_id 7 is not in"),
    "video without objects": (_no_objects_in_v2, "video 'v2': no object in any frame"),
    "missing track_id": (_set("annotations.1.track_id", _DELETE), "missing while other"),
}


@pytest.mark.parametrize("case", COCO_VIDEO_CASES)
def test_coco_video_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture, case: str) -> None:
    mutate, fragment = COCO_VIDEO_CASES[case]
    files = coco_video_set(tmp_path)
    mutate(files)
    code, out, err = sam2_data(capsys, "validate", files.save(), "--image-root", files.image_root)
    assert_one_line(code, err, "(coco_video): 2 videos, 1 errors", "(listed above)")
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and fragment in errors[0], out
    assert ";" in errors[0]  # where: what; how to fix


def test_gaps_in_order_are_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    files = coco_video_set(tmp_path)
    _gap(files)
    code, out, _ = sam2_data(capsys, "validate", files.save(), "--image-root", files.image_root)
    assert code == 0
    assert "warning: " in out and "frames [2, 3, 4] are missing" in out
    assert "1 warnings" in out


def test_validate_reports_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    files = coco_video_set(tmp_path, videos=3)
    _set("annotations.0.category_id", 9)(files)
    _set("annotations.7.image_id", 77)(files)
    _drop_frame_file(files)
    _set("images.7.order_in_video", 0)(files)
    code, out, err = sam2_data(capsys, "validate", files.save(), "--image-root", files.image_root)
    assert_one_line(code, err, "3 videos, 4 errors, 1 warnings")
    assert len(out.strip().splitlines()) == 5, out


def test_malformed_json_names_line_and_column(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"images": [\n  {"id": 1,, }\n]}')
    code, _, err = sam2_data(capsys, "validate", path, "--image-root", tmp_path)
    assert_one_line(code, err, f"{path}: malformed JSON at line 2, column 12")


YOUTUBE_VIS_CASES = {
    "frames": (
        _set("annotations.1.segmentations", [None, None]),
        "annotations[1].segmentations: 2 entries for the 3 frames of video 'v1' (missing or extra",
    ),
    "rle size": (
        _set("annotations.2.segmentations.0", encode(np.ones((4, 4), bool))),
        "segmentations[0]: RLE size [4, 4]",
    ),
    "unknown video": (_set("annotations.0.video_id", 42), "annotations[0].video_id: not an"),
    "unknown category": (_set("annotations.3.category_id", 5), "category_id 5 is not in"),
    "no objects": (
        _set("annotations.3.segmentations", [None, None, None]),
        "video 'v2': no object in any frame",
    ),
}


@pytest.mark.parametrize("case", YOUTUBE_VIS_CASES)
def test_youtube_vis_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture, case: str) -> None:
    mutate, fragment = YOUTUBE_VIS_CASES[case]
    files = youtube_vis_set(tmp_path)
    if case == "no objects":
        _set("annotations.2.segmentations", [None, None, None])(files)
    mutate(files)
    code, out, err = sam2_data(capsys, "validate", files.save(), "--image-root", files.image_root)
    assert_one_line(code, err, "youtube_vis", "1 errors")
    assert fragment in out, out


def test_coco_images_without_objects_are_left_out(tmp_path: Path, capsys) -> None:
    files = coco_images_set(tmp_path)
    files.data["annotations"] = [a for a in files.data["annotations"] if a["image_id"] != 2]
    _set("annotations.0.category_id", 3)(files)
    code, out, err = sam2_data(capsys, "validate", files.save(), "--image-root", files.image_root)
    assert_one_line(code, err, "coco_images", "1 errors, 1 warnings")
    assert "1 images have no object (e.g. '2'); left out (warning)" in out
    assert "annotations[0].category_id: category_id 3 is not in categories" in out


def davis_set(root: Path, videos: int = 2, frames: int = 3) -> Path:
    for video in range(1, videos + 1):
        for t in range(frames):
            write_frame(root / "JPEGImages" / f"v{video}" / f"{t:05d}.jpg", seed=t)
            ids = box_mask(t, 1).astype(np.uint8) + 2 * box_mask(t, 2)
            (root / "Annotations" / f"v{video}").mkdir(parents=True, exist_ok=True)
            write_palette_mask(root / "Annotations" / f"v{video}" / f"{t:05d}.png", ids)
    return root


def _rgb_mask(root: Path) -> None:
    Image.new("RGB", (WIDTH, HEIGHT), (128, 0, 0)).save(root / "Annotations/v1/00001.png")


def _id_300(root: Path) -> None:
    ids = np.zeros((HEIGHT, WIDTH), np.uint16)
    ids[2:5, 2:5] = 300
    Image.fromarray(ids).save(root / "Annotations/v2/00000.png")


def _small_mask(root: Path) -> None:
    write_palette_mask(root / "Annotations/v1/00002.png", np.ones((HEIGHT // 2, WIDTH), np.uint8))


DAVIS_CASES = {
    "RGB mask": (_rgb_mask, "Annotations/v1: 1 RGB masks (palette or grey expected), e.g. 00001"),
    "object id > 255": (_id_300, "Annotations/v2: object id 300 > 255"),
    "mask size": (_small_mask, "1 masks whose size differs from their frame, e.g. 00002.png"),
    "missing mask": (
        lambda root: (root / "Annotations/v1/00001.png").unlink(),
        "frames without a mask: 00001",
    ),
    "missing frame": (
        lambda root: (root / "JPEGImages/v2/00002.jpg").unlink(),
        "masks without a frame (missing frames): 00002",
    ),
    "unreadable frame": (
        lambda root: (root / "JPEGImages/v2/00001.jpg").write_bytes(b"garbage"),
        "1 unreadable frames, e.g. 00001.jpg",
    ),
    "empty video": (
        lambda root: [
            write_palette_mask(path, np.zeros((HEIGHT, WIDTH), np.uint8))
            for path in (root / "Annotations/v1").iterdir()
        ],
        "Annotations/v1: every mask is empty",
    ),
}


@pytest.mark.parametrize("case", DAVIS_CASES)
def test_davis_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture, case: str) -> None:
    mutate, fragment = DAVIS_CASES[case]
    root = davis_set(tmp_path / "davis")
    mutate(root)
    code, out, err = sam2_data(capsys, "validate", root)
    assert_one_line(code, err, "(davis): 2 videos, 1 errors")
    assert fragment in out, out


def test_checked_png_dataset_skips_or_refuses(tmp_path: Path) -> None:
    root = davis_set(tmp_path / "davis", videos=3)
    (root / "Annotations/v2/00001.png").unlink()
    args = (str(root / "JPEGImages"), str(root / "Annotations"))
    with pytest.raises(InvalidDatasetError, match="frames without a mask: 00001"):
        CheckedPNGRawDataset(*args)
    assert CheckedPNGRawDataset(*args, skip_invalid_videos=True).video_names == ["v1", "v3"]


# ---- convert and stats ----------------------------------------------------------------------


def test_round_trips_through_coco_video_and_youtube_vis(
    synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    images = synthetic_root / "JPEGImages"
    for to in ("coco_video", "youtube_vis"):
        json_path = tmp_path / f"{to}.json"
        code, out, err = sam2_data(
            capsys, "convert", synthetic_root, "--to", to, "--out", json_path
        )
        assert code == 0, err
        back = tmp_path / f"back_{to}"
        code, out, err = sam2_data(
            capsys, "convert", json_path, "--image-root", images, "--to", "davis", "--out", back
        )
        assert code == 0, err
        for mask in sorted((synthetic_root / "Annotations").glob("*/*.png")):
            relative = mask.relative_to(synthetic_root / "Annotations")
            assert np.array_equal(read_id_mask(mask), read_id_mask(back / "Annotations" / relative))
            frame = (images / relative).with_suffix(".jpg")
            copied = (back / "JPEGImages" / relative).with_suffix(".jpg")
            assert frame.read_bytes() == copied.read_bytes()


def test_convert_refuses_more_than_255_objects_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    files = coco_video_set(tmp_path, videos=1, frames=1)
    template = files.data["annotations"][0]
    files.data["annotations"] = [{**template, "id": k, "track_id": 1000 + k} for k in range(256)]
    code, _, err = convert_to_davis(capsys, files, tmp_path / "davis")
    assert_one_line(code, err, "video 'v1' has 256 objects, object id > 255")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coco_video.json", "images"]


def test_convert_to_an_existing_path_is_refused(tmp_path: Path, capsys) -> None:
    files = coco_video_set(tmp_path)
    code, _, err = convert_to_davis(capsys, files, files.image_root)
    assert_one_line(code, err, "already exists")


def convert_to_davis(capsys: pytest.CaptureFixture, files, out: Path) -> tuple:
    """`sam2-data convert <files' JSON> --to davis --out out`: (exit code, stdout, stderr)."""
    return sam2_data(
        capsys,
        "convert",
        files.save(),
        "--image-root",
        files.image_root,
        "--to",
        "davis",
        "--out",
        out,
    )


def test_stats_table_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    files = youtube_vis_set(tmp_path)
    plot = tmp_path / "stats.png"
    code, out, err = sam2_data(
        capsys, "stats", files.save(), "--image-root", files.image_root, "--plot", plot
    )
    assert code == 0, err
    assert "2 videos, 6 frames, 4 objects, 10 masks" in out
    visible = next(line for line in out.splitlines() if line.startswith("visible frames"))
    assert [float(value) for value in visible.split()[4:]] == [4, 2.5, 2, 2.5, 3]
    assert Image.open(plot).size == (1000, 700)
    davis = davis_set(tmp_path / "davis")
    code, out, _ = sam2_data(capsys, "stats", davis)
    assert code == 0 and "2 videos, 6 frames, 4 objects, 12 masks" in out


def test_stats_says_which_videos_its_numbers_leave_out(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    davis = davis_set(tmp_path / "davis")
    broken = sorted((davis / "Annotations").iterdir())[0]
    shutil.rmtree(broken)
    code, out, err = sam2_data(capsys, "stats", davis)
    assert code == 0 and "1 videos" in out
    assert "warning: 1 video(s) left out" in err and broken.name in err and "validate" in err


def test_source_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = sam2_data(capsys, "validate", tmp_path / "nope.json")
    assert_one_line(code, err, "nope.json does not exist")
    files = coco_video_set(tmp_path)
    code, _, err = sam2_data(capsys, "validate", files.save())
    assert_one_line(code, err, "--image-root is required for coco_video")
    code, _, err = sam2_data(capsys, "stats", tmp_path)
    assert_one_line(code, err, "has no JPEGImages/ folder")
    shutil.rmtree(files.image_root)
    (tmp_path / "list.json").write_text(json.dumps([1, 2]))
    code, _, err = sam2_data(capsys, "validate", tmp_path / "list.json")
    assert_one_line(code, err, "top level is a list")


def test_annotations_of_one_object_in_one_frame_are_merged(tmp_path: Path) -> None:
    files = coco_video_set(tmp_path, videos=1, kind="polygon")
    files.data["annotations"][1]["segmentation"] = encode(box_mask(0, 2))  # RLE + polygon
    for annotation in files.data["annotations"]:
        annotation["category_id"] = 1
    dataset = CocoVideoRawDataset(
        str(files.save()), str(files.image_root), object_key="category_id"
    )
    masks = dataset.get_video(0)[1].load(0)
    assert list(masks) == [1]
    assert np.array_equal(masks[1].numpy(), box_mask(0, 1) | box_mask(0, 2))


def test_coco_images_config_gives_one_frame_batches(tmp_path: Path) -> None:
    """dataset=coco_images through the composed config and the stock loader and collate."""
    files = coco_images_set(tmp_path, count=4)
    initialize_hydra()
    overrides = [f"dataset.json={files.save()}", f"dataset.image_root={files.image_root}"]
    cfg = compose_config(
        "demo_scratch",
        ["dataset=coco_images", "scratch.train_batch_size=2", "trainer.data.train.pin_memory=false"]
        + overrides,
    )
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        batch = next(iter(instantiate(cfg.trainer.data.train).get_loader(epoch=0)))
    finally:
        torch.distributed.destroy_process_group()
    frames, clips = batch.img_batch.shape[:2]
    assert (frames, clips) == (1, 2) and batch.masks.shape[1] == 4  # 2 objects per image


def test_datasets_survive_pickling(tmp_path: Path) -> None:
    """Loader processes (spawn) receive the raw dataset pickled."""
    files = youtube_vis_set(tmp_path)
    dataset = YouTubeVISRawDataset(str(files.save()), str(files.image_root))
    copy = pickle.loads(pickle.dumps(dataset))
    assert np.array_equal(copy.get_video(1)[1].load(0)[2].numpy(), box_mask(0, 2))


def test_a_keyframe_field_that_filters_out_everything_is_refused(tmp_path: Path) -> None:
    files = coco_video_set(tmp_path)
    with pytest.raises(UserError, match="no video to train on"):
        CocoVideoRawDataset(str(files.save()), str(files.image_root), keyframe_field="is_key")


def test_sav_and_sa1b_folders(synthetic_root: Path, tmp_path: Path, capsys) -> None:
    names = ["train_0000", "train_0001"]
    sav = sav_from_davis(synthetic_root, names, tmp_path / "sav")
    sa1b = sa1b_from_davis(synthetic_root, names, tmp_path / "sa1b")
    for folder in (sav, sa1b):
        code, out, err = sam2_data(capsys, "validate", folder)
        assert code == 0 and "2 videos, 0 errors" in out, err
    (sav / "annotations" / "train_0001_manual.json").write_text("{")
    code, out, err = sam2_data(capsys, "validate", sav)
    assert_one_line(code, err, "(sav): 2 videos, 1 errors")
    assert "train_0001_manual.json: malformed JSON at line 1, column 2" in out
    data = json.loads((sa1b / "sa_2.json").read_text())
    data["annotations"][0]["segmentation"] = encode(np.ones((4, 4), bool))
    (sa1b / "sa_2.json").write_text(json.dumps(data))
    code, out, err = sam2_data(capsys, "validate", sa1b)
    assert_one_line(code, err, "(sa1b): 2 videos, 1 errors")
    assert "sa_2.json: annotations need segmentation (compressed RLE of the image size)" in out
    code, _, err = sam2_data(capsys, "stats", sa1b)
    assert_one_line(code, err, "not sa1b")
