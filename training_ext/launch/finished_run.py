"""A run folder whose checkpoint already holds every epoch: nothing to train, say so."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from training_ext.resume.checkpoint_io import read_checkpoint


def finished_run_message(cfg: DictConfig) -> str | None:
    """What to print instead of launching, when the run's checkpoint is past the last epoch.

    The stock trainer would start, train nothing, and (with validation) validate and compare
    the last epoch again. A mid-epoch checkpoint (``train_dataset`` progress) is never finished.
    """
    checkpoint = Path(cfg.trainer.checkpoint.save_dir) / "checkpoint.pt"
    if not checkpoint.is_file():
        return None
    hint = "move it away to start this run over, or give another launcher.experiment_log_dir"
    state = read_checkpoint(checkpoint, "the run's checkpoint", hint)
    epochs = int(cfg.trainer.max_epochs)
    if "train_dataset" in state or int(state.get("epoch", 0)) < epochs:
        return None
    return (
        f"{cfg.launcher.experiment_log_dir} has finished its {epochs} epochs ({checkpoint}); "
        "nothing to train. Raise scratch.num_epochs to train on, or give another "
        "launcher.experiment_log_dir to start over"
    )
