"""Helpers shared by the benchmarks: a synthetic set and timed tiny-recipe training runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from training_ext.data.adapters import segmentation
from training_ext.data.synthetic import SynthSpec, generate
from training_ext.runs.tensorboard_logs import BATCH_TIME_TAG, read_tensorboard_series

BIN = Path(sys.executable).parent
WARMUP_STEPS = 5


def make_dataset(root: Path, train_videos: int) -> Path:
    return generate(root / "data", seed=0, spec=SynthSpec(train_videos=train_videos, val_videos=1))


def run_ours(run_dir: Path, env: dict[str, str], *args: str) -> None:
    """`sam2-train` with ``args``; raises with the tail of its output if it fails."""
    result = subprocess.run(
        [str(BIN / "sam2-train"), *args, f"launcher.experiment_log_dir={run_dir}"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    check(result)


def check(result: subprocess.CompletedProcess) -> None:
    if result.returncode != 0:
        raise SystemExit(f"training failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def step_times(tensorboard_dir: Path) -> pd.Series:
    """Per-step wall time of rank 0 after warm-up (needs log_scalar_frequency=1)."""
    times = read_tensorboard_series(tensorboard_dir, BATCH_TIME_TAG)
    return times[times.step >= WARMUP_STEPS].value.reset_index(drop=True)


def _ellipse(t: int, obj: int) -> np.ndarray:
    yy, xx = np.mgrid[0:480, 0:854]
    cx, cy = 200 + 4 * t + 300 * obj, 240 + 50 * np.sin(t / 10)
    return ((xx - cx) / 90) ** 2 + ((yy - cy) / 60) ** 2 <= 1


def coco_video_json(frames: int) -> dict:
    """A COCO-video annotation dict of ``frames`` 480x854 frames, 100 per video
    (``<video>/<t>.jpg``), two moving ellipses per frame as compressed RLE."""
    rles = [[segmentation.encode(_ellipse(t, obj)) for t in range(100)] for obj in (0, 1)]
    images, annotations = [], []
    for image_id in range(frames):
        video, t = divmod(image_id, 100)
        images.append(
            {
                "id": image_id,
                "video_id": video,
                "order_in_video": t,
                "file_name": f"{video:05d}/{t:05d}.jpg",
                "height": 480,
                "width": 854,
            }
        )
        for obj in (0, 1):
            annotations.append(
                {
                    "id": len(annotations),
                    "image_id": image_id,
                    "category_id": 1,
                    "track_id": obj + 1,
                    "iscrowd": 0,
                    "segmentation": rles[obj][t],
                }
            )
    return {
        "videos": [{"id": v, "name": f"{v:05d}"} for v in range(frames // 100)],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "object"}],
    }
