"""The loss plot's trend line: a spike from a false 'absent' call must not lift it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training_ext.runs.loss_curve import moving_median


def test_moving_median_ignores_a_single_spike_and_follows_the_trend() -> None:
    losses = pd.Series(np.linspace(4.0, 1.0, 200))
    spiked = losses.copy()
    spiked[100] = 300.0  # a visible object called absent: mask logits -1024
    trend = moving_median(spiked, window=13)
    assert np.allclose(trend[110:], moving_median(losses, window=13)[110:])
    assert trend.max() < 4.0 + 1e-9
    assert trend.iloc[-1] < trend.iloc[20] - 2.0  # still falls with the loss
