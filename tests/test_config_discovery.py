"""Our configs are found by name where the stock code composes configs: the trainer's
`compose(config_name=...)` after `initialize_config_module("sam2")`, and `build_sam2*`."""

from __future__ import annotations

from pathlib import Path

import pytest
import sam2  # noqa: F401  (initializes Hydra on pkg://sam2 exactly as the stock code does)
import torch
from hydra import compose
from omegaconf import OmegaConf
from sam2.build_sam import build_sam2, build_sam2_video_predictor
from sam2.sam2_video_predictor import SAM2VideoPredictor

SIZES = ("t", "s", "b+", "l")


def as_dict(node) -> dict:
    return OmegaConf.to_container(node, resolve=False)


def test_trainer_composition_finds_ours_and_stock() -> None:
    assert compose(config_name="demo").trainer._target_ == "training_ext.trainer.trainer.Trainer"
    stock = compose(config_name="configs/sam2.1_training/sam2.1_hiera_b+_MOSE_finetune")
    assert stock.trainer._target_ == "training.trainer.Trainer"


@pytest.mark.parametrize("size", SIZES)
def test_sam2_1_architectures_equal_the_stock_ones(size: str) -> None:
    """Pretrained SAM2.1 checkpoints load strictly only if the architecture is exactly stock."""
    stock = as_dict(compose(config_name=f"configs/sam2.1/sam2.1_hiera_{size}").model)
    predictor = as_dict(compose(config_name=f"predictor/sam2.1_hiera_{size}").model)
    assert predictor == stock
    training = as_dict(compose(config_name=f"sam2.1_hiera_{size}_finetune").trainer.model)
    for key, value in stock.items():
        if key != "_target_":
            assert training[key] == value, key


def test_predictor_loads_a_trained_checkpoint(demo_run: Path) -> None:
    checkpoint = demo_run / "checkpoints" / "checkpoint.pt"
    predictor = build_sam2_video_predictor("predictor/tiny_demo", str(checkpoint), device="cpu")
    assert isinstance(predictor, SAM2VideoPredictor)
    trained = torch.load(checkpoint, map_location="cpu")["model"]
    loaded = predictor.state_dict()
    assert trained.keys() == loaded.keys()
    assert all(torch.equal(trained[key], loaded[key]) for key in trained)
    image_model = build_sam2("predictor/tiny_demo", str(checkpoint), device="cpu")
    assert image_model.image_size == 256  # the shipped model's size; the weights fit any


def test_predictor_rejects_a_checkpoint_of_another_architecture(tmp_path: Path) -> None:
    small = build_sam2("predictor/tiny_demo", None, device="cpu")
    state = {k: v for k, v in small.state_dict().items() if not k.startswith("memory_encoder")}
    path = tmp_path / "partial.pt"
    torch.save({"model": state}, path)
    with pytest.raises(RuntimeError):
        build_sam2_video_predictor("predictor/tiny_demo", str(path), device="cpu")
