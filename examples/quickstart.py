"""The smallest complete sotkit program: answer one question, then show its skeleton, usage and timings.

    python examples/quickstart.py                                    # the embedded model, or the key you set
    python examples/quickstart.py "How can I sleep better?" --model anthropic:claude-sonnet-4-6
    python examples/quickstart.py --model openai:llama3.2 --base-url http://localhost:11434/v1   # Ollama

Without ``--model`` the model is ``sotkit.default_model()``: ``$SOTKIT_MODEL``, else ``openai:gpt-4o-mini``
when ``OPENAI_API_KEY`` is set, else ``anthropic:claude-sonnet-4-6`` when ``ANTHROPIC_API_KEY`` is set, else
the embedded ``local:smollm2`` (a base URL set in the environment with no key is an error: name its server's model).
"""

import argparse

import anyio

import sotkit


async def main(question: str, model: str | None, base_url: str | None) -> None:
    result = await sotkit.generate(question, model=model, base_url=base_url)

    print(result.text)
    print()
    print(f"model:    {result.model}, {result.mode} ({result.route_reason})")
    print(f"skeleton: {result.skeleton}")
    print(f"usage:    {result.usage.calls} calls, {result.usage.input_tokens} input and "
          f"{result.usage.output_tokens} output tokens")
    t = result.timings
    first = "-" if t.first_point_at is None else f"{t.first_point_at:.2f} s"
    print(f"timings:  first point {first}, skeleton done {t.skeleton_s:.2f} s, total {t.total_s:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Answer one question with Skeleton-of-Thought.")
    parser.add_argument("question", nargs="?", default="What are the most effective ways to deal with stress?")
    parser.add_argument("--model", help="provider:model, e.g. openai:gpt-4o-mini (default: sotkit.default_model())")
    parser.add_argument("--base-url", help="an OpenAI-compatible server, with --model openai:<name>")
    args = parser.parse_args()
    anyio.run(main, args.question, args.model, args.base_url)
