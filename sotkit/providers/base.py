"""The one interface every provider adapter implements: stream a chat completion."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, aclosing, nullcontext
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeGuard, TypeVar, cast

from ..errors import SotkitError, StreamError, advise, renote

__all__ = ["AFTER_END_S", "CallUsage", "ChatRequest", "Chunk", "ENDED", "HELD", "Prompt", "Provider", "REFUSED",
           "STARTED", "SendAgain", "Signal", "StreamError", "THINKING", "Thinking", "char_weight", "estimated_tokens",
           "with_extra", "without_refused"]

#: Chinese, Japanese and Korean characters, about a token each; other non-ASCII letters take about two to a token
_WIDE = re.compile("[\u1100-\u11ff\u3000-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
                   "\uf900-\ufaff\uff00-\uffef]")
_NON_ASCII = re.compile("[^\x00-\x7f]")


def char_weight(text: str) -> int:
    """``text``'s length in characters of English text, four of which make about a token, for estimating tokens:
    a Chinese, Japanese or Korean character counts four, another non-ASCII one two (Cyrillic, Arabic, accented)."""
    if text.isascii():
        return len(text)
    return len(text) + len(_NON_ASCII.findall(text)) + 2 * len(_WIDE.findall(text))


def estimated_tokens(weight: int) -> int:
    """The tokens of text of ``char_weight`` ``weight``: about four such characters a token (a started four, one)."""
    return math.ceil(weight / 4)


@dataclass(frozen=True)
class Prompt:
    """A rendered template: system text, user text, an optional assistant prefill and stop sequences."""

    user: str
    system: str | None = None
    prefill: str | None = None
    stop: tuple[str, ...] = ()
    #: how many leading characters of ``user`` the skeleton's and every point's call send alike, after the same
    #: ``system`` (0: the system prompt alone; ``None``: nothing long enough): a provider whose prompt cache serves
    #: only a marked prefix marks them (``cache_mark_tokens``)
    shared: int | None = None
    #: sotkit's own instructions in it, where the template is the user's: the shipped template's system and user
    #: text, and the user template's clauses about the point or the question (a reply that copies them back echoes;
    #: one that writes what the user's template asks for, a disclaimer to end with, does not: probe 345); ``None``:
    #: the prompt is sotkit's own
    instructions: str | None = None

    @property
    def chars(self) -> int:
        """The characters sent as the question (system and user text), for estimating its tokens
        (``char_weight``: a Chinese character counts four)."""
        return char_weight(self.system or "") + char_weight(self.user)


@dataclass(frozen=True)
class ChatRequest:
    """One call to a provider: the rendered prompt (with its stop strings), its token budget and sampling
    temperature (``None``: the provider's default)."""

    prompt: Prompt
    max_tokens: int = 1024
    temperature: float | None = None
    context: str | None = None
    """A long document for providers that read it natively (``supports_context``); others get it in the prompt."""
    max_line_tokens: int | None = None
    """End a line after this many tokens, where the provider steers decoding itself (local models force a
    newline; APIs cannot and ignore it). Skeleton requests set it: a point needs no more than its title."""

    @property
    def stop(self) -> tuple[str, ...]:
        """The strings that end the generation: the prompt's (its template's ``stop`` block)."""
        return self.prompt.stop


#: finish reasons of a model that ended its answer itself, as the providers read them (in lower case): OpenAI's and
#: Anthropic's, local engines' ("eos"), and compatible servers' (TGI's "eos_token", some gateways' "end"). A turn that
#: stops to call a tool (``tool_calls``, ``tool_use``: a gateway's or a server's automatic tools, since sotkit sends
#: none) has not answered yet: it counts as cut.
FINISHED = frozenset(("stop", "end_turn", "stop_sequence", "eos", "eos_token", "end"))
#: the HTTP status an API's error type stands for, where an error inside a 200 stream names a type, not a status
ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
                "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "insufficient_quota": 429,
                "api_error": 500, "server_error": 500, "timeout_error": 504, "overloaded_error": 529}
