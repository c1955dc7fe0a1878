"""YouTube-VIS JSON (2019 / 2021) as a stock raw dataset.

``videos[*]``: ``id``, ``file_names`` (frames in time order, relative to ``image_root``),
``height``, ``width``. ``annotations[*]`` is one object track: ``video_id``, ``category_id``,
``segmentations`` (one entry per frame: polygons, uncompressed or compressed RLE, or null where
the object is absent), optional ``iscrowd`` (skipped unless ``crowd=keep``).
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath
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

_VIDEO_FIX = "give every video id, file_names (a list), height and width"


class YouTubeVISRawDataset(IndexedRawDataset):
    """Videos of a YouTube-VIS JSON; see the module docstring for the fields it reads."""

    def __init__(
        self,
        json: str,
        image_root: str,
        crowd: str = "skip",
        skip_invalid_videos: bool = False,
    ) -> None:
        super().__init__(index_youtube_vis(json, image_root, crowd), skip_invalid_videos)


def index_youtube_vis(json: str, image_root: str, crowd: str = "skip") -> DatasetIndex:
    """Index a YouTube-VIS file: usable videos and every problem found without reading images."""
    found, data, categories, listed = read_coco_style(json, crowd, "videos", _VIDEO_FIX)
    if listed is None:
        return DatasetIndex(found.source, [], found.problems)
    videos = _videos(listed, image_root, found)
    annotations = annotation_list(data, found)
    tracks: dict[str, int] = {}  # video name -> tracks added so far
    listed_ids = {video.get("id") for video in listed if isinstance(video, dict)}
    for position, annotation in enumerate(annotations):
        _add_track(position, annotation, videos, tracks, categories, crowd, found, listed_ids)
    for record in videos.values():
        if not record.objects:
            found.append(
                Problem(
                    f"{found.source}: video {record.name!r}",
                    "no object in any frame",
                    "annotate at least one object or remove the video",
                    record.name,
                )
            )
    return DatasetIndex(found.source, list(videos.values()), found.problems)


def _videos(listed: list, image_root: str, found: Findings) -> dict[Any, VideoRecord]:
    records: dict[Any, VideoRecord] = {}
    for position, video in enumerate(listed):
        where = f"{found.source}: videos[{position}]"
        if not isinstance(video, dict) or video.get("id") is None:
            found.append(Problem(where, "has no id", _VIDEO_FIX))
            continue
        files = video.get("file_names")
        name = _video_name(video, files)
        if video["id"] in records:
            found.append(Problem(f"{where}.id", f"duplicate video id {video['id']!r}", _VIDEO_FIX))
            continue
        bad = [key for key in ("height", "width") if not is_int(video.get(key))]
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            bad.append("file_names")
        if bad:
            what = f"video {name!r} lacks or has a bad {', '.join(bad)}"
            found.append(Problem(where, what, _VIDEO_FIX, name))
            continue
        if len(set(files)) < len(files):
            found.append(
                Problem(
                    f"{where}.file_names",
                    f"video {name!r} lists a frame twice",
                    "list each frame once, in time order",
                    name,
                )
            )
        size = (video["height"], video["width"])
        records[video["id"]] = VideoRecord(
            name=name,
            frame_indices=list(range(len(files))),
            image_paths=[os.path.join(image_root, file) for file in files],
            frame_sizes=[size] * len(files),
        )
    return records


def _video_name(video: dict, files: Any) -> str:
    if isinstance(files, list) and files and isinstance(files[0], str):
        folder = str(PurePosixPath(files[0]).parent)
        if folder != ".":
            return folder
    return f"video_{video.get('id')}"


def _add_track(
    position: int,
    annotation: Any,
    videos: dict[Any, VideoRecord],
    tracks: dict[str, int],
    categories: set | None,
    crowd: str,
    found: Findings,
    listed_ids: set,
) -> None:
    """Add one annotation (an object track) to its video, or report why it cannot be."""
    where = f"{found.source}: annotations[{position}]"
    video = annotated_record(annotation, position, videos, "video_id", listed_ids, found)
    if video is None:
        return
    if crowd == "skip" and annotation.get("iscrowd"):
        return
    problem = category_problem(
        annotation.get("category_id"), categories, f"{where}.category_id", video.name
    )
    segments = annotation.get("segmentations")
    if problem is None and (not isinstance(segments, list) or len(segments) != len(video)):
        count = len(segments) if isinstance(segments, list) else 0
        problem = Problem(
            f"{where}.segmentations",
            f"{count} entries for the {len(video)} frames of video {video.name!r} "
            "(missing or extra frames)",
            "give one entry per file_names entry, null where the object is absent",
            video.name,
        )
    if problem is None:
        height, width = video.frame_sizes[0]
        problem = next(
            (
                bad
                for t, segment in enumerate(segments)
                if segment is not None
                and (
                    bad := segmentation_problem(
                        segment, height, width, f"{where}.segmentations[{t}]", video.name
                    )
                )
            ),
            None,
        )
    if problem is not None:
        found.append(problem)
        return
    object_id = tracks[video.name] = tracks.get(video.name, 0) + 1
    height, width = video.frame_sizes[0]
    for t, segment in enumerate(segments):
        if segment is not None:
            video.objects.setdefault(t, []).append((object_id, segment, height, width))
