"""A value per running event loop, for what belongs to the loop that made it: an SDK client's or redis-py's
sockets, anyio locks. A sync app whose threads each run a loop (``anyio.run`` per request) shares one client."""

from __future__ import annotations

import asyncio
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import anyio.lowlevel

from .forks import renewed_in_children

T = TypeVar("T")


#: the attribute of an asyncio loop that keeps the values made for it: {PerLoop: value}, the PerLoop held weakly
_KEPT = "_sotkit_per_loop"


class PerLoop(Generic[T]):
    """``make()``'s value for each event loop that asks, made at its first ``get``; those of loops since closed are
    dropped then (what they hold goes with their loop: a closed loop cannot run its clean-up). Thread-safe.

    An asyncio loop keeps its value itself, this object only a weak reference to the loop: the value refers to its
    loop (an SDK client's sockets, a task's slot), so a table of loops here would keep a loop dropped without being
    closed alive for good, with its sockets and the concurrency slots its tasks hold. A loop object that takes no
    attribute (trio's token) is kept in this object's table."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._values: dict[Any, T] = {}  # by the loop's native token, for one that takes no attribute
        self._loops: weakref.WeakSet[Any] = weakref.WeakSet()  # the loops keeping a value of this one
        self._lock = threading.Lock()
        renewed_in_children(self)

    def after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread of the parent may have held it

    def get(self) -> T:
        """This loop's value."""
        loop = current_loop()
        table, key = self._table(loop)
        value = table.get(key)
        if value is None:
            value = self._make()
            with self._lock:
                self._values = {other: kept for other, kept in self._values.items() if not closed(other)}
                for other in [other for other in self._loops if closed(other)]:
                    self._loops.discard(other)
                    self._table(other)[0].pop(self, None)
                table, key = self._table(loop)  # (this object's own table was made anew)
                table[key] = value
                if table is not self._values:
                    self._loops.add(loop)
        return value

    def pop(self) -> T | None:
        """Forget this loop's value and return it, if it had one."""
        table, key = self._table(current_loop())
        with self._lock:
            return table.pop(key, None)

    def _table(self, loop: Any) -> tuple[dict[Any, T], Any]:
        """Where ``loop``'s value is kept, and its key there."""
        attributes = getattr(loop, "__dict__", None)
        if attributes is None:
            return self._values, loop
        # weakly: a client dropped without aclose() is collected, and closes its connections, while its loop runs on
        table = attributes.get(_KEPT)
        return (attributes.setdefault(_KEPT, weakref.WeakKeyDictionary()) if table is None else table), self


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


def stopped(loop: Any) -> bool:
    """Is (asyncio) ``loop`` not running now (stopped, or closed)? Its tasks cannot go on until it runs again."""
    return isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_running()


def _nothing() -> None:
    pass
