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

from sotkit.router import Router, make_router

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


async def evaluate(router: Router, data: list[Labelled]) -> dict[str, Any]:
    await router.decide(data[0].question)  # load models first: time the routing, not the loading
    started = time.perf_counter()
    decisions = [await router.decide(item.question) for item in data]
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


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Router evaluation", "", f"Command: `{report['command']}`", "",
             f"Labels: {report['dataset']} ({report['n']} questions; SoT-suitable = positive). "
             "Evaluation only: no router was trained or tuned on them.", "",
             "| router | accuracy | precision | recall | math/coding sent to SoT | fallbacks | s/question |",
             "|---|---|---|---|---|---|---|"]
    for name, r in report["routers"].items():
        v = r["vicuna"]
        lines.append(f"| {name} | {v['accuracy']:.3f} | {_fmt(v['precision'])} | {_fmt(v['recall'])} | "
                     f"{len(v['never_sot_violations'])} | {v['fallbacks']} | {v['seconds_per_question']:.4f} |")
    lines += ["", "Held-out set written for sotkit (`sotkit/router_data/heldout.tsv`, never trained on):", "",
              "| router | accuracy | precision | recall |", "|---|---|---|---|"]
    for name, r in report["routers"].items():
        h = r["heldout"]
        lines.append(f"| {name} | {h['accuracy']:.3f} | {_fmt(h['precision'])} | {_fmt(h['recall'])} |")
    categories = sorted(next(iter(report["routers"].values()))["vicuna"]["per_category"])
    lines += ["", "Accuracy per Vicuna category (n; labelled SoT-suitable):", "",
              "| category | n | labelled SoT | " + " | ".join(report["routers"]) + " |",
              "|---|---|---|" + "---|" * len(report["routers"])]
    for c in categories:
        first = next(iter(report["routers"].values()))["vicuna"]["per_category"][c]
        row = [f"{r['vicuna']['per_category'][c]['accuracy']:.2f}" for r in report["routers"].values()]
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
        routers[f"llm ({args.llm})"] = make_router(
            "llm", provider=provider, templates=Templates(local=args.llm.startswith("local:")))
    report: dict[str, Any] = {"command": " ".join(["python", "benchmarks/router_eval.py", *sys.argv[1:]]),
                              "dataset": str(args.dataset.relative_to(ROOT.parent)), "n": len(vicuna),
                              "routers": {}}
    try:
        for name, router in routers.items():
            print(f"evaluating {name} ...", flush=True)
            report["routers"][name] = {"vicuna": await evaluate(router, vicuna),
                                       "heldout": await evaluate(router, heldout)}
    finally:
        if provider is not None:
            await provider.aclose()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=VICUNA)
    parser.add_argument("--llm", metavar="MODEL", help="also evaluate the prompting router on this provider:model")
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
              f"held-out accuracy {r['heldout']['accuracy']:.3f}")
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
