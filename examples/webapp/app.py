"""A one-page web app that streams Skeleton-of-Thought answers to the browser with server-sent events.

    pip install -e '.[local,examples]'
    python examples/webapp/app.py                                  # http://127.0.0.1:8000
    python examples/webapp/app.py --model openai:gpt-4o-mini
    python examples/webapp/app.py --model openai:qwen2.5 --base-url http://localhost:8001/v1
    uvicorn --factory app:create_app                               # from examples/webapp/, model from $SOTKIT_MODEL

The skeleton shows as soon as it is parsed, every point fills in live and in parallel (``point_delta``
events), and the footer compares the total time with an estimate of a sequential answer of the same length.
The model is ``--model``, else ``sotkit.default_model()``: ``$SOTKIT_MODEL``, else OpenAI or Anthropic when
their key is set, else the embedded ``local:smollm2`` (a base URL set in the environment with no key is an error:
name its server's model).
"""

from __future__ import annotations

import argparse
import html
import json
import statistics
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.routing import Route

import sotkit
from sotkit.errors import describe

PAGE = (Path(__file__).parent / "index.html").read_text(encoding="utf-8")


@dataclass
class Stopwatch:
    """Times one answer as its events arrive, and estimates how long one sequential call would have taken.

    A sequential call writes the whole answer at the speed of one call, after one wait for its first token.
    One call's speed is measured twice, and the faster is used, so the estimate errs on the short side:
    on the points (their characters after their first piece of text over the time from it to their last: sotkit
    holds a point's opening back while it may be talk, so the first piece may hold many characters written before
    it came, and a point that comes in one piece says nothing of the speed; in-process models write all points as
    one batch, whose rows run slower than a single call would) and on the skeleton call (its characters over its
    whole duration, first-token wait included).
    """

    clock: Callable[[], float] = time.perf_counter
    first_point_s: float | None = None
    parsed: dict[int, float] = field(default_factory=dict)      # point index -> when its title arrived
    first_text: dict[int, float] = field(default_factory=dict)  # point index -> when its first text arrived
    writing: dict[int, float] = field(default_factory=dict)     # point index -> first text of its last attempt
    opening: dict[int, int] = field(default_factory=dict)       # point index -> characters of that first text
    decode_s: dict[int, float] = field(default_factory=dict)    # point index -> first to last text
    chars: dict[int, int] = field(default_factory=dict)         # point index -> characters written after it

    def __post_init__(self) -> None:
        self.started = self.clock()

    def record(self, event: sotkit.Event) -> None:
        now = self.clock() - self.started
        if event.type == "point":
            self.parsed[event.index] = now
            self.first_point_s = self.first_point_s if self.first_point_s is not None else now
        elif event.type == "point_delta":
            self.first_text.setdefault(event.index, now)
            if event.index not in self.writing:
                self.writing[event.index], self.opening[event.index] = now, len(event.text)
        elif event.type == "withdraw" and event.index is not None:
            self.writing.pop(event.index, None)  # a restarted point: its decoding is timed from its new text
        elif event.type == "point_done" and event.index in self.writing:
            self.decode_s[event.index] = now - self.writing[event.index]
            self.chars[event.index] = len(event.text) - self.opening[event.index]

    def footer(self, result: sotkit.Result) -> dict[str, Any]:
        """The numbers the page's footer shows; ``sequential_s`` is None where it cannot be measured."""
        stats: dict[str, Any] = {
            "mode": result.mode, "total_s": self.clock() - self.started, "first_point_s": self.first_point_s,
            "answer_chars": len(result.text), "output_tokens": result.usage.output_tokens,
            "calls": result.usage.calls, "sequential_s": None,
        }
        if result.mode != "sot" or not self.decode_s or result.timings.skeleton_s <= 0:
            return stats
        skeleton_chars = sum(len(f"{p.index}. {p.title}\n") for p in result.points)
        speeds = {"skeleton_chars_per_s": skeleton_chars / result.timings.skeleton_s}
        if (decode_s := sum(self.decode_s.values())) > 0 and (chars := sum(self.chars.values())) > 0:
            speeds["points_chars_per_s"] = chars / decode_s
        chars_per_s = max(speeds.values())
        ttft_s = statistics.median(self.first_text[i] - self.parsed[i] for i in self.decode_s)
        return stats | speeds | {"chars_per_s": chars_per_s, "ttft_s": ttft_s,
                                 "sequential_s": ttft_s + len(result.text) / chars_per_s}


def server_sent(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


async def answer_events(sot: sotkit.SoT, question: str) -> AsyncIterator[str]:
    """The SSE stream of one answer. Leaving early (the browser went away) cancels every call in flight."""
    watch = Stopwatch()
    try:
        async with sot.stream(question) as events:
            async for event in events:
                watch.record(event)
                if event.type == "done":
                    yield server_sent("done", watch.footer(event.result))
                elif event.type != "text" or event.index is None:  # SoT points are drawn from point_delta
                    yield server_sent(event.type, {k: v for k, v in vars(event).items() if k != "type"})
    except Exception as exc:  # a bad question, or a model that kept failing (the SDK's own error): tell the page why
        # describe: the error as sotkit says it, its key as *** where a server repeats it. The page is public: a
        # real app would show a generic message and log the rest.
        yield server_sent("failure", {"message": describe(exc, 500)})


def create_app(model: str | None = None, **client_options: Any) -> Starlette:
    """The app: ``GET /`` is the page, ``GET /answer?q=...`` streams one answer as server-sent events (a browser's
    ``EventSource`` asks with GET only, and a query of some 256 KiB is past uvicorn's limit: the page's field holds at
    most 10,000 characters, at most 90 KiB so encoded).

    ``model`` and ``client_options`` (``base_url``, ``mode``, ``max_concurrency``, ...) build the ``sotkit.SoT``
    client that every request shares, so its concurrency and rate limits hold across users.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with sotkit.SoT(model, **client_options) as sot:
            app.state.sot = sot
            yield

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.replace("{{ model }}", html.escape(request.app.state.sot.model)))

    async def answer(request: Request) -> StreamingResponse:
        events = answer_events(request.app.state.sot, request.query_params.get("q", ""))
        return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    return Starlette(routes=[Route("/", page), Route("/answer", answer)], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="provider:model (default: sotkit.default_model())")
    parser.add_argument("--base-url", help="an OpenAI-compatible server, with --model openai:<name>")
    parser.add_argument("--mode", choices=["auto", "sot", "sequential"], default="auto")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port (printed at startup)")
    args = parser.parse_args()
    uvicorn.run(create_app(args.model, mode=args.mode, base_url=args.base_url), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
