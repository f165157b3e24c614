"""Blind exchanges: does sotkit clean real models' skeleton and point replies the way a user expects?

Thirteen sets of exchanges written blind (see ``benchmarks/data/blind_exchanges/README.md``): b1, 60 everyday English
ones; b2, 51 harder formats (other languages, code, colons in titles); b3 to b6, 60 each, b7, 40 of Claude 4.6
and later, b8, 60 with rich layouts inside points, b9, 60 whose points refer to each other or run long, b10,
60 skeleton replies as models write them, b11 and b12, 60 each written as models write them today (no layouts
named), and b13, 60 whose points' own text looks like a model's talk, held out. Every exchange is played through
``sotkit.testing.FakeLLMServer`` on each of its wire formats with ``SoT.generate()`` and then ``SoT.stream()``,
and each result is judged against what the writer expected before any run.

Reported per set and per method (generate, stream) and format: runs, titles right, texts right, both, points
right, and for streams whether they are consistent (the ``text`` events with the withdrawals applied equal the
result's text and generate()'s, and the ``point`` events carry the result's titles); then every FAIL, one line.

    .venv/bin/python benchmarks/blind_exchanges.py [--set b1] [--id c01 ...]

Data (``benchmarks/data/blind_exchanges/{b1,...,b13}.jsonl``), one exchange a line:

- ``id``, ``set``; ``source``: ``model_style`` (whose habits the replies imitate), ``kind``, and where the writer
  gave them ``group`` and ``note`` (a hesitation about the expectation);
- ``question``; ``formats``: the wire formats it runs on ("openai", "anthropic"); ``models``: the model name the
  client is given per format (``SoT("openai:" + models["openai"], ...)``);
- ``skeleton_reply``: the skeleton as a model writes it with no prefill (OpenAI). On Anthropic sotkit prefills
  ``1.`` (Claude before 4.6) and the model continues it: ``skeleton_continuation``, or where that is null, the
  reply after its first line-start ``1.`` (a preamble is gone);
- ``point_replies``: per format, point number (a string) -> the reply. The Anthropic one continues the prefill
  ``N. Title:`` (so it opens with a space, and a model writing on from a prefill does not open with "Sure!").
  Claude 4.6 and later are sent no prefill, so there the server answers with the OpenAI replies, as a model
  writing from its start;
- ``reply_by``: "number" (the server answers the point number in the prompt) or "title" (b3-b5: the point whose
  expected title is the prompt's, else the number: so a reply follows its title when sotkit renumbers);
- ``titles``: the expected titles (compared case-folded, NFC, whitespace collapsed);
- ``points``: point number -> its checks, as the set's own runner applied them: ``equals`` (b1: equal with
  whitespace collapsed), ``equals_ignoring_whitespace`` (b2: equal, NFC, whitespace ignored), or ``contains`` (b3-b5:
  present whole, whitespace collapsed) with ``nothing_else`` (no word character left around it), ``must_not``
  (strings that must be absent unless the expectation has them: the reply's junk lines) and ``code_blocks_exact``
  (the expectation's fenced blocks appear byte for byte).

A point is matched to its expectation by position when the titles are right, else by title, else by position if
the counts agree; a failed point is wrong, and a run's texts are right when every point is and there are no more.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sotkit  # noqa: E402
from sotkit.testing import FakeLLMServer, RecordedRequest, Reply  # noqa: E402

DATA = Path(__file__).parent / "data" / "blind_exchanges"
RESULTS = Path(__file__).parent / "results"
SETS = ("b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11", "b12", "b13")
FORMATS = ("openai", "anthropic")
METHODS = ("generate", "stream")
POINT_REQUEST = re.compile(r"writing of point (\d+) \((.*)\)\. Write it", re.S)


def ws(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def title_key(title: str) -> str:
    return ws(unicodedata.normalize("NFC", title or "")).casefold()


def continuation(exchange: dict) -> str:
    given = exchange["skeleton_continuation"]
    return given if given is not None else re.split(r"(?m)^1\.", exchange["skeleton_reply"], maxsplit=1)[1]


class Responder:
    """Answers the exchange being played: its skeleton, or the point the request asks for."""

    def __init__(self) -> None:
        self.exchange: dict = {}
        self.unexpected = 0

    def __call__(self, request: RecordedRequest) -> Reply:
        ex, user = self.exchange, request.user or ""
        if not ex or ex["question"] not in user:
            self.unexpected += 1
            return Reply("I'm not sure.")
        asked = POINT_REQUEST.search(user)
        if asked is None:
            if "Skeleton:" not in user:
                self.unexpected += 1
                return Reply("I'm not sure.")
            return Reply(continuation(ex) if request.prefill is not None else ex["skeleton_reply"])
        number = asked.group(1)
        if ex["reply_by"] == "title":
            number = next((str(i) for i, t in reversed(list(enumerate(ex["titles"], 1)))
                           if title_key(t) == title_key(asked.group(2))), number)
        replies = ex["point_replies"]["anthropic" if request.prefill is not None else "openai"]
        return Reply(replies.get(number, "(no such point)"))


def short_diff(expected: str, got: str) -> str:
    """What differs, with the common start and end cut off."""
    i = 0
    while i < min(len(expected), len(got)) and expected[i] == got[i]:
        i += 1
    j = 0
    while j < min(len(expected), len(got)) - i and expected[-1 - j] == got[-1 - j]:
        j += 1
    e, g = expected[i:len(expected) - j][:100], got[i:len(got) - j][:100]
    where = f" after ...{expected[max(0, i - 20):i]!r}" if i else " at the start"
    return (f"extra {g!r}" if not e else f"missing {e!r}" if not g else f"expected {e!r} got {g!r}") + where


def check_point(checks: dict, text: str) -> list[str]:
    """The problems of one point's text under its checks ([] when right)."""
    if "equals" in checks:
        expected, got = ws(checks["equals"]), ws(text)
        return [] if got == expected else [short_diff(expected, got)]
    if "equals_ignoring_whitespace" in checks:
        expected, got = (unicodedata.normalize("NFC", t) for t in (checks["equals_ignoring_whitespace"], text))
        same = re.sub(r"\s", "", expected) == re.sub(r"\s", "", got)
        return [] if same else [short_diff(ws(expected), ws(got))]
    expected, got, problems = ws(checks["contains"]), ws(text), []
    if expected not in got:
        problems.append(f"expected content not found whole: {short_diff(expected, got)}")
    elif checks.get("nothing_else") and re.search(r"\w", left := got.replace(expected, " ", 1)):
        problems.append(f"extra text left: {ws(left)!r}")
    problems += [f"junk present: {j!r}" for j in checks.get("must_not", []) if ws(j) in got and ws(j) not in expected]
    if checks.get("code_blocks_exact"):
        problems += [f"code block {'altered' if ws(f) in got else 'missing'}: {f[:60]!r}"
                     for f in re.findall(r"```.*?```", checks["contains"], re.S) if f not in text]
    return problems


