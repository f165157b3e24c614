"""Per-model limits shared by every request through one ``SoT`` client."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from .errors import ConfigError


class Limits(Protocol):
    """What the runner uses of a model's limits: ``ModelLimits`` in one process, ``SharedModelLimits`` across
    processes (``sotkit.limits_redis``)."""

    def slot(self) -> AbstractAsyncContextManager[None]: ...

    async def admit(self, estimated_tokens: int) -> None: ...


class TokenBucket:
    """``rate_per_minute`` units, refilled continuously; ``take`` waits until the units are there.

    The bucket holds one second's worth (at least one unit), so a burst never spends a whole minute's
    budget at once: requests are spread evenly, the way providers enforce their limits. A request larger than the
    bucket goes when it is full and leaves it in debt for the rest, so the rate holds for large requests too.
    """

    def __init__(self, rate_per_minute: float) -> None:
        if rate_per_minute <= 0:
            raise ConfigError(f"a per-minute rate limit must be positive, got {rate_per_minute}")
        self.rate_per_s = rate_per_minute / 60.0
        self.capacity = max(1.0, self.rate_per_s)
        self._level = self.capacity
        self._updated: float | None = None  # set on first use, inside the event loop
        self._lock = anyio.Lock()

    async def take(self, units: float) -> None:
        need = min(units, self.capacity)
        async with self._lock:  # first come, first served
            while True:
                now = anyio.current_time()
                if self._updated is not None:
                    self._level = min(self.capacity, self._level + (now - self._updated) * self.rate_per_s)
                self._updated = now
                if self._level >= need:
                    self._level -= units
                    return
                await anyio.sleep((need - self._level) / self.rate_per_s)


@dataclass
class ModelLimits:
    """Concurrency plus optional requests- and tokens-per-minute budgets for one model."""

    max_concurrency: int
    rpm: float | None = None
    tpm: float | None = None
    capacity: anyio.CapacityLimiter = field(init=False)
    requests: TokenBucket | None = field(init=False, default=None)
    tokens: TokenBucket | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not isinstance(self.max_concurrency, int) or self.max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be a whole number of at least 1, got {self.max_concurrency!r}")
        self.capacity = anyio.CapacityLimiter(self.max_concurrency)
        self.requests = TokenBucket(self.rpm) if self.rpm is not None else None
        self.tokens = TokenBucket(self.tpm) if self.tpm is not None else None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the ``max_concurrency`` slots, held for the block. A free slot is taken without a checkpoint:
        with hundreds of streams in flight a checkpoint waits a whole turn of the event loop, and every
        expansion would pay it before its request left (benchmarks/overhead.py)."""
        try:
            self.capacity.acquire_nowait()  # refused while others wait, so first come stays first served
        except anyio.WouldBlock:
            await self.capacity.acquire()
        try:
            yield
        finally:
            self.capacity.release()

    async def admit(self, estimated_tokens: int) -> None:
        """Wait for the per-minute budgets (the concurrency slot is taken separately, per attempt)."""
        if self.requests:
            await self.requests.take(1)
        if self.tokens:
            await self.tokens.take(estimated_tokens)


def estimate_tokens(prompt_chars: int, max_tokens: int) -> int:
    """What a tokens-per-minute budget charges for a call: the prompt (about 4 characters a token) plus
    the output it may write, as providers count it."""
    return math.ceil(prompt_chars / 4) + max_tokens
