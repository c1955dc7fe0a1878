"""COCO-video JSON (the "SAM2 Video Training" format) as a stock raw dataset.

``images[*]`` are frames: ``id``, ``video_id``, ``order_in_video`` (time order), ``file_name``
(relative to ``image_root``), ``height``, ``width``; an optional ``videos[*]`` list names videos
(``id``, ``name``). ``annotations[*]``: ``image_id``, ``category_id``, ``segmentation`` (polygons,
uncompressed or compressed RLE), optional ``iscrowd``. An object is followed across frames by
``track_id``, else ``instance_id``, else ``category_id`` (one object per category per video;
``object_key`` picks one). Crowd annotations (``iscrowd: 1``) are skipped unless ``crowd=keep``;
``keyframe_field`` names a boolean image field: only images where it is true become frames.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from training_ext.data.adapters.coco_checks import (
    annotation_list,
    category_problem,
    is_int,
    read_coco_style,
    segmentation_problem,
)
from training_ext.data.adapters.indexed import DatasetIndex, IndexedRawDataset, VideoRecord
from training_ext.data.adapters.problems import Findings, Problem
from training_ext.errors import UserError

OBJECT_KEYS = ("auto", "track_id", "instance_id", "category_id")
_FRAME_KEYS = ("order_in_video", "height", "width", "file_name")
_IMAGE_FIX = "give every image id, video_id, order_in_video, file_name, height and width"


class CocoVideoRawDataset(IndexedRawDataset):
    """Videos of a COCO-video JSON; see the module docstring for the fields it reads."""

    def __init__(
        self,
        json: str,
        image_root: str,
        object_key: str = "auto",
        crowd: str = "skip",
        keyframe_field: str | None = None,
        skip_invalid_videos: bool = False,
    ) -> None:
        index = index_coco_video(json, image_root, object_key, crowd, keyframe_field)
        super().__init__(index, skip_invalid_videos)


def index_coco_video(
    json: str,
    image_root: str,
    object_key: str = "auto",
    crowd: str = "skip",
    keyframe_field: str | None = None,
) -> DatasetIndex:
    """Index a COCO-video file: usable videos and every problem found without reading images."""
    if object_key not in OBJECT_KEYS:
        raise UserError(f"object_key={object_key!r} is not one of {', '.join(OBJECT_KEYS)}")
    found, data, categories, images = read_coco_style(json, crowd, "images", _IMAGE_FIX)
    if images is None:
        return DatasetIndex(found.source, [], found.problems)
    frames, incomplete = _frame_table(images, found, keyframe_field)
    names = _video_names(data, frames)
    for where, what, video_id in incomplete:
        video = names.get(video_id, f"video_{video_id}")
        found.append(Problem(where, what, _IMAGE_FIX, video))
    if frames.empty:
        return DatasetIndex(found.source, [], found.problems)
    frames["video"] = frames.video_id.map(names)
    frames["video_code"] = pd.factorize(frames.video_id)[0]  # sortable even for mixed id types
    _check_order(frames, found)
    listed_ids = {image.get("id") for image in images if isinstance(image, dict)}
    if keyframe_field is not None:
        frames = frames[frames.keyframe]
    objects = _objects(data, frames, listed_ids, categories, object_key, crowd, found)
    videos = []
    root_prefix = os.path.join(image_root, "")
    for video_id, rows in _by_video(frames):
        name = names[video_id]
        video_objects = objects.get(video_id, {})
        if not video_objects:
            found.append(
                Problem(
                    f"{found.source}: video {name!r}",
                    "no object in any frame",
                    "annotate at least one object or remove the video's images",
                    name,
                )
            )
        orders, files, heights, widths = rows
        videos.append(
            VideoRecord(
                name=name,
                frame_indices=orders,
                image_paths=[file if os.path.isabs(file) else root_prefix + file for file in files],
                frame_sizes=list(zip(heights, widths, strict=True)),
                objects=video_objects,
            )
        )
    return DatasetIndex(found.source, videos, found.problems)


def _by_video(frames: pd.DataFrame) -> list[tuple[Any, tuple[list, list, list, list]]]:
    """(video id, (orders, file names, heights, widths)) per video, frames in time order."""
    if frames.empty:
        return []
    ordered = frames.sort_values(["video_code", "order"], kind="stable")
    codes = ordered.video_code.to_numpy()
    video_ids = ordered.video_id.tolist()
    starts = [0, *(np.flatnonzero(codes[1:] != codes[:-1]) + 1).tolist(), len(ordered)]
    columns = [ordered[c].tolist() for c in ("order", "file_name", "height", "width")]
    return [
        (video_ids[start], tuple(column[start:end] for column in columns))
        for start, end in zip(starts[:-1], starts[1:], strict=True)
    ]


def _frame_table(
    images: list, found: Findings, keyframe_field: str | None
) -> tuple[pd.DataFrame, list[tuple[str, str, Any]]]:
    """One row per usable image; problems for the others.

    Images of a video that lack a field are returned as (where, what, video id): their whole
    video is unusable, and its name is known only once every image has been read.
    """
    rows = []
    incomplete = []
    seen_ids: set = set()
    for position, image in enumerate(images):
        image_id = image.get("id") if type(image) is dict else None
        video_id = image.get("video_id") if image_id is not None else None
        values = [image.get(key) for key in _FRAME_KEYS] if image_id is not None else []
        if (
            video_id is not None
            and image_id not in seen_ids
            and all(type(value) is int and value >= 0 for value in values[:3])
            and type(values[3]) is str
        ):
            seen_ids.add(image_id)
            keyframe = bool(image.get(keyframe_field)) if keyframe_field is not None else True
            rows.append((image_id, video_id, *values, keyframe))
            continue
        problem = _image_problem(position, image, seen_ids, found.source)
        if problem is not None and problem.video is None and video_id is not None:
            incomplete.append((problem.where, problem.what, video_id))
        elif problem is not None:
            found.append(problem)
        seen_ids.add(image_id)
    columns = ["id", "video_id", "order", "height", "width", "file_name", "keyframe"]
    return pd.DataFrame.from_records(rows, columns=columns), incomplete


def _image_problem(position: int, image: Any, seen_ids: set, source: str) -> Problem | None:
    """What is wrong with an image that is not plainly valid.

    A problem without ``video`` on an image that has a video id makes that whole video unusable
    (the caller attaches the video, whose name is known only once every image has been read).
    """
    where = f"{source}: images[{position}]"
    if not isinstance(image, dict) or image.get("id") is None:
        return Problem(where, "has no id", _IMAGE_FIX)
    image_id = image["id"]
    if image_id in seen_ids:
        return Problem(f"{where}.id", f"duplicate image id {image_id!r}", _IMAGE_FIX)
    if image.get("video_id") is None:
        return Problem(
            f"{where}.video_id",
            f"image {image_id!r} has no video_id",
            "add the id of the video it belongs to, or remove the image",
            f"image {image_id!r}",
        )
    bad = [key for key in _FRAME_KEYS[:3] if not is_int(image.get(key)) or image[key] < 0]
    if not isinstance(image.get("file_name"), str):
        bad.append("file_name")
    return Problem(where, f"image {image_id!r} lacks or has a bad {', '.join(bad)}", _IMAGE_FIX)


def _video_names(data: dict, frames: pd.DataFrame) -> dict[Any, str]:
    """Video id -> name: ``videos[*].name``, else the folder of its frames, else ``video_<id>``."""
    listed = {
        video.get("id"): video.get("name") or video.get("file_name")
        for video in data.get("videos") or []
        if isinstance(video, dict)
    }
    first_files = frames.groupby("video_id", sort=False).file_name.first()
    names = {}
    for video_id, file_name in first_files.items():
        folder = str(PurePosixPath(file_name).parent)
        name = listed.get(video_id) or (folder if folder != "." else None)
        names[video_id] = str(name or f"video_{video_id}")
    if len(set(names.values())) < len(names):  # folders shared by videos: ids are unique
        names = {video_id: f"video_{video_id}" for video_id in names}
    return names


def _check_order(frames: pd.DataFrame, found: Findings) -> None:
    """Duplicate ``order_in_video`` values are errors; gaps are warnings."""
    duplicated = frames[frames.duplicated(["video_code", "order"], keep=False)]
    for name, group in duplicated.groupby("video", sort=False):
        orders = sorted(set(group.order.tolist()))
        found.append(
            Problem(
                f"{found.source}: video {name!r} images[*].order_in_video",
                f"duplicate values {_shorten(orders)}",
                "give each frame of a video its own order_in_video",
                name,
            )
        )
    ordered = frames.drop_duplicates(["video_code", "order"]).sort_values(["video_code", "order"])
    step = ordered.groupby("video_code", sort=False).order.diff()
    gaps = ordered[step > 1].assign(step=step[step > 1])
    for name, group in gaps.groupby("video", sort=False):
        missing = [
            order
            for last, gap in zip(group.order.tolist(), group.step.tolist(), strict=True)
            for order in range(int(last - gap + 1), last)
        ]
        found.append(
            Problem(
                f"{found.source}: video {name!r} images[*].order_in_video",
                f"gaps in the order, frames {_shorten(missing)} are missing (warning)",
                "fine if those frames were left out on purpose; otherwise add them",
                name,
                warning=True,
            )
        )


def _objects(
    data: dict,
    frames: pd.DataFrame,
    listed_ids: set,
    categories: set | None,
    object_key: str,
    crowd: str,
    found: Findings,
) -> dict[Any, dict[int, list]]:
    """video id -> frame index -> [(object id, segmentation, height, width)]."""
    annotations = annotation_list(data, found)
    if not annotations:
        return {}
    key = _identity_key(annotations, object_key)
    image_rows = dict(
        zip(
            frames.id.tolist(),
            zip(
                frames.video_id.tolist(),
                frames.video.tolist(),
                frames.order.tolist(),
                frames.height.tolist(),
                frames.width.tolist(),
                strict=True,
            ),
            strict=True,
        )
    )
    objects: dict[Any, dict[int, list]] = {}
    identities: dict[Any, dict[Any, None]] = {}
    skip_crowd = crowd == "skip"
    for position, annotation in enumerate(annotations):
        row = image_rows.get(annotation.get("image_id")) if type(annotation) is dict else None
        if row is None:
            problem = _unplaced(position, annotation, listed_ids, found.source)
            if problem is not None:
                found.append(problem)
            continue
        video_id, name, order, height, width = row
        if skip_crowd and annotation.get("iscrowd"):
            continue
        segment = annotation.get("segmentation")
        identity = annotation.get(key)
        plainly_valid = (  # the common case, checked without building messages
            (categories is None or annotation.get("category_id") in categories)
            and identity is not None
            and type(segment) is dict
            and type(segment.get("counts")) is str
            and segment.get("size") == [height, width]
        )
        if not plainly_valid:
            where = f"{found.source}: annotations[{position}]"
            problem = _annotation_problem(annotation, row, categories, key, where)
            if problem is not None:
                found.append(problem)
                continue
        identities.setdefault(video_id, {})[identity] = None
        entry = (identity, segment, height, width)
        objects.setdefault(video_id, {}).setdefault(order, []).append(entry)
    for video_id, frame_objects in objects.items():
        object_ids = _object_ids(list(identities[video_id]))
        if any(identity != object_id for identity, object_id in object_ids.items()):
            for entries in frame_objects.values():
                entries[:] = [(object_ids[identity], *rest) for identity, *rest in entries]
    return objects


def _unplaced(position: int, annotation: Any, listed_ids: set, source: str) -> Problem | None:
    """Why an annotation has no usable image: a problem, or None when that is not an error
    (its image was left out by the keyframe filter, or has a problem of its own)."""
    where = f"{source}: annotations[{position}]"
    if not isinstance(annotation, dict):
        return Problem(where, "is not an object", "remove it", f"annotation {position}")
    image_id = annotation.get("image_id")
    if image_id in listed_ids:
        return None
    return Problem(
        f"{where}.image_id",
        f"image {image_id!r} is not in images",
        "fix the image_id or remove the annotation",
        f"annotation {position}",
    )


def _annotation_problem(
    annotation: dict, row: tuple, categories: set | None, key: str, where: str
) -> Problem | None:
    _, name, _, height, width = row
    problem = category_problem(
        annotation.get("category_id"), categories, f"{where}.category_id", name
    ) or segmentation_problem(
        annotation.get("segmentation"), height, width, f"{where}.segmentation", name
    )
    if problem is None and annotation.get(key) is None:
        problem = Problem(
            f"{where}.{key}",
            f"missing while other annotations have a {key}",
            f"give every annotation a {key}, or pass object_key=category_id",
            name,
        )
    return problem


def _object_ids(identities: list) -> dict[Any, int]:
    """Integer identities 1..255 stay the object ids (as in palette PNGs); others become 1..N
    in order of first appearance."""
    if all(is_int(identity) and 0 < identity <= 255 for identity in identities):
        return {identity: identity for identity in identities}
    return {identity: number for number, identity in enumerate(identities, start=1)}


def _identity_key(annotations: list, object_key: str) -> str:
    if object_key != "auto":
        return object_key
    for key in ("track_id", "instance_id"):
        if any(isinstance(a, dict) and a.get(key) is not None for a in annotations):
            return key
    return "category_id"


def _shorten(values: list, limit: int = 8) -> str:
    shown = ", ".join(str(value) for value in values[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"
