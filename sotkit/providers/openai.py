"""OpenAI chat completions, and any OpenAI-compatible server (vLLM, SGLang, Ollama, llama.cpp, ...)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import openai

from ..errors import ConfigError, clipped, one_line, renote, server_text
from ..options import api_key_or_env, check_api_key, check_extra_body, check_header, check_url, url_host
from ..redact import redact, shown_url
from ._clients import network_timeout, platform_of, sdk_clients, user_client
from ._sse import Refusal, malformed, text_pieces
from ._think import ThinkTags
from .base import (NO_KEY, REFUSED, CallUsage, ChatRequest, Chunk, Provider, SendAgain, Signal, StopAt, StreamError,
                   Thinking, char_weight, error_status, estimated_tokens, is_count, say_no_key, with_extra,
                   without_refused)

#: OpenAI's own API (and Azure's) refuses a request with more than four stop sequences
MAX_STOP = 4
#: where the SDK finds the server when no ``base_url=`` is given
BASE_URL_VARIABLE = "OPENAI_BASE_URL"
#: what the SDK imports at its first chat completion (80 ms), imported off the event loop with the SDK
FIRST_REQUEST_IMPORTS = ("openai.resources.chat.completions.completions", "openai.lib.streaming.chat", "jiter")
#: the fields that ask vLLM and SGLang to continue a trailing assistant message, sent with one (prefill=True)
CONTINUE_PREFILL = {"continue_final_message": True, "add_generation_prompt": False}
#: an SDK's error message that says nothing of the server's body
_BARE_STATUS = re.compile(r"Error code: \d+")


#: the path the SDK adds to the base URL, which a base URL given with it would have twice
_SDK_PATHS = ("/chat/completions",)


class OpenAIProvider(Provider):
    """``prefill=True`` declares that the server continues a trailing assistant message instead of answering
    after it (vLLM and SGLang do; OpenAI itself does not); a broken stream still restarts, as a gateway between may
    drop the fields below and have the model write anew. A request that ends with such a message then also carries
    ``"continue_final_message": true, "add_generation_prompt": false``, which vLLM and SGLang need (not in
    ``extra_body``: that goes on every request, also on those that end with the user's turn, whose question the model
    would then continue).

    ``extra_body`` holds fields added to every request's body, checked by ``options.check_extra_body``; a field
    of sotkit's given as ``None`` is left out of the body (``{"stream_options": None}`` for a server that refuses
    it, such as Mistral's API)."""

    supports_prefill = False  # the chat completions API has no assistant prefill
    says_started = True
    # failures without an HTTP status worth retrying: refused or dropped connections, timeouts, cut streams

    @property  # (read only, unlike the base class's attribute: the SDK is imported on first use; nothing sets it)
    def transient_errors(self) -> tuple[type[BaseException], ...]:  # type: ignore[override]
        import openai  # imported by the first call (the SDK is imported off the event loop, on first use)

        return (openai.APIConnectionError,)

    def __init__(self, model_name: str, *, api_key: str | None = None, base_url: str | None = None,
                 client: openai.AsyncOpenAI | None = None, timeout: float | None = None,
                 extra_body: dict[str, Any] | None = None, http: str | None = None, prefill: bool = False) -> None:
        if not isinstance(prefill, bool):
            raise ConfigError(f"prefill={prefill!r}: use True (the server continues an assistant message) or False")
        check_api_key(api_key)
        self.model = f"openai:{model_name}"
        self.supports_prefill = prefill
        self._name = model_name
        self._extra_body = check_extra_body(extra_body)
        self._refused_fields: set[str] = set()  # the budget's fields the server refused
        self._asks_usage = True  # stream_options, until a server refuses it
        if client is not None:
            self._clients = user_client(client, "openai", "AsyncOpenAI",
                                        api_key=api_key, base_url=base_url, http=http)
            self.platform = platform_of(client)
            azure = isinstance(client, sys.modules["openai"].AsyncAzureOpenAI)
            self._max_tokens_field = "max_completion_tokens" if azure else _max_tokens_field(str(client.base_url))
            self.max_stop = MAX_STOP if azure else _max_stop(str(client.base_url))
            return
        check_url("base_url", base_url, _SDK_PATHS)
        if base_url is None:  # the SDK reads it too, and would retry a malformed one as a connection error
            check_url(f"${BASE_URL_VARIABLE}", base_url := os.environ.get(BASE_URL_VARIABLE) or None, _SDK_PATHS)
        self._max_tokens_field = _max_tokens_field(base_url)
        self.max_stop = _max_stop(base_url)
        api_key = api_key_or_env(api_key, "OPENAI_API_KEY")
        for variable in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):  # the SDK sends them as headers (probe 260)
            check_header(f"${variable}", os.environ.get(variable))
        if not api_key:
            if not base_url:
                raise ConfigError("no OpenAI API key: set OPENAI_API_KEY or pass api_key=... "
                                  "(for an OpenAI-compatible server, pass base_url=...)")
            # a compatible server may take no key; OpenAI's own API (or Azure's, or Foundry's) needs one
            host = url_host(base_url)
            if _openai_itself(base_url) or host.endswith(FOUNDRY_HOST):
                whose, more = ("an Azure OpenAI endpoint", AZURE_CLIENT) if host.endswith(AZURE_HOSTS) else \
                    ("a Microsoft Foundry endpoint", "") if host.endswith(FOUNDRY_HOST) else ("OpenAI's own API", "")
                raise ConfigError(f"no OpenAI API key for {shown_url(base_url)}, {whose}: set OPENAI_API_KEY or pass "
                                  f"api_key=...{more}")
            api_key, self.no_key = NO_KEY, True  # self-hosted compatible servers usually ignore the key
        # max_retries=0: sotkit's retry policy is the only retry layer.
        # an empty $OPENAI_BASE_URL is unset, as an empty key is (a blank .env line); the SDK would take "" as the URL
        sdk_url = base_url or ("https://api.openai.com/v1" if os.environ.get(BASE_URL_VARIABLE) == "" else None)
        self._clients = sdk_clients("openai", http, lambda sdk, http_client: sdk.AsyncOpenAI(
            api_key=api_key, base_url=sdk_url, max_retries=0, timeout=network_timeout(sdk, timeout),
            http_client=http_client,
        ), warm=FIRST_REQUEST_IMPORTS, base_url=base_url, key=api_key)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        prompt = request.prompt
        messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
        messages.append({"role": "user", "content": prompt.user})
        field = self._max_tokens_field  # (a concurrent call refused it may change it before this one is refused)
        body: dict[str, Any] = {field: request.max_tokens}
        if self._asks_usage:
            body["stream_options"] = {"include_usage": True}
        if prompt.prefill and self.supports_prefill:
            messages.append({"role": "assistant", "content": prompt.prefill})
            body.update(CONTINUE_PREFILL)
        if request.stop and self.takes_stop:
            body["stop"] = list(request.stop)  # all of them: one left out would let the text run on past it
        # the text is ended at them here too: for a model that refused them, and a server that ignores them (probe 312);
        # not where the server was asked to leave them in (vLLM's include_stop_str_in_output; review 315)
        keeps = self.takes_stop and bool(self._extra_body.get("include_stop_str_in_output"))
        stopping = StopAt(request.stop) if request.stop and not keeps else None
        if request.temperature is not None and self.takes_temperature:
            body["temperature"] = request.temperature
        tags = ThinkTags(continues=bool(prompt.prefill and self.supports_prefill))
        reading, written, refusing, answered = _Reading(), 0, False, False
        # The body travels in extra_body, which the SDK sends as given: its type-driven transform of the
        # parameters costs ~0.5 ms of CPU a call, a fifth of the client's cost per expansion when hundreds
        # stream at once (benchmarks/overhead.py). A user's extra_body adds fields; its None removes one.
        if self._extra_body:
            body = with_extra(body, self._extra_body)
        prompt_weight = sum(char_weight(m["content"]) for m in messages)
        try:
            async with self._clients.client() as client, client.chat.completions.with_streaming_response.create(
                model=self._name, messages=[], stream=True, extra_body={**body, "messages": messages},
            ) as response, aclosing(text_pieces(response, sys.modules["openai"], reading, self.model)) as pieces:
                async for text in pieces:
                    if text is REFUSED:  # a refusal is no text of the model's: no stop sequence ends it, no open
                        held = tags.finish()  # <think> block takes it (reviews 315, 317: lost, or an EmptyAnswer)
                        if stopping is not None:
                            held, stopping = stopping.finish(held), None
                        if held:
                            answered = True
                            yield held
                        refusing = True
                    if isinstance(text, Thinking):
                        written += text.chars
                    elif isinstance(text, str):
                        written += char_weight(text)
                        if reading.reasoned:  # reasoning came apart (before any text): the text is the answer's
                            tags.apart()
                        if not refusing:
                            text = tags.feed(text)
                        elif not answered:  # a refusal after reasoning alone opens the answer: no blank lines
                            text = text.lstrip()  # before it (review 318)
                        if stopping is not None and isinstance(text, str):  # (not a <think> block's reasoning)
                            text = stopping.feed(text)
                    if text:
                        answered = answered or isinstance(text, str)
                        yield text
                    if stopping is not None and stopping.hit:
                        break  # the rest is past the stop sequence: not read, not paid for beyond what came
        except sys.modules["openai"].BadRequestError as exc:  # fields of sotkit's, not the user's extra_body
            _server_said(exc)
            mine = {name for name in ("temperature", "max_tokens", "max_completion_tokens", "stop", "stream_options")
                    if name in body and name not in self._extra_body}
            message = str(exc.message)
            other = "max_tokens" if field == "max_completion_tokens" else "max_completion_tokens"
            # a reasoning model by a proxy refuses max_tokens ("Unsupported parameter: 'max_tokens' ... Use
            # 'max_completion_tokens' instead"), an Azure API version before 2024-09-01 max_completion_tokens
            # ("Unrecognized request argument supplied: max_completion_tokens"): each field is tried once
            if field in mine and _refuses(message, field) and other not in self._refused_fields:
                self._refused_fields.add(field)
                self._max_tokens_field = other
                raise SendAgain(f"{self.model} refused {field}: it is sent {other}") from exc
            if "stream_options" in mine and _refuses(message, "stream_options"):  # an older Azure API version's
                self._asks_usage = False
                raise SendAgain(f"{self.model} refused stream_options: its usage is estimated") from exc
            if "stop" in mine and _refuses(message, "stop"):  # GPT-5 and o-series: "Unsupported parameter: 'stop'"
                self.takes_stop = False
                raise SendAgain(f"{self.model} refused stop sequences: its text is ended at them by sotkit") from exc
            refused = without_refused(self, message, prefill=False, temperature="temperature" in mine)
            if refused is None:
                raise
            raise refused from exc
        except Exception as exc:
            _server_said(exc)
            if self.no_key:
                say_no_key(exc, "OPENAI_API_KEY")
            # the runner charges a broken call an estimate: of what the stream had told, where it had
            if (told := reading.told(prompt_weight)) is not None:
                yield told
            raise
        held = tags.finish()
        if stopping is not None:
            held = stopping.finish(held)
        if held:
            yield held
        # Servers that ignore stream_options (llama.cpp's) send no counts: estimate them, and say so.
        usage = reading.usage or CallUsage.estimate(prompt_weight, written)
        if not usage.input_tokens and prompt_weight:  # Ollama's 0 for a prompt its cache served: no count at all
            usage = dataclasses.replace(usage, input_tokens=estimated_tokens(prompt_weight), estimated=True)
        reason = "stop" if stopping is not None and stopping.hit else reading.reason
        yield dataclasses.replace(usage, finish_reason=str(reason) if reason is not None else None)

    def check_event_loop(self) -> None:
        self._clients.check_event_loop()

    async def ready(self) -> None:
        await self._clients.ready()

    async def aclose(self) -> None:
        await self._clients.aclose()


