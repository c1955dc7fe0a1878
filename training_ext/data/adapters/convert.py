"""Converting between the DAVIS layout and COCO-video / YouTube-VIS JSON.

Every output is written to a staging path next to the target and renamed into place at the end,
so an interrupted or failed conversion leaves nothing half-written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from tqdm import tqdm

from training_ext.data.adapters import segmentation
from training_ext.data.adapters.davis_folder import frame_stems
from training_ext.data.adapters.file_checks import MAX_OBJECT_ID
from training_ext.data.adapters.indexed import DatasetIndex, RleSegmentLoader, VideoRecord
from training_ext.data.masks_io import read_id_mask, write_palette_mask
from training_ext.errors import UserError
from training_ext.staged_write import staged_file, staged_folder


def index_to_davis(index: DatasetIndex, out: Path, progress: bool = True) -> int:
    """Write the videos of ``index`` as ``out/JPEGImages`` + ``out/Annotations``; return count.

    Frames are named by their frame index (``order_in_video`` for COCO-video, position for
    YouTube-VIS); objects are numbered 1..N per video, later ones drawn over earlier ones where
    masks overlap. JPEG frames are copied, others re-encoded as JPEG.
    """
    _refuse_existing(out)
    for record in index.videos:
        objects = {entry[0] for entries in record.objects.values() for entry in entries}
        if objects and max(objects) > MAX_OBJECT_ID:
            raise UserError(
                f"{index.source}: video {record.name!r} has {max(objects)} objects, object id > "
                f"{MAX_OBJECT_ID} cannot be stored in palette PNGs; split the video's objects"
            )

    with staged_folder(out) as staging:
        for record in tqdm(
            index.videos, desc="videos", unit="video", disable=None if progress else True
        ):
            _write_davis_video(record, staging)
        names = "".join(f"{_folder_name(record.name)}\n" for record in index.videos)
        (staging / "ImageSets").mkdir()
        (staging / "ImageSets" / "all.txt").write_text(names)
    return len(index.videos)


def _folder_name(video: str) -> str:
    return video.replace("/", "_")


def _write_davis_video(record: VideoRecord, root: Path) -> None:
    name = _folder_name(record.name)
    frames_dir, masks_dir = root / "JPEGImages" / name, root / "Annotations" / name
    frames_dir.mkdir(parents=True)
    masks_dir.mkdir(parents=True)
    loader = RleSegmentLoader(record.objects)
    for frame_idx, path, (height, width) in zip(
        record.frame_indices, record.image_paths, record.frame_sizes, strict=True
    ):
        target = frames_dir / f"{frame_idx:05d}.jpg"
        if Path(path).suffix.lower() in (".jpg", ".jpeg"):
            shutil.copyfile(path, target)
        else:
            with Image.open(path) as image:
                image.convert("RGB").save(target, quality=95)
        ids = np.zeros((height, width), np.uint8)
        for object_id, mask in sorted(loader.load(frame_idx).items()):
            ids[mask.numpy()] = object_id
        write_palette_mask(masks_dir / f"{frame_idx:05d}.png", ids)


def davis_to_json(
    img_folder: Path, gt_folder: Path, names: list[str], out: Path, to: str, progress: bool = True
) -> None:
    """Write the DAVIS videos ``names`` as a COCO-video or YouTube-VIS file ``out``.

    ``file_name`` / ``file_names`` are relative to ``img_folder`` (the image root); each palette
    id is one object (``track_id`` in COCO-video), all of category 1.
    """
    _refuse_existing(out)
    videos, images, annotations = [], [], []
    for video_id, name in enumerate(
        tqdm(names, desc="videos", unit="video", disable=None if progress else True), start=1
    ):
        stems = sorted(frame_stems(img_folder / name, ".jpg"), key=int)
        masks = [read_id_mask(gt_folder / name / f"{stem}.png") for stem in stems]
        height, width = masks[0].shape
        if to == "coco_video":
            videos.append({"id": video_id, "name": name})
            for stem, ids in zip(stems, masks, strict=True):
                image_id = len(images) + 1
                images.append(
                    {
                        "id": image_id,
                        "video_id": video_id,
                        "order_in_video": int(stem),
                        "file_name": f"{name}/{stem}.jpg",
                        "height": height,
                        "width": width,
                    }
                )
                for object_id in _object_ids(ids):
                    rle = segmentation.encode(ids == object_id)
                    annotations.append(_coco_annotation(len(annotations) + 1, rle, object_id))
                    annotations[-1]["image_id"] = image_id
        else:
            videos.append(
                {
                    "id": video_id,
                    "name": name,
                    "file_names": [f"{name}/{stem}.jpg" for stem in stems],
                    "height": height,
                    "width": width,
                    "length": len(stems),
                }
            )
            for object_id in sorted({i for ids in masks for i in _object_ids(ids)}):
                rles = [
                    segmentation.encode(ids == object_id) if (ids == object_id).any() else None
                    for ids in masks
                ]
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "video_id": video_id,
                        "category_id": 1,
                        "iscrowd": 0,
                        "segmentations": rles,
                        "areas": [
                            None if rle is None else int(segmentation.area([rle])[0])
                            for rle in rles
                        ],
                    }
                )
    data = {
        "categories": [{"id": 1, "name": "object"}],
        "videos": videos,
        "annotations": annotations,
    }
    if to == "coco_video":
        data["images"] = images
    with staged_file(out) as file:
        json.dump(data, file)


def _object_ids(ids: np.ndarray) -> list[int]:
    return [int(i) for i in np.unique(ids) if i != 0]


def _coco_annotation(annotation_id: int, rle: dict, object_id: int) -> dict:
    return {
        "id": annotation_id,
        "category_id": 1,
        "track_id": object_id,
        "iscrowd": 0,
        "segmentation": rle,
        "area": int(mask_utils.area(rle)),
        "bbox": mask_utils.toBbox(rle).tolist(),
    }


def _refuse_existing(out: Path) -> None:
    if out.exists():
        raise UserError(f"--out {out} already exists: remove it or choose another path")
