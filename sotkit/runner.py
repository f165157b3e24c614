"""The call runner: every model call of a request goes through it, the router's and batched ones included.

Its layers wrap a provider's stream the way pydantic-ai's wrapper models wrap a model, outermost first:

1. **fallback**: the backends in order (the model, then the fallback model);
2. **retry**: the backend's attempts under the request's ``RetryPolicy`` (``RetryEvent`` between them);
3. **limits**: per attempt, one of the model's concurrency slots (held for the attempt only, so a sleeping retry
   holds none), then its per-minute budgets (taken last, as the request leaves: requests that waited for slots
   freed at once must not leave in a burst);
4. **watchdog**: progress is text; no text for ``first_token_timeout`` from the start (while no other call of the
   request to the model writes alone, as on a server that writes them in turn), or ``stall_timeout`` between
   pieces, ends the attempt as ``StreamStalled`` (retried like a timeout); a stream that ignores ``max_tokens`` is
   ended as if at the limit.

A call that ends at its budget without any text (a reasoning model's hidden reasoning counts against it) goes again
at once with ``REASONING_SCALE`` times the budget, as every later call of that model does (``budget_scale``), until
the model refuses a raised budget.

A call's text is one generation: a retried stream resumes where the broken one stopped only on a model known to
continue a prefill (``prefill_known``: a server that ignores one would have a sampled model write anew after the
received text; one whose resumed reply opens with that whole text again is sent no prefill from then on); elsewhere
it restarts, and ``Call.on_restart`` forgets (and withdraws)
what the broken attempt wrote, once the new attempt writes (one that fails first leaves it to the error). A fallback
model writes its own generation the same way, never the end of the failed model's. A batched
call (in-process models) runs every row as one attempt; a row it did not finish is retried as a single call through
all four layers, continuing the row's text.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import anyio

from .errors import AsyncioOnly, PromptCutWarning, StreamError, StreamStalled, advise, describe, renote
from .events import Event, FallbackEvent, RetryEvent
from .header import goes_on
from .limits import Limits, check_fits, estimate_tokens
from .overlap import CallSpan
from .providers.base import (AFTER_END_S, AT_BUDGET, ENDED, HELD, REFUSED, STARTED, CallUsage, ChatRequest, Chunk,
                             Provider, SendAgain, Thinking, char_weight, closing, estimated_tokens)
from .result import Point, Usage
from .retry import RetryPolicy, answered_status, is_retryable, status_of
from .tracing import NO_CALL, NO_TRACE, CallTrace, RequestTrace, without_text

if TYPE_CHECKING:  # the layer above: a backend holds templates, the runner never renders them
    from types import TracebackType

    from .templates import Templates

Send = Callable[[Event], None]
RowOutcome = tuple[str, CallUsage] | Exception
"""How a call ended: the model that finished it and its usage, or the error it finally failed with."""
OnText = Callable[[str], bool]
"""Receives each piece of a call's text; returns False when the rest of the call is not needed."""
OnRestart = Callable[[], None]
"""Called before a retry that starts a new generation: forget (and withdraw) the broken attempt's text."""

#: a stream is a runaway (the server ignores max_tokens) past this many chunks, or characters, per token asked
#: for: every text chunk holds at least one token (a provider may join several in one), and tokens average about
#: four characters. Past the chunks' bound only once its text is also past the budget (``estimated_tokens``): a
#: smoothing proxy streams a character or two an event, and its answers within budget were cut, marked ``length``
RUNAWAY_CHUNKS_PER_TOKEN = 2
RUNAWAY_CHARS_PER_TOKEN = 16
#: the slowest a model is taken to reason while it shows none of it (a Claude whose thinking is omitted sends only
#: pings): such signs of life keep a call alive for ``REASONING_CAP`` tokens at this rate at most (27 minutes), as a
#: stuck server or proxy may ping forever (the budget the user set may be in ``extra_body``, unknown here)
HIDDEN_TOKENS_PER_S = 20
#: a call that spent its whole token budget before any text (OpenAI's reasoning models count their hidden
#: reasoning against it) goes again with this many times its budget, at least ``REASONING_FLOOR`` tokens (the LLM
#: router's 16 leave no room to reason) and at most ``REASONING_CAP`` (models' output limits start at 16K-64K; a
#: budget above the model's is refused, and then the asked one is sent again), as every later call of that model does
REASONING_SCALE, REASONING_FLOOR, REASONING_CAP = 8, 1024, 32768
#: a prompt of this many tokens or more (as estimated) that the server says it read a quarter of was cut by it
PROMPT_CUT_FROM = 2000
#: at most this many characters of a prefill's opening, or of a resumed text, that a server ignoring the prefill
#: writes again (``_unless_repeated``); a broken text shorter than ``ECHO_MIN_CHARS`` could open its own
#: continuation too, so it is written anew rather than resumed
REPEATED_CHARS, ECHO_CHARS, ECHO_MIN_CHARS = 24, 200, 12

#: retries, fallbacks and points left out, at INFO and WARNING (the SDKs' own retry logs are gone: sotkit's retries
#: replace theirs); shown once the application configures logging (a library's loggers get a NullHandler, not stderr)
log = logging.getLogger("sotkit")
log.addHandler(logging.NullHandler())


