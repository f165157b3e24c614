"""SoT against sequential answers on the embedded SmolLM2-135M, on the CPU or a GPU, side by side in one process.

Answers the SoT-suitable questions of Vicuna-80 (``benchmarks/data/vicuna80.jsonl``, 37) in both modes with one client
(the model is loaded once and warmed up first). The two modes alternate which goes first per question, so load
changes on a shared machine hit both alike. Records per-question latency, the median latency of each mode, the
per-question and median speed-up, answer lengths in tokens (the stitched answer text, counted with the model's
tokenizer) and, for ``point_hygiene.py``, every point's title, final text and the raw text the model wrote.

    .venv/bin/python benchmarks/local_sot.py            # all 37 questions; about 40 min on 2 busy cores
    .venv/bin/python benchmarks/local_sot.py --limit 5  # a quick look
    python benchmarks/local_sot.py --device cuda --dtype bfloat16 --fast-decode --batch-curve  # on a GPU

``--batch-curve`` also times one expansion batch of 1, 2, 4 and 8 rows (the first question's points, both
decoding loops), the cost SoT's expansion pays per extra point: near 1x per row on a CPU, near 0 on a GPU.

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
from sotkit.quality import Instructions, echo, redundancy, restatement
from sotkit.providers.base import ChatRequest, Chunk, Provider
from sotkit.providers.local import LocalProvider
from sotkit.templates import Templates

ROOT = Path(__file__).resolve().parent
# Vicuna-80 (FastChat, Apache-2.0) with the SoT authors' labels, copied from the shared datasets so that the
# benchmark runs where they are not (CI, a lent GPU machine)
DATASET = ROOT / "data" / "vicuna80.jsonl"


class RecordingProvider(Provider):
    """Passes everything to a ``LocalProvider`` and keeps the raw text of every batched row."""

    supports_prefill = True
    supports_batch = True

    def __init__(self, inner: LocalProvider) -> None:
        self.inner = inner
        self.model = inner.model
        self.whole_sentences = inner.whole_sentences
        self.request_defaults = inner.request_defaults  # what a user of the local model gets
        self.batches: list[list[str]] = []

    def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        return self.inner.stream(request)

    async def stream_batch(self, requests: Sequence[ChatRequest]) -> AsyncIterator[tuple[int, Chunk]]:
        texts = [""] * len(requests)
        self.batches.append(texts)
        async for row, chunk in self.inner.stream_batch(requests):
            if isinstance(chunk, str):  # (not a usage, nor a signal: HELD)
                texts[row] += chunk
            yield row, chunk


EVERYDAY = ROOT / "data" / "everyday_questions.jsonl"
# LIMA (CC BY-NC-SA, not in this repository): measured on, never tuned on
LIMA = ROOT.parent.parent / "shared" / "datasets" / "lima_router.jsonl"
SPLITS = ("all", "tune", "heldout", "everyday", "lima")


def sot_questions(split: str = "all") -> list[str]:
    """The SoT-suitable Vicuna questions (``tune``: the 1st, 3rd, ... of them; ``heldout``: the others, never
    used to choose a prompt), ``everyday``: sotkit's own set of everyday questions (sleep, diet, money...), or
    ``lima``: the SoT-suitable LIMA questions of at most 150 characters, in the dataset's order (``--limit``)."""
    if split == "lima":
        rows = [json.loads(line) for line in LIMA.read_text().splitlines() if line.strip()]
        return [r["question"] for r in rows if r["sot_suitable"] == 1 and len(r["question"]) <= 150]
    if split == "everyday":
        return [json.loads(line)["question"] for line in EVERYDAY.read_text().splitlines() if line.strip()]
    rows = [json.loads(line) for line in DATASET.read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in rows if r.get("sot_suitable") == 1]
    return {"all": questions, "tune": questions[0::2], "heldout": questions[1::2]}[split]


