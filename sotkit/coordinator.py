"""The request path: route, skeleton, expand, stitch, account.

One ``Answer`` serves one question. Every model call it makes goes through its ``Runner`` (``runner.py``:
fallback, retries, limits, watchdog); this module decides which calls to make and what their text becomes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import anyio

from .errors import (ConfigError, DeadlineExceeded, EchoedInstructions, EmptyAnswer, EmptyPoint, FallbackWarning,
                     PartialResultError, PromptTooLong, RequestTooLarge, RetryAfterTooLong, StreamError, TemplateError,
                     advise, describe, renote, sole)
from .events import (Event, FallbackEvent, PointDeltaEvent, PointDoneEvent, PointEvent, RetryEvent, RouteEvent,
                     TextEvent, WithdrawEvent)
from .expansion import ExpansionFilter
from .options import check_choice, check_number, check_type, shows_anything
from .overlap import SerialServerWarning, one_at_a_time, serial_note
from .pricing import Prices
from .providers.base import (CallUsage, ChatRequest, Prompt, Provider, char_weight, cut_by, estimated_tokens,
                             reasoning_advice)
from .quality import Instructions
from .question import question_view
from .result import Mode, Point, Result, Usage
from .router import Decision, LLMRouter, Router
from .retry import RetryPolicy, is_retryable, status_of
from .runner import Backend, Call, RowOutcome, Runner, Send, log_left_out
from .skeleton import LINE_TOKENS as SKELETON_LINE_TOKENS
from .skeleton import SkeletonParser, SkeletonPoint
from .stitch import Stitcher
from .tracing import start_request, without_text


#: what a point's call that left no text of its own is followed by (None: it has text)
Then = Literal["retry", "fallback", "fail"] | None


@dataclass
class _Writer:
    """The model writing a point and the filter its text goes through: a fallback replaces both, a retry that starts
    a new generation the filter."""

    backend: Backend
    cleaner: ExpansionFilter
    #: the backends the point is asked of now, and whether as a retry; where the main model left the point empty and
    #: the call went on to the fallback, the fallback's first ask (a retry of its own may follow)
    asked: tuple[list[Backend], bool]
    #: what comes after the call's end and why, judged inside the call (its span) where the runner ran it singly
    judged: tuple[Then, EmptyPoint | None] | None = None


MOST_POINTS = 100  # an SoT answer's most points: each point's call carries the whole skeleton
#: the least time the LLM router still has once the skeleton is written (one written at once, from a cache, say)
MIN_ROUTER_GRACE_S = 1.0
#: and where the skeleton failed, the least time its error waits for a verdict that may still make an answer
FAILED_SKELETON_GRACE_S = 5.0
#: a model's reply that was no answer (empty, or its prompt again): a fallback then is no sign of a bad set-up
EMPTY = (EmptyPoint, EmptyAnswer)


@dataclass(frozen=True)
class RequestOptions:
    """Settings of one request; every field can be given per call to ``generate``/``stream``."""

    mode: Literal["auto", "sot", "sequential"] = "auto"
    max_points: int = 10
    skeleton_max_tokens: int = 300
    point_max_tokens: int = 300
    max_tokens: int = 1024
    temperature: float | None = None
    """Sent to the API as is (0 to 2; Anthropic's models take 0 to 1); ``None`` sends none, the API's default.
    ``local:`` models decode greedily and do not use it."""
    on_point_error: Literal["raise", "skip"] = "raise"
    deadline: float | None = None
    stall_timeout: float | None = 30.0
    """Seconds without text, between one piece of a call's text and the next, after which the call is retried
    (caught within a quarter more). Keep-alives, events without text and text of white space alone do not count as
    progress."""
    first_token_timeout: float | None = 60.0
    """Seconds from a call's start to its first text after which it is retried. ``SoT`` sets it to its ``timeout``
    unless given; ``None`` for ``local:`` models, whose first call may load the model (an API fallback's is then
    ``timeout``)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    eager: bool = True
    """Start each point's expansion as soon as its skeleton line is complete, the first with the second (a skeleton of
    one point is answered sequentially); else after the whole skeleton. A batched model (``local:``, greedy) waits."""
    context: str | None = None
    """A document to answer from: in the prompts (ahead of the question), or read natively by FocusLLM."""
    trace_content: bool = False
    """Put the prompts and answers in the request's OpenTelemetry spans (``sotkit.tracing``); off, spans carry no
    text of the question, the prompts or the answer."""

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, ("auto", "sot", "sequential"))
        check_choice("on_point_error", self.on_point_error, ("raise", "skip"))
        for name in ("skeleton_max_tokens", "point_max_tokens", "max_tokens"):
            check_number(name, getattr(self, name), above=None, at_least=1, whole=True, optional=False)
        check_number("max_points", self.max_points, above=None, at_least=2, whole=True, optional=False)
        if self.max_points > MOST_POINTS:
            raise ConfigError(f"max_points={self.max_points}: at most {MOST_POINTS}; each point's call carries the "
                              "whole skeleton, so the tokens billed and the work grow with the square of the "
                              "points: answer so long a list sequentially (mode='sequential') or in parts")
        check_number("temperature", self.temperature, above=None, at_least=0, at_most=2)
        for name in ("deadline", "stall_timeout", "first_token_timeout"):
            check_number(name, getattr(self, name))
        if isinstance(self.retry, int) and not isinstance(self.retry, bool):  # retry=3: three attempts
            check_number("retry", self.retry, above=None, at_least=1, whole=True, optional=False)
            object.__setattr__(self, "retry", RetryPolicy(attempts=self.retry))
        check_type("retry", self.retry, RetryPolicy, "a RetryPolicy or a whole number of attempts")
        check_type("eager", self.eager, bool, "True or False")
        check_type("context", self.context, (str, type(None)), "a str or None")
        if self.context is not None and not shows_anything(self.context):  # as "" is, no context: it was sent as
            # an empty section ("Use this context to answer:" and blanks; probe 211), an empty file's BOM as an
            # invisible one (probe 284)
            object.__setattr__(self, "context", None)
        check_type("trace_content", self.trace_content, bool, "True or False")


class CompleteKwargs(TypedDict, total=False):
    """``RequestOptions``' fields as the keywords of ``SoT.complete``, for type checkers: all but ``mode`` and
    ``context`` (it sends its template as it renders). ``retry`` also takes a number of attempts, and ``None`` for
    the client's policy."""

    max_points: int
    skeleton_max_tokens: int
    point_max_tokens: int
    max_tokens: int
    temperature: float | None
    on_point_error: Literal["raise", "skip"]
    deadline: float | None
    stall_timeout: float | None
    first_token_timeout: float | None
    retry: RetryPolicy | int | None
    eager: bool
    trace_content: bool


