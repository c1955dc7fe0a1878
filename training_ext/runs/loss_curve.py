"""The training-loss curve of a run, with its validation J&F when it has one, saved as a PNG."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from training_ext.runs.tensorboard_logs import (
    STEP_LOSS_PREFIX,
    read_step_losses,
    read_tensorboard_series,
)

VALIDATION_TAG = "Validation/J&F"
STEPS_TAG = "Trainer/steps_train"  # per epoch: the step count at its end


def plot_loss_curve(tensorboard_dir: Path, out_png: Path) -> Path | None:
    """Plot each step-loss series with its moving median, and the validation J&F after each
    validated epoch on a second axis; None when nothing was logged yet."""
    losses = read_step_losses(tensorboard_dir)
    if losses.empty:
        return None
    figure = Figure(figsize=(7, 4), dpi=110)
    axis = figure.subplots()
    for tag, series in losses.groupby("tag"):
        name = tag.removeprefix(STEP_LOSS_PREFIX)
        axis.plot(series.step, series.loss, alpha=0.3, linewidth=1)
        window = max(1, len(series) // 15)
        smooth = moving_median(series.loss, window)
        axis.plot(series.step, smooth, linewidth=2, label=f"{name} (moving median of {window})")
    axis.set_xlabel("training step")
    axis.set_ylabel("loss")
    axis.set_yscale("log")
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left")
    validation = _validation_by_step(tensorboard_dir)
    if not validation.empty:
        right = axis.twinx()
        right.plot(validation.step, validation.value, "o-", color="tab:red", label="val J&F")
        right.set_ylabel("validation J&F")
        right.set_ylim(0, 1)
        right.legend(loc="upper right")
    axis.set_title(f"Training loss — {tensorboard_dir.parent.name}")
    figure.tight_layout()
    figure.savefig(out_png)
    return out_png


def moving_median(losses: pd.Series, window: int) -> pd.Series:
    """The trend line of a step loss. A median, not a mean: a step where SAM2 calls a visible
    object absent sets its mask logits to -1024 and logs a loss of hundreds (no gradient comes
    of it), which would lift a moving mean for a whole window."""
    return losses.rolling(window, min_periods=1).median()


def _validation_by_step(tensorboard_dir: Path):
    """Validation J&F per validated epoch, placed at the step that ended the epoch."""
    scores = read_tensorboard_series(tensorboard_dir, VALIDATION_TAG)
    steps = read_tensorboard_series(tensorboard_dir, STEPS_TAG)
    if scores.empty or steps.empty:
        return scores
    epoch_end = dict(zip(steps.step, steps.value, strict=True))
    scores = scores[scores.step.isin(epoch_end)]
    return scores.assign(step=scores.step.map(epoch_end))
