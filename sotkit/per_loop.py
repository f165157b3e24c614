"""A value per running event loop, for what belongs to the loop that made it: an SDK client's or redis-py's
sockets, anyio locks. A sync app whose threads each run a loop (``anyio.run`` per request) shares one client."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import anyio.lowlevel

from .forks import renewed_in_children

T = TypeVar("T")


class PerLoop(Generic[T]):
    """``make()``'s value for each event loop that asks, made at its first ``get``; those of loops since closed are
    dropped then (what they hold goes with their loop: a closed loop cannot run its clean-up). Thread-safe."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._values: dict[Any, T] = {}  # by the loop's native token (an asyncio loop, a trio token)
        self._lock = threading.Lock()
        renewed_in_children(self)

    def after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread of the parent may have held it

    def get(self) -> T:
        """This loop's value."""
        loop = current_loop()
        value = self._values.get(loop)
        if value is None:
            value = self._make()
            with self._lock:
                self._values = {other: kept for other, kept in self._values.items() if not closed(other)}
                self._values[loop] = value
        return value

    def pop(self) -> T | None:
        """Forget this loop's value and return it, if it had one."""
        loop = current_loop()
        with self._lock:
            return self._values.pop(loop, None)


def current_loop() -> Any:
    """The running event loop's native token: an asyncio loop itself (looked up the cheap way: every call takes a
    concurrency slot with it), a trio token."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # trio
        return anyio.lowlevel.current_token().native_token


def closed(loop: Any) -> bool:
    if isinstance(loop, asyncio.AbstractEventLoop):
        return loop.is_closed()
    try:  # a trio token, which refuses callbacks once its run has finished (a no-op one runs in a live one)
        loop.run_sync_soon(_nothing)
    except sys.modules["trio"].RunFinishedError:
        return True
    return False


def _nothing() -> None:
    pass
