"""Checks of the sets the stock raw datasets read: SA-V (``JSONRawDataset``) and SA-1B
(``SA1BRawDataset``). Each reads every annotation file and one image header per video."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm import tqdm

from training_ext.data.adapters.davis_folder import frame_stems, video_names
from training_ext.data.adapters.json_file import JsonFileError, load_json
from training_ext.data.adapters.problems import Problem
from training_ext.data.adapters.segmentation import segmentation_kind

SAV_FRAMES_FPS = 24  # the stock JSONRawDataset's default frames_fps


def sav_problems(
    root: Path, file_list: Path | None = None, progress: bool = True
) -> tuple[list[str], list[Problem]]:
    """Videos of ``root/JPEGImages_24fps`` and problems with their ``annotations/*_manual.json``."""
    img_folder, gt_folder = root / "JPEGImages_24fps", root / "annotations"
    for folder in (img_folder, gt_folder):
        if not folder.is_dir():
            return [], [Problem(str(folder), "folder does not exist", "see README: SA-V layout")]
    names = video_names(img_folder, file_list)
    problems = []
    for name in tqdm(names, desc="videos", unit="video", disable=None if progress else True):
        stems = (
            sorted(frame_stems(img_folder / name, ".jpg")) if (img_folder / name).is_dir() else []
        )
        if not stems:
            problems.append(
                Problem(str(img_folder / name), "no .jpg frames", "extract the frames", name)
            )
            continue
        path = gt_folder / f"{name}_manual.json"
        first_frame = img_folder / name / f"{stems[0]}.jpg"
        try:
            data = load_json(path, expected=(dict, list))
            size = _size(first_frame)
        except JsonFileError as error:
            problems.append(replace(error.problem, video=name))
            continue
        except OSError as error:
            fix = "re-extract the frames"
            problems.append(Problem(str(first_frame), f"unreadable ({error})", fix, name))
            continue
        problems += _masklet_problems(data, path, size, name)
    return names, problems


def _masklet_problems(data: Any, path: Path, size: tuple[int, int], name: str) -> list[Problem]:
    masklet = data if isinstance(data, list) else data.get("masklet", data.get("masks"))
    if not isinstance(masklet, list) or not masklet:
        return [Problem(str(path), "no masklet list", "write masklet: [[rle, ...], ...]", name)]
    fps = data.get("fps") if isinstance(data, dict) else None
    fps = fps[0] if isinstance(fps, list) else fps
    if fps is not None and SAV_FRAMES_FPS % int(fps):
        return [Problem(f"{path}: fps", f"{fps} does not divide {SAV_FRAMES_FPS}", "fix fps", name)]
    for index, frame in enumerate(masklet):
        for rle in frame or []:
            if rle is not None and (segmentation_kind(rle) != "rle" or tuple(rle["size"]) != size):
                return [
                    Problem(
                        f"{path}: masklet[{index}]",
                        f"an RLE that is not compressed or not of the frame size {list(size)}",
                        "write compressed RLE at the frames' resolution",
                        name,
                    )
                ]
    return []


def sa1b_problems(
    root: Path, file_list: Path | None = None, progress: bool = True
) -> tuple[list[str], list[Problem]]:
    """Images ``root/sa_<n>.jpg`` and problems with their ``sa_<n>.json``."""
    if file_list is not None:
        names = video_names(root, file_list)
    else:
        names = sorted(frame_stems(root, ".jpg"))
    problems = []
    for name in tqdm(names, desc="images", unit="image", disable=None if progress else True):
        if not name.split("_")[-1].isdigit():
            fix = "name images sa_<number>.jpg"
            problems.append(Problem(str(root / f"{name}.jpg"), "not an SA-1B name", fix, name))
            continue
        try:
            size = _size(root / f"{name}.jpg")
            data = load_json(root / f"{name}.json")
        except JsonFileError as error:
            problems.append(replace(error.problem, video=name))
            continue
        except OSError as error:
            fix = "re-export the image"
            problems.append(Problem(str(root / f"{name}.jpg"), f"unreadable ({error})", fix, name))
            continue
        annotations = data.get("annotations")
        usable = [
            a
            for a in annotations or []
            if isinstance(a, dict)
            and segmentation_kind(a.get("segmentation")) == "rle"
            and tuple(a["segmentation"]["size"]) == size
            and isinstance(a.get("area"), (int, float))
        ]
        if not isinstance(annotations, list) or len(usable) < len(annotations):
            problems.append(
                Problem(
                    str(root / f"{name}.json"),
                    "annotations need segmentation (compressed RLE of the image size) and area",
                    "fix or drop the image",
                    name,
                )
            )
        elif not any(a["area"] > 0 for a in usable):
            fix = "drop the image"
            problems.append(Problem(str(root / f"{name}.json"), "no mask with area > 0", fix, name))
    return names, problems


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.height, image.width
