"""Does anything get lost, or corrupted, when the provider misbehaves?

200 questions x 8 points go through one ``SoT`` client against the loopback server, once with no faults and
once with a fraction of requests (10%) failing the ways real providers and proxies fail: 429 with
retry-after-ms, 500, 529, a connection dropped mid-stream, a stall (then the connection closes), an error event
inside a 200 stream, a stream cut without its terminal event, a 200 whose body is an HTML page, a garbage
event, keep-alives without text, and a runaway stream that ignores max_tokens. Like a sampled model, every
attempt at a point is worded differently ("Take 2: ..."), so a retry that splices two attempts shows.

Reported: answers complete, points lost, points **corrupted** (text that is not exactly one reply the server
generated for that point), points ended at the token budget by a runaway (a prefix of that generation),
requests against the minimum (1 skeleton + 8 points per question), and the wall time against the fault-free
run. Faults are drawn by the responder with a seeded RNG; the skeleton gets the transport faults only (its
outline is the same every attempt; a runaway outline would be garbage to parse, not a test of the runner).

    .venv/bin/python benchmarks/faults.py [--questions 200] [--rate 0.1] [--provider openai]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sotkit  # noqa: E402
from sotkit.testing import FakeLLMServer, Fault, Latency, RecordedRequest, Reply  # noqa: E402

RESULTS = Path(__file__).parent / "results"
POINTS = 8
LATENCY = Latency(ttft_s=0.05, tokens_per_s=400)
TRANSPORT = (Fault.status(429, {"retry-after-ms": "200"}), Fault.status(500), Fault.status(529),
             Fault.drop(after_tokens=3), Fault.stall(after_tokens=2, seconds=5, then="close"),
             Fault.error_event(after_tokens=2), Fault.cut(after_tokens=4), Fault.not_a_stream(),
             Fault.garbage(after_tokens=1, data="[1,2,3]"), Fault.keep_alive(after_tokens=1, seconds=5))
FAULTS = (*TRANSPORT, Fault.runaway(tokens=5000))
STALL_TIMEOUT = 1.0
#: a first token can take over a second here, on a loaded machine, without any fault: 1 s retried ~5% of calls
FIRST_TOKEN_TIMEOUT = 3.0


def reply_text(index: int, take: int) -> str:
    return f"Take {take}: the full text of idea {index}, which is several words long."


class Responder:
    """Writes the replies (each attempt worded its own way), injects the faults and keeps every text it generated
    per (question, point), to tell a correct point from a corrupted one."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.rng = random.Random(7)
        self.generated: dict[tuple[str, int], list[str]] = {}
        self.runaways: dict[tuple[str, int], list[str]] = {}

    def __call__(self, request: RecordedRequest) -> Reply:
        prefill = request.prefill or ""  # Anthropic continues it: a reply goes on from there
        if "Skeleton:" in request.user:
            outline = "\n".join(f"{i}. Idea {i}" for i in range(1, POINTS + 1))
            return Reply(outline[len(prefill):] if outline.startswith(prefill) else outline,
                         fault=self._draw(TRANSPORT))
        question = re.search(r"Question \d+\?", request.user).group()
        index = int(request.user.rsplit("point ", 1)[1].split()[0])
        written = prefill.partition(":")[2]  # after the "i. title:" header: what an earlier attempt wrote
        take = re.match(r"\s*Take (\d+)", written)
        full, fault = " " + reply_text(index, int(take.group(1)) if take else request.attempt), self._draw(FAULTS)
        text = full[len(written):] if written and full.startswith(written) else full
        self.generated.setdefault((question, index), []).append(full.strip())
        if fault is not None and fault.kind == "runaway":
            self.runaways.setdefault((question, index), []).append(full.strip() + text * fault.tokens)
        return Reply(text, fault=fault)

    def _draw(self, faults: tuple[Fault, ...]) -> Fault | None:
        return self.rng.choice(faults) if self.rate and self.rng.random() < self.rate else None

    def verdict(self, question: str, point: sotkit.Point) -> str:
        """'ok', 'length' (a runaway ended at the budget: a prefix of what the server generated) or 'corrupted'."""
        key = (question, point.index)
        if point.text in self.generated.get(key, []):
            return "ok"
        if any(run.startswith(point.text) for run in self.runaways.get(key, [])):
            return "length"
        return "corrupted"