@dataclasses.dataclass
class _Reading:
    """What a chat completions stream said so far besides its text."""

    ended: bool = False  # [DONE] came
    # Text came after a finish_reason: some relays send one with every chunk (new-api's and older LiteLLM's Gemini
    # channels), so only [DONE] ends the answer (taken for the end, it left the text of the next second or more out),
    # or the body's end where the last chunk of text had one
    every_chunk_finished: bool = False
    finished_last: bool = False  # the last chunk of text or finish_reason had a finish_reason
    # the last finish_reason came on a chunk of its own after the text, as the API sends it (one on a chunk of text,
    # or before any text, may be a relay's mark on every chunk: ``firm``)
    firm: bool = True
    reason: Any = None  # the last finish_reason (None: none came yet)
    refused: bool = False  # a refusal came in place of content: the answer ends as the API's filter ends one
    written: bool = False  # text came
    reasoned: bool = False  # reasoning came apart from the text before any text (not white space alone)
    began: bool = False  # text came, not white space alone (which ThinkTags reads past too)
    usage: CallUsage | None = None
    tier: str | None = None  # the service tier the chunks say serves the call
    stray: Any = None  # the first event of no chunk's shape (no "choices" nor "usage"), passed over

    def told(self, prompt_weight: int) -> CallUsage | None:
        """What the stream told of the call's price before it broke (its counts, sent ahead by vLLM and others, or
        as running totals; its service tier), as counts sent ahead (``partial``), or None where it told nothing."""
        if self.usage is None and self.tier is None:
            return None
        usage = self.usage or CallUsage.estimate(prompt_weight, 0)
        return dataclasses.replace(usage, partial=True, service_tier=self.tier)

    @property
    def whole(self) -> bool:
        return self.ended or self.reason is not None and not self.every_chunk_finished

    @property
    def whole_at_body_end(self) -> bool:
        return self.whole or self.every_chunk_finished and self.finished_last

    @property
    def end(self) -> str:
        return "[DONE] (it sent a finish_reason before its last chunk)" if self.every_chunk_finished \
            else "a finish_reason or [DONE]"

    def text_of(self, event: str | None, data: Any) -> str | Signal | None:
        if event == "error":  # some compatible servers' way; the API's own is a chunk with an "error" object
            raise _stream_error(data)
        if data == "[DONE]":
            if self.reason is None:  # every server sends a finish_reason first; llama-cpp-python cuts a stream so
                raise StreamError("the stream ended with [DONE] before any finish_reason: the server cut it short "
                                  "(or it sends none, as some relays do: then no answer from it can be told whole, "
                                  "and sotkit takes none)", raw=data)
            self.ended = True
            return None
        try:
            text, done, counts, refusal, reasoned = _chunk(data)
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            raise malformed(data) from exc
        if self.stray is None and data and "choices" not in data and "usage" not in data:  # (not a keep-alive's {},
            self.stray = data  # nor a chunk of counts alone; review 315)
        if not self.began:  # reasoning before any text, in the events' order (a read's pieces put its reasoning
            self.reasoned = self.reasoned or reasoned  # first, whatever came first)
            self.began = isinstance(text, str) and not text.isspace() and bool(text)
        if done == "error":  # OpenRouter's and others' mid-stream failure, sometimes without an error object
            said = server_text(str(data), 300)
            raise StreamError(f"the server ended the stream with finish_reason 'error': {said!r}", raw=data)
        if refusal:  # the model's refusal is its text, and the answer is no whole one (finish_reason says "stop")
            before = text if isinstance(text, str) else ""
            if self.refused:
                text = before + refusal
            else:  # a paragraph apart from any text it wrote before, and no line of a skeleton (``REFUSED``)
                self.refused = True
                text = Refusal(("\n\n" if self.written or before else "") + refusal, before)
        if isinstance(text, str):
            self.written = self.written or bool(text)
        self.every_chunk_finished = self.every_chunk_finished or bool(text) and self.reason is not None
        self.finished_last = bool(done) if text or done else self.finished_last
        self.firm = not text and self.written if done else self.firm
        # (some servers send "" on every chunk until the last)
        self.reason = ("refusal" if self.refused and done == "stop" else done) if done else self.reason
        if isinstance(tier := data.get("service_tier"), str):
            self.tier = tier
        if counts and is_count(counts.get("prompt_tokens")) and is_count(counts.get("completion_tokens")):
            self.usage = _counted(counts, self.tier)
        return text

    @staticmethod
    def as_events(reply: Any) -> list[tuple[str | None, Any]]:
        """A chat.completion as one chunk holding its messages as deltas (no ``[DONE]``: a reply without a
        finish_reason is then refused with its own body quoted, not as a stream cut short)."""
        if isinstance(reply, dict) and isinstance(reply.get("choices"), list):
            reply = reply | {"choices": [c | {"delta": c.get("message")} if isinstance(c, dict) else c
                                         for c in reply["choices"]]}
        return [(None, reply)]


