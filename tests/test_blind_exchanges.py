"""The blind sets of realistic SoT exchanges (``benchmarks/blind_exchanges.py``) as a regression check: every
exchange that comes out right today keeps doing so, on both wire formats, with generate() and stream()."""

import importlib.util
from pathlib import Path

import anyio
import pytest

_SPEC = importlib.util.spec_from_file_location("blind_exchanges",
                                               Path(__file__).resolve().parents[1] / "benchmarks/blind_exchanges.py")
blind = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(blind)

# known and left (see the sets' README and the session notes): a sentence-case subtitle cut at its colon (C07, C08),
# a closing summary (O03); skeletons of 11-14 points where max_points is 10 (P08, P24, P44), a wish joined to one
# sotkit does not know (P23, "e boas aventuras"), a Polish wish that goes on (P36: taken for the point's own, as a
# Polish statement may open so); a Korean cheer at a sentence's end (B10-49: "건강한 다이어트를
# 응원합니다!", which only words before it tell from the point's own); b12's and b13's talk left in (their README entries)
KNOWN = {"b1": set(), "b2": {"C07", "C08"}, "b3": {"O03"}, "b4": set(), "b5": set(), "b6": set(), "b7": set(),
         "b8": set(), "b9": {"P08", "P24", "P44", "P23", "P36"}, "b10": {"B10-49"}, "b11": set(),
         "b12": {"B12-04", "B12-06", "B12-08", "B12-10", "B12-16", "B12-20", "B12-28", "B12-34", "B12-37", "B12-39"},
         "b13": {"B13-14", "B13-20", "B13-39", "B13-44", "B13-46", "B13-53"}}


@pytest.mark.parametrize("name", blind.SETS)
def test_every_blind_exchange_right_today_stays_right(name):
    report = anyio.run(blind.run_set, name, set())
    failing = {run["id"] for run in report["fails"]}
    assert failing <= KNOWN[name], [f"{r['id']} {r['format']} {r['method']}: {r['problems'][:2]}"
                                    for r in report["fails"] if r["id"] not in KNOWN[name]]
    assert not report["unexpected_requests"]
    assert report["exchanges_fully_right"] == report["exchanges"] - len(failing)
