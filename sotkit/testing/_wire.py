"""The two wire formats the fake server speaks: OpenAI chat completions and Anthropic messages.

Shapes follow what the official SDKs parse: the chunk and event types in ``openai.types.chat`` and
``anthropic.types``, and the error bodies their ``_make_status_error`` turns into exception classes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Literal

from ..providers.anthropic import takes_prefill
from ..providers.base import CallUsage
from ._records import Message, RecordedRequest
from ._replies import Completion, count_prompt_tokens


class BadRequest(Exception):
    """The request body is not one the real API would accept; the message says why."""


def reason_phrase(status: int) -> str:
    if status == 529:
        return "Overloaded"  # Anthropic's own status, not in the IANA registry
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _text_of(content: Any, where: str) -> str:
    """Flatten a message content (a string, or a list of parts with ``text``) to its text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    raise BadRequest(f"{where}: content must be a string or a list of content parts")


def _messages(body: Mapping[str, Any]) -> list[Message]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: a non-empty list is required")
    parsed = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
            raise BadRequest(f"messages.{i}: an object with a 'role' is required")
        parsed.append(Message(m["role"], _text_of(m.get("content"), f"messages.{i}")))
    return parsed


def _require_model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("model: a non-empty string is required")
    return model


def _optional_int(body: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        value = body.get(name)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BadRequest(f"{name}: must be an integer >= 1, got {value!r}")
            return value
    return None


def _take_temperature(record: RecordedRequest, body: Mapping[str, Any], highest: float) -> None:
    """Record the request's ``temperature`` (also one refused), refused as the API refuses it outside 0 to
    ``highest`` (2 OpenAI's, 1 Anthropic's)."""
    value = record.temperature = body.get("temperature")
    if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                  and 0 <= value <= highest):
        raise BadRequest(f"temperature: must be a number from 0 to {highest:g}, got {value!r}")


def _anthropic_inputs(usage: CallUsage) -> dict[str, Any]:
    """The Messages API's input counts: ``input_tokens`` is only the part the prompt cache neither read nor wrote;
    the writes also by how long they stay."""
    hour = usage.cache_write_1h_tokens
    return {"input_tokens": usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens,
            "cache_read_input_tokens": usage.cache_read_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens,
            "cache_creation": {"ephemeral_5m_input_tokens": usage.cache_write_tokens - hour,
                               "ephemeral_1h_input_tokens": hour}}


def _anthropic_outputs(usage: CallUsage) -> dict[str, Any]:
    """The Messages API's output count, and the searches its web search tool made, where it made any."""
    searches = {"server_tool_use": {"web_search_requests": usage.web_searches}} if usage.web_searches else {}
    return {"output_tokens": usage.output_tokens, **searches}


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Dialect:
    """One API's request parsing and response shapes."""

    api: Literal["openai", "anthropic"]
    #: the finish reason this API reports for ``Completion.finish``
    finish_reasons: Mapping[str, str]

    def parse(self, body: Any, record: RecordedRequest) -> None:
        """Fill ``record``'s convenience fields from ``body``; raise ``BadRequest`` for what the API rejects."""
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        raise NotImplementedError

    def complete_body(self, record: RecordedRequest, done: Completion, usage: CallUsage, rid: str) -> dict:
        raise NotImplementedError

    def stream_open(self, record: RecordedRequest, usage: CallUsage, rid: str) -> bytes:
        raise NotImplementedError

    def stream_token(self, record: RecordedRequest, token: str, rid: str) -> bytes:
        raise NotImplementedError

    def stream_close(self, record: RecordedRequest, done: Completion, usage: CallUsage, rid: str) -> bytes:
        raise NotImplementedError

    def stream_error(self, status: int, message: str, body: Any = None) -> bytes:
        """An error reported inside a stream that began with 200 (``body``, or the API's own for ``status``)."""
        raise NotImplementedError

    def keep_alive(self, record: RecordedRequest, rid: str) -> bytes:
        """Bytes that keep a stream open without text: an SSE comment and an event with no text in it."""
        raise NotImplementedError

    def response_id(self, n: int) -> str:
        raise NotImplementedError

    @staticmethod
    def input_tokens(record: RecordedRequest) -> int:
        return count_prompt_tokens(record.system or "") + sum(count_prompt_tokens(m.text) for m in record.messages)