def log_retry(what: str, model: str, attempt: int, attempts: int, error: BaseException, wait: float) -> None:
    log.info("%s on %s: attempt %d of %d failed (%s); retrying in %.1f s", what, model, attempt, attempts,
             without_text(error), wait)


def log_fallback(what: str, model: str, error: BaseException, fallback: str) -> None:
    log.warning("%s failed on %s (%s); falling back to %s", what, model, without_text(error), fallback)


def log_left_out(what: str, model: str, error: BaseException) -> None:
    log.warning("%s failed on %s (%s); it is missing from the answer", what, model, without_text(error))


@dataclass(frozen=True)
class Backend:
    """A provider with its templates and its limits (shared by every request through one client)."""

    provider: Provider
    templates: Templates
    limits: Limits
    warned: set[Hashable] = field(default_factory=set, compare=False, repr=False)
    """Warnings already given about this model (a class, or a class and the kind of error): each once per client."""
    first_text_s: float | None = None
    """The wait for a first text where the request's ``first_token_timeout`` is none: an API fallback's behind an
    in-process model (whose defaults set none), as the SDK clients sotkit makes read without a timeout of their own."""

    @property
    def model(self) -> str:
        return self.provider.model


@dataclass(frozen=True)
class Call:
    """One completion to run: its request for a given backend, where its text goes, and what to forget when a
    retry starts a new generation. ``point`` is the SoT point it writes (``None``: the skeleton, a sequential
    answer or the router), for attempt counts and events."""

    build: Callable[[Backend], ChatRequest]
    on_text: OnText
    on_restart: OnRestart
    point: Point | None = None
    role: str = "point"
    """What the call writes, for its trace: ``skeleton``, ``point``, ``sequential``, ``router``, or a template."""
    on_start: Callable[[Backend], None] | None = None
    """Called when a backend starts the call with nothing written yet (the main model, or a fallback after it
    failed before any text): where a reply continues a prefill depends on the backend."""
    deadline: float = math.inf
    """sotkit's own bound on the call besides the request's ``deadline=`` (the LLM router's timeout), on the event
    loop's clock: a retry that could not start before either is not waited for."""
    on_refusal: Callable[[], None] | None = None
    """Called where a refusal sent in place of the model's text begins (``REFUSED``): the text after it is the
    refusal's."""
    refuse: Callable[[str, CallUsage], Exception | None] | None = None
    """Called when a model (named, with its last attempt's usage) finished the call: an error it returns makes the
    call go on to the next backend, its text withdrawn, as if that model had failed (a sequential answer without
    text is no answer)."""
    on_no_answer: Callable[[StreamError], None] | None = None
    """Called where an attempt's text turned out to be no answer (a reasoning model's reasoning sent as the text),
    before it is withdrawn: what was built on it goes too (the points a skeleton started)."""

    @property
    def what(self) -> str:
        """The call as a log line names it: ``point 3``, ``skeleton``."""
        return f"point {self.point.index}" if self.point is not None else self.role


