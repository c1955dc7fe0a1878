"""A dataset named on the command line: a DAVIS-layout folder or an annotation JSON."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training_ext.data.adapters.coco_images import index_coco_images
from training_ext.data.adapters.coco_video import index_coco_video
from training_ext.data.adapters.davis_folder import listing_problems
from training_ext.data.adapters.indexed import DatasetIndex
from training_ext.data.adapters.json_file import load_json
from training_ext.data.adapters.problems import Problem
from training_ext.data.adapters.stock_formats import sa1b_problems, sav_problems
from training_ext.data.adapters.youtube_vis import index_youtube_vis
from training_ext.errors import UserError

JSON_FORMATS = ("coco_video", "youtube_vis", "coco_images")
STOCK_FORMATS = ("sav", "sa1b")
FORMATS = ("auto", "davis", *JSON_FORMATS, *STOCK_FORMATS)


@dataclass
class StockSource:
    """An SA-V or SA-1B folder: its video (image) names and their problems."""

    names: list[str]
    problems: list[Problem]


@dataclass
class DavisSource:
    """A DAVIS / MOSE folder: its video names and the problems its listing shows."""

    img_folder: Path
    gt_folder: Path
    names: list[str]
    problems: list[Problem]

    @property
    def listed_names(self) -> list[str]:
        """Videos with both a frame and a mask folder (whatever else is wrong with them)."""
        return [
            name
            for name in self.names
            if (self.img_folder / name).is_dir() and (self.gt_folder / name).is_dir()
        ]

    @property
    def usable_names(self) -> list[str]:
        bad = {problem.video for problem in self.problems if not problem.warning}
        return [name for name in self.names if name not in bad]


def open_source(
    path: Path, format: str, image_root: Path | None, file_list: Path | None = None
) -> tuple[str, DatasetIndex | DavisSource | StockSource]:
    """(format, its index) of ``path``; ``format`` 'auto' tells the formats apart."""
    if not path.exists():
        raise UserError(f"{path} does not exist; pass a dataset folder or an annotation JSON")
    if format == "auto":
        format = detect_format(path)
    if format == "davis":
        if not path.is_dir():
            raise UserError(f"{path} is not a folder; a DAVIS-layout dataset is a folder")
        img_folder, gt_folder = path / "JPEGImages", path / "Annotations"
        if (img_folder / "480p").is_dir():  # DAVIS 2017 keeps its frames in resolution folders
            img_folder, gt_folder = img_folder / "480p", gt_folder / "480p"
        names, problems = listing_problems(img_folder, gt_folder, file_list)
        return format, DavisSource(img_folder, gt_folder, names, problems)
    if format in STOCK_FORMATS:
        if not path.is_dir():
            raise UserError(f"{path} is not a folder; an {format} dataset is a folder")
        check = sav_problems if format == "sav" else sa1b_problems
        return format, StockSource(*check(path, file_list))
    if not path.is_file():
        raise UserError(f"{path} is a folder; --format {format} reads an annotation JSON file")
    if image_root is None:
        raise UserError(f"--image-root is required for {format} ({path}): the folder of the frames")
    index = {
        "coco_video": index_coco_video,
        "youtube_vis": index_youtube_vis,
        "coco_images": index_coco_images,
    }[format](str(path), str(image_root))
    return format, index


def detect_format(path: Path) -> str:
    """davis for a folder with JPEGImages/; for a JSON, by the keys its records have."""
    if path.is_dir():
        if (path / "JPEGImages").is_dir():
            return "davis"
        if (path / "JPEGImages_24fps").is_dir():
            return "sav"
        if any(path.glob("sa_*.jpg")):
            return "sa1b"
        raise UserError(
            f"{path} has no JPEGImages/ folder; pass a DAVIS-layout folder or an annotation JSON"
        )
    data = load_json(path)
    videos = data.get("videos")
    if isinstance(videos, list) and any(isinstance(v, dict) and "file_names" in v for v in videos):
        return "youtube_vis"
    images = data.get("images")
    if isinstance(images, list) and any(isinstance(i, dict) and "video_id" in i for i in images):
        return "coco_video"
    if isinstance(images, list):
        return "coco_images"
    raise UserError(
        f"{path}: neither images nor videos with file_names; pass --format {'|'.join(JSON_FORMATS)}"
    )
