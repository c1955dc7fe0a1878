"""Dataset statistics: videos, frames, objects, visible frames per object, mask areas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from training_ext.data.adapters import segmentation
from training_ext.data.adapters.davis_folder import frame_stems
from training_ext.data.adapters.indexed import DatasetIndex
from training_ext.data.masks_io import read_id_mask

MASK_COLUMNS = ["video", "frame", "object", "area_fraction"]


def indexed_masks(index: DatasetIndex, progress: bool = True) -> tuple[pd.DataFrame, pd.Series]:
    """One row per non-empty mask, and frames per video, from RLE areas (nothing decoded)."""
    rows = []
    for record in tqdm(
        index.videos, desc="videos", unit="video", disable=None if progress else True
    ):
        for frame_idx, entries in record.objects.items():
            rles = [segmentation.to_rle(seg, height, width) for _, seg, height, width in entries]
            areas = segmentation.area(rles)
            for (object_id, _, height, width), area in zip(entries, areas, strict=True):
                if area:
                    rows.append((record.name, frame_idx, object_id, area / (height * width)))
    frames = pd.Series({record.name: len(record) for record in index.videos}, dtype=int)
    return pd.DataFrame.from_records(rows, columns=MASK_COLUMNS), frames


def davis_masks(
    gt_folder: Path, names: list[str], progress: bool = True
) -> tuple[pd.DataFrame, pd.Series]:
    """The same from palette PNGs (each read once)."""
    rows, frames = [], {}
    for name in tqdm(names, desc="videos", unit="video", disable=None if progress else True):
        stems = sorted(frame_stems(gt_folder / name, ".png"), key=int)
        frames[name] = len(stems)
        for stem in stems:
            ids = read_id_mask(gt_folder / name / f"{stem}.png")
            counts = np.bincount(ids.ravel())
            for object_id in np.nonzero(counts)[0]:
                if object_id:
                    rows.append((name, int(stem), int(object_id), counts[object_id] / ids.size))
    return pd.DataFrame.from_records(rows, columns=MASK_COLUMNS), pd.Series(frames, dtype=int)


def summary(masks: pd.DataFrame, frames: pd.Series) -> pd.DataFrame:
    """count / mean / min / median / max of the per-video, per-object and per-mask numbers."""
    objects = masks.groupby("video").object.nunique().reindex(frames.index, fill_value=0)
    visible = masks.groupby(["video", "object"]).size()
    table = pd.DataFrame(
        {
            "frames per video": frames.describe(),
            "objects per video": objects.describe(),
            "visible frames per object": visible.describe(),
            "mask area (% of frame)": (100 * masks.area_fraction).describe(),
        }
    ).T
    table["median"] = [
        frames.median(),
        objects.median(),
        visible.median(),
        100 * masks.area_fraction.median(),
    ]
    return table[["count", "mean", "min", "median", "max"]]


def plot(masks: pd.DataFrame, frames: pd.Series, out: Path) -> None:
    """Four histograms (frames and objects per video, visible frames per object, mask areas)."""
    from matplotlib.figure import Figure

    objects = masks.groupby("video").object.nunique().reindex(frames.index, fill_value=0)
    visible = masks.groupby(["video", "object"]).size()
    figure = Figure(figsize=(10, 7))
    axes = figure.subplots(2, 2)
    panels = [
        (frames, "frames per video", "videos"),
        (objects, "objects per video", "videos"),
        (visible, "visible frames per object", "objects"),
        (100 * masks.area_fraction, "mask area (% of frame)", "masks"),
    ]
    for axis, (values, title, unit) in zip(axes.flat, panels, strict=True):
        axis.hist(values, bins=min(30, max(1, values.nunique())))
        axis.set_title(title)
        axis.set_ylabel(unit)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
