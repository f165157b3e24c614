"""Local SoT prompt variants against the judge-free measures, side by side in one process.

Each variant is a directory of templates (``skeleton.jinja`` / ``expand.jinja``; what it lacks comes from
sotkit's own). Every question is answered with SoT by every variant, alternating which goes first, and each
answer is measured: points that echo the expand prompt (raw model text), cross-point redundancy, question
restatement, point hygiene (all five checks), SoT latency and answer length. Used to choose the local prompts
on the ``tune`` and ``everyday`` questions; ``local_sot.py --split heldout`` then reports the others.

    .venv/bin/python benchmarks/prompt_variants.py --split everyday --limit 6 VARIANT_DIR [VARIANT_DIR ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import anyio

import sotkit
from local_sot import SPLITS, RecordingProvider, answer_measures, sot_questions  # same directory
from point_hygiene import score
from sotkit.providers.local import LocalProvider

ROOT = Path(__file__).resolve().parent


async def run(args: argparse.Namespace) -> dict:
    provider = RecordingProvider(LocalProvider("smollm2", dtype=args.dtype))
    clients = {}
    for variant in args.variants:
        clients[str(variant)] = sotkit.SoT(provider, templates=variant, skeleton_max_tokens=200,
                                           point_max_tokens=128, stall_timeout=None, mode="sot",
                                           on_point_error="skip")  # a failed point counts against hygiene
    rows = {name: [] for name in clients}
    questions = [q for split in args.split for q in sot_questions(split)[: args.limit]]
    for number, question in enumerate(questions):
        names = list(clients) if number % 2 == 0 else list(clients)[::-1]
        for name in names:
            client = clients[name]
            before = len(provider.batches)
            start = time.perf_counter()
            result = await client.generate(question)
            seconds = time.perf_counter() - start
            raw = provider.batches[before] if len(provider.batches) > before else []
            points = [{"index": p.index, "title": p.title, "text": p.text, "raw": raw[i] if i < len(raw) else None}
                      for i, p in enumerate(result.points)]
            row = {"question": question, "mode": result.mode, "seconds": seconds,
                   "output_tokens": result.usage.output_tokens, "points": points}
            if result.mode == "sot":
                row.update(answer_measures(client.backends[0].templates, question, points))
            rows[name].append(row)
            print(f"[{number + 1}/{len(questions)}] {Path(name).name}: {result.mode} {seconds:.1f}s "
                  f"echo {row.get('echo_points_raw')} red {row.get('redundancy')} "
                  f"rest {row.get('restatement')}  {question[:40]}", flush=True)
        write(args, clients, rows)  # after every question: a stopped run keeps what it measured
    return write(args, clients, rows)


def write(args: argparse.Namespace, clients: dict, rows: dict) -> dict:
    summary = {}
    for name, answers in rows.items():
        if not answers:
            continue
        sot = [r for r in answers if r["mode"] == "sot"]
        templates = clients[name].backends[0].templates
        hygiene = score([{"question": r["question"], "points": r["points"]} for r in sot], templates)
        summary[name] = {
            "sot_answers": len(sot), "questions": len(answers),
            "echo_points_raw": sum(r["echo_points_raw"] for r in sot),
            "echo_points_final": sum(r["echo_points"] for r in sot),
            "mean_redundancy": _mean(r["redundancy"] for r in sot),
            "mean_restatement": _mean(r["restatement"] for r in sot),
            "hygiene_all": hygiene["share"]["final"].get("all"),
            "median_sot_s": statistics.median(r["seconds"] for r in answers),
            "median_output_tokens": statistics.median(r["output_tokens"] for r in answers),
        }
    report = {"command": "benchmarks/prompt_variants.py " + " ".join(sys.argv[1:]), "summary": summary,
              "rows": rows}
    args.out.write_text(json.dumps(report, indent=1))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+", type=Path)
    parser.add_argument("--split", choices=SPLITS, action="append", default=None)
    parser.add_argument("--limit", type=int, default=None, help="the first N questions of each split")
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "prompt_variants.json")
    args = parser.parse_args()
    args.split = args.split or ["tune", "everyday"]
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    print(json.dumps(anyio.run(run, args), indent=1))


def _mean(values: Iterable[float | None]) -> float | None:
    """The mean of what was measured (None: an answer with nothing to measure), or None."""
    measured = [v for v in values if v is not None]
    return statistics.fmean(measured) if measured else None


if __name__ == "__main__":
    main()