def answer_measures(templates: Templates, question: str, points: list[dict]) -> dict:
    """The judge-free measures of one SoT answer: points that echo their rendered expand prompt (in the final
    text users see, and in the raw text the model wrote), cross-point redundancy and question restatement."""
    outline = [{"index": p["index"], "title": p["title"]} for p in points]
    echoes = {"final": 0, "raw": 0}
    for p in points:
        prompt = templates.render("expand", question=question, points=outline,
                                  point={"index": p["index"], "title": p["title"]})
        instructions = Instructions(f"{prompt.system or ''}\n{prompt.user}", (question, p["title"]))
        for kind, text in (("final", p["text"]), ("raw", p.get("raw"))):
            echoes[kind] += bool(text and echo(instructions, text))
    texts = [p["text"] for p in points]
    return {"echo_points": echoes["final"], "echo_points_raw": echoes["raw"],
            "redundancy": redundancy(texts), "restatement": restatement(question, texts)}


async def run(args: argparse.Namespace) -> dict:
    import torch

    from sotkit.engines.models import device_name, load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_model(args.model, device=args.device, dtype=args.dtype)
    args.model_dtype = str(model.dtype).removeprefix("torch.")
    args.device_name = device_name(model.device)
    provider = RecordingProvider(LocalProvider(args.model, device=args.device, dtype=args.dtype,
                                               fast_decode=args.fast_decode))
    options = dict(max_tokens=args.max_tokens, skeleton_max_tokens=200, point_max_tokens=args.point_max_tokens,
                   stall_timeout=None, on_point_error="skip")  # a point that failed counts against hygiene
    if args.max_points:
        options["max_points"] = args.max_points
    rows: list[dict] = []
    async with sotkit.SoT(provider, templates=args.templates, **options) as client:
        templates = client.backends[0].templates
        await client.generate("Say hello.", mode="sequential", max_tokens=8)  # warm-up: load and first run
        questions = sot_questions(args.split)[: args.limit]
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
                    row[mode].update(answer_measures(templates, question, row[mode]["points"]))
            row["speedup"] = row["sequential"]["latency_s"] / row["sot"]["latency_s"]
            rows.append(row)
            print(f"[{number + 1}/{len(questions)}] speed-up {row['speedup']:.2f}x  "
                  f"seq {row['sequential']['latency_s']:.1f}s/{row['sequential']['answer_tokens']}tok  "
                  f"sot {row['sot']['latency_s']:.1f}s/{row['sot']['answer_tokens']}tok "
                  f"({len(row['sot'].get('points', []))} points, echo {row['sot']['echo_points']}/"
                  f"{row['sot']['echo_points_raw']} final/raw, redundancy {_three(row['sot']['redundancy'])}, "
                  f"restated {_three(row['sot']['restatement'])})  {question[:50]}", flush=True)
            write(args, rows, final=False)
        if args.batch_curve:
            args.curve = batch_curve(model, tokenizer, templates, rows, args.point_max_tokens)
    return write(args, rows, final=True)


def batch_curve(model, tokenizer, templates: Templates, rows: list[dict], max_tokens: int,
                sizes: Sequence[int] = (1, 2, 4, 8)) -> list[dict]:
    """Seconds of one expansion batch of each size (the first question's expand prompts, its points repeated
    up to the size), plain and fast loops alternating; seconds per step divide by the longest row's tokens."""
    from sotkit.engines.generation import stream_generate

    question = rows[0]["question"] if rows else sot_questions()[0]
    titles = [p["title"] for p in rows[0]["sot"].get("points", [])] if rows else []
    titles = titles or ["Background", "Main idea", "Example", "Advice"]
    outline = [{"index": i + 1, "title": t} for i, t in enumerate(titles)]
    prompts = [templates.render("expand", question=question, points=outline, point=outline[i % len(outline)])
               for i in range(max(sizes))]
    curve = []
    for size in sizes:
        entry: dict = {"rows": size}
        for mode in (("plain", "fast") if size % 2 else ("fast", "plain")):
            start = time.perf_counter()
            done = stream_generate(model, tokenizer, prompts[:size], max_new_tokens=max_tokens,
                                   fast_decode=mode == "fast")
            seconds = time.perf_counter() - start
            steps = max(d.output_tokens for d in done)
            entry[mode] = {"seconds": seconds, "steps": steps, "s_per_step": seconds / steps,
                           "output_tokens": sum(d.output_tokens for d in done)}
        curve.append(entry)
        print(f"batch of {size}: " + ", ".join(f"{m} {entry[m]['seconds']:.2f}s/{entry[m]['steps']} steps"
                                              for m in ("plain", "fast")), flush=True)
    return curve


