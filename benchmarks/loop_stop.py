"""The local engines' loop stop (``engines/streaming.py``: ``LOOP_TOKENS``, ``LOOP_PERIOD``), on and off side by side
in one process: SmolLM2's greedy answers without SoT (``mode="sequential"``, ``max_tokens=1024``) to the first N
questions of Vicuna-80 and of LIMA that the SoT authors marked unsuited to SoT (the questions that path gets).

For each answer: its tokens and seconds with the stop and without; for an answer the stop cut, how much of the text
it left out was new: its distinct word 5-grams that the text kept lacks (a model that only went on repeating itself
leaves a handful, those across the joins of its copies; one that moved on, dozens).

    .venv/bin/python benchmarks/loop_stop.py [--questions 8] [--out benchmarks/results/loop_stop.json]
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
from open_titles import labelled  # noqa: E402  (same directory)
from sotkit.engines import streaming  # noqa: E402


def questions(per_set: int) -> list[str]:
    chosen = []
    for one_set in labelled(False):
        chosen += [q for q in one_set if len(q) < 400][:per_set]
    return chosen


def new_grams(kept: str, left_out: str) -> int:
    """How many distinct word 5-grams of ``left_out`` (read on from ``kept``) ``kept`` lacks."""
    def grams(text: str) -> list[tuple[str, ...]]:
        words = text.split()
        return [tuple(words[i : i + 5]) for i in range(len(words) - 4)]

    return len(set(grams(kept + " " + left_out)[len(grams(kept)):]) - set(grams(kept)))


async def answer(sot: sotkit.SoT, question: str, loop_tokens: int) -> tuple[sotkit.Result, float]:
    streaming.LOOP_TOKENS = loop_tokens
    start = time.perf_counter()
    result = await sot.generate(question, mode="sequential", max_tokens=1024)
    return result, time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=8, help="from each set")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    on_tokens = streaming.LOOP_TOKENS
    rows = []
    async with sotkit.SoT("local:smollm2") as sot:
        await sot.generate("Hi", mode="sequential", max_tokens=4)  # the model loaded before any timing
        for n, question in enumerate(questions(args.questions)):
            # alternate which goes first, so neither always runs on a warmer machine
            runs = [("off", 10**9), ("on", on_tokens)][:: 1 if n % 2 else -1]
            got = {name: await answer(sot, question, tokens) for name, tokens in runs}
            (off, off_s), (on, on_s) = got["off"], got["on"]
            row = {"question": question[:80], "off_reason": off.finish_reason, "on_reason": on.finish_reason,
                   "off_tokens": off.usage.output_tokens, "on_tokens": on.usage.output_tokens,
                   "off_s": round(off_s, 2), "on_s": round(on_s, 2), "same_start": off.text.startswith(on.text)}
            if on.finish_reason == "repetition":
                left_out = off.text[len(on.text):]
                row |= {"new_grams_left_out": new_grams(on.text, left_out), "kept_end": on.text[-120:],
                        "left_out_start": left_out[:200]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    streaming.LOOP_TOKENS = on_tokens
    cut = [r for r in rows if r["on_reason"] == "repetition"]
    total = {k: sum(r[k] for r in rows) for k in ("off_tokens", "on_tokens", "off_s", "on_s")}
    summary = {
        "answers": len(rows), "at_cap_off": sum(r["off_reason"] == "length" for r in rows),
        "at_cap_on": sum(r["on_reason"] == "length" for r in rows), "cut_by_loop_stop": len(cut),
        "cut_looping_on_to_the_cap_off": sum(r["off_reason"] == "length" for r in cut),
        "new_grams_left_out": sorted(r["new_grams_left_out"] for r in cut),
        "every_on_answer_starts_the_off_one": all(r["same_start"] for r in rows),
        **total, "tokens_on_over_off": round(total["on_tokens"] / total["off_tokens"], 3),
        "seconds_on_over_off": round(total["on_s"] / total["off_s"], 3),
    }
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "answers": rows}, indent=1) + "\n")


if __name__ == "__main__":
    anyio.run(main)
