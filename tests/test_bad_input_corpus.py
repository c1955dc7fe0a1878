"""A corpus of bad inputs and faults across the four commands and the two launchers, one row each.

Every row runs the command as a user types it (a subprocess) on a real bad file or value and
expects the one-line promise: exit code 2, a single stderr line that names the cause, no
traceback, and nothing half-written where the command would have written. The table is the
closing-note table of issue 12: ``python tests/test_bad_input_corpus.py`` prints it.
"""

# ruff: noqa: E501 - one case per line, so the corpus reads as a table
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, run_command
from PIL import Image

from training_ext.config import SHIPPED_MODELS

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset


REPO = Path(__file__).resolve().parent.parent
SHIPPED = SHIPPED_MODELS / "tiny_demo_synthetic.pt"


@dataclass
class Place:
    """Where a case builds its bad input: a scratch folder, a copy of the synthetic set made on
    demand, and a trained run."""

    tmp: Path
    synthetic: Path
    run: Path
    _data: Path | None = field(default=None, init=False)

    @property
    def data(self) -> Path:
        """A private copy of the synthetic set, for cases that damage it."""
        if self._data is None:
            self._data = Path(shutil.copytree(self.synthetic, self.tmp / "data"))
        return self._data

    def first(self, kind: str) -> Path:
        """The first training frame (``JPEGImages``) or mask (``Annotations``) of the copy."""
        video = (self.data / "ImageSets" / "train.txt").read_text().split()[0]
        return sorted((self.data / kind / video).iterdir())[0]

    def file(self, name: str, content: bytes | str = "not what was expected\n") -> Path:
        path = self.tmp / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path


@dataclass(frozen=True)
class Case:
    """One bad input: the command line (built in ``Place``), the words its error must contain,
    and the output path that must not exist afterwards."""

    name: str
    argv: Callable[[Place], list]
    fragments: tuple[str, ...]
    leaves_nothing_at: str | None = None  # relative to Place.tmp
    listed: tuple[str, ...] = ()  # in stdout: `sam2-data validate` lists every problem there


def train(*args: str) -> Callable[[Place], list]:
    """``sam2-train -c demo --check`` on the synthetic set, plus ``args`` (formatted with the
    place's fields: {tmp}, {data}, {synthetic}, {run}, {model})."""

    def argv(place: Place) -> list:
        fields = _fields(place, args)
        root = fields.get("data", place.synthetic)
        # a run folder of its own: ./sam2_logs/demo may hold a `make demo` run with a checkpoint
        run = (
            []
            if any(a.startswith("launcher.experiment_log_dir=") for a in args)
            else [f"launcher.experiment_log_dir={place.tmp}/run"]
        )
        return ["sam2-train", "-c", "demo", "--check", f"dataset.root={root}", *run] + [
            arg.format(**fields) for arg in args
        ]

    return argv


def command(*args: str, prepare: Callable[[Place], object] | None = None):
    """Any console script or launcher, ``args`` formatted as in ``train``; ``prepare`` runs first
    (it damages the data copy or writes a file)."""

    def argv(place: Place) -> list:
        if prepare is not None:
            prepare(place)
        fields = _fields(place, args)
        return [arg.format(**fields) for arg in args]

    return argv


def _fields(place: Place, args: tuple[str, ...]) -> dict[str, object]:
    fields: dict[str, object] = {
        "tmp": place.tmp, "synthetic": place.synthetic, "run": place.run, "model": SHIPPED,
    }  # fmt: skip
    if any("{data}" in arg for arg in args):
        fields["data"] = place.data
    return fields


# -- what the cases damage -----------------------------------------------------------------------


def rgb_mask(place: Place) -> None:
    path = place.first("Annotations")
    Image.open(path).convert("RGB").save(path)


