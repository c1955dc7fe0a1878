"""``sam2-eval``: predict a dataset with a trained model, score predictions, or both.

    sam2-eval predict --run sam2_logs/demo --data data/synthetic \\
        --videos data/synthetic/ImageSets/val.txt --out preds
    sam2-eval score --gt data/synthetic/Annotations --pred preds --out scores
    sam2-eval run --run sam2_logs/demo --data data/synthetic --videos ... --out eval --zip sub.zip
    sam2-eval run --run sam2_logs/demo --data ... --out eval_rcms --memory-policy rcms \\
        --memory-policy-args num_prev_frames_to_promote=4 low_quality_threshold=0.6
    sam2-eval compare before=eval_random after=eval --out j_and_f.png
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import pandas as pd

from training_ext.cli.common import ArgumentParser, exit_code, positive_int
from training_ext.errors import UserError
from training_ext.evaluation.inference import PROMPT_FRAMES, PROMPTS, dataset_videos
from training_ext.evaluation.metrics import SCORE_MODES
from training_ext.evaluation.model_source import add_model_arguments, model_source_from_arguments
from training_ext.evaluation.predict import predict_dataset
from training_ext.evaluation.score import ScoreResult, score_folders, write_scores
from training_ext.evaluation.tracking_report import (
    TRACKED_FRAMES_CSV,
    describe,
    summarize,
    with_ground_truth,
)
from training_ext.evaluation.visuals import overlay_gif, plot_per_video
from training_ext.memory_policies import (
    POLICIES,
    make_policy,
    parse_policy_args,
    policy_spec,
)
from training_ext.staged_write import staged_folder


def _add_prediction_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument(
        "--data", type=Path, required=True, help="dataset root holding JPEGImages/ and Annotations/"
    )
    parser.add_argument("--videos", type=Path, help="text file of video names (default: all)")
    parser.add_argument(
        "--prompt",
        choices=PROMPTS,
        default="mask",
        help="what the ground truth gives the model (default: mask)",
    )
    parser.add_argument(
        "--prompt-frame",
        choices=PROMPT_FRAMES,
        default="first",
        help="first: objects of the first frame; appearance: each object on "
        "the frame it first appears",
    )
    parser.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        help="worker processes (one per GPU, or CPU processes)",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--memory-policy",
        default="none",
        metavar="NAME",
        help=f"memory-selection policy: {', '.join(POLICIES)} (default: none, the stock memory)",
    )
    parser.add_argument(
        "--memory-policy-args",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="policy parameters, e.g. num_prev_frames_to_promote=4 low_quality_threshold=0.6",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="sam2-eval", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="write palette PNG predictions")
    _add_prediction_arguments(predict)
    predict.add_argument("--out", type=Path, required=True, help="folder to create")

    score = commands.add_parser("score", help="J&F (DAVIS) or J&Ḟ and friends (MOSEv2)")
    score.add_argument("--gt", type=Path, required=True, help="<gt>/<video>/<frame>.png")
    score.add_argument("--pred", type=Path, required=True, help="<pred>/<video>/<frame>.png")
    score.add_argument("--videos", type=Path, help="text file of video names (default: all)")
    _add_scoring_arguments(score)
    score.add_argument("--out", type=Path, help="write per_object.csv, per_video.csv, summary.json")

    run = commands.add_parser("run", help="predict, then score; optional submission zip")
    _add_prediction_arguments(run)
    _add_scoring_arguments(run)
    run.add_argument(
        "--out", type=Path, required=True, help="folder to create: predictions/, scores/, overlays/"
    )
    run.add_argument("--zip", type=Path, help="also write a submission zip of the predictions")
    run.add_argument(
        "--gif", nargs="*", default=[], metavar="VIDEO", help="videos to render as overlay GIFs"
    )

    compare = commands.add_parser("compare", help="table and bar chart of several `run` outputs")
    compare.add_argument("runs", nargs="+", metavar="NAME=DIR", help="a label and a `run` --out")
    compare.add_argument("--metric", default="J&F")
    compare.add_argument("--out", type=Path, required=True, help="PNG to write")
    return parser


def _add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=SCORE_MODES, default="davis")
    parser.add_argument(
        "--score-processes", type=positive_int, default=2, help="processes for scoring (default 2)"
    )


def predict(args: argparse.Namespace) -> None:
    _predict(args)
    print(f"sam2-eval: predictions for {len(list(args.out.iterdir()))} videos in {args.out}")


def _predict(args: argparse.Namespace) -> pd.DataFrame:
    """Write the predictions to ``args.out``; return the tracked-frame rows."""
    policy = {"name": args.memory_policy, **parse_policy_args(args.memory_policy_args)}
    policy = policy_spec(make_policy(policy, where="--memory-policy"))  # fails before any work
    source = model_source_from_arguments(args)
    videos = dataset_videos(args.data, args.videos)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UserError("--device cuda but no CUDA GPU is visible: use --device auto or cpu")
    return predict_dataset(
        source.training_model,
        source.checkpoint,
        videos,
        args.out,
        prompt=args.prompt,
        prompt_frame=args.prompt_frame,
        processes=args.processes,
        device=args.device,
        memory_policy=policy,
    )


def score(args: argparse.Namespace) -> ScoreResult:
    videos = None
    if args.videos is not None:
        if not args.videos.is_file():
            raise UserError(f"video list {args.videos} not found")
        videos = args.videos.read_text().split()
    result = score_folders(
        args.gt, args.pred, mode=args.mode, processes=args.score_processes, videos=videos
    )
    if args.out is not None:
        _write_report(result, args.out, label=args.pred.name)
    _print_summary(result)
    return result


def run(args: argparse.Namespace) -> None:
    """predict + score (+ overlays, zip), written under a temporary name and renamed at the end."""
    if args.out.exists():
        raise UserError(f"output folder {args.out} already exists: remove it or choose another")
    unknown = sorted(set(args.gif) - {v.name for v in dataset_videos(args.data, args.videos)})
    if unknown:
        raise UserError(f"--gif: no video named {', '.join(unknown)} among the evaluated videos")
    with staged_folder(args.out) as staging:
        result = _predict_and_score(args, staging)
    if args.zip is not None:
        archive = shutil.make_archive(
            str(args.zip.with_suffix("")), "zip", args.out / "predictions"
        )
        print(f"sam2-eval: submission {archive}")
    print(f"sam2-eval: predictions, scores and overlays in {args.out}")
    _print_summary(result)


def _predict_and_score(args: argparse.Namespace, out: Path) -> ScoreResult:
    predictions = out / "predictions"
    tracked = _predict(argparse.Namespace(**{**vars(args), "out": predictions}))
    result = score_folders(
        args.data / "Annotations",
        predictions,
        mode=args.mode,
        processes=args.score_processes,
        videos=sorted(p.name for p in predictions.iterdir()),
    )
    _write_report(result, out / "scores", label=args.out.name)
    if not tracked.empty:
        tracked = with_ground_truth(tracked, dataset_videos(args.data, args.videos))
        tracked.to_csv(out / "scores" / TRACKED_FRAMES_CSV, index=False)
        tracking = summarize(tracked)
        (out / "scores" / "tracking.json").write_text(json.dumps(tracking, indent=2) + "\n")
        print(f"sam2-eval: {describe(tracking)}")
    for video in args.gif:
        (out / "overlays").mkdir(exist_ok=True)
        frames = args.data / "JPEGImages" / video
        overlay_gif(frames, predictions / video, out / "overlays" / f"{video}.gif")
    return result


def compare(args: argparse.Namespace) -> None:
    """Print the summaries of several `run` outputs side by side and plot them per video."""
    columns, summaries = {}, {}
    for item in args.runs:
        name, sep, folder = item.partition("=")
        scores = Path(folder) / "scores"
        if not sep or not (scores / "per_video.csv").is_file():
            raise UserError(f"{item!r}: expected NAME=DIR where DIR is a `sam2-eval run` --out")
        per_video = pd.read_csv(scores / "per_video.csv").set_index("video")
        if args.metric not in per_video:
            raise UserError(f"--metric {args.metric!r} not in {scores / 'per_video.csv'}")
        columns[name] = per_video[args.metric]
        summaries[name] = json.loads((scores / "summary.json").read_text())
    table = pd.DataFrame(summaries).loc[
        [k for k in SUMMARY_KEYS if k in pd.DataFrame(summaries).index]
    ]
    if len(summaries) == 2:
        first, second = table.columns
        table["change"] = table[second] - table[first]
    print(table.to_string(float_format=lambda v: f"{v:+.3f}" if v < 0 else f"{v:.3f}"))
    plot_per_video(columns, args.metric, args.out)
    print(f"sam2-eval: chart {args.out}")


SUMMARY_KEYS = ("J&F", "J_mean", "F_mean", "J&Fdot", "Fdot_mean", "J&Fdot_d", "J&Fdot_r")


def _write_report(result: ScoreResult, out_dir: Path, label: str) -> None:
    write_scores(result, out_dir)
    per_video = result.per_video.set_index("video")
    plot_per_video({label: per_video["J&F"]}, "J&F", out_dir / "per_video.png")


def _print_summary(result: ScoreResult) -> None:
    values = "  ".join(
        f"{key} {result.summary[key]:.4f}"
        for key in SUMMARY_KEYS
        if isinstance(result.summary.get(key), float)
    )
    counts = f"{result.summary['videos']} videos, {result.summary['objects']} objects"
    print(f"sam2-eval: {counts}: {values}")


COMMANDS = {"predict": predict, "score": score, "run": run, "compare": compare}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return exit_code("sam2-eval", lambda: COMMANDS[args.command](args))


if __name__ == "__main__":
    sys.exit(main())