class Runner:
    """Runs one request's calls through fallback, retries, limits and the watchdog (see the module docstring).

    Every attempt's usage is added to ``usage``; ``spans`` collects the timing of each point call's first attempt
    that the main model answered (to tell a server that runs calls one at a time), and ``paced`` says whether the
    per-minute budgets held any call back (then the spans tell nothing of the server).
    """

    def __init__(self, backends: list[Backend], send: Send, usage: Usage, *, retry: RetryPolicy,
                 stall_timeout: float | None, first_token_timeout: float | None,
                 trace: RequestTrace = NO_TRACE) -> None:
        self.backends = backends
        self.trace = trace
        self.send = send
        self.retry = retry
        self.stall_timeout = stall_timeout
        self.first_token_timeout = first_token_timeout
        self.usage = usage
        self.spans: list[CallSpan] = []
        self.paced = False
        #: the request's ``deadline=`` on the event loop's clock (a caller's own timeout scope is no deadline of
        #: sotkit's: it cancels the request as it would any await, quietly or as its TimeoutError)
        self.deadline = math.inf
        self._pulses: dict[int, _Pulse] = {}  # per backend
        self.fallen_back_for: list[Exception] = []  # why each call went on from the main model to the fallback

    async def call(self, call: Call, backends: Sequence[Backend] | None = None,
                   received: list[str] | None = None, failed: Exception | None = None) -> tuple[str, CallUsage]:
        """Stream one completion through the backends in order; return the model that finished it and the usage
        of its last attempt. ``received``: text an earlier (batched) attempt already wrote, to continue;
        ``failed``: that attempt's error, an attempt of the main model's counted against its retries."""
        received = [] if received is None else received  # the current generation's raw text
        backends = backends or self.backends
        error: Exception | None = None
        first: Exception | None = None  # the main model's failure, which the fallback's error would hide
        # the call's span is current while its provider runs: an SDK's own spans become its children
        with self.trace.call(call.role, backends[0].model, call.point.index if call.point else None,
                             platform=backends[0].provider.platform) as span:
            for i, backend in enumerate(backends):
                if error is not None:
                    await anyio.lowlevel.checkpoint_if_cancelled()  # a request stopped meanwhile asks no fallback
                    span.fallback(error, backend.model, backend.provider.platform)
                    self.fell_back(call, backends[i - 1], error, backend)
                own = backend is backends[0]
                if own and failed is not None and self.retry.attempts <= 1:  # no retry left to it: the fallback
                    first = error = failed
                    continue
                if call.on_start is not None and not received:
                    call.on_start(backend)
                try:  # a fallback writes its own generation: what the model before it wrote is no text of its own
                    usage = await self._retried(backend, call, received, span, own=own,
                                                attempted=int(own and failed is not None))
                except AsyncioOnly:  # Redis limits on trio (aiohttp is refused as the request starts)
                    raise  # no fallback may hide it
                except Exception as exc:
                    error = exc
                else:
                    error = call.refuse(backend.model, usage) if call.refuse is not None else None
                    if error is None:
                        span.finished(backend.model, received)
                        return backend.model, usage
                    _forget(call, received)
                first = first or error
            assert error is not None
            if first is not None and error is not first:
                renote(error, f"(the fallback {backends[-1].model}'s error; {backends[0].model} failed first: "
                              f"{describe(first)})", " failed first: ")
            raise error

    async def call_batch(self, calls: Sequence[Call], on_row: Callable[[int, RowOutcome], None]) -> None:
        """Run ``calls`` as one batched generation on the main model (``supports_batch``); ``on_row(row, outcome)``
        gets, as soon as a row is over, the model that finished it and its usage, or the error it finally failed
        with. Rows the batch did not finish (it raised or stalled) are each retried as a single call through
        ``call``, continuing their text."""
        backend = self.backends[0]
        requests = [c.build(backend) for c in calls]
        received: list[list[str]] = [[] for _ in calls]
        over = [False] * len(calls)
        error: Exception | None = None
        try:
            with self.trace.call("points", backend.model, rows=len(calls), platform=backend.provider.platform) \
                    as span:
                try:
                    span.request(requests[0])
                    await backend.provider.ready()
                    asked = time.monotonic()
                    async with backend.limits.slot() as waited:
                        await self._admitted(backend, requests, waited, span, asked)
                        self.usage.calls += 1  # one batched call
                        for c in calls:
                            if c.point is not None:
                                c.point.attempts += 1
                        with self._watchdog(backend) as watchdog:
                            async with closing(backend.provider.stream_batch(requests)) as rows:
                                async for row, chunk in rows:
                                    if isinstance(chunk, CallUsage):
                                        self._account(chunk, backend.model, span, calls=0)
                                        over[row] = True
                                        on_row(row, (backend.model, chunk))  # finished: its point need not wait
                                    elif chunk is HELD:  # its text held back: progress, as text is
                                        watchdog.progress()
                                    elif isinstance(chunk, str) and chunk:
                                        watchdog.progress()
                                        if not received[row] and (point := calls[row].point) is not None:
                                            point.model = backend.model  # as a single call's first text does
                                        received[row].append(chunk)
                                        calls[row].on_text(chunk)  # a row cannot be ended alone: the batch runs on
                        watchdog.check()
                finally:  # rows it did not finish (it failed, or was cancelled) wrote what was paid for, uncounted
                    cut = [row for row, text in enumerate(received) if text and not over[row]]
                    if cut:  # one estimate for the batch: one call, its counts partly sotkit's
                        written = sum(char_weight(piece) for row in cut for piece in received[row])
                        self._account(CallUsage.estimate(sum(requests[row].prompt.chars for row in cut), written),
                                      backend.model, span, calls=0)
        except Exception as exc:  # the rows it did not finish are retried below
            error = exc

        async def retry_row(row: int) -> None:
            call = calls[row]
            if error is not None and self.retry.attempts > 1:  # its first single attempt starts at once (the
                self._on_retry(1, error, 0.0, call, backend, NO_CALL)  # batch's span has ended)
            try:
                outcome: RowOutcome = await self.call(call, received=received[row], failed=error)
            except Exception as exc:
                outcome = exc
            on_row(row, outcome)

        async with anyio.create_task_group() as tg:
            for row in range(len(calls)):
                if not over[row]:
                    tg.start_soon(retry_row, row)

    # -- the layers ----------------------------------------------------------------------------------------

    async def _retried(self, backend: Backend, call: Call, received: list[str], span: CallTrace,
                       own: bool = True, attempted: int = 0) -> CallUsage:
        """The backend's attempts at the call, after the ``attempted`` it made. ``own``: ``received`` is this
        backend's generation (a batched row's), which a provider that takes a prefill continues; another model's
        text goes once this backend writes."""
        request = call.build(backend)
        span.request(request, prefill=backend.provider.supports_prefill)
        attempt = attempted
        prefill = backend.provider.supports_prefill  # what the call's text was set up to continue
        stale = bool(received) and not own  # until this backend writes, the text is another model's
        while True:
            attempt += 1
            sent = _scaled(request, backend.provider.budget_scale, backend.limits.tpm,
                           backend.provider.sent_max_tokens)
            if sent is not request:  # the span tells the budget the model was asked for, not the option's
                span.request(sent, prefill=backend.provider.supports_prefill)
            try:
                await backend.provider.ready()
                asked = time.monotonic()
                async with backend.limits.slot() as waited:
                    await self._admitted(backend, [sent], waited, span, asked)
                    if prefill != backend.provider.supports_prefill:  # its server refused a prefill meanwhile
                        prefill = False
                        if not received:  # else the restart below forgets it once the new attempt writes
                            _start_over(backend, call, received)
                    # a broken attempt's text is continued only by a model known to continue a prefill: a server
                    # that ignores one has a sampled model write anew, and the two texts would be spliced (nor, on
                    # a server, a text too short to be found again if it is written anew: see _openings)
                    resumes = prefill and backend.provider.prefill_known \
                        and (backend.provider.in_process or _echo_of(received) is not None)
                    restart = bool(received) and (stale or not resumes)  # a new generation (see _watched)
                    before = list(received) if stale else None
                    try:
                        done = "" if restart else "".join(received)
                        usage = await self._watched(backend, _resume(sent, done), call, received, span,
                                                    restart, _openings(backend, sent, done), stale)
                    finally:
                        stale = stale and received == before  # no text came: still the other model's
                if received or sent is not request or backend.provider.budget_fixed or not _all_reasoning(usage, sent) \
                        or _scaled(request, REASONING_SCALE, backend.limits.tpm,
                                   backend.provider.sent_max_tokens) is request:  # no larger budget:
                    return usage
                attempt -= 1  # no failure: the same call goes again at once, with room to write after reasoning
                if backend.provider.budget_scale == 1:
                    backend.provider.budget_scale = REASONING_SCALE
                    within = "" if backend.limits.tpm is None else \
                        f", within tpm={backend.limits.tpm:g}, which then paces its calls (each is charged its budget)"
                    # as the server counted it: Anthropic's thinking budget goes on top of the call's own
                    spent = sent.max_tokens if usage.estimated else max(sent.max_tokens, usage.output_tokens)
                    advise(f"{backend.model} spent a call's whole budget ({spent} tokens) before any text "
                           f"(reasoning, most likely): its calls are asked for {REASONING_SCALE} times their budget "
                           f"({REASONING_FLOOR} to {REASONING_CAP} tokens{within}) from now on")
            except SendAgain:  # no attempt at the text: the same call goes again at once, without what was refused
                attempt -= 1
                if call.point is not None:
                    call.point.attempts -= 1
            except Exception as error:
                if sent is not request and status_of(error) == 400 and backend.provider.budget_scale != 1:
                    # the raised budget may be more than the model takes: its own again, for good
                    backend.provider.budget_scale, backend.provider.budget_fixed = 1, True
                    advise(f"{backend.model} refused a call with the raised budget ({sent.max_tokens} tokens; "
                           f"{describe(error)}): its calls are asked for their own budget again")
                    attempt -= 1
                    continue
                # read after a failure: a provider's list may name SDK classes it imports at its first call
                if attempt >= self.retry.attempts or not is_retryable(error, backend.provider.transient_errors):
                    raise
                wait = self.retry.wait_s(attempt, error)  # a demand over max_wait_s raises RetryAfterTooLong
                if anyio.current_time() + wait >= min(self.deadline, call.deadline):
                    # no retry could start before the deadline: fail now (or fall back), with the reason and why
                    renote(error, f"(attempt {attempt} of {self.retry.attempts}; not retried: the wait of "
                                  f"{wait:.1f} s would end past the deadline)", "; not retried: ")
                    raise
                self._on_retry(attempt, error, wait, call, backend, span)
                await anyio.sleep(wait)

    async def _admitted(self, backend: Backend, requests: Sequence[ChatRequest], waited: bool, span: CallTrace,
                        asked: float) -> None:
        """Wait for the model's per-minute budgets (after the provider's set-up, which counts against none); a
        call that waited for them or for its concurrency slot (``waited``) was spaced by the client (not timed for
        that: a process starved of CPU would pass for one that waited), and its span says how long since ``asked``
        (its duration is no API latency)."""
        charged = [estimate_tokens(r.prompt.chars, backend.provider.sent_max_tokens(r.max_tokens)) for r in requests]
        if backend.limits.tpm is not None:  # (a batch's rows, each a call to the model, may go past it together)
            check_fits(max(charged), backend.limits.tpm)
        budgets = await backend.limits.admit(sum(charged))
        self.paced = self.paced or waited or budgets
        if waited or budgets:
            span.queued(time.monotonic() - asked)

    async def _watched(self, backend: Backend, request: ChatRequest, call: Call, received: list[str],
                       span: CallTrace, restart: bool = False, openings: tuple[Opening, ...] = (),
                       stale: bool = False) -> CallUsage:
        """One attempt. ``restart``: ``received`` is a broken generation's text, which this attempt does not
        continue; it goes (``Call.on_restart``) at this attempt's first text, or at its end if it wrote none, so that
        an attempt that fails before any text leaves it to the error's partial answer; ``stale``: another model's
        (a fallback's first attempt). ``openings``: see ``_unless_repeated``."""
        if call.point is not None:
            call.point.attempts += 1
        usage: CallUsage | None = None  # what the provider reports last
        counted: CallUsage | None = None  # the prompt's counts, where the provider sent them ahead (``partial``)
        # of this attempt (reasoned: characters of reasoning, billed as output; weight: chars' ``char_weight``)
        chunks = chars = weight = reasoned = 0
        # A server that ignores max_tokens would stream forever: past these it is ended as if at the limit.
        max_chunks = RUNAWAY_CHUNKS_PER_TOKEN * request.max_tokens + 8
        max_chars = RUNAWAY_CHARS_PER_TOKEN * request.max_tokens + 64
        # Reasoning may not count against max_tokens (DeepSeek's reasoner: up to 32K tokens of it): its bounds are
        # REASONING_CAP's at least, its characters as a runaway's, and signs of life alone (pings) at
        # HIDDEN_TOKENS_PER_S.
        reasoning_budget = max(request.max_tokens, REASONING_CAP)
        max_reasoned, hidden_s = RUNAWAY_CHARS_PER_TOKEN * reasoning_budget, reasoning_budget / HIDDEN_TOKENS_PER_S
        sent, first_text, last_text = time.monotonic(), None, None
        shown = sent  # when reasoning last came (its characters, not a sign of life alone)
        started = False  # the server took the request (STARTED): its prompt is paid for, though no counts come
        with self._watchdog(backend) as watchdog:
            try:
                stream = backend.provider.stream(request)
                async with closing(_unless_repeated(stream, openings, backend.provider) if openings else stream) \
                        as stream:
                    async for chunk in stream:
                        if isinstance(chunk, CallUsage):
                            if chunk.partial:
                                counted = chunk
                            else:
                                usage = chunk
                            continue
                        if isinstance(chunk, Thinking):  # a reasoning model at work: alive, though no text yet
                            reasoned += chunk.chars
                            now = time.monotonic()
                            shown = now if chunk.progress else shown
                            # white space reasoned is no sign of life, as white space written is none: a stuck
                            # server's or model's, it may come forever (probe 259: one space every 29 s, for months)
                            if now - shown < hidden_s and (chunk.progress or not chunk.chars):
                                watchdog.progress(text=False)
                            if reasoned > max_reasoned:  # a runaway that reasons on: ended as at its limit
                                usage = dataclasses.replace(
                                    CallUsage.estimate(request.prompt.chars, weight + reasoned, counted),
                                    finish_reason=backend.provider.length_reason)
                                break
                            continue
                        if chunk is STARTED:
                            started = True
                            continue
                        if chunk is HELD:  # an in-process model's text, held back for now: progress, as text is
                            watchdog.progress()
                            continue
                        if chunk is ENDED:
                            watchdog.rest()
                            continue
                        if chunk is REFUSED:
                            if call.on_refusal is not None:
                                call.on_refusal()
                            continue
                        if not chunk:
                            continue
                        text = cast(str, chunk)  # (every signal a provider sends is taken above)
                        # white space alone is no progress (a degenerate model's, or a keep-alive's): it may come
                        # forever, and it makes no answer
                        now = time.monotonic() if text.isspace() else watchdog.progress()
                        if first_text is None and call.point is not None:
                            call.point.model = backend.model  # who wrote its text, also where the answer stops here
                        first_text, last_text = first_text or now, now
                        kept = text[:max_chars - chars]  # a runaway's text is kept up to the bound, no further
                        if restart:
                            restart = False
                            _start_over(backend, call, received)
                        received.append(kept)
                        chunks, chars, weight = chunks + 1, chars + len(kept), weight + char_weight(kept)
                        runaway = chunks > max_chunks and estimated_tokens(weight) > request.max_tokens \
                            or len(kept) < len(text)
                        if not call.on_text(kept) or runaway:
                            # Stop paying for text that will be thrown away; the usage the provider would have
                            # reported last is estimated (a runaway at least its whole budget: it ignored it).
                            usage = CallUsage.estimate(request.prompt.chars, weight + reasoned, counted)
                            if runaway:
                                usage = dataclasses.replace(usage, finish_reason=backend.provider.length_reason,
                                                            output_tokens=max(usage.output_tokens, request.max_tokens))
                            break
            except StreamError as error:
                # the text was no answer, also an earlier try's this one would have replaced; not another model's,
                # which this one has not replaced yet (restart is over at the first text)
                if error.no_answer and not (restart and stale):
                    if call.on_no_answer is not None:  # (before the text goes: what was built on it is still known)
                        call.on_no_answer(error)
                    if received:
                        _forget(call, received)  # it goes, not to the error's partial
                raise
            except SendAgain as again:
                weight += char_weight(again.written)  # held back, never shown, but written (and paid for)
                raise
            finally:
                if usage is None:  # the attempt broke or was cancelled before its counts: what it used was paid for
                    output = weight + reasoned
                    # (counts sent ahead come after STARTED)
                    usage = CallUsage.estimate(request.prompt.chars, output, counted) if started or output \
                        else CallUsage()
                self._account(usage, backend.model, span)
        assert usage is not None  # (set in the finally above, where the stream had not)
        # (a point's prompt shares the skeleton's opening, which a server may count as cached; the LLM router's, a
        # client of its own on another model, reads the question the skeleton's call reads too)
        if call.point is None and call.role != "router":
            _check_prompt_read(usage, request, backend)
        watchdog.check(answered=started, unanswered=backend.provider.says_started and not started)
        if restart:  # it ended without text, where the broken attempt before it wrote some
            if not usage.cut_off(request.max_tokens):  # no answer: what the broken one wrote stays, for the error
                raise StreamError("an attempt after one that broke off ended without any text")
            _start_over(backend, call, received)  # the budget spent reasoning: the call goes on with more
        # the first attempts only: they were sent together; a retry goes out on its own, later
        if call.point is not None and call.point.attempts == 1 and backend is self.backends[0] \
                and first_text is not None:
            assert last_text is not None  # set with first_text
            self.spans.append(CallSpan(sent, first_text, last_text))
        return dataclasses.replace(usage, reasoned=reasoned) if reasoned else usage

    def _watchdog(self, backend: Backend) -> _Watchdog:
        # an in-process fallback waits for its turn on the model (and may load it first): no first-text bound
        first = self.first_token_timeout if self.first_token_timeout is not None else backend.first_text_s
        if backend.provider.in_process and backend is not self.backends[0]:
            first = None
        return _Watchdog(backend.model, first, self.stall_timeout, self._pulses.setdefault(id(backend), _Pulse()))

    # -- bookkeeping ---------------------------------------------------------------------------------------

    def _on_retry(self, attempt: int, error: Exception, wait: float, call: Call, backend: Backend,
                  span: CallTrace) -> None:
        span.retry(attempt, error, wait)
        log_retry(call.what, backend.model, attempt, self.retry.attempts, error, wait)
        self.send(RetryEvent(call.point.index if call.point else None, attempt, status_of(error), wait,
                             describe(error), call.role))

    def fell_back(self, call: Call, failed: Backend, error: Exception, fallback: Backend) -> None:
        """``call`` goes on from ``failed`` to ``fallback``: logged, and sent as a ``FallbackEvent``."""
        log_fallback(call.what, failed.model, error, fallback.model)
        self.send(FallbackEvent(call.point.index if call.point else None, call.role, failed.model, fallback.model,
                                answered_status(error), describe(error)))
        self.fallen_back_for.append(error)

    def _account(self, usage: CallUsage, model: str, span: CallTrace, calls: int = 1) -> None:
        span.usage(usage)
        cached = (usage.cache_read_tokens, usage.cache_write_tokens)
        priced = (model, usage.input_tokens, usage.output_tokens, *cached, usage.service_tier, time.time(),
                  usage.cache_write_1h_tokens, usage.web_searches)
        self.usage.add(Usage(usage.input_tokens, usage.output_tokens, calls, int(usage.estimated), *cached,
                             usage.web_searches, priced_calls=[priced]))


