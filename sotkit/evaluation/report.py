"""The numbers of an evaluation (``summarize``) and ``DIR/report.md`` with its PNG plots (``write_report``)."""

from __future__ import annotations

import json
import math
import statistics
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelNotAvailableError
from ..pricing import Prices
from .questions import ALL

#: each judge-free measure with how it is summarised (speed-ups are ratios: their median is the robust summary), in
#: the order of report.md's columns
MEASURES = {"speedup": "median", "speedup_per_token": "median", "length_ratio": "median",
            "redundancy": "mean", "restatement": "mean"}
PLOTS = {"net_win_rate": "net_win_rate.png", "speedup": "speedup.png", "quality": "speedup_vs_quality.png"}


@dataclass
class Tally:
    """Outcomes of pairwise judgements, counted from SoT's side."""

    wins: int = 0
    ties: int = 0
    losses: int = 0
    unparseable: int = 0
    failed: int = 0
    """Questions not judged: an answer or the judge failed (rerun to retry them); left out of the rate too."""
    fell_back: int = 0
    """Pairs whose SoT request fell back to a sequential answer (too few skeleton points): two sequential answers,
    not SoT's to win or lose; left out of the rate too."""

    @property
    def judged(self) -> int:
        """Pairs with both verdicts readable: the n of the net win rate (unreadable ones are counted apart)."""
        return self.wins + self.ties + self.losses

    @property
    def net_win_rate(self) -> float | None:
        """(wins - losses) / n, from -1 (SoT always worse) to +1 (always better); None when nothing was judged."""
        return (self.wins - self.losses) / self.judged if self.judged else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The net win rate's 95% confidence interval over the questions, None when nothing was judged: an
        interval that holds 0 means these questions do not tell SoT's answers from sequential ones. Agresti and
        Min's adjusted Wald interval for a difference of matched proportions (2005; a win or loss is a discordant
        pair), whose half-unit added to each cell keeps it open at all wins (plain Wald would give [1, 1]). On so
        few counts it is approximate: for a judge that flips a coin and never ties, it holds 0 (as it should) 75% of
        the time at 3 questions, and 87.5-97% from 4 to 40 (probe 261, counted exactly)."""
        if not self.judged:
            return None
        wins, losses, n = self.wins + 0.5, self.losses + 0.5, self.judged + 2
        rate = (wins - losses) / n
        half = 1.96 * math.sqrt(max(0.0, wins + losses - (wins - losses) ** 2 / n)) / n
        return max(-1.0, rate - half), min(1.0, rate + half)


def tally(outcomes: Iterable[str | None]) -> Tally:
    """Count outcomes; None is a question with no outcome (it failed)."""
    counts = Tally()
    for o in outcomes:
        name = {"win": "wins", "tie": "ties", "loss": "losses", "unparseable": "unparseable", None: "failed",
                "fell_back": "fell_back"}[o]
        setattr(counts, name, getattr(counts, name) + 1)
    return counts


@dataclass
class ModeCost:
    """What one mode's answers cost, in USD (``Usage.cost``): every call made for them, failed answers' included."""

    answers: int = 0
    """Answers that finished: what ``per_answer`` divides by."""
    total: float | None = 0.0
    """Every call's cost, failed answers' too; None when any call's model has no known price (or its record
    predates costs)."""
    estimated: bool = False
    """Some calls' token counts, hence their cost, are sotkit's estimate (the server reported none, or the call
    broke before it did)."""
    failed: int = 0
    """Answers that failed (also those a rerun asked again): their calls are in ``total``, they are not in
    ``answers``."""

    @property
    def per_answer(self) -> float | None:
        """What a finished answer costs, failed attempts included: ``total / answers``."""
        return self.total / self.answers if self.total is not None and self.answers else None


def mode_cost(answers: Iterable[dict[str, Any]], prices: Prices | None = None) -> ModeCost:
    """Each answer priced now from its calls (so prices given on a rerun count), or as recorded if it predates
    that; ``{}`` is a question not asked in this mode."""
    prices = prices or Prices()
    cost = ModeCost()
    # an answer asked again after it failed: the failed ones' calls were made for it too
    for answer in (spent for answer in answers if answer for spent in [*answer.get("failed_before", []), answer]):
        if answer.get("error") is None:
            cost.answers += 1
        else:
            cost.failed += 1
            if "calls" not in answer:  # failed before its spend was recorded (an older sotkit): unknown, left out
                continue
        price = answer.get("cost")
        if (calls := answer.get("priced_calls")) is not None:
            each = [prices.cost(*call) for call in calls]
            price = None if None in each else sum(each)
        cost.total = None if cost.total is None or price is None else cost.total + price
        cost.estimated = cost.estimated or bool(answer.get("usage_estimated"))
    return cost


@dataclass
class Summary:
    """What ``evaluate`` found: every record, and the tallies and measures by category (and ``"all"``)."""

    settings: dict[str, Any]
    records: list[dict[str, Any]]
    categories: list[str]
    #: aspect ("general", then LLMZoo's) -> category -> Tally
    verdicts: dict[str, dict[str, Tally]] = field(default_factory=dict)
    #: measure -> category -> its median or mean (see MEASURES), None where no question had it
    measures: dict[str, dict[str, float | None]] = field(default_factory=dict)
    #: measure -> category -> how many questions that median or mean is over
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    fell_back: list[str] = field(default_factory=list)
    """Questions whose SoT request fell back to a sequential answer (too few skeleton points)."""
    #: mode -> questions whose answer in it was cut off (its token budget, a filter, or a cut skeleton)
    cut: dict[str, list[str]] = field(default_factory=dict)
    #: mode -> questions whose answer in it waited for a retry: its latency holds the wait
    waited: dict[str, list[str]] = field(default_factory=dict)
    side_by_side: int = 0
    """Answers timed while other questions were answered too (``concurrency`` above 1): their latencies hold that
    load."""
    judge_cut: int = 0
    """Judge replies cut at the judge's token budget, each read as no verdict (``judge_max_tokens``)."""
    judge_stopped: int = 0
    """Judge replies the provider's filter or the judge's context window stopped, each read as no verdict."""
    #: aspect -> its ties that are pairs where the judge preferred the answer shown in the same place (first, or
    #: second) in both orders: a judge that reads position, not content, gives only those
    split: dict[str, int] = field(default_factory=dict)
    #: mode -> what its answers cost (the judge's calls not included)
    cost: dict[str, ModeCost] = field(default_factory=dict)

    @property
    def net_win_rate(self) -> float | None:
        general = self.verdicts.get("general")
        return general[ALL].net_win_rate if general else None

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain data (``summary.json``, ``sotkit eval --json``): the records are results.jsonl's."""
        return {"model": self.settings["model"], "judge": self.settings["judge"], "modes": self.settings["modes"],
                "questions": len(self.records), "failed": self.failed, "fell_back": self.fell_back,
                "verdicts": {aspect: {category: {**asdict(t), "judged": t.judged, "net_win_rate": t.net_win_rate,
                                                 "interval": t.interval} for category, t in by_category.items()}
                             for aspect, by_category in self.verdicts.items()},
                "measures": self.measures, "counts": self.counts, "cut": self.cut, "waited": self.waited,
                "side_by_side": self.side_by_side, "judge_cut": self.judge_cut, "judge_stopped": self.judge_stopped,
                "split": self.split,
                "cost": {mode: {**asdict(cost), "per_answer": cost.per_answer} for mode, cost in self.cost.items()}}

    @property
    def speedup(self) -> float | None:
        return self.measures.get("speedup", {}).get(ALL)


