"""How close does sotkit get to the critical-path limit of Skeleton-of-Thought?

On the loopback server with a latency model, ``generate()`` is timed for 1 and for N concurrent questions of
8 points each. The server runs in its own process, as a real provider would (in this process it would take
the interpreter lock from the client); ``time.perf_counter`` is the same monotonic clock in both. The limit for a
question is, from the server's own timestamps, the latest over its points of (the moment that point's skeleton
line was complete + that point's expansion time), measured from when the skeleton request arrived: no client
can finish sooner. The ratio end-to-end / limit is the overhead.

Each HTTP backend of the SDKs (``http=``: httpx, aiohttp) is measured, and beside sotkit the same calls made on
the OpenAI SDK alone ("sdk": skeleton streamed, each expansion sent the moment its line ends, events parsed with
``json.loads``, no retries, limits or stitching): the floor that the SDK and this machine allow, so
sotkit / sdk is sotkit's own share. The variants take turns, run after run, so a noisy machine slows all alike.
``--gc-freeze`` calls ``gc.freeze()`` after the warm-up, as the README suggests for busy servers.

    .venv/bin/python benchmarks/overhead.py [--questions 50] [--repeats 3] [--gc-freeze]
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path

import anyio
import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sotkit  # noqa: E402
from sotkit.providers._clients import HTTP_BACKENDS  # noqa: E402
from sotkit.providers._sse import EventParser  # noqa: E402
from sotkit.templates import Templates  # noqa: E402
from sotkit.testing import FakeLLMServer, Latency, RecordedRequest, Reply  # noqa: E402

RESULTS = Path(__file__).parent / "results"
POINTS = 8
SKELETON_LATENCY = Latency(ttft_s=0.25, tokens_per_s=60)
POINT_LATENCY = Latency(ttft_s=0.25, tokens_per_s=60)


def reply_text(user: str) -> str:
    """What the model says to a prompt whose user turn is ``user``."""
    if "Skeleton:" in user:  # the skeleton call; its titles differ from question to question, as real ones do
        tag = zlib.crc32(user.split("\n")[-2].encode()) % 1000
        return "\n".join(f"{i}. Idea {i} for q{tag}" for i in range(1, POINTS + 1))
    index = int(user.rsplit("point ", 1)[1].split()[0])
    words = 20 + 4 * (index % 3)  # points of different lengths, as real answers have
    return " ".join(["word"] * words) + "."


def responder(request: RecordedRequest) -> Reply:
    latency = SKELETON_LATENCY if "Skeleton:" in request.user else POINT_LATENCY
    return Reply(reply_text(request.user), latency=latency)


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


Answer = Callable[[str], Awaitable[None]]


@asynccontextmanager
async def sotkit_client(base_url: str, http: str, n_questions: int) -> AsyncIterator[Answer]:
    # the limit assumes every point may run at once, so the client's concurrency limit must not bind
    async with sotkit.SoT("openai:bench", base_url=base_url, api_key="bench", mode="sot", http=http,
                          max_concurrency=n_questions * POINTS) as sot:
        async def answer(question: str) -> None:
            result = await sot.generate(question)
            assert len(result.points) == POINTS, result.text
        yield answer


@asynccontextmanager
async def sdk_client(base_url: str, http: str, n_questions: int) -> AsyncIterator[Answer]:
    """The same calls, prompts and bodies on the OpenAI SDK alone: the floor for sotkit."""
    templates = Templates()
    http_client = openai.DefaultAioHttpClient() if http == "aiohttp" else openai.DefaultAsyncHttpxClient()
    async with openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0, http_client=http_client) as sdk:
        async def call(name: str, on_text: Callable[[str], None], **variables: object) -> None:
            prompt = templates.render(name, **variables)
            messages = [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}]
            body = {"messages": messages, "max_tokens": 300, "stream_options": {"include_usage": True}}
            if prompt.stop:
                body["stop"] = list(prompt.stop[:4])
            async with sdk.chat.completions.with_streaming_response.create(
                    model="bench", messages=[], stream=True, extra_body=body) as response:
                parser = EventParser()
                async for chunk in response.http_response.aiter_bytes():
                    for _, data in parser.feed(chunk):
                        if isinstance(data, dict) and (choices := data.get("choices")):
                            on_text(choices[0]["delta"].get("content") or "")

        async def answer(question: str) -> None:
            points: list[dict] = []
            texts: list[list[str]] = []
            pending = ""

            def expand(line: str) -> None:
                points.append({"index": len(points) + 1, "title": line.split(". ", 1)[1]})
                texts.append([])
                tg.start_soon(partial(call, "expand", texts[-1].append, question=question, points=list(points),
                                      point=points[-1]))

            def on_skeleton(text: str) -> None:
                nonlocal pending
                *lines, pending = (pending + text).split("\n")
                for line in filter(str.strip, lines):
                    expand(line)

            async with anyio.create_task_group() as tg:
                await call("skeleton", on_skeleton, question=question)
                if pending.strip():
                    expand(pending)
            assert len(points) == POINTS and all(texts)
        yield answer


CLIENTS = {"sotkit": sotkit_client, "sdk": sdk_client}


async def run(n_questions: int, client: str, http: str, gc_freeze: bool) -> dict:
    conn, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve, args=(child,), daemon=True)
    process.start()
    base_url = conn.recv()
    async with CLIENTS[client](base_url, http, n_questions) as answer:
        await answer("Warm-up question 0?")
        conn.send("reset")
        conn.recv()
        if gc_freeze:
            gc.collect()
            gc.freeze()
        elapsed: dict[str, float] = {}

        async def one(q: str) -> None:
            start = time.perf_counter()
            await answer(q)
            elapsed[q] = time.perf_counter() - start

        cpu = time.process_time()
        try:
            async with anyio.create_task_group() as tg:
                for i in range(n_questions):
                    tg.start_soon(one, f"Benchmark question {i}?")
        finally:
            gc.unfreeze()
        cpu = time.process_time() - cpu
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
            "median_limit_s": statistics.median(r["limit_s"] for r in rows), "client_cpu_s": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after the warm-up")
    args = parser.parse_args()
    variants = [f"{client}/{http}" for http in HTTP_BACKENDS for client in CLIENTS]
    runs: dict[str, dict[int, list[dict]]] = {v: {1: [], args.questions: []} for v in variants}
    for _ in range(args.repeats):  # the variants take turns, so drift in the machine's speed hits all alike
        for n in (1, args.questions):
            for variant in variants:
                client, http = variant.split("/")
                runs[variant][n].append(anyio.run(run, n, client, http, args.gc_freeze))
    results = {v: {str(n): {"median_ratio": statistics.median(r["median_ratio"] for r in rs),
                            "worst_question_ratio": max(r["max_ratio"] for r in rs),
                            "median_end_to_end_s": statistics.median(r["median_end_to_end_s"] for r in rs),
                            "median_limit_s": statistics.median(r["median_limit_s"] for r in rs),
                            "median_client_cpu_s": statistics.median(r["client_cpu_s"] for r in rs), "runs": rs}
                       for n, rs in by_n.items()}
               for v, by_n in runs.items()}
    record = {"benchmark": "overhead", "command": "benchmarks/overhead.py " + " ".join(sys.argv[1:]),
              "machine": f"{platform.machine()}, {platform.python_version()}, {os.cpu_count()} cores",
              "latency_model": {"skeleton": vars(SKELETON_LATENCY), "point": vars(POINT_LATENCY)},
              "gc_freeze": args.gc_freeze, "targets": {"1": 1.05, str(args.questions): 1.10}, "results": results}
    RESULTS.mkdir(exist_ok=True)
    name = "overhead" + ("" if args.questions == 50 else f"_{args.questions}") + ("_gc_freeze" if args.gc_freeze else "")
    name += ".json"
    (RESULTS / name).write_text(json.dumps(record, indent=2) + "\n")
    for variant, summary in results.items():
        for n, s in summary.items():
            floor = results[variant.replace("sotkit", "sdk")][n]
            own = s["median_ratio"] / floor["median_ratio"]
            cpu = s["median_client_cpu_s"] / floor["median_client_cpu_s"]
            print(f"{variant:>14}, {n:>3} concurrent question(s): end-to-end / critical-path limit = "
                  f"{s['median_ratio']:.3f} (median of {args.repeats} runs; worst question "
                  f"{s['worst_question_ratio']:.3f}; {s['median_end_to_end_s']:.2f} s vs {s['median_limit_s']:.2f} s; "
                  f"client CPU {s['median_client_cpu_s']:.2f} s)"
                  + (f"; sotkit / sdk: time {own:.3f}, client CPU {cpu:.3f}" if variant.startswith("sotkit") else ""))


if __name__ == "__main__":
    main()
