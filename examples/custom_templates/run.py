"""Answer in a customer-support voice by overriding two of sotkit's prompt templates.

    python examples/custom_templates/run.py ["My order arrived damaged."] [--model ...] [--base-url URL]

This directory holds only ``skeleton.jinja`` and ``expand.jinja``; every other template (``sequential``,
``router``) keeps its default from ``sotkit.DEFAULT_PROMPTS``. A template with a syntax error or an unknown
variable fails when the client is built, naming the file.
"""

import argparse
from pathlib import Path

import anyio

import sotkit

TEMPLATES = Path(__file__).parent


async def main(question: str, model: str | None, base_url: str | None) -> None:
    # mode="sot": the templates here are the skeleton and expand prompts, so skip the router for this demo
    async with sotkit.SoT(model, templates=TEMPLATES, mode="sot", base_url=base_url) as sot:
        # a point that fails for good (a small local model sometimes writes nothing for one) is left out
        result = await sot.generate(question, on_point_error="skip")
    print(result.text)
    if missing := [p.index for p in result.points if p.failed]:
        print(f"(point(s) {', '.join(map(str, missing))} left out: {result.points[missing[0] - 1].error})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="A Skeleton-of-Thought answer in a customer-support voice.")
    parser.add_argument("question", nargs="?", default="My order arrived damaged. What should I do?")
    parser.add_argument("--model", help="provider:model (default: sotkit.default_model())")
    parser.add_argument("--base-url", help="an OpenAI-compatible server, with --model openai:<name>")
    args = parser.parse_args()
    anyio.run(main, args.question, args.model, args.base_url)