def _check_prompt_read(usage: CallUsage, request: ChatRequest, backend: Backend) -> None:
    """Warn (once per client and model) where the server says it read under a quarter of a long prompt: an
    OpenAI-compatible server may cut a prompt to its context size and answer the rest (Ollama's ``num_ctx``, 2,048 or
    4,096 tokens by default), which nothing else shows. A quarter leaves room for a tokenizer that packs up to 16
    characters in a token on average, four times the estimate's four (padded tables, repeated words; a document
    mostly of separator lines, 24-30 characters a token, is the case it may take for cut)."""
    expected, read = estimated_tokens(request.prompt.chars), usage.input_tokens  # (cached tokens in it, as providers
    # count them here); 0 is no count at all
    if usage.estimated or not read or expected < PROMPT_CUT_FROM or read * 4 >= expected \
            or PromptCutWarning in backend.warned:
        return
    backend.warned.add(PromptCutWarning)
    advise(f"{backend.model}'s server reported reading {read:,} input tokens of a prompt of about {expected:,}: it may "
           "cut prompts to its context size without an error (Ollama's num_ctx, say) and answer part of the question; "
           "raise the server's context size, or shorten the question or its context (a server that counts only the "
           "tokens it had not cached reads the same; warned once per client and model)", PromptCutWarning)


