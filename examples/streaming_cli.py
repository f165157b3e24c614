"""Stream an answer to the terminal: the skeleton as it forms, then each point as it fills in, in order.

    python examples/streaming_cli.py "How can I sleep better?" [--model provider:model] [--base-url URL]

The answer goes to stdout; the route, the skeleton and the timings go to stderr. A stream cannot take back what it
printed: a point that restarts after a broken call (a ``withdraw`` event) leaves its first words on stdout, so for a
file use ``sotkit ask ... > answer.txt``, which writes ``result.text`` once when stdout is no terminal. ``text``
events arrive in skeleton order even when later points finish first; a UI that shows
every point filling in at once uses ``point_delta`` events instead (see ``examples/webapp``).
"""

import argparse
import sys

import anyio

import sotkit


def note(text: str) -> None:
    print(f"\x1b[2m{text}\x1b[0m" if sys.stderr.isatty() else text, file=sys.stderr, flush=True)


def call(event: sotkit.RetryEvent | sotkit.FallbackEvent) -> str:
    """The call an event is about, in words: "point 2", "skeleton", "router", "answer"."""
    return f"point {event.index}" if event.index is not None else {"sequential": "answer"}.get(event.call, event.call)


async def main(question: str, model: str | None, base_url: str | None) -> None:
    # a point that fails for good is left out, noted, and the answer goes on (the default raises at the end)
    async with sotkit.stream(question, model=model, base_url=base_url, on_point_error="skip") as events:
        async for event in events:
            if event.type == "route":
                note(f"[{event.mode}] {event.reason}")
            elif event.type == "point":
                note(f"[skeleton] {event.index}. {event.title}")
            elif event.type == "text":
                print(event.text, end="", flush=True)
            elif event.type == "withdraw" and event.failed:  # stdout cannot take back what it printed
                note(f" [point {event.index} left out]")
            elif event.type == "withdraw" and event.text:  # a retried point starts over
                note(" [restarted]")
            elif event.type == "retry":
                note(f"[retry] {call(event)} in {event.wait_s:.1f} s: {event.error}")
            elif event.type == "fallback":
                note(f"[fallback] {call(event)} goes to {event.fallback}: {event.error}")
            elif event.type == "done":
                t = event.result.timings
                print(flush=True)
                note(f"[done] {len(event.result.points)} points, first text {t.first_text_at or 0:.2f} s, "
                     f"total {t.total_s:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Stream a Skeleton-of-Thought answer to the terminal.")
    parser.add_argument("question", nargs="?", default="How can I improve my time management skills?")
    parser.add_argument("--model", help="provider:model (default: sotkit.default_model())")
    parser.add_argument("--base-url", help="an OpenAI- or Anthropic-compatible server, with --model "
                        "openai:<name> or anthropic:<name>")
    args = parser.parse_args()
    try:
        anyio.run(main, args.question, args.model, args.base_url)
    except KeyboardInterrupt:
        note("\n[interrupted] the answer stops where it was cut")
        sys.exit(130)
    except sotkit.SotkitError as exc:  # what was written is on stdout already
        note(f"\n[error] {exc}")
        sys.exit(1)
