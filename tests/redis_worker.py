"""A worker process for tests/test_limits_redis.py and benchmarks/redis_limits.py: answers questions through one
``SoT`` client whose limits are shared through Redis, all at once, and prints one line per finished answer.
It prints ``ready`` once its client is built and starts when a line arrives on stdin, so that several workers
start together.

    python tests/redis_worker.py REDIS_URL BASE_URL QUESTION... [--max-concurrency N] [--rpm R] [--lease S]

``REDIS_URL`` ``local`` keeps the limits in the process (the benchmark's control).
"""

import argparse
import sys

import anyio
import anyio.to_thread

import sotkit


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("redis_url")
    parser.add_argument("base_url")
    parser.add_argument("questions", nargs="+")
    parser.add_argument("--max-concurrency", type=int, default=16)
    parser.add_argument("--rpm", type=float)
    parser.add_argument("--tpm", type=float)
    parser.add_argument("--lease", type=float, default=10.0)
    args = parser.parse_args()
    limits = None if args.redis_url == "local" else sotkit.RedisLimits(args.redis_url, lease=args.lease)
    async with sotkit.SoT("openai:shared-model", base_url=args.base_url, api_key="k", limits=limits,
                          max_concurrency=args.max_concurrency, rpm=args.rpm, tpm=args.tpm, mode="sequential",
                          stall_timeout=None, first_token_timeout=None, timeout=None) as sot:

        async def answer(question: str) -> None:
            await sot.generate(question)
            print("answered", question, flush=True)

        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)
        async with anyio.create_task_group() as tg:
            for question in args.questions:
                tg.start_soon(answer, question)


if __name__ == "__main__":
    anyio.run(main)
