"""Pictures of an evaluation: per-video score bars and mask overlays as animated GIFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

from training_ext.data.masks_io import davis_palette, read_id_mask

_COLOURS = np.array(davis_palette(), dtype=np.uint8).reshape(256, 3)


def plot_per_video(scores: dict[str, pd.Series], metric: str, out_png: Path) -> Path:
    """Grouped horizontal bars: one group per video, one bar per named score series."""
    frame = pd.DataFrame(scores).sort_index()
    height = max(2.5, 0.35 * len(frame) * max(1, len(scores)) ** 0.5 + 1)
    figure = Figure(figsize=(7, height), dpi=110)
    axis = figure.subplots()
    frame.plot.barh(ax=axis, width=0.8)
    axis.set_xlim(0, 1)
    axis.set_xlabel(metric)
    axis.invert_yaxis()
    axis.grid(axis="x", alpha=0.3)
    means = ", ".join(f"{name} {series.mean():.3f}" for name, series in frame.items())
    axis.set_title(f"{metric} per video (mean over videos: {means})")
    figure.tight_layout()
    figure.savefig(out_png)
    return out_png


def overlay_gif(
    frames_dir: Path, masks_dir: Path, out_gif: Path, alpha: float = 0.55, fps: int = 6
) -> Path:
    """Frames with their masks blended in the DAVIS colours, as an animated GIF."""
    images = []
    for frame_path in sorted(frames_dir.glob("*.jpg")):
        rgb = np.array(Image.open(frame_path).convert("RGB"), dtype=np.float32)
        ids = read_id_mask(masks_dir / f"{frame_path.stem}.png")
        tinted = np.where(ids[..., None] > 0, (1 - alpha) * rgb + alpha * _COLOURS[ids], rgb)
        images.append(Image.fromarray(tinted.astype(np.uint8)))
    images[0].save(
        out_gif, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0
    )
    return out_gif
