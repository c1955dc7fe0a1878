"""One training process of a job started by an external launcher (torchrun, or srun).

The stock launcher spawns its own processes (or submits them with submitit). Under torchrun or
SLURM's srun every process is already started and described by the standard environment
variables; each one then builds the stock Trainer from the composed config and runs it.
"""

from __future__ import annotations

import os
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from training_ext.errors import UserError
from training_ext.launch.rank_errors import RankFailed, training_failed
from training_ext.launch.run_lock import lock_run_folder

PROCESS_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def require_process_environment() -> None:
    """One-line UserError unless the launcher described this process in the environment."""
    missing = [name for name in PROCESS_VARIABLES if not os.environ.get(name)]
    if missing:
        raise UserError(
            f"--external-launcher needs {', '.join(missing)} in the environment: start "
            "sam2-train with torchrun or srun (one process per GPU or CPU rank)"
        )


def run_this_process(cfg: DictConfig) -> None:
    """Train as the process ``$RANK`` of ``$WORLD_SIZE``."""
    require_process_environment()
    if os.environ["RANK"] == "0":
        lock_run_folder(Path(cfg.launcher.experiment_log_dir))
        write_run_configs(cfg, Path(cfg.launcher.experiment_log_dir))
    log_dir = Path(cfg.trainer.logging.log_dir)
    try:
        instantiate(cfg.trainer, _recursive_=False).run()
    except RankFailed as failed:
        summary = f"rank {os.environ['RANK']}: {failed.summary}"
        raise training_failed(log_dir, summary, failed.code) from None


def write_run_configs(cfg: DictConfig, log_dir: Path) -> None:
    """``config.yaml`` and ``config_resolved.yaml``, as the stock launcher writes them."""
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    (log_dir / "config_resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
