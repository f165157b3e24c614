"""What a request returns: the stitched answer with its skeleton, usage and timings."""

from __future__ import annotations

from dataclasses import InitVar, asdict, dataclass, field
from typing import Any, Literal

from .pricing import Prices  # imported at run time too: typing.get_type_hints (pydantic, FastAPI) reads the hints

Mode = Literal["sot", "sequential"]


@dataclass
class Usage:
    """Tokens and calls, summed over every call a request made (retries included).

    A call whose server reported no counts (llama.cpp's servers send none in a stream) adds an estimate, at
    about four characters a token, and counts in ``estimated_calls``: the totals are then partly estimated,
    never a zero that reads as measured.

    ``cost`` is USD, summed over the calls (see ``sotkit.pricing``): ``None`` when any call's model has no known
    price, 0.0 for in-process models. It is computed from the token counts, so it is an estimate too when
    ``estimated`` is true. Input tokens the provider's prompt cache served (``cache_read_tokens``) or wrote
    (``cache_write_tokens``, Anthropic's) are part of ``input_tokens`` and priced at the cache's prices;
    ``web_searches`` are the searches a server ran for the calls (Anthropic's web search tool), priced per search.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    estimated_calls: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    web_searches: int = 0
    priced_calls: list[tuple[Any, ...]] = field(default_factory=list, repr=False)
    """``(model, input tokens, output tokens, cache reads, cache writes, service tier, when, cache writes that stay an
    hour, web searches)`` of each call (the last six may be left out), which ``cost`` prices one by one: a long
    prompt's price tier is its call's own, a service tier the server reported (OpenAI's ``priority``, ``flex``) at its
    rates, and each call at the prices of its day (``when``, seconds since the epoch), so that a result reads the same
    cost whenever it is read."""
    prices: InitVar[Prices | None] = None
    """The client's prices (its ``prices=`` overrides); the library's alone when None. Not a field, so that
    ``dataclasses.asdict(result)`` stays plain data that ``json.dumps`` takes."""

    def __post_init__(self, prices: Prices | None) -> None:
        # the prices of the calls from each index on: a sum of requests from several clients prices each at its own
        self._prices: list[tuple[int, Prices | None]] = [(0, prices)]

    @property
    def cost(self) -> float | None:
        """Priced when read, so a request that nobody asks the cost of never loads the price table (its first
        read takes some 60 ms, and its objects lengthen every full garbage collection after)."""
        calls = self.priced_calls
        if sum(call[1] for call in calls) < self.input_tokens or sum(call[2] for call in calls) < self.output_tokens:
            return None  # tokens no call of its own priced (a Usage built by hand): unknown, never free
        total = 0.0
        ends = [start for start, _ in self._prices[1:]] + [len(self.priced_calls)]
        for (start, prices), end in zip(self._prices, ends):
            prices = prices or Prices()
            for model, input_tokens, output_tokens, *cached in self.priced_calls[start:end]:
                if not input_tokens and not output_tokens:
                    continue  # a call that spent no tokens (refused before it started) costs nothing, priced or not
                cost = prices.cost(model, input_tokens, output_tokens, *cached)
                if cost is None:
                    return None
                total += cost
        return total

    @property
    def estimated(self) -> bool:
        """Are the token counts (partly) sotkit's estimate rather than the servers' own?"""
        return self.estimated_calls > 0

    def add(self, other: Usage) -> None:
        """Add ``other``'s tokens and calls (to total several requests' usage): a sum is priced as its parts are,
        each part's calls with the prices its client was given (``prices=``, or none); a part built by hand without
        ``prices``, with the sum's."""
        for start, prices in list(other._prices):  # a copy: ``other`` may be this very usage
            prices = self._prices[0][1] if prices is None else prices
            if prices is not self._prices[-1][1]:
                self._prices.append((len(self.priced_calls) + start, prices))
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.calls += other.calls
        self.estimated_calls += other.estimated_calls
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.web_searches += other.web_searches
        self.priced_calls += other.priced_calls


@dataclass
class Timings:
    """Seconds since the request started (``*_at``) or durations (``*_s``), on sotkit's clock: when it made an
    event, not when a slow reader of ``stream()`` took it. The first call through an SDK includes importing it."""

    total_s: float = 0.0
    """The whole request, to its result or error."""
    skeleton_s: float = 0.0
    """From the request's start to the skeleton call's end (0 for a sequential answer)."""
    first_point_at: float | None = None
    """When the skeleton's first points were taken into the answer (two lines read, or the whole skeleton where
    points wait for it) and their expansions started."""
    first_text_at: float | None = None
    """When the answer's first text was released to the stitched text (also where a retry later withdrew it)."""


