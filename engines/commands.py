"""What the engines' command lines (``sotkit engines lud|focus ...``) share."""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import ConfigError


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows each option's default, except an unset one (None) and a flag's False."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help if action.default is None or action.default is False else super()._get_help_string(action)


def failed(error: Exception) -> int:
    """A command's error as one line, as ``sotkit ask`` says it; the exit status: 2 for bad input (a sotkit
    ConfigError, a missing file), else 1."""
    print(f"sotkit: error: {error}", file=sys.stderr)
    return 2 if isinstance(error, (ConfigError, FileNotFoundError)) else 1


def interrupted(command: str) -> int:
    """Ctrl-C during a command: one line, not a traceback, and the shell's status for it."""
    keep = {"train": " (to stop a training early and keep it, give it a time budget)"}.get(command, "")
    print(f"sotkit: interrupted (Ctrl-C): {command} did not finish{keep}", file=sys.stderr)
    return 130


def whole(at_least: int, at_most: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: a whole number, at least ``at_least`` (and at most ``at_most``), refused in words
    (argparse would name the function) as the command line is read, not after a model has loaded or a training has
    run."""

    def read(text: str) -> int:
        value = int(text) if text.strip().isdecimal() else None
        if value is None or value < at_least or (at_most is not None and value > at_most):
            most = f" and at most {at_most}" if at_most is not None else ""
            raise argparse.ArgumentTypeError(f"{text!r}: give a whole number, at least {at_least}{most}")
        return value

    return read


def number(*, above: float | None = None, at_least: float | None = None,
           at_most: float | None = None) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in the bounds given."""
    bounds = [f"{word} {bound:g}" for word, bound in (("above", above), ("at least", at_least), ("at most", at_most))
              if bound is not None]

    def read(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or (above is not None and value <= above) \
                or (at_least is not None and value < at_least) or (at_most is not None and value > at_most):
            raise argparse.ArgumentTypeError(f"{text!r}: give a number {' and '.join(bounds)}".rstrip())
        return value

    return read


def writable_file(path: Path, option: str) -> None:
    """Refuse, before any work, a file path that the work's result could not be written to: a directory, or a
    place no file can be made in."""
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a directory; give a file name in it")
    can_make(path, f"{option} {path}")


def can_make(path: Path, what: str) -> None:
    """A ConfigError naming ``what`` where ``path`` (a file or folder, there or not) could not be made: a folder is
    made and removed in the nearest folder that exists, so a run stopped early leaves none behind (and a place
    that only looks writable, such as /proc to root, is found out)."""
    existing = next(folder for folder in (path.absolute().parent, *path.absolute().parents) if folder.exists())
    try:
        tempfile.TemporaryDirectory(dir=existing).cleanup()
    except OSError as exc:
        raise ConfigError(f"{what} cannot be written ({existing}: {exc.strerror or exc}); give a path you can "
                          "write") from None