def mask_of_other_size(place: Place) -> None:
    path = place.first("Annotations")
    with Image.open(path) as mask:
        mask.resize((mask.width // 2, mask.height // 2)).save(path)


def truncated_jpeg(place: Place) -> None:
    path = place.first("JPEGImages")
    path.write_bytes(path.read_bytes()[:200])


def empty_train_list(place: Place) -> None:
    (place.data / "ImageSets" / "train.txt").write_text("")


def list_names_missing_video(place: Place) -> None:
    with open(place.data / "ImageSets" / "train.txt", "a") as listing:
        listing.write("no_such_video\n")


def no_jpeg_folder(place: Place) -> None:
    shutil.rmtree(place.data / "JPEGImages")


def model_of_other_shape(place: Place) -> Path:
    state = torch.load(SHIPPED, map_location="cpu")["model"]
    key = next(key for key, value in state.items() if value.dim() == 2)
    state[key] = torch.zeros(3, 3)
    path = place.tmp / "other.pt"
    torch.save({"model": state}, path)
    return path


def truncated_model(place: Place) -> Path:
    return place.file("truncated.pt", SHIPPED.read_bytes()[: SHIPPED.stat().st_size // 2])


def junk_resume_checkpoint(place: Place) -> None:
    run = place.tmp / "resumed"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "checkpoint.pt").write_text("junk")


def held_run_folder(place: Place) -> None:
    """Another process holds the run folder's lock (a real flock, held by a child process)."""
    run = place.tmp / "locked"
    run.mkdir()
    holder = subprocess.Popen(
        ["python3", "-c", HOLD_LOCK, str(run / ".lock")], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    place.holder = holder  # type: ignore[attr-defined]


HOLD_LOCK = """
import fcntl, os, socket, sys, time

handle = open(sys.argv[1], "a+")
fcntl.flock(handle, fcntl.LOCK_EX)
handle.truncate(0); handle.write(f"{socket.gethostname()} {os.getpid()}\\n"); handle.flush()
print("locked", flush=True)
time.sleep(120)
"""
assert fcntl  # the holder above uses the same lock as training_ext.launch.run_lock


def malformed_yaml(place: Place) -> None:
    place.file("bad.yaml", "defaults:\n  - demo\n  scratch: [unclosed\n")


def yaml_naming_missing_default(place: Place) -> None:
    place.file("missing_default.yaml", "defaults:\n  - no_such_recipe\n  - _self_\n")


def occupied(name: str) -> Callable[[Place], None]:
    return lambda place: (place.tmp / name).mkdir()


def bad_json(place: Place) -> None:
    place.file("bad.json", '{"images": [')


def coco_without_categories(place: Place) -> None:
    place.file("nocat.json", json.dumps({"images": [], "annotations": []}))


def coco_with_bad_rle(place: Place) -> None:
    data = {
        "categories": [{"id": 1, "name": "object"}],
        "images": [
            {
                "id": 1,
                "video_id": 1,
                "order_in_video": 0,
                "height": 8,
                "width": 8,
                "file_name": "v/0.jpg",
            }
        ],  # fmt: skip
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "track_id": 1,
                "segmentation": {"size": [4, 4], "counts": "abc"},
            }
        ],  # fmt: skip
    }
    (place.tmp / "images" / "v").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(place.tmp / "images" / "v" / "0.jpg")
    place.file("badrle.json", json.dumps(data))


def predictions_like(place: Place, damage: Callable[[Path], None]) -> None:
    """A prediction folder copied from the ground truth of the validation videos, one file
    damaged by ``damage``."""
    predictions = place.tmp / "pred"
    videos = (place.synthetic / "ImageSets" / "val.txt").read_text().split()
    for video in videos:
        shutil.copytree(place.synthetic / "Annotations" / video, predictions / video)
    damage(sorted((predictions / videos[0]).iterdir())[1])


def rgb_prediction(place: Place) -> None:
    predictions_like(place, lambda path: Image.open(path).convert("RGB").save(path))


def small_prediction(place: Place) -> None:
    predictions_like(place, lambda path: Image.fromarray(np.zeros((4, 4), np.uint8)).save(path))


def missing_prediction_video(place: Place) -> None:
    predictions_like(place, lambda path: None)
    video = (place.synthetic / "ImageSets" / "val.txt").read_text().split()[0]
    shutil.rmtree(place.tmp / "pred" / video)


def not_a_png_prediction(place: Place) -> None:
    predictions_like(place, lambda path: path.write_text("junk"))


def video_list_with_unknown_video(place: Place) -> None:
    place.file("videos.txt", "no_such_video\n")


# -- the corpus ----------------------------------------------------------------------------------

VAL = ("--data", "{synthetic}", "--videos", "{synthetic}/ImageSets/val.txt")
SUBMIT = str(REPO / "slurm" / "submit.sh")
DOCKER = str(REPO / "run_training_docker.sh")

CASES = [
    # sam2-train: the config and its values
    Case("no config", command("sam2-train", "scratch.base_lr=1"), ("-c/--config is required",)),
    Case("misspelled config", command("sam2-train", "-c", "demoo"), ("'demoo' not found", "did you mean demo")),
    Case("config file missing", command("sam2-train", "-c", "{tmp}/nope.yaml"), ("nope.yaml",)),
    Case("malformed config file", command("sam2-train", "-c", "{tmp}/bad.yaml", prepare=malformed_yaml), ("bad.yaml",)),
    Case("config with missing default", command("sam2-train", "-c", "{tmp}/missing_default.yaml", prepare=yaml_naming_missing_default), ("no_such_recipe",)),
    Case("unknown key", train("scratch.base_lrr=1"), ("no key 'scratch.base_lrr'", "did you mean scratch.base_lr")),
    Case("override without =", train("scratch.base_lr"), ("scratch.base_lr",)),
    Case("unknown group option", train("model=tiny_dem"), ("model/tiny_dem", "tiny_demo", "sam2.1_hiera_b+")),
    Case("epochs not a number", train("trainer.max_epochs=abc"), ("trainer.max_epochs='abc'", "whole number >= 1")),
    Case("zero epochs", train("scratch.num_epochs=0"), ("scratch.num_epochs=0", "whole number >= 1")),
    Case("negative lr", train("scratch.base_lr=-1"), ("scratch.base_lr=-1", "number >= 0")),
    Case("lr not a number", train("scratch.vision_lr=fast"), ("scratch.vision_lr='fast'", "number >= 0")),
    Case("zero batch", train("scratch.train_batch_size=0"), ("scratch.train_batch_size=0", "whole number")),
    Case("negative frames", train("scratch.num_frames=-3"), ("scratch.num_frames=-3", "whole number")),
    Case("fractional objects", train("scratch.max_num_objects=1.5"), ("scratch.max_num_objects=1.5", "whole number")),
    Case("negative workers", train("scratch.num_train_workers=-1"), ("scratch.num_train_workers=-1", ">= 0")),
    Case("image size not /32", train("trainer.model.image_size=100"), ("trainer.model.image_size=100", "multiple of 32")),
    Case("bad on_bad_frame", train("dataset.on_bad_frame=ignore"), ("dataset.on_bad_frame=ignore", "skip, fail")),
    Case("unknown trainable module", train("trainer.trainable_modules=[memory_atention]"), ("memory_atention",)),
    Case("unknown validation policy", train("trainer.vos_validation.memory_policy.name=rcmz"), ("rcmz",)),
    Case("bad validation score mode", train("trainer.vos_validation.score_mode=ytvos"), ("ytvos",)),
    Case("external launcher without env", command("sam2-train", "-c", "demo", "--external-launcher", "dataset.root={synthetic}"), ("RANK",)),
    # sam2-train: the data
    Case("dataset root missing", train("dataset.root={tmp}/nowhere"), ("nowhere",)),
    Case("dataset root is a file", command("sam2-train", "-c", "demo", "--check", "dataset.root={model}"), ("tiny_demo_synthetic.pt",)),
    Case("no JPEGImages", command("sam2-train", "-c", "demo", "--check", "dataset.root={data}", prepare=no_jpeg_folder), ("JPEGImages",)),
    Case("empty file list", command("sam2-train", "-c", "demo", "--check", "dataset.root={data}", prepare=empty_train_list), ("train.txt",)),
    Case("list names a missing video", command("sam2-train", "-c", "demo", "--check", "dataset.root={data}", prepare=list_names_missing_video), ("no_such_video",)),
    Case("RGB mask", command("sam2-train", "-c", "demo", "--check", "dataset.root={data}", prepare=rgb_mask), ("RGB",)),
    Case("mask of another size", command("sam2-train", "-c", "demo", "--check", "dataset.root={data}", prepare=mask_of_other_size), ("size",)),
    Case("truncated first JPEG", command("sam2-train", "-c", "demo", "--check", "dataset.root={data}", prepare=truncated_jpeg), (".jpg",)),
    # sam2-train: checkpoints and the run folder
    Case("pretrained missing", train("pretrained.path={tmp}/none.pt"), ("none.pt",)),
    Case("pretrained not a checkpoint", command("sam2-train", "-c", "demo", "--check", "dataset.root={synthetic}", "pretrained.path={tmp}/text.pt", prepare=lambda p: p.file("text.pt")), ("text.pt",)),
    Case("pretrained truncated", command("sam2-train", "-c", "demo", "--check", "dataset.root={synthetic}", "pretrained.path={tmp}/truncated.pt", prepare=truncated_model), ("truncated.pt",)),
    Case("pretrained of another shape", command("sam2-train", "-c", "demo", "--check", "dataset.root={synthetic}", "pretrained.path={tmp}/other.pt", prepare=model_of_other_shape), ("other.pt",)),
    Case("resume_from missing", train("trainer.checkpoint.resume_from={tmp}/none.pt"), ("none.pt",)),
    Case("resume_from a model file", train("trainer.checkpoint.resume_from={model}"), ("tiny_demo_synthetic.pt",)),
    Case("junk checkpoint in run folder", command("sam2-train", "-c", "demo", "--check", "dataset.root={synthetic}", "launcher.experiment_log_dir={tmp}/resumed", prepare=junk_resume_checkpoint), ("checkpoint.pt",)),
    Case("run folder under a file", train("launcher.experiment_log_dir={model}/run"), ("cannot be written",)),
    Case("run folder in /proc", train("launcher.experiment_log_dir=/proc/run"), ("/proc/run cannot be written", "writable")),
    Case("run folder held by another training", command("sam2-train", "-c", "demo", "dataset.root={synthetic}", "launcher.experiment_log_dir={tmp}/locked", "scratch.num_epochs=1", prepare=held_run_folder), ("locked",)),
    # sam2-data
    Case("synth into an existing folder", command("sam2-data", "synth", "--out", "{tmp}/taken", prepare=occupied("taken")), ("taken",)),
    Case("synth frames too small", command("sam2-data", "synth", "--out", "{tmp}/s", "--width", "8"), ("--width",), "s"),
    Case("synth unknown style", command("sam2-data", "synth", "--out", "{tmp}/s", "--style", "neon"), ("neon",), "s"),
    Case("eval: unknown score mode", command("sam2-eval", "score", "--gt", "{synthetic}/Annotations", "--pred", "{synthetic}/Annotations", "--mode", "ytvos"), ("ytvos", "--help")),
    Case("train: unknown flag value", command("sam2-train", "-c", "demo", "--cfg", "all"), ("--cfg", "--help")),
    Case("validate missing folder", command("sam2-data", "validate", "{tmp}/nowhere"), ("nowhere",)),
    Case("validate RGB mask", command("sam2-data", "validate", "{data}", prepare=rgb_mask), ("1 errors",), listed=("RGB masks",)),
    Case("validate truncated JPEG", command("sam2-data", "validate", "{data}", prepare=truncated_jpeg), ("1 errors",), listed=("unreadable frames",)),
    Case("validate malformed JSON", command("sam2-data", "validate", "{tmp}/bad.json", "--image-root", "{tmp}", prepare=bad_json), ("bad.json",)),
    Case("validate COCO without categories", command("sam2-data", "validate", "{tmp}/nocat.json", "--image-root", "{tmp}", prepare=coco_without_categories), ("errors",), listed=("categories: missing or empty",)),
    Case("validate bad RLE", command("sam2-data", "validate", "{tmp}/badrle.json", "--image-root", "{tmp}/images", prepare=coco_with_bad_rle), ("errors",), listed=("RLE size [4, 4] differs",)),
    Case("stats missing folder", command("sam2-data", "stats", "{tmp}/nowhere"), ("nowhere",)),
    Case("convert into an existing file", command("sam2-data", "convert", "{synthetic}", "--to", "coco_video", "--out", "{tmp}/taken.json", prepare=lambda p: p.file("taken.json")), ("taken.json",)),
    Case("convert an RGB mask", command("sam2-data", "convert", "{data}", "--to", "coco_video", "--out", "{tmp}/out.json", prepare=rgb_mask), ("RGB",), "out.json"),
    # sam2-eval
    Case("score: no ground truth", command("sam2-eval", "score", "--gt", "{tmp}/nowhere", "--pred", "{tmp}"), ("nowhere",)),
    Case("score: RGB prediction", command("sam2-eval", "score", "--gt", "{synthetic}/Annotations", "--pred", "{tmp}/pred", "--videos", "{synthetic}/ImageSets/val.txt", prepare=rgb_prediction), ("RGB",)),
    Case("score: prediction of another size", command("sam2-eval", "score", "--gt", "{synthetic}/Annotations", "--pred", "{tmp}/pred", "--videos", "{synthetic}/ImageSets/val.txt", prepare=small_prediction), ("4x4",)),
    Case("score: a video not predicted", command("sam2-eval", "score", "--gt", "{synthetic}/Annotations", "--pred", "{tmp}/pred", "--videos", "{synthetic}/ImageSets/val.txt", prepare=missing_prediction_video), ("pred",)),
    Case("score: prediction not a PNG", command("sam2-eval", "score", "--gt", "{synthetic}/Annotations", "--pred", "{tmp}/pred", "--videos", "{synthetic}/ImageSets/val.txt", prepare=not_a_png_prediction), ("cannot be read",)),
    Case("predict: not a run folder", command("sam2-eval", "predict", "--run", "{tmp}", *VAL, "--out", "{tmp}/p"), ("config_resolved.yaml",), "p"),
    Case("predict: checkpoint not a zip", command("sam2-eval", "predict", "--config", "demo", "--checkpoint", "{tmp}/text.pt", *VAL, "--out", "{tmp}/p", prepare=lambda p: p.file("text.pt")), ("text.pt",), "p"),
    Case("predict: checkpoint missing", command("sam2-eval", "predict", "--config", "demo", "--checkpoint", "{tmp}/none.pt", *VAL, "--out", "{tmp}/p"), ("none.pt",), "p"),
    Case("predict: checkpoint of another shape", command("sam2-eval", "predict", "--config", "demo", "--checkpoint", "{tmp}/other.pt", *VAL, "--out", "{tmp}/p", prepare=model_of_other_shape), ("other.pt",), "p"),
    Case("predict: unknown video in list", command("sam2-eval", "predict", "--run", "{run}", "--data", "{synthetic}", "--videos", "{tmp}/videos.txt", "--out", "{tmp}/p", prepare=video_list_with_unknown_video), ("no_such_video",), "p"),
    Case("predict: out exists", command("sam2-eval", "predict", "--run", "{run}", *VAL, "--out", "{tmp}/taken", prepare=occupied("taken")), ("already exists",)),
    Case("run: unknown policy", command("sam2-eval", "run", "--run", "{run}", *VAL, "--out", "{tmp}/e", "--memory-policy", "bogus"), ("bogus",), "e"),
    Case("run: policy parameter typo", command("sam2-eval", "run", "--run", "{run}", *VAL, "--out", "{tmp}/e", "--memory-policy", "rcms", "--memory-policy-args", "frames=3"), ("frames",), "e"),
    Case("run: policy value out of range", command("sam2-eval", "run", "--run", "{run}", *VAL, "--out", "{tmp}/e", "--memory-policy", "rcms", "--memory-policy-args", "low_quality_threshold=1.5"), ("low_quality_threshold",), "e"),
    # sam2-export
    Case("export: checkpoint not a zip", command("sam2-export", "--config", "demo", "--checkpoint", "{tmp}/text.pt", "--out", "{tmp}/x", prepare=lambda p: p.file("text.pt")), ("text.pt",), "x"),
    Case("export: truncated checkpoint", command("sam2-export", "--config", "demo", "--checkpoint", "{tmp}/truncated.pt", "--out", "{tmp}/x", prepare=truncated_model), ("truncated.pt",), "x"),
    Case("export: no checkpoint", command("sam2-export", "--config", "demo", "--out", "{tmp}/x"), ("--checkpoint",), "x"),
    Case("export: not a run folder", command("sam2-export", "--run", "{tmp}", "--out", "{tmp}/x"), ("config_resolved.yaml",), "x"),
    Case("export: out exists", command("sam2-export", "--run", "{run}", "--out", "{tmp}/taken", prepare=occupied("taken")), ("already exists",)),
    # the launchers
    Case("submit.sh: misspelled config", command("/usr/bin/env", "SAM2_CONFIG=demoo", "SAM2_DATASET={synthetic}", SUBMIT, "--dry-run"), ("demoo",)),
    Case("submit.sh: config too big for the GPUs", command("/usr/bin/env", "SAM2_GPU_MEMORY=0.01", "SAM2_DATASET={synthetic}", SUBMIT, "--dry-run"), ("demo needs ~", "biggest lever")),
    Case("train: estimate of a step that trains nothing", command("sam2-train", "-c", "demo", "--estimate-memory", "scratch.num_frames=1", "trainer.trainable_modules=[memory_attention]"), ("trains nothing", "scratch.num_frames")),
    Case("train: estimate with zero frames", command("sam2-train", "-c", "demo", "--estimate-memory", "scratch.num_frames=0"), ("scratch.num_frames=0",)),
    Case("train: estimate with an unknown optimizer", command("sam2-train", "-c", "demo", "--estimate-memory", "trainer.optim.optimizer._target_=torch.optim.Nope"), ("trainer.optim.optimizer", "torch.optim.Nope")),
    Case("train: GPU memory not a size", command("sam2-train", "-c", "demo", "--estimate-memory", "--gpu-memory", "big"), ("--gpu-memory 'big'",)),
    Case("submit.sh: NUM_GPUS not a number", command("/usr/bin/env", "NUM_GPUS=eight", "SAM2_DATASET={synthetic}", SUBMIT, "--dry-run"), ("NUM_GPUS='eight'",)),
    Case("docker: misspelled config", command("/usr/bin/env", "SAM2_CONFIG=demoo", "SAM2_DATASET={synthetic}", DOCKER, "--dry-run"), ("demoo",)),
    Case("docker: dataset not a folder", command("/usr/bin/env", "SAM2_DATASET={model}", DOCKER, "--dry-run"), ("is not a directory",)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_one_line(
    case: Case, synthetic_root: Path, demo_run: Path, tmp_path: Path
) -> None:
    place = Place(tmp_path, synthetic_root, demo_run)
    argv = case.argv(place)
    try:
        result = _run(argv)
    finally:
        holder = getattr(place, "holder", None)
        if holder is not None:
            holder.kill()
    assert_one_line_error(result, *case.fragments)
    assert all(fragment in result.stdout for fragment in case.listed), result.stdout
    if case.leaves_nothing_at is not None:
        assert not (tmp_path / case.leaves_nothing_at).exists(), "half-written output left"


def _run(argv: list) -> subprocess.CompletedProcess:
    if os.sep in str(argv[0]):  # a launcher script, not a console script of this venv
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        return subprocess.run(
            [str(arg) for arg in argv], capture_output=True, text=True, env=env, timeout=300
        )
    return run_command(argv[0], *argv[1:])


def main() -> None:
    """Run every case on a fresh synthetic set and a one-epoch run; print the corpus table."""
    import tempfile

    from helpers import TRAIN_VIDEOS, check_ok, train_demo

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synthetic = root / "synthetic"
        check_ok(run_command("sam2-data", "synth", "--out", synthetic, "--seed", "3",
                             "--train-videos", TRAIN_VIDEOS, "--val-videos", 2, "--frames", 8))  # fmt: skip
        train_demo(synthetic, root / "run")
        outcomes = {"one-line error": 0, "traceback": 0, "other output": 0, "half-written": 0}
        for number, case in enumerate(CASES):
            place = Place(root / f"case{number}", synthetic, root / "run")
            place.tmp.mkdir()
            try:
                result = _run(case.argv(place))
            finally:
                holder = getattr(place, "holder", None)
                if holder is not None:
                    holder.kill()
            lines = result.stderr.strip().splitlines()
            if "Traceback" in result.stderr + result.stdout:
                outcome = "traceback"
            elif result.returncode == 2 and len(lines) == 1:
                outcome = "one-line error"
            else:
                outcome = "other output"
            outcomes[outcome] += 1
            left = case.leaves_nothing_at and (place.tmp / case.leaves_nothing_at).exists()
            outcomes["half-written"] += bool(left)
            print(f"| {case.name} | {outcome}{' (half-written)' if left else ''} | "
                  f"{(lines or ['(nothing)'])[0][:160]} |", flush=True)  # fmt: skip
        print(f"\n{len(CASES)} cases: " + ", ".join(f"{k} {v}" for k, v in outcomes.items()))


if __name__ == "__main__":
    main()
