"""The event loop is never blocked for long: a heartbeat in a fresh process (``benchmarks/loop_stalls.py``)
measures the longest gap between its ticks during a first call through each SDK, a one-off ``generate`` and a
2 MB question. The issue's target is 50 ms, which the benchmark reports; on a shared 2-core machine the test
keeps looser guards, each well under what these paths stalled before (1.0-1.8 s, 60 ms, 4 s), and takes the
best of up to three runs (other processes only ever add gaps)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import loop_stalls  # noqa: E402

GUARD_MS = {"first-openai": 400.0, "first-anthropic": 400.0, "one-off-generate": 50.0, "question-2mb": 400.0}


def test_no_path_blocks_the_event_loop_for_long():
    best: dict[str, float] = {}
    for _ in range(3):
        for name, gap in loop_stalls.measure().items():
            best[name] = min(gap, best.get(name, gap))
        if all(best[name] <= guard for name, guard in GUARD_MS.items()):
            break
    assert set(best) == set(GUARD_MS)
    over = {name: gap for name, gap in best.items() if gap > GUARD_MS[name]}
    assert not over, f"longest loop gaps (ms) over the guards {GUARD_MS}: {over}"