async def run(questions: int, rate: float, provider: str) -> dict:
    responder = Responder(rate)
    policy = sotkit.RetryPolicy(attempts=6, initial_wait_s=0.05, max_wait_s=5)
    with FakeLLMServer(responder, latency=LATENCY) as server:
        base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        async with sotkit.SoT(f"{provider}:bench", base_url=base_url, api_key="bench", mode="sot",
                              max_concurrency=64, retry=policy, on_point_error="skip",
                              stall_timeout=STALL_TIMEOUT, first_token_timeout=FIRST_TOKEN_TIMEOUT) as sot:
            results: dict[str, sotkit.Result] = {}
            errors: list[BaseException] = []
            adds_up = 0

            async def one(i: int) -> None:
                nonlocal adds_up
                question = f"Question {i}?"
                text = ""
                try:
                    async with sot.stream(question) as events:
                        async for event in events:
                            if event.type == "text":
                                text += event.text
                            elif event.type == "withdraw":
                                text = text[:len(text) - len(event.text)]
                            elif event.type == "done":
                                results[question] = event.result
                                adds_up += text == event.result.text
                except Exception as exc:  # counted, never hidden
                    errors.append(exc)

            start = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for i in range(questions):
                    tg.start_soon(one, i)
            seconds = time.perf_counter() - start
        requests = len(server.requests)
        injected = sum(1 for r in server.requests if r.fault is not None)
    verdicts = [responder.verdict(q, p) for q, r in results.items() for p in r.points if p.done]
    complete = [r for r in results.values() if len(r.points) == POINTS and all(p.done for p in r.points)]
    return {"fault_rate": rate, "provider": provider, "questions": questions, "answers_complete": len(complete),
            "requests_failed_whole": len(errors), "points_lost": questions * POINTS - len(verdicts),
            "points_corrupted": verdicts.count("corrupted"), "points_ended_at_length": verdicts.count("length"),
            "streams_adding_up_to_result": adds_up, "skeletons_truncated": sum(
                r.skeleton_truncated for r in results.values()),
            "requests": requests, "minimum_requests": questions * (1 + POINTS), "faults_injected": injected,
            "retry_attempts": sum(p.attempts - 1 for r in results.values() for p in r.points), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--provider", choices=["openai", "anthropic"], default="openai",
                        help="openai restarts a broken point; anthropic continues its prefill")
    args = parser.parse_args()
    clean = anyio.run(run, args.questions, 0.0, args.provider)
    faulty = anyio.run(run, args.questions, args.rate, args.provider)
    record = {"benchmark": "faults", "command": "benchmarks/faults.py " + " ".join(sys.argv[1:]),
              "faults": [repr(f) for f in FAULTS], "no_faults": clean, "with_faults": faulty,
              "time_ratio": faulty["seconds"] / clean["seconds"],
              "request_ratio": faulty["requests"] / faulty["minimum_requests"]}
    RESULTS.mkdir(exist_ok=True)
    out = "faults.json" if args.provider == "openai" else f"faults_{args.provider}.json"
    (RESULTS / out).write_text(json.dumps(record, indent=2) + "\n")
    for name, run_ in (("no faults", clean), (f"{args.rate:.0%} faults", faulty)):
        print(f"{name:>10}: {run_['answers_complete']}/{run_['questions']} answers complete, "
              f"{run_['points_lost']} points lost, {run_['points_corrupted']} corrupted, "
              f"{run_['points_ended_at_length']} ended at length, {run_['requests']} requests (minimum "
              f"{run_['minimum_requests']}; {run_['faults_injected']} faults injected), {run_['seconds']:.2f} s")
    print(f"time with faults / without: {record['time_ratio']:.2f}; requests / minimum: {record['request_ratio']:.3f}")


if __name__ == "__main__":
    main()
