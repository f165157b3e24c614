"""The progress line of a long ``sotkit eval`` run, on stderr: redrawn in place on a terminal, a plain line every
so often otherwise (a log file or CI gets a readable trace, not carriage returns)."""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any, TextIO

from .report import Tally, outcome_of, tally

BAR = 20


class Progress:
    def __init__(self, total: int, done: list[dict[str, Any]] | None = None, *, stream: TextIO | None = None,
                 every_s: float = 10.0, judging: bool = True) -> None:
        self.total, self.judging = total, judging
        self.records = list(done or [])
        # None where stderr is closed (2>&-): no progress, and the run goes on
        self.stream: TextIO | None = stream or sys.stderr
        self.tty = self.stream is not None and self.stream.isatty()
        self.every_s = every_s
        self.started = time.monotonic()
        self.new = 0  # questions answered by this run (the ETA's pace)
        self._shown_at = -float("inf")
        self._show(force=True)

    def update(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self.new += 1
        self._show(force=len(self.records) == self.total)

    def say(self, text: str) -> None:
        """A line of its own, above the progress line."""
        self._write(("\r\033[K" if self.tty else "") + f"[sotkit eval] {text}\n" + (self.line() if self.tty else ""))

    def close(self) -> None:
        if self.tty:
            self._write("\n")

    def line(self) -> str:
        done = len(self.records)
        parts = [f"{done}/{self.total} questions"]
        if failed := sum(1 for r in self.records if r["error"]):
            parts.append(f"{failed} failed")
        if self.new and done < self.total:
            left = (time.monotonic() - self.started) / self.new * (self.total - done)
            parts.append(f"ETA {_duration(left)}")
        speedups = [s for r in self.records if (s := r["measures"].get("speedup")) is not None]
        if speedups:
            parts.append(f"speed-up {statistics.median(speedups):.2f}x (median)")
        general = tally(o for r in self.records if (o := outcome_of(r, "general")) is not None) if self.judging \
            else Tally()
        if general.judged or general.fell_back:
            rate = "–" if general.net_win_rate is None else f"{general.net_win_rate:+.2f}"
            apart = f", {general.fell_back} fell back" if general.fell_back else ""
            parts.append(f"net win rate {rate} ({general.judged} judged{apart})")
        text = " · ".join(parts)
        if self.tty:
            filled = round(BAR * done / self.total) if self.total else BAR
            text = f"[{'#' * filled}{'.' * (BAR - filled)}] {text}"
        return f"[sotkit eval] {text}"

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            self._write("\r\033[K" + self.line())
        elif force or now - self._shown_at >= self.every_s:
            self._write(self.line() + "\n")
        else:
            return
        self._shown_at = now

    def _write(self, text: str) -> None:
        """Progress, where it can be written: a reader gone (``2>&1 | head``) or a full disk ends the progress, not
        the run (its report is still to be written)."""
        if self.stream is None:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError:
            self.stream = None


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if hours else f"{m}m{s:02d}s" if m else f"{s}s"
