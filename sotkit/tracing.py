"""OpenTelemetry spans in the GenAI semantic conventions. All of sotkit's OpenTelemetry code is in this module.

A request (``generate``, ``stream``, ``complete``) is one ``INTERNAL`` span, ``sotkit generate`` (``stream``,
``complete``): the mode asked for and chosen, the route's reason, the points, whether the answer was cut
(``sotkit.truncated``, ``sotkit.skeleton_truncated``) and the usage totals (``sotkit.*`` names, so that a backend
summing ``gen_ai.usage.*`` over a trace does not count every token twice). Each model call it makes is a child span
``chat {model}`` (``CLIENT``; ``INTERNAL`` for ``local:`` models): ``gen_ai.*`` request and usage attributes,
``sotkit.call.role`` (``skeleton``, ``point``, ``sequential``, ``router``, a judge's template, or ``points`` for a
batched expansion) and ``sotkit.point.index``. It covers every attempt on one model: a retry is a ``sotkit.retry``
event; a fallback to the next model is a ``sotkit.fallback`` event (also after an answer without text) that ends the
span, and the call goes on in a span of the next model. The error a call ends with is recorded
(``record_exception``, status ``ERROR``, ``error.type``). While a call's provider runs, its span is the current
span, so the spans an SDK makes itself (the anthropic SDK's ``anthropic.messages.create``, one per attempt, or an
HTTP client instrumentation's) are its children, not siblings.

Off, it costs nothing: when ``opentelemetry`` was never imported, or no tracer provider is set (the API's default
proxy, or the no-op provider), a request gets ``NO_TRACE``, whose methods do nothing; nothing is done per chunk.

No prompt, answer, question excerpt or quoted model output goes into a span unless the request has
``trace_content=True``: without it, quoted text in route reasons and error messages is elided as '…' and stack
traces keep their frames only. With it, calls carry ``gen_ai.system_instructions``, ``gen_ai.input.messages`` and
``gen_ai.output.messages`` (JSON, in the conventions' message format) and the request its question and answer.
Either way, the keys and URL passwords of sotkit's clients are ``***`` in error messages (``sotkit.redact``).
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import StreamError, one_line
from .providers._sse import BROKE_OFF
from .providers.base import AT_BUDGET, FILTERED, FINISHED, WINDOW_FULL
from .quotes import OPEN, elide
from .redact import redact
from .retry import answered_status

if TYPE_CHECKING:
    from .providers.base import CallUsage, ChatRequest
    from .result import Result

SCOPE = "sotkit"


class CallTrace:
    """One model call's span; this base class is the no-op used when tracing is off."""

    def __enter__(self) -> CallTrace:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        return None

    def request(self, request: ChatRequest, prefill: bool = True) -> None:
        """The request sent to one model, with its prompt's prefill if ``prefill`` (the provider sends one)."""

    def retry(self, attempt: int, error: BaseException, wait_s: float) -> None:
        """Attempt ``attempt`` failed with ``error``; the next starts in ``wait_s``."""

    def queued(self, seconds: float) -> None:
        """An attempt waited ``seconds`` for the model's concurrency slot or per-minute budgets."""

    def fallback(self, error: BaseException, model: str, platform: str | None = None) -> None:
        """Every attempt on one model failed (last with ``error``); the call goes on with ``model`` (reached on
        ``platform``, ``Provider.platform``)."""

    def usage(self, usage: CallUsage) -> None:
        """One attempt's usage."""

    def finished(self, model: str, text: Sequence[str]) -> None:
        """``model`` finished the call; ``text`` is its generation's raw text, in pieces."""


class RequestTrace:
    """One request's span; this base class is the no-op used when tracing is off."""

    def __enter__(self) -> RequestTrace:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        return None

    def call(self, role: str, model: str, point: int | None = None, rows: int | None = None,
             platform: str | None = None) -> CallTrace:
        """The span of one model call (``rows``: a batched call's rows; ``platform``: ``Provider.platform``)."""
        return NO_CALL

    def stopped(self) -> None:
        """The caller stopped the request (a stream's ``aclose()``, the client's): the error it ends with (a
        ``PartialResultError`` holding what was written) is no failure, as a cancellation is none."""


NO_CALL = CallTrace()
NO_TRACE = RequestTrace()


