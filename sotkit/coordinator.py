"""The request path: route, skeleton, expand, stitch, account.

One ``Request`` serves one question. Calls go through ``_call``: the backends in order (the model, then the
fallback), each under the retry policy, the model's concurrency slot (per attempt, so a sleeping retry
holds none) and its per-minute budgets. A retried stream resumes where the broken one stopped, so text that
was already streamed to the caller (and paid for) stays valid.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from .errors import ConfigError, DeadlineExceeded, PartialResultError
from .events import (Event, PointDeltaEvent, PointDoneEvent, PointEvent, RetryEvent, RouteEvent, TextEvent)
from .expansion import ExpansionFilter
from .limits import ModelLimits, estimate_tokens
from .providers.base import CallUsage, ChatRequest, Provider
from .result import Mode, Point, Result, Usage
from .router import Decision
from .retry import RetryPolicy, StreamStalled, is_retryable, status_of
from .skeleton import LINE_TOKENS as SKELETON_LINE_TOKENS
from .skeleton import SkeletonParser, SkeletonPoint
from .stitch import Stitcher
from .templates import Templates

Send = Callable[[Event], None]
OnText = Callable[[str], bool]
"""Receives each piece of a call's text; returns False when the rest of the call is not needed."""


@dataclass(frozen=True)
class Backend:
    """A provider with its templates and its limits (shared by every request through one client)."""

    provider: Provider
    templates: Templates
    limits: ModelLimits

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
    """Seconds without data, mid-stream, after which a call is retried (caught within a quarter more)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    eager: bool = True
    """Start each point's expansion as soon as its skeleton line is complete (else after the skeleton)."""
    context: str | None = None
    """A document to answer from: in the prompts (ahead of the question), or read natively by FocusLLM."""

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "sot", "sequential"):
            raise ConfigError(f"mode={self.mode!r}; use 'auto', 'sot' or 'sequential'")
        if self.on_point_error not in ("raise", "skip"):
            raise ConfigError(f"on_point_error={self.on_point_error!r}; use 'raise' or 'skip'")
        for name in ("max_points", "skeleton_max_tokens", "point_max_tokens", "max_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")
        if self.max_points < 2:
            raise ConfigError("max_points must be at least 2 (a skeleton of one point is a sequential answer)")
        for name in ("deadline", "stall_timeout"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be a positive number of seconds or None, got {value!r}")


class Request:
    def __init__(self, question: str, backends: list[Backend], options: RequestOptions, send: Send,
                 decide: Callable[[str], Awaitable[Decision]], *, template: str = "sequential",
                 variables: Mapping[str, Any] | None = None) -> None:
        self.question = question
        self.template = template
        """The template of a sequential answer (another one for ``SoT.complete``), with its extra variables."""
        self.variables = dict(variables or {})
        self.backends = backends
        self.options = options
        self.send = send
        self.decide = decide
        self.usage = Usage()
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

    # -- the request path --------------------------------------------------------------------------------

    async def run(self) -> Result:
        self._started = anyio.current_time()
        with anyio.move_on_after(self.options.deadline if self.options.deadline else math.inf) as scope:
            await self._answer()
        if scope.cancelled_caught:
            raise DeadlineExceeded(f"the request's deadline of {self.options.deadline} s passed; "
                                   f"{self._done_count()} point(s) were finished", self.result())
        failed = [p for p in self.points.values() if p.failed]
        if failed and self.options.on_point_error == "raise":
            numbers = ", ".join(str(p.index) for p in failed)
            raise PartialResultError(f"point(s) {numbers} failed after all attempts; the partial result holds "
                                     "the others (pass on_point_error='skip' to accept it, or fallback= to "
                                     "retry on another model)", self.result()) from self.errors[0]
        return self.result()

    async def _answer(self) -> None:
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

    async def _route(self) -> tuple[Mode, str]:
        mode = self.options.mode
        if mode != "auto":
            return mode, f"mode={mode!r} was requested"
        decision = await self.decide(self.question)
        return decision.mode, decision.reason

    async def _sot(self) -> int:
        """Skeleton and expansions; returns how many points the skeleton had."""
        backend = self.backends[0]
        parser = SkeletonParser(self.options.max_points, question=self.question)
        batch = backend.provider.supports_batch
        waiting: list[SkeletonPoint] = []  # parsed, not yet started: nothing starts before a second point

        # A batch needs every point, and eager=False waits too; otherwise points start as their lines end.
        wait_for_skeleton = batch or not self.options.eager
        skeleton_done = False

        def start(tg: anyio.abc.TaskGroup, new: list[SkeletonPoint]) -> None:
            waiting.extend(new)
            if not waiting or len(parser.points) < 2 or (wait_for_skeleton and not skeleton_done):
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
            return not parser.done

        skeleton_error: Exception | None = None
        async with anyio.create_task_group() as tg:
            def build(b: Backend) -> ChatRequest:
                request = self._request(b, "skeleton", self.options.skeleton_max_tokens)
                return dataclasses.replace(request, max_line_tokens=SKELETON_LINE_TOKENS)

            prefill = build(backend).prompt.prefill
            if prefill and backend.provider.supports_prefill:
                parser.feed(prefill.rstrip())  # the reply continues the prefill ("1.")
            try:
                await self._call(build, on_skeleton_text, None)
            except Exception as exc:  # keep what the skeleton wrote: two points or more still make an answer
                skeleton_error = exc
                self.reason = f"the skeleton call failed after {len(parser.points)} point(s): {exc!r}"
            skeleton_done = True
            self.timings_skeleton_s = anyio.current_time() - self._started
            start(tg, parser.finish())
            if len(parser.points) < 2:
                tg.cancel_scope.cancel()
        if skeleton_error is not None and len(parser.points) < 2:
            raise skeleton_error
        return len(parser.points)

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

    def _expand_request(self, backend: Backend, point: Point, outline: list[Point]) -> ChatRequest:
        return self._request(backend, "expand", self.options.point_max_tokens,
                             points=[{"index": p.index, "title": p.title} for p in outline],
                             point={"index": point.index, "title": point.title})

    def _expansion_filter(self, point: Point, outline: list[Point], backends: list[Backend]) -> ExpansionFilter:
        return ExpansionFilter(point.index, point.title, strip_header=True,
                               whole_sentences=backends[0].provider.whole_sentences,
                               other_titles=[p.title for p in outline if p is not point])

    async def _expand(self, point: Point, outline: list[Point], backends: list[Backend] | None = None) -> None:
        cleaner = self._expansion_filter(point, outline, backends or self.backends)

        def on_text(raw: str) -> bool:
            self._point_text(point, cleaner.feed(raw))
            return not cleaner.finished  # it ran on into the next point

        try:
            point.model, usage = await self._call(lambda b: self._expand_request(b, point, outline), on_text,
                                                  point, backends)
        except Exception as exc:  # recorded; run() raises or skips once every other point is done
            self._point_text(point, cleaner.finish())
            self._fail(point, exc)
            return
        self._point_text(point, cleaner.finish(cut=usage.output_tokens >= self.options.point_max_tokens))
        self._finish_point(point)

    async def _expand_batch(self, points: list[Point], outline: list[Point]) -> None:
        """In-process models expand every point in one batched generation (a row ends with its usage)."""
        backend = self.backends[0]
        cleaners = [self._expansion_filter(p, outline, self.backends) for p in points]
        requests = [self._expand_request(backend, p, outline) for p in points]
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
                            self._account(chunk, calls=0)
                            finished.add(row)
                            if chunk.output_tokens >= self.options.point_max_tokens:
                                cut.add(row)
                        else:
                            self._point_text(points[row], cleaners[row].feed(chunk))
        except Exception as exc:
            error = exc
        to_fallback = []
        for row, (point, cleaner) in enumerate(zip(points, cleaners)):
            self._point_text(point, cleaner.finish(cut=row in cut))
            if error is None or row in finished:
                point.model = backend.model
                self._finish_point(point)
            elif not cleaner.raw and len(self.backends) > 1:
                to_fallback.append(point)
            else:
                self._fail(point, error)
        async with anyio.create_task_group() as tg:
            for point in to_fallback:
                tg.start_soon(self._expand, point, outline, self.backends[1:])

    async def _sequential(self) -> None:
        def on_text(text: str) -> bool:
            self.sequential_text += text
            self._emit([TextEvent(text)])
            return True

        await self._call(lambda b: self._request(b, self.template, self.options.max_tokens, **self.variables),
                         on_text, None)

    # -- one call, through retries and fallbacks ----------------------------------------------------------

    async def _call(self, build: Callable[[Backend], ChatRequest], on_text: OnText, point: Point | None,
                    backends: list[Backend] | None = None) -> tuple[str, CallUsage]:
        """Stream one completion through the backends in order; return the model that finished it and the
        usage of its last attempt."""
        received: list[str] = []  # raw text of every attempt so far: retries resume after it
        error: Exception | None = None
        for backend in backends or self.backends:
            try:
                return backend.model, await self._call_backend(backend, build(backend), on_text, point, received)
            except Exception as exc:
                error = exc
        assert error is not None
        raise error

    async def _call_backend(self, backend: Backend, request: ChatRequest, on_text: OnText, point: Point | None,
                            received: list[str]) -> CallUsage:
        policy = self.options.retry
        transient = backend.provider.transient_errors
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts),
            wait=lambda state: policy.wait_s(state.attempt_number, state.outcome.exception()),
            retry=retry_if_exception(lambda exc: is_retryable(exc, transient)),
            before_sleep=lambda state: self._on_retry(state, point),
            sleep=anyio.sleep,
            reraise=True,
        )
        prompt_chars = len(request.prompt.user) + len(request.prompt.system or "")
        async for attempt in retrying:
            with attempt:
                await backend.limits.admit(estimate_tokens(prompt_chars, request.max_tokens))
                async with backend.limits.slot():
                    usage = await self._attempt(backend, self._resume(backend, request, received), on_text,
                                                point, received)
        return usage

    @staticmethod
    def _resume(backend: Backend, request: ChatRequest, received: list[str]) -> ChatRequest:
        """The request for the next attempt: continue the text already streamed, via the prefill if the
        provider has one (otherwise ``_attempt`` skips what was already received)."""
        done = "".join(received)
        if not done or not backend.provider.supports_prefill:
            return request
        prompt = dataclasses.replace(request.prompt, prefill=(request.prompt.prefill or "") + done)
        return dataclasses.replace(request, prompt=prompt)

    async def _attempt(self, backend: Backend, request: ChatRequest, on_text: OnText, point: Point | None,
                       received: list[str]) -> CallUsage:
        skip = 0 if backend.provider.supports_prefill else sum(map(len, received))
        if point is not None:
            point.attempts += 1
        usage = CallUsage()
        stall = self.options.stall_timeout or math.inf
        # One watchdog scope around the whole stream, its deadline pushed on by the chunks: a scope entered
        # per chunk would interleave with any cancel scope the provider's generator holds across yields.
        # It arms at the first chunk: until then the SDK's timeout governs (and a local model may be loading).
        # Moving the scope's timer for every chunk cost 5% of the client's CPU with hundreds of streams, so it
        # moves at most every quarter timeout, with a quarter to spare: a stall is caught after 1-1.25 timeouts.
        spare = stall / 4
        push_at = -math.inf
        with anyio.CancelScope() as watchdog:
            try:
                async with aclosing(backend.provider.stream(request)) as stream:
                    async for chunk in stream:
                        if (now := time.monotonic()) >= push_at:
                            watchdog.deadline = anyio.current_time() + stall + spare
                            push_at = now + spare
                        if isinstance(chunk, CallUsage):
                            usage = chunk
                            continue
                        if skip:
                            chunk, skip = chunk[skip:], max(0, skip - len(chunk))
                        if chunk:
                            received.append(chunk)
                            if not on_text(chunk):
                                # Stop paying for text that will be thrown away; the usage the provider
                                # would have reported last is estimated (about 4 characters a token).
                                usage = CallUsage(usage.input_tokens, math.ceil(sum(map(len, received)) / 4))
                                break
            finally:
                self._account(usage)
        if watchdog.cancelled_caught:
            raise StreamStalled(f"no data for {self.options.stall_timeout} s from {backend.model}")
        return usage

    # -- bookkeeping ---------------------------------------------------------------------------------------

    def _point_text(self, point: Point, text: str) -> None:
        if text:
            point.text += text
            self.send(PointDeltaEvent(point.index, text))
            self._emit(self.stitcher.add_text(point.index, text))

    def _finish_point(self, point: Point) -> None:
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

    def _account(self, usage: CallUsage, calls: int = 1) -> None:
        self.usage.add(Usage(usage.input_tokens, usage.output_tokens, calls))

    def _done_count(self) -> int:
        return sum(1 for p in self.points.values() if p.done)

    def result(self) -> Result:
        """The result as it stands (complete after ``run``; partial for errors)."""
        text = self.sequential_text if self.mode == "sequential" else self.stitcher.text
        result = Result(text=text, mode=self.mode, model=self.backends[0].model,
                        points=sorted(self.points.values(), key=lambda p: p.index), usage=self.usage,
                        route_reason=self.reason)
        result.timings.total_s = anyio.current_time() - self._started
        result.timings.skeleton_s = self.timings_skeleton_s
        result.timings.first_point_at = self.first_point_at
        result.timings.first_text_at = self.first_text_at
        return result