def judge(ex: dict, result: sotkit.Result) -> dict:
    got = [p.title for p in result.points]
    titles_ok = [title_key(t) for t in got] == [title_key(t) for t in ex["titles"]]
    if titles_ok or len(got) != len(ex["titles"]):
        problems = [] if titles_ok else [f"titles: expected {ex['titles']} got {got}"]
    else:
        problems = [f"title {i}: expected {e!r} got {g!r}" for i, (e, g) in enumerate(zip(ex["titles"], got), 1)
                    if title_key(e) != title_key(g)]
    right = 0
    for i, (number, checks) in enumerate(ex["points"].items()):
        point = result.points[i] if titles_ok else next(
            (p for p in reversed(result.points) if title_key(p.title) == title_key(ex["titles"][i])),
            result.points[i] if len(result.points) == len(ex["points"]) else None)
        if point is None:
            problems.append(f"point {number} missing")
            continue
        wrong = (["failed"] if point.failed else []) + check_point(checks, point.text)
        problems += [f"point {number}: {w}" for w in wrong]
        right += not wrong
    if len(result.points) != len(ex["points"]):
        problems.append(f"{len(result.points)} points, expected {len(ex['points'])}")
    texts_ok = right == len(ex["points"]) and len(result.points) == len(ex["points"])
    return {"titles_ok": titles_ok, "texts_ok": texts_ok, "points_right": right, "problems": problems}


async def stream(sot: sotkit.SoT, question: str) -> tuple[sotkit.Result, bool]:
    """The stream's result, and whether its events add up to it."""
    text, titles, result, adds_up = "", [], None, True
    async with sot.stream(question) as events:
        async for event in events:
            if event.type == "text":
                text += event.text
            elif event.type == "withdraw":
                adds_up &= text.endswith(event.text)
                text = text[:len(text) - len(event.text)]
            elif event.type == "point":
                titles.append(event.title)
            elif event.type == "done":
                result = event.result
    return result, adds_up and text == result.text and titles == [p.title for p in result.points]


