"""`sam2-eval predict` and `sam2-export` on a trained tiny run, and their bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, check_ok, run_command, val_data, val_list, val_videos
from PIL import Image

from training_ext.evaluation.predictors import build_predictor, predictor_model_config

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset


def predict(run: Path, data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_command(
        "sam2-eval",
        "predict",
        "--run",
        run,
        *val_data(data),
        "--out",
        out,
        *extra,
    )


def test_predict_writes_a_palette_png_per_frame(demo_run: Path, synthetic_root: Path, tmp_path):
    out = tmp_path / "pred"
    check_ok(predict(demo_run, synthetic_root, out, "--processes", "2"))
    assert sorted(p.name for p in out.iterdir()) == sorted(val_videos(synthetic_root))
    for video in val_videos(synthetic_root):
        gt_frames = sorted((synthetic_root / "Annotations" / video).glob("*.png"))
        predicted = sorted((out / video).glob("*.png"))
        assert [p.name for p in predicted] == [p.name for p in gt_frames]
        first_gt = np.array(Image.open(gt_frames[0]))
        first = Image.open(predicted[0])
        assert first.mode == "P" and first.size == Image.open(gt_frames[0]).size
        # The first frame is the prompt: its prediction is the given mask, up to the model's
        # low-resolution (image_size / 4) mask head.
        predicted_first = np.array(first)
        for object_id in set(np.unique(first_gt)) - {0}:
            a, b = predicted_first == object_id, first_gt == object_id
            assert (a & b).sum() / (a | b).sum() > 0.7


@pytest.mark.parametrize(
    "prompt", [("--prompt", "box"), ("--prompt", "point"), ("--prompt-frame", "appearance")]
)
def test_other_prompts(demo_run: Path, synthetic_root: Path, tmp_path: Path, prompt) -> None:
    out = tmp_path / "pred"
    check_ok(predict(demo_run, synthetic_root, out, *prompt))
    video = val_videos(synthetic_root)[0]
    gt_ids = set(
        np.unique(np.array(Image.open(synthetic_root / "Annotations" / video / "00000.png")))
    )
    for png in (out / video).glob("*.png"):
        assert set(np.unique(np.array(Image.open(png)))) <= gt_ids | {0} | set(range(1, 4))


def test_random_init_from_a_config_name(synthetic_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred"
    result = run_command(
        "sam2-eval",
        "predict",
        "--config",
        "demo_scratch",
        *val_data(synthetic_root),
        "--out",
        out,
        env={"SAM2_DATASET": str(synthetic_root)},
    )
    check_ok(result)
    assert len(list(out.iterdir())) == len(val_videos(synthetic_root))


def test_checkpoint_of_another_architecture(demo_run: Path, synthetic_root: Path, tmp_path: Path):
    result = run_command(
        "sam2-eval",
        "predict",
        "--config",
        "sam2.1_hiera_t_finetune",
        "--checkpoint",
        demo_run / "checkpoints" / "checkpoint.pt",
        "--data",
        synthetic_root,
        "--out",
        tmp_path / "pred",
        env={"SAM2_DATASET": str(synthetic_root)},
    )
    assert_one_line_error(result, "is for another architecture", "missing")
    assert not (tmp_path / "pred").exists()


def test_predict_refuses_frames_the_predictor_cannot_load(demo_run: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    for name in ("empty", "named"):
        (root / "JPEGImages" / name).mkdir(parents=True)
        (root / "Annotations" / name).mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(root / "JPEGImages" / "named" / "frame_a.jpg")
    empty = run_command(
        "sam2-eval", "predict", "--run", demo_run, "--data", root, "--out", tmp_path / "p"
    )
    assert_one_line_error(empty, "video empty: no .jpg frames")
    (root / "JPEGImages" / "empty").rmdir()
    (root / "Annotations" / "empty").rmdir()
    named = run_command(
        "sam2-eval", "predict", "--run", demo_run, "--data", root, "--out", tmp_path / "p"
    )
    assert_one_line_error(named, "frame frame_a.jpg is not named by its index")
    assert not (tmp_path / "p").exists()


def test_predict_bad_input(demo_run: Path, synthetic_root: Path, tmp_path: Path) -> None:
    assert_one_line_error(predict(tmp_path, synthetic_root, tmp_path / "p"), "config_resolved.yaml")
    assert_one_line_error(predict(demo_run, tmp_path, tmp_path / "p"), "JPEGImages does not exist")
    (tmp_path / "taken").mkdir()
    assert_one_line_error(predict(demo_run, synthetic_root, tmp_path / "taken"), "already exists")
    both = run_command(
        "sam2-eval",
        "predict",
        "--run",
        demo_run,
        "--config",
        "demo_scratch",
        "--data",
        synthetic_root,
        "--out",
        tmp_path / "p",
    )
    assert_one_line_error(both, "exactly one of --run DIR or --config NAME")


LOAD_EXPORTED = """
import sys, torch
from sam2.build_sam import build_sam2, build_sam2_video_predictor
from sam2.sam2_video_predictor import SAM2VideoPredictor