def _scaled(request: ChatRequest, scale: int, tpm: float | None = None,
            sent: Callable[[int], int] = lambda max_tokens: max_tokens) -> ChatRequest:
    """``request`` with its budget raised ``scale`` times, within what a ``tpm`` leaves after its prompt, as ``sent``
    (``Provider.sent_max_tokens``: a thinking budget on top of a raise at or below it; review 286)."""
    budget = min(max(request.max_tokens * scale, REASONING_FLOOR), REASONING_CAP)
    room = math.inf if tpm is None else int(tpm) - estimated_tokens(request.prompt.chars)
    if sent(budget) > room:  # no more than a minute's tokens-per-minute budget, nor a raise too small to help (it
        # waits a minute): twice the call's room for text at least, past what is sent on top of it (a thinking
        # budget: review 287's 4,300 sent again a minute later, review 289's no raise at all)
        most, on_top = int(room), sent(request.max_tokens) - request.max_tokens  # (room is finite here)
        helps = sent(most) <= most and most - on_top >= 2 * request.max_tokens
        budget = most if helps else request.max_tokens
    return request if scale == 1 or budget <= request.max_tokens else dataclasses.replace(request, max_tokens=budget)


def _all_reasoning(usage: CallUsage, request: ChatRequest) -> bool:
    """Did a call that wrote no text end at its token budget (its tokens all hidden reasoning)?"""
    return usage.finish_reason in AT_BUDGET and usage.cut_off(request.max_tokens)


