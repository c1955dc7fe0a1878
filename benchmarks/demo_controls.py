"""Do the training controls change the result? Fine-tunes of the shipped model on the shifted
synthetic domain (the `demo` recipe), scored on held-out test videos under each prompt type.

    .venv/bin/python benchmarks/demo_controls.py [--data data/shifted] [--test data/shifted_test]
        [--out bench_controls]

Variants: full fine-tune with mask prompts (the demo), the `memory_finetune` recipe's settings
(memory modules only, temporal loss 0.1), and `prompt=mixed|point|box` (what the first frame of
every training clip is prompted with). Each is scored with mask, point and box prompts
on the first frame, next to the pretrained model. Prints J&F per prompt type, step time and
peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
from common import BIN, check, run_ours, step_times

from training_ext.cli.common import exit_code
from training_ext.config import SHIPPED_MODELS
from training_ext.data.synthetic import STYLES, SynthSpec, generate
from training_ext.evaluation.inference import dataset_videos
from training_ext.runs.tensorboard_logs import read_tensorboard_series

SHIPPED = SHIPPED_MODELS / "tiny_demo_synthetic.pt"
VARIANTS = {
    "full, mask prompts (demo)": [],
    # what recipe=memory_finetune sets, on top of the demo recipe
    "memory_finetune": [
        "trainer.trainable_modules=[memory_attention,memory_encoder]",
        "trainer.loss.all.temporal_weight=0.1",
    ],
    "prompt=mixed (stock)": ["prompt=mixed"],
    "prompt=point": ["prompt=point"],
    "prompt=box": ["prompt=box"],
}
PROMPTS = ("mask", "point", "box")


def synthetic_set(path: Path, seed: int, spec: SynthSpec) -> Path:
    """``path``, written as a shifted-style synthetic set unless it exists."""
    if not path.exists():
        generate(path, seed=seed, spec=replace(spec, style=STYLES["shifted"]))
    return path


def evaluate(data: Path, out: Path, prompt: str, *model: str) -> float:
    """Held-out J&F of a model (``--run DIR`` or ``--config demo --checkpoint FILE``)."""
    if not (out / "scores" / "summary.json").is_file():
        videos = data / "ImageSets" / "val.txt"
        command = [str(BIN / "sam2-eval"), "run", *model, "--data", str(data)]
        command += ["--videos", str(videos), "--prompt", prompt, "--processes", "2"]
        check(subprocess.run([*command, "--out", str(out)], capture_output=True, text=True))
    return json.loads((out / "scores" / "summary.json").read_text())["J&F"]


def main() -> None:
    sys.exit(exit_code("demo_controls.py", controls))


def controls() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="training set (`make demo`'s data/shifted)")
    parser.add_argument("--test", type=Path, help="test set (`make demo`'s data/shifted_test)")
    parser.add_argument("--out", type=Path, default=Path("bench_controls"))
    args = parser.parse_args()
    data = args.data or synthetic_set(args.out / "data", 0, SynthSpec(val_videos=16))
    test = args.test or synthetic_set(args.out / "test", 1, SynthSpec(0, 64))
    for root, split in ((data, "train"), (data, "val"), (test, "val")):  # one line if unusable
        dataset_videos(root, root / "ImageSets" / f"{split}.txt")
    rows = [
        {"model": "pretrained (no fine-tune)"}
        | {
            f"J&F {prompt} prompt": evaluate(
                test,
                args.out / f"pretrained_{prompt}",
                prompt,
                "--config",
                "demo",
                "--checkpoint",
                str(SHIPPED),
            )
            for prompt in PROMPTS
        }  # fmt: skip
    ]
    for index, (name, overrides) in enumerate(VARIANTS.items()):
        run_dir = args.out / f"run{index}"
        if not (run_dir / "checkpoints" / "checkpoint.pt").is_file():
            env = {"SAM2_DATASET": str(data.resolve())}
            run_ours(run_dir.resolve(), env, "-c", "demo", "--num-gpus", "2", *overrides)
        memory = read_tensorboard_series(run_dir / "tensorboard", "Step_Stats/train/Mem (GB)")
        row = {"model": name}
        for prompt in PROMPTS:
            row[f"J&F {prompt} prompt"] = evaluate(
                test, args.out / f"run{index}_{prompt}", prompt, "--run", str(run_dir)
            )
        row["ms/step"] = step_times(run_dir / "tensorboard").median() * 1e3
        row["peak RSS (GB)"] = memory.value.max()
        rows.append(row)
    table = pd.DataFrame(rows).set_index("model")
    print(f"shifted domain, {len(test.joinpath('ImageSets', 'val.txt').read_text().split())} "
          "test videos, first-frame prompts")  # fmt: skip
    print(table.to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()
