"""How well each router picks SoT vs sequential, against the SoT authors' labels of the Vicuna-80 questions.

    HF_HUB_OFFLINE=1 python benchmarks/router_eval.py                          # rules + embedding
    HF_HUB_OFFLINE=1 python benchmarks/router_eval.py --llm local:smollm2      # also the prompting router

Reports accuracy, and precision and recall with SoT as the positive class, per router and per category, and
lists any math or coding question a router sent to SoT (the costly mistake: SoT breaks step-by-step answers).
Writes benchmarks/results/router_eval.{json,md}. The labels are for evaluation only: no router is trained or
tuned on them. Also reports each router on sotkit's own held-out set (sotkit/router_data/heldout.tsv).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from sotkit.router import LLMRouter, Router, make_router

ROOT = Path(__file__).resolve().parents[1]
VICUNA = ROOT.parent / "shared" / "datasets" / "vicuna80.jsonl"
HELDOUT = ROOT / "sotkit" / "router_data" / "heldout.tsv"
RESULTS = ROOT / "benchmarks" / "results"
#: categories where the answer must be reasoned or written step by step; SoT there is a hard error
NEVER_SOT = ("math", "coding")


@dataclass(frozen=True)
class Labelled:
    question: str
    sot: bool
    category: str


def read_vicuna(path: Path) -> list[Labelled]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Labelled(r["question"], bool(r["sot_suitable"]), r["category"]) for r in rows]


def read_heldout(path: Path) -> list[Labelled]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return [Labelled(question, label == "sot", kind) for label, kind, question in rows]


def scores(pairs: list[tuple[bool, bool]]) -> dict[str, Any]:
    """Accuracy, precision and recall (SoT positive) of ``(predicted_sot, labelled_sot)`` pairs."""
    tp = sum(p and t for p, t in pairs)
    fp = sum(p and not t for p, t in pairs)
    fn = sum(t and not p for p, t in pairs)
    correct = sum(p == t for p, t in pairs)
    return {"n": len(pairs), "accuracy": round(correct / len(pairs), 4),
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None, "tp": tp, "fp": fp, "fn": fn}


def per_category(data: list[Labelled], n: int) -> list[Labelled]:
    """The first ``n`` questions of each category, in file order: a cheap, fixed sample for slow routers."""
    taken: dict[str, int] = defaultdict(int)
    sample = []
    for item in data:
        if taken[item.category] < n:
            taken[item.category] += 1
            sample.append(item)
    return sample


async def evaluate(router: Router, data: list[Labelled]) -> dict[str, Any]:
    await router.decide(data[0].question)  # load models first: time the routing, not the loading
    started = time.perf_counter()
    decisions = []
    for number, item in enumerate(data, 1):
        decisions.append(await router.decide(item.question))
        if number % 20 == 0:
            print(f"  {number}/{len(data)} questions", flush=True)
    elapsed = time.perf_counter() - started
    pairs = [(d.mode == "sot", item.sot) for d, item in zip(decisions, data)]
    by_category: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for pair, item in zip(pairs, data):
        by_category[item.category].append(pair)
    fallbacks = sum("fell back" in d.reason for d in decisions)
    return {
        **scores(pairs),
        "seconds_per_question": round(elapsed / len(data), 5),
        "fallbacks": fallbacks,
        "per_category": {c: scores(p) for c, p in sorted(by_category.items())},
        "never_sot_violations": [item.question for d, item in zip(decisions, data)
                                 if item.category in NEVER_SOT and d.mode == "sot"],
        "errors": [{"question": item.question, "category": item.category, "labelled_sot": item.sot,
                    "reason": d.reason} for d, item in zip(decisions, data) if (d.mode == "sot") != item.sot],
    }


METHOD = """\
How the routers were built. The rules (`sotkit/router.py`) were written from first principles about when an answer
is a list of independent points (the SoT paper's criterion): code, proofs, computations, estimates and puzzles,
pieces of writing, role play, edits of a given text and single facts go sequential; ways, tips, differences, pros
and cons, factors, causes, effects, recommendations and counterfactual consequences go to SoT; open questions with
none of these signals go to SoT, anything else sequential. They were developed against two hand-written sets
(`sotkit/router_data/questions.tsv`, 274 questions, and `heldout.tsv`, 50 questions written afterwards; the rules
scored 42/50 on the held-out set at first sight, and it was then used for one round of fixes of general gaps:
multi-sentence questions, exception names, percentages, superlative facts). The Vicuna questions were not read
while writing them (only the file's first five lines, when checking its format); the rules' first Vicuna
evaluation (commit bed1b38) gave 0.912, and nothing was changed in response to it. The embedding router is
logistic regression on all-MiniLM-L6-v2 sentence embeddings trained on `questions.tsv` only
(`benchmarks/router_train.py`; L2 1e-3 chosen by 5-fold cross-validation on that set). The LLM router asks the SoT
paper's A/B/C question with `prompts/router.jinja`.
"""


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Router evaluation", "", f"Command: `{report['command']}`", "",
             f"Labels: {report['dataset']} ({report['n']} questions; SoT-suitable = positive). "
             "Evaluation only: no router was trained or tuned on them.", "", METHOD,
             "| router | accuracy | precision | recall | math/coding sent to SoT | fallbacks | s/question |",
             "|---|---|---|---|---|---|---|"]
    for name, r in report["routers"].items():
        v = r["vicuna"]
        name = f"{name} (sample of {v['n']})" if r["sampled"] else name
        lines.append(f"| {name} | {v['accuracy']:.3f} | {_fmt(v['precision'])} | {_fmt(v['recall'])} | "
                     f"{len(v['never_sot_violations'])} | {v['fallbacks']} | {v['seconds_per_question']:.4f} |")
    lines += ["", "Held-out set written for sotkit (`sotkit/router_data/heldout.tsv`, never trained on):", "",
              "| router | accuracy | precision | recall |", "|---|---|---|---|"]
    for name, r in report["routers"].items():
        if (h := r["heldout"]) is None:
            continue
        lines.append(f"| {name} | {h['accuracy']:.3f} | {_fmt(h['precision'])} | {_fmt(h['recall'])} |")
    categories = sorted(next(iter(report["routers"].values()))["vicuna"]["per_category"])
    lines += ["", "Accuracy per Vicuna category (n; labelled SoT-suitable):", "",
              "| category | n | labelled SoT | " + " | ".join(report["routers"]) + " |",
              "|---|---|---|" + "---|" * len(report["routers"])]
    for c in categories:
        first = next(iter(report["routers"].values()))["vicuna"]["per_category"][c]
        row = [f"{r['vicuna']['per_category'][c]['accuracy']:.2f}" if c in r["vicuna"]["per_category"] else "-"
               for r in report["routers"].values()]
        lines.append(f"| {c} | {first['n']} | {first['tp'] + first['fn']} | " + " | ".join(row) + " |")
    for name, r in report["routers"].items():
        lines += ["", f"## {name}: misrouted Vicuna questions", ""]
        lines += [f"- [{e['category']}] labelled {'SoT' if e['labelled_sot'] else 'sequential'}: "
                  f"{e['question']} -- *{e['reason']}*" for e in r["vicuna"]["errors"]] or ["(none)"]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    vicuna, heldout = read_vicuna(args.dataset), read_heldout(HELDOUT)
    routers: dict[str, Router] = {"rules": make_router("rules")}
    if not args.no_embedding:
        routers["embedding"] = make_router("embedding")
    provider = None
    if args.llm:
        from sotkit.providers import create_provider
        from sotkit.templates import Templates

        provider = create_provider(args.llm)
        # a generous timeout: the first call to a local model also loads it
        routers[f"llm ({args.llm})"] = LLMRouter(
            provider, Templates(local=args.llm.startswith("local:")), timeout=args.llm_timeout)
    report: dict[str, Any] = {"command": " ".join(["python", "benchmarks/router_eval.py", *sys.argv[1:]]),
                              "dataset": str(args.dataset.relative_to(ROOT.parent)), "n": len(vicuna),
                              "routers": {}}
    try:
        for name, router in routers.items():
            sampled = name.startswith("llm") and args.llm_sample
            questions = per_category(vicuna, args.llm_sample) if sampled else vicuna
            print(f"evaluating {name} on {len(questions)} questions ...", flush=True)
            report["routers"][name] = {"vicuna": await evaluate(router, questions), "sampled": bool(sampled),
                                       "heldout": None if sampled else await evaluate(router, heldout)}
    finally:
        if provider is not None:
            await provider.aclose()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=VICUNA)
    parser.add_argument("--llm", metavar="MODEL", help="also evaluate the prompting router on this provider:model")
    parser.add_argument("--llm-timeout", type=float, default=300.0, help="seconds per routing call (default 300)")
    parser.add_argument("--llm-sample", type=int, default=0, metavar="N",
                        help="evaluate the LLM router on only the first N questions of each category (0: all)")
    parser.add_argument("--no-embedding", action="store_true", help="skip the embedding router")
    parser.add_argument("--out", type=Path, default=RESULTS / "router_eval")
    args = parser.parse_args(argv)
    if not args.dataset.is_file():
        parser.error(f"no dataset at {args.dataset}; pass --dataset path/to/vicuna80.jsonl")
    report = anyio.run(run, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    for name, r in report["routers"].items():
        v = r["vicuna"]
        print(f"{name:>24}: accuracy {v['accuracy']:.3f}  precision {_fmt(v['precision'])}  recall "
              f"{_fmt(v['recall'])}  math/coding->SoT {len(v['never_sot_violations'])}  "
              + (f"held-out accuracy {r['heldout']['accuracy']:.3f}" if r["heldout"] else f"(n={v['n']})"))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
