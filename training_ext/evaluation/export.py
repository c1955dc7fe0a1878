"""Exporting a training checkpoint as inference weights (``model.pt``) plus the predictor config
that the stock ``build_sam2_video_predictor`` loads them with (``predictor.yaml``)."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf

from training_ext.errors import UserError
from training_ext.evaluation.predictors import build_predictor, predictor_model_config
from training_ext.staged_write import staged_folder

CONFIG_NAME = "predictor"


def export(training_model, checkpoint: Path, out_dir: Path) -> Path:
    """Write ``model.pt`` and ``predictor.yaml`` into ``out_dir`` (atomically); returns it."""
    if out_dir.exists():
        raise UserError(f"{out_dir} already exists: remove it or choose another --out")
    predictor = build_predictor(training_model, checkpoint, device="cpu")  # validates the weights
    with staged_folder(out_dir) as staging:
        torch.save({"model": predictor.state_dict()}, staging / "model.pt")
        yaml = OmegaConf.to_yaml({"model": predictor_model_config(training_model)})
        (staging / f"{CONFIG_NAME}.yaml").write_text("# @package _global_\n" + yaml)
    return out_dir
