"""What the fake server says back: replies, their pacing, injected faults, and how text becomes tokens."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ConfigError
from ..providers.base import CallUsage

# A "token" is a run of whitespace plus the word after it (trailing whitespace sticks to the last word),
# so "".join(split_tokens(text)) == text for every text.
_TOKEN = re.compile(r"\s*\S+(?:\s+$)?|\s+$")


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into the pieces the fake server counts and streams as tokens (joining gives it back)."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    """How many tokens the fake server counts in ``text``."""
    return len(split_tokens(text))


@dataclass(frozen=True)
class Latency:
    """A model's pace: the first token ``ttft_s`` seconds after the request arrives, then ``tokens_per_s``.

    ``tokens_per_s=None`` sends every token at once after the first.
    """

    ttft_s: float = 0.0
    tokens_per_s: float | None = None

    def __post_init__(self) -> None:
        if not (self.ttft_s >= 0 and math.isfinite(self.ttft_s)):
            raise ConfigError(f"Latency.ttft_s must be a finite number >= 0, got {self.ttft_s!r}")
        if self.tokens_per_s is not None and not self.tokens_per_s > 0:
            raise ConfigError(f"Latency.tokens_per_s must be > 0 (or None for no pacing), got {self.tokens_per_s!r}")

    def offset(self, token_index: int) -> float:
        """Seconds after the request's arrival at which token ``token_index`` (0-based) is due."""
        if self.tokens_per_s is None:
            return self.ttft_s
        return self.ttft_s + token_index / self.tokens_per_s


@dataclass(frozen=True)
class Fault:
    """Something going wrong with one response. Build one with ``status``, ``drop`` or ``stall``."""

    kind: Literal["status", "drop", "stall"]
    status_code: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    after_tokens: int = 0
    seconds: float = 0.0
    then: Literal["continue", "close"] = "continue"

    @classmethod
    def status(cls, code: int, headers: Mapping[str, str] | None = None, body: Any = None) -> Fault:
        """Answer with HTTP ``code`` and the API's own error body (or ``body``, sent as JSON), plus ``headers``.

        For example ``Fault.status(429, {"retry-after": "1"})`` or ``Fault.status(529)`` (Anthropic overloaded).
        """
        if not (isinstance(code, int) and 400 <= code <= 599):
            raise ConfigError(f"Fault.status code must be an HTTP error status 400..599, got {code!r}")
        return cls("status", status_code=code, headers=dict(headers or {}), body=body)

    @classmethod
    def drop(cls, after_tokens: int = 0) -> Fault:
        """Close the connection after ``after_tokens`` streamed tokens, without finishing the response.

        Streaming responses send their headers and opening event first; a non-streaming one sends nothing.
        """
        _check_after_tokens(after_tokens)
        return cls("drop", after_tokens=after_tokens)

    @classmethod
    def stall(cls, after_tokens: int = 0, seconds: float = 1.0,
              then: Literal["continue", "close"] = "continue") -> Fault:
        """Send nothing for ``seconds`` after ``after_tokens`` tokens, then carry on (or close the connection)."""
        _check_after_tokens(after_tokens)
        if not (seconds > 0 and math.isfinite(seconds)):
            raise ConfigError(f"Fault.stall seconds must be a finite number > 0, got {seconds!r}")
        if then not in ("continue", "close"):
            raise ConfigError(f"Fault.stall then must be 'continue' or 'close', got {then!r}")
        return cls("stall", after_tokens=after_tokens, seconds=seconds, then=then)

    def __repr__(self) -> str:
        if self.kind == "status":
            extras = "".join(f", {name}={value!r}" for name, value in
                             (("headers", dict(self.headers)), ("body", self.body)) if value)
            return f"Fault.status({self.status_code}{extras})"
        if self.kind == "drop":
            return f"Fault.drop(after_tokens={self.after_tokens})"
        return f"Fault.stall(after_tokens={self.after_tokens}, seconds={self.seconds}, then={self.then!r})"


def _check_after_tokens(after_tokens: int) -> None:
    if not (isinstance(after_tokens, int) and after_tokens >= 0):
        raise ConfigError(f"after_tokens must be an int >= 0, got {after_tokens!r}")


@dataclass(frozen=True)
class Reply:
    """One reply, optionally with its own latency, a fault, or usage numbers to report instead of counting."""

    text: str
    latency: Latency | None = None
    fault: Fault | None = None
    usage: CallUsage | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"Reply.text must be a str, got {type(self.text).__name__}")


@dataclass(frozen=True)
class RandomFaults:
    """Server-wide fault injection: each request gets a fault with probability ``rate``, picked from ``faults``.

    Draws use ``random.Random(seed)`` in the order requests arrive, so a run is reproducible up to that order.
    A status fault is drawn before the responder runs and does not consume a reply from a list responder.
    """

    rate: float
    faults: Sequence[Fault] = (Fault.status(500),)
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ConfigError(f"RandomFaults.rate must be within [0, 1], got {self.rate!r}")
        if not self.faults or not all(isinstance(f, Fault) for f in self.faults):
            raise ConfigError("RandomFaults.faults must be a non-empty sequence of Fault objects")

    def sampler(self) -> random.Random:
        return random.Random(self.seed)


@dataclass(frozen=True)
class Completion:
    """A reply cut the way a real server would cut it: at the first stop sequence, then at ``max_tokens``."""

    tokens: list[str]
    finish: Literal["end", "stop_sequence", "length"]
    stop_sequence: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @classmethod
    def cut(cls, text: str, stop: Sequence[str], max_tokens: int | None) -> Completion:
        finish: Literal["end", "stop_sequence", "length"] = "end"
        matched = None
        hits = [(text.find(s), s) for s in stop if s and s in text]
        if hits:
            position, matched = min(hits)
            text, finish = text[:position], "stop_sequence"
        tokens = split_tokens(text)
        if max_tokens is not None and len(tokens) > max_tokens:
            return cls(tokens[:max_tokens], "length")
        return cls(tokens, finish, matched)