class RequestKwargs(CompleteKwargs, total=False):
    """``RequestOptions``' fields as the keywords of ``SoT.generate`` and ``stream``, for type checkers (a misspelt
    or mistyped option is flagged before the code runs; at run time each is checked as the field is)."""

    mode: Literal["auto", "sot", "sequential"]
    context: str | None


class Answer:
    """The work of answering one question, from routing to the stitched ``Result``: ``await answer.run(send)``.

    ``SoT.generate`` and ``SoT.stream`` make one per call (``send`` receives the events; ``stream`` turns them into
    an ``EventStream``). It holds the question, the backends (model, then fallback), the request's options and
    router, and, as it runs, the points, the stitcher and the usage; ``result()`` is the answer as it stands.
    """

    def __init__(self, question: str, backends: list[Backend], options: RequestOptions, router: Router, *,
                 template: str | None = None, variables: Mapping[str, Any] | None = None,
                 prices: Prices | None = None) -> None:
        self.question = question
        self.completes = template is not None
        """``SoT.complete``'s request: its one call answers ``template`` (its name, also "sequential"), no mode."""
        self.template = template or "sequential"
        """The template of a sequential answer, with its extra variables."""
        self.variables = dict(variables or {})
        self.backends = backends
        self.options = options
        self.send: Send = _ignore
        self.router = router
        self.usage = Usage(prices=prices)
        self.points: dict[int, Point] = {}
        self.skeleton_count: int | None = None  # once the skeleton has ended: no point is numbered above it
        self._filters: dict[int, ExpansionFilter] = {}  # each point's current filter, told of points parsed later
        # the backend whose skeleton call was sent marked, and how much of the prompt (``_shared``)
        self._skeleton_mark: tuple[Backend, int] | None = None
        self.stitcher = Stitcher()
        self.sequential_text = ""
        self.main_wrote = False  # a point, or the sequential answer, was written by the main model (not a fallback)
        self.truncated = False  # the sequential answer was cut off (budget, failure, stop), or the skeleton stopped
        self.finish_reason: str | None = None  # why the sequential answer's call ended
        self.written_by: str | None = None  # the model that wrote the sequential answer, or the skeleton
        self.mode: Mode = "sequential" if options.mode == "sequential" else "sot"
        self.reason: str | None = None  # the route's, as soon as it is known
        self._asking: anyio.CancelScope | None = None  # the LLM router's call, while it runs beside the skeleton's
        # the grace it had once the skeleton was written or failed, and which (``_hurry_router``)
        self._hurried: tuple[float, str] | None = None
        self._held: list[RetryEvent | FallbackEvent] | None = None  # the skeleton's, until the LLM router's verdict
        self._router_failed: str | None = None  # the LLM router call's latest error that it was retried after
        self._note: str | None = None  # what the skeleton (or a serial server) adds to it
        self.errors: list[BaseException] = []
        self._unrendered: set[int] = set()  # points that failed as their prompt did not render, before any call
        self._started = 0.0
        self._finished_at: float | None = None
        self.timings_skeleton_s = 0.0
        self.first_point_at: float | None = None
        self.first_text_at: float | None = None
        self.skeleton_truncated = False
        # the skeleton call's error where it failed for good after two points or more: the points after them are lost
        self._skeleton_failed: Exception | None = None
        self._skeleton_ended = False  # a stop before it ended cuts the answer, whatever points are done
        self._scope: anyio.CancelScope | None = None  # the running request's; its client's aclose() cancels it
        self._loop: object = None
        self._ended: anyio.Event | None = None
        self._stopped = False

    # -- the request path --------------------------------------------------------------------------------

    async def run(self, send: Send | None = None) -> Result:
        """Answer the question, sending every event to ``send``; return the result or raise (a
        ``PartialResultError`` carries what was written)."""
        self.send = send or _ignore
        options = self.options
        operation = "complete" if self.completes else "stream" if send else "generate"
        trace = start_request(operation, self.backends[0].model, None if operation == "complete" else options.mode,
                              self.question, options.trace_content, self.result)
        self.runner = Runner(self.backends, self._call_event, self.usage, retry=options.retry,
                             stall_timeout=options.stall_timeout, first_token_timeout=options.first_token_timeout,
                             trace=trace)
        self._started = anyio.current_time()
        self._loop, self._ended = anyio.lowlevel.current_token(), anyio.Event()
        try:
            with trace:  # the request's span: current while it runs, and ended with the result or the error
                return await self._run()
        finally:
            self._ended.set()

    async def stop(self) -> None:
        """End this request if it runs (in this event loop), and wait until it has: its client is closing. It
        raises ``PartialResultError`` with what it wrote."""
        if self.halt():
            assert self._ended is not None
            await self._ended.wait()

    def halt(self) -> bool:
        """End this request now if it runs (in this event loop), without waiting: what it wrote is settled and sent
        on as events, and it raises ``PartialResultError``. False where it does not run (yet, or any more)."""
        if self._scope is None or self._ended is None or self._ended.is_set() \
                or self._loop != anyio.lowlevel.current_token():
            return False
        self._stopped = True
        self._scope.cancel()
        return True

    async def _run(self) -> Result:
        router = [self.router.provider] if isinstance(self.router, LLMRouter) else []
        for provider in [*(backend.provider for backend in self.backends), *router]:
            provider.check_event_loop()  # no fallback or default router may hide it
        try:
            with anyio.move_on_after(self.options.deadline if self.options.deadline else math.inf) as scope:
                self._scope, self.runner.deadline = scope, scope.deadline
                await self._answer()
        except anyio.get_cancelled_exc_class():  # cancelled from outside (Ctrl-C in sotkit ask, the caller's scope)
            self._cut_where_stopped()
            raise
        except BaseExceptionGroup as group:  # one of sotkit's tasks raised it (trio's Ctrl-C)
            self._cut_where_stopped()
            error = sole(group)
            raise error from error.__cause__  # its own cause, and no "during handling of" sotkit's group
        finally:
            self._finished_at = anyio.current_time()
        if scope.cancelled_caught:
            self._emit(self.stitcher.settle())  # the stream's text, too, is the partial result's
            self._cut_where_stopped()
            finished = [str(p.index) for p in self.points.values() if p.done]
            written = (f"finished point(s): {', '.join(finished) or 'none'} (Point.done; the others are cut or "
                       "missing)" if self.mode == "sot" and self.points else "the answer so far is in .partial"
                       if self.sequential_text else "nothing of the answer was written yet")
            if self._stopped:
                self.runner.trace.stopped()
                raise PartialResultError(f"the SoT client was closed (aclose(), or its `async with` block ended) "
                                         f"while this request ran; {written}", self.result())
            raise DeadlineExceeded(f"the request's deadline of {self.options.deadline} s passed; {written}",
                                   self.result())
        unwritten = [str(p.index) for p in self.points.values() if not p.done and not p.failed]
        if unwritten or (self.mode == "sot" and not self.points):  # it would read as an empty point: no success
            raise PartialResultError(f"point(s) {', '.join(unwritten) or 'all'} of the skeleton were never expanded "
                                     "(a sotkit bug: please report it with the question and the skeleton)",
                                     self.result())
        failed = [p for p in self.points.values() if p.failed]
        # the points written are whole, but any after them are missing (probe 340: a success, exit status 0)
        broke = self._skeleton_failed and (f"the skeleton call failed after {len(self.points)} point(s) "
                                           f"({describe(self._skeleton_failed)}): any points after them are missing")
        if broke and not failed and self.options.on_point_error == "raise":
            raise PartialResultError(f"{broke}; the partial result holds those written (pass on_point_error='skip' to "
                                     "accept it)", self.result()) from self._skeleton_failed
        if not failed:
            self._warn_if_the_fallback_wrote_all()
            return self.result()
        first = f"point {failed[0].index}: {failed[0].error}"  # the cause, as the request's error alone is shown
        tried = None
        if all(p.index in self._unrendered for p in failed):  # no model was asked: none else helps
            tried = "no model was asked for them: fix the template"
        elif len(self.backends) > 1:
            last = describe(self.errors[-1])  # said once where it is the first's
            tried = f"the fallback {self.backends[-1].model} failed too" + (
                "" if last == failed[0].error else f"; the last error: {last}")
        if len(failed) == len(self.points):  # skipping every point would leave no answer at all
            raise PartialResultError(f"every point of the skeleton ({len(failed)}) failed ({first}): there is no "
                                     f"answer ({tried or 'pass fallback= to retry on another model'})"
                                     + (f"; {broke}" if broke else ""), self.result()) from self.errors[0]
        if self.options.on_point_error == "raise":
            numbers = ", ".join(str(p.index) for p in failed)
            advice = f"; {tried}" if tried else ", or fallback= to retry on another model"
            raise PartialResultError(f"point(s) {numbers} failed ({first}); {f'{broke}; ' if broke else ''}the "
                                     f"partial result holds the others (pass on_point_error='skip' to accept "
                                     f"it{advice})", self.result()) from self.errors[0]
        self._warn_if_the_fallback_wrote_all()  # of the points written, with those that failed left out
        return self.result()

    async def _answer(self) -> None:
        if self.options.mode == "auto" and isinstance(self.router, LLMRouter):
            mode, reason = await self._sot_while_routing(self.router)
        else:
            mode, reason = await self._route()
            if mode == "sot":
                self.reason = reason
                self.send(RouteEvent("sot", reason))
                instead = await self._sot_or_sequential()
                if instead is not None:
                    mode, reason = "sequential", instead
                    self.points.clear()
        if mode == "sequential":
            self.mode, self.reason, self._note = "sequential", reason, None
            self.send(RouteEvent("sequential", reason))
            await self._sequential()
        else:
            # calls that the client spaced out (its slots, its per-minute budgets) may line up on any server
            if not self.backends[0].provider.in_process and not self.runner.paced \
                    and one_at_a_time(self.runner.spans):
                self._note_serial_server()

    async def _sot_or_sequential(self, decided: anyio.Event | None = None) -> str | None:
        """``_sot``, and None; or why the answer is to be sequential instead: a skeleton of fewer than two points, or,
        where the router chose SoT, prompts too long for the model's window (a long context on a small local model),
        the skeleton's or every point's (probe 270): the sequential prompt is shorter."""
        try:
            found = await self._sot(decided)
        except PromptTooLong as exc:
            if self.options.mode != "auto" or self.points:
                raise
            self._note = f"its prompt of {exc.tokens} tokens does not fit the model's context of {exc.window}"
            found = 0
        if found < 2:
            return _too_few(found, self._note)
        overfilled = [e for e in self.errors if isinstance(e, PromptTooLong)]
        if self.options.mode == "auto" and len(overfilled) == len(self.errors) == len(self.points):
            # every point failed so: none was written, and the skeleton is no part of the answer
            self.errors.clear()
            self.skeleton_truncated, self._skeleton_failed, self.first_point_at = False, None, None
            # the main model's window, which the sequential answer's prompt must fit (a fallback's error is last)
            main = next((e for e in self.runner.fallen_back_for if isinstance(e, PromptTooLong)), overfilled[0])
            return (f"the points' prompts of {min(e.tokens for e in overfilled)} tokens or more do not fit the "
                    f"model's context of {main.window}, so the answer is sequential")
        return None

    async def _route(self) -> tuple[Mode, str]:
        mode = self.options.mode
        if mode != "auto":
            return mode, self._undecided()
        decision = await self.router.decide(self.question)
        return decision.mode, decision.reason

    async def _sot_while_routing(self, router: LLMRouter) -> tuple[Mode, str]:
        """The prompting router's call runs beside the skeleton call, which streams meanwhile; nothing of the
        skeleton reaches the caller before the verdict, and a sequential verdict cancels the skeleton call. A
        question the guards settle starts neither."""
        if (settled := router.settled(self.question)) is not None:
            return settled.mode, settled.reason
        verdict: list[Decision] = []
        decided = anyio.Event()  # set for SoT only: a skeleton line the sketch task reads after a sequential verdict
        # (before its cancellation reaches it) must start nothing

        async def route() -> None:
            decision = await self._ask(router)
            verdict.append(decision)
            held, self._held = self._held or [], None
            if decision.mode == "sot":
                self.reason = decision.reason
                for event in [RouteEvent("sot", decision.reason), *held]:
                    self.send(event)
                decided.set()
            else:
                sketch.cancel()

        instead: str | None = None
        failed: Exception | None = None
        self._held = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(route)
            with anyio.CancelScope() as sketch:
                try:
                    instead = await self._sot_or_sequential(decided)
                except Exception as exc:  # raised as itself below, as without this router, not in an ExceptionGroup
                    failed = exc  # (a sequential verdict still makes an answer: review 145's came at 1.5 s; probe
                    self._hurry_router(FAILED_SKELETON_GRACE_S, "failed")  # 288: a hung router held a 401 20 s)
                    await decided.wait()  # a sequential verdict needs no skeleton (it cancels this wait)
            tg.cancel_scope.cancel()  # a skeleton short of two points is answered sequentially, whatever the verdict
        self._held = None  # (no verdict came: the skeleton's events are no answer's)
        if verdict and verdict[0].mode == "sequential":
            return "sequential", verdict[0].reason
        if failed is not None:
            raise failed
        if instead is not None:
            self.points.clear()
            return "sequential", instead
        return "sot", verdict[0].reason

    def _call_event(self, event: Event) -> None:
        """A call's retry or fallback, sent; the skeleton's held while the LLM router decides (``_held``): nothing is
        shown before the verdict, and a sequential verdict drops them (probe 288)."""
        if self._held is not None and isinstance(event, (RetryEvent, FallbackEvent)) and event.call == "skeleton":
            self._held.append(event)
        else:
            if isinstance(event, (RetryEvent, FallbackEvent)) and event.call == "router":
                self._router_failed = event.error
            self.send(event)

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
            with anyio.fail_after(router.timeout) as self._asking:  # sotkit's own bound, unlike a caller's scope
                _, usage = await self.runner.call(Call(lambda b: request, on_text, parts.clear, role="router",
                                                       deadline=self._asking.deadline), [backend])
            return router.read(request, "".join(parts), usage)
        except Exception as exc:  # noqa: BLE001 -- routing must never fail the request
            if self._hurried is not None and self._asking is not None and self._asking.cancelled_caught:  # no stall
                failed = f", after a try that failed ({self._router_failed})" if self._router_failed else ""
                exc = TimeoutError(f"no verdict within {self._hurried[0]:.1f} s once the skeleton {self._hurried[1]}"
                                   f"{failed}")  # (a server's 500s read as a slow router: probe 308)
            return router.fall_back(self.question, exc)

    def _hurry_router(self, least: float = MIN_ROUTER_GRACE_S, ended: str = "was written") -> None:
        """The skeleton is written (``ended``; or it failed), and the answer waits for the LLM router alone: it has as
        long again as the skeleton took (``least`` at least), then the default router decides. A router call that
        hangs, waits out a long Retry-After or waits for a slot the client's other calls hold must not hold the
        answer up, nor a deadline= spend on it an answer that is ready (a router slower than the skeleton it runs
        beside is no help): it has half the time left before the deadline at most (probe 288: a hung router spent a
        deadline of 3 s on an answer written at 1.9 s)."""
        if self._asking is not None and self._hurried is None:
            now = anyio.current_time()
            grace = max(0.0, min(max(now - self._started, least), (self.runner.deadline - now) / 2))
            self._hurried = grace, ended
            self._asking.deadline = min(self._asking.deadline, now + grace)

    async def _sot(self, decided: anyio.Event | None = None) -> int:
        """Skeleton and expansions; returns how many points the skeleton had. With ``decided``, nothing starts
        (and nothing is sent) before that event is set."""
        max_tokens = self.options.skeleton_max_tokens
        error: Exception | None = None
        cut = False
        async with anyio.create_task_group() as tg:
            sketch = _Sketch(self, tg, decided)
            try:
                self.written_by, usage = await self.runner.call(Call(sketch.build, sketch.on_text, sketch.on_restart,
                                                                     role="skeleton", on_start=sketch.on_start,
                                                                     on_refusal=sketch.on_refusal,
                                                                     on_no_answer=sketch.on_no_answer))
                cut = usage.cut_off(max_tokens)
            except Exception as exc:  # keep what the skeleton wrote: two points or more still make an answer
                error = exc
            finally:  # (also where a deadline or the caller stopped it)
                self.timings_skeleton_s = anyio.current_time() - self._started
            self._skeleton_ended = True
            parser = sketch.parser
            ended_early, held = parser.ended_early, parser.holding
            # a line the stream broke off in (an error, a cut-off, or the parser ending the call on a runaway or
            # repeating line) may be half a title: no point (whole lines held back still count)
            await sketch.finish(parser.release() if cut or error is not None or parser.done else parser.finish())
            read = len(parser.points)
            if cut:
                by = cut_by(usage.finish_reason, f"skeleton_max_tokens={max_tokens}")
                self._note = f"the skeleton was cut off {by} after {read} point(s)"
            elif error is not None:
                self._note = f"the skeleton call failed after {read} point(s): {describe(error)}"
            elif ended_early := ended_early or (parser.ended_early if held else None):  # (shown by held lines)
                self._note = f"the skeleton was ended after {read} point(s): {ended_early}"
            if len(sketch.line_writers) == 1:  # the points are one model's lines (not a later skeleton's that
                [self.written_by] = sketch.line_writers  # disagreed, nor one that broke off)
            if sketch.disagreed or len(parser.points) < len(self.points):
                sketch.disagreed = True
                again = f"written by the fallback {sketch.writer}" if sketch.by_fallback else "retried"
                self._note = (f"the skeleton was {again} and its new generation disagreed with the "
                              f"{len(self.points)} point(s) already started; those are kept")
            found = len(self.points) or len(parser.points)
            ended = bool(cut or error is not None or ended_early or sketch.disagreed)  # (its note says so)
            # points may be missing: say so
            began_late, left_out, skipped = parser.began_late, parser.left_out, parser.skipped
            if began_late and not ended:
                self._note = f"the skeleton's list began at {parser.first_number}: its first point(s) may be missing"
            elif left_out and not ended:
                titles = ", ".join(map(repr, left_out[:3])) + (", ..." if len(left_out) > 3 else "")
                self._note = (f"the skeleton numbered {len(left_out)} list line(s) again or out of order, left out "
                              f"({titles}): a point may be missing")
            elif skipped and not ended:
                numbers = ", ".join(map(str, skipped[:3])) + (", ..." if len(skipped) > 3 else "")
                self._note = f"the skeleton's list skipped number(s) {numbers}: a point may be missing"
            self.skeleton_truncated = found >= 2 and (ended or began_late or bool(left_out) or bool(skipped))
            if found < 2:
                tg.cancel_scope.cancel()
        if sketch.no_answer is not None:  # (its cancellation of the task group ended the block above at once)
            raise sketch.no_answer
        if error is not None and found < 2:
            if found == 1:  # (the error alone would not say which call it was)
                renote(error, "(the skeleton's call, after its first point: an answer needs two)", "skeleton's call")
            raise error
        self._skeleton_failed = error
        return found

    def _request(self, backend: Backend, template: str, max_tokens: int, **variables: Any) -> ChatRequest:
        """Render a template into a request; the context goes to the provider natively or into the prompt."""
        context = variables.pop("context", self.options.context)  # complete()'s own, where it gave one
        native = backend.provider.supports_context
        prompt = backend.templates.render(template, **{"question": self.question,
                                                       "context": None if native else context, **variables})
        return ChatRequest(prompt, max_tokens, self.options.temperature, context if native else None)

    def _shared(self, backend: Backend, request: ChatRequest, skeleton: bool = False) -> ChatRequest:
        """The skeleton's or a point's ``request``, with the prefix of its prompt that the skeleton's and every point's
        prompts share marked, where the provider caches only a marked prefix and this one is long enough (a context
        given with the question, or a long system prompt): the skeleton call on the first model writes it to the
        cache, and a point's call on that model, which starts once the skeleton's reply has begun, reads it. A point
        on another model is not marked (the points start at once: each would pay for a write), nor is any after a
        fallback's skeleton."""
        if skeleton:
            least = backend.provider.cache_mark_tokens
            shared = self._shared_prefix(backend, request.prompt, least) \
                if backend is self.backends[0] and least is not None else None
            self._skeleton_mark = (backend, shared) if shared is not None else None
        if self._skeleton_mark is None or self._skeleton_mark[0] is not backend:
            return request
        return dataclasses.replace(request, prompt=dataclasses.replace(request.prompt, shared=self._skeleton_mark[1]))

    def _shared_prefix(self, backend: Backend, skeleton: Prompt, least: int) -> int | None:
        """How many leading characters of the user prompt the skeleton's (``skeleton``) and the points' prompts share
        (to a line's end, with the same system prompt), where that and the system prompt are ``least`` tokens or more
        (0: the system prompt alone is); else ``None``."""
        samples = [{"index": 1, "title": "…"}, {"index": 2, "title": "…"}]
        try:
            point = self._request(backend, "expand", 1, points=samples, point=samples[0]).prompt
        except Exception:  # noqa: BLE001 -- a template of the user's that sample points break: no caching, no error
            return None
        if skeleton.system != point.system:
            return None
        same = skeleton.user[:common_prefix(skeleton.user, point.user)]
        same = same[:same.rfind("\n") + 1]  # to a line's end: the rest of the prompt is never blank
        return len(same) if estimated_tokens(char_weight((skeleton.system or "") + same)) >= least else None

    def _add_point(self, sp: SkeletonPoint) -> Point:
        if sp.index not in self.points:
            self.points[sp.index] = Point(sp.index, sp.title)
            self.first_point_at = self.first_point_at or anyio.current_time() - self._started
            self.send(PointEvent(sp.index, sp.title))
            self._emit(self.stitcher.add_point(sp.index, sp.title))
            for index, cleaner in self._filters.items():  # points already writing: running on into it ends them
                if index != sp.index:
                    cleaner.add_other_title(sp.title)
        return self.points[sp.index]

    def _expand_request(self, backend: Backend, point: Point, outline: list[Point],
                        retry: bool = False) -> ChatRequest:
        request = self._shared(backend, self._request(backend, "expand", self.options.point_max_tokens,
                                                      points=[{"index": p.index, "title": p.title} for p in outline],
                                                      point={"index": point.index, "title": point.title}))
        if retry:  # the point left no text of its own: start its answer with a header it did not have
            prefill = next(p for p in (f"{point.title}:", f"{point.index}. {point.title}:") if p != request.prompt.prefill)
            if "\n\n" in request.stop:  # the model would open the paragraph with a blank line and be stopped at once
                prefill += "\n"
            request = dataclasses.replace(request, prompt=dataclasses.replace(request.prompt, prefill=prefill))
        return request

    def _expansion_filter(self, point: Point, provider: Provider, prompt: Prompt) -> ExpansionFilter:
        others = [p.title for p in self.points.values() if p is not point]  # more than the outline, on a retry
        # an API model's sentence may well name another point ("Use a password manager too."); a small model's that
        # does is as likely its prompt's skeleton copied back
        quoted = (self.question, point.title, self.options.context or "",
                  *(() if provider.whole_sentences else others))
        # a template of the user's: sotkit's own words in it, for an API model (probe 345: a disclaimer it asks for is
        # no echo); a small model copies any sentence of its prompt back ("Explain only this part."): all of it counts
        own = prompt.instructions if prompt.instructions is not None and not provider.whole_sentences else \
            f"{prompt.system or ''}\n{prompt.user}"
        instructions = Instructions(own, quoted=quoted)
        cleaner = ExpansionFilter(point.index, point.title, strip_header=True, whole_sentences=provider.whole_sentences,
                                  other_titles=others, instructions=instructions, question=question_view(self.question),
                                  earlier_titles=[p.title for p in self.points.values() if p.index < point.index],
                                  continues=(prompt.prefill or "") if provider.supports_prefill else "",
                                  restates="" if provider.supports_prefill else (prompt.prefill or ""),
                                  most_points=self.skeleton_count or self.options.max_points,
                                  count_known=self.skeleton_count is not None)
        self._filters[point.index] = cleaner
        return cleaner

    @staticmethod
    def _empty_error(point: Point, cleaner: ExpansionFilter, retried: bool) -> EmptyPoint:
        again = ", also when asked again" if retried else ""
        if cleaner.echoed:
            return EchoedInstructions(f"point {point.index} ({point.title!r}) only repeated its prompt{again}")
        if point.truncated:
            return EmptyPoint(f"point {point.index} ({point.title!r}) was cut off "
                              f"{cut_by(point.finish_reason, 'point_max_tokens')} before any text of its own"
                              f"{reasoning_advice(point.finish_reason, 'point_max_tokens')}")
        return EmptyPoint(f"point {point.index} ({point.title!r}) came back without text of its own{again}")

    async def _expand(self, point: Point, outline: list[Point], backends: list[Backend] | None = None,
                      retry: bool = False) -> None:
        backends = backends or self.backends
        if (made := self._expansion_call(point, outline, backends, retry)) is None:
            return
        call, writer = made
        try:
            outcome: tuple[str, CallUsage] | Exception = await self.runner.call(call, backends)
        except Exception as exc:  # recorded; run() raises or skips once every other point is done
            outcome = exc
        if (again := self._settle(point, call, writer, outcome)) is not None:
            await self._expand(point, outline, *again)

    async def _expand_batch(self, points: list[Point], outline: list[Point], retry: bool = False) -> None:
        """In-process models expand every point in one batched generation (the runner retries a row the batch did
        not finish as a single call)."""
        made = [(p, *m) for p in points if (m := self._expansion_call(p, outline, self.backends, retry)) is not None]
        if not made:
            return
        points, calls, writers = (list(column) for column in zip(*made))
        again: list[tuple[list[Backend], bool] | None] = [None] * len(points)

        def settle(row: int, outcome: RowOutcome) -> None:  # at once: a finished row's point need not wait
            again[row] = self._settle(points[row], calls[row], writers[row], outcome)

        await self.runner.call_batch(calls, settle)
        async with anyio.create_task_group() as tg:
            # asked again of the main model in one batch; of the fallback one by one (a row the runner retried
            # singly may have gone on to it)
            batch = []
            for point, asked in zip(points, again):
                if asked == (self.backends, True):
                    batch.append(point)
                elif asked is not None:
                    tg.start_soon(self._expand, point, outline, *asked)
            if batch:
                tg.start_soon(self._expand_batch, batch, outline, True)

    def _expansion_call(self, point: Point, outline: list[Point], backends: list[Backend],
                        retry: bool) -> tuple[Call, _Writer] | None:
        """The call that writes ``point``, and its writer: the model writing it and the filter its text goes
        through, made for that model (a local fallback's in whole sentences); a retry that starts a new generation
        replaces the filter and withdraws what was shown. None where the point's prompt did not render: it failed."""
        try:
            first = self._expand_request(backends[0], point, outline, retry)  # rendered once: it is the filter's too
        except TemplateError as exc:  # a template of the user's that renders the samples but not this point: the
            self._fail(point, exc, backends[0].model)  # points written stay (probe 260: a TemplateError, no .partial)
            if backends[0] is self.backends[0] and not retry:  # (not after the main model was asked; review 267)
                self._unrendered.add(point.index)
            return None
        writer = _Writer(backends[0], self._expansion_filter(point, backends[0].provider, first.prompt),
                         (backends, retry))

        def on_text(raw: str) -> bool:
            self._point_text(point, writer.cleaner.feed(raw))
            return not writer.cleaner.finished  # it ran on into the next point

        def new_filter() -> None:
            writer.cleaner = self._expansion_filter(point, writer.backend.provider, build(writer.backend).prompt)

        def on_restart() -> None:
            new_filter()
            self._withdraw(point)

        def on_start(backend: Backend) -> None:
            if backend is not writer.backend:  # a fallback: its text goes through a filter of its own
                writer.backend = backend
                new_filter()
                # and the models before it are done with (probe 282: a fallback that left the point empty after
                # the main model failed had the point asked of the main model again, its whole retries over)
                backends, retry = writer.asked
                writer.asked = (backends[backends.index(backend):], retry)

        def build(backend: Backend) -> ChatRequest:
            return first if backend is backends[0] else self._expand_request(backend, point, outline, writer.asked[1])

        def refuse(model: str, usage: CallUsage) -> Exception | None:
            """Judged inside the call, so that its span says so: a point left empty fails, or goes on to the
            fallback (the runner's, as after an error), with ``EmptyPoint``; one asked again is a call of its own."""
            then, empty = writer.judged = self._judge(point, writer, usage)
            if then == "fallback":
                writer.asked = (writer.asked[0][1:], False)
            return empty if then in ("fallback", "fail") else None

        return Call(build, on_text, on_restart, point, on_start=on_start, refuse=refuse), writer

    def _settle(self, point: Point, call: Call, writer: _Writer,
                outcome: tuple[str, CallUsage] | Exception) -> tuple[list[Backend], bool] | None:
        """Finish or fail a point whose call ended; or, where it left no text of its own (``_judge``), the backends
        to ask it of again and whether as a retry. An empty point is never finished as if it were written."""
        if isinstance(outcome, Exception):  # (an empty point refused where it failed for good, too)
            self._point_text(point, writer.cleaner.finish())
            self._fail(point, outcome)
            return None
        # a single call's end was judged inside it (``refuse``); a batch's row is judged here
        then, empty = writer.judged or self._judge(point, writer, outcome[1])
        writer.judged = None
        if then is None:
            if writer.backend is self.backends[0]:  # the backend, not its model's name: a fallback may share it
                self.main_wrote = True
            self._finish_point(point)
            return None
        assert empty is not None  # (judged empty)
        if then == "fail":
            self._fail(point, empty)
            return None
        backends, _ = writer.asked
        if then == "fallback":  # (a batch's row: for a single call the runner went on to the fallback itself)
            self.runner.fell_back(call, backends[0], empty, backends[1])
            return backends[1:], False
        return backends, True

    def _judge(self, point: Point, writer: _Writer, usage: CallUsage) -> tuple[Then, EmptyPoint | None]:
        """The point's call ended with ``usage``: its text is finished through the filter. None where it has text of
        its own (it wrote nothing, or only its header, a title, another point's line or echoes of its prompt, which
        the filter drops, or only lead-ins and titles, which are withdrawn, or nothing that shows); else what comes
        next: one retry (with a header prefilled where the provider takes a prefill; elsewhere the same request,
        which a sampling server answers anew), then the fallback model, else it fails; with the ``EmptyPoint`` that
        says why."""
        cleaner = writer.cleaner
        point.model = writer.backend.model  # (also where the point fails: the last model asked)
        point.truncated, point.finish_reason = usage.cut_off(self.options.point_max_tokens), usage.finish_reason
        self._point_text(point, cleaner.finish(cut=point.truncated))
        # only a lead-in or titles (the skeleton again), or nothing that shows (a zero-width space; review 275):
        # withdrawn, and asked again
        if cleaner.said_nothing or not shows_anything(point.text):
            self._withdraw(point)
        if point.text:
            return None, None
        backends, retry = writer.asked
        empty = self._empty_error(point, cleaner, retry)
        if not retry and not point.truncated:  # cut off before any text: the same request would be cut again
            then: Then = "retry"
        elif len(backends) > 1 and writer.backend is backends[0]:  # not where the call fell back already
            then = "fallback"
        else:
            return "fail", empty
        point.truncated, point.finish_reason = False, None  # the call that asks again has not ended
        return then, empty

    async def _sequential(self) -> None:
        # the template's prefill where the model writing the answer continues it ("Verdict: [[", "In short,"): it
        # does not write it again, so the answer opens with it, with its first text (as where the model is sent
        # none and writes it itself)
        prefill, writing = "", self.backends[0]  # the model writing the answer now (a fallback's own)
        self.written_by = None  # the skeleton's writer, where SoT fell back to this, wrote none of it

        def on_text(text: str) -> bool:
            if not self.sequential_text:  # a partial answer, too, says whose it is (a deadline's, a broken one's)
                text, self.written_by = prefill + text, writing.model
            self.sequential_text += text
            self._emit([TextEvent(text)])
            return True

        def on_restart() -> None:
            if self.sequential_text:
                self.send(WithdrawEvent(None, self.sequential_text))
                self.sequential_text, self.written_by = "", None

        def on_start(backend: Backend) -> None:
            nonlocal prefill, writing
            prefill = (call.build(backend).prompt.prefill or "") if backend.provider.supports_prefill else ""
            writing = backend

        asked: list[str] = []

        def refuse_empty(model: str, usage: CallUsage) -> Exception | None:
            if shows_anything(self.sequential_text[len(prefill):]):
                return None
            # an empty answer is no answer: the fallback model, if any, is asked
            cut = usage.cut_off(self.options.max_tokens)  # e.g. a reasoning model that spent them all reasoning
            asked.append(f"{model} (cut off {cut_by(usage.finish_reason, 'max_tokens')} before any text)"
                         if cut else model)
            # reasoning and no text, ended by the model: the answer may be in the reasoning (probe 312: vLLM's
            # --reasoning-parser for a model that writes no <think>; review 315: a <think> the model never closed)
            parsed = f"; reasoning came ({usage.reasoned} characters) and no text: the answer may be in it (a " \
                "server's reasoning parser for a model that writes no <think>, as vLLM's --reasoning-parser, or a " \
                "<think> or <thinking> the model never closed)" if usage.reasoned and not cut else ""
            return EmptyAnswer(f"the answer came back without text from {' and then '.join(asked)}"
                               + (reasoning_advice(usage.finish_reason, "max_tokens") if cut else parsed),
                               usage.finish_reason)

        call = Call(lambda b: self._request(b, self.template, self.options.max_tokens, **self.variables), on_text,
                    on_restart, role=self.template, on_start=on_start, refuse=refuse_empty)
        try:
            self.written_by, usage = await self.runner.call(call)
        except Exception as exc:
            if not self.sequential_text:
                raise
            # what an attempt wrote before the failures (and the stream showed) is kept, as a deadline keeps it;
            # "error" is the finish reason of a stream a failure ended (OpenRouter's word), not the token limit
            self.truncated, self.finish_reason = True, "error"
            raise PartialResultError(f"the answer broke off for good ({describe(exc)}); the text it wrote is in "
                                     ".partial", self.result()) from exc
        self.truncated, self.finish_reason = usage.cut_off(self.options.max_tokens), usage.finish_reason
        self.main_wrote = writing is self.backends[0]

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

    def _fail(self, point: Point, error: Exception, model: str | None = None) -> None:
        point.failed, point.error = True, describe(error)
        # (by default the last model tried: the error's notes name the others)
        log_left_out(f"point {point.index}", model or self.backends[-1].model, error)
        self.errors.append(error)
        self._emit(self.stitcher.finish_point(point.index, skipped=True))

    def _cut_where_stopped(self) -> None:
        """The request stopped: text of a call that had not ended ends where it was stopped (a point's also where
        none of it was shown yet: held back as a header it may restate, or not yet come, or its call not yet sent,
        waiting for a slot of the limits; it is missing, not whole). So does the answer where the sequential call,
        or the skeleton (its later points, or all of them, missing), had not ended, even before its first token."""
        # (a SoT answer with no point yet also waits for the LLM router's verdict, its skeleton written)
        if self.finish_reason is None if self.mode == "sequential" else not (self._skeleton_ended and self.points):
            self.truncated = True
        for point in self.points.values():
            if not point.complete and not point.failed:
                point.truncated = True

    def _emit(self, events: Sequence[TextEvent | WithdrawEvent]) -> None:
        for event in events:
            if self.first_text_at is None and isinstance(event, TextEvent):
                self.first_text_at = anyio.current_time() - self._started
            self.send(event)

    def _note_serial_server(self) -> None:
        backend = self.backends[0]
        note = serial_note(backend.model, len(self.runner.spans))
        self._note = f"{self._note}; {note}" if self._note else note
        if SerialServerWarning not in backend.warned:
            backend.warned.add(SerialServerWarning)
            advise(note, SerialServerWarning)

    def _warn_if_the_fallback_wrote_all(self) -> None:
        """An answer the fallback wrote all of (its points, or the sequential answer), the main model having failed
        with an error, hides a model that may fail every call: warned once per client, model and kind of error."""
        error = next((e for e in self.runner.fallen_back_for if not isinstance(e, EMPTY)), None)
        if error is None or self.main_wrote:
            return
        main, kind = self.backends[0], (FallbackWarning, type(error).__name__, status_of(error))
        if kind in main.warned:
            return
        main.warned.add(kind)
        advise(f"the fallback {self.backends[1].model} wrote all of the answer, {main.model} having failed (the "
               f"first error: {without_text(error)}); if that goes on, check {_what_to_check(error, main.provider)} "
               "(warned once per client and kind of error)", FallbackWarning)

    def _undecided(self) -> str:
        """The route of a result taken before it was decided (a deadline, ``aclose()``), or that no router decides."""
        if self.completes:  # (which takes no mode)
            return f"complete() answers the {self.template} template in one call"
        mode = self.options.mode
        return f"mode={mode!r} was requested" if mode != "auto" else "not routed: the request stopped before the " \
            "router decided"

    def result(self) -> Result:
        """The result as it stands (complete after ``run``; partial for errors)."""
        sequential = self.mode == "sequential"
        points = sorted(self.points.values(), key=lambda p: p.index)
        result = Result(text=self.sequential_text if sequential else self.stitcher.settled_text, mode=self.mode,
                        model=self.backends[0].model, points=points, usage=self.usage,
                        route_reason="; ".join(r for r in (self.reason or self._undecided(), self._note) if r),
                        skeleton_truncated=self.skeleton_truncated, written_by=self.written_by,
                        # (a snapshot taken before the request ended is cut where it stands; probe 334)
                        truncated=self.truncated or self._finished_at is None
                        or not sequential and any(p.truncated for p in points if not p.failed),
                        finish_reason=self.finish_reason)
        if self._started:  # fixed once the request has ended
            result.timings.total_s = (self._finished_at or anyio.current_time()) - self._started
        result.timings.skeleton_s = 0.0 if sequential else self.timings_skeleton_s  # (a skeleton given up: none)
        result.timings.first_point_at = self.first_point_at
        result.timings.first_text_at = self.first_text_at
        return result


