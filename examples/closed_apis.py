"""The same question through every provider you have a key for: OpenAI, Anthropic, an OpenAI-compatible server.

    export OPENAI_API_KEY=...       # openai:gpt-4o-mini          (the SDK also honours OPENAI_BASE_URL)
    export ANTHROPIC_API_KEY=...    # anthropic:claude-sonnet-4-6 (and ANTHROPIC_BASE_URL)
    python examples/closed_apis.py ["question"] [--base-url http://localhost:8000/v1 --compat-model NAME]

An OpenAI-compatible server (vLLM, SGLang, Ollama, llama.cpp, ``transformers serve``) is used when
``--base-url`` is given, or when ``OPENAI_BASE_URL`` is set without ``OPENAI_API_KEY`` (a local server that
needs no key). It is sent ``COMPAT_API_KEY`` if set, else a placeholder: never your OpenAI key, which the SDK
would otherwise send to any base URL. With none of these, the embedded ``local:smollm2`` answers. The answers run
concurrently.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

import anyio

import sotkit


def choose_models(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> list[tuple[str, dict[str, Any]]]:
    """``(model, client options)`` for every provider that is configured, else the embedded model."""
    chosen: list[tuple[str, dict[str, Any]]] = []
    if env.get("OPENAI_API_KEY"):
        chosen.append((f"openai:{args.openai_model}", {}))
    if env.get("ANTHROPIC_API_KEY"):
        chosen.append((f"anthropic:{args.anthropic_model}", {}))
    base_url = args.base_url or (None if env.get("OPENAI_API_KEY") else env.get("OPENAI_BASE_URL"))
    if base_url:  # (its own key: OPENAI_API_KEY is OpenAI's)
        chosen.append((f"openai:{args.compat_model}", {"base_url": base_url,
                                                       "api_key": env.get("COMPAT_API_KEY") or "none"}))
    return chosen or [("local:smollm2", {})]


async def answer(question: str, model: str, options: dict[str, Any]) -> str:
    where = f" at {options['base_url']}" if "base_url" in options else ""
    try:
        result = await sotkit.generate(question, model=model, **options)
    except Exception as exc:  # a bad key or an unreachable server fails that provider only
        return f"== {model}{where}: failed: {type(exc).__name__}: {exc}\n"
    t, usage = result.timings, result.usage
    return (f"== {model}{where}: {result.mode}, {len(result.points)} points, {usage.calls} calls, "
            f"{usage.output_tokens} output tokens, total {t.total_s:.2f} s\n{result.text}\n")


async def main(args: argparse.Namespace) -> None:
    models = choose_models(args)
    reports = [""] * len(models)

    async def run(i: int, model: str, options: dict[str, Any]) -> None:
        reports[i] = await answer(args.question, model, options)

    async with anyio.create_task_group() as tg:
        for i, (model, options) in enumerate(models):
            tg.start_soon(run, i, model, options)
    print("\n".join(reports))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="One question through OpenAI, Anthropic and a compatible server.")
    parser.add_argument("question", nargs="?", default="What are the most effective ways to deal with stress?")
    parser.add_argument("--openai-model", default="gpt-4o-mini")
    parser.add_argument("--anthropic-model", default="claude-sonnet-4-6")
    parser.add_argument("--base-url", help="an OpenAI-compatible server, e.g. http://localhost:8000/v1")
    parser.add_argument("--compat-model", default="default", help="the model name that server serves")
    anyio.run(main, parser.parse_args())
