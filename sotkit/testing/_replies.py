"""What the fake server says back: replies, their pacing, injected faults, and how text becomes tokens."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from ..errors import ConfigError
from ..providers.base import CallUsage, char_weight, estimated_tokens, is_count

# A "token" is a run of whitespace plus the word after it (trailing whitespace sticks to the last word),
# so "".join(split_tokens(text)) == text for every text.
_TOKEN = re.compile(r"\s*\S+(?:\s+$)?|\s+$")


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into the pieces the fake server counts and streams as tokens (joining gives it back)."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    """How many tokens the fake server counts in ``text``."""
    return len(split_tokens(text))


def count_prompt_tokens(text: str) -> int:
    """How many tokens the fake server says it read of a prompt message's ``text``: its words, or half sotkit's own
    estimate where that is more (text written without spaces: Chinese, a long run of one character), as sotkit
    warns of a server that reports reading far fewer tokens than it sent (``PromptCutWarning``; probe 284)."""
    return max(count_tokens(text), estimated_tokens(char_weight(text)) // 2)


def _is_number(value: object) -> bool:
    # a bool is an int to Python, but True as a number of seconds is a mistake
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: a header's name and value as HTTP writes them (RFC 9110's token; tabs and visible Latin-1, no control characters)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile("[\t\x20-\x7e\x80-\xff]*")
#: headers the server writes itself: another value would break the response's framing
_FRAMING = ("content-length", "transfer-encoding")


@dataclass(frozen=True)
class Latency:
    """A model's pace: the first token ``ttft_s`` seconds after the request arrives, then ``tokens_per_s``.

    ``tokens_per_s=None`` sends every token at once after the first.
    """

    ttft_s: float = 0.0
    tokens_per_s: float | None = None

    def __post_init__(self) -> None:
        if not (_is_number(self.ttft_s) and self.ttft_s >= 0 and math.isfinite(self.ttft_s)):
            raise ConfigError(f"Latency.ttft_s must be a number of seconds >= 0, e.g. 0.05; got {self.ttft_s!r}")
        if self.tokens_per_s is not None and not (_is_number(self.tokens_per_s) and self.tokens_per_s > 0):
            raise ConfigError("Latency.tokens_per_s must be a number > 0, e.g. 200 (or None for no pacing); "
                              f"got {self.tokens_per_s!r}")

    def offset(self, token_index: int) -> float:
        """Seconds after the request's arrival at which token ``token_index`` (0-based) is due."""
        if self.tokens_per_s is None:
            return self.ttft_s
        return self.ttft_s + token_index / self.tokens_per_s


FaultKind = Literal["status", "drop", "stall", "error_event", "cut", "garbage", "not_a_stream", "keep_alive",
                    "runaway", "unclean_close", "filtered"]


