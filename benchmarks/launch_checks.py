"""What the launch checks cost on large sets, against the time to the first training step.

.venv/bin/python benchmarks/launch_checks.py [--coco-frames 100000] [--davis-videos 2000]

Two training sets, made in a temporary folder with real files (a 480x854 JPEG and a palette PNG
copied once per video and hard-linked to its frames, so the sets are large on the file system but
quick to make):

1. COCO-video JSON of ``--coco-frames`` frames (100 per video, two RLE objects per frame), with
   ``dataset=coco_video``;
2. a DAVIS folder of ``--davis-videos`` videos x 20 frames, with ``dataset=davis_folder``.

For each: the seconds ``validate_training_config`` takes (in this process, after composing the
config: what ``sam2-train`` adds before spawning) and the seconds from typing ``sam2-train`` to
the first training step in its log (one CPU rank, the demo recipe; the run is killed there).
Goal: checks <= 10 % of the time to the first step.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from common import BIN, coco_video_json
from PIL import Image

from training_ext.config import compose_config, initialize_hydra
from training_ext.data.masks_io import write_palette_mask
from training_ext.launch.checks import validate_training_config

FRAMES_PER_DAVIS_VIDEO = 20
FIRST_STEP = re.compile(r"Train Epoch: \[0\]\[\s*0/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coco-frames", type=int, default=100_000)
    parser.add_argument("--davis-videos", type=int, default=2_000)
    args = parser.parse_args()
    initialize_hydra()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        frame, mask = _frame_files(root)
        sets = {
            f"COCO-video, {args.coco_frames:,} frames": (
                _coco_video_set(root, args.coco_frames, frame)
            ),
            f"DAVIS folder, {args.davis_videos:,} videos x {FRAMES_PER_DAVIS_VIDEO} frames": (
                _davis_set(root, args.davis_videos, frame, mask)
            ),
        }
        print(f"{'training set':42s} {'checks':>8s} {'first step':>11s} {'ratio':>7s}")
        for number, (name, overrides) in enumerate(sets.items()):
            checks = _time_checks(overrides)
            first_step = _time_to_first_step(overrides, root / "runs" / str(number))
            print(f"{name:42s} {checks:7.2f}s {first_step:10.2f}s {checks / first_step:6.1%}")


def _frame_files(root: Path) -> tuple[Path, Path]:
    (root / "sources").mkdir()
    frame, mask = root / "sources" / "frame.jpg", root / "sources" / "mask.png"
    gradient = np.linspace(0, 255, 854, dtype=np.uint8)[None, :, None]
    Image.fromarray(np.broadcast_to(gradient, (480, 854, 3)).copy()).save(frame)
    ids = np.zeros((480, 854), np.uint8)
    ids[100:300, 200:500] = 1
    write_palette_mask(mask, ids)
    return frame, mask


def _coco_video_set(root: Path, frames: int, frame: Path) -> list[str]:
    data = coco_video_json(frames)
    images = root / "coco_images"
    for image in data["images"]:
        _place(frame, images / image["file_name"])
    annotations = root / "train.json"
    annotations.write_text(json.dumps(data))
    return ["dataset=coco_video", f"dataset.json={annotations}", f"dataset.image_root={images}"]


def _davis_set(root: Path, videos: int, frame: Path, mask: Path) -> list[str]:
    davis = root / "davis"
    for video in range(videos):
        for folder, source, suffix in (("JPEGImages", frame, "jpg"), ("Annotations", mask, "png")):
            for t in range(FRAMES_PER_DAVIS_VIDEO):
                _place(source, davis / folder / f"{video:05d}" / f"{t:05d}.{suffix}")
    (davis / "ImageSets").mkdir()
    names = "\n".join(f"{video:05d}" for video in range(videos))
    (davis / "ImageSets" / "train.txt").write_text(names + "\n")
    return [f"dataset.root={davis}"]


def _place(source: Path, path: Path) -> None:
    """A copy of ``source`` per folder, hard-linked to the folder's other files (a file system
    allows only so many links to one file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    copy = source.parent / "copies" / f"{path.parent.name}{source.suffix}"
    if not copy.exists():
        copy.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, copy)
    os.link(copy, path)


def _overrides(dataset: list[str], run_dir: Path | None = None) -> list[str]:
    run = [f"launcher.experiment_log_dir={run_dir}"] if run_dir else []
    return [*dataset, "validation=none", "trainer.logging.log_freq=1", *run]


def _time_checks(dataset: list[str]) -> float:
    cfg = compose_config("demo", _overrides(dataset))
    start = time.perf_counter()
    validate_training_config(cfg, runs_here=True)
    return time.perf_counter() - start


def _time_to_first_step(dataset: list[str], run_dir: Path) -> float:
    log = run_dir / "logs" / "log.txt"
    command = [str(BIN / "sam2-train"), "-c", "demo", "--num-gpus", "1"]
    command += _overrides(dataset, run_dir)
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)  # fmt: skip
    try:
        while not (log.is_file() and FIRST_STEP.search(log.read_text())):
            if process.poll() is not None:
                raise SystemExit(f"training ended before its first step:\n{process.stderr.read()}")
            time.sleep(0.1)
        return time.perf_counter() - start
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


if __name__ == "__main__":
    main()
