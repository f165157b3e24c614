"""What do sotkit's OpenTelemetry spans cost the client, off and on?

1. Off, per request: the tracing hooks one 8-point SoT answer runs (``start_request``, the request span, nine
   call spans with their ``request``/``usage``/``finished`` calls) timed with ``timeit`` while no tracer provider
   is set (``opentelemetry`` imported, the API's default proxy), against the client CPU one request costs.
2. On against off: ``benchmarks/overhead.py``'s client (N concurrent questions of 8 points, the loopback server in
   its own process) with no tracer provider, then with the OpenTelemetry SDK's ``TracerProvider`` whose processor
   exports to nowhere (the spans are made, ended and dropped). The variants take turns, run after run.

    .venv/bin/python benchmarks/tracing_overhead.py [--questions 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import timeit
from pathlib import Path

import anyio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.util._once import Once

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from overhead import POINTS, RESULTS, run  # noqa: E402

from sotkit import tracing  # noqa: E402
from sotkit.providers.base import CallUsage, ChatRequest, Prompt  # noqa: E402


class Nowhere(SpanExporter):
    def export(self, spans) -> SpanExportResult:  # noqa: ANN001
        return SpanExportResult.SUCCESS


def set_provider(provider: TracerProvider | None) -> None:
    """The global tracer provider (None: the API's unset proxy), reset the way opentelemetry's own tests do."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    trace._PROXY_TRACER_PROVIDER = trace.ProxyTracerProvider()
    if provider is not None:
        trace.set_tracer_provider(provider)


def hooks_of_one_answer() -> None:
    """Every tracing call one SoT answer of POINTS points makes (skeleton and points), as the runner makes them."""
    request, usage = ChatRequest(Prompt("q")), CallUsage(10, 10)
    with tracing.start_request("generate", "openai:bench", "sot", "q", False, lambda: None) as t:
        for point in [None, *range(1, POINTS + 1)]:
            with t.call("point", "openai:bench", point) as span:
                span.request(request)
                span.usage(usage)
                span.finished("openai:bench", [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    set_provider(None)
    assert tracing.start_request("generate", "m:m", "sot", "q", False, lambda: None) is tracing.NO_TRACE
    loops = 20_000
    hooks_s = min(timeit.repeat(hooks_of_one_answer, number=loops, repeat=5)) / loops

    on = TracerProvider()
    on.add_span_processor(SimpleSpanProcessor(Nowhere()))
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.repeats):
        for variant, provider in (("off", None), ("on", on)):
            set_provider(provider)
            cpu[variant].append(anyio.run(run, args.questions, "sotkit", "httpx", False)["client_cpu_s"])
    set_provider(None)
    off, with_spans = statistics.median(cpu["off"]), statistics.median(cpu["on"])
    per_request = off / args.questions
    record = {"benchmark": "tracing_overhead", "command": "benchmarks/tracing_overhead.py " + " ".join(sys.argv[1:]),
              "machine": f"{platform.machine()}, {platform.python_version()}, {os.cpu_count()} cores",
              "questions": args.questions, "points": POINTS, "http": "httpx",
              "off_hooks_us_per_request": hooks_s * 1e6, "off_client_cpu_us_per_request": per_request * 1e6,
              "off_hooks_share": hooks_s / per_request,
              "client_cpu_s": cpu, "on_over_off_client_cpu": with_spans / off}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tracing_overhead.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"off: the hooks of one {POINTS}-point answer take {hooks_s * 1e6:.1f} us, {hooks_s / per_request:.3%} of "
          f"the {per_request * 1e6:.0f} us of client CPU one request costs ({args.questions} at once)")
    print(f"on (SDK provider, spans dropped) / off: client CPU {with_spans:.2f} s / {off:.2f} s = "
          f"{with_spans / off:.3f} (median of {args.repeats}; runs: off {cpu['off']}, on {cpu['on']})")


if __name__ == "__main__":
    main()
