"""Bad checkpoints given to `sam2-train`, `sam2-eval` and `sam2-export`: one line each, found
before anything spawns or is copied into the run folder (real files: a text file, a truncated
checkpoint, a zip whose pickle is cut short, another architecture's weights, a model file where a
training checkpoint belongs)."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import assert_one_line_error, run_command, val_data

from training_ext.config import SHIPPED_MODELS

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset

SHIPPED = SHIPPED_MODELS / "tiny_demo_synthetic.pt"


def text_file(path: Path) -> Path:
    path.write_text("not a checkpoint\n")
    return path


def truncated(path: Path) -> Path:
    path.write_bytes(SHIPPED.read_bytes()[: SHIPPED.stat().st_size // 3])
    return path


def broken_pickle(path: Path) -> Path:
    with zipfile.ZipFile(SHIPPED) as source, zipfile.ZipFile(path, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, data[:10] if name.endswith("data.pkl") else data)
    return path


def shipped_model(path: Path) -> Path:
    return Path(shutil.copy(SHIPPED, path))


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "text": (text_file, "is not a torch.save file"),
    "truncated": (truncated, "is not a torch.save file"),
    "broken pickle": (broken_pickle, "cannot be read as a checkpoint"),
}


@pytest.mark.parametrize("kind", BAD_FILES)
@pytest.mark.parametrize(
    ("role", "override"),
    [
        ("pretrained checkpoint", "pretrained.path={}"),
        ("trainer.checkpoint.resume_from", "trainer.checkpoint.resume_from={}"),
    ],
)
def test_unreadable_checkpoint_for_training(
    kind: str, role: str, override: str, synthetic_root: Path, tmp_path: Path
) -> None:
    make, problem = BAD_FILES[kind]
    bad = make(tmp_path / "bad.pt")
    run_dir = tmp_path / "run"
    result = run_command(
        "sam2-train", "-c", "demo", f"dataset.root={synthetic_root}",
        f"launcher.experiment_log_dir={run_dir}", override.format(bad),
    )  # fmt: skip
    assert_one_line_error(result, role, str(bad), problem)
    assert not (run_dir / "checkpoints").exists()  # nothing copied, nothing spawned


def test_checkpoint_of_another_architecture_as_pretrained(
    synthetic_root: Path, tmp_path: Path
) -> None:
    result = run_command(
        "sam2-train", "-c", "sam2.1_hiera_t_finetune", "--check",
        f"dataset.root={synthetic_root}", f"pretrained.path={SHIPPED}",
    )  # fmt: skip
    assert_one_line_error(result, "is for another architecture", "pretrained.path")


def test_a_model_file_is_not_a_training_checkpoint_to_resume_from(
    synthetic_root: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    result = run_command(
        "sam2-train", "-c", "demo", f"dataset.root={synthetic_root}",
        f"launcher.experiment_log_dir={run_dir}", f"trainer.checkpoint.resume_from={SHIPPED}",
    )  # fmt: skip
    assert_one_line_error(result, "it is a model file", "pretrained.path")
    assert not run_dir.exists()


@pytest.mark.parametrize("kind", BAD_FILES)
def test_damaged_checkpoint_in_the_run_folder_is_kept_and_named(
    kind: str, synthetic_root: Path, tmp_path: Path
) -> None:
    make, problem = BAD_FILES[kind]
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    damaged = make(run_dir / "checkpoints" / "checkpoint.pt")
    before = damaged.read_bytes()
    result = run_command(
        "sam2-train", "-c", "demo", f"dataset.root={synthetic_root}",
        f"launcher.experiment_log_dir={run_dir}",
    )  # fmt: skip
    assert_one_line_error(result, "the run's checkpoint", problem, "move it away")
    assert damaged.read_bytes() == before


@pytest.mark.parametrize("kind", [*BAD_FILES, "model of another architecture"])
@pytest.mark.parametrize("command", ["predict", "export"])
def test_bad_checkpoint_for_eval_and_export(
    kind: str, command: str, synthetic_root: Path, tmp_path: Path
) -> None:
    if kind in BAD_FILES:
        make, problem = BAD_FILES[kind]
        bad = make(tmp_path / "bad.pt")
        config = "demo"
    else:
        bad, problem, config = (
            shipped_model(tmp_path / "bad.pt"),
            "another architecture",
            ("sam2.1_hiera_t_finetune"),
        )
    checkpoint_args = ("--config", config, "--checkpoint", bad)
    if command == "predict":
        result = run_command(
            "sam2-eval", "predict", *checkpoint_args, *val_data(synthetic_root),
            "--out", tmp_path / "out",
        )  # fmt: skip
    else:
        result = run_command("sam2-export", *checkpoint_args, "--out", tmp_path / "out")
    assert_one_line_error(result, str(bad), problem)
    assert not (tmp_path / "out").exists()
