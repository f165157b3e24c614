"""The request path: route, skeleton, expand, stitch, account.

One ``Request`` serves one question. Calls go through ``_call``: the backends in order (the model, then the
fallback), each under the retry policy, the model's concurrency slot (per attempt, so a sleeping retry
holds none) and its per-minute budgets. A call's text is always one generation: a retried stream resumes
where the broken one stopped only on a provider that continues a prefill (``supports_prefill``); elsewhere it
restarts, and text of the broken attempt that already reached the caller is withdrawn (``WithdrawEvent``).
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from .errors import DeadlineExceeded, EchoedInstructions, PartialResultError
from .events import (Event, PointDeltaEvent, PointDoneEvent, PointEvent, RetryEvent, RouteEvent, TextEvent,
                     WithdrawEvent)
from .expansion import ExpansionFilter
from .limits import Limits, estimate_tokens
from .options import check_choice, check_number, check_type
from .overlap import CallSpan, SerialServerWarning, one_at_a_time, serial_note
from .pricing import Prices
from .providers.base import CallUsage, ChatRequest, Provider
from .quality import Instructions
from .question import question_view
from .result import Mode, Point, Result, Usage
from .router import Decision, LLMRouter, Router
from .retry import RetryPolicy, StreamStalled, is_retryable, status_of
from .skeleton import LINE_TOKENS as SKELETON_LINE_TOKENS
from .skeleton import SkeletonParser, SkeletonPoint
from .stitch import Stitcher
from .templates import Templates

Send = Callable[[Event], None]
OnText = Callable[[str], bool]
"""Receives each piece of a call's text; returns False when the rest of the call is not needed."""
OnRestart = Callable[[], None]
"""Called before a retry that starts a new generation: forget (and withdraw) the broken attempt's text."""

#: a stream is a runaway (the server ignores max_tokens) past this many chunks, or characters, per token asked
#: for: every text chunk holds at least one token, and tokens average about four characters
RUNAWAY_CHUNKS_PER_TOKEN = 2
RUNAWAY_CHARS_PER_TOKEN = 16




@dataclass(frozen=True)
class Backend:
    """A provider with its templates and its limits (shared by every request through one client)."""

    provider: Provider
    templates: Templates
    limits: Limits
    warned: set[type[Warning]] = field(default_factory=set, compare=False, repr=False)
    """Warnings already given about this model: each is given once per client."""

    @property
    def model(self) -> str:
        return self.provider.model


@dataclass(frozen=True)
class RequestOptions:
    """Settings of one request; every field can be given per call to ``generate``/``stream``."""

    mode: Literal["auto", "sot", "sequential"] = "auto"
    max_points: int = 10
    skeleton_max_tokens: int = 300
    point_max_tokens: int = 300
    max_tokens: int = 1024
    temperature: float | None = None
    on_point_error: Literal["raise", "skip"] = "raise"
    deadline: float | None = None
    stall_timeout: float | None = 30.0
    """Seconds without text, between one piece of a call's text and the next, after which the call is retried
    (caught within a quarter more). Keep-alives and events without text do not count as progress."""
    first_token_timeout: float | None = 60.0
    """Seconds from a call's start to its first text after which it is retried. ``SoT`` sets it to its network
    ``timeout`` unless given; ``None`` for ``local:`` models, whose first call may load the model."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    eager: bool = True
    """Start each point's expansion as soon as its skeleton line is complete (else after the skeleton)."""
    context: str | None = None
    """A document to answer from: in the prompts (ahead of the question), or read natively by FocusLLM."""

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, ("auto", "sot", "sequential"))
        check_choice("on_point_error", self.on_point_error, ("raise", "skip"))
        for name in ("skeleton_max_tokens", "point_max_tokens", "max_tokens"):
            check_number(name, getattr(self, name), above=None, at_least=1, whole=True, optional=False)
        check_number("max_points", self.max_points, above=None, at_least=2, whole=True, optional=False)
        check_number("temperature", self.temperature, above=None, at_least=0, at_most=2)
        for name in ("deadline", "stall_timeout", "first_token_timeout"):
            check_number(name, getattr(self, name))
        if isinstance(self.retry, int) and not isinstance(self.retry, bool):  # retry=3: three attempts
            object.__setattr__(self, "retry", RetryPolicy(attempts=self.retry))
        check_type("retry", self.retry, RetryPolicy, "a RetryPolicy or a whole number of attempts")
        check_type("eager", self.eager, bool, "True or False")
        check_type("context", self.context, (str, type(None)), "a str or None")


