"""How many of a local model's skeleton lines end on a word that leaves their phrase open ("... sleep disorders and"),
with the line limit's clause grace (``engines/generation.py``: ``_OPEN_END``, ``OPEN_GRACE``) and without it, side by
side in one process: SmolLM2's greedy skeletons for the first N SoT-suitable Vicuna and LIMA questions.

    .venv/bin/python benchmarks/open_titles.py [--questions 14]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sotkit.engines import generation  # noqa: E402
from sotkit.engines.models import load_model  # noqa: E402
from sotkit.skeleton import LINE_TOKENS  # noqa: E402
from sotkit.templates import Templates  # noqa: E402

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def labelled(suited: bool) -> list[list[str]]:
    """Vicuna-80's and LIMA's questions the SoT authors marked suited to SoT (or not), in order, one list per set."""
    sets = []
    for name in ("vicuna80.jsonl", "lima_router.jsonl"):
        rows = [json.loads(line) for line in (DATASETS / name).read_text().splitlines()]
        sets.append([r["question"] for r in rows if bool(r["sot_suitable"]) == suited])
    return sets


def questions(per_set: int) -> list[str]:
    chosen = [q for one_set in labelled(True) for q in one_set[:per_set]]
    return [q for q in chosen if len(q) < 400]  # a skeleton's question, not a document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=14, help="from each set")
    args = parser.parse_args()
    model, tokenizer = load_model("smollm2", dtype="float32")
    prompts = [Templates(local=True).render("skeleton", question=q) for q in questions(args.questions)]
    open_end = generation._OPEN_END
    for name, pattern in (("without", re.compile(r"(?!)")), ("with", open_end)):
        generation._OPEN_END = pattern
        start, lines = time.perf_counter(), []
        for i in range(0, len(prompts), 4):
            for done in generation.stream_generate(model, tokenizer, prompts[i:i + 4], max_new_tokens=150,
                                                   max_line_tokens=LINE_TOKENS):
                lines += [line for line in done.text.split("\n")[:-1] if line.strip()]  # the last may be cut
        seconds = time.perf_counter() - start
        ending_open = [line for line in lines if open_end.search(line.rstrip(" .:"))]
        print(f"{name} the grace: {len(prompts)} skeletons, {len(lines)} whole lines, {len(ending_open)} ending on "
              f"an open word, {sum(map(len, lines))} characters, {seconds:.0f} s")
        for line in ending_open:
            print(f"    {line!r}")


if __name__ == "__main__":
    main()
