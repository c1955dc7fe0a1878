"""Real training runs of the tiny recipe with the stock trainer: checkpoint, resume, 2 CPU ranks,
and a fine-tune recipe loading a pretrained checkpoint through the stock initializer."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import (
    BIN,
    FAST_OVERRIDES,
    STEPS_PER_EPOCH,
    assert_one_line_error,
    check_ok,
    copy_run,
    demo_training_args,
    last_checkpoint,
    run_command,
    train_demo,
)

from training_ext.devices import available_cores
from training_ext.runs.tensorboard_logs import read_tensorboard_series

pytestmark = pytest.mark.slow  # trains, or runs many commands: not in the quick subset


def test_one_epoch_writes_checkpoint_logs_and_loss_curve(demo_run: Path) -> None:
    checkpoint = last_checkpoint(demo_run)
    assert checkpoint["epoch"] == 1
    assert checkpoint["steps"]["train"] == STEPS_PER_EPOCH
    assert {"model", "optimizer", "loss"} <= checkpoint.keys()
    assert list((demo_run / "tensorboard").glob("events.out.tfevents.*"))
    assert (demo_run / "loss_curve.png").stat().st_size > 10_000
    stats = [json.loads(line) for line in (demo_run / "logs" / "train_stats.json").open()]
    assert len(stats) == 1 and stats[0]["Trainer/steps_train"] == STEPS_PER_EPOCH
    assert "Device cpu" in (demo_run / "logs" / "log.txt").read_text()


def test_vos_validation_runs_after_training_and_keeps_the_best(demo_run: Path) -> None:
    """The demo config validates on the held-out videos (J&F) without a stock `data.val`."""
    scores = pd.read_csv(demo_run / "logs" / "validation" / "scores.csv")
    assert list(scores.epoch) == [0] and 0 <= scores["J&F"][0] <= 1
    epoch_dir = demo_run / "logs" / "validation" / "epoch_000"
    assert len(list((epoch_dir / "predictions").iterdir())) == 2  # the val split
    assert (epoch_dir / "per_video.csv").is_file()
    best = torch.load(demo_run / "checkpoints" / "best.pt", map_location="cpu")
    assert best["epoch"] == 1
    logged = read_tensorboard_series(demo_run / "tensorboard", "Validation/J&F")
    assert logged.value.tolist() == pytest.approx([scores["J&F"][0]])


def test_rerun_resumes_from_the_checkpoint(
    demo_run: Path, synthetic_root: Path, tmp_path: Path
) -> None:
    run_dir = copy_run(demo_run, tmp_path / "run")
    first = last_checkpoint(run_dir)
    second = train_demo(synthetic_root, run_dir, "scratch.num_epochs=2")
    assert second["epoch"] == 2
    assert second["steps"]["train"] == 2 * STEPS_PER_EPOCH
    log = (run_dir / "logs" / "log.txt").read_text()
    assert "Resuming training from" in log
    stats = [json.loads(line) for line in (run_dir / "logs" / "train_stats.json").open()]
    assert [s["Trainer/epoch"] for s in stats] == [0, 1]
    changed = [k for k in first["model"] if not torch.equal(first["model"][k], second["model"][k])]
    assert changed, "the second epoch must keep training the resumed weights"


def test_rerun_of_a_finished_run_trains_nothing_and_says_so(
    demo_run: Path, synthetic_root: Path, tmp_path: Path
) -> None:
    run_dir = copy_run(demo_run, tmp_path / "run")
    outputs = [run_dir / "checkpoints" / name for name in ("checkpoint.pt", "best.pt")]
    before = [path.stat().st_mtime_ns for path in outputs]
    log_size = (run_dir / "logs" / "log.txt").stat().st_size
    result = check_ok(run_command("sam2-train", *demo_training_args(synthetic_root, run_dir)))
    assert f"{run_dir} has finished its 1 epochs" in result.stdout
    assert "scratch.num_epochs" in result.stdout
    assert [path.stat().st_mtime_ns for path in outputs] == before  # best.pt not rewritten
    assert (run_dir / "logs" / "log.txt").stat().st_size == log_size  # no rank started


def test_two_cpu_ranks_split_data_and_threads(synthetic_root: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "two_ranks"
    check_ok(
        run_command(
            "sam2-train",
            "-c",
            "demo_scratch",
            "--num-gpus",
            "2",
            f"dataset.root={synthetic_root}",
            f"launcher.experiment_log_dir={run_dir}",
            *FAST_OVERRIDES,
            unset=("OMP_NUM_THREADS",),
        )
    )
    checkpoint = last_checkpoint(run_dir)
    assert checkpoint["epoch"] == 1
    assert checkpoint["steps"]["train"] == STEPS_PER_EPOCH // 2  # each rank sees half the data
    threads = max(1, available_cores() // 2)
    assert (
        f"Device cpu; {threads} torch threads in this rank"
        in (run_dir / "logs" / "log.txt").read_text()
    )


def test_finetune_recipe_loads_the_pretrained_checkpoint(
    demo_run: Path, synthetic_root: Path, tmp_path: Path
) -> None:
    """The fine-tune recipe's stock initializer loads $SAM2_CHECKPOINTS/<file> strictly; with
    zero learning rates the weights after one epoch are exactly the pretrained ones. Data and
    checkpoint come from the environment variables alone, as in Docker and SLURM jobs."""
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    weights = last_checkpoint(demo_run)["model"]
    torch.save({"model": weights}, checkpoints / "sam2.1_hiera_tiny.pt")
    run_dir = tmp_path / "finetune"
    check_ok(
        run_command(
            "sam2-train",
            "-c",
            "sam2.1_hiera_t_finetune",
            "model=tiny_demo",
            "dataset=synthetic",
            "scratch.base_lr=0",
            "scratch.vision_lr=0",
            "scratch.num_frames=4",
            "scratch.num_train_workers=0",
            f"launcher.experiment_log_dir={run_dir}",
            *FAST_OVERRIDES,
            env={"SAM2_DATASET": str(synthetic_root), "SAM2_CHECKPOINTS": str(checkpoints)},
        )
    )
    finetuned = last_checkpoint(run_dir)["model"]
    assert finetuned.keys() == weights.keys()
    assert all(torch.equal(finetuned[k], weights[k]) for k in weights)
    assert "Loading pretrained checkpoint from" in (run_dir / "logs" / "log.txt").read_text()


def test_torchrun_starts_the_ranks(synthetic_root: Path, tmp_path: Path) -> None:
    """`--external-launcher`: torchrun starts 2 processes, each trains as its $RANK."""
    run_dir = tmp_path / "torchrun"
    result = subprocess.run(
        [
            str(BIN / "torchrun"),
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "training_ext.cli.train",
            "-c",
            "demo_scratch",
            "--external-launcher",
            f"dataset.root={synthetic_root}",
            f"launcher.experiment_log_dir={run_dir}",
            *FAST_OVERRIDES,
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"},
    )
    check_ok(result)
    checkpoint = last_checkpoint(run_dir)
    assert checkpoint["epoch"] == 1
    assert checkpoint["steps"]["train"] == STEPS_PER_EPOCH // 2
    assert (run_dir / "config_resolved.yaml").is_file()  # what sam2-eval --run reads
    threads = max(1, available_cores() // 2)
    assert f"{threads} torch threads in this rank" in (run_dir / "logs" / "log.txt").read_text()


def test_external_launcher_without_its_environment() -> None:
    result = run_command(
        "sam2-train",
        "-c",
        "demo_scratch",
        "--external-launcher",
        "dataset.root=/tmp",
        unset=("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"),
    )
    assert_one_line_error(result, "--external-launcher needs RANK", "torchrun")