def summarize(records: list[dict[str, Any]], settings: dict[str, Any]) -> Summary:
    categories = list(dict.fromkeys(r["category"] for r in records))
    groups = {ALL: records, **{c: [r for r in records if r["category"] == c] for c in categories}}
    summary = Summary(settings, records, categories,
                      failed=[r["id"] for r in records if r["error"]],
                      fell_back=[r["id"] for r in records if outcome_of(r, "general") == "fell_back"])
    prices = Prices(settings.get("prices"))
    summary.cost = {mode: mode_cost((r["answers"].get(mode, {}) for r in records), prices)
                    for mode in settings.get("modes", [])}
    summary.cut = {mode: [r["id"] for r in records if _cut(r["answers"].get(mode, {}))]
                   for mode in settings.get("modes", [])}
    finished = [(r["id"], mode, a) for r in records for mode in settings.get("modes", [])
                if (a := r["answers"].get(mode)) and not a.get("error")]
    summary.waited = {mode: [i for i, m, a in finished if m == mode and a.get("retries")]
                      for mode in settings.get("modes", [])}
    # (an answer from before it was kept says nothing of it: counted as timed alone)
    summary.side_by_side = sum(a.get("concurrency", 1) > 1 for _, _, a in finished)
    if settings.get("judge"):
        for aspect in ["general", *settings.get("aspects", [])]:
            summary.verdicts[aspect] = {name: tally(outcome_of(r, aspect) for r in group)
                                        for name, group in groups.items()}
        replies = [v for r in records if not fell_back(r["answers"])  # (an older run judged those too)
                   for v in (r.get("judge") or {}).get("verdicts", {}).values()]
        summary.judge_cut = sum(sum(v.get("cut") or []) for v in replies)
        summary.judge_stopped = sum(bool(s) for v in replies for s in v.get("stopped") or [])
        summary.split = {aspect: sum(outcome_of(r, aspect) == "tie" and r["judge"]["verdicts"][aspect]["verdicts"]
                                     in (["A", "A"], ["B", "B"]) for r in records) for aspect in summary.verdicts}
    for measure, how in MEASURES.items():
        summary.measures[measure], summary.counts[measure] = {}, {}
        for name, group in groups.items():
            values = [v for r in group if (v := r["measures"].get(measure)) is not None]
            average = statistics.median if how == "median" else statistics.fmean
            summary.measures[measure][name] = average(values) if values else None
            summary.counts[measure][name] = len(values)
    return summary