def per_token_speedup(row: dict) -> float:
    if echoed(row):
        return 1.0
    seq, sot = row["sequential"], row["sot"]
    return (seq["latency_s"] / max(1, seq["answer_tokens"])) / (sot["latency_s"] / max(1, sot["answer_tokens"]))


def echoed(row: dict) -> bool:
    """A SoT answer with a point that shows its prompt back was not answered by SoT: no speed-up is credited."""
    return row["sot"].get("echo_points", 0) > 0


def credited_speedup(row: dict) -> float:
    return 1.0 if echoed(row) else row["speedup"]


def summarize(rows: list[dict]) -> dict:
    sot = [r for r in rows if r["sot"]["mode_used"] == "sot"]
    med = statistics.median
    def mean(values: list[float | None]) -> float | None:  # None: no answer had anything to measure
        measured = [v for v in values if v is not None]
        return statistics.fmean(measured) if measured else None

    return {
        "questions": len(rows),
        "sot_answered_with_sot": sum(not echoed(r) for r in sot),
        "sot_answers_with_echoed_points": sum(echoed(r) for r in sot),
        "echo_points": sum(r["sot"].get("echo_points", 0) for r in sot),
        "echo_points_raw": sum(r["sot"].get("echo_points_raw", 0) for r in sot),
        "mean_redundancy": mean([r["sot"]["redundancy"] for r in sot]),
        "mean_restatement": mean([r["sot"]["restatement"] for r in sot]),
        "median_latency_s": {m: med(r[m]["latency_s"] for r in rows) for m in ("sequential", "sot")},
        "speedup_of_medians": med(r["sequential"]["latency_s"] for r in rows) / med(r["sot"]["latency_s"] for r in rows),
        "median_speedup": med(credited_speedup(r) for r in rows),
        "min_speedup": min(credited_speedup(r) for r in rows),
        "max_speedup": max(credited_speedup(r) for r in rows),
        "median_answer_tokens": {m: med(r[m]["answer_tokens"] for r in rows) for m in ("sequential", "sot")},
        "median_length_ratio_sot_over_sequential": med(
            r["sot"]["answer_tokens"] / max(1, r["sequential"]["answer_tokens"]) for r in rows),
        # the speed-up in seconds per answer token, which does not reward a shorter answer
        "median_per_token_speedup": med(per_token_speedup(r) for r in rows),
        "median_points": med(len(r["sot"].get("points", [])) for r in rows),
        "median_first_text_s": {m: med(r[m]["first_text_s"] or r[m]["latency_s"] for r in rows)
                                for m in ("sequential", "sot")},
    }


def rescore(args: argparse.Namespace) -> dict:
    """The judge-free measures of recorded answers (``--templates``: the prompts they were made with)."""
    recorded = json.loads(args.rescore.read_text())
    templates = Templates(args.templates, local=True)
    for row in recorded["rows"]:
        if row["sot"]["mode_used"] == "sot":
            row["sot"].update(answer_measures(templates, row["question"], row["sot"]["points"]))
    summary = summarize(recorded["rows"])
    report = {"summary": summary, "recorded": recorded["setup"],
              "command": "benchmarks/local_sot.py " + " ".join(args.argv), "rows": recorded["rows"]}
    args.out.write_text(json.dumps(report, indent=1))
    return report