#: LM Studio's answer, a 200, to a path it does not serve (a base URL without /v1): {"error": "Unexpected endpoint or
#: method. (POST /chat/completions)"}
NO_ENDPOINT = re.compile(r"Unexpected endpoint or method\b")


def error_status(kind: Any, message: Any) -> int:
    """The HTTP status an error sent with a 200 stands for: its type's (``invalid_request_error``: 400), a 404 for
    LM Studio's "Unexpected endpoint or method" (no retry mends it: it was asked four times), else a 500."""
    if isinstance(kind, str):
        return ERROR_STATUS.get(kind, 500)
    return 404 if isinstance(message, str) and NO_ENDPOINT.match(message) else 500


#: the key sent where none was given (a server of one's own may take none)
NO_KEY = "unused"


def say_no_key(error: BaseException, variable: str) -> None:
    """Where a server refused the key (401) sotkit sent for want of one, say so: its "Incorrect API key provided"
    does not (probe 334)."""
    if getattr(error, "status_code", None) == 401:
        renote(error, f"(no API key was given, so sotkit sent none of yours: pass api_key=... or set {variable})",
               "no API key was given")


#: the reasons of a call stopped at its token budget (none given: its counted tokens reached it), and by the
#: provider's filter (Gemini's own words, and Bedrock's, too, which gateways pass on)
AT_BUDGET = frozenset((None, "length", "max_tokens"))
FILTERED = frozenset(("content_filter", "refusal", "safety", "recitation", "blocklist", "prohibited_content", "spii",
                      "guardrail_intervened", "content_filtered"))
#: Anthropic's and the local engines' word, and Mistral's, for a text the context window ended
WINDOW_FULL = frozenset(("model_context_window_exceeded", "model_length"))


#: how a note says the provider's filter cut a call off (``cut_by``): read back by ``sotkit eval`` in a skeleton's
BY_FILTER = "by the provider's filter"


T = TypeVar("T")


def closing(chunks: AsyncIterator[T]) -> AbstractAsyncContextManager[AsyncIterator[T]]:
    """``chunks``, closed at the block's end where it can be: an async generator's ``aclose`` ends its stream (and
    its HTTP response) at once; a provider of one's own may return any async iterator, with nothing to close."""
    return aclosing(cast(Any, chunks)) if hasattr(chunks, "aclose") else nullcontext(chunks)


def cut_by(reason: str | None, budget: str) -> str:
    """What cut a call off, in words for an error or a note: its token budget (the option ``budget`` sets), the
    provider's filter, the model's context window, or another reason of the server's."""
    if reason in AT_BUDGET:
        return f"at the token limit ({budget})"
    if reason == "error":  # a stream a failure ended (a dropped connection, the server's error)
        return "by a failure of its stream"
    if reason in WINDOW_FULL:  # a larger budget would not help: the prompt and the text filled the model's context
        return f"by the model's context window ({reason!r})"
    if reason == "repetition":  # the local engines' loop stop (``engines/streaming.py``): the repeat is left out
        return "where the model began to repeat itself"
    return f"{BY_FILTER} ({reason!r})" if reason in FILTERED else f"by the server ({reason!r})"


def reasoning_advice(reason: str | None, budget: str) -> str:
    """What to do about a call cut off before any text: at its budget, a reasoning model may have spent it all."""
    return f"; a larger {budget} may leave room for it (a reasoning model spends it on reasoning first)" \
        if reason in AT_BUDGET else ""


