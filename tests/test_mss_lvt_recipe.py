"""The MSS/LVT two-stage recipe: entry configs compose, the models instantiate, and stage 2
starts from a stage-1 run (the tiny demo model stands in for SAM2.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import assert_one_line_error, check_ok, run_command
from hydra import compose
from hydra.utils import instantiate
from omegaconf import OmegaConf

from training_ext.config import compose_config, initialize_hydra
from training_ext.data.gap_sampler import GapSampler
from training_ext.evaluation.predictors import predictor_model_config
from training_ext.trainer.trainable_modules import module_names

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset

SIZES = {"b+": "sam2.1_hiera_base_plus.pt", "l": "sam2.1_hiera_large.pt"}


@pytest.fixture(scope="module", autouse=True)
def hydra() -> None:
    initialize_hydra()


@pytest.mark.parametrize("size", SIZES)
def test_stage_configs_compose_with_the_recipe(size: str, monkeypatch) -> None:
    monkeypatch.setenv("SAM2_CHECKPOINTS", "/ckpts")
    stage1 = compose_config(f"sam2.1_hiera_{size}_mss_lvt_stage1", [])
    stage2 = compose_config(f"sam2.1_hiera_{size}_mss_lvt_stage2", ["stage1_run=/runs/s1"])
    assert stage1.pretrained.path == f"/ckpts/{SIZES[size]}"
    assert stage1.scratch.num_frames == 8 and stage1.scratch.max_num_objects == 1
    assert stage1.scratch.num_epochs == 20 and stage1.trainer.trainable_modules is None
    assert stage1.trainer.model.sigmoid_scale_for_mem_enc == 20.0
    assert stage2.pretrained.path == "/runs/s1/checkpoints/checkpoint.pt"
    assert stage2.scratch.num_frames == 16
    assert stage2.vos.train_sampler._target_ == "training_ext.data.gap_sampler.GapSampler"
    model = stage2.trainer.model
    assert (model.sigmoid_scale_for_mem_enc, model.sigmoid_bias_for_mem_enc) == (7.5, -4.0)
    # The same architecture in both stages; the matching predictor config has MSS too.
    architecture = OmegaConf.to_container(predictor_model_config(stage2.trainer.model))
    assert architecture == OmegaConf.to_container(predictor_model_config(stage1.trainer.model)) | {
        "sigmoid_scale_for_mem_enc": 7.5,
        "sigmoid_bias_for_mem_enc": -4.0,
    }
    predictor = OmegaConf.to_container(compose(f"predictor/sam2.1_hiera_{size}_mss").model)
    assert predictor == architecture


def test_stage2_instantiates_frozen_encoder_names_and_gap_sampler(tmp_path) -> None:
    """B+ at full size (80M parameters): SAM2Train with MSS, every trainable name valid."""
    cfg = compose_config("sam2.1_hiera_b+_mss_lvt_stage2", ["stage1_run=/runs/s1"])
    model = instantiate(cfg.trainer.model, _convert_="all")
    assert (model.sigmoid_scale_for_mem_enc, model.sigmoid_bias_for_mem_enc) == (7.5, -4.0)
    assert sorted(cfg.trainer.trainable_modules) == sorted(
        set(module_names(model)) - {"image_encoder"}
    )
    sampler = instantiate(cfg.vos.train_sampler)
    assert isinstance(sampler, GapSampler) and sampler.num_frames == 16
    assert (sampler.min_gap, sampler.max_gap) == (1, 3)


STAGE2_ON_DEMO = [
    "recipe=mss_lvt_stage2",
    "validation=none",
    "scratch.num_frames=4",  # the test videos have 8 frames
    "scratch.num_train_workers=0",
    "scratch.num_epochs=1",
    "scratch.base_lr=1e-3",
]


def test_stage2_starts_from_the_stage1_run(demo_run: Path, synthetic_root: Path, tmp_path):
    run = tmp_path / "stage2"
    args = ["sam2-train", "-c", "demo_scratch", f"dataset.root={synthetic_root}", *STAGE2_ON_DEMO]
    check_ok(run_command(*args, f"stage1_run={demo_run}", f"launcher.experiment_log_dir={run}"))
    stage1 = torch.load(demo_run / "checkpoints" / "checkpoint.pt", map_location="cpu")["model"]
    stage2 = torch.load(run / "checkpoints" / "checkpoint.pt", map_location="cpu")["model"]
    encoder = [key for key in stage1 if key.startswith("image_encoder.")]
    assert encoder and all(torch.equal(stage1[key], stage2[key]) for key in encoder)  # frozen
    assert any(not torch.equal(stage1[key], stage2[key]) for key in stage1 if key not in encoder)
    resolved = OmegaConf.load(run / "config_resolved.yaml")
    assert resolved.trainer.model.sigmoid_scale_for_mem_enc == 7.5
    missing = run_command(
        *args, f"stage1_run={tmp_path / 'nowhere'}", f"launcher.experiment_log_dir={run}_2"
    )
    assert_one_line_error(missing, str(tmp_path / "nowhere" / "checkpoints" / "checkpoint.pt"))
    unset = run_command(*args, f"launcher.experiment_log_dir={run}_3")
    assert_one_line_error(unset, "stage1_run")


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (
            ["-c", "demo_scratch", "trainer.vos_validation.memory_policy.name=bogus"],
            ["trainer.vos_validation.memory_policy", "unknown policy 'bogus'"],
        ),
        (
            [
                "-c",
                "demo_scratch",
                "vos.train_sampler._target_=training_ext.data.gap_sampler.GapSampler",
                "+vos.train_sampler.min_gap=3",
                "+vos.train_sampler.max_gap=1",
            ],
            ["vos.train_sampler: GapSampler", "min_gap=3"],
        ),
        (
            ["-c", "sam2.1_hiera_b+_mss_lvt_stage2", "stage1_run=/no/such/run"],
            ["/no/such/run/checkpoints/checkpoint.pt not found", "pass stage1_run="],
        ),
    ],
)
def test_bad_policy_sampler_or_stage1_run_is_one_line_before_training(
    synthetic_root: Path, overrides: list[str], fragments: list[str]
) -> None:
    result = run_command("sam2-train", "--check", f"dataset.root={synthetic_root}", *overrides)
    assert_one_line_error(result, "sam2-train: error:", *fragments)