def write(args: argparse.Namespace, rows: list[dict], *, final: bool) -> dict:
    import torch

    report = {
        "summary": summarize(rows) if rows else {},
        "setup": {
            "model": f"local:{args.model} ({args.model_dtype}, {args.device_name}, greedy"
                     f"{', fast_decode' if args.fast_decode else ''})",
            "device": args.device_name, "fast_decode": args.fast_decode,
            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(), "complete": final,
            "max_tokens": args.max_tokens, "skeleton_max_tokens": 200, "point_max_tokens": args.point_max_tokens,
            "max_points": args.max_points or LocalProvider.request_defaults["max_points"], "split": args.split,
            "templates": str(args.templates) if args.templates else "sotkit's own", "command": "benchmarks/local_sot.py " + " ".join(args.argv),
        },
        "rows": rows,
        **({"batch_curve": args.curve} if getattr(args, "curve", None) else {}),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    if final and rows:
        s = report["summary"]
        source = {"lima": "LIMA", "everyday": "everyday"}.get(args.split, "Vicuna")
        lines = [
            f"# SoT vs sequential on {report['setup']['model']}", "",
            f"`{report['setup']['command']}`; {s['questions']} SoT-suitable {source} questions, both modes per "
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
            f"(the rest fell back to sequential, or showed a point's prompt back: {s['sot_answers_with_echoed_points']}, "
            "credited 1.0x). "
            f"Median points per skeleton: {s['median_points']}.", "",
            "| SoT answers: | echoed points (final text) | echoed points (raw model text) | mean cross-point "
            "redundancy | mean question restatement |", "|---|---|---|---|---|",
            f"| | {s['echo_points']} | {s['echo_points_raw']} | {_three(s['mean_redundancy'])} "
            f"| {_three(s['mean_restatement'])} |",
            "", "| # | speed-up | per token | seq s | SoT s | seq tokens | SoT tokens | points | question |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for i, r in enumerate(rows, 1):
            lines.append(f"| {i} | {r['speedup']:.2f} | {per_token_speedup(r):.2f} | {r['sequential']['latency_s']:.1f} "
                         f"| {r['sot']['latency_s']:.1f} "
                         f"| {r['sequential']['answer_tokens']} | {r['sot']['answer_tokens']} "
                         f"| {len(r['sot'].get('points', []))} | {r['question'][:60]} |")
        if report.get("batch_curve"):
            lines += ["", "One expansion batch (the first question's points), seconds and seconds per decoding step:",
                      "",
                      "| rows | plain s | plain s/step | fast s | fast s/step |", "|---|---|---|---|---|"]
            lines += [f"| {c['rows']} | {c['plain']['seconds']:.2f} | {c['plain']['s_per_step'] * 1000:.1f} ms "
                      f"| {c['fast']['seconds']:.2f} | {c['fast']['s_per_step'] * 1000:.1f} ms |"
                      for c in report["batch_curve"]]
        args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return report


def _three(value: float | None) -> str:
    """Three decimals, or n/a for nothing measured (every request fell back to sequential; no points to compare)."""
    return "n/a" if value is None else f"{value:.3f}"


def main() -> None:
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--max-tokens", type=int, default=512, help="token budget of a sequential answer")
    parser.add_argument("--max-points", type=int, default=None, help="default: the local provider's (6)")
    parser.add_argument("--budget-s", type=float, default=0, help="start no new question after this many seconds")
    parser.add_argument("--point-max-tokens", type=int, default=128)
    parser.add_argument("--dtype", default=None, help="model dtype (default: the local provider's choice)")
    parser.add_argument("--model", default="smollm2", help="'smollm2' or a local Hugging Face model directory")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--fast-decode", action="store_true", help="decode on a static KV cache with CUDA graphs")
    parser.add_argument("--batch-curve", action="store_true", help="also time expansion batches of 1, 2, 4, 8 rows")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--split", choices=SPLITS, default="all", help="which questions (see sot_questions)")
    parser.add_argument("--templates", type=Path, default=None, help="a directory of prompt templates to use")
    parser.add_argument("--rescore", type=Path, default=None,
                        help="measure the answers recorded in this results file again (no generation)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "local_sot.json")
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    report = rescore(args) if args.rescore else anyio.run(run, args)
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    main()