class _Sketch:
    """The skeleton call of one answer: its text parsed as it streams, each point's expansion started in ``tg``
    as soon as it may. Nothing starts before a second point; a batch and ``eager=False`` wait for the whole
    skeleton, and ``decided`` (the LLM router's SoT verdict) for that. A new generation of the skeleton (a retry,
    a fallback) is parsed afresh and must agree with every point already started (else ``disagreed``)."""

    def __init__(self, answer: Answer, tg: anyio.abc.TaskGroup, decided: anyio.Event | None) -> None:
        self.answer, self.tg, self.decided = answer, tg, decided
        backend = answer.backends[0]
        # a small model's skeleton (one whose points are read in whole sentences) loops over forms of its titles
        self._new_parser = functools.partial(SkeletonParser, answer.options.max_points,
                                             question=question_view(answer.question),
                                             drop_subsumed=backend.provider.whole_sentences)
        self.parser = self._new_parser()
        self.refused = False  # a refusal's text is coming in place of the model's
        self.batch = backend.provider.supports_batch
        self.wait_for_whole = self.batch or not answer.options.eager
        self.whole = False  # the skeleton call has ended
        self.waiting: list[SkeletonPoint] = []  # parsed, not yet started
        self.disagreed = False
        self.writer = backend.model  # the model writing the skeleton now
        self.by_fallback = False  # and whether it is a fallback
        self.line_writers: set[str] = set()  # the models whose lines the started points are
        self.started_here = False  # points were started from this generation's lines
        self.no_answer: StreamError | None = None  # why the points started are no answer's

    def build(self, backend: Backend) -> ChatRequest:
        request = self.answer._request(backend, "skeleton", self.answer.options.skeleton_max_tokens)
        return dataclasses.replace(self.answer._shared(backend, request, skeleton=True),
                                   max_line_tokens=SKELETON_LINE_TOKENS)

    def on_text(self, text: str) -> bool:
        if not self.refused:
            self._start(self.parser.feed(text))
        return not self.parser.done and not self.disagreed

    def on_refusal(self) -> None:
        """A refusal's text follows: no line of the skeleton (its "\n\n" would end a line cut mid-word)."""
        self.refused = True

    def on_no_answer(self, error: StreamError) -> None:
        """The text was reasoning sent as the answer (a ``</think>`` came): points started from its numbered lines
        are no answer's, and no later skeleton (a fallback's) could keep them: they stop, and the answer fails with
        ``error``, no fallback asked. So do those an earlier generation of the same model started (a model that
        sends its reasoning as text does so on every try; a retry's lines that agree start none); a fallback's
        reasoning leaves the points the main model's lines started, as any failed retry does."""
        if self.started_here or self.writer in self.line_writers:
            self.no_answer = error
            self.tg.cancel_scope.cancel()

    def on_restart(self) -> None:
        self.parser = self._new_parser()
        self.waiting.clear()
        self.refused = self.started_here = False

    def on_start(self, backend: Backend) -> None:
        """A backend writes the skeleton from its start; one that continues the prefill continues its lines
        ("1.", or whole lines too)."""
        self.writer, self.by_fallback = backend.model, backend is not self.answer.backends[0]
        self.on_restart()
        prefill = self.build(backend).prompt.prefill
        if prefill and backend.provider.supports_prefill:
            self._start(self.parser.feed(prefill.rstrip()))

    async def finish(self, last: list[SkeletonPoint]) -> None:
        """The call ended, with ``last`` the points of its unterminated last line: start what waits."""
        self.whole = True
        if self.disagreed:
            return
        if self.decided is not None and len(self.parser.points) >= 2:
            self.answer._hurry_router()
            await self.decided.wait()
        self._start(last)
        if self.answer.points and not self.disagreed:
            self.answer.skeleton_count = max(self.answer.points)
            for cleaner in self.answer._filters.values():  # the points already writing
                cleaner.set_most_points(self.answer.skeleton_count)

    def _start(self, new: list[SkeletonPoint]) -> None:
        answer = self.answer
        for sp in new:  # after a restart the new skeleton must agree with every point already started
            begun = answer.points.get(sp.index)
            if begun is not None and begun.title != sp.title:
                self.disagreed = True
                return
        self.waiting.extend(sp for sp in new if sp.index not in answer.points)
        if not self.waiting or len(self.parser.points) < 2 or (self.wait_for_whole and not self.whole):
            return
        if self.decided is not None and not self.decided.is_set():
            return
        outline = [answer._add_point(p) for p in self.parser.points]
        started = [answer.points[sp.index] for sp in self.waiting]
        self.waiting.clear()
        self.line_writers.add(self.writer)
        self.started_here = True
        if self.batch:
            self.tg.start_soon(answer._expand_batch, started, outline)
        else:
            for point in started:
                self.tg.start_soon(answer._expand, point, outline)


