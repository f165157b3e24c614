"""Does anything get lost when the provider misbehaves?

200 questions x 8 points go through one ``SoT`` client against the loopback server, once with no faults and
once with 10% of requests failing transiently (429 with retry-after-ms, 500, 529, streams dropped mid-way).
Reported: answers complete, points lost, requests made against the minimum (1 skeleton + 8 points per
question), and the wall time against the fault-free run.

    .venv/bin/python benchmarks/faults.py [--questions 200] [--rate 0.1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sotkit  # noqa: E402
from sotkit.testing import FakeLLMServer, Fault, Latency, RandomFaults, RecordedRequest, Reply  # noqa: E402

RESULTS = Path(__file__).parent / "results"
POINTS = 8
LATENCY = Latency(ttft_s=0.05, tokens_per_s=400)
FAULTS = (Fault.status(429, {"retry-after-ms": "200"}), Fault.status(500), Fault.status(529),
          Fault.drop(after_tokens=3))


def responder(request: RecordedRequest) -> Reply:
    if "Skeleton:" in request.user:
        return Reply("\n".join(f"{i}. Idea {i}" for i in range(1, POINTS + 1)))
    index = int(request.user.rsplit("point ", 1)[1].split()[0])
    return Reply(f"The full text of idea {index}, which is several words long.")


async def run(questions: int, rate: float) -> dict:
    faults = RandomFaults(rate=rate, faults=FAULTS, seed=7) if rate else None
    policy = sotkit.RetryPolicy(attempts=6, initial_wait_s=0.05, max_wait_s=5)
    with FakeLLMServer(responder, latency=LATENCY, random_faults=faults) as server:
        async with sotkit.SoT("openai:bench", base_url=server.openai_base_url, api_key="bench", mode="sot",
                              max_concurrency=64, retry=policy, on_point_error="skip") as sot:
            results: list[sotkit.Result] = []
            errors: list[BaseException] = []

            async def one(i: int) -> None:
                try:
                    results.append(await sot.generate(f"Question {i}?"))
                except Exception as exc:  # counted, never hidden
                    errors.append(exc)

            start = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for i in range(questions):
                    tg.start_soon(one, i)
            seconds = time.perf_counter() - start
        requests = len(server.requests)
        injected = sum(1 for r in server.requests if r.fault is not None)
    complete = [r for r in results if len(r.points) == POINTS and all(p.done for p in r.points)]
    return {"fault_rate": rate, "questions": questions, "answers_complete": len(complete),
            "requests_failed_whole": len(errors), "points_lost": questions * POINTS - sum(
                sum(p.done for p in r.points) for r in results),
            "requests": requests, "minimum_requests": questions * (1 + POINTS), "faults_injected": injected,
            "retry_attempts": sum(p.attempts - 1 for r in results for p in r.points), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--rate", type=float, default=0.1)
    args = parser.parse_args()
    clean = anyio.run(run, args.questions, 0.0)
    faulty = anyio.run(run, args.questions, args.rate)
    record = {"benchmark": "faults", "command": "benchmarks/faults.py " + " ".join(sys.argv[1:]),
              "faults": [repr(f) for f in FAULTS], "no_faults": clean, "with_faults": faulty,
              "time_ratio": faulty["seconds"] / clean["seconds"],
              "request_ratio": faulty["requests"] / faulty["minimum_requests"]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "faults.json").write_text(json.dumps(record, indent=2) + "\n")
    for name, run_ in (("no faults", clean), (f"{args.rate:.0%} faults", faulty)):
        print(f"{name:>10}: {run_['answers_complete']}/{run_['questions']} answers complete, "
              f"{run_['points_lost']} points lost, {run_['requests']} requests (minimum "
              f"{run_['minimum_requests']}; {run_['faults_injected']} faults injected), {run_['seconds']:.2f} s")
    print(f"time with faults / without: {record['time_ratio']:.2f}; requests / minimum: {record['request_ratio']:.3f}")


if __name__ == "__main__":
    main()
