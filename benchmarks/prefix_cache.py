"""Does reusing the shared prefix's KV cache pay for batched local expansions? Side by side, one process.

For each question, SmolLM2 writes a skeleton (the local skeleton prompt), then all points are expanded in one
batch twice per repetition: with every row prefilled in full (``share_prefix=False``) and with the common
prefix encoded once and its KV cache repeated across the batch (``share_prefix=True``), in alternating order.
Both the prefill alone (``max_new_tokens=1``) and the whole expansion are timed; texts must be identical.

    .venv/bin/python benchmarks/prefix_cache.py --questions 8 --repeats 3

Budget: about 8 questions x 3 repeats x 4 batched calls; 5-10 minutes on 2 busy CPU cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from sotkit.engines.generation import chat_token_ids, stream_generate
from sotkit.engines.models import load_model
from sotkit.skeleton import SkeletonParser
from sotkit.templates import Templates

ROOT = Path(__file__).resolve().parent
STOPS = ("\n\n",)


def skeleton(model, tokenizer, templates: Templates, question: str) -> list[dict]:
    prompt = templates.render("skeleton", question=question)
    text = stream_generate(model, tokenizer, [prompt], max_new_tokens=120)[0].text
    parser = SkeletonParser(10)
    parser.feed((prompt.prefill or "") + text)
    parser.finish()
    return [{"index": p.index, "title": p.title} for p in parser.points]


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "prefix_cache.json")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_model("smollm2")
    templates = Templates(local=True)
    rows = []
    from local_sot import sot_questions  # same directory

    for question in sot_questions()[: args.questions]:
        points = skeleton(model, tokenizer, templates, question)
        if len(points) < 2:
            continue
        prompts = [templates.render("expand", question=question, points=points, point=p) for p in points]
        ids = [chat_token_ids(tokenizer, p) for p in prompts]
        shared = next((n for n in range(min(map(len, ids))) if any(r[n] != ids[0][n] for r in ids)), min(map(len, ids)))
        times: dict[str, list[float]] = {"prefill_full": [], "prefill_shared": [], "expand_full": [], "expand_shared": []}
        texts = {}
        for rep in range(args.repeats):
            for share in ((False, True) if rep % 2 == 0 else (True, False)):
                name = "shared" if share else "full"
                t, _ = timed(lambda: stream_generate(model, tokenizer, prompts, max_new_tokens=1, share_prefix=share))
                times[f"prefill_{name}"].append(t)
                t, out = timed(lambda: stream_generate(model, tokenizer, prompts, max_new_tokens=args.max_new_tokens,
                                                       stop=STOPS, share_prefix=share))
                times[f"expand_{name}"].append(t)
                texts[name] = [c.text for c in out]
        row = {
            "question": question, "points": len(points), "prompt_tokens": [len(i) for i in ids],
            "shared_prefix_tokens": shared, "same_text": texts["full"] == texts["shared"],
            **{k: statistics.median(v) for k, v in times.items()},
        }
        row["prefill_ratio"] = row["prefill_full"] / row["prefill_shared"]
        row["expand_ratio"] = row["expand_full"] / row["expand_shared"]
        rows.append(row)
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()
                          if k != "prompt_tokens"}), flush=True)
    summary = {
        "questions": len(rows),
        "median_prefill_ratio": statistics.median(r["prefill_ratio"] for r in rows),
        "median_expand_ratio": statistics.median(r["expand_ratio"] for r in rows),
        "all_texts_identical": all(r["same_text"] for r in rows),
        "median_shared_prefix_share": statistics.median(
            r["shared_prefix_tokens"] / statistics.mean(r["prompt_tokens"]) for r in rows),
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(summary, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows, "args": vars(args) | {"out": str(args.out)}},
                                   indent=1))


if __name__ == "__main__":
    main()
