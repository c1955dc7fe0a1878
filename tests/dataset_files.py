"""Small real datasets for adapter tests: JPEG frames and COCO-video / YouTube-VIS / COCO JSON
whose masks are encoded with pycocotools (compressed RLE, uncompressed RLE or polygons)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

HEIGHT, WIDTH = 32, 40


@dataclass
class JsonSet:
    """An annotation dict, where it is saved, and the folder its file names are relative to."""

    data: dict
    json_path: Path
    image_root: Path

    def save(self) -> Path:
        self.json_path.write_text(json.dumps(self.data))
        return self.json_path


def box_mask(frame: int, obj: int) -> np.ndarray:
    """Object ``obj`` (1 or 2) as a box that moves one pixel per frame."""
    mask = np.zeros((HEIGHT, WIDTH), bool)
    top, left = 4 + 12 * (obj - 1), 3 + frame + 15 * (obj - 1)
    mask[top : top + 8, left : left + 10] = True
    return mask


def box_polygon(frame: int, obj: int) -> list[list[float]]:
    ys, xs = np.nonzero(box_mask(frame, obj))
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return [[float(v) for v in (x0, y0, x1, y0, x1, y1, x0, y1)]]


def uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE: run lengths over the column-major pixels, zeros first."""
    pixels = mask.flatten(order="F").astype(np.int8)
    changes = np.flatnonzero(np.diff(np.concatenate([[0], pixels, [1 - pixels[-1]]])))
    counts = np.diff(np.concatenate([[0], changes])).tolist()
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def encode(mask: np.ndarray, kind: str = "rle", frame: int = 0, obj: int = 1):
    if kind == "polygon":
        return box_polygon(frame, obj)
    if kind == "uncompressed_rle":
        return uncompressed_rle(mask)
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def write_frame(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def coco_video_set(root: Path, videos: int = 2, frames: int = 3, kind: str = "rle") -> JsonSet:
    images, annotations = [], []
    for video in range(1, videos + 1):
        for t in range(frames):
            file_name = f"v{video}/{t:05d}.jpg"
            write_frame(root / "images" / file_name, seed=video * 100 + t)
            image_id = len(images) + 1
            images.append(
                {
                    "id": image_id,
                    "video_id": video,
                    "order_in_video": t,
                    "file_name": file_name,
                    "height": HEIGHT,
                    "width": WIDTH,
                }
            )
            for obj in (1, 2):
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": obj,
                        "track_id": obj,
                        "iscrowd": 0,
                        "segmentation": encode(box_mask(t, obj), kind, t, obj),
                    }
                )
    data = {
        "videos": [{"id": v, "name": f"v{v}"} for v in range(1, videos + 1)],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    }
    return JsonSet(data, root / "coco_video.json", root / "images")


def youtube_vis_set(root: Path, videos: int = 2, frames: int = 3, kind: str = "rle") -> JsonSet:
    listed, annotations = [], []
    for video in range(1, videos + 1):
        names = [f"v{video}/{t:05d}.jpg" for t in range(frames)]
        for t, name in enumerate(names):
            write_frame(root / "images" / name, seed=video * 100 + t)
        listed.append(
            {"id": video, "file_names": names, "height": HEIGHT, "width": WIDTH, "length": frames}
        )
        for obj in (1, 2):
            segmentations = [encode(box_mask(t, obj), kind, t, obj) for t in range(frames)]
            segmentations[-1] = None if obj == 2 else segmentations[-1]  # object 2 leaves
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "video_id": video,
                    "category_id": obj,
                    "iscrowd": 0,
                    "segmentations": segmentations,
                }
            )
    data = {
        "videos": listed,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    }
    return JsonSet(data, root / "youtube_vis.json", root / "images")


def coco_images_set(root: Path, count: int = 3, kind: str = "rle") -> JsonSet:
    images, annotations = [], []
    for image_id in range(1, count + 1):
        file_name = f"{image_id:012d}.jpg"
        write_frame(root / "images" / file_name, seed=image_id)
        images.append({"id": image_id, "file_name": file_name, "height": HEIGHT, "width": WIDTH})
        for obj in (1, 2):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": obj,
                    "iscrowd": 0,
                    "segmentation": encode(box_mask(image_id, obj), kind, image_id, obj),
                }
            )
    data = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    }
    return JsonSet(data, root / "coco_images.json", root / "images")


def sav_from_davis(davis: Path, names: list[str], out: Path) -> Path:
    """SA-V layout (frames + ``<video>_manual.json`` masklets) of DAVIS videos ``names``."""
    for name in names:
        frames = sorted((davis / "JPEGImages" / name).glob("*.jpg"))
        (out / "JPEGImages_24fps" / name).mkdir(parents=True)
        for frame in frames:
            shutil.copyfile(frame, out / "JPEGImages_24fps" / name / frame.name)
        masks = [_read_ids(davis / "Annotations" / name / f"{f.stem}.png") for f in frames]
        objects = sorted({int(i) for ids in masks for i in np.unique(ids) if i})
        masklet = [[encode(ids == obj) for obj in objects] for ids in masks]
        (out / "annotations").mkdir(exist_ok=True)
        (out / "annotations" / f"{name}_manual.json").write_text(json.dumps({"masklet": masklet}))
    return out


def sa1b_from_davis(davis: Path, names: list[str], out: Path) -> Path:
    """SA-1B layout (``sa_<n>.jpg`` + ``sa_<n>.json``): the first frame of each video."""
    out.mkdir(parents=True)
    for number, name in enumerate(names, start=1):
        shutil.copyfile(davis / "JPEGImages" / name / "00000.jpg", out / f"sa_{number}.jpg")
        ids = _read_ids(davis / "Annotations" / name / "00000.png")
        annotations = [
            {"segmentation": encode(ids == obj), "area": int((ids == obj).sum())}
            for obj in np.unique(ids)
            if obj
        ]
        (out / f"sa_{number}.json").write_text(json.dumps({"annotations": annotations}))
    return out


def _read_ids(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.array(image)
