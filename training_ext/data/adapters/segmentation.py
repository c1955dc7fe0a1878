"""COCO segmentations (polygons, uncompressed and compressed RLE) decoded with pycocotools."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pycocotools import mask as mask_utils


def segmentation_kind(segmentation: Any) -> str | None:
    """'polygon', 'rle' (compressed), 'uncompressed_rle', or None when it is none of these."""
    if isinstance(segmentation, list):
        polygons_ok = segmentation and all(
            isinstance(polygon, list) and len(polygon) >= 6 and len(polygon) % 2 == 0
            for polygon in segmentation
        )
        return "polygon" if polygons_ok else None
    if isinstance(segmentation, dict) and _valid_size(segmentation.get("size")):
        counts = segmentation.get("counts")
        if isinstance(counts, (str, bytes)):
            return "rle"
        if isinstance(counts, list):
            return "uncompressed_rle"
    return None


def _valid_size(size: Any) -> bool:
    return isinstance(size, list) and len(size) == 2 and all(isinstance(n, int) for n in size)


def rle_size(segmentation: Any) -> tuple[int, int] | None:
    """(height, width) an RLE declares; None for polygons (they take the image's size)."""
    if isinstance(segmentation, dict):
        height, width = segmentation["size"]
        return height, width
    return None


def to_rle(segmentation: Any, height: int, width: int) -> dict:
    """A compressed RLE of any COCO segmentation of a ``height`` x ``width`` image."""
    if isinstance(segmentation, list):
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    if isinstance(segmentation["counts"], list):
        return mask_utils.frPyObjects(segmentation, height, width)
    return segmentation


def union(rles: list[dict]) -> dict:
    """One RLE covering every pixel of ``rles`` (parts of one object in one frame)."""
    return mask_utils.merge(rles, intersect=False)


def decode(rles: list[dict]) -> torch.Tensor:
    """(N, H, W) boolean masks of N compressed RLEs of one image."""
    decoded = mask_utils.decode(rles)  # (H, W, N) uint8 of 0/1, column-major
    return torch.from_numpy(np.ascontiguousarray(decoded.transpose(2, 0, 1)).view(np.bool_))


def area(rles: list[dict]) -> np.ndarray:
    """Pixel counts of RLEs, without decoding them."""
    return mask_utils.area(rles)


def encode(mask: np.ndarray) -> dict:
    """Compressed RLE of a boolean (H, W) mask, JSON-ready (``counts`` as text)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")}
