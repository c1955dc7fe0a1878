"""COCO-video adapter vs the stock PNGRawDataset on the same content, and index build time.

.venv/bin/python benchmarks/dataset_adapters.py [--videos 24] [--samples 200] [--rounds 3]

1. samples/s of the stock VOSDataset (demo recipe's sampler and transforms) over the synthetic
   set as DAVIS folders (stock PNGRawDataset) and as COCO-video JSON (our adapter, converted with
   `sam2-data convert`), interleaved rounds with the same seeds; also without transforms
   (loading only). Checks that both give identical masks for every frame.
2. Index build time (JSON parse included) of synthetic COCO-video files of 25k, 50k and 100k
   frames (100 frames per video, 2 objects per frame, RLE of 480x854 masks).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import coco_video_json, make_dataset
from hydra.utils import instantiate
from training.dataset.vos_dataset import VOSDataset
from training.dataset.vos_raw_dataset import PNGRawDataset
from training.dataset.vos_sampler import RandomUniformSampler

from training_ext.config import compose_config, initialize_hydra
from training_ext.data.adapters.coco_video import CocoVideoRawDataset, index_coco_video
from training_ext.data.adapters.convert import davis_to_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--samples", type=int, default=200, help="samples per round and dataset")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, nargs="+", default=[25_000, 50_000, 100_000])
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        throughput(root, args.videos, args.samples, args.rounds)
        index_build(root, args.frames)


def throughput(root: Path, videos: int, samples: int, rounds: int) -> None:
    davis = make_dataset(root, videos)
    names = (davis / "ImageSets" / "train.txt").read_text().split()
    annotations = root / "train.json"
    davis_to_json(davis / "JPEGImages", davis / "Annotations", names, annotations, "coco_video")
    raw = {
        "stock PNGRawDataset": PNGRawDataset(
            str(davis / "JPEGImages"),
            str(davis / "Annotations"),
            str(davis / "ImageSets/train.txt"),
        ),
        "COCO-video adapter": CocoVideoRawDataset(str(annotations), str(davis / "JPEGImages")),
    }
    check_same_masks(*raw.values())
    initialize_hydra()
    cfg = compose_config("demo", ["dataset.root=unused"])
    transforms = instantiate(cfg.vos.train_transforms, _convert_="all")
    sampler = RandomUniformSampler(cfg.scratch.num_frames, cfg.scratch.max_num_objects)
    print(
        f"{videos} videos x 16 frames 192x144, clips of {cfg.scratch.num_frames} frames, "
        f"<= {cfg.scratch.max_num_objects} objects, {samples} samples x {rounds} rounds"
    )
    for label, stage in (("with the demo transforms", transforms), ("loading only", [])):
        datasets = {
            name: VOSDataset(stage, True, video_dataset, sampler, multiplier=1)
            for name, video_dataset in raw.items()
        }
        rates = {name: [] for name in datasets}
        for repeat in range(rounds):
            order = list(datasets) if repeat % 2 == 0 else list(reversed(datasets))
            for name in order:
                rates[name].append(samples_per_second(datasets[name], samples))
        stock, ours = (float(np.median(rates[name])) for name in datasets)
        print(
            f"  {label:25s} stock {stock:7.1f} samples/s   COCO-video {ours:7.1f} samples/s   "
            f"ratio {ours / stock:.2f}x (goal >= 1.0x)"
        )


def samples_per_second(dataset: VOSDataset, samples: int) -> float:
    start = time.perf_counter()
    for index in range(samples):
        random.seed(index)
        torch.manual_seed(index)
        dataset[index % len(dataset)]
    return samples / (time.perf_counter() - start)


def check_same_masks(stock: PNGRawDataset, ours: CocoVideoRawDataset) -> None:
    for index in range(len(stock)):
        video, stock_loader = stock.get_video(index)
        our_video, our_loader = ours.get_video(index)
        assert video.video_name == our_video.video_name
        for frame in video.frames:
            expected = stock_loader.load(frame.frame_idx)
            got = our_loader.load(frame.frame_idx)
            assert sorted(map(int, expected)) == sorted(got)
            assert all(torch.equal(expected[k], got[int(k)]) for k in expected)
    print(f"masks identical for every frame of {len(stock)} videos")


def index_build(root: Path, sizes: list[int]) -> None:
    print("COCO-video index build (JSON parse + index), 100 frames/video, 2 objects/frame")
    for frames in sizes:
        path = root / f"coco_video_{frames}.json"
        path.write_text(json.dumps(coco_video_json(frames)))
        start = time.perf_counter()
        with path.open() as file:
            json.load(file)
        parse = time.perf_counter() - start
        start = time.perf_counter()
        index = index_coco_video(str(path), "/images")
        total = time.perf_counter() - start
        assert not index.problems and sum(map(len, index.videos)) == frames
        print(
            f"  {frames:7d} frames ({path.stat().st_size / 1e6:5.1f} MB): {total:5.2f} s "
            f"(json.load alone {parse:4.2f} s), {total / frames * 1e6:5.1f} us/frame (goal <= 5 s)"
        )
        path.unlink()


if __name__ == "__main__":
    main()
