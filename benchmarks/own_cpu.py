"""sotkit's own CPU per SoT call and per streamed piece, with no network and no SDK in the way.

``benchmarks/overhead.py`` compares sotkit with the SDK alone over real sockets, where sotkit's share is what is
left after subtracting two noisy figures. This measures that share directly: an in-process provider streams
``benchmarks/overhead.py``'s replies instantly (the skeleton of 8 points, points of 20-28 words), 50 questions at
once, once in pieces of 5 characters (about a token each, as APIs stream) and once whole. The difference is
the per-piece cost (expansion filter, stitching, events, watchdog); the whole-reply run is the per-call cost
(template, retry and limit set-up, instructions for the echo check, skeleton parsing, bookkeeping).

    .venv/bin/python benchmarks/own_cpu.py [--questions 50] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sotkit  # noqa: E402
from overhead import POINTS, reply_text  # noqa: E402
from sotkit.providers.base import CallUsage, ChatRequest, Provider  # noqa: E402

RESULTS = Path(__file__).parent / "results"


class Instant(Provider):
    """Streams what the overhead benchmark's server would say, at once, in pieces of ``piece`` characters."""

    supports_prefill = False

    def __init__(self, piece: int) -> None:
        self.model = "instant:bench"
        self.piece = piece
        self.pieces = 0

    async def stream(self, request: ChatRequest):
        text = reply_text(request.prompt.user)
        for start in range(0, len(text), self.piece):
            await anyio.sleep(0)  # a network read: the loop runs other streams in between
            self.pieces += 1
            yield text[start:start + self.piece]
        yield CallUsage(10, len(text) // 4, finish_reason="stop")


async def run(questions: int, piece: int) -> tuple[float, int, int]:
    """Client CPU seconds, calls and pieces for ``questions`` concurrent SoT answers."""
    provider = Instant(piece)
    async with sotkit.SoT(provider, mode="sot", max_concurrency=questions * POINTS) as sot:
        await sot.generate("Warm-up question?")
        provider.pieces = 0
        cpu = time.process_time()
        async with anyio.create_task_group() as tg:
            for i in range(questions):
                tg.start_soon(sot.generate, f"Benchmark question {i}?")
        return time.process_time() - cpu, questions * (POINTS + 1), provider.pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cpu: dict[int, list[float]] = {5: [], 100_000: []}
    counts: dict[int, tuple[int, int]] = {}
    for _ in range(args.repeats):  # the two take turns, so drift in the machine's speed hits both alike
        for piece in cpu:
            seconds, calls, pieces = anyio.run(run, args.questions, piece)
            cpu[piece].append(seconds)
            counts[piece] = (calls, pieces)
    whole, pieces = min(cpu[100_000]), min(cpu[5])  # the least disturbed run of each
    calls, n_pieces = counts[5]
    record = {"benchmark": "own_cpu", "command": "benchmarks/own_cpu.py " + " ".join(sys.argv[1:]),
              "questions": args.questions, "calls": calls, "pieces": n_pieces,
              "cpu_s": {"whole_replies": cpu[100_000], "pieces_of_5_chars": cpu[5]},
              "per_call_us": whole / calls * 1e6,
              "per_piece_us": (pieces - whole) / (n_pieces - counts[100_000][1]) * 1e6,
              "median_cpu_s": {"whole_replies": statistics.median(cpu[100_000]),
                               "pieces_of_5_chars": statistics.median(cpu[5])}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "own_cpu.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"{args.questions} questions, {calls} calls, {n_pieces} pieces: sotkit's own CPU "
          f"{record['per_call_us']:.0f} us per call, {record['per_piece_us']:.1f} us per piece "
          f"(best of {args.repeats}: {pieces:.3f} s in pieces, {whole:.3f} s whole)")


if __name__ == "__main__":
    main()
