"""The event loop is never blocked for long: a heartbeat in a fresh process (``benchmarks/loop_stalls.py``)
measures the longest gap between its ticks during a first call through each SDK, a one-off ``generate``, a
2 MB question and points of 2,000 lines or 16,000 words. The issue's target is 50 ms, which the benchmark reports
(40-95 ms, and 3-5 ms for the one-off call, on an idle 2-core machine). A clock in a test on a shared machine can
only catch a stall far above its load's noise (a loaded CI machine gave 472 ms where an idle one gives 95), so the
guards are under what these paths stalled before (1.0-1.8 s, 4 s, 1.4 s, 1.3 s) but several times the idle
figures, and the test takes the best of up to three runs (other processes only ever add gaps). The one-off call's
old 60 ms stall is below any such guard: the next test checks its mechanism instead."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import untraced_env

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import loop_stalls  # noqa: E402

GUARD_MS = {"first-openai": 900.0, "first-anthropic": 900.0, "one-off-generate": 300.0, "question-2mb": 2000.0,
            "point-2000-lines": 900.0, "point-16000-words": 900.0}


def test_no_path_blocks_the_event_loop_for_long():
    best: dict[str, float] = {}
    for _ in range(3):
        for name, gap in loop_stalls.measure(untraced_env()).items():  # a tracer's pauses are not sotkit's
            if not name.startswith("sdk-alone"):  # (the floor, which the benchmark reports)
                best[name] = min(gap, best.get(name, gap))
        if all(best[name] <= guard for name, guard in GUARD_MS.items()):
            break
    assert set(best) == set(GUARD_MS)
    over = {name: gap for name, gap in best.items() if gap > GUARD_MS[name]}
    assert not over, f"longest loop gaps (ms) over the guards {GUARD_MS}: {over}"


PROBE = """
import gc, json, sys, threading, anyio, sotkit

class WhoImports:  # a finder that finds nothing and notes which thread looked for the SDK
    importers = set()

    def find_spec(self, name, path=None, target=None):
        if name == SDK:
            self.importers.add(threading.current_thread().name)

sys.meta_path.insert(0, WhoImports())

async def main():
    async with sotkit.SoT(SDK + ":m", api_key="k", base_url=URL, mode="sequential") as sot:
        await sot.generate("Hi?")

frozen_before = gc.get_freeze_count()
anyio.run(main)
print(json.dumps({"importers": sorted(WhoImports.importers), "frozen_before": frozen_before,
                  "frozen_after": gc.get_freeze_count(), "tracked": len(gc.get_objects())}))
"""


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_an_sdk_is_imported_off_the_loop_and_frozen_out_of_later_collections(sdk):
    """The mechanism behind the heartbeat figures, without a clock: the SDK's import runs in a worker thread,
    and the objects it brings are moved out of the collector's reach, so no later full collection walks them
    (without the freeze each one holds the GIL 40-80 ms on a 2-core machine)."""
    from sotkit.testing import FakeLLMServer, Reply

    with FakeLLMServer(lambda request: Reply("Hello.")) as server:
        url = server.openai_base_url if sdk == "openai" else server.anthropic_base_url
        code = f"SDK, URL = {sdk!r}, {url!r}\n" + PROBE
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["importers"] and "MainThread" not in seen["importers"], seen
    assert seen["frozen_before"] == 0
    assert seen["frozen_after"] > 50_000 > seen["tracked"], seen
