"""Checks shared by the COCO-style formats (COCO-video, YouTube-VIS, COCO images)."""

from __future__ import annotations

from typing import Any

from training_ext.data.adapters import segmentation
from training_ext.data.adapters.json_file import load_json
from training_ext.data.adapters.problems import Findings, Problem

CROWD_MODES = ("skip", "keep")


def category_ids(data: dict, found: Findings) -> set | None:
    """Ids of ``categories``; a missing or empty list is a dataset error (and None)."""
    categories = data.get("categories")
    if not isinstance(categories, list) or not categories:
        found.append(
            Problem(
                f"{found.source}: categories",
                "missing or empty",
                'add a list such as "categories": [{"id": 1, "name": "object"}]',
            )
        )
        return None
    return {category.get("id") for category in categories if isinstance(category, dict)}


def read_coco_style(
    json: str, crowd: str, list_key: str, list_fix: str
) -> tuple[Findings, dict, set | None, list | None]:
    """Open a COCO-style file: its problems so far, data, category ids, and the ``list_key``
    list (``images`` or ``videos``; None, with a problem, when missing or empty)."""
    check_crowd_mode(crowd)
    data = load_json(json)
    found = Findings(str(json))
    categories = category_ids(data, found)
    listed = data.get(list_key)
    if not isinstance(listed, list) or not listed:
        found.append(Problem(f"{found.source}: {list_key}", "missing or empty", list_fix))
        listed = None
    return found, data, categories, listed


def annotation_list(data: dict, found: Findings) -> list:
    """``annotations``; a missing one is a problem (and an empty list)."""
    annotations = data.get("annotations")
    if isinstance(annotations, list):
        return annotations
    found.append(
        Problem(f"{found.source}: annotations", "missing or not a list", "add the annotations list")
    )
    return []


def annotated_record(
    annotation: Any,
    position: int,
    records: dict,
    id_key: str,
    listed_ids: set,
    found: Findings,
) -> Any:
    """The record (image or video) that ``annotation`` points at with ``id_key``; None, with a
    problem, when it points at nothing listed (no problem when the record was listed but refused:
    it has a problem of its own)."""
    owner = annotation.get(id_key) if isinstance(annotation, dict) else None
    record = records.get(owner)
    if record is None and owner not in listed_ids:
        what = id_key.removesuffix("_id")
        found.append(
            Problem(
                f"{found.source}: annotations[{position}].{id_key}",
                f"not an annotation of a listed {what}",
                f"fix the {id_key} or remove the annotation",
                f"annotation {position}",
            )
        )
    return record


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
