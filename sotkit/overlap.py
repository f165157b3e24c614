"""Did the server expand the points at once, or one after another?

SoT is faster only where the server decodes several requests at once (continuous batching, parallel slots).
A server that takes one request at a time (llama-cpp-python's, llama.cpp's ``llama-server -np 1``, Ollama with
``OLLAMA_NUM_PARALLEL=1``) queues the expansions, and the answer comes later than a sequential one would.

What the client sees of each expansion call is when it was sent (after sotkit's own concurrency slot) and when
its first and last text arrived. On a serialising server every call that was sent while another was still
writing gets its first text only after that other call's last: the writing spans line up one after another
instead of overlapping. Three such calls in a row are needed, each written over a noticeable time: a call
written in a few milliseconds (a short answer, or one the client read in one go while busy) cannot show an
overlap, and a queue of such calls costs the user nothing. Calls that sotkit itself sent one at a time
(``max_concurrency=1``, points found late in the skeleton) are no evidence at all, nor are calls that waited for
a concurrency slot or the per-minute budgets (``rpm``, ``tpm``): spaced by them, they may line up on any server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: calls that must each have waited for the one before, for the server to count as serialising
MIN_CALLS = 3
#: seconds from a call's first to its last text, under which it cannot tell an overlap
MIN_WRITING_S = 0.05
#: how far (as a share of the earlier call's writing span) two spans may overlap and still count as in turn:
#: the client reads two sockets in its own order, so a next call's first text may be stamped a little early
SLACK = 0.1


class SerialServerWarning(UserWarning):
    """The server wrote a request's expansions one at a time (given once per client and model)."""


@dataclass(frozen=True)
class CallSpan:
    """When a call was sent and when its first and last text arrived (any one clock)."""

    sent: float
    first_text: float
    last_text: float


def one_at_a_time(spans: Iterable[CallSpan]) -> bool:
    """True when the server wrote these calls strictly in turn although they were sent to run at once."""
    spans = sorted(spans, key=lambda s: s.first_text)
    if len(spans) < MIN_CALLS or any(s.last_text - s.first_text < MIN_WRITING_S for s in spans):
        return False
    return all(later.sent < earlier.last_text  # sent while the earlier one was still being written ...
               and later.first_text >= earlier.last_text - SLACK * (earlier.last_text - earlier.first_text)
               for earlier, later in zip(spans, spans[1:]))  # ... yet written only after it


def serial_note(model: str, calls: int) -> str:
    return (f"{model} wrote the {calls} expansions one at a time, so SoT was no faster than a sequential answer "
            "there; set the server up to decode requests in parallel (see 'OpenAI-compatible servers' in "
            "sotkit's README) or use mode='sequential'")
