"""Anthropic messages API."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import anthropic

from ..errors import ConfigError
from ..options import api_key_or_env, check_api_key, check_extra_body, check_url, url_host
from ._clients import network_timeout, platform_of, sdk_clients, user_client
from ._sse import malformed, text_pieces
from ._think import ThinkTags
from .base import (NO_KEY, THINKING, CallUsage, ChatRequest, Chunk, Provider, SendAgain, Signal, StopAt, StreamError,
                   Thinking, char_weight, error_status, estimated_tokens, is_count, say_no_key, with_extra,
                   without_refused)

#: the counts that make up a call's input: the uncached tokens, the cache's reads and its writes
INPUT_COUNTS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
#: a refusal of the prompt cache's mark: of its field, or of the system prompt sent as marked blocks, by the field's
#: path ("system.0.cache_control: Extra inputs are not permitted", "system: Input should be a valid string",
#: "'system' must be a string", pydantic's "system\n  Input should be ...", "Invalid type for 'system'")
_MARK_REFUSED = re.compile(r"cache_control|\bsystem(?:\.\w+)*['\"]?(?:\s*:|\s*\n|\s+must\b|$)|type for ['\"]system\b")

#: the content blocks of a model's reasoning (redacted: encrypted by the safety systems)
THINKING_BLOCKS = ("thinking", "redacted_thinking")
#: the Messages API's stream events (another, such as a gateway's error object of its own, is passed over)
EVENTS = ("message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
          "message_stop", "ping", "error")


#: where the SDK finds the server when no ``base_url=`` is given
BASE_URL_VARIABLE = "ANTHROPIC_BASE_URL"
#: hosts of APIs that need a key: Anthropic's own, and Claude on Microsoft Foundry (a server of one's own may take none)
_KEYED_HOSTS = (".anthropic.com", ".services.ai.azure.com")
#: what the SDK imports at its first message (its tracing), imported off the event loop with the SDK
FIRST_REQUEST_IMPORTS = ("anthropic.resources.messages", "opentelemetry.propagate")
#: a Claude model's version in its name: claude-sonnet-4-6, claude-3-5-haiku-20241022, us.anthropic.claude-opus-4-7-v1
#: (claude-sonnet-4-20250514 is 4.0: the date is no minor version)
_CLAUDE_VERSION = re.compile(r"claude-(?:[a-z]+-)?(\d{1,2})(?:[-.](\d{1,2})(?!\d))?")
#: the first Claude version whose API answers an assistant prefill with HTTP 400
FIRST_WITHOUT_PREFILL = (4, 6)


def takes_prefill(model_name: str) -> bool:
    """Does the Messages API continue an assistant prefill for ``model_name``? Claude models before 4.6 do, later
    ones refuse it. A name without a Claude version (a compatible server's model, a proxy's alias) is sent one
    until its server refuses it (``without_refused``)."""
    found = _CLAUDE_VERSION.search(model_name.lower())
    return found is None or (int(found[1]), int(found[2] or 0)) < FIRST_WITHOUT_PREFILL


#: the paths the SDK adds to the base URL, which a base URL given with them would have twice
_SDK_PATHS = ("/v1/messages", "/messages")


class AnthropicProvider(Provider):
    """``supports_prefill``: a last assistant message is continued (``takes_prefill``); off for good once the
    server refuses one.

    ``extra_body`` holds fields added to every request's body (``{"thinking": {"type": "adaptive"}}``), checked by
    ``options.check_extra_body``."""

    max_temperature = 1.0
    length_reason = "max_tokens"
    says_started = True
    # failures without an HTTP status worth retrying: refused or dropped connections, timeouts, cut streams

    @property  # (read only, unlike the base class's attribute: the SDK is imported on first use; nothing sets it)
    def transient_errors(self) -> tuple[type[BaseException], ...]:  # type: ignore[override]
        import anthropic  # imported by the first call (the SDK is imported off the event loop, on first use)

        return (anthropic.APIConnectionError,)

    def __init__(self, model_name: str, *, api_key: str | None = None, base_url: str | None = None,
                 client: anthropic.AsyncAnthropic | None = None, timeout: float | None = None,
                 http: str | None = None, extra_body: dict[str, Any] | None = None) -> None:
        check_api_key(api_key)
        self._extra_body = check_extra_body(extra_body)
        self._thinking_budget = _thinking_budget(self._extra_body)
        self.model = f"anthropic:{model_name}"
        self._name = model_name
        self.supports_prefill = takes_prefill(model_name)
        # a compatible server's model (a gateway's Qwen, GLM, DeepSeek) may send its reasoning as <think> text
        self._claude = _CLAUDE_VERSION.search(model_name.lower()) is not None
        # the least any Claude model caches (some 2,048 or 4,096 tokens): a shorter marked prefix is sent uncached,
        # at no cost; a cached one costs 1.25 times the input price once, then 0.1 times at every read (another
        # model on the Messages API is sent no mark: its server may not take one)
        self.cache_mark_tokens = 1024 if self._claude else None
        self.prefill_known = self.supports_prefill and self._claude
        if client is not None:
            self._clients = user_client(client, "anthropic", "AsyncAnthropic",
                                        api_key=api_key, base_url=base_url, http=http)
            self.platform = platform_of(client)
            return
        check_url("base_url", base_url, _SDK_PATHS)
        if base_url is None:  # the SDK reads it too, and would retry a malformed one as a connection error
            check_url(f"${BASE_URL_VARIABLE}", os.environ.get(BASE_URL_VARIABLE) or None, _SDK_PATHS)
        api_key = api_key_or_env(api_key, "ANTHROPIC_API_KEY")
        token = api_key_or_env(None, "ANTHROPIC_AUTH_TOKEN")  # the SDK reads it too, and sends it as a bearer token
        if not api_key and not token:
            server = base_url or os.environ.get(BASE_URL_VARIABLE) or None
            if server is None or url_host(server).endswith(_KEYED_HOSTS):
                raise ConfigError("no Anthropic API key: set ANTHROPIC_API_KEY or pass api_key=..." +
                                  ("" if server else " (for an Anthropic-compatible server, pass base_url=...)"))
            # as for OpenAI-compatible ones: a server of one's own may take no key (probe 293)
            api_key, self.no_key = NO_KEY, True
        # max_retries=0: sotkit's retry policy is the only retry layer. A blank $ANTHROPIC_API_KEY is unset: given to
        # the SDK, it hid $ANTHROPIC_AUTH_TOKEN (a gateway's, as its guides set them; review 294).
        # an empty $ANTHROPIC_BASE_URL is unset, as an empty key is; the SDK would take "" as the URL
        sdk_url = base_url or ("https://api.anthropic.com" if os.environ.get(BASE_URL_VARIABLE) == "" else None)
        self._clients = sdk_clients("anthropic", http, lambda sdk, http_client: sdk.AsyncAnthropic(
            api_key=api_key or None, base_url=sdk_url, max_retries=0, timeout=network_timeout(sdk, timeout),
            http_client=http_client,
        ), warm=FIRST_REQUEST_IMPORTS, base_url=base_url or os.environ.get(BASE_URL_VARIABLE),
                                       key=api_key or token)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        prompt = request.prompt
        content: str | list[dict[str, Any]] = prompt.user
        # the prefix every call of the answer sends: written to the cache once, read by the others (not where the
        # user's extra_body asks for caching itself: a breakpoint of ours could precede a longer-lived one of theirs).
        # The cache reads the system prompt first: a mark on the user text's shared part covers both.
        shared = prompt.shared if self.cache_mark_tokens and "cache_control" not in (self._extra_body or {}) else None
        system: str | list[dict[str, Any]] | None = prompt.system
        if shared and prompt.user[shared:].strip():
            content = [{"type": "text", "text": prompt.user[:shared], "cache_control": {"type": "ephemeral"}},
                       {"type": "text", "text": prompt.user[shared:]}]
        elif shared == 0 and prompt.system:
            system = [{"type": "text", "text": prompt.system, "cache_control": {"type": "ephemeral"}}]
        marked = system is not prompt.system or content is not prompt.user
        messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
        prefill = prompt.prefill if self.supports_prefill else None
        # The API rejects a prefill that ends in white space; the model then writes that space itself, which the
        # caller, who holds the whole prefill, already has: as much leading white space of the reply is dropped.
        trimmed = len(prefill or "") - len((prefill or "").rstrip())
        if prefill:
            messages.append({"role": "assistant", "content": prefill.rstrip()})
        options: dict[str, Any] = {}
        if system:
            options["system"] = system
        # the API refuses a stop sequence of white space alone ("\n\n"); the text is ended at every one here too,
        # those and any a compatible server ignores (probe 312)
        if stops := [stop for stop in request.stop if stop.strip()]:
            options["stop_sequences"] = stops
        stopping = StopAt(request.stop) if request.stop else None
        temperature = request.temperature if self.takes_temperature else None
        # The API takes a temperature but this SDK's messages.create() has no such parameter (a TypeError): it
        # travels in the body, as the SDK sends extra_body, with the user's fields.
        if extra := with_extra({"temperature": temperature}, self._extra_body):
            options["extra_body"] = extra
        reading, written = _Reading(), 0
        tags = None if self._claude else ThinkTags(continues=bool(prefill))
        try:
            async with self._clients.client() as client, client.messages.with_streaming_response.create(
                model=self._name, max_tokens=self.sent_max_tokens(request.max_tokens),
                messages=messages, stream=True, **options
            ) as response, aclosing(text_pieces(response, sys.modules["anthropic"], reading, self.model)) as pieces:
                async for text in pieces:
                    if not isinstance(text, str):  # STARTED, THINKING, the prompt's counts sent ahead
                        written += text.chars if isinstance(text, Thinking) else 0
                        yield text
                        continue
                    if trimmed:
                        text, trimmed = _without_leading_space(text, trimmed)
                        if not text:
                            continue
                    written += char_weight(text)
                    if tags is not None:
                        if reading.reasoned:  # reasoning in its own blocks before any text: the text is the answer's
                            tags.apart()
                        text = tags.feed(text)
                    if stopping is not None and isinstance(text, str):  # (not a <think> block's reasoning)
                        text = stopping.feed(text)
                    if text:
                        yield text
                    if stopping is not None and stopping.hit:
                        break  # the rest is past the stop sequence: not read, not paid for beyond what came
        except sys.modules["anthropic"].BadRequestError as exc:
            if marked and _MARK_REFUSED.search(str(exc.message)):  # a gateway's: "Extra inputs are not permitted"
                self.cache_mark_tokens = None
                raise SendAgain(f"{self.model} refused the prompt cache's mark ({exc.message}); its prompts are sent "
                                "unmarked from now on") from exc
            sent = {"prefill": bool(prefill), "temperature": temperature is not None}
            if (refused := without_refused(self, str(exc.message), **sent)) is None:
                raise
            raise refused from exc
        except Exception as exc:
            if self.no_key:
                say_no_key(exc, "ANTHROPIC_API_KEY")
            if reading.input_tokens is not None:  # message_start counted the prompt: only the output is estimated
                yield reading.usage(estimated_tokens(written), estimated=True)
            raise
        held = tags.finish() if tags is not None else ""
        if stopping is not None:
            held = stopping.finish(held)
        if held:
            yield held
        if reading.input_tokens is None:  # a compatible server that sent no counts
            usage = CallUsage.estimate(prompt.chars + char_weight(prefill or ""), written)
        else:  # the output's count comes last: a stream ended at a stop sequence here, or a proxy's, may lack it
            usage = reading.usage(reading.output_tokens) if reading.output_tokens is not None else \
                reading.usage(estimated_tokens(written), estimated=True)
        yield dataclasses.replace(usage, finish_reason="stop_sequence" if stopping is not None and stopping.hit
                                  else reading.stop_reason)

    def sent_max_tokens(self, max_tokens: int) -> int:
        """The API counts the thinking within ``max_tokens`` and refuses one not above the budget: a call's own budget
        (a skeleton's 300 tokens, say) goes on top of it there; one already above it is sent as it is (a model's output
        limit may not take both)."""
        budget = self._thinking_budget
        return max_tokens if max_tokens > budget else max_tokens + budget

    def check_event_loop(self) -> None:
        self._clients.check_event_loop()

    async def ready(self) -> None:
        await self._clients.ready()

    async def aclose(self) -> None:
        await self._clients.aclose()


def _thinking_budget(extra_body: dict[str, Any]) -> int:
    """The thinking budget of ``extra_body`` (``{"thinking": {"type": "enabled", "budget_tokens": N}}``), or 0."""
    thinking = extra_body.get("thinking")
    budget = thinking.get("budget_tokens") if isinstance(thinking, dict) and thinking.get("type") == "enabled" else 0
    return math.ceil(budget) if isinstance(budget, (int, float)) and not isinstance(budget, bool) \
        and 0 < budget < math.inf else 0


@dataclasses.dataclass
class _Reading:
    """What a messages stream said so far besides its text."""

    ended: bool = False  # message_stop came
    stray: Any = None  # the first event of no name the API gives, passed over
    output_tokens: int | None = None
    stop_reason: str | None = None
    # Content came after a stop_reason: a relay that marks every chunk with one (its upstream's chunks each carry a
    # finish_reason) sends more, so only message_stop ends the answer, or the body's end right after a stop_reason
    # (probe 321: the text after the first second was left out of an answer reported whole)
    went_on: bool = False
    stopped_last: bool = False  # the last content or stop_reason event was a stop_reason
    inputs: dict[str, Any] = dataclasses.field(default_factory=dict)  # the latest of each of INPUT_COUNTS sent
    thinking: bool = False  # a thinking block is open
    began: bool = False  # text came, not white space alone (which ThinkTags reads past too)
    reasoned: bool = False  # reasoning came in thinking blocks before any text (not white space alone)

    def _said(self, text: Any) -> str:
        """A text block's text; text not of white space alone begins the answer (``began``)."""
        text = _text(text)
        self.began = self.began or not text.isspace() and bool(text)
        return text

    def _content(self) -> None:
        """A content block began, or a delta came: after a stop_reason, that was no end."""
        self.went_on, self.stopped_last = self.went_on or self.stop_reason is not None, False

    @property
    def input_tokens(self) -> int | None:
        """None: not counted (none came, or a count that is no number)."""
        counts = [self.inputs.get(name) for name in INPUT_COUNTS]
        return sum(c for c in counts if is_count(c)) if is_count(counts[0]) else None

    def usage(self, output_tokens: int, estimated: bool = False) -> CallUsage:
        """The call's counts once ``input_tokens`` is known, with the prompt cache's reads and writes in it."""
        read, write = (self.inputs.get(name) for name in INPUT_COUNTS[1:])
        hour = self.inputs.get("cache_creation", {}).get("ephemeral_1h_input_tokens")
        searches = (self.inputs.get("server_tool_use") or {}).get("web_search_requests")
        return CallUsage(self.input_tokens or 0, output_tokens, estimated=estimated,
                         web_searches=searches if is_count(searches) else 0,
                         cache_read_tokens=read if is_count(read) else 0,
                         cache_write_tokens=write if is_count(write) else 0,
                         cache_write_1h_tokens=hour if is_count(hour) and is_count(write) and hour <= write else 0)

    def count_inputs(self, usage: dict[str, Any]) -> None:
        """Take the input counts ``usage`` holds: message_start's, then message_delta's where it has them (the API's
        are cumulative; compatible servers may know them only there, after a 0 in message_start), as the SDK does."""
        for name in INPUT_COUNTS:
            if usage.get(name) is not None:
                self.inputs[name] = usage[name]
        for name in ("cache_creation", "server_tool_use"):  # the writes by how long they stay (the 1h ones cost
            if isinstance(usage.get(name), dict):  # more); the server's own tools' uses (probe 321: searches unpriced)
                self.inputs[name] = usage[name]

    @property
    def whole(self) -> bool:  # a stream that ends before its stop_reason was cut
        return self.ended or self.stop_reason is not None and not self.went_on

    @property
    def whole_at_body_end(self) -> bool:  # (a relay's: its last event a stop_reason; review 322)
        return self.whole or self.went_on and self.stopped_last

    @property
    def firm(self) -> bool:
        """Only message_stop makes the end sure: the API sends it right after its stop_reason, which alone may be a
        relay's mark, whatever the blocks around it (review 322); what follows one is read for ten seconds (at once
        where message_stop follows, as from the API), and a break before message_stop fails the call."""
        return self.ended

    @property
    def end(self) -> str:
        return "message_stop (it sent a stop_reason before content)" if self.went_on else "its stop_reason"

    def text_of(self, event: str | None, data: Any) -> str | Signal | CallUsage | None:
        if not isinstance(data, dict):  # every Messages API event is a JSON object ("[DONE]": a proxy's habit)
            if data == "[DONE]":
                return None
            raise malformed(data)
        if event in (None, "", "message"):  # (a gateway's events without their names, or with SSE's default one;
            event = data.get("type")  # the API's data name their type too)
        try:
            if event == "content_block_delta":
                self._content()
                kind = data["delta"].get("type")
                if kind == "text_delta":
                    return self._said(data["delta"]["text"])
                if kind == "thinking_delta":
                    thought = Thinking.of(data["delta"].get("thinking"))
                    self.reasoned = self.reasoned or thought.progress and not self.began
                    return thought
                if kind == "signature_delta":
                    return THINKING
            if event == "content_block_start":  # a text block may open with text (some compatible servers')
                block = data.get("content_block") or {}
                self._content()
                self.thinking = block.get("type") in THINKING_BLOCKS
                if self.thinking:
                    return THINKING
                return self._said(block.get("text") or "") if block.get("type") == "text" else None
            if event == "content_block_stop":
                self.thinking = False
            elif event == "ping" and self.thinking:
                # the model thinks without showing it (display "omitted", the default from Claude Opus 4.7 on):
                # the pings are all that comes until its signature, and it is at work
                return THINKING
            if event == "message_start":
                if self.began:  # a gateway that began its upstream's message again: the two would be spliced
                    raise StreamError("the server began a second message (message_start) after text of the first, in "
                                      "one stream: it cut the first short", raw=data)
                self.count_inputs(data["message"].get("usage") or {})
                if self.input_tokens:  # kept where the call is ended before its own counts (a deadline, a stall, a
                    # runaway, a point no longer needed); a 0 here is a compatible server's that counts at the end
                    return dataclasses.replace(self.usage(0, estimated=True), partial=True)
            elif event == "message_delta":
                usage = data.get("usage") or {}
                self.count_inputs(usage)
                if "output_tokens" in usage:  # (a gateway's later delta without counts keeps them; probe 321)
                    count = usage["output_tokens"]
                    self.output_tokens = count if is_count(count) else None
                reason = (data.get("delta") or {}).get("stop_reason")
                if reason is not None and not isinstance(reason, str):
                    raise TypeError(f"stop_reason is a {type(reason).__name__}")
                if reason:  # (a gateway may pass an upstream's words on in capitals, as for OpenAI's wire)
                    self.stop_reason, self.stopped_last = reason.lower(), True
            elif event == "message_stop":
                if self.stop_reason is None:  # the API sends one first, in message_delta; a gateway whose upstream
                    # broke may end the stream so (probe 311: the text so far passed for a whole answer)
                    raise StreamError("the stream ended with message_stop before any stop_reason: the server cut it "
                                      "short (or it sends none: then no answer from it can be told whole, and sotkit "
                                      "takes none)", raw=data)
                self.ended = True
            elif event not in EVENTS and self.stray is None:
                self.stray = data
            elif event == "error":  # e.g. overloaded_error mid-stream, after the 200 status
                error = data.get("error", {}) if isinstance(data, dict) else {}
                if isinstance(error, str):  # a compatible server's ({"error": "Unexpected endpoint or method..."})
                    error = {"message": error}
                details = error.get("details")  # a spent account's code is there, as the SDK reads it
                code = details.get("error_code") if isinstance(details, dict) else None
                kind = error.get("type")  # ("Overloaded (overloaded_error)", as the SDK says it)
                said = (message if isinstance(message := error.get("message"), str) and message.strip() else
                        str(data)) + (f" ({kind})" if isinstance(kind, str) else "")
                raise StreamError(said, status_code=error_status(kind, error.get("message")), raw=data,
                                  code=code if isinstance(code, str) else None)
        except (AttributeError, TypeError, KeyError) as exc:
            raise malformed(data) from exc
        return None


    @staticmethod
    def as_events(reply: Any) -> list[tuple[str | None, Any]]:
        """A message as the events that stream it: its counts, each content block whole, its stop_reason (no
        message_stop: a message without a stop_reason is no whole answer)."""
        if not isinstance(reply, dict) or reply.get("type") != "message":  # an error ({"type": "error"}, a gateway's)
            error = isinstance(reply, dict) and (reply.get("type") == "error" or "error" in reply)
            return [("error" if error else None, reply)]
        usage = reply.get("usage") or {}
        return [("message_start", {"message": {"usage": usage}}),
                *[("content_block_start", {"content_block": block}) for block in reply.get("content") or []],
                ("message_delta", {"delta": {"stop_reason": reply.get("stop_reason")}, "usage": usage})]


def _text(text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text is a {type(text).__name__}")
    return text


def _without_leading_space(text: str, most: int) -> tuple[str, int]:
    """``text`` less its leading white space, up to ``most`` characters; and how many may still go (none once
    other text has come)."""
    n = 0
    while n < min(most, len(text)) and text[n].isspace():
        n += 1
    rest = text[n:]
    return rest, 0 if rest else most - n


PROVIDER = AnthropicProvider
