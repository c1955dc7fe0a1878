"""Reading and writing DAVIS-style palette PNG masks (0 = background, k = object k, 255 = void:
left out of every metric and never an object)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from training_ext.errors import UserError

VOID = 255
MASK_MODES = ("P", "L")  # palette, or single-channel 8-bit


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


def open_id_mask(path: Path, size_of: tuple[Path, tuple[int, int]] | None = None) -> Image.Image:
    """Open an id mask (reads the header only); ``size_of`` = (ground-truth path, its (W, H)) that
    the mask must match. Problems are one-line UserErrors naming the file."""
    try:
        image = Image.open(path)
    except OSError as error:
        raise UserError(_unreadable(path, error)) from None
    if image.mode not in MASK_MODES:
        image.close()
        raise UserError(
            f"{path}: PNG mode {image.mode} is not an id mask: save palette (mode P) or"
            " single-channel 8-bit (mode L) PNGs whose pixel values are object ids"
        )
    if size_of is not None and image.size != size_of[1]:
        image.close()
        (gt_width, gt_height), (width, height) = size_of[1], image.size
        raise UserError(
            f"{path}: prediction is {width}x{height} (WxH) but ground truth {size_of[0]} is"
            f" {gt_width}x{gt_height}: save masks at the ground-truth size"
        )
    return image


def read_id_mask(path: Path, size_of: tuple[Path, tuple[int, int]] | None = None) -> np.ndarray:
    """An (H, W) uint8 id map from a palette or single-channel PNG (see ``open_id_mask``)."""
    with open_id_mask(path, size_of) as image:
        try:
            return np.asarray(image)
        except OSError as error:
            raise UserError(_unreadable(path, error)) from None


def _unreadable(path: Path, error: OSError) -> str:
    reason = " ".join(str(error).split())
    return f"{path}: cannot be read as an image ({reason}): save it again as a palette PNG"
