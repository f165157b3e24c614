"""What the engines' command lines (``sotkit engines lud|focus ...``) share."""

from __future__ import annotations

import argparse
import sys

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
