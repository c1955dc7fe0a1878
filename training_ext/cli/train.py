"""``sam2-train``: the stock SAM2 training launcher, plus Hydra overrides, validation and a report.

Accepts the flags of ``python -m training.train`` unchanged and hands the composed config to the
stock ``training.train.main`` (local spawn and submitit paths stay stock)::

    sam2-train -c demo scratch.base_lr=1e-4 launcher.experiment_log_dir=/tmp/run
    sam2-train -c sam2.1_hiera_t_finetune --num-gpus 8 dataset.root=/data/MOSE/train
    sam2-train -c demo --cfg job          # print the composed config and exit
    sam2-train -c sam2.1_hiera_b+_finetune --estimate-memory --gpu-memory 80GB
    torchrun --nproc-per-node 4 -m training_ext.cli.train -c demo --external-launcher
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from training_ext.cli.common import ArgumentParser, exit_code
from training_ext.config import (
    available_configs,
    compose_config,
    config_name_from_argument,
    initialize_hydra,
)
from training_ext.devices import resolve_accelerator
from training_ext.errors import UserError
from training_ext.host_paths import on_host
from training_ext.launch.checks import validate_step_config, validate_training_config
from training_ext.launch.external import require_process_environment, run_this_process
from training_ext.launch.finished_run import finished_run_message
from training_ext.launch.run_lock import lock_run_folder
from training_ext.launch.stock import hand_to_stock_launcher
from training_ext.memory_estimate.estimate import estimate_training_memory
from training_ext.memory_estimate.report import check_fits, describe, gpu_memory_bytes


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="sam2-train",
        description="Train SAM2 with the stock trainer. Trailing key=value arguments are Hydra "
        "overrides of the composed config.",
    )
    parser.add_argument("-c", "--config", help="config name (e.g. demo) or path to a .yaml file")
    parser.add_argument(
        "--use-cluster",
        type=int,
        choices=(0, 1),
        default=None,
        help="0: run on this machine, 1: submit to SLURM with submitit",
    )
    parser.add_argument("--partition", default=None, help="SLURM partition")
    parser.add_argument("--account", default=None, help="SLURM account")
    parser.add_argument("--qos", default=None, help="SLURM qos")
    parser.add_argument(
        "--num-gpus",
        type=int,
        default=None,
        help="processes per node: GPUs, or CPU ranks on a machine without GPUs",
    )
    parser.add_argument("--num-nodes", type=int, default=None, help="number of nodes")
    parser.add_argument(
        "--cfg", choices=("job",), default=None, help="'job': print the composed config and exit"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compose and validate the config (paths, checkpoints, options), then exit: "
        "what job scripts run before queueing",
    )
    parser.add_argument(
        "--estimate-memory",
        action="store_true",
        help="print the estimated peak GPU memory of one training step and exit (runs the "
        "model on fake tensors: no GPU needed)",
    )
    parser.add_argument(
        "--gpu-memory",
        metavar="SIZE",
        default=os.environ.get("SAM2_GPU_MEMORY") or None,
        help="memory of one GPU (80GB, 24GB, auto: this machine's): refuse to launch or pass "
        "--check when the estimated peak is larger (default: $SAM2_GPU_MEMORY)",
    )
    parser.add_argument(
        "--external-launcher",
        action="store_true",
        help="this process was started by torchrun or srun: train as $RANK of $WORLD_SIZE",
    )
    parser.add_argument(
        "--list-configs",
        action="store_true",
        help="print every config name that -c accepts and exit",
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="Hydra overrides")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)  # flags may follow overrides
    return exit_code("sam2-train", lambda: run(args))


def run(args: argparse.Namespace) -> None:
    name, extra_config_dir = config_name_from_argument(args.config or "")
    initialize_hydra(extra_config_dir)
    if args.list_configs:
        print("\n".join(available_configs()))
        return
    if not args.config:
        raise UserError("-c/--config is required, e.g. `sam2-train -c demo` (see --list-configs)")

    if args.external_launcher:
        require_process_environment()
    cfg = compose_config(name, args.overrides)
    apply_launcher_flags(cfg, args, name)
    if args.cfg == "job":
        print(OmegaConf.to_yaml(cfg))
        return
    gpu_bytes = gpu_memory_bytes(args.gpu_memory) if args.gpu_memory else None
    if args.estimate_memory:
        validate_step_config(cfg)
        estimate = estimate_training_memory(cfg)
        print("\n".join(describe(args.config, estimate)))
        if gpu_bytes:
            print(check_fits(args.config, estimate, gpu_bytes))
        return
    if args.check:
        warn(validate_training_config(cfg, runs_here=False))  # devices are those of the job
        if gpu_bytes:
            print(check_fits(args.config, estimate_training_memory(cfg), gpu_bytes))
        print(
            f"sam2-train: {args.config} is valid; run directory {cfg.launcher.experiment_log_dir}"
        )
        print(f"  {training_summary(cfg)}")
        return
    if args.external_launcher:
        warnings = validate_training_config(cfg, runs_here=False)  # devices: one per process
        finished = finished_run_message(cfg)
        if os.environ.get("RANK", "0") == "0":
            warn(warnings)
            if finished:
                print(f"sam2-train: {on_host(finished)}")
        if finished:
            return
        resolve_accelerator(OmegaConf.select(cfg, "trainer.accelerator", default="auto"))
        run_this_process(cfg)
        return
    runs_here = not cfg.submitit.use_cluster
    warn(validate_training_config(cfg, runs_here=runs_here))
    finished = finished_run_message(cfg)
    if finished:
        print(f"sam2-train: {on_host(finished)}")
        return
    if gpu_bytes:
        print(check_fits(args.config, estimate_training_memory(cfg), gpu_bytes))
    if runs_here:  # a submitit job runs elsewhere, after this process has ended
        lock_run_folder(Path(cfg.launcher.experiment_log_dir))
    hand_to_stock_launcher(cfg)
    if runs_here:
        report_outputs(Path(cfg.launcher.experiment_log_dir))


def warn(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"sam2-train: warning: {warning}", file=sys.stderr)


def apply_launcher_flags(cfg: DictConfig, args: argparse.Namespace, name: str) -> None:
    """Write the command-line flags into ``cfg`` with the stock precedence (flags win)."""
    for value, key in (
        (args.num_gpus, "launcher.gpus_per_node"),
        (args.num_nodes, "launcher.num_nodes"),
        (None if args.use_cluster is None else bool(args.use_cluster), "submitit.use_cluster"),
        (args.partition, "submitit.partition"),
        (args.account, "submitit.account"),
        (args.qos, "submitit.qos"),
    ):
        if value is not None:
            with open_dict(cfg):
                OmegaConf.update(cfg, key, value, force_add=True)
    with open_dict(cfg):
        if cfg.launcher.get("experiment_log_dir") is None:
            cfg.launcher.experiment_log_dir = os.path.join(os.getcwd(), "sam2_logs", name)
        if cfg.submitit.get("name") is None:
            cfg.submitit.name = name


def training_summary(cfg: DictConfig) -> str:
    """The numbers a user most often sets, as the run will use them."""
    scratch = cfg.scratch
    return (
        f"{cfg.trainer.max_epochs} epochs, lr {scratch.base_lr:g} (image encoder "
        f"{scratch.vision_lr:g}), {scratch.train_batch_size} clip(s) per GPU of "
        f"{scratch.num_frames} frames and <= {scratch.max_num_objects} objects at "
        f"{cfg.trainer.model.image_size} px, {cfg.launcher.gpus_per_node} GPU(s) x "
        f"{cfg.launcher.num_nodes} node(s)"
    )


def report_outputs(log_dir: Path) -> None:
    """Plot the loss curve and print where the run's outputs are."""
    from training_ext.runs.loss_curve import plot_loss_curve

    checkpoint = log_dir / "checkpoints" / "checkpoint.pt"
    curve = plot_loss_curve(log_dir / "tensorboard", log_dir / "loss_curve.png")
    print("\nsam2-train: done")
    for label, value in (
        ("checkpoint ", checkpoint if checkpoint.is_file() else "(none written)"),
        ("tensorboard", f"tensorboard --logdir {log_dir / 'tensorboard'}"),
        ("loss curve ", curve or "(no step losses logged)"),
        ("logs       ", log_dir / "logs" / "log.txt"),
    ):
        print(f"  {label}  {on_host(str(value))}")


if __name__ == "__main__":
    sys.exit(main())