@dataclass(frozen=True)
class Fault:
    """Something going wrong with one response. Build one with a class method: ``status``, ``drop``, ``stall``,
    ``error_event``, ``cut``, ``garbage``, ``not_a_stream``, ``keep_alive``, ``runaway``, ``unclean_close`` or
    ``filtered``.

    The faults inside a stream (``error_event``, ``cut``, ``garbage``, ``keep_alive``) act on streaming
    responses; a non-streaming response with one of them is dropped at that point instead.
    """

    kind: FaultKind
    status_code: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    after_tokens: int = 0
    seconds: float = 0.0
    then: Literal["continue", "close"] = "continue"
    every_s: float = 0.0
    tokens: int = 0

    def __post_init__(self) -> None:
        """The class methods' checks, also for a fault built directly (``Fault("stall", seconds=1)``): one that
        would do nothing, or something else, makes a resilience test pass for nothing."""
        if self.kind not in get_args(FaultKind):
            raise ConfigError(f"Fault kind {self.kind!r} is unknown: build a fault with a class method, "
                              f"Fault.{'(), Fault.'.join(get_args(FaultKind))}()")
        name = f"Fault.{self.kind}"
        if not is_count(self.after_tokens):
            raise ConfigError(f"{name} after_tokens must be an int >= 0, got {self.after_tokens!r}")
        if self.then not in ("continue", "close"):
            raise ConfigError(f"{name} then must be 'continue' or 'close', got {self.then!r}")
        if self.then == "close" and self.kind not in ("stall", "keep_alive"):  # (it would be ignored)
            raise ConfigError(f"{name} takes no then='close': only a stall or keep_alive goes on or closes after it")
        if self.kind in ("status", "error_event") and not (is_count(self.status_code)
                                                           and 400 <= self.status_code <= 599):
            raise ConfigError(f"{name} code must be an HTTP error status 400..599, got {self.status_code!r}")
        if self.kind in ("stall", "keep_alive"):
            _check_seconds(f"{name} seconds", self.seconds)
        if self.kind == "keep_alive":
            _check_seconds(f"{name} every_s", self.every_s)
        if self.kind == "runaway" and not (is_count(self.tokens) and self.tokens >= 1):
            raise ConfigError(f"{name} tokens must be an int >= 1, got {self.tokens!r}")
        if self.kind == "garbage" and not (isinstance(self.body, str) and "\n" not in self.body):
            raise ConfigError(f"{name} data must be a one-line str, got {self.body!r}")
        if self.kind == "not_a_stream" and not isinstance(self.body, str):
            raise ConfigError(f"{name} body must be a str, got {type(self.body).__name__}")
        if not isinstance(self.headers, Mapping) or self.kind == "not_a_stream" and "content-type" not in self.headers:
            raise ConfigError(f"{name} headers must be a dict of header names to values (a page's with its "
                              f"content-type), got {self.headers!r}")
        for key, value in self.headers.items():  # (else each request fails as the server writes them)
            sendable = _is_number(value) or isinstance(value, str) and _HEADER_VALUE.fullmatch(value)
            if not (isinstance(key, str) and _HEADER_NAME.fullmatch(key) and key.lower() not in _FRAMING
                    and sendable):
                raise ConfigError(f"{name} headers must map names (letters, digits, '-'; not {' or '.join(_FRAMING)}, "
                                  "which the server writes) to values HTTP can send (a str of Latin-1 with no control "
                                  f"characters, or a number), got {key!r}: {value!r}")
        object.__setattr__(self, "headers", {key: str(value) for key, value in self.headers.items()})  # as sent

    @classmethod
    def status(cls, code: int, headers: Mapping[str, str | int | float] | None = None, body: Any = None) -> Fault:
        """Answer with HTTP ``code`` and the API's own error body (or ``body``: a dict or list sent as JSON, a str
        as it is), plus ``headers``.

        For example ``Fault.status(429, {"retry-after": "1"})`` or ``Fault.status(529)`` (Anthropic overloaded).
        """
        if headers is not None and not isinstance(headers, Mapping):
            raise ConfigError("Fault.status headers must be a dict of header names to values, e.g. "
                              f"Fault.status({code}, {{'retry-after': '1'}}); got {headers!r}")
        # (numbers as values too: __post_init__ makes them the str they are sent as)
        return cls("status", status_code=code, headers=dict(headers or {}), body=body)  # type: ignore[arg-type]

    @classmethod
    def drop(cls, after_tokens: int = 0) -> Fault:
        """Close the connection after ``after_tokens`` streamed tokens, without finishing the response.

        Streaming responses send their headers and opening event first; a non-streaming one sends nothing.
        """
        return cls("drop", after_tokens=after_tokens)

    @classmethod
    def stall(cls, after_tokens: int = 0, seconds: float = 1.0,
              then: Literal["continue", "close"] = "continue") -> Fault:
        """Send nothing for ``seconds`` after ``after_tokens`` tokens, then carry on (or close the connection)."""
        return cls("stall", after_tokens=after_tokens, seconds=seconds, then=then)

    @classmethod
    def error_event(cls, after_tokens: int = 0, code: int = 529, body: Any = None) -> Fault:
        """After ``after_tokens`` tokens, report an error inside the 200 stream as the API does (OpenAI: a
        ``data: {"error": ...}`` chunk; Anthropic: an ``error`` event of the type for ``code``; or ``body``, sent
        as the event's JSON) and end it."""
        return cls("error_event", after_tokens=after_tokens, status_code=code, body=body)

    @classmethod
    def cut(cls, after_tokens: int = 0) -> Fault:
        """End the stream cleanly after ``after_tokens`` tokens but without its terminal event (OpenAI's
        ``finish_reason`` and ``[DONE]``, Anthropic's ``message_stop``), as a proxy that times out may."""
        return cls("cut", after_tokens=after_tokens)

    @classmethod
    def garbage(cls, after_tokens: int = 0, data: str = "<html>") -> Fault:
        """After ``after_tokens`` tokens, send ``data: <data>`` (not an event of the API) and end the stream."""
        return cls("garbage", after_tokens=after_tokens, body=data)

    @classmethod
    def not_a_stream(cls, body: str = "<html>502 Bad Gateway</html>", content_type: str = "text/html") -> Fault:
        """Answer HTTP 200 with ``body`` instead of the stream (or completion) asked for, as a proxy may."""
        return cls("not_a_stream", body=body, headers={"content-type": content_type})

    @classmethod
    def keep_alive(cls, after_tokens: int = 0, seconds: float = 1.0, every_s: float = 0.05,
                   then: Literal["continue", "close"] = "continue") -> Fault:
        """After ``after_tokens`` tokens, send only keep-alives for ``seconds`` (an SSE comment every ``every_s``
        plus an event without text: a role-only delta for OpenAI, a ``ping`` for Anthropic), then carry on
        (or close the connection)."""
        return cls("keep_alive", after_tokens=after_tokens, seconds=seconds, every_s=every_s, then=then)

    @classmethod
    def runaway(cls, tokens: int = 100_000) -> Fault:
        """Ignore ``max_tokens`` and stop sequences: stream the reply over and over, ``tokens`` tokens in all."""
        return cls("runaway", tokens=tokens)

    @classmethod
    def unclean_close(cls) -> Fault:
        """Send the whole stream, its terminal event included, then close the connection before the end of the
        HTTP body (no last chunk), as some proxies and load balancers do. The answer is whole; a non-streaming
        response is sent whole."""
        return cls("unclean_close")

    @classmethod
    def filtered(cls, after_tokens: int = 0) -> Fault:
        """The provider's content filter ends the reply after ``after_tokens`` tokens (or at the end of a shorter
        one, unless ``max_tokens`` or a stop sequence ended it first): a whole response, finished as the API finishes
        a filtered one (OpenAI's ``finish_reason`` ``content_filter``, Anthropic's ``stop_reason`` ``refusal``);
        non-streaming too."""
        return cls("filtered", after_tokens=after_tokens)

    def __repr__(self) -> str:
        if self.kind == "status":
            extras = "".join(f", {name}={value!r}" for name, value in
                             (("headers", dict(self.headers)), ("body", self.body)) if value)
            return f"Fault.status({self.status_code}{extras})"
        if self.kind == "not_a_stream":
            return f"Fault.not_a_stream({self.body!r}, {self.headers['content-type']!r})"
        if self.kind == "runaway":
            return f"Fault.runaway(tokens={self.tokens})"
        if self.kind == "unclean_close":
            return "Fault.unclean_close()"
        body = f", body={self.body!r}" if self.body is not None else ""
        args = {"drop": "", "cut": "", "filtered": "", "error_event": f", code={self.status_code}{body}",
                "garbage": f", data={self.body!r}", "stall": f", seconds={self.seconds}, then={self.then!r}",
                "keep_alive": f", seconds={self.seconds}, every_s={self.every_s}, then={self.then!r}"}[self.kind]
        return f"Fault.{self.kind}(after_tokens={self.after_tokens}{args})"


