"""Scoring throughput: our score_folders vs vos-benchmark 0.1.0, same folders, same processes.

.venv/bin/python benchmarks/score_vs_vos_benchmark.py [--videos 30] [--frames 50] [--processes 2]
.venv/bin/python benchmarks/score_vs_vos_benchmark.py --gt GT --pred PRED  # your folders

Generated folders are DAVIS-sized (480x854, 1-4 objects from 1% to 25% of the frame, predictions
jittered, resized, sometimes missing or misplaced). Per-video J&F, J and F must agree to 1e-6
(percentage points). vos-benchmark writes results.csv into the prediction folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image
from vos_benchmark.benchmark import benchmark

from training_ext.evaluation.score import score_folders

HEIGHT, WIDTH = 480, 854
PALETTE = [channel for index in range(256) for channel in (index * 37 % 256, index * 91 % 256, 0)]
COLUMNS = ["J&F", "J_mean", "F_mean"]


def make_folders(root: Path, videos: int, frames: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    for video in range(videos):
        objects = rng.choice(np.arange(1, 10), int(rng.integers(1, 5)), replace=False)
        tracks = {
            int(obj): (
                rng.uniform(0.25, 0.75, 2) * (WIDTH, HEIGHT),  # start
                rng.uniform(-4, 4, 2),  # pixels per frame
                rng.uniform(0.01, 0.25) * HEIGHT * WIDTH,  # area
                rng.uniform(0.4, 1.0),  # aspect ratio
            )
            for obj in objects
        }
        for t in range(frames):
            gt = np.zeros((HEIGHT, WIDTH), np.uint8)
            pred = np.zeros((HEIGHT, WIDTH), np.uint8)
            for obj, (start, speed, area, aspect) in sorted(tracks.items(), key=lambda x: -x[1][2]):
                centre = start + speed * t + 20 * np.sin(t / 7 + obj)
                axes = np.sqrt(area / np.pi / aspect) * np.array([1, aspect])
                angle = 30 * np.sin(t / 11 + obj)
                draw_ellipse(gt, obj, centre, axes, angle)
                luck = rng.random()
                if luck < 0.85:
                    jitter = centre + rng.normal(0, 3, 2)
                    draw_ellipse(pred, obj, jitter, axes * rng.uniform(0.9, 1.1, 2), angle + 5)
                elif luck < 0.95:
                    draw_ellipse(pred, obj, rng.uniform(0, 1, 2) * (WIDTH, HEIGHT), axes / 3, 0)
            save(root / "gt" / f"video{video:03d}" / f"{t:05d}.png", gt)
            save(root / "pred" / f"video{video:03d}" / f"{t:05d}.png", pred)
    return root / "gt", root / "pred"


def draw_ellipse(
    mask: np.ndarray, obj: int, centre: np.ndarray, axes: np.ndarray, angle: float
) -> None:
    centre_px, axes_px = tuple(int(v) for v in centre), tuple(max(1, int(v)) for v in axes)
    cv2.ellipse(mask, centre_px, axes_px, angle, 0, 360, obj, -1)


def save(path: Path, mask: np.ndarray) -> None:
    image = Image.fromarray(mask)
    image.putpalette(PALETTE)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def reference_per_video(objects: dict) -> pd.DataFrame:
    """vos-benchmark's per-object percentages averaged per video, as fractions."""
    rows = {}
    for video, (j_by_object, f_by_object) in objects.items():
        j, f = np.array(list(j_by_object.values())), np.array(list(f_by_object.values()))
        rows[video] = {"J&F": (j + f).mean() / 2, "J_mean": j.mean(), "F_mean": f.mean()}
    return pd.DataFrame.from_dict(rows, orient="index") / 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=30)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="best of, runs alternating")
    parser.add_argument("--gt", type=Path, help="ground-truth folder (default: generated)")
    parser.add_argument("--pred", type=Path, help="prediction folder (with --gt)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.gt is None:
            start = time.perf_counter()
            gt, pred = make_folders(Path(tmp), args.videos, args.frames)
            size = f"{args.videos} videos x {args.frames} frames, {HEIGHT}x{WIDTH}"
            print(f"generated {size} in {time.perf_counter() - start:.0f} s")
        else:
            gt, pred = args.gt, args.pred
        times: dict[str, list[float]] = {"vos-benchmark": [], "ours": []}
        for _ in range(args.repeats):
            start = time.perf_counter()
            *_, (reference,) = benchmark(
                [str(gt)], [str(pred)], num_processes=args.processes, verbose=False
            )
            times["vos-benchmark"].append(time.perf_counter() - start)
            start = time.perf_counter()
            ours = score_folders(gt, pred, "davis", processes=args.processes)
            times["ours"].append(time.perf_counter() - start)
    frames = ours.summary["frames"]
    print(f"{frames} scored frames, {ours.summary['objects']} objects, {args.processes} processes")
    for name, seconds in times.items():
        best = min(seconds)
        print(f"{name:<14} {best:6.1f} s  {frames / best:7.1f} frames/s (best of {len(seconds)})")
    ratio = min(times["vos-benchmark"]) / min(times["ours"])
    print(f"ours / vos-benchmark throughput: {ratio:.1f}x (goal >= 2x)")
    expected = reference_per_video(reference)
    actual = ours.per_video.set_index("video")[COLUMNS]
    if set(expected.index) != set(actual.index):
        raise SystemExit(f"videos differ: {sorted(set(expected.index) ^ set(actual.index))}")
    difference = (actual - expected.loc[actual.index]).abs().max() * 100
    print("per-video max |ours - vos-benchmark| (percentage points):", end="")
    print("".join(f"  {column} {value:.1e}" for column, value in difference.items()))
    if difference.max() > 1e-6:
        raise SystemExit("per-video scores differ by more than 1e-6")


if __name__ == "__main__":
    main()
