"""Per-model limits shared by every request through one ``SoT`` client."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from .errors import ConfigError, RequestTooLarge
from .forks import renewed_in_children
from .per_loop import closed, current_loop, stopped
from .providers.base import estimated_tokens


#: a call that waited less than this for its budgets or a shared slot was not spaced by them (a turn of the event
#: loop, or a Redis round trip near by)
SPACED_S = 0.01
#: the least and the most a take behind the first waits (until woken, or its estimated turn) before it looks whether
#: the first's event loop stopped (the most: takes ahead that gave up made its estimate late; review 279)
GONE_CHECK_S = (0.5, 5.0)
#: how long a first take whose event loop stopped may leave its units unclaimed before it loses its place
GONE_GRACE_S = 1.0


class Limits(Protocol):
    """What the runner uses of a model's limits: ``ModelLimits`` in one process, ``SharedModelLimits`` across
    processes (``sotkit.limits_redis``)."""

    @property
    def tpm(self) -> float | None: ...  # the tokens-per-minute budget, if any

    def slot(self) -> AbstractAsyncContextManager[bool]: ...  # True: the call waited for its slot

    async def admit(self, estimated_tokens: int) -> bool: ...  # True: it waited for the budgets


class TokenBucket:
    """``rate_per_minute`` units, refilled continuously; ``take`` waits until the units are there.

    The bucket holds one second's worth (at least one unit), so a burst never spends a whole minute's
    budget at once: requests are spread evenly, the way providers enforce their limits. A request larger than the
    bucket goes when it is full and leaves it in debt for the rest, so the rate holds for large requests too.
    Takes wait in one line, in the order they came, from any task of any event loop in the process (a lock-protected
    level, the monotonic clock): only the first waits for the refill, and each take that goes or gives up wakes the
    next, in its own loop. A take that gives up spends nothing: its turn goes to the take behind it (probe 274: takes
    that reserved their units on arrival kept the budget of the requests a deadline or a caller ended, and a busy
    service's calls waited behind turns nobody took).
    """

    def __init__(self, rate_per_minute: float) -> None:
        if rate_per_minute <= 0:
            raise ConfigError(f"a per-minute rate limit must be positive, got {rate_per_minute}")
        self.rate_per_s = rate_per_minute / 60.0
        self.capacity = max(1.0, self.rate_per_s)
        self.after_fork()
        renewed_in_children(self)

    def after_fork(self) -> None:
        self._level = self.capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()
        self._line: deque[_Waiter] = deque()  # the takes waiting, first come first
        self._queued = 0.0  # their units

    async def take(self, units: float) -> bool:
        """Take ``units``, waiting for their turn: True where that wait spaced the call (``SPACED_S``)."""
        need = min(units, self.capacity)
        with self._lock:
            if not self._line and self._refilled() >= need:  # no checkpoint: most calls do not wait
                self._level -= units
                return False
            mine = _Waiter(current_loop(), anyio.Event(), units)
            self._join(mine)
        asked = time.monotonic()
        try:
            while True:
                with self._lock:
                    if mine.dropped:  # its loop was found stopped, and has run again: to the end of the line
                        mine.dropped = False
                        self._join(mine)
                    if mine.event.is_set():  # woken: a new event for the next wake, before the line is read
                        mine.event = anyio.Event()
                    moved, look_again = self._drop_gone()
                    first = self._line[0] is mine
                    if first and self._refilled() >= need:
                        self._level -= units
                        self._leave(mine)
                        break
                    # the first waits for the refill; the others until woken, or their turn (bounded by
                    # GONE_CHECK_S), and then look for a first whose loop stopped: it would never go
                    least, most = GONE_CHECK_S
                    wait = (need - self._level) / self.rate_per_s if first \
                        else min(most, max(least, mine.turn - time.monotonic()), look_again)
                if moved and not first:
                    self._wake_first()
                with anyio.move_on_after(wait):
                    await mine.event.wait()
        except BaseException:  # it gives up, and spends nothing: the next take in line has its turn
            with self._lock:
                first = bool(self._line) and self._line[0] is mine
                if not mine.dropped:
                    self._leave(mine)
            if first:
                self._wake_first()
            raise
        self._wake_first()
        return time.monotonic() - asked > SPACED_S

    def unspent(self, units: float, taken_at: float) -> float:
        """How many of ``units`` taken at ``taken_at`` (monotonic) a call that did not go may give back: all at once,
        and less by the refill since, which a full bucket may have lost while they were out (given back whole,
        they would count twice: review 283's 180 tokens in 0.1 s from a bucket of 100)."""
        return max(0.0, units - (time.monotonic() - taken_at) * self.rate_per_s)

    def give_back(self, units: float) -> None:
        """Units taken for a call that did not go after all (``unspent``)."""
        with self._lock:
            self._level = min(self.capacity, self._refilled() + units)
        self._wake_first()

    def _join(self, waiter: _Waiter) -> None:
        """``waiter`` to the end of the line (under the lock), with its turn were every take ahead to go in its own:
        when it looks for a first whose loop stopped."""
        need = min(waiter.units, self.capacity)
        waiter.turn = time.monotonic() + max(0.0, self._queued + need - self._level) / self.rate_per_s
        self._line.append(waiter)
        self._queued += waiter.units

    def _leave(self, waiter: _Waiter) -> None:
        self._line.remove(waiter)
        self._queued -= waiter.units

    def _drop_gone(self) -> tuple[bool, float]:
        """Drop the first take in line where its event loop closed, or stopped and has left its units unclaimed for
        ``GONE_GRACE_S`` (under the lock): it cannot go, and the takes behind it would wait for ever (review 277: a
        thread's loop closed or left with its request waiting). A loop run in slices (a GUI's) claims within one.
        Whether it dropped any, and in how long to look again (``inf``: no first is late)."""
        dropped, now = False, time.monotonic()
        while self._line:
            first = self._line[0]
            if not closed(first.loop):
                due = stopped(first.loop) and self._refilled() >= min(first.units, self.capacity)
                first.due = (first.due or now) if due else None
                if first.due is None:
                    return dropped, math.inf
                if now - first.due < GONE_GRACE_S:
                    return dropped, first.due + GONE_GRACE_S - now
            self._leave(first)
            first.dropped = dropped = True
        return dropped, math.inf

    def _refilled(self) -> float:
        """The level now (under the lock)."""
        now = time.monotonic()
        self._level = min(self.capacity, self._level + (now - self._updated) * self.rate_per_s)
        self._updated = now
        return self._level

    def _wake_first(self) -> None:
        """Wake the first take in line, in its own loop, to wait for its units (one whose loop closed leaves)."""
        while True:
            with self._lock:
                if not self._line:
                    return
                first = self._line[0]
                event = first.event
            try:
                _set_in(first.loop, event)
                return
            except RuntimeError:  # its loop closed
                with self._lock:
                    if not first.dropped:
                        self._leave(first)
                        first.dropped = True


@dataclass(eq=False)
class _Waiter:
    """A take waiting in a bucket's line: its event loop's native token, the event that wakes it there, its units,
    and whether the line dropped it as its loop had stopped."""

    loop: Any
    event: anyio.Event
    units: float
    turn: float = 0.0  #: its turn on the monotonic clock, were every take ahead of it to go in its own
    due: float | None = None  #: since when, first in line, its units have been there while its loop was stopped
    dropped: bool = False


class Slots:
    """``total`` slots shared by every task of every event loop in the process, first come, first served.

    One ``anyio.CapacityLimiter`` belongs to the event loop it was first used in: a sync app whose threads each
    run a loop (``anyio.run`` per request) on one client would wait on it for ever. A slot handed over is woken in
    the waiter's own loop. A slot is held by its loop: one whose loop closed before its task released it (closed by
    hand with the task pending, or left by a ``KeyboardInterrupt`` raised in a task) is taken back when a call would
    otherwise wait.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.after_fork()
        renewed_in_children(self)

    def after_fork(self) -> None:
        """A forked child starts with every slot free: the parent's calls that held them are not the child's."""
        self.in_use = 0
        self._held: Counter[Any] = Counter()  # slots in use, by the native token of the loop that holds each
        self._lock = threading.Lock()
        self._waiters: deque[tuple[Any, anyio.Event]] = deque()  # (the waiter's loop, its event)

    def try_acquire(self) -> Any:
        """Take a free slot without a checkpoint: the loop that holds it, to give to ``release``, or None (refused
        while others wait, so first come stays first served)."""
        loop = current_loop()
        with self._lock:
            if self.in_use < self.total and not self._waiters:
                self.in_use += 1
                self._held[loop] += 1
                return loop
        return None

    async def acquire(self) -> Any:
        """Wait for a slot: the loop that holds it, to give to ``release``."""
        waiter = (current_loop(), anyio.Event())
        with self._lock:
            self._waiters.append(waiter)
            self._take_back()
        self._hand_on()  # a slot free now (taken back, or released meanwhile) goes to the longest waiter
        try:
            await waiter[1].wait()
        except BaseException:
            with self._lock:
                handed = waiter not in self._waiters
                if not handed:
                    self._waiters.remove(waiter)
            if handed:  # the slot came as the wait was cancelled: the next waiter gets it
                self.release(waiter[0])
            raise
        return waiter[0]

    def release(self, loop: Any) -> None:
        """Give back a slot ``loop`` holds (what the acquire gave), also from a task finalised after its loop ended;
        nothing where the slot was taken back already."""
        with self._lock:
            if not self._held[loop]:
                return
            self._give_back(loop)
        self._hand_on()

    def _give_back(self, loop: Any) -> None:
        """One of ``loop``'s slots is free (under the lock)."""
        self.in_use -= 1
        self._held[loop] -= 1
        if not self._held[loop]:
            del self._held[loop]  # no loop is kept alive here

    def _take_back(self) -> None:
        """Free the slots of loops that closed holding them (under the lock)."""
        for loop in [loop for loop, held in self._held.items() if held and closed(loop)]:
            self.in_use -= self._held.pop(loop)

    def _hand_on(self) -> None:
        """Free slots go to the waiters in the order they came, each woken in its own loop."""
        while True:
            with self._lock:
                if not self._waiters or self.in_use >= self.total:
                    return
                loop, event = self._waiters.popleft()
                self.in_use += 1
                self._held[loop] += 1
            try:
                _set_in(loop, event)
            except RuntimeError:  # the waiter's loop closed under it: the next waiter gets the slot
                with self._lock:
                    self._give_back(loop)


def _set_in(loop: Any, event: anyio.Event) -> None:
    """Set ``event`` in its own event loop (``loop``: the native token of the loop that made it)."""
    try:
        here = current_loop()
    except RuntimeError:  # called outside any event loop
        here = None
    if loop is here:
        event.set()
    elif hasattr(loop, "call_soon_threadsafe"):  # asyncio
        loop.call_soon_threadsafe(event.set)
    else:  # trio
        loop.run_sync_soon(event.set)


@dataclass
class ModelLimits:
    """Concurrency plus optional requests- and tokens-per-minute budgets for one model, held across every event
    loop of the process."""

    max_concurrency: int
    rpm: float | None = None
    tpm: float | None = None
    slots: Slots = field(init=False)
    requests: TokenBucket | None = field(init=False, default=None)
    tokens: TokenBucket | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not isinstance(self.max_concurrency, int) or self.max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be a whole number of at least 1, got {self.max_concurrency!r}")
        self.slots = Slots(self.max_concurrency)
        self.requests = TokenBucket(self.rpm) if self.rpm is not None else None
        self.tokens = TokenBucket(self.tpm) if self.tpm is not None else None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        """One of the ``max_concurrency`` slots, held for the block (as: did the call wait for it?). A free slot is
        taken without a checkpoint: with hundreds of streams in flight a checkpoint waits a whole turn of the event
        loop, and every expansion would pay it before its request left (benchmarks/overhead.py)."""
        holder = self.slots.try_acquire()
        waited = holder is None
        if waited:
            holder = await self.slots.acquire()
        try:
            yield waited
        finally:
            self.slots.release(holder)

    async def admit(self, estimated_tokens: int) -> bool:
        """Wait for the per-minute budgets (the concurrency slot is taken separately, per attempt): True where the
        call had to wait. The request last, so that calls leave at most at its rate: calls that held a request each
        while they waited for tokens in debt left together once the tokens came. One that gives up waiting for its
        request has its tokens back."""
        waited, taken_at = False, 0.0
        if self.tokens:
            waited, taken_at = await self.tokens.take(estimated_tokens), time.monotonic()
        if self.requests:
            try:
                waited = await self.requests.take(1) or waited
            except BaseException:
                if self.tokens:
                    self.tokens.give_back(self.tokens.unspent(estimated_tokens, taken_at))
                raise
        return waited


def check_fits(estimated_tokens: int, tpm: float) -> None:
    """Refuse a call that a tokens-per-minute budget cannot serve in a minute: it would wait, silent, for as many
    minutes as it is larger (12 for a 24K-token prompt against 2,000), and the provider refuses it as too large."""
    if estimated_tokens > tpm:
        raise RequestTooLarge(f"this call is charged about {estimated_tokens:,} tokens (its prompt, at about 4 "
                              f"characters a token, plus its max_tokens), more than tpm={tpm:g} allows in a minute: "
                              f"such calls would go one per {estimated_tokens / tpm:.1f} minutes, silent, and a "
                              "provider refuses a request over its per-minute limit; raise tpm to your provider's "
                              "limit, or shorten the question or its context")


def estimate_tokens(prompt_chars: int, max_tokens: int) -> int:
    """What a tokens-per-minute budget charges for a call: the prompt (about 4 characters a token, as
    ``Prompt.chars`` counts them) plus the output it may write, as providers count it."""
    return estimated_tokens(prompt_chars) + max_tokens