def _check_seconds(name: str, seconds: float) -> None:
    if not (isinstance(seconds, (int, float)) and seconds > 0 and math.isfinite(seconds)):
        raise ConfigError(f"{name} must be a finite number > 0, got {seconds!r}")


@dataclass(frozen=True)
class Reply:
    """One reply, optionally with its own latency, a fault, or usage numbers to report instead of counting.

    ``reasoning_tokens``: a reasoning model's hidden reasoning before the text, as OpenAI's reasoning models write it
    (none of it streamed): it spends ``max_tokens`` first and counts in the output tokens, so a budget it fills
    leaves no text, finished by the length."""

    text: str
    latency: Latency | None = None
    fault: Fault | None = None
    usage: CallUsage | None = None
    reasoning_tokens: int = 0

    def __post_init__(self) -> None:
        # checked here: a wrong type would otherwise only break the server thread, mid-response
        if not isinstance(self.text, str):
            raise TypeError(f"Reply.text must be a str, got {type(self.text).__name__}")
        try:
            self.text.encode()
        except UnicodeEncodeError as exc:  # it went as U+FFFD, the reply altered (probe 260)
            raise ConfigError(f"Reply.text holds a lone surrogate ({exc.object[exc.start]!r}), which UTF-8 cannot "
                              "carry: use the character itself") from None
        if self.latency is not None and not isinstance(self.latency, Latency):
            example = f"Latency(ttft_s={self.latency!r})" if _is_number(self.latency) else "Latency(ttft_s=0.05)"
            # (a Fault passed second, where latency stands: probe 316)
            meant = "; did you mean fault=...? (the second argument is the latency)" \
                if isinstance(self.latency, Fault) else ""
            raise TypeError(f"Reply latency={self.latency!r}: pass a Latency, e.g. {example}, or None{meant}")
        if self.fault is not None and not isinstance(self.fault, Fault):
            example = f"Fault.status({self.fault!r})" if type(self.fault) is int else "Fault.drop()"
            meant = "; did you mean latency=...?" if isinstance(self.fault, Latency) else ""  # (review 318)
            raise TypeError(f"Reply fault={self.fault!r}: pass a Fault, e.g. {example}, or None{meant}")
        if not is_count(self.reasoning_tokens):
            raise ConfigError(f"Reply reasoning_tokens must be an int >= 0, got {self.reasoning_tokens!r}")
        if self.usage is not None and not isinstance(self.usage, CallUsage):
            raise TypeError(f"Reply usage={self.usage!r}: pass a CallUsage (sotkit.testing.CallUsage), e.g. "
                            "CallUsage(input_tokens=10, output_tokens=5), or None to count tokens")
        counts = () if self.usage is None else (self.usage.input_tokens, self.usage.output_tokens,
                                                 self.usage.cache_read_tokens, self.usage.cache_write_tokens,
                                                 self.usage.cache_write_1h_tokens)
        if not all(isinstance(count, int) and count >= 0 for count in counts):
            raise ConfigError(f"Reply usage={self.usage!r}: token counts must be ints >= 0")
        if self.usage is not None and self.usage.cache_read_tokens + self.usage.cache_write_tokens > \
                self.usage.input_tokens:
            raise ConfigError(f"Reply usage={self.usage!r}: the prompt cache's reads and writes are parts of "
                              "input_tokens, so together they cannot exceed it")
        if self.usage is not None and self.usage.cache_write_1h_tokens > self.usage.cache_write_tokens:
            raise ConfigError(f"Reply usage={self.usage!r}: cache_write_1h_tokens are part of cache_write_tokens, "
                              "so they cannot exceed them")


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
        if not (_is_number(self.rate) and 0.0 <= self.rate <= 1.0):
            raise ConfigError(f"RandomFaults.rate must be a number within [0, 1], e.g. 0.1; got {self.rate!r}")
        if isinstance(self.faults, Fault):
            raise ConfigError(f"RandomFaults.faults must be a list of Faults: pass faults=[{self.faults!r}]")
        if (not isinstance(self.faults, Sequence) or not self.faults
                or not all(isinstance(f, Fault) for f in self.faults)):
            raise ConfigError("RandomFaults.faults must be a non-empty list of Faults, e.g. "
                              f"faults=[Fault.status(500), Fault.drop()]; got {self.faults!r}")

    def sampler(self) -> random.Random:
        return random.Random(self.seed)