def _what_to_check(error: Exception, provider: Provider) -> str:
    """Where a model's failure points, for a ``FallbackWarning``."""
    status = status_of(error)
    if provider.in_process:
        return "its files and device"
    if status == 429 or isinstance(error, RetryAfterTooLong):
        return "its rate limits and quota"
    if isinstance(error, RequestTooLarge):
        return "its tpm, and the length of the questions and contexts sent to it"
    if status is not None and status >= 500:
        return "its server's status (it was failing or overloaded)"
    if is_retryable(error, provider.transient_errors):  # a connection refused, a timeout, a stall
        return "that its server is up at its base URL"
    if status == 404:
        return "its model name and its base URL's path"
    return "its key, model name and options"


def _too_few(found: int, note: str | None) -> str:
    """Why a skeleton of ``found`` points (under 2) gives a sequential answer; ``note``: what ended it, if it was cut
    off or failed ("the skeleton was cut off by the provider's filter ...")."""
    # a template of the user's may ask for a list style no rule reads ("a)", "I.", "①")
    read = "" if found or note else (" (no list it reads: lines opening with '1.', '1)', '(1)', '1、', '一、', '①', "
                                     "'I.', 'Step 1:', '- ' or '* ', then a space, none needed in a script written "
                                     "without spaces, and a title with a letter)")
    return f"the skeleton had {found} point(s){read}, so the answer is sequential" + (f" ({note})" if note else "")


def _ignore(event: Event) -> None:
    """Where events go when nobody listens (``SoT.generate``)."""


def common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of ``a`` and ``b`` (compared a block at a time: a context may be
    long)."""
    shorter, at, block = min(len(a), len(b)), 0, 4096
    while at < shorter and a[at:at + block] == b[at:at + block]:
        at += block
    at = min(at, shorter)
    while at < shorter and a[at] == b[at]:
        at += 1
    return at
