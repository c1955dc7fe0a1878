"""Reading the scalars a stock-trainer run wrote to TensorBoard."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util.tensor_util import make_ndarray

STEP_LOSS_PREFIX = "Step_Losses/Losses/train_"
BATCH_TIME_TAG = "Step_Stats/train/Batch Time"


def read_tensorboard_series(tensorboard_dir: Path, tag_prefix: str) -> pd.DataFrame:
    """Scalars whose tag starts with ``tag_prefix``: columns ``step``, ``value`` and ``tag``.

    The stock trainer writes "new style" scalars, which TensorBoard stores as tensor events.
    """
    accumulator = EventAccumulator(str(tensorboard_dir), size_guidance={"tensors": 0})
    accumulator.Reload()
    rows = [
        (event.step, float(make_ndarray(event.tensor_proto)), tag)
        for tag in accumulator.Tags()["tensors"]
        if tag.startswith(tag_prefix)
        for event in accumulator.Tensors(tag)
    ]
    frame = pd.DataFrame(rows, columns=["step", "value", "tag"])
    return frame.sort_values(["tag", "step"]).drop_duplicates(["tag", "step"], keep="last")


def read_step_losses(tensorboard_dir: Path) -> pd.DataFrame:
    """Per-step total training loss per dataset key (columns ``step``, ``loss``, ``tag``).

    Logged every ``trainer.logging.log_scalar_frequency`` steps.
    """
    series = read_tensorboard_series(tensorboard_dir, STEP_LOSS_PREFIX)
    series = series[series.tag.str.endswith("_loss")]
    return series.rename(columns={"value": "loss"}).reset_index(drop=True)