class Request:
    def __init__(self, question: str, backends: list[Backend], options: RequestOptions, send: Send,
                 router: Router, *, template: str = "sequential", variables: Mapping[str, Any] | None = None,
                 prices: Prices | None = None) -> None:
        self.question = question
        self.template = template
        """The template of a sequential answer (another one for ``SoT.complete``), with its extra variables."""
        self.variables = dict(variables or {})
        self.backends = backends
        self.options = options
        self.send = send
        self.router = router
        self.usage = Usage(prices=prices)
        self.points: dict[int, Point] = {}
        self.stitcher = Stitcher()
        self.sequential_text = ""
        self.mode: Mode = "sot"
        self.reason: str | None = None
        self.errors: list[BaseException] = []
        self._started = 0.0
        self.timings_skeleton_s = 0.0
        self.first_point_at: float | None = None
        self.first_text_at: float | None = None
        self.skeleton_truncated = False
        self.expansion_spans: list[CallSpan] = []  # the main model's expansion calls, to tell a serial server

    # -- the request path --------------------------------------------------------------------------------

    async def run(self) -> Result:
        self._started = anyio.current_time()
        with anyio.move_on_after(self.options.deadline if self.options.deadline else math.inf) as scope:
            await self._answer()
        if scope.cancelled_caught:
            finished = [str(p.index) for p in self.points.values() if p.done]
            raise DeadlineExceeded(f"the request's deadline of {self.options.deadline} s passed; point(s) "
                                   f"{', '.join(finished) or 'none'} were finished (Point.done; the others are cut "
                                   "or missing)", self.result())
        failed = [p for p in self.points.values() if p.failed]
        if failed and self.options.on_point_error == "raise":
            numbers = ", ".join(str(p.index) for p in failed)
            raise PartialResultError(f"point(s) {numbers} failed after all attempts; the partial result holds "
                                     "the others (pass on_point_error='skip' to accept it, or fallback= to "
                                     "retry on another model)", self.result()) from self.errors[0]
        return self.result()

    async def _answer(self) -> None:
        if self.options.mode == "auto" and isinstance(self.router, LLMRouter):
            mode, reason = await self._sot_while_routing(self.router)
        else:
            mode, reason = await self._route()
            if mode == "sot":
                self.send(RouteEvent("sot", reason))
                found = await self._sot()
                if found < 2:
                    mode, reason = "sequential", f"the skeleton had {found} point(s), so the answer is sequential"
                    self.points.clear()
        if mode == "sequential":
            self.mode, self.reason = "sequential", reason
            self.send(RouteEvent("sequential", reason))
            await self._sequential()
        else:
            self.reason = f"{reason}; {self.reason}" if self.reason else reason
            if one_at_a_time(self.expansion_spans):
                self._note_serial_server()

    async def _route(self) -> tuple[Mode, str]:
        mode = self.options.mode
        if mode != "auto":
            return mode, f"mode={mode!r} was requested"
        decision = await self.router.decide(self.question)
        return decision.mode, decision.reason

    async def _sot_while_routing(self, router: LLMRouter) -> tuple[Mode, str]:
        """The prompting router's call runs beside the skeleton call, which streams meanwhile; nothing of the
        skeleton reaches the caller before the verdict, and a sequential verdict cancels the skeleton call."""
        verdict: list[Decision] = []
        decided = anyio.Event()

        async def route() -> None:
            decision = await self._ask(router)
            verdict.append(decision)
            if decision.mode == "sot":
                self.send(RouteEvent("sot", decision.reason))
            else:
                sketch.cancel()
            decided.set()

        found = 0
        async with anyio.create_task_group() as tg:
            tg.start_soon(route)
            with anyio.CancelScope() as sketch:
                found = await self._sot(decided)
            tg.cancel_scope.cancel()  # a skeleton short of two points is answered sequentially, whatever the verdict
        if verdict and verdict[0].mode == "sequential":
            return "sequential", verdict[0].reason
        if found < 2:
            self.points.clear()
            return "sequential", f"the skeleton had {found} point(s), so the answer is sequential"
        return "sot", verdict[0].reason

    async def _ask(self, router: LLMRouter) -> Decision:
        """The router's call, through the runner like every call; any failure falls back (never fails)."""
        request = router.request(self.question)
        backend = next((b for b in self.backends if b.provider is router.provider), None)
        if backend is None:  # a router on another model: the main model's limits still apply to it
            backend = Backend(router.provider, router.templates, self.backends[0].limits)
        parts: list[str] = []

        def on_text(text: str) -> bool:
            parts.append(text)
            return True

        try:
            with anyio.fail_after(router.timeout):
                await self._call(lambda b: request, on_text, None, [backend], on_restart=parts.clear)
            return router.read(request, "".join(parts))
        except Exception as exc:  # noqa: BLE001 -- routing must never fail the request
            return router.fall_back(self.question, exc)

    async def _sot(self, decided: anyio.Event | None = None) -> int:
        """Skeleton and expansions; returns how many points the skeleton had. With ``decided``, nothing starts
        (and nothing is sent) before that event is set."""
        backend = self.backends[0]
        parser = SkeletonParser(self.options.max_points, question=question_view(self.question))
        batch = backend.provider.supports_batch
        waiting: list[SkeletonPoint] = []  # parsed, not yet started: nothing starts before a second point

        # A batch needs every point, and eager=False waits too; otherwise points start as their lines end.
        wait_for_skeleton = batch or not self.options.eager
        skeleton_done = False

        def start(tg: anyio.abc.TaskGroup, new: list[SkeletonPoint]) -> None:
            nonlocal disagreed
            for sp in new:  # after a restart the new skeleton must agree with every point already started
                started = self.points.get(sp.index)
                if started is not None and started.title != sp.title:
                    disagreed = True
                    return
            waiting.extend(sp for sp in new if sp.index not in self.points)
            if not waiting or len(parser.points) < 2 or (wait_for_skeleton and not skeleton_done):
                return
            if decided is not None and not decided.is_set():
                return
            outline = [self._add_point(p) for p in parser.points]
            started = [self.points[sp.index] for sp in waiting]
            waiting.clear()
            if batch:
                tg.start_soon(self._expand_batch, started, outline)
            for point in [] if batch else started:
                tg.start_soon(self._expand, point, outline)

        def on_skeleton_text(text: str) -> bool:
            start(tg, parser.feed(text))
            return not parser.done and not disagreed

        def on_restart() -> None:  # a new generation of the skeleton, parsed afresh
            nonlocal parser
            parser = SkeletonParser(self.options.max_points, question=question_view(self.question))
            waiting.clear()

        skeleton_error: Exception | None = None
        disagreed = False
        async with anyio.create_task_group() as tg:
            def build(b: Backend) -> ChatRequest:
                request = self._request(b, "skeleton", self.options.skeleton_max_tokens)
                return dataclasses.replace(request, max_line_tokens=SKELETON_LINE_TOKENS)

            prefill = build(backend).prompt.prefill
            if prefill and backend.provider.supports_prefill:
                parser.feed(prefill.rstrip())  # the reply continues the prefill ("1.")
            try:
                await self._call(build, on_skeleton_text, None, on_restart=on_restart)
            except Exception as exc:  # keep what the skeleton wrote: two points or more still make an answer
                skeleton_error = exc
                self.reason = f"the skeleton call failed after {len(parser.points)} point(s): {exc!r}"
            skeleton_done = True
            self.timings_skeleton_s = anyio.current_time() - self._started
            if not disagreed:
                last = parser.finish()
                if decided is not None and len(parser.points) >= 2:
                    await decided.wait()
                start(tg, last)
            if disagreed or len(parser.points) < len(self.points):
                disagreed = True
                self.reason = (f"the skeleton was retried and its new generation disagreed with the "
                               f"{len(self.points)} point(s) already started; those are kept")
            found = len(self.points) or len(parser.points)
            self.skeleton_truncated = found >= 2 and (disagreed or skeleton_error is not None)
            if found < 2:
                tg.cancel_scope.cancel()
        if skeleton_error is not None and found < 2:
            raise skeleton_error
        return found

    def _request(self, backend: Backend, template: str, max_tokens: int, **variables: Any) -> ChatRequest:
        """Render a template into a request; the context goes to the provider natively or into the prompt."""
        context = self.options.context
        native = backend.provider.supports_context
        prompt = backend.templates.render(template, question=self.question, context=None if native else context,
                                          **variables)
        return ChatRequest(prompt, max_tokens, prompt.stop, self.options.temperature, context if native else None)

    def _add_point(self, sp: SkeletonPoint) -> Point:
        if sp.index not in self.points:
            self.points[sp.index] = Point(sp.index, sp.title)
            self.first_point_at = self.first_point_at or anyio.current_time() - self._started
            self.send(PointEvent(sp.index, sp.title))
            self._emit(self.stitcher.add_point(sp.index, sp.title))
        return self.points[sp.index]

    def _expand_request(self, backend: Backend, point: Point, outline: list[Point],
                        retry: bool = False) -> ChatRequest:
        request = self._request(backend, "expand", self.options.point_max_tokens,
                                points=[{"index": p.index, "title": p.title} for p in outline],
                                point={"index": point.index, "title": point.title})
        if retry:  # the point echoed its instructions: start its answer with a header it did not have
            prefill = next(p for p in (f"{point.title}:", f"{point.index}. {point.title}:") if p != request.prompt.prefill)
            request = dataclasses.replace(request, prompt=dataclasses.replace(request.prompt, prefill=prefill))
        return request

    def _expansion_filter(self, point: Point, outline: list[Point], backends: list[Backend]) -> ExpansionFilter:
        prompt = self._expand_request(backends[0], point, outline).prompt
        instructions = Instructions(f"{prompt.system or ''}\n{prompt.user}",
                                    quoted=(self.question, point.title, self.options.context or ""))
        return ExpansionFilter(point.index, point.title, strip_header=True,
                               whole_sentences=backends[0].provider.whole_sentences,
                               other_titles=[p.title for p in outline if p is not point], instructions=instructions)

    @staticmethod
    def _echo_only(point: Point, cleaner: ExpansionFilter) -> bool:
        """Nothing but echoes of its prompt: retried once with a header prefilled where the provider takes a
        prefill, else (or again) sent to the fallback model, else failed."""
        return cleaner.echoed and not point.text.strip()

    @staticmethod
    def _echo_error(point: Point, retried: bool) -> EchoedInstructions:
        return EchoedInstructions(f"point {point.index} ({point.title!r}) only repeated its prompt"
                                  + (", also when retried with a prefill" if retried else ""))

    async def _expand(self, point: Point, outline: list[Point], backends: list[Backend] | None = None,
                      retry: bool = False) -> None:
        backends = backends or self.backends
        cleaner = self._expansion_filter(point, outline, backends)

        def on_text(raw: str) -> bool:
            self._point_text(point, cleaner.feed(raw))
            return not cleaner.finished  # it ran on into the next point

        def on_restart() -> None:
            nonlocal cleaner
            cleaner = self._expansion_filter(point, outline, backends)
            self._withdraw(point)

        try:
            point.model, usage = await self._call(lambda b: self._expand_request(b, point, outline, retry), on_text,
                                                  point, backends, on_restart=on_restart)
        except Exception as exc:  # recorded; run() raises or skips once every other point is done
            self._point_text(point, cleaner.finish())
            self._fail(point, exc)
            return
        self._point_text(point, cleaner.finish(cut=usage.output_tokens >= self.options.point_max_tokens))
        if not self._echo_only(point, cleaner):
            self._finish_point(point)
        elif not retry and backends[0].provider.supports_prefill:
            await self._expand(point, outline, backends, retry=True)
        elif len(backends) > 1:
            await self._expand(point, outline, backends[1:])
        else:
            self._fail(point, self._echo_error(point, retry))

    async def _expand_batch(self, points: list[Point], outline: list[Point], retry: bool = False) -> None:
        """In-process models expand every point in one batched generation (a row ends with its usage)."""
        backend = self.backends[0]
        cleaners = [self._expansion_filter(p, outline, self.backends) for p in points]
        requests = [self._expand_request(backend, p, outline, retry) for p in points]
        finished: set[int] = set()
        cut: set[int] = set()  # rows that ended at their token budget
        error: Exception | None = None
        try:
            async with backend.limits.slot():
                self.usage.calls += 1  # one batched call
                for p in points:
                    p.attempts += 1
                async with aclosing(backend.provider.stream_batch(requests)) as rows:
                    async for row, chunk in rows:
                        if isinstance(chunk, CallUsage):
                            self._account(chunk, backend.model, calls=0)
                            finished.add(row)
                            if chunk.output_tokens >= self.options.point_max_tokens:
                                cut.add(row)
                        else:
                            self._point_text(points[row], cleaners[row].feed(chunk))
        except Exception as exc:
            error = exc
        to_fallback, to_retry = [], []
        for row, (point, cleaner) in enumerate(zip(points, cleaners)):
            self._point_text(point, cleaner.finish(cut=row in cut))
            echo_only = self._echo_only(point, cleaner)
            if (error is None or row in finished) and not echo_only:
                point.model = backend.model
                self._finish_point(point)
            elif echo_only and not retry and backend.provider.supports_prefill:
                to_retry.append(point)
            elif (echo_only or not cleaner.raw) and len(self.backends) > 1:
                to_fallback.append(point)
            else:
                self._fail(point, self._echo_error(point, retry) if echo_only else error)
        async with anyio.create_task_group() as tg:
            if to_retry:
                tg.start_soon(self._expand_batch, to_retry, outline, True)
            for point in to_fallback:
                tg.start_soon(self._expand, point, outline, self.backends[1:])

    async def _sequential(self) -> None:
        def on_text(text: str) -> bool:
            self.sequential_text += text
            self._emit([TextEvent(text)])
            return True

        def on_restart() -> None:
            if self.sequential_text:
                self.send(WithdrawEvent(None, self.sequential_text))
                self.sequential_text = ""

        await self._call(lambda b: self._request(b, self.template, self.options.max_tokens, **self.variables),
                         on_text, None, on_restart=on_restart)

    # -- one call, through retries and fallbacks ----------------------------------------------------------

    async def _call(self, build: Callable[[Backend], ChatRequest], on_text: OnText, point: Point | None,
                    backends: list[Backend] | None = None, *, on_restart: OnRestart) -> tuple[str, CallUsage]:
        """Stream one completion through the backends in order; return the model that finished it and the
        usage of its last attempt."""
        received: list[str] = []  # the current generation's raw text: a retry continues it, or restarts
        error: Exception | None = None
        for backend in backends or self.backends:
            try:
                return backend.model, await self._call_backend(backend, build(backend), on_text, point, received,
                                                               on_restart)
            except Exception as exc:
                error = exc
        assert error is not None
        raise error

    async def _call_backend(self, backend: Backend, request: ChatRequest, on_text: OnText, point: Point | None,
                            received: list[str], on_restart: OnRestart) -> CallUsage:
        policy = self.options.retry
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts),
            wait=lambda state: policy.wait_s(state.attempt_number, state.outcome.exception()),
            # read after a failure: a provider's list may name SDK classes it imports at its first call
            retry=retry_if_exception(lambda exc: is_retryable(exc, backend.provider.transient_errors)),
            before_sleep=lambda state: self._on_retry(state, point),
            sleep=anyio.sleep,
            reraise=True,
        )
        prompt_chars = len(request.prompt.user) + len(request.prompt.system or "")
        async for attempt in retrying:
            with attempt:
                await backend.provider.ready()
                await backend.limits.admit(estimate_tokens(prompt_chars, request.max_tokens))
                async with backend.limits.slot():
                    if received and not backend.provider.supports_prefill:
                        received.clear()  # a new generation: what the broken one wrote goes
                        on_restart()
                    usage = await self._attempt(backend, self._resume(backend, request, received), on_text,
                                                point, received)
        return usage

    @staticmethod
    def _resume(backend: Backend, request: ChatRequest, received: list[str]) -> ChatRequest:
        """The request for the next attempt: on a provider that continues a prefill, the text received so far
        is appended to it."""
        done = "".join(received)
        if not done or not backend.provider.supports_prefill:
            return request
        prompt = dataclasses.replace(request.prompt, prefill=(request.prompt.prefill or "") + done)
        return dataclasses.replace(request, prompt=prompt)

    async def _attempt(self, backend: Backend, request: ChatRequest, on_text: OnText, point: Point | None,
                       received: list[str]) -> CallUsage:
        if point is not None:
            point.attempts += 1
        usage = CallUsage()
        stall = self.options.stall_timeout or math.inf
        # Progress is text: the watchdog runs from the call's start (first_token_timeout) and only text pushes
        # it on (stall_timeout), so keep-alives and text-free events cannot hold a call open forever.
        # One watchdog scope around the whole stream, its deadline pushed on by the chunks: a scope entered
        # per chunk would interleave with any cancel scope the provider's generator holds across yields.
        # Moving the scope's timer for every chunk cost 5% of the client's CPU with hundreds of streams, so it
        # moves at most every quarter timeout, with a quarter to spare: a stall is caught after 1-1.25 timeouts.
        spare = stall / 4
        push_at = -math.inf
        first = self.options.first_token_timeout
        chunks = chars = 0
        runaway = False
        sent, first_text, last_text = time.monotonic(), None, None
        with anyio.CancelScope(deadline=anyio.current_time() + (first or math.inf)) as watchdog:
            try:
                async with aclosing(backend.provider.stream(request)) as stream:
                    async for chunk in stream:
                        if isinstance(chunk, CallUsage):
                            usage = chunk
                            continue
                        if not chunk:
                            continue
                        if (now := time.monotonic()) >= push_at:
                            watchdog.deadline = anyio.current_time() + stall + spare
                            push_at = now + spare
                        first_text, last_text = first_text or now, now
                        received.append(chunk)
                        chunks, chars = chunks + 1, chars + len(chunk)
                        # A server that ignores max_tokens would stream forever: end it as if at the limit.
                        runaway = (chunks > RUNAWAY_CHUNKS_PER_TOKEN * request.max_tokens + 8
                                   or chars > RUNAWAY_CHARS_PER_TOKEN * request.max_tokens + 64)
                        if not on_text(chunk) or runaway:
                            # Stop paying for text that will be thrown away; the usage the provider would have
                            # reported last is estimated (a runaway is charged its whole budget).
                            prompt = request.prompt
                            usage = CallUsage.estimate(len(prompt.system or "") + len(prompt.user),
                                                       sum(map(len, received)))
                            if runaway:
                                usage = dataclasses.replace(usage, output_tokens=request.max_tokens)
                            break
            finally:
                self._account(usage, backend.model)
        if watchdog.cancelled_caught:
            waited = f"{first} s for the first text" if not chunks else f"{self.options.stall_timeout} s for more text"
            raise StreamStalled(f"{backend.model} sent no text in {waited}")
        if point is not None and backend is self.backends[0] and first_text is not None:
            self.expansion_spans.append(CallSpan(sent, first_text, last_text))
        return usage

    # -- bookkeeping ---------------------------------------------------------------------------------------

    def _point_text(self, point: Point, text: str) -> None:
        if text:
            point.text += text
            self.send(PointDeltaEvent(point.index, text))
            self._emit(self.stitcher.add_text(point.index, text))

    def _withdraw(self, point: Point) -> None:
        if point.text:
            self.send(WithdrawEvent(point.index, self.stitcher.withdraw(point.index)))
            point.text = ""

    def _finish_point(self, point: Point) -> None:
        point.complete = True
        self.send(PointDoneEvent(point.index, point.text))
        self._emit(self.stitcher.finish_point(point.index))

    def _fail(self, point: Point, error: Exception) -> None:
        point.failed = True
        self.errors.append(error)
        self._emit(self.stitcher.finish_point(point.index, skipped=True))

    def _emit(self, events: list[TextEvent]) -> None:
        for event in events:
            if self.first_text_at is None:
                self.first_text_at = anyio.current_time() - self._started
            self.send(event)

    def _on_retry(self, state: RetryCallState, point: Point | None) -> None:
        error = state.outcome.exception()
        self.send(RetryEvent(point.index if point else None, state.attempt_number, status_of(error),
                             state.next_action.sleep if state.next_action else 0.0,
                             f"{type(error).__name__}: {error}"[:300]))

    def _account(self, usage: CallUsage, model: str, calls: int = 1) -> None:
        self.usage.add(Usage(usage.input_tokens, usage.output_tokens, calls, estimated_calls=int(usage.estimated),
                             priced_calls=[(model, usage.input_tokens, usage.output_tokens)]))

    def _note_serial_server(self) -> None:
        backend = self.backends[0]
        note = serial_note(backend.model, len(self.expansion_spans))
        self.reason = f"{self.reason}; {note}"
        if SerialServerWarning not in backend.warned:
            backend.warned.add(SerialServerWarning)
            warnings.warn(note, SerialServerWarning, stacklevel=2)

    def result(self) -> Result:
        """The result as it stands (complete after ``run``; partial for errors)."""
        text = self.sequential_text if self.mode == "sequential" else self.stitcher.text
        result = Result(text=text, mode=self.mode, model=self.backends[0].model,
                        points=sorted(self.points.values(), key=lambda p: p.index), usage=self.usage,
                        route_reason=self.reason, skeleton_truncated=self.skeleton_truncated)
        result.timings.total_s = anyio.current_time() - self._started
        result.timings.skeleton_s = self.timings_skeleton_s
        result.timings.first_point_at = self.first_point_at
        result.timings.first_text_at = self.first_text_at
        return result
