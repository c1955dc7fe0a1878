"""``sam2-data``: dataset preparation commands.

sam2-data synth --out data/synthetic --seed 0     # DAVIS-layout synthetic train/val set
sam2-data synth --out data/reappear --reappear    # objects vanish for a while and come back
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training_ext.cli import exit_code, positive_int
from training_ext.errors import UserError
from training_ext.synthetic_data import SynthSpec, generate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sam2-data", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    synth = commands.add_parser(
        "synth", help="write a synthetic DAVIS-layout set of moving textured shapes"
    )
    defaults = SynthSpec()
    synth.add_argument("--out", type=Path, required=True, help="folder to create")
    synth.add_argument("--seed", type=int, default=0, help="same seed, same files")
    synth.add_argument("--train-videos", type=positive_int, default=defaults.train_videos)
    synth.add_argument("--val-videos", type=positive_int, default=defaults.val_videos)
    synth.add_argument("--frames", type=positive_int, default=defaults.frames)
    synth.add_argument("--width", type=positive_int, default=defaults.width)
    synth.add_argument("--height", type=positive_int, default=defaults.height)
    synth.add_argument("--max-objects", type=positive_int, default=defaults.max_objects)
    synth.add_argument(
        "--reappear",
        action="store_true",
        help="every object vanishes for a stretch of frames and comes back (held-out sets for "
        "disappearance/reappearance metrics)",
    )
    return parser


def synth(args: argparse.Namespace) -> None:
    if args.width < 32 or args.height < 32:
        raise UserError(f"--width/--height must be >= 32 pixels, got {args.width}x{args.height}")
    if args.out.exists():
        raise UserError(f"--out {args.out} already exists: remove it or choose another folder")
    spec = SynthSpec(
        train_videos=args.train_videos,
        val_videos=args.val_videos,
        frames=args.frames,
        width=args.width,
        height=args.height,
        max_objects=args.max_objects,
        reappear=args.reappear,
    )
    out = generate(args.out, seed=args.seed, spec=spec)
    print(f"sam2-data: wrote {spec.train_videos} train + {spec.val_videos} val videos to {out}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return exit_code("sam2-data", lambda: {"synth": synth}[args.command](args))


if __name__ == "__main__":
    sys.exit(main())