@dataclass(frozen=True)
class CallUsage:
    """Token counts of one call, yielded last by ``Provider.stream``."""

    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False
    """No counts came from the server (llama.cpp's servers send none in a stream): these are an estimate."""
    finish_reason: str | None = None
    """Why the generation ended, in the provider's words (``stop``, ``length``, ``end_turn``, ``max_tokens``, ...)."""
    cache_read_tokens: int = 0
    """Of ``input_tokens``, those the provider's prompt cache served (priced below the input price)."""
    cache_write_tokens: int = 0
    """Of ``input_tokens``, those written to the prompt cache (Anthropic prices them above the input price)."""
    cache_write_1h_tokens: int = 0
    """Of ``cache_write_tokens``, those written to stay an hour (Anthropic's ``"ttl": "1h"``), priced higher still."""
    service_tier: str | None = None
    """The service tier the server says served the call (OpenAI's ``priority``, ``flex``, ...), priced at its rates."""
    partial: bool = False
    """The prompt's counts, sent ahead of the output (Anthropic's ``message_start``): a call the client ends before its
    own counts keeps them, with its output estimated; the counts at the call's end replace them."""
    reasoned: int = 0
    """The characters of reasoning the call streamed apart from its text (set by the runner, for messages)."""
    web_searches: int = 0
    """Searches the server's own web search tool made for the call (Anthropic's ``server_tool_use``, which a gateway
    may add), priced per search."""

    def cut_off(self, budget: int) -> bool:
        """Was the generation ended before the model finished it? Any reason but those of a model that ended its
        answer itself says so: its token ``budget`` (``length``, ``max_tokens``), the context window, the provider's
        filter (``content_filter``, ``refusal``), and servers' own words (vLLM's ``abort``, Mistral's
        ``model_length``, ...), so a reason new to sotkit errs towards a cut. With no reason given, counted tokens
        reaching the budget do. Its last line may then be cut mid-word."""
        if self.finish_reason is not None:
            return self.finish_reason not in FINISHED
        return not self.estimated and self.output_tokens >= budget

    @classmethod
    def estimate(cls, input_chars: int, output_chars: int, counted: CallUsage | None = None) -> CallUsage:
        """Counts where the server reported none, at about four characters a token (``char_weight``'s); the prompt's
        as the server ``counted`` it ahead, where it did (a ``partial`` usage)."""
        if counted is not None:
            return dataclasses.replace(counted, output_tokens=estimated_tokens(output_chars), estimated=True,
                                       partial=False)
        return cls(estimated_tokens(input_chars), estimated_tokens(output_chars), estimated=True)


