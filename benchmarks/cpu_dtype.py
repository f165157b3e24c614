"""bfloat16 against float32 for the embedded SmolLM2-135M on the CPU, side by side in one process.

For each question (the SoT-suitable Vicuna ones, or ``--split everyday``) and each dtype, alternating which
goes first, it generates the SoT skeleton the way the local provider does (the skeleton template, its "1."
prefill, 16-token lines) and parses it with sotkit's skeleton parser. A skeleton is *garbage* when it has fewer
than two points or any title without a word of three letters ("1. 2", "3. 4. 5. 6. 7"). It also times decoding
in both dtypes: a 1-row (sequential) and a 6-row (batched expansion) generation of ``--tokens`` tokens.

    .venv/bin/python benchmarks/cpu_dtype.py --limit 12
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
_WORD = re.compile(r"[A-Za-z]{3}")


def garbage(titles: list[str]) -> bool:
    return len(titles) < 2 or any(not _WORD.search(t) for t in titles)


def skeleton(model, tokenizer, templates, question: str) -> tuple[list[str], float, int]:
    from sotkit.engines.generation import stream_generate
    from sotkit.skeleton import LINE_TOKENS, SkeletonParser

    prompt = templates.render("skeleton", question=question)
    start = time.perf_counter()
    [done] = stream_generate(model, tokenizer, [prompt], max_new_tokens=120, stop=prompt.stop,
                             max_line_tokens=LINE_TOKENS)
    seconds = time.perf_counter() - start
    parser = SkeletonParser(10, question=question)
    parser.feed(prompt.prefill)
    parser.feed(done.text)
    parser.finish()
    return [p.title for p in parser.points], seconds, done.output_tokens


def decode_s_per_token(model, tokenizer, templates, question: str, rows: int, tokens: int) -> float:
    from sotkit.engines.generation import stream_generate

    prompt = templates.render("sequential", question=question)
    start = time.perf_counter()
    done = stream_generate(model, tokenizer, [prompt] * rows, max_new_tokens=tokens, stop=("<never>",))
    return (time.perf_counter() - start) / max(d.output_tokens for d in done)


def main() -> None:
    import torch

    from local_sot import SPLITS, sot_questions  # same directory
    from sotkit.engines.models import load_model
    from sotkit.templates import Templates

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--split", choices=SPLITS, default="all", help="which questions (see local_sot.py)")
    parser.add_argument("--tokens", type=int, default=48, help="tokens per timing generation")
    parser.add_argument("--timing-questions", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "cpu_dtype.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtypes = ("bfloat16", "float32")
    models = {d: load_model("smollm2", dtype=d) for d in dtypes}
    templates = Templates(local=True)
    questions = sot_questions(args.split)[: args.limit]
    rows = []
    for number, question in enumerate(questions):
        row = {"question": question}
        for d in dtypes if number % 2 == 0 else dtypes[::-1]:
            titles, seconds, tokens = skeleton(*models[d], templates, question)
            row[d] = {"titles": titles, "garbage": garbage(titles), "seconds": seconds, "tokens": tokens}
        rows.append(row)
        print(number + 1, {d: (row[d]["garbage"], row[d]["titles"][:3]) for d in dtypes}, flush=True)
    timing = {d: {"1_row": [], "6_rows": []} for d in dtypes}
    for number, question in enumerate(questions[: args.timing_questions]):
        for d in dtypes if number % 2 == 0 else dtypes[::-1]:
            for key, n in (("1_row", 1), ("6_rows", 6)):
                timing[d][key].append(decode_s_per_token(*models[d], templates, question, n, args.tokens))
    summary = {
        "questions": len(rows),
        "garbage_skeletons": {d: sum(r[d]["garbage"] for r in rows) for d in dtypes},
        "median_skeleton_s": {d: statistics.median(r[d]["seconds"] for r in rows) for d in dtypes},
    }
    if args.timing_questions:
        summary["median_s_per_token"] = {d: {k: statistics.median(v) for k, v in timing[d].items()} for d in dtypes}
        summary["float32_over_bfloat16_s_per_token"] = {
            k: summary["median_s_per_token"]["float32"][k] / summary["median_s_per_token"]["bfloat16"][k]
            for k in ("1_row", "6_rows")}
    report = {"command": "benchmarks/cpu_dtype.py " + " ".join(sys.argv[1:]), "summary": summary,
              "setup": {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                        "cpu_capabilities": {k: v for k, v in torch.cpu.get_capabilities().items()
                                             if "bf16" in k or "amx" in k},
                        "load_average": os.getloadavg()},
              "rows": rows, "timing": timing}
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
