"""The index every JSON adapter builds once, and the raw dataset / segment loader over it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from training.dataset.vos_raw_dataset import VOSFrame, VOSRawDataset, VOSVideo

from training_ext.data.adapters import segmentation
from training_ext.data.adapters.problems import Problem, usable_videos
from training_ext.errors import UserError

# (object id, segmentation as in the file, image height, image width)
ObjectAnnotation = tuple[int, Any, int, int]


@dataclass
class VideoRecord:
    """One video: frames in time order and, per frame index, its objects' segmentations."""

    name: str
    frame_indices: list[int]
    image_paths: list[str]
    frame_sizes: list[tuple[int, int]]  # (height, width) the annotation file declares
    objects: dict[int, list[ObjectAnnotation]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame_indices)


@dataclass
class DatasetIndex:
    """What indexing an annotation file found: usable videos and every problem."""

    source: str
    videos: list[VideoRecord]
    problems: list[Problem]


class RleSegmentLoader:
    """``load(frame_idx)`` -> {object id: (H, W) bool mask}, decoded on first use.

    One loader serves one sampled clip: the stock sampler and ``VOSDataset`` load the first frame
    up to three times, so decoded frames are kept.
    """

    def __init__(self, objects: dict[int, list[ObjectAnnotation]]) -> None:
        self.objects = objects
        self._decoded: dict[int, dict[int, torch.Tensor]] = {}

    def load(self, frame_idx: int) -> dict[int, torch.Tensor]:
        if frame_idx not in self._decoded:
            self._decoded[frame_idx] = self._decode(self.objects.get(frame_idx, []))
        return self._decoded[frame_idx]

    @staticmethod
    def _decode(annotations: list[ObjectAnnotation]) -> dict[int, torch.Tensor]:
        if not annotations:
            return {}
        rles: dict[int, list[dict]] = {}
        for object_id, segment, height, width in annotations:
            rles.setdefault(object_id, []).append(segmentation.to_rle(segment, height, width))
        merged = [
            parts[0] if len(parts) == 1 else segmentation.union(parts) for parts in rles.values()
        ]
        masks = segmentation.decode(merged)
        return dict(zip(rles, masks, strict=True))


class IndexedRawDataset(VOSRawDataset):
    """A stock raw dataset over a :class:`DatasetIndex` (videos with errors refused or skipped)."""

    def __init__(self, index: DatasetIndex, skip_invalid_videos: bool = False) -> None:
        super().__init__()
        names = usable_videos(
            index.problems,
            [video.name for video in index.videos],
            skip_invalid_videos,
            index.source,
        )
        keep = set(names)
        self.videos = [video for video in index.videos if video.name in keep]
        if not self.videos:
            raise UserError(
                f"{index.source}: no video to train on (every frame filtered out?); "
                "check keyframe_field and crowd, or run `sam2-data stats` on the file"
            )

    def get_video(self, idx: int) -> tuple[VOSVideo, RleSegmentLoader]:
        record = self.videos[idx]
        frames = [
            VOSFrame(frame_idx, image_path=path)
            for frame_idx, path in zip(record.frame_indices, record.image_paths, strict=True)
        ]
        return VOSVideo(record.name, idx, frames), RleSegmentLoader(record.objects)

    def __len__(self) -> int:
        return len(self.videos)
