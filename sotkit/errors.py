"""One exception tree: everything sotkit raises on its own account is a ``SotkitError``.

Provider failures keep the SDK's own exception as ``__cause__`` so callers can still match on
``openai.RateLimitError`` and friends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .result import Result


class SotkitError(Exception):
    """Base class of every error sotkit raises."""


class ConfigError(SotkitError, ValueError):
    """Bad input found before any network traffic: a model string, a limit, a missing key."""


class TemplateError(ConfigError):
    """A prompt template that does not load or render; the message names the file."""


class ModelNotAvailableError(ConfigError):
    """A local model (or its optional dependencies) is not installed; the message says how to install it."""


class LimitsUnavailable(SotkitError, ConnectionError):
    """The Redis that shares the limits between processes does not answer: at construction (the message names
    the URL), or mid-run with ``on_outage="closed"`` (a ``ConnectionError``, so the retry policy retries it)."""


class StreamError(SotkitError):
    """A response that began with HTTP 200 but is not a whole stream of the provider's events: the server
    reported an error inside it, it ended without its terminal event (a cut stream), or its body or events
    do not parse. Retried like the HTTP status it stands for.

    ``status_code`` is the status the error stands for (the server's own for an error event; 502, a bad
    gateway, for a cut or malformed stream); ``raw`` is the offending body or event, if any.
    """

    def __init__(self, message: str, status_code: int = 502, raw: object = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.raw = raw


class EchoedInstructions(SotkitError):
    """A point's expansion only repeated the prompt it was given (small models do), also when retried."""


class PartialResultError(SotkitError):
    """Some points could not be written. ``partial`` holds every point that was.

    ``__cause__`` is the original provider exception of the first point that failed.
    """

    def __init__(self, message: str, partial: Result) -> None:
        super().__init__(message)
        self.partial = partial


class DeadlineExceeded(PartialResultError, TimeoutError):
    """The request's overall ``deadline`` passed; ``partial`` holds what was finished in time."""