def _forget(call: Call, received: list[str]) -> None:
    """A new generation starts: what the call's broken one wrote goes (``Call.on_restart`` withdraws it)."""
    received.clear()
    call.on_restart()


def _start_over(backend: Backend, call: Call, received: list[str]) -> None:
    """Start ``call`` anew on ``backend`` as a text written from its start, not one continuing a prefill."""
    _forget(call, received)
    if call.on_start is not None:
        call.on_start(backend)


#: what a server that ignores the prefill would write again, and whether it is all of the prefill: repeated only
#: where the reply does not go on with its last word or number ("1." again is "1. Sleep"; "1.5 miles" goes on)
Opening = tuple[str, bool]


#: a prefill that is a list's bullet (a template that asks for its skeleton so: probe 305, its first point was lost),
#: and what a server that ignores it writes first: a bullet (it need not be the prefill's) and white space
_BULLETS = ("-", "*", "+", "•")
_SPACES = " \t\u00a0"  # white space within a line
_BULLET_OPENINGS = tuple(bullet + space for bullet in _BULLETS for space in _SPACES)


def _openings(backend: Backend, request: ChatRequest, done: str) -> tuple[Opening, ...]:
    """What a server that ignores an assistant prefill writes first, where a server that continues it never would:
    on a first attempt, the prefill's opening (``1.`` of a skeleton, a point's ``2. Title:``, a bullet and a space;
    not another without a letter or digit, "#", "[", which a model may well write on from); on one resuming
    ``done`` (a broken attempt's text: only a model known to continue a prefill resumes, but a gateway or an alias
    may carry its name), that text written again from its start, as a whole (a continuation may open with its
    first words: a table's next row). None for an in-process model, which sotkit itself gives its prefill."""
    if not backend.provider.supports_prefill or backend.provider.in_process:
        return ()
    prefill = (request.prompt.prefill or "").strip()
    if done:
        return tuple(dict.fromkeys((text, False) for text in (_echo_of([done]), _echo_of([prefill, done])) if text))
    opening = prefill[:REPEATED_CHARS]
    if opening in _BULLETS:  # a model going on from it writes no second bullet
        return tuple((bullet, False) for bullet in _BULLET_OPENINGS)
    return ((opening, opening == prefill),) if any(c.isalnum() for c in opening) else ()


