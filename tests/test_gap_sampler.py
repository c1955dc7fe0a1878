"""GapSampler on real frames and segment loaders, and in a short training run."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import train_demo
from PIL import Image
from training.dataset.vos_raw_dataset import PNGRawDataset

from training_ext.data.gap_sampler import GapSampler
from training_ext.data.masks_io import write_palette_mask
from training_ext.errors import UserError

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset


def raw_dataset(root: Path) -> PNGRawDataset:
    return PNGRawDataset(str(root / "JPEGImages"), str(root / "Annotations"))


def strides(frames) -> set[int]:
    ids = [f.frame_idx for f in frames]
    return {b - a for a, b in zip(ids, ids[1:], strict=False)}


def test_clips_use_one_random_stride_and_start_on_a_visible_object(synthetic_root: Path) -> None:
    random.seed(0)
    dataset = raw_dataset(synthetic_root)
    sampler = GapSampler(num_frames=3, max_num_objects=2, min_gap=1, max_gap=3)
    seen = set()
    for index in range(60):
        video, segments = dataset.get_video(index % len(dataset))
        clip = sampler.sample(video, segments)
        assert len(clip.frames) == 3 and 1 <= len(clip.object_ids) <= 2
        (gap,) = strides(clip.frames)  # one stride per clip, forward in time
        assert 1 <= gap <= 3
        seen.add(gap)
        first = segments.load(clip.frames[0].frame_idx)
        assert all(first[object_id].sum() > 0 for object_id in clip.object_ids)
    assert seen == {1, 2, 3}


def test_reverse_prob_runs_clips_backwards(synthetic_root: Path) -> None:
    random.seed(1)
    video, segments = raw_dataset(synthetic_root).get_video(0)
    sampler = GapSampler(num_frames=3, max_num_objects=1, min_gap=2, max_gap=2, reverse_prob=1.0)
    assert strides(sampler.sample(video, segments).frames) == {-2}


def test_the_stride_shrinks_to_fit_a_short_video(synthetic_root: Path) -> None:
    video, segments = raw_dataset(synthetic_root).get_video(0)  # 8 frames
    for seed in range(10):
        random.seed(seed)
        clip = GapSampler(num_frames=4, max_num_objects=3, min_gap=3, max_gap=5).sample(
            video, segments
        )
        assert strides(clip.frames) == {2}  # (8 - 1) // 3: the widest stride that fits
    with pytest.raises(ValueError, match="Cannot sample 9 frames"):
        GapSampler(num_frames=9, max_num_objects=1).sample(video, segments)


def test_a_clip_never_starts_where_no_object_is_visible(tmp_path: Path) -> None:
    """Frames 0-5 show nothing: every clip must start at frame 6 or later."""
    for folder in ("JPEGImages/v", "Annotations/v"):
        (tmp_path / folder).mkdir(parents=True)
    for t in range(10):
        ids = np.zeros((32, 32), np.uint8)
        if t >= 6:
            ids[8:20, 8:20] = 1
        Image.new("RGB", (32, 32)).save(tmp_path / "JPEGImages/v" / f"{t:05d}.jpg")
        write_palette_mask(tmp_path / "Annotations/v" / f"{t:05d}.png", ids)
    video, segments = raw_dataset(tmp_path).get_video(0)
    random.seed(2)
    sampler = GapSampler(num_frames=2, max_num_objects=1, min_gap=1, max_gap=2)
    starts = {sampler.sample(video, segments).frames[0].frame_idx for _ in range(30)}
    assert starts and min(starts) >= 6


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"min_gap": 0}, "1 <= min_gap <= max_gap"),
        ({"min_gap": 3, "max_gap": 2}, "1 <= min_gap <= max_gap"),
        ({"reverse_prob": 1.5}, "reverse_prob must be in [0, 1]"),
        ({"num_frames": 0}, "must be >= 1"),
    ],
)
def test_bad_parameters_name_the_problem(kwargs: dict, fragment: str) -> None:
    with pytest.raises(UserError) as error:
        GapSampler(**{"num_frames": 4, "max_num_objects": 1, **kwargs})
    assert fragment in str(error.value)


def test_training_with_the_gap_sampler(synthetic_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    checkpoint = train_demo(
        synthetic_root,
        run,
        "vos.train_sampler._target_=training_ext.data.gap_sampler.GapSampler",
        "+vos.train_sampler.max_gap=2",
        "+vos.train_sampler.reverse_prob=0.5",
        "validation=none",
    )
    assert all(torch.isfinite(v).all() for v in checkpoint["model"].values())
    resolved = (run / "config_resolved.yaml").read_text()
    assert "training_ext.data.gap_sampler.GapSampler" in resolved and "max_gap: 2" in resolved
