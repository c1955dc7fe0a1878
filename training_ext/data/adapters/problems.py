"""Problems found in a dataset, and what an adapter does with them (refuse, or skip videos)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from training_ext.errors import UserError


@dataclass(frozen=True)
class Problem:
    """One problem: where (file and key), what is wrong, how to fix it.

    ``video``: the video it makes unusable (skipping that video removes the problem); None when
    the whole dataset is unusable. Warnings never stop training.
    """

    where: str
    what: str
    fix: str
    video: str | None = None
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.what}; {self.fix}"


@dataclass
class Findings:
    """The problems found so far in one annotation file, ``source``: what the checks of that file
    share, instead of each taking the file name and the list."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    def append(self, problem: Problem) -> None:
        self.problems.append(problem)


class InvalidDatasetError(UserError):
    """A dataset with errors, raised when bad videos are not to be skipped."""

    def __init__(self, errors: list[Problem], skippable: bool, key: str = "dataset") -> None:
        self.errors = errors
        self.skippable = skippable
        super().__init__(self.describe(key))

    def describe(self, key: str) -> str:
        """The first error, how many there are and how to go on; ``key``: the config section."""
        first = self.errors[0]
        more = f" ({len(self.errors)} problems in all: `sam2-data validate` lists them)"
        if len(self.errors) == 1:
            more = ""
        skip = ""
        if self.skippable:
            skip = f"; or pass {key}.skip_invalid_videos=true to train without the bad videos"
        return f"{first}{more}{skip}"


def usable_videos(
    problems: Iterable[Problem], videos: list[str], skip_invalid: bool, source: str
) -> list[str]:
    """``videos`` without those with errors; raise InvalidDatasetError unless skipping is allowed.

    Errors of the whole dataset (``video`` None) are never skipped.
    """
    errors = [problem for problem in problems if not problem.warning]
    if not errors:
        return videos
    dataset_errors = [problem for problem in errors if problem.video is None]
    if dataset_errors:
        raise InvalidDatasetError(dataset_errors, skippable=False)
    if not skip_invalid:
        raise InvalidDatasetError(errors, skippable=True)
    bad = {problem.video for problem in errors}
    kept = [video for video in videos if video not in bad]
    logging.getLogger(__name__).warning(
        f"{source}: skipping {len(videos) - len(kept)} of {len(videos)} videos that fail "
        f"validation ({len(errors)} problems; first: {errors[0]})"
    )
    if not kept:
        raise UserError(f"{source}: every video fails validation; first problem: {errors[0]}")
    return kept
