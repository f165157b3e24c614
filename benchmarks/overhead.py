"""How close does sotkit get to the critical-path limit of Skeleton-of-Thought?

On the loopback server with a latency model, ``generate()`` is timed for 1 and for N concurrent questions of
8 points each. The server runs in its own process, as a real provider would (in this process it would take
the interpreter lock from the client); ``time.perf_counter`` is the same monotonic clock in both. The limit for a question is, from the server's own timestamps, the latest over its points of
(the moment that point's skeleton line was complete + that point's expansion time), measured from when the
skeleton request arrived: no client can finish sooner. The ratio end-to-end / limit is sotkit's overhead.
Each HTTP backend of the SDKs (``http=``: httpx, aiohttp) is measured in turn, in the same process.

    .venv/bin/python benchmarks/overhead.py [--questions 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sotkit  # noqa: E402
from sotkit.providers._clients import HTTP_BACKENDS  # noqa: E402
from sotkit.testing import FakeLLMServer, Latency, RecordedRequest, Reply  # noqa: E402

RESULTS = Path(__file__).parent / "results"
POINTS = 8
SKELETON_LATENCY = Latency(ttft_s=0.25, tokens_per_s=60)
POINT_LATENCY = Latency(ttft_s=0.25, tokens_per_s=60)


def responder(request: RecordedRequest) -> Reply:
    question = request.user.split("\n")[-2] if "Skeleton:" in request.user else None
    if question is not None:  # the skeleton call
        return Reply("\n".join(f"{i}. Idea number {i} here" for i in range(1, POINTS + 1)), latency=SKELETON_LATENCY)
    index = int(request.user.rsplit("point ", 1)[1].split()[0])
    words = 20 + 4 * (index % 3)  # points of different lengths, as real answers have
    return Reply(" ".join(["word"] * words) + ".", latency=POINT_LATENCY)


def critical_path(skeleton: RecordedRequest, expansions: dict[int, RecordedRequest]) -> float:
    """The earliest any client could have finished this question, in seconds after the skeleton request."""
    line_done: list[float] = []
    for t, piece in skeleton.pieces:
        if "\n" in piece:
            line_done.append(t)  # the newline that ends a line arrived in this piece
    line_done.append(skeleton.finished_at)  # the last line ends with the stream
    return max(line_done[i - 1] + (r.finished_at - r.received_at) for i, r in expansions.items()) - skeleton.received_at


def serve(conn: Connection) -> None:
    """The server process: answer until told to stop, then send back what was recorded."""
    with FakeLLMServer(responder) as server:
        conn.send(server.openai_base_url)
        while (command := conn.recv()) != "stop":
            if command == "reset":
                server.reset()
            conn.send("ok")
        conn.send(server.requests)


async def run(n_questions: int, http: str) -> dict:
    conn, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve, args=(child,), daemon=True)
    process.start()
    base_url = conn.recv()
    # the limit assumes every point may run at once, so the client's concurrency limit must not bind
    async with sotkit.SoT("openai:bench", base_url=base_url, api_key="bench", mode="sot", http=http,
                          max_concurrency=n_questions * POINTS) as sot:
        await sot.generate("Warm-up question 0?")
        conn.send("reset")
        conn.recv()
        elapsed: dict[str, float] = {}

        async def one(q: str) -> None:
            start = time.perf_counter()
            result = await sot.generate(q)
            assert len(result.points) == POINTS, result.text
            elapsed[q] = time.perf_counter() - start

        async with anyio.create_task_group() as tg:
            for i in range(n_questions):
                tg.start_soon(one, f"Benchmark question {i}?")
    conn.send("stop")
    requests = conn.recv()
    process.join()
    rows = []
    for q, seconds in elapsed.items():
        mine = [r for r in requests if q in r.user]
        [skeleton] = [r for r in mine if "Skeleton:" in r.user]
        expansions = {int(r.user.rsplit("point ", 1)[1].split()[0]): r for r in mine if r is not skeleton}
        limit = critical_path(skeleton, expansions)
        rows.append({"question": q, "end_to_end_s": seconds, "limit_s": limit, "ratio": seconds / limit})
    ratios = [r["ratio"] for r in rows]
    return {"questions": n_questions, "points": POINTS, "median_ratio": statistics.median(ratios),
            "max_ratio": max(ratios), "median_end_to_end_s": statistics.median(r["end_to_end_s"] for r in rows),
            "median_limit_s": statistics.median(r["limit_s"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    backends = {}
    for http in HTTP_BACKENDS:
        runs = {n: [anyio.run(run, n, http) for _ in range(args.repeats)] for n in (1, args.questions)}
        backends[http] = {str(n): {"median_ratio": statistics.median(r["median_ratio"] for r in rs),
                                   "worst_question_ratio": max(r["max_ratio"] for r in rs),
                                   "median_end_to_end_s": statistics.median(r["median_end_to_end_s"] for r in rs),
                                   "median_limit_s": statistics.median(r["median_limit_s"] for r in rs), "runs": rs}
                          for n, rs in runs.items()}
    record = {"benchmark": "overhead", "command": "benchmarks/overhead.py " + " ".join(sys.argv[1:]),
              "machine": f"{platform.machine()}, {platform.python_version()}, {os.cpu_count()} cores",
              "latency_model": {"skeleton": vars(SKELETON_LATENCY), "point": vars(POINT_LATENCY)},
              "targets": {"1": 1.05, str(args.questions): 1.10}, "results": backends}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "overhead.json").write_text(json.dumps(record, indent=2) + "\n")
    for http, summary in backends.items():
        for n, s in summary.items():
            print(f"{http:>7}, {n:>3} concurrent question(s): end-to-end / critical-path limit = {s['median_ratio']:.3f} "
                  f"(median of {args.repeats} runs; worst question {s['worst_question_ratio']:.3f}; "
                  f"{s['median_end_to_end_s']:.2f} s vs {s['median_limit_s']:.2f} s)")


if __name__ == "__main__":
    main()
