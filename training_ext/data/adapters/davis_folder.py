"""DAVIS / MOSE folders (``JPEGImages/<video>/<frame>.jpg``, ``Annotations/<video>/<frame>.png``):
the stock ``PNGRawDataset`` behind a check of the folder listing."""

from __future__ import annotations

import os
from pathlib import Path

from training.dataset.vos_raw_dataset import PNGRawDataset

from training_ext.data.adapters.problems import Problem, usable_videos


class CheckedPNGRawDataset(PNGRawDataset):
    """The stock ``PNGRawDataset`` that refuses (or skips) videos failing :func:`listing_problems`.

    Other keyword arguments go to ``PNGRawDataset`` unchanged.
    """

    def __init__(
        self,
        img_folder: str,
        gt_folder: str,
        file_list_txt: str | None = None,
        skip_invalid_videos: bool = False,
        **stock_options,
    ) -> None:
        names, problems = listing_problems(img_folder, gt_folder, file_list_txt)
        keep = set(usable_videos(problems, names, skip_invalid_videos, str(img_folder)))
        super().__init__(img_folder, gt_folder, file_list_txt, **stock_options)
        self.video_names = [name for name in self.video_names if name.split("/")[0] in keep]


def video_names(img_folder: str | Path, file_list_txt: str | Path | None) -> list[str]:
    """The videos the stock ``PNGRawDataset`` reads: the file list's, else every entry."""
    if file_list_txt is not None:
        lines = Path(file_list_txt).read_text().splitlines()
        return sorted({os.path.splitext(line.strip())[0] for line in lines if line.strip()})
    return sorted(os.listdir(img_folder))


def listing_problems(
    img_folder: str | Path, gt_folder: str | Path, file_list_txt: str | Path | None = None
) -> tuple[list[str], list[Problem]]:
    """Video names and the problems visible from folder listings alone (no file is opened)."""
    img_folder, gt_folder = Path(img_folder), Path(gt_folder)
    for folder in (img_folder, gt_folder):
        if not folder.is_dir():
            fix = "point at the folder holding one sub-folder per video"
            return [], [Problem(str(folder), "folder does not exist", fix)]
    if file_list_txt is not None and not Path(file_list_txt).is_file():
        fix = "pass an existing list (one video name per line) or null"
        return [], [Problem(str(file_list_txt), "file list does not exist", fix)]
    names = video_names(img_folder, file_list_txt)
    if not names:
        where = str(file_list_txt or img_folder)
        fix = "list the training videos, one name per line" if file_list_txt else "add videos"
        return [], [Problem(where, "names no video to train on", fix)]
    problems = [
        problem for name in names for problem in _video_problems(img_folder, gt_folder, name)
    ]
    return names, problems


def frame_stems(folder: Path, suffix: str) -> set[str]:
    return {entry[: -len(suffix)] for entry in os.listdir(folder) if entry.endswith(suffix)}


def _video_problems(img_folder: Path, gt_folder: Path, name: str) -> list[Problem]:
    frames_dir, masks_dir = img_folder / name, gt_folder / name
    if not frames_dir.is_dir():
        what = "video folder does not exist" if not frames_dir.exists() else "not a folder"
        return [
            Problem(str(frames_dir), what, "add the video's frames or drop it from the list", name)
        ]
    frames = frame_stems(frames_dir, ".jpg")
    if not frames:
        return [Problem(str(frames_dir), "no .jpg frames", "store frames as <number>.jpg", name)]
    if not masks_dir.is_dir():
        fix = "add one palette PNG per frame, or drop the video"
        return [Problem(str(masks_dir), "mask folder does not exist", fix, name)]
    masks = frame_stems(masks_dir, ".png")
    problems = []
    odd = sorted(stem for stem in frames | masks if not stem.isdigit())
    if odd:
        what = f"frame names that are not numbers: {_first(odd)}"
        problems.append(Problem(str(frames_dir), what, "name files <number>.jpg / .png", name))
    if frames - masks:
        what = f"frames without a mask: {_first(sorted(frames - masks))}"
        problems.append(Problem(str(masks_dir), what, "add their masks or remove the frames", name))
    if masks - frames:
        what = f"masks without a frame (missing frames): {_first(sorted(masks - frames))}"
        problems.append(Problem(str(frames_dir), what, "add the frames or remove the masks", name))
    return problems


def _first(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (
        f" and {len(names) - limit} more" if len(names) > limit else ""
    )
