"""What ``sam2-train`` checks of the training datasets before anything is written or spawned.

Paths first (one line naming the config key), then every raw dataset of ours is built as the
trainer will build it: its index-level validation refuses a bad dataset, or skips bad videos
with a warning when ``<section>.skip_invalid_videos`` is true. Then the first frame (and mask) of
each video is opened — of an even sample of videos on large sets, so the check stays a small
part of the start-up: unreadable files, RGB masks and size mismatches fail here, not in a rank.
``sam2-data validate`` opens every file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from training_ext.data.adapters.davis_folder import CheckedPNGRawDataset
from training_ext.data.adapters.file_checks import check_davis_files, check_first_frames
from training_ext.data.adapters.indexed import IndexedRawDataset
from training_ext.data.adapters.problems import InvalidDatasetError, Problem
from training_ext.errors import UserError

_FOLDERS = ("img_folder", "gt_folder", "image_root")
_FILES = ("json", "file_list_txt")
_OURS = "training_ext.data.adapters."
FIRST_FRAMES_SAMPLE = 200  # videos whose first frame is opened at launch (all, on smaller sets)


def check_training_datasets(cfg: DictConfig) -> None:
    """Raise a one-line UserError for the first training dataset that cannot be used."""
    train = OmegaConf.select(cfg, "trainer.data.train")
    if train is None:
        return
    sections = {
        key: OmegaConf.to_container(node.video_dataset, resolve=True)
        for key, node in cfg.items()
        if isinstance(node, DictConfig) and "video_dataset" in node
    }
    for node in _raw_datasets(OmegaConf.to_container(train, resolve=True)):
        section = next((key for key, value in sections.items() if value == node), "video_dataset")
        _check_paths(node, section)
        if str(node.get("_target_", "")).startswith(_OURS):
            _check_first_frames(_build(node, section), section)


def _check_first_frames(dataset: object, section: str) -> None:
    problems: list[Problem] = []
    if isinstance(dataset, CheckedPNGRawDataset):
        names = sorted({name.split("/")[0] for name in dataset.video_names})
        problems = check_davis_files(
            dataset.img_folder, dataset.gt_folder, _sample(names), False, first_frame_only=True
        )
    elif isinstance(dataset, IndexedRawDataset):
        problems = check_first_frames(_sample(dataset.videos))
    errors = [problem for problem in problems if not problem.warning]
    if errors:
        more = f" ({len(errors)} videos in the sample)" if len(errors) > 1 else ""
        raise UserError(
            f"{errors[0]}{more}; or leave the video out of {section}.file_list_txt "
            "(`sam2-data validate` checks every file)"
        )


def _sample(videos: list) -> list:
    """At most FIRST_FRAMES_SAMPLE videos, evenly spread over the list."""
    if len(videos) <= FIRST_FRAMES_SAMPLE:
        return videos
    step = len(videos) / FIRST_FRAMES_SAMPLE
    return [videos[int(i * step)] for i in range(FIRST_FRAMES_SAMPLE)]


def _build(node: dict, section: str) -> object:
    """Build the raw dataset as the trainer will; its validation errors become one line."""
    try:
        return instantiate(node)
    except InstantiationException as error:  # Hydra wraps what the target raises
        cause = error.__cause__
        if isinstance(cause, InvalidDatasetError):
            raise UserError(cause.describe(section)) from None
        if isinstance(cause, UserError):
            raise UserError(f"{section}: {cause}") from None
        raise


def _raw_datasets(node: Any) -> list[dict]:
    """Every ``video_dataset`` node under ``node``."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "video_dataset" and isinstance(value, dict):
                found.append(value)
            else:
                found += _raw_datasets(value)
    elif isinstance(node, (list, ListConfig)):
        for value in node:
            found += _raw_datasets(value)
    return found


def _check_paths(node: dict, section: str) -> None:
    for key in _FOLDERS:
        folder = node.get(key)
        if folder is not None and not Path(folder).is_dir():
            hint = ""
            if section == "dataset" and key in ("img_folder", "gt_folder"):
                hint = "point SAM2_DATASET or dataset.root at the dataset folder, or "
            raise UserError(
                f"{section}.{key}: folder {folder} does not exist; {hint}pass {section}.{key}=/path"
            )
    for key in _FILES:
        file = node.get(key)
        if file is not None and not Path(file).is_file():
            what = "null to use every video" if key == "file_list_txt" else "the annotation file"
            raise UserError(
                f"{section}.{key}: file {file} does not exist; pass {section}.{key}=/path or {what}"
            )
