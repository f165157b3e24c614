"""SoT against sequential answers on the embedded SmolLM2-135M, on the CPU, side by side in one process.

Answers the SoT-suitable questions of ``../shared/datasets/vicuna80.jsonl`` (37) in both modes with one client
(the model is loaded once and warmed up first). The two modes alternate which goes first per question, so load
changes on a shared machine hit both alike. Records per-question latency, the median latency of each mode, the
per-question and median speed-up, answer lengths in tokens (the stitched answer text, counted with the model's
tokenizer) and, for ``point_hygiene.py``, every point's title, final text and the raw text the model wrote.

    .venv/bin/python benchmarks/local_sot.py            # all 37 questions; about 40 min on 2 busy cores
    .venv/bin/python benchmarks/local_sot.py --limit 5  # a quick look

Budgets: sequential answers up to ``--max-tokens`` (512) tokens; skeletons up to 200, points up to 128 tokens.
Results: ``benchmarks/results/local_sot.json`` (rewritten after every question) and ``local_sot.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import anyio

import sotkit
from sotkit.providers.base import CallUsage, ChatRequest, Chunk, Provider
from sotkit.providers.local import LocalProvider

ROOT = Path(__file__).resolve().parent
# ../shared beside the main checkout; a worktree under /work/wt/ finds it one level further up
DATASET = next((d / "shared" / "datasets" / "vicuna80.jsonl" for d in ROOT.parents
                if (d / "shared" / "datasets" / "vicuna80.jsonl").is_file()),
               ROOT.parent.parent / "shared" / "datasets" / "vicuna80.jsonl")


class RecordingProvider(Provider):
    """Passes everything to a ``LocalProvider`` and keeps the raw text of every batched row."""

    supports_prefill = True
    supports_batch = True

    def __init__(self, inner: LocalProvider) -> None:
        self.inner = inner
        self.model = inner.model
        self.whole_sentences = inner.whole_sentences
        self.batches: list[list[str]] = []

    def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        return self.inner.stream(request)

    async def stream_batch(self, requests: Sequence[ChatRequest]) -> AsyncIterator[tuple[int, Chunk]]:
        texts = [""] * len(requests)
        self.batches.append(texts)
        async for row, chunk in self.inner.stream_batch(requests):
            if not isinstance(chunk, CallUsage):
                texts[row] += chunk
            yield row, chunk


def sot_questions() -> list[str]:
    rows = [json.loads(line) for line in DATASET.read_text().splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("sot_suitable") == 1]


async def run(args: argparse.Namespace) -> dict:
    import torch

    from sotkit.engines.models import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_model("smollm2", dtype=args.dtype)
    args.model_dtype = str(model.dtype).removeprefix("torch.")
    provider = RecordingProvider(LocalProvider("smollm2", dtype=args.dtype))
    options = dict(max_tokens=args.max_tokens, skeleton_max_tokens=200, point_max_tokens=args.point_max_tokens,
                   stall_timeout=None, max_points=args.max_points)
    rows: list[dict] = []
    async with sotkit.SoT(provider, **options) as client:
        await client.generate("Say hello.", mode="sequential", max_tokens=8)  # warm-up: load and first run
        questions = sot_questions()[: args.limit]
        started = time.perf_counter()
        for number, question in enumerate(questions):
            if args.budget_s and time.perf_counter() - started > args.budget_s:
                print(f"time budget of {args.budget_s} s spent: stopping after {number} questions", flush=True)
                break
            row: dict = {"question": question}
            order = ("sequential", "sot") if number % 2 == 0 else ("sot", "sequential")
            for mode in order:
                before = len(provider.batches)
                start = time.perf_counter()
                result = await client.generate(question, mode=mode)
                wall = time.perf_counter() - start
                row[mode] = {
                    "latency_s": wall,
                    "first_text_s": result.timings.first_text_at,
                    "answer_tokens": len(tokenizer(result.text, add_special_tokens=False)["input_ids"]),
                    "output_tokens": result.usage.output_tokens,
                    "input_tokens": result.usage.input_tokens,
                    "calls": result.usage.calls,
                    "mode_used": result.mode,
                    "route_reason": result.route_reason,
                    "text": result.text,
                }
                if mode == "sot":
                    raw = provider.batches[before] if len(provider.batches) > before else []
                    row[mode]["skeleton_s"] = result.timings.skeleton_s
                    row[mode]["points"] = [
                        {"index": p.index, "title": p.title, "text": p.text, "raw": raw[i] if i < len(raw) else None}
                        for i, p in enumerate(result.points)
                    ]
            row["speedup"] = row["sequential"]["latency_s"] / row["sot"]["latency_s"]
            rows.append(row)
            print(f"[{number + 1}/{len(questions)}] speed-up {row['speedup']:.2f}x  "
                  f"seq {row['sequential']['latency_s']:.1f}s/{row['sequential']['answer_tokens']}tok  "
                  f"sot {row['sot']['latency_s']:.1f}s/{row['sot']['answer_tokens']}tok "
                  f"({len(row['sot'].get('points', []))} points)  {question[:50]}", flush=True)
            write(args, rows, final=False)
    return write(args, rows, final=True)


def per_token_speedup(row: dict) -> float:
    seq, sot = row["sequential"], row["sot"]
    return (seq["latency_s"] / max(1, seq["answer_tokens"])) / (sot["latency_s"] / max(1, sot["answer_tokens"]))


def summarize(rows: list[dict]) -> dict:
    sot = [r for r in rows if r["sot"]["mode_used"] == "sot"]
    med = statistics.median
    return {
        "questions": len(rows),
        "sot_answered_with_sot": len(sot),
        "median_latency_s": {m: med(r[m]["latency_s"] for r in rows) for m in ("sequential", "sot")},
        "speedup_of_medians": med(r["sequential"]["latency_s"] for r in rows) / med(r["sot"]["latency_s"] for r in rows),
        "median_speedup": med(r["speedup"] for r in rows),
        "min_speedup": min(r["speedup"] for r in rows),
        "max_speedup": max(r["speedup"] for r in rows),
        "median_answer_tokens": {m: med(r[m]["answer_tokens"] for r in rows) for m in ("sequential", "sot")},
        "median_length_ratio_sot_over_sequential": med(
            r["sot"]["answer_tokens"] / max(1, r["sequential"]["answer_tokens"]) for r in rows),
        # the speed-up in seconds per answer token, which does not reward a shorter answer
        "median_per_token_speedup": med(per_token_speedup(r) for r in rows),
        "median_points": med(len(r["sot"].get("points", [])) for r in rows),
        "median_first_text_s": {m: med(r[m]["first_text_s"] or r[m]["latency_s"] for r in rows)
                                for m in ("sequential", "sot")},
    }


def write(args: argparse.Namespace, rows: list[dict], *, final: bool) -> dict:
    import torch

    report = {
        "summary": summarize(rows) if rows else {},
        "setup": {
            "model": f"local:smollm2 (SmolLM2-135M-Instruct, {args.model_dtype}, CPU, greedy)",
            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(), "complete": final,
            "max_tokens": args.max_tokens, "skeleton_max_tokens": 200, "point_max_tokens": args.point_max_tokens,
            "max_points": args.max_points, "command": "benchmarks/local_sot.py " + " ".join(args.argv),
        },
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    if final and rows:
        s = report["summary"]
        lines = [
            "# SoT vs sequential on SmolLM2-135M (CPU)", "",
            f"`{report['setup']['command']}`; {s['questions']} SoT-suitable Vicuna questions, both modes per "
            f"question in alternating order, one process; torch threads {report['setup']['torch_threads']}, "
            f"load average at the end {report['setup']['load_average'][0]:.1f} on {os.cpu_count()} cores (shared machine).", "",
            "| | sequential | SoT |", "|---|---|---|",
            f"| median latency (s) | {s['median_latency_s']['sequential']:.1f} | {s['median_latency_s']['sot']:.1f} |",
            f"| median first text (s) | {s['median_first_text_s']['sequential']:.1f} | {s['median_first_text_s']['sot']:.1f} |",
            f"| median answer length (tokens) | {s['median_answer_tokens']['sequential']} | {s['median_answer_tokens']['sot']} |",
            "", f"Median per-question speed-up: **{s['median_speedup']:.2f}x** (min {s['min_speedup']:.2f}x, "
            f"max {s['max_speedup']:.2f}x); ratio of median latencies {s['speedup_of_medians']:.2f}x. "
            f"Median length ratio SoT/sequential: {s['median_length_ratio_sot_over_sequential']:.2f}; median "
            f"speed-up per answer token (seconds per token, which does not reward a shorter answer): "
            f"**{s['median_per_token_speedup']:.2f}x**. "
            f"{s['sot_answered_with_sot']}/{s['questions']} SoT requests were answered with SoT "
            f"(the rest fell back to sequential). Median points per skeleton: {s['median_points']}.",
            "", "| # | speed-up | per token | seq s | SoT s | seq tokens | SoT tokens | points | question |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for i, r in enumerate(rows, 1):
            lines.append(f"| {i} | {r['speedup']:.2f} | {per_token_speedup(r):.2f} | {r['sequential']['latency_s']:.1f} "
                         f"| {r['sot']['latency_s']:.1f} "
                         f"| {r['sequential']['answer_tokens']} | {r['sot']['answer_tokens']} "
                         f"| {len(r['sot'].get('points', []))} | {r['question'][:60]} |")
        args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return report


def main() -> None:
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--max-tokens", type=int, default=512, help="token budget of a sequential answer")
    parser.add_argument("--max-points", type=int, default=10)
    parser.add_argument("--budget-s", type=float, default=0, help="start no new question after this many seconds")
    parser.add_argument("--point-max-tokens", type=int, default=128)
    parser.add_argument("--dtype", default=None, help="model dtype (default: the local provider's choice)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "local_sot.json")
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    report = anyio.run(run, args)
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    main()
