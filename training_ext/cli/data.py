"""``sam2-data``: dataset preparation commands.

sam2-data synth --out data/synthetic --seed 0     # DAVIS-layout synthetic train/val set
sam2-data synth --out data/reappear --reappear    # objects vanish for a while and come back
sam2-data synth --out data/shifted --style shifted  # stars and crosses, cluttered, low light
sam2-data validate train.json --image-root imgs/  # every problem, one line each; exit 2 on errors
sam2-data stats data/synthetic --plot stats.png   # videos, frames, objects, mask areas
sam2-data convert train.json --image-root imgs/ --to davis --out data/davis
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training_ext.cli.common import ArgumentParser, exit_code, non_negative_int, positive_int
from training_ext.data.adapters.convert import davis_to_json, index_to_davis
from training_ext.data.adapters.file_checks import check_davis_files, check_indexed_files
from training_ext.data.adapters.indexed import DatasetIndex
from training_ext.data.adapters.sources import FORMATS, DavisSource, StockSource, open_source
from training_ext.data.adapters.stats import davis_masks, indexed_masks, plot, summary
from training_ext.data.synthetic import STYLES, SynthSpec, generate
from training_ext.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="sam2-data", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    synth = commands.add_parser(
        "synth", help="write a synthetic DAVIS-layout set of moving textured shapes"
    )
    defaults = SynthSpec()
    synth.add_argument("--out", type=Path, required=True, help="folder to create")
    synth.add_argument("--seed", type=int, default=0, help="same seed, same files")
    synth.add_argument(
        "--train-videos",
        type=non_negative_int,
        default=defaults.train_videos,
        help="0: a test set (val split only)",
    )
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
    synth.add_argument(
        "--style",
        choices=sorted(STYLES),
        default="basic",
        help="scene preset: basic (the demo set), pretrain (broad: more shapes and textures, "
        "speeds, growth, vanishing objects, distractors), shifted (shapes, textures and a "
        "background left out of pretrain, seen by a dark, noisy camera)",
    )

    validate = commands.add_parser(
        "validate", help="list every problem the trainer would trip on (exit 2 if any error)"
    )
    _add_source_arguments(validate)
    validate.add_argument(
        "--quick", action="store_true", help="index checks only, as sam2-train does (no files read)"
    )
    stats = commands.add_parser("stats", help="videos, frames, objects per video, mask areas")
    _add_source_arguments(stats)
    stats.add_argument("--plot", type=Path, help="also write histograms to this PNG")
    convert = commands.add_parser(
        "convert", help="COCO-video / YouTube-VIS -> DAVIS layout, or DAVIS -> either JSON"
    )
    _add_source_arguments(convert)
    convert.add_argument(
        "--to", required=True, choices=("davis", "coco_video", "youtube_vis"), help="output format"
    )
    convert.add_argument(
        "--out", type=Path, required=True, help="folder (davis) or .json file to create"
    )
    convert.add_argument(
        "--skip-invalid-videos", action="store_true", help="convert the videos that pass validation"
    )
    return parser


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", type=Path, help="DAVIS-layout folder (JPEGImages/, Annotations/) or a JSON file"
    )
    parser.add_argument("--format", choices=FORMATS, default="auto", help="default: detected")
    parser.add_argument(
        "--image-root", type=Path, help="JSON formats: the folder file names are relative to"
    )
    parser.add_argument("--file-list", type=Path, help="DAVIS: only the videos listed (one a line)")


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
        style=STYLES[args.style],
    )
    out = generate(args.out, seed=args.seed, spec=spec)
    print(f"sam2-data: wrote {spec.train_videos} train + {spec.val_videos} val videos to {out}")


def validate(args: argparse.Namespace) -> None:
    data_format, source = open_source(args.source, args.format, args.image_root, args.file_list)
    problems = list(source.problems)
    if not args.quick and not isinstance(source, StockSource):  # SA-V / SA-1B: checked already
        if isinstance(source, DavisSource):
            problems += check_davis_files(source.img_folder, source.gt_folder, source.listed_names)
        else:
            problems += check_indexed_files(source)
    for problem in problems:
        print(f"{'warning' if problem.warning else 'error'}: {problem}")
    errors = sum(not problem.warning for problem in problems)
    videos = source.videos if isinstance(source, DatasetIndex) else source.names
    summary_line = (
        f"{args.source} ({data_format}): {len(videos)} videos, {errors} errors, "
        f"{len(problems) - errors} warnings"
    )
    if errors:
        raise UserError(f"{summary_line} (listed above)")
    print(f"sam2-data: {summary_line}")


def stats(args: argparse.Namespace) -> None:
    data_format, source = open_source(args.source, args.format, args.image_root, args.file_list)
    _refuse_stock(source, data_format, "stats")
    if isinstance(source, DavisSource):
        masks, frames = davis_masks(source.gt_folder, source.usable_names)
    else:
        masks, frames = indexed_masks(source)
    if frames.empty:
        raise UserError(f"{args.source}: no usable video; run `sam2-data validate` on it")
    print(
        f"{args.source} ({data_format}): {len(frames)} videos, {frames.sum()} frames, "
        f"{masks.groupby(['video', 'object']).ngroups} objects, {len(masks)} masks"
    )
    print(summary(masks, frames).round(2).to_string())
    errors = [problem for problem in source.problems if not problem.warning]
    if errors:
        left_out = len({problem.video for problem in errors})
        print(
            f"sam2-data: warning: {left_out} video(s) left out of these numbers, e.g. {errors[0]}; "
            f"`sam2-data validate {args.source}` lists every problem",
            file=sys.stderr,
        )
    if args.plot:
        plot(masks, frames, args.plot)
        print(f"sam2-data: wrote {args.plot}")


def convert(args: argparse.Namespace) -> None:
    data_format, source = open_source(args.source, args.format, args.image_root, args.file_list)
    _refuse_stock(source, data_format, "convert")
    errors = [problem for problem in source.problems if not problem.warning]
    if errors and not args.skip_invalid_videos:
        raise UserError(
            f"{errors[0]} ({len(errors)} problems: `sam2-data validate` lists them; "
            "--skip-invalid-videos converts the rest)"
        )
    if isinstance(source, DavisSource):
        if args.to == "davis":
            raise UserError(f"{args.source} is already in the DAVIS layout; pass --to coco_video")
        names = source.usable_names
        davis_to_json(source.img_folder, source.gt_folder, names, args.out, args.to)
        print(
            f"sam2-data: wrote {len(names)} videos to {args.out} (image root {source.img_folder})"
        )
        return
    if args.to != "davis":
        raise UserError(f"{args.source} is {data_format}; it converts --to davis")
    bad = {problem.video for problem in errors}
    usable = DatasetIndex(source.source, [v for v in source.videos if v.name not in bad], [])
    count = index_to_davis(usable, args.out)
    print(f"sam2-data: wrote {count} videos to {args.out}")


def _refuse_stock(source: object, data_format: str, command: str) -> None:
    if isinstance(source, StockSource):
        raise UserError(
            f"`sam2-data {command}` reads DAVIS folders and COCO-video / YouTube-VIS / COCO JSON, "
            f"not {data_format}; `sam2-data validate` checks {data_format}"
        )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {"synth": synth, "validate": validate, "stats": stats, "convert": convert}
    return exit_code("sam2-data", lambda: commands[args.command](args))


if __name__ == "__main__":
    sys.exit(main())
