"""Reading and writing DAVIS-style palette PNG masks (0 = background, k = object k)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def davis_palette() -> list[int]:
    """The 256-colour palette of DAVIS / PASCAL VOC masks (flat RGB list)."""
    palette = []
    for index in range(256):
        r = g = b = 0
        value = index
        for bit in range(8):
            r |= ((value >> 0) & 1) << (7 - bit)
            g |= ((value >> 1) & 1) << (7 - bit)
            b |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        palette += [r, g, b]
    return palette


_PALETTE = davis_palette()


def write_palette_mask(path: Path, ids: np.ndarray) -> None:
    """Save an (H, W) uint8 id map as a palette PNG."""
    image = Image.fromarray(ids.astype(np.uint8), mode="P")
    image.putpalette(_PALETTE)
    image.save(path)


def read_id_mask(path: Path) -> np.ndarray:
    """An (H, W) uint8 id map from a palette or single-channel PNG."""
    with Image.open(path) as image:
        if image.mode not in ("P", "L"):
            raise ValueError(f"{path}: {image.mode} PNG, expected a palette or grayscale mask")
        return np.array(image)