@dataclass
class Point:
    """One skeleton point of a SoT answer and its expansion.

    ``index`` is its number in the skeleton (from 1), ``title`` the head of its skeleton line (``Sleep`` of ``Sleep:
    get eight hours``), ``text`` its expansion (without the title), ``attempts`` how many calls tried to write it (a
    batched generation counts once per point).
    """

    index: int
    title: str
    text: str = ""
    attempts: int = 0
    model: str | None = None
    """The model that wrote this point: the request's model, or the fallback."""
    failed: bool = False
    """True when the point was skipped (``on_point_error="skip"``) or failed (see ``error``)."""
    error: str | None = None
    """Why it failed (``failed``): its last attempt's error, ``"Type: message"`` (``"BadRequestError: ..."``), then
    sotkit's notes on it: why it was not retried (a wait past the deadline), the main model's error where this is
    the fallback's."""
    complete: bool = False
    """True when the point's call ended as the model ended it (or at its token budget); False for a point cut
    mid-stream (by the deadline, say), whose ``text`` is only a beginning."""
    truncated: bool = False
    """The point's call was cut off, at its token budget (``point_max_tokens``), by the provider's filter or (a local
    model) where it began to repeat itself, or stopped (a deadline, ``aclose()``) before it ended: its text ends where
    the call was stopped (empty where none of it was shown yet, or where the call was not yet sent, waiting for a
    slot of the limits)."""
    finish_reason: str | None = None
    """Why the point's call ended, in the provider's words (``stop``, ``end_turn``; ``length``, ``max_tokens``;
    ``content_filter``, ``refusal``; a local model's ``repetition``; ...); None until it ends, or where the server
    said nothing."""

    @property
    def done(self) -> bool:
        """The point is complete, with text, and not failed."""
        return self.complete and bool(self.text) and not self.failed


@dataclass
class Result:
    """A finished answer: ``text`` is the stitched answer (the points in skeleton order, or the sequential answer),
    ``mode`` how it was written, ``model`` the request's model, ``points`` the skeleton's points with their text
    (empty for a sequential answer), ``usage`` and ``timings`` summed over every call."""

    text: str
    mode: Mode
    model: str
    points: list[Point] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    timings: Timings = field(default_factory=Timings)
    route_reason: str | None = None
    """Why this mode was chosen (router decision, or why SoT fell back to a sequential answer)."""
    skeleton_truncated: bool = False
    """The skeleton call failed after some points on every attempt, or stopped at ``skeleton_max_tokens`` (or its
    retry disagreed with the points already started): the answer has the points written before that, and may lack
    later ones. Also where its numbered list began past 1: it may lack the first ones; and where a list line wrote a
    number again or out of order ("1.\n2.\n2.\n3."), left out (``route_reason`` names it, unless it says what
    ended the skeleton)."""
    written_by: str | None = None
    """The model that wrote a sequential answer, or a SoT answer's skeleton (what its points are): ``model``, or the
    fallback where it failed (a SoT point's is ``Point.model``)."""
    truncated: bool = False
    """A call was cut off, at its token budget, by the provider's filter (``content_filter``, ``refusal``) or (a local
    model) where it began to repeat itself (``repetition``), or stopped before it ended (a deadline's or ``aclose()``'s
    partial result): the sequential answer (``max_tokens``), or a point (``point_max_tokens``; see
    ``Point.truncated``). The text there ends where the call was stopped. A stop before the skeleton or the
    sequential call ended (before its first token, too) is one: the answer lacks what they had yet to write."""
    finish_reason: str | None = None
    """Why a sequential answer's call ended, in the provider's words (a point's is ``Point.finish_reason``)."""

    @property
    def skeleton(self) -> list[str]:
        """The skeleton's point titles, in order."""
        return [p.title for p in self.points]

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data, for ``json.dumps`` (what ``sotkit ask --json`` prints): its fields and the
        derived ones too (``skeleton``, each point's ``done``, ``usage.cost`` and ``usage.estimated``), with usage as
        totals, not per priced call."""
        data = asdict(self)
        data["skeleton"] = self.skeleton
        for point, fields in zip(self.points, data["points"]):
            fields["done"] = point.done
        usage = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "web_searches", "calls",
                 "estimated_calls", "estimated", "cost")
        data["usage"] = {name: getattr(self.usage, name) for name in usage}
        return data
