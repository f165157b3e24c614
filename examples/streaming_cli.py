"""Stream an answer to the terminal: the skeleton as it forms, then each point as it fills in, in order.

    python examples/streaming_cli.py "How can I sleep better?" [--model provider:model] [--base-url URL]

The answer goes to stdout; the route, the skeleton and the timings go to stderr. A stream cannot take back what it
printed: a point that restarts after a broken call (a ``withdraw`` event) leaves its first words on stdout, so for a
file use ``sotkit ask ... > answer.txt``, which writes ``result.text`` once when stdout is no terminal. ``text``
events arrive in skeleton order even when later points finish first; a UI that shows
every point filling in at once uses ``point_delta`` events instead (see ``examples/webapp``).
"""

import argparse
import os
import sys
import warnings

import anyio

import sotkit

#: do the answer (stdout) and the notes (stderr) share a terminal? Then a note cuts into the answer's line
SHARED = sys.stdout.isatty() and sys.stderr.isatty()
#: does the answer's current line wait for more text? (a note on the same terminal starts a line of its own)
line_open = False


def note(text: str) -> None:
    global line_open
    if line_open and SHARED:
        text, line_open = "\n" + text, False
    print(f"\x1b[2m{text}\x1b[0m" if sys.stderr.isatty() else text, file=sys.stderr, flush=True)


def write(text: str) -> None:
    global line_open
    print(text, end="", flush=True)
    line_open = not text.endswith("\n") if text else line_open


def call(event: sotkit.RetryEvent | sotkit.FallbackEvent) -> str:
    """The call an event is about, in words: "point 2", "skeleton", "router", "answer"."""
    return f"point {event.index}" if event.index is not None else {"sequential": "answer"}.get(event.call, event.call)


async def main(question: str, model: str | None, base_url: str | None) -> None:
    # a point that fails for good is left out, noted, and the answer goes on (the default raises at the end)
    answering = False  # on a terminal, once the answer's text begins its titles show in it: no notes of them
    async with sotkit.stream(question, model=model, base_url=base_url, on_point_error="skip") as events:
        async for event in events:
            if event.type == "route":
                note(f"[{event.mode}] {event.reason}")
            elif event.type == "point" and not (answering and SHARED):
                note(f"[skeleton] {event.index}. {event.title}")
            elif event.type == "text":
                answering = True
                write(event.text)
            elif event.type == "withdraw" and event.failed:  # stdout cannot take back what it printed
                note(f" [point {event.index} left out]")
            elif event.type == "withdraw" and event.text:  # a retried point starts over
                note(" [restarted]")
            elif event.type == "retry":
                note(f"[retry] {call(event)} in {event.wait_s:.1f} s: {event.error}")
            elif event.type == "fallback":
                note(f"[fallback] {call(event)} goes to {event.fallback}: {event.error}")
            elif event.type == "done":
                result, t = event.result, event.result.timings
                write("\n")
                left_out = sum(p.failed for p in result.points)  # (their notes were given above)
                shape = f"{len(result.points) - left_out} points" + (f" ({left_out} left out)" if left_out else "") \
                    if result.mode == "sot" else "one sequential answer"
                note(f"[done] {shape}, first text {t.first_text_at or 0:.2f} s, total {t.total_s:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Stream a Skeleton-of-Thought answer to the terminal.")
    parser.add_argument("question", nargs="?", default="How can I improve my time management skills?")
    parser.add_argument("--model", help="provider:model (default: sotkit.default_model())")
    parser.add_argument("--base-url", help="an OpenAI- or Anthropic-compatible server, with --model "
                        "openai:<name> or anthropic:<name>")
    args = parser.parse_args()
    # sotkit's warnings (a server that wrote the points one at a time, say) are notes too, not text amid the answer
    warnings.showwarning = lambda message, category, *_: note(f"[warning] {category.__name__}: {message}")
    try:
        anyio.run(main, args.question, args.model, args.base_url)
    except KeyboardInterrupt:
        note("\n[interrupted] the answer stops where it was cut")
        sys.exit(130)
    except BrokenPipeError:  # stdout's reader left (| head): nothing more to show, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (Python would flush into it at exit)
        sys.exit(1)
    except Exception as exc:  # what was written is on stdout already; a key, URL or option refused by the
        # provider is the SDK's own error, not a SotkitError
        note(f"\n[error] {type(exc).__name__}: {exc}")
        sys.exit(1)
