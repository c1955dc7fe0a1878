"""`sam2-train` flags, Hydra overrides, `--cfg job`, config files by path, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from helpers import assert_one_line_error, check_ok, run_command

pytestmark = pytest.mark.slow  # a sam2-train process per test (~10 s each)


def composed(*args: str, env: dict | None = None) -> dict:
    """The config `sam2-train ... --cfg job` prints, parsed."""
    return yaml.safe_load(
        check_ok(run_command("sam2-train", *args, "--cfg", "job", env=env)).stdout
    )


def test_overrides_reach_the_composed_config(tmp_path: Path) -> None:
    cfg = composed(
        "-c",
        "demo_scratch",
        "scratch.base_lr=1e-4",
        f"launcher.experiment_log_dir={tmp_path}/run",
        "model=sam2.1_hiera_s",
    )
    assert cfg["scratch"]["base_lr"] == 1e-4
    assert cfg["launcher"]["experiment_log_dir"] == f"{tmp_path}/run"
    assert cfg["trainer"]["model"]["image_encoder"]["trunk"]["stages"] == [1, 2, 11, 2]
    assert cfg["trainer"]["model"]["_target_"] == "training.model.sam2.SAM2Train"
    assert cfg["trainer"]["_target_"] == "training_ext.trainer.trainer.Trainer"
    assert not (tmp_path / "run").exists(), "--cfg job must not write anything"


def test_memory_finetune_recipe() -> None:
    cfg = composed("-c", "sam2.1_hiera_t_finetune", "recipe=memory_finetune")
    assert cfg["trainer"]["trainable_modules"] == ["memory_attention", "memory_encoder"]
    assert cfg["trainer"]["loss"]["all"]["temporal_weight"] == 0.1
    assert cfg["scratch"]["base_lr"] == 5.0e-6  # the fine-tune recipe underneath


def test_stock_flags_are_written_into_the_config() -> None:
    cfg = composed(
        "-c",
        "demo_scratch",
        "--num-gpus",
        "2",
        "--num-nodes",
        "3",
        "--use-cluster",
        "1",
        "--partition",
        "gpu",
        "--account",
        "lab",
        "--qos",
        "high",
    )
    assert cfg["launcher"]["gpus_per_node"] == 2
    assert cfg["launcher"]["num_nodes"] == 3
    submitit = cfg["submitit"]
    assert (
        submitit["use_cluster"],
        submitit["partition"],
        submitit["account"],
        submitit["qos"],
    ) == (
        True,
        "gpu",
        "lab",
        "high",
    )
    assert submitit["name"] == "demo_scratch"


def test_flags_and_overrides_may_be_interleaved() -> None:
    cfg = composed(
        "scratch.base_lr=3e-4", "-c", "demo_scratch", "scratch.num_frames=6", "--num-gpus", "2"
    )
    assert (cfg["scratch"]["base_lr"], cfg["scratch"]["num_frames"]) == (3e-4, 6)
    assert cfg["launcher"]["gpus_per_node"] == 2


def test_default_experiment_dir_is_the_stock_one(tmp_path: Path) -> None:
    result = check_ok(run_command("sam2-train", "-c", "demo_scratch", "--cfg", "job", cwd=tmp_path))
    assert yaml.safe_load(result.stdout)["launcher"]["experiment_log_dir"] == str(
        tmp_path / "sam2_logs" / "demo_scratch"
    )


def test_list_configs_shows_ours_and_the_stock_ones() -> None:
    names = check_ok(run_command("sam2-train", "--list-configs")).stdout.split()
    for name in (
        "demo",
        "sam2.1_hiera_t_finetune",
        "sam2.1_hiera_l_finetune",
        "predictor/tiny_demo",
        "configs/sam2.1/sam2.1_hiera_b+",
        "configs/sam2.1_training/sam2.1_hiera_b+_MOSE_finetune",
    ):
        assert name in names


def test_config_given_as_a_yaml_file_extends_ours(tmp_path: Path) -> None:
    (tmp_path / "my_run.yaml").write_text(
        "defaults:\n  - demo\n  - _self_\nscratch:\n  num_frames: 6\n"
    )
    cfg = composed("-c", str(tmp_path / "my_run.yaml"), "scratch.max_num_objects=1")
    assert cfg["scratch"]["num_frames"] == 6
    assert cfg["scratch"]["max_num_objects"] == 1


def test_config_folder_from_environment(tmp_path: Path) -> None:
    (tmp_path / "team.yaml").write_text(
        "defaults:\n  - demo\n  - _self_\nscratch:\n  num_epochs: 3\n"
    )
    cfg = composed("-c", "team", env={"SAM2_CONFIG_PATH": str(tmp_path)})
    assert cfg["scratch"]["num_epochs"] == 3


# ---- bad input: one line on stderr, exit 2, nothing written -------------------------------


def test_unset_dataset_variable(tmp_path: Path) -> None:
    result = run_command(
        "sam2-train",
        "-c",
        "demo_scratch",
        f"launcher.experiment_log_dir={tmp_path}/run",
        unset=("SAM2_DATASET",),
    )
    assert_one_line_error(result, "dataset.root is not set", "export SAM2_DATASET=")
    assert not (tmp_path / "run").exists()


def test_missing_pretrained_checkpoint(synthetic_root: Path, tmp_path: Path) -> None:
    result = run_command(
        "sam2-train",
        "-c",
        "sam2.1_hiera_t_finetune",
        f"dataset.root={synthetic_root}",
        env={"SAM2_CHECKPOINTS": str(tmp_path)},
    )
    assert_one_line_error(result, f"{tmp_path}/sam2.1_hiera_tiny.pt not found", "SAM2_CHECKPOINTS")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_gpu_requested_without_gpu(synthetic_root: Path) -> None:
    result = run_command(
        "sam2-train",
        "-c",
        "demo_scratch",
        f"dataset.root={synthetic_root}",
        "trainer.accelerator=cuda",
    )
    assert_one_line_error(result, "no CUDA GPU is visible")


def test_check_reports_the_numbers_the_run_will_use(synthetic_root: Path) -> None:
    result = check_ok(
        run_command("sam2-train", "-c", "demo", "--check", f"dataset.root={synthetic_root}",
                    "scratch.num_epochs=4", "scratch.base_lr=2e-4", "--num-gpus", "2")
    )  # fmt: skip
    assert "4 epochs, lr 0.0002" in result.stdout and "2 GPU(s) x 1 node(s)" in result.stdout


def test_low_disk_space_is_a_warning_at_launch(
    synthetic_root: Path, small_disk: Path, tmp_path: Path
) -> None:
    """A 40 MB disk cannot keep three 17 MB checkpoints of the demo model: the launch warns (and
    goes on); a roomy disk gets no warning."""

    def check(run_dir: Path) -> str:
        return check_ok(
            run_command("sam2-train", "-c", "demo", "--check", f"dataset.root={synthetic_root}",
                        f"launcher.experiment_log_dir={run_dir}")
        ).stderr  # fmt: skip

    warning = check(small_disk / "run")
    assert f"sam2-train: warning: only 40 MB free for trainer.checkpoint.save_dir={small_disk}" in (
        warning
    )
    assert "a checkpoint of this model takes ~16 MB" in warning
    assert "warning" not in check(tmp_path / "run")
