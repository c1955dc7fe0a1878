"""COCO instance segmentation (images, no time) as one-frame videos for the stock pipeline.

``images[*]``: ``id``, ``file_name`` (relative to ``image_root``), ``height``, ``width``;
``annotations[*]``: ``image_id``, ``category_id``, ``segmentation``, optional ``iscrowd``
(skipped unless ``crowd=keep``). Each annotation is one object. Images without objects are left
out (a warning with their count), as the sampler needs an object to prompt.
"""

from __future__ import annotations

import os
from typing import Any

from training_ext.data.adapters.coco_checks import (
    annotated_record,
    annotation_list,
    category_problem,
    is_int,
    read_coco_style,
    segmentation_problem,
)
from training_ext.data.adapters.indexed import DatasetIndex, IndexedRawDataset, VideoRecord
from training_ext.data.adapters.problems import Findings, Problem

_IMAGE_FIX = "give every image id, file_name, height and width"


class CocoImagesRawDataset(IndexedRawDataset):
    """Images of a COCO instances JSON, each a video of one frame."""

    def __init__(
        self, json: str, image_root: str, crowd: str = "skip", skip_invalid_videos: bool = False
    ) -> None:
        super().__init__(index_coco_images(json, image_root, crowd), skip_invalid_videos)


def index_coco_images(json: str, image_root: str, crowd: str = "skip") -> DatasetIndex:
    """Index a COCO instances file: usable images and every problem found without reading them."""
    found, data, categories, images = read_coco_style(json, crowd, "images", _IMAGE_FIX)
    if images is None:
        return DatasetIndex(found.source, [], found.problems)
    records = _records(images, image_root, found)
    annotations = annotation_list(data, found)
    listed_ids = {image.get("id") for image in images if isinstance(image, dict)}
    for position, annotation in enumerate(annotations):
        _add_object(position, annotation, records, categories, crowd, found, listed_ids)
    empty = [record for record in records.values() if not record.objects]
    if empty:
        found.append(
            Problem(
                f"{found.source}: images",
                f"{len(empty)} images have no object (e.g. {empty[0].name!r}); left out (warning)",
                "nothing to do unless they should have objects",
                warning=True,
            )
        )
    videos = [record for record in records.values() if record.objects]
    return DatasetIndex(found.source, videos, found.problems)


def _records(images: list, image_root: str, found: Findings) -> dict[Any, VideoRecord]:
    records: dict[Any, VideoRecord] = {}
    for position, image in enumerate(images):
        where = f"{found.source}: images[{position}]"
        if not isinstance(image, dict) or image.get("id") is None:
            found.append(Problem(where, "has no id", _IMAGE_FIX))
            continue
        name = str(image["id"])
        if image["id"] in records:
            found.append(Problem(f"{where}.id", f"duplicate image id {name}", _IMAGE_FIX))
            continue
        bad = [key for key in ("height", "width") if not is_int(image.get(key))]
        if not isinstance(image.get("file_name"), str):
            bad.append("file_name")
        if bad:
            what = f"image {name} lacks or has a bad {', '.join(bad)}"
            found.append(Problem(where, what, _IMAGE_FIX, name))
            continue
        records[image["id"]] = VideoRecord(
            name=name,
            frame_indices=[0],
            image_paths=[os.path.join(image_root, image["file_name"])],
            frame_sizes=[(image["height"], image["width"])],
        )
    return records


def _add_object(
    position: int,
    annotation: Any,
    records: dict[Any, VideoRecord],
    categories: set | None,
    crowd: str,
    found: Findings,
    listed_ids: set,
) -> None:
    where = f"{found.source}: annotations[{position}]"
    record = annotated_record(annotation, position, records, "image_id", listed_ids, found)
    if record is None:
        return
    if crowd == "skip" and annotation.get("iscrowd"):
        return
    height, width = record.frame_sizes[0]
    segment = annotation.get("segmentation")
    problem = category_problem(
        annotation.get("category_id"), categories, f"{where}.category_id", record.name
    ) or segmentation_problem(segment, height, width, f"{where}.segmentation", record.name)
    if problem is not None:
        found.append(problem)
        return
    frame_objects = record.objects.setdefault(0, [])
    frame_objects.append((len(frame_objects) + 1, segment, height, width))