async def play(server: FakeLLMServer, responder: Responder, ex: dict, fmt: str) -> list[dict]:
    """generate() then stream() of one exchange on one format: one record per method."""
    responder.exchange = ex
    base_url = server.openai_base_url if fmt == "openai" else server.anthropic_base_url
    records = []
    try:
        with anyio.fail_after(60):
            async with sotkit.SoT(f"{fmt}:{ex['models'][fmt]}", base_url=base_url, api_key="x", mode="sot") as sot:
                generated = await sot.generate(ex["question"])
                streamed, adds_up = await stream(sot, ex["question"])
        for method, result in (("generate", generated), ("stream", streamed)):
            records.append({"method": method, **judge(ex, result)})
        records[1]["consistent"] = adds_up and streamed.text == generated.text
        if not records[1]["consistent"]:
            records[1]["problems"].append("stream inconsistent: its events, its result or generate()'s text differ")
    except Exception as exc:  # counted as a failure of both methods, never hidden
        records = [{"method": m, "titles_ok": False, "texts_ok": False, "points_right": 0, "consistent": False,
                    "problems": [f"error {type(exc).__name__}: {exc}"]} for m in METHODS]
    return [{"id": ex["id"], "format": fmt, "points": len(ex["points"]), **r} for r in records]


async def run_set(name: str, ids: set[str]) -> dict:
    exchanges = [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines() if line.strip()]
    exchanges = [ex for ex in exchanges if not ids or ex["id"] in ids]
    responder = Responder()
    runs = []
    with FakeLLMServer(responder) as server:
        for ex in exchanges:
            for fmt in ex["formats"]:
                runs += await play(server, responder, ex, fmt)
    rows = []
    for method in METHODS:
        for fmt in (*FORMATS, "all"):
            sel = [r for r in runs if r["method"] == method and fmt in (r["format"], "all")]
            rows.append({"method": method, "format": fmt, "runs": len(sel),
                         "titles_right": sum(r["titles_ok"] for r in sel),
                         "texts_right": sum(r["texts_ok"] for r in sel),
                         "both_right": sum(r["titles_ok"] and r["texts_ok"] for r in sel),
                         "points_right": sum(r["points_right"] for r in sel), "points": sum(r["points"] for r in sel),
                         **({"consistent": sum(r["consistent"] for r in sel)} if method == "stream" else {})})
    fully = [ex["id"] for ex in exchanges if all(r["titles_ok"] and r["texts_ok"] and r.get("consistent", True)
                                                 for r in runs if r["id"] == ex["id"])]
    return {"exchanges": len(exchanges), "exchanges_fully_right": len(fully), "unexpected_requests":
            responder.unexpected, "totals": rows, "fails": [r for r in runs if r["problems"]]}


def show(name: str, report: dict) -> None:
    print(f"\n{name}: {report['exchanges']} exchanges, each on its formats with generate() and stream()")
    print(f"  {'method':9}{'format':10}{'runs':>5}{'titles':>8}{'texts':>7}{'both':>6}{'points':>10}{'stream':>9}")
    for r in report["totals"]:
        stream_ok = f"{r['consistent']}/{r['runs']}" if "consistent" in r else ""
        print(f"  {r['method']:9}{r['format']:10}{r['runs']:5}{r['titles_right']:8}{r['texts_right']:7}"
              f"{r['both_right']:6}{r['points_right']:>5}/{r['points']:<4}{stream_ok:>9}")
    print(f"  exchanges fully right (every format and method, streams consistent): "
          f"{report['exchanges_fully_right']}/{report['exchanges']}")
    if report["unexpected_requests"]:
        print(f"  unexpected requests: {report['unexpected_requests']}")
    for r in report["fails"]:
        more = f" (+{len(r['problems']) - 1} more)" if len(r["problems"]) > 1 else ""
        print(f"  FAIL {r['id']} {r['format']} {r['method']}: {r['problems'][0][:240]}{more}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=SETS, action="append", help="run only this set (repeatable)")
    parser.add_argument("--id", nargs="*", default=[], help="run only these exchange ids")
    parser.add_argument("--out", type=Path, help="default: results/blind_exchanges.json (all sets, all ids)")
    args = parser.parse_args()
    sets = args.set or list(SETS)
    reports = {name: anyio.run(run_set, name, set(args.id)) for name in sets}
    for name, report in reports.items():
        show(name, report)
    out = args.out or (RESULTS / "blind_exchanges.json" if sets == list(SETS) and not args.id else None)
    if out is not None:
        record = {"benchmark": "blind_exchanges", "command": "benchmarks/blind_exchanges.py " + " ".join(sys.argv[1:]),
                  "sets": reports}
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