def reasoning_spent(reasoning_tokens: int, max_tokens: int | None) -> int:
    """The hidden reasoning a reply spends: all of it, or the whole budget where that runs out first."""
    return reasoning_tokens if max_tokens is None else min(reasoning_tokens, max_tokens)


@dataclass(frozen=True)
class Completion:
    """A reply cut the way a real server would cut it: at the first stop sequence, then at ``max_tokens``."""

    tokens: list[str]
    finish: Literal["end", "stop_sequence", "length", "filtered"]
    stop_sequence: str | None = None
    reasoning: int = 0
    """Hidden reasoning tokens spent before the text (OpenAI counts them in ``completion_tokens_details``)."""

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @classmethod
    def cut(cls, text: str, stop: Sequence[str], max_tokens: int | None, reasoning_tokens: int = 0) -> Completion:
        """``reasoning_tokens`` spend ``max_tokens`` before the text does."""
        reasoning = reasoning_spent(reasoning_tokens, max_tokens)
        if max_tokens is not None and reasoning == max_tokens:
            return cls([], "length", reasoning=reasoning)
        done = cls._cut(text, stop, None if max_tokens is None else max_tokens - reasoning)
        return replace(done, reasoning=reasoning)

    @classmethod
    def _cut(cls, text: str, stop: Sequence[str], max_tokens: int | None) -> Completion:
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