def fell_back(answers: dict[str, Any]) -> bool:
    """Did SoT's request fall back to a sequential answer (too few skeleton points)?"""
    return (answers.get("sot") or {}).get("mode") == "sequential"


def outcome_of(record: dict[str, Any], aspect: str) -> str | None:
    """The verdict's outcome; ``fell_back`` where SoT's answer was a sequential one (not judged: two sequential
    answers; an older run's verdict on them is not SoT's); None where there is none (an answer or an order of the
    judge failed)."""
    answers = record.get("answers", {})
    if fell_back(answers) and not any(a.get("error") for a in answers.values()):
        return "fell_back"
    verdict = (record.get("judge") or {}).get("verdicts", {}).get(aspect)
    return verdict["outcome"] if verdict else None


def _cut(answer: dict[str, Any]) -> bool:
    """An answer cut at a budget or by the filter; a failed one (a deadline's partial, say) is counted as failed."""
    return not answer.get("error") and bool(answer.get("truncated") or answer.get("skeleton_truncated"))


# -- report.md and plots --------------------------------------------------------------------------------------

def check_plotting() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ModelNotAvailableError("the plots of sotkit eval need matplotlib: pip install 'sotkit[eval]' "
                                     "(or turn plots off: --no-plots, plots=False)") from None


def write_report(summary: Summary, out: Path, *, plots: bool = True) -> Path:
    """``report.md``, ``summary.json`` (its figures for a script: probe 313) and, with ``plots``, the plots."""
    written = write_plots(summary, out) if plots else []
    (out / "summary.json").write_text(json.dumps(summary.as_dict(), indent=2) + "\n", encoding="utf-8")
    path = out / "report.md"
    path.write_text(render_markdown(summary, written), encoding="utf-8")
    return path


def _num(value: float | None, fmt: str = ".2f", suffix: str = "", prefix: str = "") -> str:
    return "–" if value is None else f"{prefix}{value:{fmt}}{suffix}"


def _cell(text: object) -> str:
    """``text`` as one table cell: a "|" would end the cell and a line break the row (ids and categories are the
    user's)."""
    return " ".join(str(text).splitlines()).replace("|", "\\|")