def _echo_of(text: list[str]) -> str | None:
    """What a resumed reply written again from its start would open with: the pieces' text (``ECHO_CHARS`` of it
    at most); None where it is too short to tell from a continuation of its own (``ECHO_MIN_CHARS``)."""
    joined = "".join(text).strip()
    return joined[:ECHO_CHARS] if len(joined) >= ECHO_MIN_CHARS else None


def _repeated(text: str, openings: tuple[Opening, ...]) -> bool | None:
    """Does ``text`` open with one of ``openings``, after white space (a bullet's after spaces alone: after a line
    break it is the next item of a model that went on from it, review 306)? None while it cannot tell yet."""
    undecided, stripped, spaced = False, text.lstrip(), text.lstrip(_SPACES)
    for opening, bounded in openings:
        seen = spaced if opening in _BULLET_OPENINGS else stripped
        if seen.startswith(opening):
            after = seen[len(opening):len(opening) + 1]
            if not bounded or after and not goes_on(opening, after):
                return True
            undecided = undecided or not after  # its next character says
        undecided = undecided or opening.startswith(seen)
    return None if undecided else False


async def _unless_repeated(stream: AsyncIterator[Chunk], openings: tuple[Opening, ...], provider: Provider
                           ) -> AsyncIterator[Chunk]:
    """``stream``, its text held back until it shows whether the server continued the prefill or wrote its answer
    from the start, repeating one of its ``openings``, as a gateway that renders the messages through a chat template
    does: such a skeleton would be read as "1.1. Title", losing its first point, and a resumed text would be
    spliced to itself written again. The provider then sends no prefill (``SendAgain``), as after a refusal."""
    held: str | None = ""
    counts: CallUsage | None = None  # what came while undecided: a provider reports them also when a stream breaks
    async with closing(stream):
        async for chunk in stream:
            if held is not None and isinstance(chunk, str):
                held += chunk
                repeated = _repeated(held, openings)
                if repeated:
                    # its name said otherwise: a gateway's or an alias's (said once, by the first call to find it)
                    warn, provider.supports_prefill = provider.supports_prefill and provider.prefill_known, False
                    if warn:
                        advise(f"{provider.model} wrote its answer from the start, not on from the assistant prefill "
                               "(a gateway or alias that ignores prefills?); it is sent none from now on, and a broken "
                               "call is written anew, not resumed")
                    again = SendAgain(f"{provider.model} wrote its answer from the start, not on from the assistant "
                                      "prefill; it is sent none from now on")
                    again.written = held
                    raise again
                if repeated is None:
                    continue  # undecided yet
                chunk, held = held, None
            elif held and isinstance(chunk, CallUsage) and not chunk.partial:
                counts = chunk
                continue
            elif held and chunk is REFUSED:  # the text before a refusal was the model's own
                yield held
                held = None
            yield chunk
    if held:  # the text ended, whole, while undecided: it was the model's
        yield held
    if counts is not None:
        yield counts