weights = sys.argv[1]
video = build_sam2_video_predictor("predictor", weights, device="cpu")
image = build_sam2("predictor", weights, device="cpu")
assert isinstance(video, SAM2VideoPredictor)
state = torch.load(weights)["model"]
for model in (video, image):
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
print("loaded", len(state))
"""


def test_export_round_trip(demo_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    check_ok(run_command("sam2-export", "--run", demo_run, "--out", out))
    exported = torch.load(out / "model.pt")
    assert list(exported) == ["model"]
    trained = torch.load(demo_run / "checkpoints" / "checkpoint.pt")["model"]
    assert all(torch.equal(exported["model"][k], v) for k, v in trained.items())
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_EXPORTED, str(out / "model.pt")],
        env={"SAM2_CONFIG_PATH": str(out), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert f"loaded {len(trained)}" in loaded.stdout


def test_export_refuses_existing_folder(demo_run: Path, tmp_path: Path) -> None:
    (tmp_path / "exported").mkdir()
    result = run_command("sam2-export", "--run", demo_run, "--out", tmp_path / "exported")
    assert_one_line_error(result, "already exists")


def test_export_help_and_behaviour_agree_on_config_without_checkpoint(tmp_path: Path) -> None:
    help_text = " ".join(check_ok(run_command("sam2-export", "--help")).stdout.split())
    assert "Required with --config" in help_text and "randomly" not in help_text
    result = run_command("sam2-export", "--config", "demo", "--out", tmp_path / "exported")
    assert_one_line_error(result, "--checkpoint is required with --config")
    assert not (tmp_path / "exported").exists()


def test_derived_predictor_config_equals_the_predictor_group() -> None:
    """The config derived from a training config is the hand-checked predictor config."""
    import sam2  # noqa: F401
    from hydra import compose
    from omegaconf import OmegaConf

    derived = predictor_model_config(
        compose(config_name="sam2.1_hiera_b+_finetune", overrides=[]).trainer.model
    )
    expected = compose(config_name="predictor/sam2.1_hiera_b+").model
    assert OmegaConf.to_container(derived) == OmegaConf.to_container(expected)


@pytest.mark.parametrize(
    ("config", "dynamic_multimask"), [("demo", False), ("sam2.1_hiera_t_finetune", True)]
)
def test_dynamic_multimask_only_for_models_that_track_with_three_masks(
    config: str, dynamic_multimask: bool
) -> None:
    """The tiny model tracks with one mask, so its unused multimask outputs are never switched
    to; a SAM2.1 model (three masks when tracking) keeps the stock inference settings."""
    from hydra import compose

    model = compose(config_name=config, overrides=["dataset.root=/unused"]).trainer.model
    predictor = build_predictor(model, checkpoint=None)
    assert predictor.sam_mask_decoder.dynamic_multimask_via_stability is dynamic_multimask
    assert predictor.fill_hole_area == 8  # the rest of the stock settings stay


def test_run_scores_zips_and_renders(demo_run: Path, synthetic_root: Path, tmp_path: Path) -> None:
    out, archive = tmp_path / "eval", tmp_path / "submission.zip"
    video = val_videos(synthetic_root)[0]
    result = check_ok(
        run_command(
            "sam2-eval",
            "run",
            "--run",
            demo_run,
            *val_data(synthetic_root),
            "--out",
            out,
            "--zip",
            archive,
            "--gif",
            video,
        )
    )
    assert "J&F" in result.stdout
    summary = json.loads((out / "scores" / "summary.json").read_text())
    assert summary["videos"] == len(val_videos(synthetic_root)) and 0 <= summary["J&F"] <= 1
    assert (out / "scores" / "per_video.png").stat().st_size > 5_000
    assert Image.open(out / "overlays" / f"{video}.gif").n_frames == 8
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
    assert f"{video}/00000.png" in names and not any(n.startswith("predictions") for n in names)
    # `score` on the same folders gives the same numbers.
    rescored = check_ok(
        run_command(
            "sam2-eval",
            "score",
            "--gt",
            synthetic_root / "Annotations",
            "--pred",
            out / "predictions",
            "--videos",
            val_list(synthetic_root),
            "--out",
            tmp_path / "rescored",
        )
    )
    assert "J&F" in rescored.stdout
    again = json.loads((tmp_path / "rescored" / "summary.json").read_text())
    assert again["J&F"] == summary["J&F"]


def test_compare_two_runs(demo_run: Path, synthetic_root: Path, tmp_path: Path) -> None:
    common = val_data(synthetic_root)
    check_ok(
        run_command(
            "sam2-eval", "run", "--config", "demo_scratch", *common, "--out", tmp_path / "a"
        )
    )
    check_ok(run_command("sam2-eval", "run", "--run", demo_run, *common, "--out", tmp_path / "b"))
    result = check_ok(
        run_command(
            "sam2-eval",
            "compare",
            f"random init={tmp_path / 'a'}",
            f"trained={tmp_path / 'b'}",
            "--out",
            tmp_path / "chart.png",
        )
    )
    assert "random init" in result.stdout and "trained" in result.stdout
    assert (tmp_path / "chart.png").stat().st_size > 5_000
    bad = run_command("sam2-eval", "compare", str(tmp_path / "a"), "--out", tmp_path / "c.png")
    assert_one_line_error(bad, "expected NAME=DIR")


def test_memory_attention_accepts_the_bfloat16_memory_the_predictor_stores() -> None:
    """The stock predictor keeps memory features in bfloat16; without autocast, attending to
    them (no object pointers to promote the dtype) must still work: our builder casts them."""
    from training_ext.config import compose_config, initialize_hydra
    from training_ext.evaluation.predictors import build_predictor

    initialize_hydra()
    predictor = build_predictor(compose_config("demo_scratch", []).trainer.model, None, "cpu")
    tokens, d_model, memory_dim = 8 * 8, 64, 32  # tiny_demo: 128 px / 16, d_model, memory dim
    with torch.no_grad():
        out = predictor.memory_attention(
            curr=[torch.randn(tokens, 1, d_model)],
            curr_pos=[torch.randn(tokens, 1, d_model)],
            memory=torch.randn(tokens, 1, memory_dim, dtype=torch.bfloat16),
            memory_pos=torch.randn(tokens, 1, memory_dim, dtype=torch.bfloat16),
            num_obj_ptr_tokens=0,
        )
    assert out.dtype == torch.float32 and out.shape == (tokens, 1, d_model)


def test_score_bad_input_is_one_line(synthetic_root: Path, tmp_path: Path) -> None:
    first, second = val_videos(synthetic_root)
    videos = val_list(synthetic_root)
    score = ["sam2-eval", "score", "--gt", synthetic_root / "Annotations"]
    score += ["--pred", tmp_path / "pred", "--videos", videos]
    (tmp_path / "pred" / first).mkdir(parents=True)
    assert_one_line_error(run_command(*score), f"has no folder for video '{second}'")
    (tmp_path / "pred" / second).mkdir()
    assert_one_line_error(run_command(*score), "is missing frame 00001.png", first)
    (tmp_path / "empty_gt").mkdir()
    empty = run_command("sam2-eval", "score", "--gt", tmp_path / "empty_gt", "--pred", tmp_path)
    assert_one_line_error(empty, "has no video folders")


def test_frames_are_ordered_as_the_predictor_loads_them(tmp_path: Path) -> None:
    """Unpadded frame numbers: 2.jpg comes before 10.jpg, as in sam2's own frame loader."""
    from training_ext.evaluation.inference import VideoPaths

    for index in (10, 2, 1):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{index}.jpg")
    assert VideoPaths("v", tmp_path, tmp_path).frame_names() == ["1", "2", "10"]