def render_markdown(summary: Summary, plots: list[str]) -> str:
    s = summary.settings
    n = len(summary.records)
    lines = [
        "# sotkit eval: Skeleton-of-Thought against sequential answers", "",
        f"Model `{s['model']}`, modes {', '.join(s['modes'])}; judge "
        + (f"`{s['judge']}`" if s.get("judge") else "none") + f"; {n} questions"
        + (f", {len(summary.failed)} failed (rerun the same command to retry them: {', '.join(summary.failed)})"
           if summary.failed else "") + ".", "",
    ]
    if summary.verdicts:
        lines += ["## Quality: the judge's verdicts", "",
                  "Each pair is judged twice with the answers' order swapped; SoT wins (or loses) only where both "
                  "orders agree, anything else is a tie. Net win rate = (wins - losses) / judged, from -1 to +1, "
                  "with its 95% confidence interval over the questions: one that holds 0 means these questions do "
                  "not tell SoT's answers from sequential ones apart (judge more questions to narrow it). "
                  "Unparseable: a reply with no single [[A]]/[[B]]/[[C]] verdict, or cut at the judge's token "
                  "budget or stopped by the provider, in either order; counted, not guessed, and left out of the "
                  "net win rate. Failed: not judged, as an answer or the judge failed (rerun the same command to "
                  "retry them). Fell back: SoT's request fell back to a sequential answer (too few skeleton "
                  "points), so the pair is two sequential answers; left out of the net win rate.", ""]
        general = summary.verdicts["general"]
        lines += _tally_table("category", [(c, general[c]) for c in [*summary.categories, ALL]])
        if summary.split["general"]:
            lines += ["", _split_note(summary.split["general"], general[ALL].ties)
                      + ": a judge that reads the answers' order rather than their content gives only those, and "
                        "its interval around 0 then says nothing of quality."]
        if summary.judge_cut:
            lines += ["", f"{summary.judge_cut} judge repl{'y was' if summary.judge_cut == 1 else 'ies were'} cut "
                          f"at the judge's budget of {s.get('judge_max_tokens')} tokens, so counted unparseable: "
                          "raise it (--judge-max-tokens, judge_max_tokens=) and rerun; only those are asked again."]
        if summary.judge_stopped:
            lines += ["", f"{summary.judge_stopped} judge repl{'y was' if summary.judge_stopped == 1 else 'ies were'} "
                          "stopped by the provider (its filter, or the judge's context window: `stopped` in "
                          "results.jsonl says which), so counted unparseable; a larger budget would not help, and a "
                          "rerun keeps them (for the window, a judge with a larger one would)."]
        if len(summary.verdicts) > 1:
            lines += ["", "By aspect (LLMZoo's, all categories):", ""]
            lines += _tally_table("aspect", [(a, t[ALL]) for a, t in summary.verdicts.items() if a != "general"])
            if notes := [f"- {aspect}: {_split_note(n, summary.verdicts[aspect][ALL].ties)}." for aspect, n
                         in summary.split.items() if n and aspect != "general"]:  # (probe 313: said of general only)
                lines += ["", *notes]
        lines.append("")
    lines += ["## Speed and shape (judge-free)", "",
              "Speed-up: sequential latency / SoT latency. Per token: SoT's output tokens per second over "
              "sequential's (no credit for a shorter answer). Length ratio: SoT words / sequential words. "
              "Redundancy: share of a point's word 3-grams found in another point. Restatement: share of points "
              "whose first sentence restates the question. Medians for ratios, means for shares. n: the questions "
              "with both answers measured, which the speed-ups are over; a figure over another number of questions "
              "gives its own n (redundancy and restatement need only a SoT answer's points; a failed answer is "
              "not measured; the ratios leave out a pair where the provider's filter stopped an answer).", "",
              "| category | n | speed-up | speed-up per token | length ratio | redundancy | restatement |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for c in [*summary.categories, ALL]:
        count = summary.counts["speedup"][c]
        cells = [_measure(summary, name, c, count, suffix="x" if name.startswith("speedup") else "")
                 for name in MEASURES]  # in the header's order
        lines.append(f"| {_cell(c)} | {count} | {' | '.join(cells)} |")
    if waited := "; ".join(f"{mode}: {', '.join(ids)}" for mode, ids in summary.waited.items() if ids):
        lines += ["", "Answers that waited for a retry (a rate limit's Retry-After, a broken stream's backoff), their "
                      "latencies and speed-ups with the wait in them (SoT's calls in parallel meet a rate limit "
                      f"sooner): {waited}."]
    if summary.side_by_side:
        lines += ["", f"{summary.side_by_side} answer(s) were timed while other questions were answered at the same "
                      "time (--concurrency above 1): their latencies hold that load."]
    lines += ["", "## Cost", "",
              "USD for the answers (the judge's calls not included), from `result.usage.cost`: the total is every "
              "call made for the mode's answers, failed answers' included; per answer is that total over the "
              "answers that finished. Failed attempts: answers that failed, also those a rerun then asked again; "
              "their calls are in the total. – where a model has no known price (pass `prices=`); ~ where the "
              "server reported no token counts (or a call broke before it did) and sotkit estimated them.", "",
              "| mode | answers | failed attempts | total | per answer |", "|---|---:|---:|---:|---:|"]
    for mode, cost in summary.cost.items():
        mark = "~" if cost.estimated and cost.total else ""  # 0 (local models) is exact, estimated tokens or not
        lines.append(f"| {_cell(mode)} | {cost.answers} | {cost.failed} | {mark}{_num(cost.total, '.6f', prefix='$')} "
                     f"| {mark}{_num(cost.per_answer, '.6f', prefix='$')} |")
    for mode, ids in summary.cut.items():
        if ids:
            lines += ["", f"The {mode} answer was cut off on {len(ids)} question(s), at a token budget (max_tokens, "
                          "skeleton_max_tokens, point_max_tokens), at max_points, by the provider's filter or where "
                          f"a local model began to repeat itself, and judged as cut: {', '.join(ids)}."]
    if summary.fell_back:
        lines += ["", f"SoT fell back to a sequential answer (fewer than two skeleton points) on "
                      f"{len(summary.fell_back)} question(s): {', '.join(summary.fell_back)}; they have no "
                      "redundancy or restatement."]
    lines += ["", "## Per question", "",
              "| id | category | SoT mode | SoT s | sequential s | speed-up | verdicts (SoT as A / as B) | outcome "
              "| redundancy | restatement | error |",
              "|---|---|---|---:|---:|---:|---|---|---:|---:|---|"]
    for r in summary.records:
        # a failed answer is not measured: its partial latency is shown as none (probe 313)
        sot, seq = ({} if (a := r["answers"].get(mode) or {}).get("error") else a for mode in ("sot", "sequential"))
        general = (r.get("judge") or {}).get("verdicts", {}).get("general")
        outcome = outcome_of(r, "general") if summary.verdicts else None
        verdicts = " / ".join(v or "?" for v in general["verdicts"]) if general and outcome != "fell_back" else "–"
        result = {None: "failed" if general else "–", "fell_back": "fell back"}.get(outcome, outcome) \
            if summary.verdicts else "–"
        lines.append(f"| {_cell(r['id'])} | {_cell(r['category'])} | {sot.get('mode', '–')} "
                     f"| {_num(sot.get('latency_s'))} | {_num(seq.get('latency_s'))} "
                     f"| {_num(r['measures'].get('speedup'), suffix='x')} | {verdicts} "
                     f"| {result} | "
                     f"{_num(r['measures'].get('redundancy'))} | {_num(r['measures'].get('restatement'))} | "
                     f"{_cell((r['error'] or '')[:120])} |")
    if plots:
        lines += ["", "## Plots", ""] + [f"![{name}]({name})" for name in plots]
    return "\n".join(lines) + "\n"


def _measure(summary: Summary, measure: str, category: str, n: int, suffix: str) -> str:
    """A measure's cell, with the number of questions it is over where that is not the row's ``n``."""
    own = summary.counts[measure][category]
    return _num(summary.measures[measure][category], suffix=suffix) + (f" (n={own})" if own and own != n else "")


def _split_note(split: int, ties: int) -> str:
    return (f"{split} of the {ties} ties {'is a pair' if split == 1 else 'are pairs'} where the judge preferred the "
            "answer shown first, or second, in both orders, not a tie it gave")


def _tally_table(key: str, rows: list[tuple[str, Tally]]) -> list[str]:
    lines = [f"| {key} | judged | wins | ties | losses | unparseable | failed | fell back | net win rate "
             "| 95% interval |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, t in rows:
        lines.append(f"| {_cell(name)} | {t.judged} | {t.wins} | {t.ties} | {t.losses} | {t.unparseable} | "
                     f"{t.failed} | {t.fell_back} | {_num(t.net_win_rate, '+.2f')} | {interval_text(t)} |")
    return lines


def interval_text(t: Tally) -> str:
    """The net win rate's 95% interval as "-0.19 to +0.69", or "–" with nothing judged."""
    return f"{t.interval[0]:+.2f} to {t.interval[1]:+.2f}" if t.interval else "–"


def bar_label(t: Tally) -> str:
    """A category's bar label in the net win rate's plot: the rate and the questions it stands on, and those it
    leaves out ("+0.50, n=4, 1 unparseable, 2 failed"; nothing judged is no "unreadable verdicts": every judge call
    may have failed)."""
    label = f"{t.net_win_rate:+.2f}, n={t.judged}" if t.judged else "nothing judged"
    apart = [f"{n} {what}" for n, what in ((t.unparseable, "unparseable"), (t.failed, "failed"),
                                           (t.fell_back, "fell back")) if n]
    return ", ".join([label, *apart])


def write_plots(summary: Summary, out: Path) -> list[str]:
    """The PNG plots the data allows; returns their file names. Drawn on matplotlib's Agg canvas through
    ``Figure`` (no pyplot), so no window opens and no global backend is changed."""
    check_plotting()
    from matplotlib.figure import Figure

    written = []
    labels = [*summary.categories, ALL]
    general = summary.verdicts.get("general")
    if general:  # drawn even with no readable verdict: that is a finding too
        fig = Figure(figsize=(6.4, 0.5 * len(labels) + 1.6))
        ax = fig.add_subplot()
        rates = [general[c].net_win_rate or 0.0 for c in labels]
        spans = [general[c].interval or (rates[y], rates[y]) for y, c in enumerate(labels)]  # (none: no bar either)
        ax.barh(labels, rates, color=["#4c72b0" if r >= 0 else "#c44e52" for r in rates],
                xerr=[[r - lo for r, (lo, _) in zip(rates, spans)], [hi - r for r, (_, hi) in zip(rates, spans)]],
                error_kw={"ecolor": "#555555", "capsize": 3, "linewidth": 0.8})
        for y, c in enumerate(labels):  # (above the whisker's line, which a label on it would hide)
            ax.annotate(bar_label(general[c]), (0, y),
                        xytext=(4 if rates[y] < 0 else -4, 7), textcoords="offset points", va="center",
                        ha="left" if rates[y] < 0 else "right", fontsize=8,
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlim(-1, 1)
        ax.invert_yaxis()
        ax.set_xlabel("net win rate of SoT over sequential (both orders must agree; whiskers: 95% interval)")
        ax.set_title(f"judge {summary.settings['judge']}")
        written.append(_save(fig, out, PLOTS["net_win_rate"]))
    speedups = {c: [r["measures"]["speedup"] for r in summary.records
                    if (c == ALL or r["category"] == c) and r["measures"].get("speedup") is not None] for c in labels}
    if speedups[ALL]:
        fig = Figure(figsize=(6.4, 0.5 * len(labels) + 1.6))
        ax = fig.add_subplot()
        ax.barh(labels, [statistics.median(v) if v else 0 for v in speedups.values()], color="#8da0cb",
                label="median")
        for y, c in enumerate(labels):  # every question as a dot, so the spread is visible beside the median
            ax.scatter(speedups[c], [y] * len(speedups[c]), color="black", s=10, zorder=3)
        ax.axvline(1, color="black", linewidth=0.8, linestyle="--")
        ax.invert_yaxis()
        ax.set_xlabel("speed-up: sequential latency / SoT latency (bar: median, dots: questions)")
        ax.set_title(f"model {summary.settings['model']}")
        written.append(_save(fig, out, PLOTS["speedup"]))
    points = [(r["measures"]["speedup"], {"win": 1, "tie": 0, "loss": -1}[o], r["category"])
              for r in summary.records
              if r["measures"].get("speedup") is not None and (o := outcome_of(r, "general")) in ("win", "tie", "loss")]
    if points:
        fig = Figure(figsize=(6.4, 4.2))
        ax = fig.add_subplot()
        for c in summary.categories:
            mine = [(x, y + _jitter(f"{c}{i}")) for i, (x, y, cat) in enumerate(points) if cat == c]
            if mine:
                xs, ys = zip(*mine)  # (two sequences: a star would leave them free to fill scatter's s too)
                ax.scatter(xs, ys, label=c, s=24, alpha=0.8)
        ax.axvline(1, color="black", linewidth=0.8, linestyle="--")
        ax.set_yticks([-1, 0, 1], ["SoT worse", "tie", "SoT better"])
        ax.set_xlabel("speed-up (sequential latency / SoT latency)")
        ax.set_title("each question: speed against the judge's verdict")
        ax.legend(fontsize=8, loc="best")
        written.append(_save(fig, out, PLOTS["quality"]))
    return written


def _jitter(key: str) -> float:
    """A small, repeatable vertical offset so questions with the same verdict do not hide each other."""
    return (zlib.crc32(key.encode()) % 1000 / 1000 - 0.5) * 0.3


def _save(fig: Any, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    return name