def start_request(operation: str, model: str, requested_mode: str | None, question: str, content: bool,
                  result: Callable[[], Result]) -> RequestTrace:
    """The trace of one request, or ``NO_TRACE`` when no tracer provider is set. ``result`` gives the result as
    it stands, read when the request ends (also when it fails). ``requested_mode``: None for ``complete()``, which
    takes none."""
    tracer = _tracer()
    if tracer is None:
        return NO_TRACE
    return _RequestSpan(tracer, operation, model, requested_mode, question, content, result)


_cached: tuple[Any, Any] = (None, None)  # (provider, its tracer)


def _tracer() -> Any:
    """sotkit's tracer from the global provider, or None when tracing is off (never imports OpenTelemetry)."""
    global _cached
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:  # nobody imported OpenTelemetry: no provider can be set
        return None
    try:
        provider = trace.get_tracer_provider()
        if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
            return None
    except AttributeError:  # still being imported (by an SDK, in the thread that imports it): none set yet
        return None
    if _cached[0] is not provider:
        _cached = (provider, provider.get_tracer(SCOPE, __version__))
    return _cached[1]


def _otel() -> Any:
    """``opentelemetry.trace``, imported already where a span is made (a tracer provider was set)."""
    return sys.modules["opentelemetry.trace"]


class _RequestSpan(RequestTrace):
    def __init__(self, tracer: Any, operation: str, model: str, requested_mode: str | None, question: str,
                 content: bool, result: Callable[[], Result]) -> None:
        trace = _otel()
        self.tracer = tracer
        self.content = content
        self._result = result
        attributes = {"sotkit.model": model}
        if requested_mode is not None:
            attributes["sotkit.request.mode"] = requested_mode
        if content:
            attributes["sotkit.question"] = question
        self.span = tracer.start_span(f"sotkit {operation}", kind=trace.SpanKind.INTERNAL, attributes=attributes)
        self.context = trace.set_span_in_context(self.span)
        self._stopped = False

    def __enter__(self) -> _RequestSpan:
        self._current = _current(self.span)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        self._current.__exit__(kind, error, tb)
        try:
            result = self._result()
            usage = result.usage
            self.span.set_attributes({
                "sotkit.mode": result.mode, "sotkit.points": len(result.points),
                "sotkit.points.failed": sum(p.failed for p in result.points),
                "sotkit.skeleton_truncated": result.skeleton_truncated, "sotkit.truncated": result.truncated,
                "sotkit.usage.input_tokens": usage.input_tokens, "sotkit.usage.output_tokens": usage.output_tokens,
                "sotkit.usage.calls": usage.calls, "sotkit.usage.estimated_calls": usage.estimated_calls,
            })
            if result.route_reason:
                self.span.set_attribute("sotkit.route.reason", self._text(result.route_reason))
            if self.content:
                self.span.set_attribute("sotkit.answer", result.text)
            if self._stopped:
                self.span.set_attribute("sotkit.cancelled", True)
            elif error is not None:
                _record(self.span, error, self.content)
        finally:
            self.span.end()

    def stopped(self) -> None:
        self._stopped = True

    def call(self, role: str, model: str, point: int | None = None, rows: int | None = None,
             platform: str | None = None) -> CallTrace:
        return _CallSpan(self, role, model, platform, point, rows)

    def _text(self, text: str) -> str:
        return text if self.content else elide(text)