class OpenAIChat(Dialect):
    """``POST /v1/chat/completions``."""

    api: Literal["openai"] = "openai"
    finish_reasons = {"end": "stop", "stop_sequence": "stop", "length": "length", "filtered": "content_filter"}
    _error_types = {400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
                    404: ("invalid_request_error", None), 429: ("requests", "rate_limit_exceeded")}

    def parse(self, body: Any, record: RecordedRequest) -> None:
        if not isinstance(body, Mapping):
            raise BadRequest("the request body must be a JSON object")
        record.model = _require_model(body)
        messages = _messages(body)
        system = [m.text for m in messages if m.role in ("system", "developer")]
        record.system = "\n\n".join(system) if system else None
        record.messages = [m for m in messages if m.role not in ("system", "developer")]
        stop = body.get("stop")
        if isinstance(stop, str):
            stop = [stop]
        if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
            raise BadRequest("stop: must be a string or a list of strings")
        record.stop = tuple(stop or ())
        record.max_tokens = _optional_int(body, "max_completion_tokens", "max_tokens")
        _take_temperature(record, body, 2)
        record.stream = bool(body.get("stream"))

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind, code = self._error_types.get(status, ("server_error" if status >= 500 else "invalid_request_error",
                                                    None))
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def response_id(self, n: int) -> str:
        return f"chatcmpl-fake{n:06d}"

    def stream_error(self, status: int, message: str, body: Any = None) -> bytes:
        return _sse(self.error_body(status, message) if body is None else body)

    def keep_alive(self, record: RecordedRequest, rid: str) -> bytes:
        delta = {"role": "assistant"}
        return b": keep-alive\n\n" + self._chunk(record, rid, [{"index": 0, "delta": delta, "finish_reason": None,
                                                               "logprobs": None}])

    def _chunk(self, record: RecordedRequest, rid: str, choices: list, usage: dict | None = None) -> bytes:
        chunk = {"id": rid, "object": "chat.completion.chunk", "created": int(time.time()),
                 "model": record.model, "service_tier": self._tier(record), "system_fingerprint": "fake",
                 "choices": choices}
        if self._include_usage(record):
            chunk["usage"] = usage  # null on every chunk but the last, as the API sends it
        return _sse(chunk)

    @staticmethod
    def _tier(record: RecordedRequest) -> str:
        """The service tier that served the request, as the API names it on every chunk: the one asked for, where it
        is one (``auto`` and none get ``default``)."""
        asked = record.body.get("service_tier")
        return asked if asked in ("priority", "flex", "scale") else "default"

    @staticmethod
    def _include_usage(record: RecordedRequest) -> bool:
        return bool((record.body.get("stream_options") or {}).get("include_usage"))

    @staticmethod
    def _usage(usage: CallUsage, done: Completion) -> dict:
        return {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                "total_tokens": usage.input_tokens + usage.output_tokens,
                "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
                # (never more than the output a reply's own usage reports)
                "completion_tokens_details": {"reasoning_tokens": min(done.reasoning, usage.output_tokens)}}

    def complete_body(self, record: RecordedRequest, done: Completion, usage: CallUsage, rid: str) -> dict:
        return {"id": rid, "object": "chat.completion", "created": int(time.time()), "model": record.model,
                "service_tier": self._tier(record), "system_fingerprint": "fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": done.text, "refusal": None},
                             "finish_reason": self.finish_reasons[done.finish], "logprobs": None}],
                "usage": self._usage(usage, done)}

    def stream_open(self, record: RecordedRequest, usage: CallUsage, rid: str) -> bytes:
        delta = {"role": "assistant", "content": "", "refusal": None}
        return self._chunk(record, rid, [{"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}])

    def stream_token(self, record: RecordedRequest, token: str, rid: str) -> bytes:
        choice = {"index": 0, "delta": {"content": token}, "finish_reason": None, "logprobs": None}
        return self._chunk(record, rid, [choice])

    def stream_close(self, record: RecordedRequest, done: Completion, usage: CallUsage, rid: str) -> bytes:
        last = {"index": 0, "delta": {}, "finish_reason": self.finish_reasons[done.finish], "logprobs": None}
        frames = self._chunk(record, rid, [last])
        if self._include_usage(record):
            frames += self._chunk(record, rid, [], self._usage(usage, done))
        return frames + b"data: [DONE]\n\n"


class AnthropicMessages(Dialect):
    """``POST /v1/messages``."""

    api: Literal["anthropic"] = "anthropic"
    finish_reasons = {"end": "end_turn", "stop_sequence": "stop_sequence", "length": "max_tokens",
                      "filtered": "refusal"}
    _error_types = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                    429: "rate_limit_error", 504: "timeout_error", 529: "overloaded_error"}

    def parse(self, body: Any, record: RecordedRequest) -> None:
        if not isinstance(body, Mapping):
            raise BadRequest("the request body must be a JSON object")
        record.model = _require_model(body)
        record.messages = _messages(body)
        if record.prefill is not None and not takes_prefill(record.model):
            raise BadRequest("This model does not support assistant message prefill. The conversation must end with "
                             "a user message.")
        if record.prefill is not None and record.prefill != record.prefill.rstrip():
            raise BadRequest("messages: final assistant content cannot end with trailing whitespace")
        if "system" in body:
            record.system = _text_of(body["system"], "system")
        stop = body.get("stop_sequences") or []
        if not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
            raise BadRequest("stop_sequences: must be a list of strings")
        record.stop = tuple(stop)
        record.max_tokens = _optional_int(body, "max_tokens")
        if record.max_tokens is None:
            raise BadRequest("max_tokens: Field required")
        _take_temperature(record, body, 1)
        record.stream = bool(body.get("stream"))

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = self._error_types.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}}

    def response_id(self, n: int) -> str:
        return f"msg_fake{n:06d}"

    def stream_error(self, status: int, message: str, body: Any = None) -> bytes:
        return _sse(self.error_body(status, message) if body is None else body, "error")

    def keep_alive(self, record: RecordedRequest, rid: str) -> bytes:
        return b": keep-alive\n\n" + _sse({"type": "ping"}, "ping")

    def complete_body(self, record: RecordedRequest, done: Completion, usage: CallUsage, rid: str) -> dict:
        return {"id": rid, "type": "message", "role": "assistant", "model": record.model,
                "content": [{"type": "text", "text": done.text}],
                "stop_reason": self.finish_reasons[done.finish], "stop_sequence": done.stop_sequence,
                "usage": _anthropic_inputs(usage) | _anthropic_outputs(usage)}

    def stream_open(self, record: RecordedRequest, usage: CallUsage, rid: str) -> bytes:
        message: dict[str, Any] = {"id": rid, "type": "message", "role": "assistant", "model": record.model,
                                   "content": [], "stop_reason": None, "stop_sequence": None,
                                   "usage": _anthropic_inputs(usage) | {"output_tokens": 0}}
        return (_sse({"type": "message_start", "message": message}, "message_start")
                + _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                       "content_block_start")
                + _sse({"type": "ping"}, "ping"))

    def stream_token(self, record: RecordedRequest, token: str, rid: str) -> bytes:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token}}
        return _sse(delta, "content_block_delta")

    def stream_close(self, record: RecordedRequest, done: Completion, usage: CallUsage, rid: str) -> bytes:
        delta = {"type": "message_delta",
                 "delta": {"stop_reason": self.finish_reasons[done.finish], "stop_sequence": done.stop_sequence},
                 "usage": _anthropic_outputs(usage)}
        return (_sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
                + _sse(delta, "message_delta")
                + _sse({"type": "message_stop"}, "message_stop"))


#: request path (without query) -> dialect
ROUTES: dict[str, Dialect] = {"/v1/chat/completions": OpenAIChat(), "/v1/messages": AnthropicMessages()}
#: Azure OpenAI's path (``openai.AsyncAzureOpenAI(azure_endpoint=server.base_url, ...)``): OpenAI's wire format
_AZURE_PATH = re.compile(r"/openai/deployments/[^/]+/chat/completions")


def route(path: str) -> Dialect | None:
    """The dialect a request path (without query) speaks, or None for a path the server does not serve."""
    return ROUTES.get(path) or (ROUTES["/v1/chat/completions"] if _AZURE_PATH.fullmatch(path) else None)


def dialect_for_unknown(headers: Mapping[str, str]) -> Dialect:
    """Pick the error shape for a request to an unknown path from the client's headers."""
    anthropic = "anthropic-version" in headers or "x-api-key" in headers
    return ROUTES["/v1/messages" if anthropic else "/v1/chat/completions"]