def _resume(request: ChatRequest, done: str) -> ChatRequest:
    """The request for an attempt that continues ``done``, the text received so far (only a model known to continue a
    prefill is asked to): it is appended to the prefill, and the tokens it took (about four characters each) come off
    the call's budget."""
    if not done:
        return request
    prompt = dataclasses.replace(request.prompt, prefill=(request.prompt.prefill or "") + done)
    tokens = estimated_tokens(char_weight(done))
    return dataclasses.replace(request, prompt=prompt, max_tokens=max(1, request.max_tokens - tokens))


class _Pulse:
    """The calls of one request to one model. A server that decodes one request at a time (llama-cpp-python; Ollama
    with one slot) writes the points in turn, each one's first text a whole point after the one before: while one
    call alone writes, those still waiting for their first text wait on. Where several write at once the server
    is parallel, and a call that waits waits on its own; a hung one among them is found once no call writes alone
    (while one does, the hung one looks queued behind it)."""

    def __init__(self) -> None:
        self.waiting: set[_Watchdog] = set()
        self.writing: set[_Watchdog] = set()
        self.joined = False  # a call began to wait since the last beat: the writer's next text beats at once

    def beat(self) -> None:
        self.joined = False
        if len(self.writing) == 1:
            for watchdog in self.waiting:
                watchdog.wait_more()


class _Watchdog:
    """A cancel scope around a whole stream whose deadline text pushes on: ``first_token_timeout`` from the start
    (or from the last text of another call of the request to the model writing alone, ``_Pulse``), then
    ``stall_timeout`` after each piece of text or reasoning (``THINKING``). Keep-alives and other text-free events, and
    text of white space alone, are no progress.

    One scope for the whole stream: a scope entered per chunk would interleave with any cancel scope the provider's
    generator holds across yields. Moving the scope's timer for every chunk cost 5% of the client's CPU with
    hundreds of streams, so it moves at most every quarter timeout, with a quarter to spare: a stall is caught
    after 1-1.25 timeouts.
    """

    def __init__(self, model: str, first_token_timeout: float | None, stall_timeout: float | None,
                 pulse: _Pulse) -> None:
        self.model = model
        self.first = first_token_timeout
        self.stall = stall_timeout or math.inf
        self._pulse = pulse
        self._every = min(self.stall, self.first or math.inf) / 4  # how often text moves the deadlines on
        self._push_at = -math.inf
        self._texts = 0
        self._alive = False  # text or reasoning came: the stall timeout, not the first-text one, is running

    def __enter__(self) -> _Watchdog:
        self._scope = anyio.CancelScope(deadline=anyio.current_time() + (self.first or math.inf))
        self._scope.__enter__()
        if self.first:
            self._pulse.waiting.add(self)
            self._pulse.joined = True
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> bool:
        self._pulse.waiting.discard(self)
        self._pulse.writing.discard(self)
        return bool(self._scope.__exit__(kind, error, tb))

    def progress(self, text: bool = True) -> float:
        """Text (or reasoning) arrived: push the deadline on, and those of the calls to the same model waiting for
        their first text, where this one writes alone (``_Pulse``; at most every quarter timeout). Returns the
        monotonic time."""
        now = time.monotonic()
        if not self._alive:
            self._pulse.waiting.discard(self)
            self._pulse.writing.add(self)
            self._alive = True
        if now >= self._push_at or self._pulse.joined:  # (a newcomer waits from the writer's latest text on)
            self._scope.deadline = anyio.current_time() + self.stall + self.stall / 4
            self._push_at = now + self._every
            self._pulse.beat()
        self._texts += text
        return now

    def rest(self) -> None:
        """The model's end came: what the provider reads after it (``AFTER_END_S`` at most) is no stall. Text after
        it (a relay's, that marks every chunk with an end) pushes the deadline on again; none, and the stream is
        stalled once that wait has passed."""
        self._scope.deadline = max(self._scope.deadline, anyio.current_time() + AFTER_END_S + 1.0)
        self._push_at = -math.inf

    def wait_more(self) -> None:
        """Another call to the model wrote: the server is at work, so the first text's wait starts again."""
        self._scope.deadline = max(self._scope.deadline, anyio.current_time() + self.first * 1.25)  # type: ignore

    def check(self, answered: bool = False, unanswered: bool = False) -> None:
        """Raise ``StreamStalled`` if the watchdog ended the stream (``answered``: after the server's 200;
        ``unanswered``: before any response, from a provider that says when one begins)."""
        if self._scope.cancelled_caught:
            waited = (f"{self.first} s for the first text" if not self._alive
                      else f"{self.stall} s for more text" if self._texts
                      else f"{self.stall} s after its reasoning")
            queued = "a server that decodes requests one at a time may have queued it behind others: set " \
                     "max_concurrency= to its slots"
            advice = "" if self._alive else (
                f"; no response came, not even its status line: check that a server answers at its base URL, with "
                f"the scheme it speaks (http:// or https://); one that answers only once it starts (a queue, a model "
                f"loading) needs a longer first_token_timeout= (timeout= where it is not given); {queued}"
                if unanswered else
                "; a reasoning model that streams none of its reasoning (OpenAI's; a Claude whose thinking is "
                "omitted, where no pings come) may think longer: raise first_token_timeout= (timeout= where it is "
                f"not given); {queued}")
            raise StreamStalled(f"{self.model} sent no text in {waited}{advice}", answered)