class _CallSpan(CallTrace):
    """A call's span on one model; a fallback ends it and goes on in a span of the next model, so that each span's
    model and usage belong together (a trace's tokens can be priced span by span)."""

    def __init__(self, request: _RequestSpan, role: str, model: str, platform: str | None, point: int | None,
                 rows: int | None) -> None:
        self.request_span = request
        self.role, self.point, self.rows = role, point, rows
        self._start(model, platform)

    def _start(self, model: str, platform: str | None, fallback_from: str | None = None) -> None:
        trace = _otel()
        self.model = model
        provider, _, name = model.partition(":")
        attributes: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": platform or provider,
                                      "gen_ai.request.model": name, "sotkit.call.role": self.role}
        if self.point is not None:
            attributes["sotkit.point.index"] = self.point
        if self.rows is not None:
            attributes["sotkit.batch.rows"] = self.rows
        if fallback_from is not None:
            attributes["sotkit.call.fallback_from"] = fallback_from
        kind = trace.SpanKind.INTERNAL if provider == "local" else trace.SpanKind.CLIENT
        self.span = self.request_span.tracer.start_span(f"chat {name}", context=self.request_span.context, kind=kind,
                                                        attributes=attributes)
        self.input_tokens = self.output_tokens = self.attempts = self.cache_read_tokens = self.cache_write_tokens = 0
        self.estimated = False
        self.finish_reasons: list[str] = []
        self.budget, self.cut = 0, False  # the latest attempt's token budget; did it end the generation?

    def __enter__(self) -> _CallSpan:
        self._current = _current(self.span)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        self._current.__exit__(kind, error, tb)
        self._end(error)

    def _end(self, error: BaseException | None) -> None:
        try:
            self.span.set_attributes({"gen_ai.usage.input_tokens": self.input_tokens,
                                      "gen_ai.usage.output_tokens": self.output_tokens})
            if self.cache_read_tokens or self.cache_write_tokens:  # parts of the input tokens, as the conventions say
                self.span.set_attributes({"gen_ai.usage.cache_read.input_tokens": self.cache_read_tokens,
                                          "gen_ai.usage.cache_creation.input_tokens": self.cache_write_tokens})
            if self.rows is None:  # a batch reports usage per row
                self.span.set_attribute("sotkit.call.attempts", self.attempts)
            if self.estimated:
                self.span.set_attribute("sotkit.usage.estimated", True)
            if self.finish_reasons:
                self.span.set_attribute("gen_ai.response.finish_reasons", self.finish_reasons)
            if error is not None:
                _record(self.span, error, self.request_span.content)
        finally:
            self.span.end()

    def request(self, request: ChatRequest, prefill: bool = True) -> None:
        self.budget = request.max_tokens
        attributes: dict[str, Any] = {"gen_ai.request.max_tokens": request.max_tokens}
        if request.temperature is not None:
            attributes["gen_ai.request.temperature"] = float(request.temperature)
        if request.stop:
            attributes["gen_ai.request.stop_sequences"] = list(request.stop)
        prompt = request.prompt
        if self.request_span.content and self.rows is None:
            if prompt.system:
                attributes["gen_ai.system_instructions"] = json.dumps([{"type": "text", "content": prompt.system}])
            messages = [{"role": "user", "parts": [{"type": "text", "content": prompt.user}]}]
            if prompt.prefill and prefill:
                messages.append({"role": "assistant", "parts": [{"type": "text", "content": prompt.prefill}]})
            attributes["gen_ai.input.messages"] = json.dumps(messages)
        self.span.set_attributes(attributes)

    def queued(self, seconds: float) -> None:
        self.span.add_event("sotkit.queued", {"sotkit.queued_s": seconds})

    def retry(self, attempt: int, error: BaseException, wait_s: float) -> None:
        self.span.add_event("sotkit.retry", {"sotkit.attempt": attempt, "sotkit.retry.wait_s": wait_s,
                                             **_error_attributes(error, self.request_span.content)})

    def fallback(self, error: BaseException, model: str, platform: str | None = None) -> None:
        self.span.add_event("sotkit.fallback", {"sotkit.fallback.model": model,
                                                **_error_attributes(error, self.request_span.content)})
        self._current.__exit__(None, None, None)
        self._end(error)
        self._start(model, platform, fallback_from=self.model)
        self._current = _current(self.span)

    def usage(self, usage: CallUsage) -> None:
        self.attempts += 1
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cache_read_tokens += usage.cache_read_tokens
        self.cache_write_tokens += usage.cache_write_tokens
        self.estimated = self.estimated or usage.estimated
        if self.rows is None:  # the last attempt's generation is the call's; a batch has one per row
            self.finish_reasons.clear()
            self.cut = usage.cut_off(self.budget)
        if usage.finish_reason is not None:
            self.finish_reasons.append(usage.finish_reason)

    def finished(self, model: str, text: Sequence[str]) -> None:
        self.span.set_attribute("sotkit.call.model", model)
        if self.request_span.content:
            reason = self.finish_reasons[-1] if self.finish_reasons else "length" if self.cut else "stop"
            output = [{"role": "assistant", "parts": [{"type": "text", "content": "".join(text)}],
                       "finish_reason": _conventions_reason(reason)}]
            self.span.set_attribute("gen_ai.output.messages", json.dumps(output))


