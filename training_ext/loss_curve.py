"""The training-loss curve of a run, saved as a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from training_ext.tensorboard_logs import STEP_LOSS_PREFIX, read_step_losses  # noqa: E402


def plot_loss_curve(tensorboard_dir: Path, out_png: Path) -> Path | None:
    """Plot each step-loss series with its moving average; None when nothing was logged yet."""
    losses = read_step_losses(tensorboard_dir)
    if losses.empty:
        return None
    figure, axis = plt.subplots(figsize=(7, 4), dpi=110)
    for tag, series in losses.groupby("tag"):
        name = tag.removeprefix(STEP_LOSS_PREFIX)
        axis.plot(series.step, series.loss, alpha=0.3, linewidth=1)
        window = max(1, len(series) // 15)
        smooth = series.loss.rolling(window, min_periods=1).mean()
        axis.plot(series.step, smooth, linewidth=2, label=f"{name} (moving mean of {window})")
    axis.set_xlabel("training step")
    axis.set_ylabel("loss")
    axis.set_yscale("log")
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title(f"Training loss — {tensorboard_dir.parent.name}")
    figure.tight_layout()
    figure.savefig(out_png)
    plt.close(figure)
    return out_png
