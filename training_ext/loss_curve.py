"""The training-loss curve of a run, read from its TensorBoard logs and saved as a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.util.tensor_util import make_ndarray  # noqa: E402

STEP_LOSS_PREFIX = "Step_Losses/Losses/train_"


def read_step_losses(tensorboard_dir: Path) -> pd.DataFrame:
    """Per-step training losses: columns ``step``, ``loss`` and ``tag`` (one tag per dataset key).

    The stock trainer logs them every ``trainer.logging.log_scalar_frequency`` steps, as
    "new style" scalars (tensor events).
    """
    accumulator = EventAccumulator(str(tensorboard_dir), size_guidance={"tensors": 0})
    accumulator.Reload()
    rows = [
        (event.step, float(make_ndarray(event.tensor_proto)), tag)
        for tag in accumulator.Tags()["tensors"]
        if tag.startswith(STEP_LOSS_PREFIX) and tag.endswith("_loss")
        for event in accumulator.Tensors(tag)
    ]
    frame = pd.DataFrame(rows, columns=["step", "loss", "tag"])
    return frame.sort_values(["tag", "step"]).drop_duplicates(["tag", "step"], keep="last")


def plot_loss_curve(tensorboard_dir: Path, out_png: Path) -> Path | None:
    """Plot each step-loss series with its moving average; None when nothing was logged yet."""
    losses = read_step_losses(tensorboard_dir)
    if losses.empty:
        return None
    figure, axis = plt.subplots(figsize=(7, 4), dpi=110)
    for tag, series in losses.groupby("tag"):
        name = tag.removeprefix(STEP_LOSS_PREFIX)
        axis.plot(series.step, series.loss, alpha=0.3, linewidth=1)
        window = max(1, len(series) // 20)
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
