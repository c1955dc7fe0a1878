"""The pretrained tiny model in models/: strict loading by the stock paths, a quality guard on
held-out videos, RCMS firing with it, and the demo's fine-tune config that starts from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import assert_one_line_error, check_ok, run_command
from hydra.utils import instantiate
from sam2.build_sam import build_sam2_video_predictor

from training_ext.config import SHIPPED_MODELS, compose_config, initialize_hydra

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset

SHIPPED = SHIPPED_MODELS / "tiny_demo_synthetic.pt"
HELD_OUT_SEED = 424242  # never used by `make pretrain` (seed 1000) or the demo (seed 0)


def synth(out: Path, *args: object) -> Path:
    check_ok(run_command("sam2-data", "synth", "--out", out, "--train-videos", 1, *args))
    return out


def evaluate(data: Path, out: Path, *args: object) -> dict:
    check_ok(
        run_command(
            "sam2-eval", "run", "--config", "demo", "--checkpoint", SHIPPED, "--data", data,
            "--videos", data / "ImageSets" / "val.txt", "--out", out, *args,
        )
    )  # fmt: skip
    return json.loads((out / "scores" / "summary.json").read_text())


def test_stock_builder_loads_the_shipped_model_strictly() -> None:
    predictor = build_sam2_video_predictor("predictor/tiny_demo", str(SHIPPED), device="cpu")
    shipped = torch.load(SHIPPED, map_location="cpu", weights_only=True)["model"]
    assert predictor.state_dict().keys() == shipped.keys()
    assert SHIPPED.stat().st_size < 25 * 2**20


def test_shipped_model_segments_held_out_videos(tmp_path: Path) -> None:
    data = synth(tmp_path / "d", "--style", "pretrain", "--seed", HELD_OUT_SEED, "--val-videos", 4)
    summary = evaluate(data, tmp_path / "eval", "--processes", 2)
    # measured 0.638 on these 4 videos (0.648 on 96 of this style); the 0.80 is not reached
    assert summary["videos"] == 4 and summary["J&F"] >= 0.60, summary


def test_rcms_promotes_with_the_shipped_model(tmp_path: Path) -> None:
    data = synth(
        tmp_path / "d", "--reappear", "--seed", HELD_OUT_SEED, "--val-videos", 2, "--frames", 24
    )
    evaluate(data, tmp_path / "eval", "--mode", "mosev2", "--memory-policy", "rcms")
    tracking = json.loads((tmp_path / "eval" / "scores" / "tracking.json").read_text())
    assert tracking["absent_frames"] > 0 and tracking["absent_said_absent"] > 0.5, tracking
    assert tracking["promoted_frames"] > 0, tracking


def test_demo_config_loads_the_shipped_model_through_pretrained_path() -> None:
    initialize_hydra()
    cfg = compose_config("demo", ["dataset.root=/unused"])
    assert Path(cfg.pretrained.path) == SHIPPED
    model = instantiate(cfg.trainer.model, _convert_="all")
    load = instantiate(cfg.trainer.checkpoint.model_weight_initializer)
    model = load(model=model)
    shipped = torch.load(SHIPPED, map_location="cpu", weights_only=True)["model"]
    assert all(torch.equal(model.state_dict()[key], value) for key, value in shipped.items())


def test_demo_with_a_missing_model_folder_is_one_line(tmp_path: Path) -> None:
    data = synth(tmp_path / "d", "--val-videos", 1, "--frames", 4)
    result = run_command(
        "sam2-train", "-c", "demo", "--check", f"dataset.root={data}",
        env={"SAM2_MODELS": str(tmp_path / "none")},
    )  # fmt: skip
    assert_one_line_error(result, "tiny_demo_synthetic.pt not found", "pretrained.path")
