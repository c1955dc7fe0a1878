"""``sam2-export``: a training checkpoint -> inference weights + a predictor config.

    sam2-export --run sam2_logs/demo --out exported/demo

writes ``exported/demo/model.pt`` (``{"model": state_dict}``, no optimizer or trainer state) and
``exported/demo/predictor.yaml`` (the run's architecture as a predictor config). Load them with
the stock builders once the folder is on the config search path::

    SAM2_CONFIG_PATH=exported/demo python -c "from sam2.build_sam import \\
        build_sam2_video_predictor as b; b('predictor', 'exported/demo/model.pt', device='cpu')"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

from training_ext.cli import exit_code
from training_ext.errors import UserError
from training_ext.model_source import add_model_arguments, model_source_from_arguments
from training_ext.predictor import build_predictor, predictor_model_config
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sam2-export", description=__doc__.splitlines()[0])
    add_model_arguments(parser, random_init=False)
    parser.add_argument("--out", type=Path, required=True, help="folder to create")
    args = parser.parse_args(argv)
    return exit_code("sam2-export", lambda: _export_command(args))


def _export_command(args: argparse.Namespace) -> None:
    source = model_source_from_arguments(args)
    if source.checkpoint is None:
        raise UserError("--checkpoint is required with --config")
    out = export(source.training_model, source.checkpoint, args.out)
    print(f"sam2-export: wrote {out / 'model.pt'} and {out / (CONFIG_NAME + '.yaml')}")


if __name__ == "__main__":
    sys.exit(main())
