"""Events yielded by ``sotkit.stream()``. Every event has a ``type``; match on it or on the class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

from .result import Mode, Result


@dataclass(frozen=True)
class RouteEvent:
    """The request's mode was decided (by the router, or forced). A ``"sot"`` route whose skeleton then holds fewer
    than two points is followed by a ``"sequential"`` one, which says why: the last route is the answer's mode. With
    ``router="llm"``, a ``RetryEvent`` of the router's call may come before the route."""

    mode: Mode
    reason: str
    type: Literal["route"] = "route"


@dataclass(frozen=True)
class PointEvent:
    """A skeleton point was parsed; its expansion starts now."""

    index: int
    title: str
    type: Literal["point"] = "point"


@dataclass(frozen=True)
class TextEvent:
    """The next piece of the stitched answer, in order. Joined (with each ``WithdrawEvent`` applied), they are
    exactly ``result.text``.

    ``index`` is the point the piece belongs to (``None`` in a sequential answer).
    """

    text: str
    index: int | None = None
    type: Literal["text"] = "text"


@dataclass(frozen=True)
class PointDeltaEvent:
    """A piece of one point's expansion as it arrives, possibly out of order (for UIs that fill all points live)."""

    index: int
    text: str
    type: Literal["point_delta"] = "point_delta"


@dataclass(frozen=True)
class PointDoneEvent:
    """Point ``index`` is finished; ``text`` is its whole expansion (the ``PointDeltaEvent``s joined)."""

    index: int
    text: str
    type: Literal["point_done"] = "point_done"


@dataclass(frozen=True)
class RetryEvent:
    """A call failed and will be tried again after ``wait_s``. ``call`` says which: ``"point"`` (``index`` is the
    point's; ``None`` for any other call), ``"skeleton"``, ``"router"``, ``"sequential"`` (or the template a
    one-call request renders)."""

    index: int | None
    attempt: int
    status: int | None
    wait_s: float
    error: str
    call: str
    type: Literal["retry"] = "retry"


@dataclass(frozen=True)
class FallbackEvent:
    """A call failed for good on ``model`` (``error``, its HTTP ``status`` if any) and goes on to the next model,
    ``fallback``, which writes it anew. ``call`` and ``index`` as in ``RetryEvent``."""

    index: int | None
    call: str
    model: str
    fallback: str
    status: int | None
    error: str
    type: Literal["fallback"] = "fallback"


@dataclass(frozen=True)
class WithdrawEvent:
    """Text already streamed is taken back: a call restarts from scratch, or (``failed``) a point failed for good
    and is left out of the answer (sent for every such point, also one that wrote nothing: a UI drops its title).

    A provider that cannot continue a prefill (OpenAI) answers a retried call with a new generation, and a
    point's text is always one generation, never two spliced. ``text`` is the tail of the stitched answer to
    remove: the last ``len(text)`` characters of what the ``TextEvent``s gave so far (empty when the point's
    text was still buffered behind earlier points; the point's header too where it streamed live: a restarted
    point's comes again with its new text, whose opening may call for another). A UI that shows
    ``PointDeltaEvent``s clears point ``index`` (``None``: the sequential answer). A restarted call's new
    generation follows as usual; a failed point keeps what it wrote in ``Result.points``.
    """

    index: int | None
    text: str
    failed: bool = False
    type: Literal["withdraw"] = "withdraw"


@dataclass(frozen=True)
class DoneEvent:
    """The last event of a stream that succeeded: the whole ``Result``, as ``generate`` would return it."""

    result: Result = field(hash=False)  # (a Result changes as it is built: it has no hash, and the event still does)
    type: Literal["done"] = "done"


Event = Union[RouteEvent, PointEvent, TextEvent, PointDeltaEvent, PointDoneEvent, RetryEvent, FallbackEvent,
              WithdrawEvent, DoneEvent]
