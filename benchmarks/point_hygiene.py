"""Point hygiene of local SoT expansions: does each point stay a short, complete paragraph about itself?

For every expanded point of SmolLM2's SoT answers to the SoT-suitable Vicuna questions, checks that the text

- is non-empty,
- does not restate another point's title (case-insensitive containment of another title of two words or more
  that differs from the point's own; one-word titles such as "Performance" are ordinary vocabulary),
- does not start a new numbered or bulleted item (a line beginning ``3.``, ``3)``, ``-`` or ``*``),
- ends with a complete sentence (``.``, ``!`` or ``?``, optionally followed by a closing quote or bracket),
- does not echo its instructions (no sentence copied from the expand prompt rendered for this point,
  ``sotkit.quality.Instructions``: 'One part of the answer is "Avoid heavy meals".'),

and reports the share passing each check and all five (target: 90 %). Both the final point text (after
sotkit's stop sequences and expansion filter: what users see) and the raw text the model wrote are scored.

By default it scores the SoT answers recorded by ``local_sot.py`` (same runs, no second generation):

    .venv/bin/python benchmarks/point_hygiene.py                      # reads results/local_sot.json
    .venv/bin/python benchmarks/point_hygiene.py --run --limit 10     # generate fresh SoT answers instead
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from sotkit.quality import Instructions, echo
from sotkit.templates import Templates

ROOT = Path(__file__).resolve().parent
CHECKS = ("non_empty", "no_other_title", "no_new_item", "complete_sentence", "no_echo")
_NEW_ITEM = re.compile(r"(?:^|\n)\s*(?:\d+[.)]|[-*•])\s")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")


def hygiene(text: str, title: str, other_titles: list[str], instructions: Instructions) -> dict[str, bool]:
    """The five checks for one point's expansion."""
    body = text.strip()
    lowered = body.lower()
    others = [t for t in other_titles if t.lower() != title.lower() and len(t.split()) >= 2]
    return {
        "non_empty": bool(body),
        "no_other_title": not any(t.lower() in lowered for t in others),
        "no_new_item": not _NEW_ITEM.search(body),
        "complete_sentence": bool(_SENTENCE_END.search(body)),
        "no_echo": not echo(instructions, body),
    }


def score(answers: list[dict], templates: Templates) -> dict:
    """``answers``: [{"question", "points": [{"index", "title", "text", "raw"}]}], made with ``templates``;
    returns shares and the failures."""
    totals = {"final": dict.fromkeys((*CHECKS, "all"), 0), "raw": dict.fromkeys((*CHECKS, "all"), 0)}
    counted = {"final": 0, "raw": 0}
    failures = []
    for answer in answers:
        titles = [p["title"] for p in answer["points"]]
        outline = [{"index": p["index"], "title": p["title"]} for p in answer["points"]]
        for point in answer["points"]:
            others = [t for t in titles if t is not point["title"]]
            prompt = templates.render("expand", question=answer["question"], points=outline,
                                      point={"index": point["index"], "title": point["title"]})
            instructions = Instructions(f"{prompt.system or ''}\n{prompt.user}", (answer["question"], point["title"]))
            for kind in ("final", "raw"):
                text = point["text"] if kind == "final" else point.get("raw")
                if text is None:
                    continue
                result = hygiene(text, point["title"], others, instructions)
                result["all"] = all(result.values())
                counted[kind] += 1
                for name, ok in result.items():
                    totals[kind][name] += ok
                if kind == "final" and not result["all"]:
                    failures.append({"question": answer["question"], "title": point["title"], "text": text,
                                     "failed": [n for n in CHECKS if not result[n]]})
    shares = {kind: {n: round(v / counted[kind], 3) for n, v in totals[kind].items()} if counted[kind] else {}
              for kind in totals}
    return {"expansions": counted, "share": shares, "target_all": 0.9, "failures": failures}


def from_local_sot(path: Path) -> list[dict]:
    report = json.loads(path.read_text())
    return [{"question": r["question"], "points": r["sot"].get("points", [])} for r in report["rows"]
            if r["sot"]["mode_used"] == "sot"]


async def fresh(limit: int | None, templates: Path | None) -> list[dict]:
    import sotkit
    from local_sot import RecordingProvider, sot_questions  # same directory

    from sotkit.providers.local import LocalProvider

    provider = RecordingProvider(LocalProvider("smollm2"))
    answers = []
    async with sotkit.SoT(provider, templates=templates, skeleton_max_tokens=200, point_max_tokens=128,
                          stall_timeout=None, on_point_error="skip") as client:
        for question in sot_questions()[:limit]:
            before = len(provider.batches)
            result = await client.generate(question, mode="sot")
            raw = provider.batches[before] if len(provider.batches) > before else []
            if result.mode == "sot":
                answers.append({"question": question, "points": [
                    {"index": p.index, "title": p.title, "text": p.text, "raw": raw[i] if i < len(raw) else None}
                    for i, p in enumerate(result.points)]})
    return answers


def main() -> None:
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=ROOT / "results" / "local_sot.json")
    parser.add_argument("--run", action="store_true", help="generate SoT answers now instead of reading --source")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--templates", type=Path, default=None,
                        help="the prompt templates the answers were made with (default: sotkit's own)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "point_hygiene.json")
    args = parser.parse_args()
    if args.run:
        import anyio

        answers = anyio.run(fresh, args.limit, args.templates)
        source = "fresh SoT runs"
    else:
        answers = from_local_sot(args.source)[: args.limit]
        source = str(args.source.relative_to(ROOT.parent) if args.source.is_relative_to(ROOT.parent) else args.source)
    report = {"source": source, "questions": len(answers), "command": "benchmarks/point_hygiene.py " + " ".join(sys.argv[1:]),
              **score(answers, Templates(args.templates, local=True))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    final, raw = report["share"]["final"], report["share"]["raw"]
    lines = [
        "# Point hygiene of local SoT expansions (SmolLM2-135M)", "",
        f"`{report['command']}`; source: {source}; {report['questions']} questions, "
        f"{report['expansions']['final']} expansions. Target: 90 % passing all five checks.", "",
        "| check | final text | raw model text |", "|---|---|---|",
        *(f"| {name} | {final.get(name, 0):.1%} | {raw.get(name, float('nan')):.1%} |" for name in (*CHECKS, "all")),
        "", "Failures (final text):", "",
        *(f"- {f['failed']} — *{f['title']}*: {f['text'][:160]!r}" for f in report["failures"][:25]),
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:12]))


if __name__ == "__main__":
    main()
