"""How long does sotkit ever block the event loop? A heartbeat task ticks every 2 ms and records the longest gap
between its ticks while, in a fresh process (so each SDK's import really is the first), these run in turn:

- ``first-openai`` / ``first-anthropic``: a client's first call through each SDK (imports it, builds TLS);
- ``one-off-generate``: ``sotkit.generate`` with its own throw-away client, as a script would call it;
- ``question-2mb``: a 2 MB question, routed (mode auto) and answered in SoT mode;
- ``point-2000-lines`` / ``point-16000-words``: SoT answers whose points stream 2,000 lines of code, or one line of
  16,000 words, a token a piece (each piece is checked for run-ons, echoes and closing lines); beside them
  ``sdk-alone-*``, the same streams read with the OpenAI SDK alone: its gaps (a network read's worth of events
  parsed in one go) are the floor.

The loopback server runs in another process, so its work does not hold this one's GIL. Target: no gap over
50 ms. ``tests/test_loop_stalls.py`` runs the same probe with a looser guard (a shared 2-core machine is noisy).

    .venv/bin/python benchmarks/loop_stalls.py [--runs 3]
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
RESULTS = Path(__file__).parent / "results"
TARGET_MS = 50.0
BIG_QUESTION = "How can I sleep better? " + "I have tried many things. " * 80_000  # 2 MB
BIG_POINTS = {"Which code runs the backups?": "```python\n" + "\n".join(f"x{i} = compute('a', {i})  # step {i}"
                                                                       for i in range(2000)) + "\n```",
              "Which walk calms you?": " ".join(["calm quiet river stone walk"] * 3200)}


async def probe(openai_url: str, anthropic_url: str) -> dict[str, float]:
    """Each scenario's longest loop gap in ms; run in a fresh process."""
    import sotkit

    gaps: list[float] = []

    async def heartbeat() -> None:
        last = time.perf_counter()
        while True:
            await anyio.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async def first_call(model: str, url: str) -> None:
        async with sotkit.SoT(model, api_key="k", base_url=url, mode="sequential") as sot:
            await sot.generate("Hi?")

    async def sdk_alone(question: str) -> None:
        import openai  # (imported by the first call above)

        async with openai.AsyncOpenAI(api_key="k", base_url=openai_url) as client:
            async for _ in await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": question}], stream=True):
                pass

    scenarios = {
        "first-openai": lambda: first_call("openai:m", openai_url),
        "first-anthropic": lambda: first_call("anthropic:m", anthropic_url),
        "one-off-generate": lambda: sotkit.generate("Hi?", model="openai:m", api_key="k", base_url=openai_url),
        "question-2mb": lambda: sotkit.generate(BIG_QUESTION, model="openai:m", api_key="k", base_url=openai_url),
        **{f"point-{name}": functools.partial(sotkit.generate, question, model="openai:m", api_key="k",
                                              base_url=openai_url, mode="sot", point_max_tokens=100_000)
           for name, question in zip(("2000-lines", "16000-words"), BIG_POINTS)},
        **{f"sdk-alone-{name}": functools.partial(sdk_alone, question)
           for name, question in zip(("2000-lines", "16000-words"), BIG_POINTS)},
    }
    worst: dict[str, float] = {}
    async with anyio.create_task_group() as tg:
        tg.start_soon(heartbeat)
        await anyio.sleep(0.05)
        for name, run in scenarios.items():
            await anyio.sleep(0.02)
            gaps.clear()
            await run()
            await anyio.sleep(0.01)
            worst[name] = round(max(gaps) * 1000, 1)
        tg.cancel_scope.cancel()
    return worst


def measure(env: dict[str, str] | None = None) -> dict[str, float]:
    """Run the probe in a fresh process (with ``env``, default this one's) against a loopback server in this one."""
    from sotkit.testing import FakeLLMServer, Reply

    def respond(request):
        if "Skeleton:" in request.user:
            return Reply("1. Dark room\n2. Cool air")
        return Reply(next((text for question, text in BIG_POINTS.items() if question in request.user), "Keep it dark."))

    with FakeLLMServer(respond) as server:
        done = subprocess.run([sys.executable, __file__, "--probe", server.openai_base_url, server.anthropic_base_url],
                              capture_output=True, text=True, timeout=300, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the probe failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--probe", nargs=2, metavar=("OPENAI_URL", "ANTHROPIC_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(anyio.run(probe, *args.probe)))
        return
    runs = [measure() for _ in range(args.runs)]
    record = {"benchmark": "loop_stalls", "command": "benchmarks/loop_stalls.py " + " ".join(sys.argv[1:]),
              "target_ms": TARGET_MS, "max_gap_ms_per_run": runs,
              "worst_ms": {name: max(run[name] for run in runs) for name in runs[0]}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "loop_stalls.json").write_text(json.dumps(record, indent=2) + "\n")
    for name, worst in record["worst_ms"].items():
        print(f"{name:>21}: longest loop gap {worst:6.1f} ms over {args.runs} runs "
              f"({'within' if worst <= TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target)")


if __name__ == "__main__":
    main()