def _counted(counts: dict, service_tier: Any = None) -> CallUsage:
    """A usage object's counts, with the prompt cache's reads (``prompt_tokens_details.cached_tokens``) in the input,
    and the service tier its chunk says served the call."""
    details = counts.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    cached = cached if is_count(cached) else 0
    # (a server that counts its cache's reads apart, Ollama's 0 for a cached prompt: the input holds them at least)
    return CallUsage(max(counts["prompt_tokens"], cached), counts["completion_tokens"], cache_read_tokens=cached,
                     service_tier=service_tier if isinstance(service_tier, str) else None)


def _chunk(data: Any) -> tuple[str | Signal | None, Any, dict | None, str | None, bool]:
    """``(text, finish_reason, usage, refusal, reasoned)`` of one chunk (``finish_reason`` None until the last
    choice; ``refusal``: the text of a refusal, which OpenAI sends in its own field; ``reasoned``: it held reasoning
    of its own, also beside text); shapes that are not a chat.completion.chunk raise."""
    if not isinstance(data, dict):
        raise TypeError(f"a chunk is a {type(data).__name__}")
    # an error reported mid-stream (older vLLM's flat); some gateways send "error": null on every chunk
    if data.get("error") or data.get("object") == "error":
        raise _stream_error(data)
    # the first generation only: with n > 1 (in extra_body) a server interleaves the others' chunks
    choice: Any = next((c for c in data["choices"] if c.get("index", 0) == 0), {}) if data.get("choices") else {}
    delta = choice.get("delta") or {}
    text = delta.get("content")
    thinking = delta.get("reasoning_content") or delta.get("reasoning")  # vLLM's, DeepSeek's; OpenRouter's
    if isinstance(text, list):  # Mistral's reasoning models: typed parts, {"type": "text"} and {"type": "thinking"}
        thoughts = [part.get("thinking") for part in text if part.get("type") == "thinking"]  # each a list of texts
        thinking = thinking or "".join(t.get("text") or "" for parts in thoughts if isinstance(parts, list)
                                       for t in parts if isinstance(t, dict)) or bool(thoughts)
        text = "".join(part["text"] for part in text if part.get("type") == "text")
    refusal = delta.get("refusal")
    for field, value in (("content", text), ("refusal", refusal)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{field} is a {type(value).__name__}")
    x_groq = data.get("x_groq")  # Groq's counts come there
    usage = data.get("usage") or (x_groq.get("usage") if isinstance(x_groq, dict) else None)
    if not isinstance(usage, dict):  # counts of another shape are none (they are estimated)
        usage = None
    reasoned = isinstance(thinking, str) and not thinking.isspace() and bool(thinking)
    if thinking and not text:
        text = Thinking.of(thinking)
    # (Gemini's OpenAI-compatible beta wrote it "finishReason", with finish_reason null)
    reason = choice.get("finish_reason") or choice.get("finishReason")
    if reason is not None and not isinstance(reason, str):  # (a number would be taken for an end of some kind)
        raise TypeError(f"finish_reason is a {type(reason).__name__}")
    # (gateways in front of Gemini pass its own words on: "STOP", "MAX_TOKENS"; probe 340)
    return text, reason and reason.lower(), usage, refusal, reasoned


#: Azure OpenAI's hosts, and the client that speaks its API best (not in the CLI, which builds its own clients)
AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com")
#: Microsoft Foundry's host, which serves other vendors' models too (their max_tokens field and stops): it needs a key
#: (reviews 299, 302)
FOUNDRY_HOST = ".services.ai.azure.com"
AZURE_CLIENT = " (or pass client=openai.AsyncAzureOpenAI(...))"


def _openai_itself(base_url: str | None) -> bool:
    """Is ``base_url`` (None: the SDK's default) OpenAI's own API or Azure's OpenAI, not a compatible server?"""
    host = url_host(base_url) if base_url else "api.openai.com"
    return host == "api.openai.com" or host.endswith((".api.openai.com", *AZURE_HOSTS))



def _server_said(error: Exception) -> None:
    """Add what the server's error body says where the SDK's message says none of it ("Error code: 422"): the SDK
    reads only OpenAI's shape, {"error": {"message": ...}}, and a compatible server's may be TGI's {"error": "..."},
    FastAPI's {"detail": ...} or a plain-text page."""
    if isinstance(error, sys.modules["openai"].APIStatusError) and _BARE_STATUS.fullmatch(str(error)) \
            and (said := error.body if isinstance(error.body, str) else
                 json.dumps(error.body, ensure_ascii=False) if error.body else ""):
        # (redacted before it is clipped: a key cut short would no longer be found)
        renote(error, f"(the server said: {clipped(one_line(redact(said)), 300)})", "the server said")


def _refuses(message: str, field: str) -> bool:
    """Does a 400's message refuse the field itself (OpenAI's "Unsupported parameter: 'max_tokens'", Azure's
    "Unrecognized request argument supplied: stream_options", pydantic's "stream_options\n  Extra inputs are not
    permitted", also in vLLM's list of errors, LiteLLM's "does not support parameters: ['stop']", "The 'stop'
    parameter is not supported"), not a value of it ("max_completion_tokens is too large", "Unsupported value:
    'stream_options.include_usage' must be a boolean"), nor only with another ("is not supported when n > 1"), nor
    another field beside a list of those accepted ("... supplied: foo (accepted: max_tokens, ...)")?"""
    name = rf"['\"`]?{field}\b['\"`]?"
    return re.search(
        rf"(?:unsupported(?! value| model)|unrecognized|unknown(?! model))[^,(]{{0,40}}?{name}"
        rf"|does not support (?:the )?(?:parameters?:?\s*[\[{{][^\]}}]{{0,100}}?)?{name}"
        rf"(?! sequences? (?:longer|with|of|over))"
        rf"|{name}:?(?: parameter| sequences)? (?:is|are) (?:not (?:supported|allowed|a valid parameter)|unsupported)"
        rf"(?! to| when| in combination| with n\b| with more|,? did you mean)"
        rf"|{name}\W{{0,20}}(?:msg\W{{0,5}})?extra inputs are not permitted"
        rf"|extra inputs are not permitted\W{{0,5}}{name}|{name} was unexpected",
        message[:2000], re.IGNORECASE) is not None  # a refusal says so at once: a long body is read no further


def _max_tokens_field(base_url: str | None) -> str:
    """OpenAI itself (and Azure's OpenAI) wants ``max_completion_tokens`` (its reasoning models refuse
    ``max_tokens``); compatible servers widely support only ``max_tokens``."""
    return "max_completion_tokens" if _openai_itself(base_url) else "max_tokens"


def _max_stop(base_url: str | None) -> int | None:
    """OpenAI itself takes four stop sequences; compatible servers are sent them all (vLLM and llama.cpp take any
    number, a server with a limit refuses the request)."""
    return MAX_STOP if _openai_itself(base_url) else None


def _stream_error(data: Any) -> StreamError:
    """An error sent inside the 200 stream (``{"error": ...}``, or the error itself: older vLLM's, llama.cpp's), as
    the status its ``code`` names (a number, or LiteLLM's digit string; vLLM: 400 for a prompt too long, which a
    retry would not mend), else its ``type`` (OpenAI's ``invalid_request_error`` for a context too long: 400), else
    a 404 for LM Studio's "Unexpected endpoint" (a base URL without ``/v1``: no retry mends it), else a 500; a
    ``code`` in words, else the ``type``, is kept as the error's (``insufficient_quota``: not retried)."""
    error = (data.get("error") or data) if isinstance(data, dict) else data
    message = error.get("message", error) if isinstance(error, dict) else error
    code, kind = (error.get("code"), error.get("type")) if isinstance(error, dict) else (None, None)
    if isinstance(code, str) and code.isascii() and code.isdigit():
        code = int(code)
    status = code if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599 else \
        error_status(kind, message)
    words = code if isinstance(code, str) and code else kind
    return StreamError(str(message), status_code=status, raw=data, code=words if isinstance(words, str) else None)


PROVIDER = OpenAIProvider
