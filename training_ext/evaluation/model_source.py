"""Where a model to evaluate or export comes from: a training run folder, or config + checkpoint."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from training_ext.config import compose_config, config_name_from_argument, initialize_hydra
from training_ext.errors import UserError
from training_ext.evaluation.predictors import load_run_config


@dataclass(frozen=True)
class ModelSource:
    training_model: DictConfig  # the `trainer.model` node of the training config
    checkpoint: Path | None  # None: random init


def add_model_arguments(parser: argparse.ArgumentParser, random_init: bool = True) -> None:
    """--run / --config / --checkpoint; ``random_init``: --config without --checkpoint is allowed
    (a randomly initialised model)."""
    without_checkpoint = (
        "With --config and no --checkpoint the model is randomly initialised"
        if random_init
        else "Required with --config"
    )
    parser.add_argument(
        "--run", type=Path, help="training run folder (launcher.experiment_log_dir)"
    )
    parser.add_argument("--config", help="training config name or .yaml file (instead of --run)")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help=f"weights; default <run>/checkpoints/checkpoint.pt. {without_checkpoint}",
    )


def model_source_from_arguments(args: argparse.Namespace) -> ModelSource:
    if (args.run is None) == (args.config is None):
        raise UserError("give exactly one of --run DIR or --config NAME")
    if args.run is not None:
        model = load_run_config(args.run).trainer.model
        checkpoint = args.checkpoint or args.run / "checkpoints" / "checkpoint.pt"
        if not checkpoint.is_file():
            raise UserError(f"checkpoint {checkpoint} not found: pass --checkpoint PATH")
        return ModelSource(model, checkpoint)
    name, config_dir = config_name_from_argument(args.config)
    initialize_hydra(config_dir)
    return ModelSource(compose_config(name, []).trainer.model, args.checkpoint)
