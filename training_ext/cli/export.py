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

from training_ext.cli.common import ArgumentParser, exit_code
from training_ext.errors import UserError
from training_ext.evaluation.export import CONFIG_NAME, export
from training_ext.evaluation.model_source import add_model_arguments, model_source_from_arguments


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="sam2-export", description=__doc__.splitlines()[0])
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