class StopAt:
    """Ends a text at the first of its stop sequences, as a server does, for a model that refuses them: each piece
    is released but for a tail that may begin one, and once one is found (``hit``), nothing more."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(stops)
        self.hit = False
        self._held = ""

    def feed(self, text: str) -> str:
        text = self._held + text
        found = [at for stop in self.stops if (at := text.find(stop)) >= 0]
        if found:
            self.hit, self._held = True, ""
            return text[:min(found)]
        keep = next((n for n in range(min(len(text), max(map(len, self.stops)) - 1), 0, -1)
                     if any(stop.startswith(text[-n:]) for stop in self.stops)), 0)
        self._held = text[len(text) - keep:]
        return text[:len(text) - keep]

    def finish(self, text: str = "") -> str:
        """The text's end: ``text`` (held back before it came here, a ``<think>`` tag's start, say) and what was held
        back here, up to a stop sequence; nothing once one was found."""
        if self.hit:
            return ""
        text = self.feed(text)
        held, self._held = self._held, ""  # (none where the text held a stop)
        return text + held


def is_count(value: Any) -> TypeGuard[int]:
    """Is ``value`` a token count a server may send (not a bool, a string or a negative number)?"""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class Signal:
    """A chunk without text that tells the runner something of the call. ``STARTED``: the server answered and
    took the request (its prompt is paid for, whatever follows). ``THINKING``: the model is reasoning (an
    OpenAI-compatible server's ``reasoning_content``, Anthropic's thinking blocks); the watchdog takes it for
    progress; it is no answer text. ``ENDED``: the model's end came (a finish_reason); what the provider reads after
    it is bounded by the provider, no stall. ``REFUSED``: the text that follows is a refusal sent in place of the
    model's (OpenAI's ``delta.refusal``), the answer's text, but no part of a skeleton. ``HELD``: an in-process
    model wrote text the provider holds back for now (a repeat that may be a loop's): progress, no text yet."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


class Thinking(Signal):
    """``THINKING`` with the characters of reasoning that came (0 where none came, or their number is not known, as
    for a ping inside an open thinking block): they are no text, but the provider bills them as output, and a call
    that breaks is charged them (estimated). ``progress``: some of them were not white space (which a stuck server
    or model may send forever, as a keep-alive)."""

    def __init__(self, chars: int = 0, progress: bool | None = None) -> None:
        super().__init__("THINKING")
        self.chars = chars
        self.progress = bool(chars) if progress is None else progress

    @classmethod
    def of(cls, reasoning: object) -> Thinking:
        """The reasoning a delta carried (one that is no str: a sign of life alone)."""
        return cls(len(reasoning), bool(reasoning.strip())) if isinstance(reasoning, str) else cls()


STARTED, ENDED, REFUSED, HELD = Signal("STARTED"), Signal("ENDED"), Signal("REFUSED"), Signal("HELD")
#: the longest a provider reads on after its ``ENDED`` (what follows the model's end, then the rest of the body)
AFTER_END_S = 10.1
THINKING = Thinking()
Chunk = str | CallUsage | Signal


def with_extra(body: dict[str, Any], extra_body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with the user's ``extra_body`` fields over it; a field either gives as None is left out."""
    return {name: value for name, value in {**body, **extra_body}.items() if value is not None}


class SendAgain(SotkitError):
    """The server refused a part of the request the provider can do without (Claude from 4.6 on answers an
    assistant prefill with HTTP 400, OpenAI's reasoning models and Claude Opus 4.7 a temperature, some gateways the
    prompt cache's mark). The provider has stopped sending it, so the runner sends the same call again at once, no
    attempt spent; without the prefill (``supports_prefill`` now off) the call's text is the model's own from its
    start."""

    #: what the server wrote before it was found to ignore the prefill (held back, never shown; paid for)
    written: str = ""


def without_refused(provider: Provider, message: str, *, prefill: bool, temperature: bool) -> SendAgain | None:
    """After a 400 whose ``message`` says what the server refused: stop sending an assistant prefill or a
    temperature the request carried (``prefill``, ``temperature``) and return the ``SendAgain`` to raise; None for
    any other refusal. A dropped temperature is warned of: the model then samples at its own default."""
    said = message.lower().replace("`", "")
    # Claude from 4.6 on: "does not support assistant message prefill"; with thinking on (a gateway's): "a final
    # assistant message must start with a thinking block"; other gateways: "the last message must have role user"
    if prefill and ("prefill" in said or "final assistant message" in said
                    or any(last in said for last in ("last message", "final message")) and "user" in said):
        provider.supports_prefill = False
        return SendAgain(f"{provider.model} refused an assistant prefill ({message}); it is sent none from now on")
    if temperature and "temperature" in said:
        warn, provider.takes_temperature = provider.takes_temperature, False
        if warn:  # once: the calls sent with it meanwhile are refused too
            advise(f"{provider.model} refused a temperature ({message}); it is sent none from now on, and samples at "
                   "its own default")
        return SendAgain(f"{provider.model} refused a temperature ({message}); it is sent none from now on")
    return None


class Provider(ABC):
    """A thin adapter from ``ChatRequest`` to one backend.

    ``stream`` yields the completion's text deltas and then, once, a ``CallUsage``. When the provider
    honours ``prompt.prefill`` (``supports_prefill``), the deltas continue the prefill and do not repeat it;
    otherwise the prefill is not sent, and the text is the model's own from its start.
    Errors are the backend SDK's own exceptions; retrying is the caller's job (one retry layer).
    """

    #: the full model string, ``provider:model``: a subclass sets it in ``__init__``
    model: str
    supports_prefill: bool = False
    #: the model surely continues a prefill (Claude before 4.6, an in-process model): a broken stream is resumed
    #: only on such a model (elsewhere it restarts); a server carrying its name that writes the prefill or the
    #: resumed text again has ignored it all the same (``runner._unless_repeated``)
    prefill_known: bool = False
    #: the highest sampling temperature the API takes (sotkit refuses more when the option is given)
    max_temperature: float = 2.0
    #: turned off when the model refuses a temperature (``without_refused``): its requests then carry none
    takes_temperature: bool = True
    #: the calls' token budgets are sent this many times over: raised by the runner once a call spent its whole
    #: budget before any text (a reasoning model's hidden reasoning counts against it); back to 1 for good
    #: (``budget_fixed``) once the model refused a raised budget
    budget_scale: int = 1
    budget_fixed: bool = False
    #: the most stop sequences a request may carry (None: any number); a template with more fails when the client
    #: is built
    max_stop: int | None = None
    #: turned off when the model refuses stop sequences (OpenAI's GPT-5 and o-series): its text is then ended at
    #: them by sotkit (``StopAt``)
    takes_stop: bool = True
    #: no key was given: the clients send ``NO_KEY`` (``say_no_key``)
    no_key: bool = False
    #: in-process models run one generation at a time; batched expansion beats N calls there
    supports_batch: bool = False
    #: runs in this process, one generation at a time: a call waiting its turn is no stalled server, and calls
    #: written in turn are no server to set up for parallel decoding
    in_process: bool = False
    #: yields ``STARTED`` once the server's response began: a stream that stalls without it got no response at all
    says_started: bool = False
    #: request settings that suit this kind of model better than the general defaults (the user's still win)
    request_defaults: Mapping[str, Any] = MappingProxyType({})
    #: reads ``ChatRequest.context`` itself (FocusLLM); otherwise the templates put the context in the prompt
    supports_context: bool = False
    #: expansions are streamed a sentence at a time, end before a sentence that names another point and, when the
    #: token budget cuts them, at their last complete sentence (small local models run on until the budget ends
    #: them; API models end their own sentences)
    whole_sentences: bool = False
    #: where its calls go as the GenAI semantic conventions name it (``gen_ai.provider.name`` in traces), where the
    #: model string's prefix does not say it: a user's client for Azure OpenAI ("azure.ai.openai"), Vertex, Bedrock
    platform: str | None = None
    #: exceptions (besides HTTP 408/409/429/5xx, which carry ``status_code``) that a retry may cure
    transient_errors: tuple[type[BaseException], ...] = ()
    #: its word for a generation ended at its token budget, also where sotkit ends one that ran past it
    length_reason: str = "length"
    #: the fewest tokens its prompt cache keeps, where it keeps only a prefix the request marks (Anthropic's
    #: ``cache_control``): the prompt the answer's calls share is marked when it is that long (``Prompt.shared``);
    #: None: a cache that needs no mark (OpenAI's, vLLM's), or none
    cache_mark_tokens: int | None = None

    @classmethod
    def option_names(cls) -> set[str]:
        """The options its models take: the constructor's keyword-only arguments (a model of another provider
        given one is told whose it is)."""
        return {p.name for p in inspect.signature(cls.__init__).parameters.values() if p.kind is p.KEYWORD_ONLY}

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        """Yield text deltas, then one ``CallUsage`` (and ``STARTED`` once the server took the request, where it
        can tell; ``THINKING`` for reasoning without text; a ``partial`` ``CallUsage`` of the prompt's counts where
        the server sends them ahead)."""

    def stream_batch(self, requests: Sequence[ChatRequest]) -> AsyncIterator[tuple[int, Chunk]]:
        """Run the expansions of one answer's points as one batch, yielding ``(row, chunk)``; only when
        ``supports_batch``."""
        raise NotImplementedError(f"{type(self).__name__} does not batch")

    def sent_max_tokens(self, max_tokens: int) -> int:
        """The token budget its server is sent, and a ``tpm`` charged, for a call of ``max_tokens`` (a Claude
        thinking budget in ``extra_body`` goes on top of it)."""
        return max_tokens

    def check_event_loop(self) -> None:
        """Raise ``sotkit.errors.AsyncioOnly`` where the running event loop cannot serve this provider's calls
        (``http="aiohttp"`` on trio); checked as a request starts, for every model it may call."""

    async def ready(self) -> None:
        """Make what calls need (an SDK client), off the event loop; called before a call is admitted, so that
        the first call's set-up (importing the SDK) counts against no budget or timeout."""

    async def aclose(self) -> None:
        """Release clients this provider created (never ones the user passed in)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({getattr(self, 'model', None)!r})"  # one of a user's may set none