def _conventions_reason(reason: str) -> str:
    """A provider's finish reason in the conventions' words for an output message (which needs one)."""
    if reason in FINISHED:
        return "stop"
    if reason in AT_BUDGET or reason in WINDOW_FULL:
        return "length"
    if reason in FILTERED:
        return "content_filter"
    return "tool_call" if reason in ("tool_calls", "tool_use") else reason


def _current(span: Any) -> Any:
    """Make ``span`` the current span until the returned context manager exits (errors are recorded apart)."""
    use = _otel().use_span(span, record_exception=False, set_status_on_exception=False)
    use.__enter__()
    return use


def _error_attributes(error: BaseException, content: bool) -> dict[str, Any]:
    return {"error.type": type(error).__qualname__, "sotkit.error.message": _message(error, content),
            **_statuses(error)}


def _statuses(error: BaseException) -> dict[str, int]:
    """The HTTP status of ``error``'s response (the 429 whose wait was too long, for ``RetryAfterTooLong``), and
    for a 200 whose stream failed the status it is retried as."""
    status = answered_status(error)
    if isinstance(error, StreamError):  # the response was a 200; its status is the one the error is retried as
        return {"http.response.status_code": 200, "sotkit.error.status_code": error.status_code}
    if status is not None:
        return {"http.response.status_code": status}
    if BROKE_OFF in str(error) or getattr(error, "answered", False):
        return {"http.response.status_code": 200}  # a 200 whose connection broke or stalled: no status of its own
    return {}


def _record(span: Any, error: BaseException, content: bool) -> None:
    """An error ends the span: ``ERROR`` with ``error.type`` and the exception's event. Cancellation (the caller
    stopped the request, or its deadline passed) is no error of the call and leaves the status unset."""
    if not isinstance(error, Exception):
        span.set_attribute("sotkit.cancelled", True)
        return
    trace = _otel()
    message = _message(error, content)
    stack = redact("".join(traceback.format_exception(error))) if content \
        else "".join(traceback.format_tb(error.__traceback__)) + type(error).__qualname__
    span.record_exception(error, attributes={"exception.message": message, "exception.stacktrace": stack,
                                             **_statuses(error)})
    span.set_attribute("error.type", type(error).__qualname__)
    span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(error).__name__}: {message}"[:300]))


def without_text(error: BaseException) -> str:
    """``describe(error)`` as a log line says it: quoted passages elided, also one its cut leaves open (no model
    output in logs either), and sotkit's notes kept."""
    head = f"{type(error).__name__}: {elide(_said(error))}"
    notes = _elided_notes(error)
    return (OPEN.sub("'…'", head[:300]) if len(head) > 300 else head) + (f" {notes[:400]}" if notes else "")


def _elided_notes(error: BaseException) -> str:
    """sotkit's notes on ``error``, quoted passages elided, also one a note's cut left open ("(the server said:
    '...)")."""
    return " ".join(OPEN.sub("'…'", elide(note)) for note in getattr(error, "__notes__", ()))


def _message(error: BaseException, content: bool) -> str:
    """What a span says of ``error``: its message and sotkit's notes on it ("(attempt 2 of 4; not retried: ...)"),
    quoted passages elided unless ``content``."""
    if content:
        return " ".join(redact(part) for part in [str(error), *getattr(error, "__notes__", ())])
    return " ".join(part for part in (elide(_said(error)), _elided_notes(error)) if part)


def _said(error: BaseException) -> str:
    """``error``'s message; for an API's error body, its type and message ("rate_limit_error: Rate limit reached"),
    not the dict the anthropic SDK prints, whose every string is quoted (and would be elided whole). The keys and URL
    passwords of sotkit's clients are ``***`` in it, and it is one line."""
    body = getattr(error, "body", None)
    inner = body.get("error") if isinstance(body, dict) else None
    if isinstance(inner, dict) and isinstance(inner.get("message"), str):
        kind = f"{inner['type']}: " if isinstance(inner.get("type"), str) else ""
        return one_line(redact(f"Error code: {getattr(error, 'status_code', '?')} - {kind}{inner['message']}"))
    return one_line(redact(str(error)))

