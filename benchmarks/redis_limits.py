"""Do 4 worker processes keep to one shared budget? What the server sees, with and without Redis.

Four processes (tests/redis_worker.py) answer questions at once against one loopback server, each with the same
``rpm`` and ``max_concurrency``: once sharing them through a real redis-server (``limits="redis://..."``), once
with in-process limits only (the control: each process keeps the budget to itself, so together they may send
four times it). From the server's own timestamps: the most requests it served at once, the most that arrived in
any window of ``w`` seconds against what the budget allows there (a token bucket holding one second's worth:
rpm/60 + rpm/60 x w), and the sustained rate (requests after the first second's burst over the time they took)
in requests per minute.

    .venv/bin/python benchmarks/redis_limits.py [--rpm 240] [--max-concurrency 3] [--questions 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sotkit.testing import FakeLLMServer, Latency, Reply  # noqa: E402
from tests.test_coordinator import max_overlap  # noqa: E402
from tests.test_limits_redis import finish, free_port, go, redis_server, start_worker  # noqa: E402

WORKERS = 4
WINDOWS_S = (1.0, 5.0, 10.0)


def run(limits: str, server: FakeLLMServer, args: argparse.Namespace) -> dict:
    server.reset()
    workers = [start_worker(limits, server, [f"worker {w} question {i}" for i in range(args.questions)],
                            rpm=args.rpm, max_concurrency=args.max_concurrency) for w in range(WORKERS)]
    started = time.perf_counter()
    go(*workers)
    finish(workers)
    wall_s = time.perf_counter() - started
    requests = server.requests
    times = sorted(r.received_at for r in requests)
    rate_per_s = args.rpm / 60
    burst = max(1.0, rate_per_s)
    windows = {}
    for w in WINDOWS_S:
        most = max(sum(1 for t in times[i:] if t <= start + w) for i, start in enumerate(times))
        windows[f"{w:g}s"] = {"most_requests": most, "budget_allows": round(burst + rate_per_s * w, 1)}
    after_burst = [t for t in times if t > times[0] + 1.0]
    sustained_rpm = (len(after_burst) - 1) / (after_burst[-1] - after_burst[0]) * 60 if len(after_burst) > 1 else None
    return {"requests": len(requests), "wall_s": round(wall_s, 2), "max_concurrent": max_overlap(requests),
            "windows": windows, "sustained_rpm": round(sustained_rpm, 1) if sustained_rpm else None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rpm", type=float, default=240)
    parser.add_argument("--max-concurrency", type=int, default=3)
    parser.add_argument("--questions", type=int, default=20, help="per worker")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "redis_limits.json"))
    args = parser.parse_args()
    reply = Reply(" ".join(f"word{i}" for i in range(20)), latency=Latency(ttft_s=0.2, tokens_per_s=100))
    port = free_port()
    with redis_server(port), FakeLLMServer(reply) as server:
        results = {"shared (Redis)": run(f"redis://127.0.0.1:{port}/0", server, args),
                   "per process (control)": run("local", server, args)}
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                                   check=True).stdout.strip()
    record = {"command": "benchmarks/redis_limits.py " + " ".join(sys.argv[1:]),
              "budget": {"rpm": args.rpm, "max_concurrency": args.max_concurrency},
              "workers": WORKERS, "questions_per_worker": args.questions, "results": results,
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "redis": redis_version}}
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
