"""One exception tree: everything sotkit raises on its own account is a ``SotkitError``.

    SotkitError
    ├── ConfigError (also a ValueError)
    │   ├── TemplateError
    │   ├── ModelNotAvailableError
    │   ├── PromptTooLong
    │   └── AsyncioOnly
    ├── StreamError
    ├── StreamStalled (also a TimeoutError)
    ├── RetryAfterTooLong
    ├── RequestTooLarge
    ├── LimitsUnavailable (also a ConnectionError)
    ├── EmptyPoint
    │   └── EchoedInstructions
    ├── EmptyAnswer
    └── PartialResultError
        └── DeadlineExceeded (also a TimeoutError)

A provider's own failure (``openai.RateLimitError``, ``anthropic.APIStatusError``, ...) reaches the caller as
itself when a single call fails, and as the ``__cause__`` of a ``PartialResultError`` when some points of an
answer were written. The root and the configuration errors live in ``sotkit.engines.errors``, so that the
engines raise them without importing the SDK.
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from typing import TYPE_CHECKING

from .engines.errors import ConfigError, ModelNotAvailableError, PromptTooLong, SotkitError
from .quotes import clipped
from .redact import redact

if TYPE_CHECKING:
    from .result import Result

__all__ = ["AsyncioOnly", "ConfigError", "DeadlineExceeded", "EchoedInstructions", "EmptyAnswer", "EmptyPoint",
           "FallbackWarning", "LimitsUnavailable", "ModelNotAvailableError", "PartialResultError", "PromptTooLong",
           "RetryAfterTooLong", "SotkitError", "StreamError", "StreamStalled", "TemplateError"]


#: texts a module's warning registry may hold before ``advise`` empties it: Python keeps every text it has shown
#: there for the process's life, and sotkit's warnings quote a server's words or a count, which differ request after
#: request (a 429's "Used 199500, Requested 1200")
REGISTRY_MOST = 1000


def advise(message: str, category: type[Warning] = UserWarning, stacklevel: int = 2) -> None:
    """Warn of something a request goes on past (a refused temperature, a serial server, Redis away). Where a
    filter makes warnings errors (``-W error``, pytest's ``filterwarnings = error``), the error is not raised here,
    mid-request, where it would throw away what the request wrote: the warning goes to the ``sotkit`` logger."""
    try:
        warnings.warn(message, category, stacklevel=stacklevel + 1)
    except Warning:
        logging.getLogger("sotkit").warning("%s: %s", category.__name__, message)
    try:
        registry = sys._getframe(stacklevel).f_globals.get("__warningregistry__")  # the module warned from
    except ValueError:  # a stack shallower than stacklevel: Python warned as from sys
        return
    if registry is not None and len(registry) > REGISTRY_MOST:
        registry.clear()  # (as Python does where the filters change: a text may then be shown once more)


class FallbackWarning(UserWarning):
    """The fallback model wrote all of an answer, the main model having failed with an error (not an empty reply):
    given once per client, model and kind of error, as a bad key, base URL or option would otherwise go unseen."""


class RequestTooLarge(SotkitError):
    """A call is charged more tokens (its prompt, estimated, plus its ``max_tokens``) than the client's ``tpm`` allows
    in a minute: refused at once, as a provider refuses a request over its per-minute limit, not left to wait minutes
    for the budget. Not retried; the fallback model, which has no ``tpm``, answers instead. Other questions through
    the client go on (it is no ``ConfigError``: ``sotkit eval`` records it for that question alone)."""


class PromptCutWarning(UserWarning):
    """A server reported reading far fewer input tokens than a call's prompt holds: it may cut prompts to its context
    size without an error (Ollama's ``num_ctx``), so the answer is to part of the question. Given once per client
    and model."""


class TemplateError(ConfigError):
    """A prompt template that does not load or render; the message names the file."""


class AsyncioOnly(ConfigError):
    """An option that needs asyncio (``http="aiohttp"``, limits shared through Redis) used on trio: the client is
    set up wrong, no model failed, so no fallback model answers instead."""


class LimitsUnavailable(SotkitError, ConnectionError):
    """The Redis that shares the limits between processes does not answer: at construction (the message names
    the URL), or mid-run with ``on_outage="closed"`` (a ``ConnectionError``, so the retry policy retries it)."""


class StreamError(SotkitError):
    """A response that began with HTTP 200 but is not a whole stream of the provider's events: the server
    reported an error inside it, it ended without its terminal event (a cut stream), or its body or events
    do not parse. Retried like the HTTP status it stands for.

    ``status_code`` is the status the error stands for (the server's own for an error event; 502, a bad
    gateway, for a cut or malformed stream); ``raw`` is the offending body or event, if any; ``no_answer``: the
    text the stream gave before it is no answer (a reasoning model's reasoning sent as the text), not a cut one;
    ``code``: the server's code for its error, where the SDKs' own errors carry one (OpenAI's ``error.code``,
    Anthropic's ``error.details.error_code``), such as ``"insufficient_quota"``; without one, OpenAI's ``type``.
    """

    def __init__(self, message: str, status_code: int = 502, raw: object = None, no_answer: bool = False,
                 code: str | None = None) -> None:
        # (the server's words: a gateway may repeat the key it was sent, "invalid credentials: Bearer sk-...")
        super().__init__(redact(message))
        self.status_code = status_code
        self.raw = _redacted(raw)
        self.no_answer = no_answer
        self.code = code


def server_text(value: str | bytes, length: int) -> str:
    """A server's text cut to ``length`` characters for a message, its keys ``***`` first: a key the cut went
    through would no longer be found (review 335)."""
    return redact(value.decode(errors="replace") if isinstance(value, bytes) else value)[:length]


def _redacted(raw: object) -> object:
    """A server's body or event with the clients' secrets as ``***`` in each of its texts."""
    if isinstance(raw, str):
        return redact(raw)
    if isinstance(raw, bytes):  # (a body that is no UTF-8; the keys are ASCII)
        return redact(raw.decode("latin-1")).encode("latin-1")
    if isinstance(raw, dict):
        return {key: _redacted(value) for key, value in raw.items()}
    if isinstance(raw, list):
        return [_redacted(value) for value in raw]
    return raw


class StreamStalled(SotkitError, TimeoutError):
    """A call sent no text for ``first_token_timeout`` (from its start, while no other call of the request to the
    model wrote either) or ``stall_timeout`` (between pieces) seconds; it is retried like a timeout. ``answered``:
    the server had answered (its 200) before it went quiet."""

    def __init__(self, message: str, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


class RetryAfterTooLong(SotkitError):
    """The server asked to wait longer than the policy's ``max_wait_s``; failing now instead of sleeping."""


class EmptyPoint(SotkitError):
    """A point's expansion had no text of its own, also when retried: the model wrote nothing, only the point's
    header, or only the start of another point. Never shown as an empty point of a finished answer."""


class EmptyAnswer(SotkitError):
    """A sequential answer came back without text (also from the fallback model, where there is one): an empty
    answer is never returned as a success. ``finish_reason``: how the last model's reply ended (``content_filter``:
    the provider's filter stopped it before any text)."""

    def __init__(self, message: str, finish_reason: str | None = None) -> None:
        super().__init__(message)
        self.finish_reason = finish_reason


class EchoedInstructions(EmptyPoint):
    """A point's expansion only repeated the prompt it was given (small models do), also when retried."""


class PartialResultError(SotkitError):
    """Some points could not be written. ``partial`` holds every point that was.

    ``__cause__`` is the error of the first point that failed: the provider's own exception, or sotkit's
    (``EmptyPoint``, ``StreamStalled``, ...); ``None`` where no point failed (the deadline passed, the client was
    closed).
    """

    def __init__(self, message: str, partial: Result) -> None:
        super().__init__(message)
        self.partial = partial

    def __reduce__(self) -> tuple:
        # pickled with its partial result (a process pool sends errors back pickled; the default takes args only)
        return type(self), (str(self), self.partial), self.__dict__


class DeadlineExceeded(PartialResultError, TimeoutError):
    """The request's overall ``deadline`` passed; ``partial`` holds what was finished in time."""


def renote(error: BaseException, note: str, kind: str) -> None:
    """Add sotkit's ``note`` to ``error`` in place of an earlier note holding ``kind``: one exception object raised
    again (a test double's, the same instance for every call) would otherwise collect one per call."""
    if notes := getattr(error, "__notes__", None):
        notes[:] = [earlier for earlier in notes if kind not in earlier]
    error.add_note(note)


def describe(error: BaseException, length: int = 300) -> str:
    """An error in one short line, as events and ``Point.error`` carry it: ``"Type: message"`` (``clipped`` to
    ``length`` characters), then its notes (sotkit's say why it was not retried, or what the main model's error
    was where a fallback's is shown); the keys and URL passwords of sotkit's clients as ``***``."""
    notes = one_line(redact(" ".join(getattr(error, "__notes__", ()))))
    return clipped(one_line(redact(f"{type(error).__name__}: {error}")), length) + (
        f" {clipped(notes, 400)}" if notes else "")


def one_line(text: str) -> str:
    """``text`` with its line breaks (a server's error body may hold them) as spaces and its other control characters
    (a terminal's escape sequences, text-direction marks) escaped: a log line, an event's attribute and
    ``Point.error`` stay one line each, and no server can write, erase or hide lines of an app's log."""
    return _CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), " ".join(text.split()))


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def sole(group: BaseExceptionGroup) -> BaseException:
    """The one exception a task group of sotkit's raised (through nested groups), or the group where there are
    several: the caller gets what went wrong, not a task group it never made (trio's Ctrl-C lands in any task)."""
    while len(group.exceptions) == 1 and isinstance(group.exceptions[0], BaseExceptionGroup):
        group = group.exceptions[0]
    return group.exceptions[0] if len(group.exceptions) == 1 else group
