"""`sam2-data synth`: DAVIS layout, determinism, leaving objects, styles, bad input."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_line_error, check_ok, run_command
from PIL import Image

from training_ext.data.synthetic import STYLES, SceneStyle, SynthSpec, generate, render_video


def digest(root: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            sha.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return sha.hexdigest()


def masks_of(video_dir: Path) -> np.ndarray:
    return np.stack([np.array(Image.open(p)) for p in sorted(video_dir.glob("*.png"))])


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "set"
    spec = SynthSpec(train_videos=12, val_videos=3, frames=16)
    return generate(root, seed=7, spec=spec, progress=False)


def test_davis_layout_and_splits(generated: Path) -> None:
    train = (generated / "ImageSets" / "train.txt").read_text().split()
    val = (generated / "ImageSets" / "val.txt").read_text().split()
    assert len(train) == 12 and len(val) == 3 and not set(train) & set(val)
    for video in train + val:
        frames = sorted((generated / "JPEGImages" / video).glob("*.jpg"))
        masks = sorted((generated / "Annotations" / video).glob("*.png"))
        assert (
            [p.stem for p in frames] == [p.stem for p in masks] == [f"{t:05d}" for t in range(16)]
        )
        mask = Image.open(masks[0])
        assert mask.mode == "P" and mask.getpalette()[3:6] == [128, 0, 0]  # DAVIS palette
        assert Image.open(frames[0]).size == mask.size == (192, 144)


def test_first_frame_always_shows_object_one(generated: Path) -> None:
    for video in (generated / "Annotations").iterdir():
        assert (masks_of(video)[0] == 1).sum() >= 20


def test_objects_vary_leave_and_reenter(generated: Path) -> None:
    counts, reentries, partly_hidden = set(), 0, 0
    for video in (generated / "Annotations").iterdir():
        masks = masks_of(video)
        ids = [i for i in np.unique(masks) if i]
        counts.add(len(ids))
        for object_id in ids:
            area = (masks == object_id).sum(axis=(1, 2))
            visible = area > 0
            first, last = visible.argmax(), len(visible) - 1 - visible[::-1].argmax()
            reentries += int((~visible[first:last]).any())
            partly_hidden += int(area.max() > 1.6 * area[visible].min())  # occluded or at a border
    assert len(counts) >= 2, "object counts should vary between videos"
    assert reentries >= 1, "some object should leave the frame and come back"
    assert partly_hidden >= 1


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    spec = SynthSpec(train_videos=2, val_videos=1, frames=4)
    first = generate(tmp_path / "a", seed=11, spec=spec, progress=False)
    again = generate(tmp_path / "b", seed=11, spec=spec, progress=False)
    other = generate(tmp_path / "c", seed=12, spec=spec, progress=False)
    assert digest(first) == digest(again) != digest(other)


def test_cli_writes_the_set(tmp_path: Path) -> None:
    result = check_ok(
        run_command(
            "sam2-data",
            "synth",
            "--out",
            tmp_path / "s",
            "--seed",
            "1",
            "--train-videos",
            "2",
            "--val-videos",
            "1",
            "--frames",
            "3",
        )
    )
    assert "2 train + 1 val videos" in result.stdout
    assert len(list((tmp_path / "s" / "JPEGImages").iterdir())) == 3


def test_cli_refuses_an_existing_folder(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    result = run_command("sam2-data", "synth", "--out", tmp_path / "taken")
    assert_one_line_error(result, "already exists")


def test_cli_rejects_tiny_frames(tmp_path: Path) -> None:
    result = run_command("sam2-data", "synth", "--out", tmp_path / "s", "--width", "8")
    assert_one_line_error(result, "--width/--height must be >= 32")
    assert not (tmp_path / "s").exists()


def test_interrupted_generation_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training_ext.data.synthetic as synthetic

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "_write_video", fail)
    with pytest.raises(KeyboardInterrupt):
        generate(
            tmp_path / "s", seed=0, spec=SynthSpec(train_videos=1, val_videos=1), progress=False
        )
    assert list(tmp_path.iterdir()) == []


def test_reappear_makes_every_object_vanish_and_come_back(tmp_path: Path) -> None:
    check_ok(
        run_command(
            "sam2-data",
            "synth",
            "--out",
            tmp_path / "r",
            "--reappear",
            "--seed",
            "4",
            "--train-videos",
            "1",
            "--val-videos",
            "5",
            "--frames",
            "24",
        )
    )
    plain = generate(tmp_path / "p", seed=4, spec=SynthSpec(1, 5, 24), progress=False)
    assert digest(tmp_path / "r") != digest(plain)  # the flag changes the videos
    for video in (tmp_path / "r" / "Annotations").iterdir():
        masks = masks_of(video)
        assert (masks[0] == 1).sum() >= 20
        for object_id in [i for i in np.unique(masks) if i]:
            visible = (masks == object_id).any(axis=(1, 2))
            first, last = visible.argmax(), len(visible) - 1 - visible[::-1].argmax()
            gone = ~visible[first:last]
            assert gone.any() and gone.sum() >= 3, (video.name, object_id, visible)


def test_zero_train_videos_make_a_test_set(tmp_path: Path) -> None:
    args = ["sam2-data", "synth", "--style", "shifted", "--val-videos", "2", "--frames", "4"]
    check_ok(run_command(*args, "--out", tmp_path / "test", "--train-videos", "0"))
    lists = tmp_path / "test" / "ImageSets"
    assert (lists / "train.txt").read_text() == ""
    assert (lists / "val.txt").read_text().split() == ["val_0000", "val_0001"]
    assert sorted(p.name for p in (tmp_path / "test" / "JPEGImages").iterdir()) == [
        "val_0000",
        "val_0001",
    ]
    bad = run_command(*args, "--out", tmp_path / "bad", "--train-videos", "-1")
    assert_one_line_error(bad, "--train-videos: must be >= 0, got -1")
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_styles_are_deterministic_and_differ(tmp_path: Path) -> None:
    digests = {}
    for style in STYLES:
        args = ["--seed", "3", "--train-videos", "2", "--val-videos", "1", "--frames", "6"]
        check_ok(
            run_command("sam2-data", "synth", "--out", tmp_path / style, "--style", style, *args)
        )
        digests[style] = digest(tmp_path / style)
    again = generate(
        tmp_path / "again",
        seed=3,
        spec=SynthSpec(2, 1, 6, style=STYLES["pretrain"]),
        progress=False,
    )
    assert digest(again) == digests["pretrain"]
    assert len(set(digests.values())) == len(STYLES)
    plain = generate(tmp_path / "plain", seed=3, spec=SynthSpec(2, 1, 6), progress=False)
    assert digest(plain) == digests["basic"]  # basic is the default


def test_vanishing_objects_come_back() -> None:
    spec = SynthSpec(frames=24, style=SceneStyle(vanish_prob=1.0))
    rng = np.random.default_rng(0)
    for _ in range(4):
        _, masks = render_video(rng, spec)
        for object_id in [i for i in np.unique(masks) if i]:
            visible = (masks == object_id).any(axis=(1, 2))
            first, last = visible.argmax(), len(visible) - 1 - visible[::-1].argmax()
            assert (~visible[first:last]).any(), (object_id, visible)


def test_distractors_move_outside_the_masks() -> None:
    """Unannotated shapes: frames change where no object is, more than with no distractors."""

    def background_change(style: SceneStyle) -> float:
        rng = np.random.default_rng(5)
        change = []
        for _ in range(6):
            frames, masks = render_video(rng, SynthSpec(frames=8, style=style))
            still = (masks[1:] == 0) & (masks[:-1] == 0)
            diff = np.abs(frames[1:].astype(int) - frames[:-1].astype(int)).max(axis=-1)
            change.append((diff[still] > 40).mean())
        return float(np.mean(change))

    assert background_change(SceneStyle(distractors=3)) > 5 * background_change(SceneStyle())


def test_low_light_camera_darkens_and_adds_noise() -> None:
    """The same scene (a seed whose first draw is kept) through a camera with gain 0.5 and
    sensor noise: half as bright, and neighbouring background pixels differ by about the noise."""
    clean, clean_masks = render_video(np.random.default_rng(0), SynthSpec(frames=4))
    dark_style = SceneStyle(brightness=0.5, sensor_noise=24.0)
    dark, dark_masks = render_video(np.random.default_rng(0), SynthSpec(frames=4, style=dark_style))
    np.testing.assert_array_equal(dark_masks, clean_masks)
    assert 0.45 < dark.mean() / clean.mean() < 0.6
    row_step = np.diff(dark.astype(float), axis=2)[clean_masks[..., 1:] == 0]
    clean_step = np.diff(clean.astype(float), axis=2)[clean_masks[..., 1:] == 0]
    assert clean_step.std() < 10 < 24 < row_step.std() < 40  # noise std x sqrt(2) ~ 34


def test_unknown_style_is_refused(tmp_path: Path) -> None:
    result = run_command("sam2-data", "synth", "--out", tmp_path / "x", "--style", "fancy")
    assert result.returncode == 2 and "invalid choice: 'fancy'" in result.stderr
    assert not (tmp_path / "x").exists()


def test_the_written_folder_is_readable_by_other_users(tmp_path: Path) -> None:
    """Staged outputs take the umask's mode, not mkdtemp's 0700 (a container user with another
    uid must read the data it mounts)."""
    previous = os.umask(0o022)
    try:
        out = generate(
            tmp_path / "set",
            seed=0,
            spec=SynthSpec(train_videos=1, val_videos=1, frames=3),
            progress=False,
        )
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
