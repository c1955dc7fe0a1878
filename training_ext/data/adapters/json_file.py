"""Reading annotation JSON files with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from training_ext.data.adapters.problems import Problem
from training_ext.errors import UserError


class JsonFileError(UserError):
    """A JSON file that cannot be used, as a :class:`Problem` (``where`` is the file)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def load_json(path: str | Path, expected: type = dict) -> Any:
    """The parsed file; a missing, unreadable or malformed file raises :class:`JsonFileError`."""
    path = Path(path)
    if not path.is_file():
        raise JsonFileError(
            Problem(str(path), "annotation file does not exist", "pass the path of the JSON file")
        )
    try:
        with path.open("rb") as file:
            data = json.load(file)
    except json.JSONDecodeError as error:
        raise JsonFileError(
            Problem(
                str(path),
                f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}",
                "fix the file (e.g. `python -m json.tool FILE` shows where)",
            )
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise JsonFileError(
            Problem(str(path), f"cannot read the file ({error})", "check it and its permissions")
        ) from None
    if not isinstance(data, expected):
        raise JsonFileError(
            Problem(
                str(path),
                f"top level is a {type(data).__name__}, expected a JSON "
                f"{'object' if expected is dict else 'array'}",
                "is this the right file?",
            )
        )
    return data
