"""Checks shared by the COCO-style formats (COCO-video, YouTube-VIS, COCO images)."""

from __future__ import annotations

from typing import Any

from training_ext.adapters import segmentation
from training_ext.adapters.problems import Problem

CROWD_MODES = ("skip", "keep")


def category_ids(data: dict, source: str, problems: list[Problem]) -> set | None:
    """Ids of ``categories``; a missing or empty list is a dataset error (and None)."""
    categories = data.get("categories")
    if not isinstance(categories, list) or not categories:
        problems.append(
            Problem(
                f"{source}: categories",
                "missing or empty",
                'add a list such as "categories": [{"id": 1, "name": "object"}]',
            )
        )
        return None
    return {category.get("id") for category in categories if isinstance(category, dict)}


def check_crowd_mode(crowd: str) -> None:
    if crowd not in CROWD_MODES:
        from training_ext.errors import UserError

        raise UserError(f"crowd={crowd!r} is not one of {', '.join(CROWD_MODES)}")


def segmentation_problem(
    segment: Any, height: Any, width: Any, where: str, video: str
) -> Problem | None:
    """A problem with one segmentation of a ``height`` x ``width`` frame, or None."""
    kind = segmentation.segmentation_kind(segment)
    if kind is None:
        return Problem(
            where,
            "not a polygon list or an RLE with size and counts",
            "write COCO polygons [[x1, y1, ...]] or RLE {size: [h, w], counts: ...}",
            video,
        )
    size = segmentation.rle_size(segment)
    if size is not None and size != (height, width):
        return Problem(
            where,
            f"RLE size {list(size)} differs from the image size [{height}, {width}]",
            "encode the mask at the image's resolution or fix the image height/width",
            video,
        )
    return None


def category_problem(
    category: Any, categories: set | None, where: str, video: str
) -> Problem | None:
    """None when ``category`` is listed, or when no list exists (reported once already)."""
    if categories is None or category in categories:
        return None
    return Problem(
        where,
        f"category_id {category!r} is not in categories",
        "add it to categories or fix the annotation",
        video,
    )


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
