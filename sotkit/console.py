"""What the commands write beside their output: a line on stderr that cannot cost the output on stdout, nor end the
run, where stderr is closed (``2>&-``), its reader gone (``2>&1 | head``) or on a full disk."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from typing import Any

#: what a terminal acts on rather than shows: colours, a window title, a cleared screen, a carriage return that writes
#: over the line (and a restart's mark): in a model's or a server's text, shown escaped on a terminal (a file or a
#: pipe gets the text as it came). A line end written "\r\n" is one (its "\n" may come in the next piece).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n|\Z)")


def escaped(text: str) -> str:
    return _CONTROLS.sub(lambda control: repr(control[0])[1:-1], text)


def to_stderr(line: str) -> None:
    """A line on stderr, if it can be written. Closed, ``sys.stderr`` is None, and ``print`` would write the line
    into stdout's output."""
    if sys.stderr is None:
        return
    try:
        print(escaped(line) if sys.stderr.isatty() else line, file=sys.stderr, flush=True)
    except OSError:
        discard(sys.stderr)


def discard(stream: Any) -> None:
    """What is still written to ``stream`` goes nowhere, so that neither the rest of the run nor Python's flush at
    exit fails on it again."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # None, or a stream with no file
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
