"""What a forked child must not inherit from its parent's clients. gunicorn's ``--preload``, multiprocessing's
fork and Celery's prefork workers build a client, then fork: the child gets a copy of its state, with the slots
that the parent's calls held at that moment (the child has no task to release them: its calls would wait for
ever), locks that another thread may have held, and the parent's name for its Redis leases."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Protocol


class Forkable(Protocol):
    def after_fork(self) -> None:
        """Run in the child: start as if just made."""


_made: weakref.WeakSet[Forkable] = weakref.WeakSet()


def renewed_in_children(made: Forkable) -> None:
    """``made.after_fork()`` runs in every child forked from now on."""
    _made.add(made)


def in_children(renew: Callable[[], object]) -> None:
    """``renew()`` runs in every child forked from now on: for a module's own state, which lives as long as the
    process."""
    if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
        os.register_at_fork(after_in_child=renew)


def _after_fork() -> None:
    for made in list(_made):
        made.after_fork()


in_children(_after_fork)
