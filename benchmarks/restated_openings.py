"""What dropping an opening clause that restates the question does to recorded SoT answers.

Paired and offline: the points of a ``benchmarks/local_sot.py`` results file (the same generations, no model
call) go through ``ExpansionFilter``'s restated-opening step alone (their stored text was already filtered
otherwise), and question restatement (``sotkit.quality.restatement``) and cross-point redundancy are reported
before and after, with how many points lost a clause and every clause dropped, to read.

    .venv/bin/python benchmarks/restated_openings.py benchmarks/results/local_sot.json [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sotkit.expansion import ExpansionFilter  # noqa: E402
from sotkit.quality import redundancy, restatement  # noqa: E402


def without_restated_opening(question: str, index: int, title: str, text: str) -> str:
    cleaner = ExpansionFilter(index, title, strip_header=False, question=question)
    return cleaner.feed(text) + cleaner.finish()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = [r for r in json.loads(args.source.read_text())["rows"] if r["sot"].get("mode_used") == "sot"]
    before: dict[str, list[float | None]] = {"restatement": [], "redundancy": []}
    after: dict[str, list[float | None]] = {"restatement": [], "redundancy": []}
    dropped: list[dict[str, str]] = []
    points = 0
    for row in rows:
        question, old = row["question"], [p for p in row["sot"]["points"] if p["text"].strip()]
        new = [without_restated_opening(question, p["index"], p["title"], p["text"]) for p in old]
        for p, text in zip(old, new):
            if text != p["text"]:
                dropped.append({"question": question, "before": p["text"][:120], "after": text[:120]})
        points += len(old)
        for side, texts in ((before, [p["text"] for p in old]), (after, new)):
            side["restatement"].append(restatement(question, texts))
            side["redundancy"].append(redundancy(texts))
    record = {"benchmark": "restated_openings", "command": "benchmarks/restated_openings.py " + " ".join(sys.argv[1:]),
              "source": str(args.source), "answers": len(rows), "points": points, "points_changed": len(dropped),
              "mean": {name: {side: statistics.fmean(v for v in values[name] if v is not None)
                              for side, values in (("before", before), ("after", after))} for name in before},
              "answers_restating_most_points": {  # None: nothing to measure in that answer
                  "before": sum(r is not None and r > 0.5 for r in before["restatement"]),
                  "after": sum(r is not None and r > 0.5 for r in after["restatement"])},
              "dropped": dropped}
    if args.out:
        args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{len(rows)} SoT answers, {points} points; {len(dropped)} points lost an opening clause")
    for name in before:
        print(f"  mean {name}: {record['mean'][name]['before']:.3f} -> {record['mean'][name]['after']:.3f}")
    most = record["answers_restating_most_points"]
    print(f"  answers restating the question in most points: {most['before']} -> {most['after']}")


if __name__ == "__main__":
    main()
