"""``sotkit ask "question"``: stream a Skeleton-of-Thought answer to the terminal.

The answer goes to stdout as it is stitched; the route, the skeleton as it forms, retries and the closing
usage line go to stderr, so ``sotkit ask ... > answer.txt`` keeps only the answer.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

import anyio

from . import ConfigError, PartialResultError, SoT, SotkitError, default_model
from .evaluation import cli as eval_cli

ENGINES = {"lud": "sotkit.engines.lexical_unit.cli", "focus": "sotkit.engines.focusllm.cli"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sotkit", description="LLM answers sooner, by decoding in parallel.")
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("ask", help="answer a question")
    ask.add_argument("question")
    ask.add_argument("--model", help="provider:model, e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-5, "
                                     "local:smollm2 (default: $SOTKIT_MODEL, else by which API key is set)")
    ask.add_argument("--mode", choices=["auto", "sot", "sequential"], default="auto")
    ask.add_argument("--router", choices=["rules", "llm", "embedding"], help="how mode=auto decides")
    ask.add_argument("--fallback", help="model for points (or a skeleton) that fail on the main model")
    ask.add_argument("--base-url", help="an OpenAI-compatible server, with --model openai:<name>")
    ask.add_argument("--templates", help="a directory of .jinja templates overriding the defaults")
    ask.add_argument("--max-points", type=_positive_int,
                     help="most points in a skeleton (default: the model's; 10, or 6 for local models)")
    ask.add_argument("--deadline", type=float, help="seconds for the whole answer")
    ask.add_argument("--device", help="for local: models: cpu, cuda or auto")
    ask.add_argument("--json", action="store_true", help="print the whole result as JSON at the end")
    eval_cli.add_parser(commands)
    engines = commands.add_parser("engines", help="self-hosted engines: lud (lexical units), focus (FocusLLM)")
    engines.add_argument("engine", choices=sorted(ENGINES))
    engines.add_argument("args", nargs=argparse.REMAINDER, help="the engine's own command and options")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError("must be at least 2")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "engines":
        import importlib

        return importlib.import_module(ENGINES[args.engine]).main(args.args) or 0
    if args.command == "eval":
        return eval_cli.main(args)
    try:
        return anyio.run(_ask, args)
    except KeyboardInterrupt:
        return 130
    except SotkitError as exc:
        if isinstance(exc, PartialResultError):
            print(exc.partial.text, flush=True)
        print(f"sotkit: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1


async def _ask(args: argparse.Namespace) -> int:
    model = args.model or default_model()
    if not args.model:
        why = {"local:smollm2": "no OPENAI_API_KEY or ANTHROPIC_API_KEY is set, so the embedded model answers"}
        _note(f"model {model} ({why.get(model, 'from the environment')}; choose with --model)")
    options: dict[str, Any] = {k: v for k, v in {
        "fallback": args.fallback, "base_url": args.base_url, "templates": args.templates,
        "router": args.router, "device": args.device,
    }.items() if v is not None}
    per_request = {"max_points": args.max_points} if args.max_points else {}
    async with SoT(model, **options) as sot, sot.stream(
        args.question, mode=args.mode, deadline=args.deadline, **per_request
    ) as events:
        async for event in events:
            if event.type == "route":
                _note(f"{event.mode}: {event.reason}")
            elif event.type == "point":
                _note(f"skeleton {event.index}. {event.title}")
            elif event.type == "retry":
                where = "skeleton" if event.index is None else f"point {event.index}"
                _note(f"retrying {where} in {event.wait_s:.1f} s (attempt {event.attempt}: {event.error})")
            elif event.type == "text" and not args.json:
                print(event.text, end="", flush=True)
            elif event.type == "done":
                result = event.result
    if args.json:
        print(json.dumps(dataclasses.asdict(result) | {"skeleton": result.skeleton}, indent=2))
    else:
        print(flush=True)
        t = result.timings
        _note(f"{result.mode}, {len(result.points)} points, {result.usage.calls} calls, "
              f"{result.usage.input_tokens} in / {result.usage.output_tokens} out tokens, "
              f"skeleton {t.skeleton_s:.2f} s, total {t.total_s:.2f} s")
    return 0


def _note(text: str) -> None:
    print(f"[sotkit] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
