"""Per-frame inference time with a memory-selection policy vs without, and vs the stock predictor.

    .venv/bin/python benchmarks/memory_policy_overhead.py [--run sam2_logs/demo] [--repeats 3]

Tracks synthetic videos whose objects vanish and come back (`sam2-data synth --reappear`) with
the stock ``SAM2VideoPredictor`` and our predictor under the policies ``none``, ``rcms`` and
``quality_gate`` (same weights; RCMS promotes only where the model predicts an object absent).
Each video is tracked by all four back to back, in a rotating order, and ratios are medians
over these paired runs, so load changes on a shared machine cancel out. Without ``--run`` the
tiny demo model is randomly initialised.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from training_ext.config import compose_config, initialize_hydra
from training_ext.data.synthetic import SynthSpec, generate
from training_ext.evaluation.inference import dataset_videos, ground_truth_prompts
from training_ext.evaluation.predictors import build_predictor, load_run_config

POLICIES = {"stock": None, "none": {"name": "none"}, "rcms": {"name": "rcms"}}
POLICIES["quality_gate"] = {"name": "quality_gate"}


@torch.inference_mode()
def propagation_ms_per_frame(predictor, video) -> float:
    """Time of ``propagate_in_video`` per frame (frame loading and prompting not counted)."""
    state = predictor.init_state(str(video.frames_dir))
    for prompt in ground_truth_prompts(video, "first"):
        predictor.add_new_mask(state, prompt.frame_index, prompt.object_id, prompt.mask)
    start = time.perf_counter()
    frames = sum(1 for _ in predictor.propagate_in_video(state))
    return 1e3 * (time.perf_counter() - start) / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="training run (default: random-init demo model)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=32)
    args = parser.parse_args()
    initialize_hydra()
    if args.run is not None:
        model, checkpoint = load_run_config(args.run).trainer.model, args.run / "checkpoints"
        checkpoint = checkpoint / "checkpoint.pt"
    else:
        model, checkpoint = compose_config("demo", []).trainer.model, None
    torch.manual_seed(0)
    predictors = {
        name: build_predictor(model, checkpoint, "cpu", policy) for name, policy in POLICIES.items()
    }
    reference = predictors["stock"].state_dict()
    for predictor in predictors.values():
        predictor.load_state_dict(reference)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        spec = SynthSpec(train_videos=1, val_videos=args.videos, frames=args.frames, reappear=True)
        root = generate(Path(tmp) / "data", seed=11, spec=spec, progress=False)
        videos = dataset_videos(root, root / "ImageSets" / "val.txt")
        names = list(predictors)
        for repeat in range(args.repeats):
            for index, video in enumerate(videos):
                shift = (repeat * len(videos) + index) % len(names)  # rotate who goes first
                for name in names[shift:] + names[:shift]:
                    ms = propagation_ms_per_frame(predictors[name], video)
                    rows.append({"policy": name, "video": video.name, "repeat": repeat, "ms": ms})
    table = pd.DataFrame(rows)
    per_frame = table.groupby("policy").ms.median()
    paired = table.pivot_table(index=["video", "repeat"], columns="policy", values="ms")
    print(f"{args.videos} videos x {args.frames} frames, {args.repeats} interleaved repeats")
    for name in POLICIES:
        print(f"{name:13s} {per_frame[name]:7.2f} ms/frame (median)")
    for name, base in (("rcms", "none"), ("quality_gate", "none"), ("none", "stock")):
        ratio = (paired[name] / paired[base]).median()
        print(f"{name} / {base}: {ratio:.3f}x per-frame time (median of paired runs)")


if __name__ == "__main__":
    main()
