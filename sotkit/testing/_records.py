"""What the fake server remembers about each request it served."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from ..providers.base import CallUsage
from ._replies import Fault


@dataclass(frozen=True)
class Message:
    """One chat message with its content flattened to text (text parts joined, other parts dropped)."""

    role: str
    text: str


@dataclass
class RecordedRequest:
    """One request as the server saw it, and what it sent back.

    Times are ``time.perf_counter()`` readings, the same clock a test in this process reads: ``received_at``
    when the request body was in, ``first_byte_at`` when the status line went out (a stream opens at once, as the
    real APIs do; its tokens follow at the latency model's pace, timed in ``pieces``), ``finished_at`` when the
    last byte went out (or the server hung up for a fault; ``None`` if the client hung up first).
    Every field is final once the client has read the whole response.

    ``system`` holds the system text (OpenAI system/developer messages joined by blank lines); ``messages``
    holds the rest. ``prefill`` is the text of a trailing assistant message (Anthropic continues it; for Claude
    4.6 and later the server answers HTTP 400, as the API does).
    """

    api: Literal["openai", "anthropic"]
    method: str
    path: str
    headers: dict[str, str]
    received_at: float
    #: which client connection carried it: 1, 2, ... in the order the server accepted them (keep-alive reuse
    #: shows as repeated numbers)
    connection: int = 0
    body: Any = None
    model: str | None = None
    system: str | None = None
    messages: list[Message] = field(default_factory=list)
    stop: tuple[str, ...] = ()
    max_tokens: int | None = None
    #: None where the request sent none (the API's default)
    temperature: float | None = None
    stream: bool = False
    #: 1 for the first request with this prompt, 2 for the next with the same one, ...: a retry (a trailing
    #: assistant message, the prefill a retry may continue, is not part of the prompt). Set before the
    #: responder runs, so a responder can answer each attempt differently, as a sampled model does.
    attempt: int = 1
    #: the responder's full reply, and the text actually sent after stop sequences and max_tokens cut it (a reply
    #: a fault or the client broke off: what went out before the break, "" for a JSON body)
    reply: str | None = None
    text: str | None = None
    #: the API's own finish reason as sent ("stop", "length", "content_filter", "end_turn", "stop_sequence",
    #: "max_tokens", "refusal"); None where the stream broke off before it
    finish_reason: str | None = None
    usage: CallUsage | None = None
    #: the ``Fault`` applied to this response, if any
    fault: Fault | None = None
    status: int | None = None
    first_byte_at: float | None = None
    #: ``(time, token)`` for every streamed token, in order
    pieces: list[tuple[float, str]] = field(default_factory=list)
    finished_at: float | None = None
    #: the client hung up before the response was complete
    client_closed: bool = False
    closed_at: float | None = None

    @property
    def prefill(self) -> str | None:
        """The text of the last message when it is the assistant's, else ``None``."""
        if self.messages and self.messages[-1].role == "assistant":
            return self.messages[-1].text
        return None

    @property
    def user(self) -> str:
        """The text of the last user message ('' when there is none): handy in a responder."""
        return next((m.text for m in reversed(self.messages) if m.role == "user"), "")

    @property
    def api_key(self) -> str | None:
        """The key the client sent (``Authorization: Bearer ...``, ``x-api-key``, or Azure's ``api-key``)."""
        for header in ("x-api-key", "api-key"):
            if header in self.headers:
                return self.headers[header]
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" else None

    def snapshot(self) -> RecordedRequest:
        """A copy whose lists later updates by the server do not touch."""
        clone = copy.copy(self)
        clone.pieces = list(self.pieces)
        clone.messages = list(self.messages)
        return clone
