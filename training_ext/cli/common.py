"""Shared pieces of our command-line tools."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from training_ext.errors import UserError
from training_ext.host_paths import on_host


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the one-line promise: a usage mistake is one line on stderr and exit code 2
    (``--help`` still prints the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def int_at_least(minimum: int, name: str) -> Callable[[str], int]:
    """argparse type: an integer >= ``minimum`` (``name`` is what argparse calls the type when
    the text is not an integer)."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = name
    return parse


positive_int = int_at_least(1, "positive_int")
non_negative_int = int_at_least(0, "non_negative_int")


def exit_code(prog: str, command: Callable[[], object]) -> int:
    """Run ``command``; a UserError becomes one line on stderr and exit code 2 (or the error's
    own ``exit_code``)."""
    try:
        command()
    except UserError as error:
        print(f"{prog}: error: {on_host(str(error))}", file=sys.stderr)
        return getattr(error, "exit_code", 2)
    return 0
