"""``sotkit eval`` against the loopback server: scripted answers and scripted judge verdicts."""

from __future__ import annotations

import functools
import contextlib
import dataclasses
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import anyio
import pytest

import openai
import sotkit
from sotkit.coordinator import Answer
from sotkit.engines import registry
from sotkit.engines.base import Engine
from sotkit.engines.streaming import Completion, TextStream
from sotkit.evaluation import Question, load_questions, outcome, parse_verdict
from sotkit.evaluation.judge import _unmarked, judge_pair
from sotkit.evaluation.progress import Progress
from sotkit.evaluation.report import Tally, bar_label
from sotkit.evaluation.run import MODES, SPENT, measures
from sotkit.testing import Fault, FakeLLMServer, Latency, RecordedRequest, Reply
from tests.conftest import is_skeleton, point_of, sot_responder

pytestmark = pytest.mark.anyio

FAST = Latency(ttft_s=0.0, tokens_per_s=5000)
SKELETON = "1. Keep a schedule\n2. Dim the lights\n3. Skip late coffee"
SEQUENTIAL = "Go to bed at one hour, keep the room dark and have no coffee after noon."
QUESTIONS = [
    {"id": "sleep", "category": "health", "question": "How can I fall asleep faster?"},
    {"id": "walk", "category": "health", "question": "How can I walk more each day?"},
    {"id": "food", "category": "money", "question": "How can I spend less on food?"},
    {"id": "rent", "category": "money", "question": "How can I pay less rent?"},
    {"id": "plants", "category": "home", "question": "How do I keep plants alive?"},
]
_ANSWER = re.compile(r"\[The Start of Assistant ([AB])'s Answer\]\n(.*?)\n\[The End of", re.S)
_QUESTION = re.compile(r"\[User Question\]\n(.*?)\n\n", re.S)


def is_judge(request: RecordedRequest) -> bool:
    return "impartial judge" in (request.system or "")


def judged_question(request: RecordedRequest) -> str:
    return _QUESTION.search(request.user).group(1)


def sot_position(request: RecordedRequest) -> str:
    """Which assistant, A or B, shows the SoT answer (it is the numbered one)."""
    answers = dict(_ANSWER.findall(request.user))
    return "A" if answers["A"].startswith("1.") else "B"


def model(judge=lambda request: "Both are fine. [[C]]"):
    """A scripted model: SoT and sequential answers as in conftest, and ``judge(request)`` for judge prompts."""
    answers = sot_responder(SKELETON, {1: "Go to bed at one hour.", 2: "Keep the room dark.", 3: "No coffee."},
                            sequential=SEQUENTIAL)
    return lambda request: judge(request) if is_judge(request) else answers(request)


def prefers_sot_for(*categories: str):
    """A consistent judge: picks the SoT answer for questions of ``categories``, the sequential one otherwise."""
    by_question = {q["question"]: q["category"] for q in QUESTIONS}

    def judge(request: RecordedRequest) -> str:
        sot = sot_position(request)
        seq = "B" if sot == "A" else "A"
        return f"My comparison. [[{sot if by_question[judged_question(request)] in categories else seq}]]"
    return judge


def write_questions(path: Path, questions=QUESTIONS) -> Path:
    path.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    return path


async def run(server: FakeLLMServer, tmp_path: Path, out: str = "out", **options) -> sotkit.evaluation.Summary:
    options.setdefault("judge", "openai:judge")
    options.setdefault("plots", False)
    on_server = {"base_url": server.openai_base_url, "api_key": "k"}
    if options["judge"] is not None:
        options.setdefault("judge_options", on_server)
    options.setdefault("questions", tmp_path / "questions.jsonl")
    return await sotkit.evaluate(model="openai:m", out=tmp_path / out, **on_server, **options)


def serve(responder) -> FakeLLMServer:
    return FakeLLMServer(responder, latency=FAST)


# -- the questions file --------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    ("", "no questions in the file"),
    ('{"question": "Why?"}\n{"question": "How?"\n', "line 2: not valid JSON"),
    ('\n{"category": "x"}\n', 'line 2: "question" is missing'),
    ('{"question": "  "}\n', '"question" must be a non-empty string'),
    ('["How?"]\n', "line 1: a JSON object is needed"),
    ('{"question": "How?", "catgory": "x"}\n', "unknown field(s) 'catgory'"),
    ('{"question": "How?", "id": "a"}\n{"question": "Why?", "id": "a"}\n', "line 2: id 'a' is already used on line 1"),
    ('{"question": "How?", "category": 3.5}\n', '"category" must be a non-empty string or a whole number, got 3.5'),
    ('{"question": "How?"}\n{"question": "Why \\ud800?"}\n', 'line 2: "question" holds a lone surrogate'),
    ('{"question": "How?", "id": "a\\udc80"}\n', 'line 1: "id" holds a lone surrogate'),
])
def test_a_bad_questions_file_is_refused_before_any_call_with_the_line_and_the_fix(tmp_path, content, message):
    path = tmp_path / "q.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(sotkit.ConfigError, match=re.escape(message)):
        load_questions(path)


def test_questions_without_an_id_get_one_that_follows_the_text_not_the_line(tmp_path):
    first = load_questions(write_questions(tmp_path / "a.jsonl", [{"question": "Why?"}, {"question": "How?"}]))
    swapped = load_questions(write_questions(tmp_path / "b.jsonl", [{"question": "How?"}, {"question": "Why?"}]))
    assert {q.question: q.id for q in first} == {q.question: q.id for q in swapped}
    assert first[0].category == "general"


def test_a_questions_file_saved_with_a_bom_is_read(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text("\ufeff" + json.dumps({"question": "Why?", "id": "a"}) + "\n", encoding="utf-8")  # Notepad's
    assert load_questions(path) == [Question("a", "Why?")]


def test_unicode_line_separators_inside_a_question_do_not_end_its_line(tmp_path):
    texts = ["Why\u2028now?", "How\u2029so?", "What\x85next?"]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps({"question": t}, ensure_ascii=False) + "\r\n" for t in texts), encoding="utf-8")
    assert [q.question for q in load_questions(path)] == texts


async def test_a_question_that_cannot_be_sent_is_refused_at_load_before_any_other_is_answered(tmp_path):
    path = tmp_path / "questions.jsonl"
    path.write_text('{"question": "How can I sleep better?"}\n{"question": "Why \\ud800?"}\n', encoding="utf-8")
    with serve(model()) as server:
        with pytest.raises(sotkit.ConfigError, match=re.escape(f'{path}, line 2: "question" holds a lone surrogate')):
            await run(server, tmp_path)
        with pytest.raises(sotkit.ConfigError, match=re.escape("questions[1] holds a lone surrogate '\\ud800'")):
            await sotkit.evaluate(["How?", "Why \ud800?"], model="openai:m", out=tmp_path / "listed", plots=False,
                                  base_url=server.openai_base_url, api_key="k")
        assert server.requests == []
    assert not (tmp_path / "out" / "results.jsonl").exists()



async def test_a_category_named_all_is_refused_before_any_call_as_it_would_take_the_overall_rows_place(tmp_path):
    # it replaced the tally of every question: report.md's "all" row, the net win rate and the command's last line
    path = write_questions(tmp_path / "questions.jsonl", [QUESTIONS[0], dict(QUESTIONS[1], category="all")])
    with serve(model()) as server:
        with pytest.raises(sotkit.ConfigError, match=re.escape(
                f"{path}, line 2: \"category\" is 'all', but \"all\" names the report's row of every question "
                "together: give the category another name, such as \"all-round\"")):
            await run(server, tmp_path)
        with pytest.raises(sotkit.ConfigError, match=re.escape("questions[1].category is 'All', but")):
            await run(server, tmp_path, questions=[Question("a", "Why?"), Question("b", "How?", "All")])
        assert server.requests == []


# -- verdicts ------------------------------------------------------------------------------------------------

def test_verdicts_are_read_only_when_there_is_exactly_one_kind():
    assert parse_verdict("A explains more. [[A]]") == "A"
    assert parse_verdict("[[C]]") == "C"
    assert parse_verdict("Assistant A is better.") is None  # no bracketed verdict: not guessed
    assert parse_verdict("[[A]] ... on reflection [[B]]") is None  # two different verdicts: ambiguous
    assert parse_verdict("[[B]] and again [[B]]") == "B"


def test_the_judge_is_shown_no_verdict_mark_however_deep_in_brackets():
    # review 301: one pass a level, 20,000 levels deep held the event loop 8.7 s
    deep = "[" * 20_000 + "[[A]]" + "]" * 20_000
    assert _unmarked(deep) == "[A]" and _unmarked("See [[B]], [[[C]]] and [A].") == "See [B], [C] and [A]."
    # brackets that do not pair up around a mark stay, and text with no mark is as it was (review 302)
    assert _unmarked("x = [[[A]], [[B]]]") == "x = [[A], [B]]" and _unmarked("[[A]]]] end") == "[A]]] end"
    plain = "[" * 20_000 + "[[link]] [[1]] ]] re.compile(r'[[A-Z]]+')"
    assert _unmarked(plain) == plain


def test_sot_wins_only_where_both_orders_agree():
    assert outcome("A", "B") == "win"  # SoT shown first, then second: picked both times
    assert outcome("B", "A") == "loss"
    assert outcome("A", "A") == "tie"  # position bias
    assert outcome("A", "C") == "tie"
    assert outcome(None, "B") == "unparseable"


# -- judging end to end ----------------------------------------------------------------------------------------

async def test_a_judge_that_always_prefers_the_first_answer_yields_ties_not_wins(tmp_path):
    write_questions(tmp_path / "questions.jsonl")
    with serve(model(judge=lambda r: "The first one is better. [[A]]")) as server:
        summary = await run(server, tmp_path)
        judge_requests = [r for r in server.requests if is_judge(r)]
    general = summary.verdicts["general"]["all"]
    assert (general.wins, general.ties, general.losses, general.unparseable) == (0, 5, 0, 0)
    assert summary.net_win_rate == 0.0
    # asked twice per question, the SoT answer shown first and then second
    assert len(judge_requests) == 10
    assert sorted(sot_position(r) for r in judge_requests) == ["A"] * 5 + ["B"] * 5
    assert all(r.model == "judge" for r in judge_requests)


async def test_net_win_rate_per_category(tmp_path):
    write_questions(tmp_path / "questions.jsonl")
    with serve(model(judge=prefers_sot_for("health", "home"))) as server:
        summary = await run(server, tmp_path)
    rates = {c: t.net_win_rate for c, t in summary.verdicts["general"].items()}
    assert rates == {"health": 1.0, "money": -1.0, "home": 1.0, "all": pytest.approx(1 / 5)}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| money | 2 | 0 | 0 | 2 | 0 | 0 | 0 | -1.00 | -1.00 to +0.19 |" in report
    assert "| all | 5 | 3 | 0 | 2 | 0 | 0 | 0 | +0.20 | -0.53 to +0.82 |" in report


@pytest.mark.parametrize(("wins", "ties", "losses", "interval"), [
    (3, 0, 2, (-0.535, 0.820)),  # hand-computed: (3.5 - 2.5) / 7 -+ 1.96 sqrt(6 - 1/7) / 7
    (10, 0, 0, (0.57, 1.0)),  # all wins: not [1, 1], which ten questions cannot show
    (0, 10, 0, (-0.16, 0.16)),  # all ties: no difference, and ten questions bound it
    (40, 30, 10, (0.21, 0.52)),
])
def test_the_net_win_rate_has_a_95_percent_interval(wins, ties, losses, interval):
    assert Tally(wins=wins, ties=ties, losses=losses).interval == pytest.approx(interval, abs=0.005)


def test_the_net_win_rates_interval_holds_the_true_rate_95_times_in_100():
    import random

    rng = random.Random(7)
    for win, loss, n in ((0.3, 0.3, 10), (0.6, 0.1, 30), (0.5, 0.4, 80)):
        held = 0
        for _ in range(2000):
            outcomes = rng.choices(("win", "tie", "loss"), (win, 1 - win - loss, loss), k=n)
            low, high = Tally(outcomes.count("win"), outcomes.count("tie"), outcomes.count("loss")).interval
            held += low <= win - loss <= high
        assert 0.92 <= held / 2000 <= 0.98, (win, loss, n, held)


def test_nothing_judged_has_no_interval():
    assert Tally(unparseable=3, failed=1).interval is None


async def test_a_pair_where_sot_fell_back_to_a_sequential_answer_is_counted_apart_not_won(tmp_path):
    # probe 160: every skeleton had one point, so each pair was two sequential answers, and a judge's preference
    # between them was reported as SoT's net win rate (+1.00, 6 judged)
    answers = sot_responder("1. Just one point", sequential=SEQUENTIAL)
    responder = lambda r: prefers_sot_for("health", "money", "home")(r) if is_judge(r) else answers(r)  # noqa: E731
    write_questions(tmp_path / "questions.jsonl")
    with serve(responder) as server:
        summary = await run(server, tmp_path)
        judged = [r for r in server.requests if is_judge(r)]
    general = summary.verdicts["general"]["all"]
    assert (general.judged, general.fell_back, summary.net_win_rate) == (0, 5, None)
    assert sorted(summary.fell_back) == sorted(q["id"] for q in QUESTIONS)
    assert judged == []  # nothing of SoT's to judge: no judge call paid for (review 162)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| all | 0 | 0 | 0 | 0 | 0 | 0 | 5 | – |" in report
    assert "| sleep | health | sequential |" in report and "| – | fell back |" in report  # the row says so too
    assert not summary.failed


async def test_an_unparseable_verdict_is_counted_as_such_and_left_out_of_the_rate(tmp_path):
    write_questions(tmp_path / "questions.jsonl")
    consistent = prefers_sot_for("health", "money", "home")

    def judge(request):
        return "I cannot decide between them." if judged_question(request) == "How can I pay less rent?" \
            else consistent(request)
    with serve(model(judge)) as server:
        summary = await run(server, tmp_path)
    general = summary.verdicts["general"]["all"]
    assert (general.wins, general.unparseable, general.judged) == (4, 1, 4)
    assert summary.net_win_rate == 1.0
    record = next(r for r in summary.records if r["id"] == "rent")
    assert record["judge"]["verdicts"]["general"] == {
        "verdicts": [None, None], "outcome": "unparseable",
        "raw": ["I cannot decide between them.", "I cannot decide between them."], "cut": [False, False],
        "stopped": [None, None], "max_tokens": 512}
    assert record["error"] is None  # a judge that answered is not a failure: it is not asked again


async def test_aspects_are_judged_each_in_both_orders(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    with serve(model(judge=prefers_sot_for("health"))) as server:
        summary = await run(server, tmp_path, aspects=True)
        judge_requests = [r for r in server.requests if is_judge(r)]
    assert len(judge_requests) == 2 * 6
    assert sum("on one aspect only, integrity:" in r.system for r in judge_requests) == 2
    assert {a: t["all"].net_win_rate for a, t in summary.verdicts.items()} == dict.fromkeys(
        ["general", "coherence", "diversity", "immersion", "integrity", "relevance"], 1.0)


async def test_an_aspect_the_judge_failed_on_is_named_in_the_error(tmp_path):
    # probe 261: "judge: BadRequestError: ...", with the general verdict judged, left the reader to guess the aspect
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    judge = prefers_sot_for("health")

    def failing_on_diversity(request):
        if "on one aspect only, diversity:" in request.system and sot_position(request) == "B":
            return Reply("", fault=Fault.status(400))
        return judge(request)
    with serve(model(judge=failing_on_diversity)) as server:
        summary = await run(server, tmp_path, aspects=True)
    [record] = summary.records
    assert record["error"].startswith("judge: on the diversity aspect, BadRequestError: "), record["error"]
    assert summary.verdicts["general"]["all"].judged == 1 and summary.verdicts["diversity"]["all"].failed == 1


async def test_each_answer_is_recorded_with_mode_usage_timings_and_retries(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    answers = model()
    seen: set[str] = set()

    def flaky(request):  # the first sequential request gets a 503, then the answer
        if not is_judge(request) and not is_skeleton(request) and "point" not in request.user \
                and "sequential" not in seen:
            seen.add("sequential")
            return Reply("", fault=Fault.status(503))
        return answers(request)
    with serve(flaky) as server:
        summary = await run(server, tmp_path, judge=None, retry=sotkit.RetryPolicy(attempts=3, max_wait_s=0.01))
    [record] = summary.records
    sot, seq = record["answers"]["sot"], record["answers"]["sequential"]
    assert sot["mode"] == "sot" and sot["skeleton"] == ["Keep a schedule", "Dim the lights", "Skip late coffee"]
    assert sot["points"] == ["Go to bed at one hour.", "Keep the room dark.", "No coffee."]
    assert sot["calls"] == 4 and sot["retries"] == 0 and sot["route_reason"] == "mode='sot' was requested"
    assert sot["batched"] is False  # an API model: a call per point
    assert seq["text"] == SEQUENTIAL and seq["retries"] == 1 and seq["calls"] == 2
    assert sot["filtered"] is seq["filtered"] is False
    # probe 191: a retry's wait (a 429's Retry-After) made a 12x speed-up of a 2x one, and nothing said so; review
    # 192: leaving such pairs out favoured SoT, whose calls in parallel meet a rate limit sooner; they are named
    assert summary.waited == {"sot": [], "sequential": [record["id"]]} and record["measures"]["speedup"] > 0
    assert "Answers that waited for a retry" in (tmp_path / "out" / "report.md").read_text()
    for answer in (sot, seq):
        assert answer["output_tokens"] > 0 and answer["input_tokens"] > 0
        assert 0 < answer["first_text_s"] <= answer["latency_s"]
    assert record["judge"] is None and record["error"] is None


async def test_a_skeleton_the_providers_filter_stopped_is_no_whole_answer_to_time_or_measure(tmp_path):
    # review 192: a skeleton filtered after two of its points was timed and measured as a whole answer (2.62x)
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    answers = model()

    def responder(request):
        reply = answers(request)
        return dataclasses.replace(reply, fault=Fault.filtered(after_tokens=9)) if is_skeleton(request) else reply
    with serve(responder) as server:
        summary = await run(server, tmp_path, judge=None)
    [record] = summary.records
    sot = record["answers"]["sot"]
    assert sot["filtered"] and sot["skeleton_truncated"] and len(sot["points"]) == 2
    assert not {"speedup", "speedup_per_token", "length_ratio"} & record["measures"].keys()


async def test_a_rerun_takes_the_measures_of_the_answers_it_keeps_again(tmp_path):
    # review 192: records kept from an earlier run kept the measures it took (an older sotkit's, taken otherwise)
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    with serve(model()) as server:
        first = await run(server, tmp_path, judge=None)
        results = tmp_path / "out" / "results.jsonl"
        [line] = results.read_text().splitlines()[-1:]
        results.write_text(json.dumps(json.loads(line) | {"measures": {"speedup": 99.0}}) + "\n")
        again = await run(server, tmp_path, judge=None)
        assert len(server.requests) == 5  # the first run's: nothing asked again
    assert again.speedup == first.speedup != 99.0


async def test_a_judge_that_fails_in_both_orders_is_recorded_as_that_error_said_once(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    # sleep: a server error in either order; walk: only where the SoT answer is shown first
    failing = Reply("", fault=Fault.status(500))
    with serve(model(judge=lambda r: failing if "fall asleep" in r.user or sot_position(r) == "A" else "[[C]]")) \
            as server:
        summary = await run(server, tmp_path, retry=1)
    errors = {r["id"]: r["judge"]["error"] for r in summary.records}
    assert re.fullmatch(r"InternalServerError: [^;]+ \(both orders\)", errors["sleep"]), errors
    assert re.fullmatch(r"InternalServerError: [^;]+", errors["walk"]) and "both orders" not in errors["walk"], errors
    assert summary.failed == ["sleep", "walk"]


async def test_a_judge_reply_it_ended_with_no_text_is_unparseable_and_kept(tmp_path):
    # probe 296: it failed the question, and every rerun asked again (at temperature 0, for the same nothing)
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    with serve(model(judge=lambda r: "" if "fall asleep" in r.user else "[[C]]")) as server:
        summary = await run(server, tmp_path, retry=1)
        asked = len(server.requests)
        again = await run(server, tmp_path)
        assert len(server.requests) == asked  # nothing asked again
    for result in (summary, again):
        general = result.verdicts["general"]["all"]
        assert (general.ties, general.unparseable, result.failed) == (1, 1, [])
    assert summary.records[0]["judge"]["verdicts"]["general"]["raw"] == ["", ""]


async def test_a_verdict_mark_inside_an_answer_is_not_read_as_the_judges(tmp_path):
    # probe 296: a judge quoting the SoT answer's "[[A]]" and deciding nothing made SoT win every question
    # (a mark in the question, too, and one nested in brackets: review 299)
    write_questions(tmp_path / "questions.jsonl", [{"id": "wiki", "question": "What does [[B]] do in a wiki?"}])
    answers = sot_responder(SKELETON, {1: "See [[[A]]].", 2: "Fine.", 3: "Good."}, sequential="See [[B]].")

    def judge(request: RecordedRequest) -> str:
        first = _ANSWER.search(request.user).group(2)
        return f"The question asks {judged_question(request)} The first answer says: {first} I cannot decide."

    with serve(lambda r: judge(r) if is_judge(r) else answers(r)) as server:
        summary = await run(server, tmp_path)
        shown = [r.user for r in server.requests if is_judge(r)]
    general = summary.verdicts["general"]["all"]
    assert (general.unparseable, general.wins, general.ties) == (1, 0, 0)  # (before: a win, the marks read as A, B)
    assert all("See [A]" in user and "[[" not in user for user in shown)  # the judge is shown them unmarked
    assert summary.records[0]["answers"]["sot"]["text"].count("[[[A]]]") == 1  # the answers themselves are kept


async def test_a_verdict_given_before_the_marks_were_unmarked_is_asked_again(tmp_path):
    # review 299: a rerun kept the verdicts a judge had given on the answers' quoted marks
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    with serve(model(judge=lambda r: "[[C]]")) as server:
        await run(server, tmp_path)
        results = tmp_path / "out" / "results.jsonl"
        setup = json.loads(results.read_text(encoding="utf-8").splitlines()[-1])["judge"]["setup"]
        asked = len(server.requests)
        await run(server, tmp_path)
        assert len(server.requests) == asked  # the same view: nothing asked again
        with mock.patch.object(sotkit.evaluation.run, "JUDGE_VIEW", 1):  # as sotkit before it unmarked them
            await run(server, tmp_path)
        assert len(server.requests) == asked + 2  # both orders asked again
    assert json.loads(results.read_text(encoding="utf-8").splitlines()[-1])["judge"]["setup"] != setup


async def test_the_report_says_how_many_ties_are_orders_that_disagreed(tmp_path):
    # probe 296: a judge that always picks the first answer gave the report of one that found every pair equal
    # on rent, a tie the judge gives; on food, a tie it gives in one order only (review 299: counted as position)
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:4])
    verdicts = {"rent": lambda r: "[[C]]", "food": lambda r: "[[C]]" if sot_position(r) == "A" else "[[A]]"}

    def judge(request):  # on diversity, it always prefers the answer shown second, in every pair; on coherence, SoT's
        if "on one aspect only, diversity:" in request.system:  # answer on sleep in both orders (a win: 3 ties)
            return "[[B]]"
        if "on one aspect only, coherence:" in request.system and "asleep" in judged_question(request):
            return f"[[{sot_position(request)}]]"
        return verdicts.get(judged_question(request).split()[-1].strip("?"), lambda r: "[[A]]")(request)
    with serve(model(judge=judge)) as server:
        summary = await run(server, tmp_path, aspects=True)
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "2 of the 4 ties are pairs where the judge preferred the answer shown first, or second, in both orders" \
        in report, report
    # each aspect's too, counted from its own verdicts (probe 313: the general verdict's alone; probe 323: a judge
    # preferring the second answer, each aspect's own count and ties, untested), in summary.json as in the report
    assert "- diversity: 4 of the 4 ties are pairs where the judge preferred" in report, report
    assert "- coherence: 1 of the 3 ties is a pair where" in report, report
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["split"] == {
        **{aspect: 2 for aspect in ["general", "immersion", "integrity", "relevance"]}, "coherence": 1, "diversity": 4}
    assert summary.split["relevance"] == 2


# -- judge-free measures ---------------------------------------------------------------------------------------

def test_measures_on_hand_made_answers():
    question = "How can I improve my time management skills?"
    points = ["To improve your time management skills, plan the day.",  # restates; shares "plan the day"
              "Write a list and plan the day before.",
              "Say no to meetings without an agenda."]
    answers = {
        "sot": {"mode": "sot", "points": points, "text": " ".join(points), "error": None,
                "latency_s": 2.0, "output_tokens": 60, "calls": 4},
        "sequential": {"mode": "sequential", "points": [], "text": " ".join(["word"] * 44), "error": None,
                       "latency_s": 8.0, "output_tokens": 120, "calls": 1},
    }
    found = measures(question, answers)
    # point 1: 7 trigrams, "plan the day" shared; point 2: 6 trigrams, "plan the day" shared; point 3: none
    assert found["redundancy"] == pytest.approx((1 / 7 + 1 / 6 + 0) / 3)
    assert found["restatement"] == pytest.approx(1 / 3)
    assert found["length_ratio"] == pytest.approx((9 + 8 + 7) / 44)  # words per point: 9, 8, 7
    assert found["speedup"] == 4.0
    assert found["speedup_per_token"] == pytest.approx((60 / 2) / (120 / 8))
    # probe 105: tokens of a call retried (or asked again) are in no text of the answer; per token is not measured
    for mode, calls in (("sot", 5), ("sequential", 2)):
        retried = {**answers, mode: answers[mode] | {"calls": calls, "output_tokens": 500}}
        assert measures(question, retried)["speedup_per_token"] is None
        assert measures(question, retried)["speedup"] == 4.0
    retried = {**answers, "sot": answers["sot"] | {"retries": 1}}  # a row of a batch asked again on its own
    assert measures(question, retried)["speedup_per_token"] is None
    # probe 191: an answer the provider's filter stopped (after 5 tokens) is no whole answer to compare
    for mode in MODES:
        stopped = measures(question, {**answers, mode: answers[mode] | {"filtered": True}})
        assert not {"speedup", "speedup_per_token", "length_ratio"} & stopped.keys()
    # review 194: nor is one kept from before `filtered` was, whose skeleton's note says so
    note = "mode='sot' was requested; the skeleton was cut off by the provider's filter ('content_filter') after 2"
    assert "speedup" not in measures(question, {**answers, "sot": answers["sot"] | {"route_reason": note}})
    # an in-process model writes every point in one batched call (review 106: it was never measured), and a row
    # it asks again is a third call (review 108), as many as a 2-point answer of an API model makes
    batched = {**answers, "sot": answers["sot"] | {"calls": 2, "batched": True}}
    assert measures(question, batched)["speedup_per_token"] == pytest.approx((60 / 2) / (120 / 8))
    asked_again = {**answers, "sot": batched["sot"] | {"calls": 3, "points": points[:2]}}
    assert measures(question, asked_again)["speedup_per_token"] is None
    # (a local engine that does not batch, FocusLLM's, makes a call per point: review 110)
    # a SoT request that fell back to a sequential answer has no points to measure
    answers["sot"]["mode"] = "sequential"
    assert measures(question, answers)["redundancy"] is None
    # an answer kept from a run of another model (or set-up) is not compared with this one's
    answers["sequential"]["model"] = "openai:other"
    assert "speedup" not in measures(question, answers)


# -- resuming ----------------------------------------------------------------------------------------------------

def read_results(path: Path) -> list[dict[str, object]]:
    """Every line of a results file, in order (lines end at "\n" only: an answer may hold U+2028)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def comparable(path: Path) -> dict[str, object]:
    """The last record of each id without its timings (the calls' times among them) and set-up fingerprints (the
    two runs reach the server one through options, one through the environment): what must not depend on
    interruptions."""
    records = {}
    for record in read_results(path):
        records[record["id"]] = {
            "answers": {m: {k: sorted(call[:6] for call in v) if k == "priced_calls" else v  # points race
                            for k, v in a.items() if k not in ("latency_s", "first_text_s", "setup")}
                        for m, a in record["answers"].items()},
            "judge": record["judge"] and {k: v for k, v in record["judge"].items() if k != "setup"},
            "error": record["error"],
            "measures": {k: v for k, v in record["measures"].items() if not k.startswith("speedup")},
        }
    return records


async def test_a_second_run_makes_no_model_call_for_finished_questions(tmp_path):
    write_questions(tmp_path / "questions.jsonl")
    with serve(model(judge=prefers_sot_for("health"))) as server:
        first = await run(server, tmp_path)
        assert len(server.requests) == 5 * (4 + 1 + 2)  # skeleton + 3 points, sequential, judge twice
        server.reset()
        second = await run(server, tmp_path)
        assert server.requests == []
    assert second.records == first.records
    # each question three times: as each answer is in, then with the verdicts; the second run adds none
    assert [(r["id"], sorted(r["answers"]), r["judge"] is not None)
            for r in read_results(tmp_path / "out" / "results.jsonl")] == \
        [(q["id"], modes, judged) for q in QUESTIONS
         for modes, judged in ((["sot"], False), (["sequential", "sot"], False), (["sequential", "sot"], True))]


async def test_a_new_judge_reuses_the_answers_and_asks_only_the_judge(tmp_path):
    write_questions(tmp_path / "questions.jsonl")
    with serve(model(judge=prefers_sot_for("health"))) as server:
        await run(server, tmp_path, judge=None)
        server.reset()
        summary = await run(server, tmp_path, judge="openai:other-judge")
        assert len(server.requests) == 10 and all(is_judge(r) and r.model == "other-judge" for r in server.requests)
    assert summary.verdicts["general"]["health"].net_win_rate == 1.0


async def test_a_failed_question_is_recorded_with_its_error_and_retried_next_run(tmp_path):
    write_questions(tmp_path / "questions.jsonl")
    healthy = model(judge=prefers_sot_for("health"))
    broken = {"enabled": True}

    def responder(request):  # sequential answers to the rent question fail with a 400 (never retried)
        if broken["enabled"] and "pay less rent" in request.user and not is_judge(request) \
                and not is_skeleton(request) and "point" not in request.user:
            return Reply("", fault=Fault.status(400))
        return healthy(request)
    with serve(responder) as server:
        summary = await run(server, tmp_path)
        assert summary.failed == ["rent"]
        rent = next(r for r in summary.records if r["id"] == "rent")
        assert rent["answers"]["sequential"]["error"].startswith("BadRequestError")
        assert rent["answers"]["sot"]["error"] is None and rent["judge"] is None
        assert "rent" in (tmp_path / "out" / "report.md").read_text()
        broken["enabled"] = False
        server.reset()
        summary = await run(server, tmp_path)
        # only the failed part is asked again: its SoT answer was kept; then the judge, twice
        asked = server.requests
        assert all("pay less rent" in r.user for r in asked)
        assert [is_judge(r) for r in asked] == [False, True, True]
    assert summary.failed == []
    assert comparable(tmp_path / "out" / "results.jsonl")["rent"]["error"] is None


async def test_a_run_cancelled_midway_then_rerun_gives_the_results_of_an_uninterrupted_run(tmp_path):
    write_questions(tmp_path / "questions.jsonl")
    results = tmp_path / "cut" / "results.jsonl"
    slow = Latency(ttft_s=0.0, tokens_per_s=400)
    with FakeLLMServer(model(judge=prefers_sot_for("money")), latency=slow) as server:
        await run(server, tmp_path, out="whole")
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: run(server, tmp_path, out="cut"))
                while not results.exists() or len(results.read_text().splitlines()) < 2:
                    await anyio.sleep(0.005)
                scope.cancel()
        kept = read_results(results)
        assert 2 <= len(kept) < 3 * len(QUESTIONS)
        done = {(r["id"], mode) for r in kept for mode, a in r["answers"].items() if a["error"] is None} | \
            {(r["id"], "judge") for r in kept if r["judge"]}
        server.reset()
        await run(server, tmp_path, out="cut")
        # nothing already finished was asked again: no answer in a mode answered, no verdict on a judged question
        ids = {q["question"]: q["id"] for q in QUESTIONS}
        asked = {(next(i for text, i in ids.items() if text in r.user),
                  "judge" if is_judge(r) else "sot" if is_skeleton(r) or point_of(r) else "sequential")
                 for r in server.requests}
        assert not asked & done
    assert comparable(results) == comparable(tmp_path / "whole" / "results.jsonl")


def test_sotkit_eval_interrupted_by_ctrl_c_keeps_what_it_finished_and_continues(tmp_path):
    questions = write_questions(tmp_path / "questions.jsonl")
    env = {**os.environ, "OPENAI_API_KEY": "k"}
    command = [sys.executable, "-m", "sotkit.cli", "eval", str(questions), "--model", "openai:m",
               "--judge", "openai:judge", "--no-plots"]
    results = tmp_path / "cut" / "results.jsonl"
    with FakeLLMServer(model(judge=prefers_sot_for("home")), latency=Latency(ttft_s=0.0, tokens_per_s=300)) as server:
        env["OPENAI_BASE_URL"] = server.openai_base_url
        anyio.run(lambda: run(server, tmp_path, out="whole"))
        # SIGINT at its default, as in a terminal: a suite started in the background (`.ci/run ... &`) passes
        # on an ignored SIGINT, and the CLI must not override a user's choice to ignore it
        process = subprocess.Popen([*command, "--out", str(tmp_path / "cut")], env=env, stderr=subprocess.PIPE,
                                   text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 60
        while not (results.exists() and len(results.read_text().splitlines()) >= 2) and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, stderr
        assert "rerun the same command to continue" in stderr
        assert 2 <= len(read_results(results)) < 3 * len(QUESTIONS)  # each question's answers, then its verdicts
        again = subprocess.run([*command, "--out", str(tmp_path / "cut")], env=env, capture_output=True, text=True,
                               timeout=120)
        assert again.returncode == 0, again.stderr
    assert comparable(results) == comparable(tmp_path / "whole" / "results.jsonl")
    assert "net win rate -0.60" in again.stderr  # home: 1 win, the 4 others losses


async def test_answers_are_on_disk_before_the_judge_runs_and_a_rerun_asks_only_the_judge(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    results = tmp_path / "out" / "results.jsonl"
    judge = {"now": lambda r: Reply("[[C]]", latency=Latency(ttft_s=3.0))}  # thinks long; later, a quick one
    answers = model()
    with serve(lambda r: judge["now"](r) if is_judge(r) else answers(r)) as server:
        async with anyio.create_task_group() as tg:  # stopped while the judge works, as by Ctrl-C or kill
            tg.start_soon(lambda: run(server, tmp_path))
            with anyio.fail_after(10):
                while sum(is_judge(r) for r in server.requests) < 2:  # both orders asked: none arrives later
                    await anyio.sleep(0.005)
            tg.cancel_scope.cancel()
        *_, kept = read_results(results)
        assert kept["judge"] is None and kept["answers"]["sequential"]["text"] == SEQUENTIAL
        judge["now"] = prefers_sot_for("health")
        server.reset()
        summary = await run(server, tmp_path)
        assert len(server.requests) == 2 and all(is_judge(r) for r in server.requests)
    assert summary.net_win_rate == 1.0  # the report reads the latest record: the one with the verdicts
    assert [r["judge"] is not None for r in read_results(results)] == [False, False, True]



async def test_a_run_stopped_during_the_sequential_call_keeps_the_finished_sot_answer(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    results = tmp_path / "out" / "results.jsonl"
    answers = model()
    slow = {"on": True}  # the sequential answer takes long; later, a quick one

    def responder(request):
        sequential = not is_judge(request) and not is_skeleton(request) and point_of(request) is None
        if sequential and slow["on"]:
            return Reply(SEQUENTIAL, latency=Latency(ttft_s=3.0))
        return answers(request)
    with serve(responder) as server:
        async with anyio.create_task_group() as tg:  # stopped in the sequential call, as by Ctrl-C or kill
            tg.start_soon(lambda: run(server, tmp_path, judge=None))
            with anyio.fail_after(10):
                while not any(point_of(r) is None and not is_skeleton(r) for r in server.requests):
                    await anyio.sleep(0.005)
            await anyio.sleep(1.0)  # its response begun (the headers read: its prompt is paid for), 2 s before its text
            tg.cancel_scope.cancel()
        finished, kept = read_results(results)
        assert list(finished["answers"]) == ["sot"] and finished["answers"]["sot"]["error"] is None
        # probe 261: the call the stop cut short was paid for, and its cost was lost; it is kept as a failed answer's
        stopped = kept["answers"]["sequential"]
        assert stopped["error"] == "stopped before it finished (the run was interrupted)" and stopped["calls"] == 1
        assert kept["answers"]["sot"] == finished["answers"]["sot"]
        slow["on"] = False
        server.reset()
        summary = await run(server, tmp_path, judge=None)
        [asked] = server.requests  # only the sequential answer: the SoT one was finished
        assert not is_skeleton(asked) and point_of(asked) is None
    [record] = summary.records
    assert summary.failed == [] and record["answers"]["sot"] == finished["answers"]["sot"]
    assert record["answers"]["sequential"]["failed_before"] == [{name: stopped[name] for name in SPENT}]
    cost = summary.cost["sequential"]
    assert (cost.answers, cost.failed) == (1, 1) and cost.estimated  # (the stopped call had no counts from the server)


async def test_a_run_stopped_while_the_judge_answers_keeps_the_order_it_answered(tmp_path):
    # probe 313: the judge's reply in one order, come before the stop, was lost, and the rerun paid for both orders
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    results = tmp_path / "out" / "results.jsonl"
    slow = {"on": True}  # the judge's reply with SoT shown as B takes long; later, a quick one

    def judge(request):
        if sot_position(request) == "B" and slow["on"]:
            return Reply("SoT's is better. [[B]]", latency=Latency(ttft_s=30.0))
        return "SoT's is better. [[A]]" if sot_position(request) == "A" else "SoT's is better. [[B]]"
    with serve(model(judge)) as server:
        async with anyio.create_task_group() as tg:  # stopped while the judge answers, as by Ctrl-C or kill
            tg.start_soon(lambda: run(server, tmp_path))
            with anyio.fail_after(10):
                while sum(is_judge(r) for r in server.requests) < 2:
                    await anyio.sleep(0.005)
            await anyio.sleep(1.0)  # the quick order's reply read
            tg.cancel_scope.cancel()
        kept = read_results(results)[-1]["judge"]["verdicts"]["general"]
        assert kept["verdicts"] == ["A", None] and kept["outcome"] is None
        from sotkit.evaluation.cli import _kept  # (review 315: half a verdict was said to be kept whole)
        assert "2 finished answer(s) and the verdicts on 0 question(s) are kept" in _kept(results, judged=True)
        slow["on"] = False
        server.reset()
        summary = await run(server, tmp_path)
        [asked] = server.requests  # only the order that had not answered
        assert is_judge(asked) and sot_position(asked) == "B"
    assert summary.records[0]["judge"]["verdicts"]["general"]["outcome"] == "win"

async def test_a_base_url_with_a_slash_at_its_end_is_the_same_server_and_answers_asked_again_are_said_so(
        tmp_path, capsys):
    # probe 313: a trailing slash on the base URL (one .env's way, CI's another) asked and paid for everything again,
    # and nothing said why
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    with serve(model()) as server:
        await run(server, tmp_path)
        server.reset()
        await sotkit.evaluate(model="openai:m", out=tmp_path / "out", base_url=server.openai_base_url + "/",
                              api_key="k", judge="openai:judge", plots=False, questions=tmp_path / "questions.jsonl",
                              judge_options={"base_url": server.openai_base_url + "/", "api_key": "k"}, progress=True)
        assert server.requests == []
        assert "answered again" not in capsys.readouterr().err
        await run(server, tmp_path, judge="openai:another-judge", progress=True)  # (review 315: no word of it)
        assert all(is_judge(r) for r in server.requests)
        err = capsys.readouterr().err.replace("\n", " ")
        assert "2 question(s) in" in err and "were judged by another judge, judge template or option: they are " \
            "judged again" in err and "answered again" not in err
        await run(server, tmp_path, judge=None, temperature=0.3, progress=True)  # what shapes the answers changed
    assert "2 question(s) in" in capsys.readouterr().err.replace("\n", " ")

async def test_a_failed_answer_shows_no_latency_in_the_per_question_table(tmp_path):
    # probe 313: a SoT answer whose point failed showed its partial latency (2.22 s) beside the sequential one
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    answers = model()

    def point_fails(request):
        return Reply("", fault=Fault.status(400)) if point_of(request) == 2 else answers(request)
    with serve(point_fails) as server:
        summary = await run(server, tmp_path, judge=None)
    assert summary.records[0]["answers"]["sot"]["latency_s"] is not None  # (kept in results.jsonl, as it was)
    row = next(line for line in (tmp_path / "out" / "report.md").read_text().splitlines() if line.startswith("| sleep"))
    assert row.startswith("| sleep | health | – | – | ") and "| sot: PartialResultError" in row, row

async def test_a_run_stopped_before_a_call_was_sent_counts_no_failed_attempt(tmp_path):
    # review 263: a call the stop ended while it waited for its slot (nothing sent, nothing spent) was saved as a
    # failed attempt, which the rerun's report counted; the call in flight was paid for, and is saved so
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    results = tmp_path / "out" / "results.jsonl"
    answers = model()
    with serve(lambda request: dataclasses.replace(answers(request), latency=Latency(ttft_s=3.0))) as server:
        async with anyio.create_task_group() as tg:  # one slot: one question's skeleton call, the other's waits
            tg.start_soon(lambda: run(server, tmp_path, judge=None, concurrency=2, max_concurrency=1))
            with anyio.fail_after(10):
                while not server.requests:
                    await anyio.sleep(0.005)
            await anyio.sleep(1.0)  # its response begun (the headers read: its prompt is paid for), 2 s before its text
            tg.cancel_scope.cancel()
        [sent] = server.requests
    [kept] = read_results(results)  # the question whose call was sent; not the other's
    assert kept["question"] in sent.user and kept["answers"]["sot"]["error"].startswith("stopped before it finished")


def test_ctrl_c_says_what_is_on_disk(tmp_path, capsys, monkeypatch):
    import sotkit.evaluation.run as evaluation_run
    from sotkit.cli import main

    async def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(evaluation_run, "evaluate", interrupted)
    questions = write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    command = ["eval", str(questions), "--model", "openai:m", "--no-plots", "--out", str(tmp_path / "out")]
    assert main(command) == 130  # before any answer was saved
    err = capsys.readouterr().err
    assert "nothing was saved: rerun the same command to start again" in err and "results.jsonl" not in err
    (tmp_path / "out").mkdir()
    ok, failed = {"error": None, "text": "Fine."}, {"error": "StreamError: dropped"}
    records = [{"id": "a", "answers": {"sot": ok}, "judge": None},  # replaced by its next line
               {"id": "a", "answers": {"sot": ok, "sequential": ok},
                "judge": {"error": None, "verdicts": {"general": {"outcome": "win"}}}},
               {"id": "b", "answers": {"sot": ok, "sequential": failed}, "judge": None}]
    (tmp_path / "out" / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"id": "c", "an')
    assert main(command) == 130
    assert f"interrupted; 3 finished answer(s) are kept in {tmp_path / 'out' / 'results.jsonl'}: rerun the same " \
           "command to continue (only what is missing is asked)" in capsys.readouterr().err
    assert main([*command, "--judge", "openai:j"]) == 130
    assert "3 finished answer(s) and the verdicts on 1 question(s) are kept in" in capsys.readouterr().err


# -- report, plots, progress, errors ------------------------------------------------------------------------------

def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


async def test_the_report_and_its_plots_are_written(tmp_path):
    write_questions(tmp_path / "questions.jsonl")
    with serve(model(judge=prefers_sot_for("health"))) as server:
        summary = await run(server, tmp_path, plots=True)
    out = tmp_path / "out"
    report = (out / "report.md").read_text()
    for name in ("net_win_rate.png", "speedup.png", "speedup_vs_quality.png"):
        width, height = png_size(out / name)
        assert width >= 400 and height >= 200 and (out / name).stat().st_size > 5000
        assert f"![{name}]({name})" in report
    assert "## Speed and shape (judge-free)" in report and "| health | 2 |" in report
    assert f"| all | 5 | {summary.speedup:.2f}x |" in report


def test_a_bars_label_says_what_its_rate_stands_on_and_leaves_out():
    # probe 261: the failed were not said, and a category whose every judge call failed read "no readable verdicts"
    assert bar_label(Tally(wins=3, losses=1, unparseable=1, failed=2)) == "+0.50, n=4, 1 unparseable, 2 failed"
    assert bar_label(Tally(failed=3, fell_back=1)) == "nothing judged, 3 failed, 1 fell back"


async def test_without_a_judge_there_are_no_verdict_plots(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    with serve(model()) as server:
        summary = await run(server, tmp_path, judge=None, plots=True)
    assert summary.verdicts == {} and summary.net_win_rate is None
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["speedup.png"]


async def test_missing_matplotlib_is_reported_before_any_model_call(tmp_path, monkeypatch):
    write_questions(tmp_path / "questions.jsonl")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with serve(model()) as server:
        with pytest.raises(sotkit.ConfigError, match=re.escape("pip install 'sotkit[eval]'")):
            await run(server, tmp_path, plots=True)
        assert server.requests == []


@pytest.mark.parametrize("options, message", [
    ({"modes": ["sot"]}, "judging compares SoT with sequential answers"),
    ({"modes": "sot,fast", "judge": None}, "choose one or both of sot, sequential"),
    ({"aspects": True, "judge": None}, "aspects=True needs a judge"),
    ({"aspects": "yes", "judge": None}, "aspects='yes': must be True or False"),  # (probe 260: "needs a judge")
    ({"concurrency": 0}, "concurrency=0: must be a whole number >= 1"),
    ({"concurrency": True}, "concurrency=True: must be a whole number >= 1"),
    ({"limit": True}, "limit=True: must be a whole number >= 1 or None"),
    ({"judge_max_tokens": 0}, "judge_max_tokens=0: must be a whole number >= 1"),
    # probe 72: taken, and nothing read them (a budget with no judge), or read as true ("no"), or a TypeError
    ({"judge_max_tokens": 600, "judge": None}, "judge_max_tokens= needs a judge= model"),
    ({"judge_options": {"api_key": "k"}, "judge": None}, "judge_options= needs a judge= model"),  # probe 198
    ({"plots": "no"}, "plots='no': must be True or False"),
    ({"aspects": 1}, "aspects=1: must be True or False"),
    ({"judge_options": 5}, "judge_options=5: must be a dict of the judge's options"),
    ({"questions": []}, "questions=[]: there is nothing to answer"),  # an empty report, as if all went well
    ({"fallback": "openai:cheap"}, "fallback= is not taken by sotkit eval"),
    ({"judge_options": {"fallback": "openai:cheap"}}, "judge_options={'fallback': ...} is not taken by sotkit eval"),
    ({"judge_options": {"max_tokens": 2000}}, "judge_options={'max_tokens': ...} is not taken"),
    ({"mode": "auto"}, "mode= is not taken by sotkit eval: every question is answered in each of modes="),
    ({"judge_options": {"mode": "sot"}}, "judge_options={'mode': ...} is not taken by sotkit eval"),
    # probe 191: a point left out ("skip") was judged as a whole answer, its record without an error
    ({"on_point_error": "skip"}, "on_point_error= is not taken by sotkit eval: an answer with a point left out"),
])
async def test_bad_settings_are_refused_before_any_call(tmp_path, options, message):
    write_questions(tmp_path / "questions.jsonl")
    with serve(model()) as server:
        with pytest.raises(sotkit.ConfigError, match=re.escape(message)):
            await run(server, tmp_path, **options)
        assert server.requests == []


@pytest.mark.parametrize("out", ["", " "])
async def test_an_empty_out_is_refused_not_read_as_the_current_directory(tmp_path, monkeypatch, out):
    # evaluate(out="") (a variable left unset) wrote results.jsonl and report.md where the process ran, over its own
    monkeypatch.chdir(tmp_path)
    (tmp_path / "report.md").write_text("mine")
    with pytest.raises(sotkit.ConfigError, match=re.escape(f"out={out!r}: pass a directory for results.jsonl")):
        await sotkit.evaluate(["How can I sleep better?"], model="openai:m", api_key="k", out=out, plots=False)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.md"]
    assert (tmp_path / "report.md").read_text() == "mine"


async def test_out_may_be_any_path_like(tmp_path):
    class Directory(os.PathLike):  # py.path's LocalPath (pytest's tmpdir), say: refused by the empty-out check
        def __fspath__(self) -> str:
            return str(tmp_path / "o")

    write_questions(tmp_path / "questions.jsonl")
    with serve(model()) as server:
        await sotkit.evaluate(tmp_path / "questions.jsonl", model="openai:m", out=Directory(), plots=False,
                              base_url=server.openai_base_url, api_key="k")
    assert (tmp_path / "o" / "report.md").exists()


async def test_a_judge_whose_budget_the_tpm_cannot_fit_is_refused_before_any_answer(tmp_path):
    # the judge is the answering model (one client): its calls' 512 tokens over a tpm the answers fit were found
    # only after the answers were paid for
    write_questions(tmp_path / "questions.jsonl")
    with serve(model()) as server:
        with pytest.raises(sotkit.ConfigError, match=re.escape("tpm=450 is less than a call's max_tokens (up to 512")):
            await sotkit.evaluate(tmp_path / "questions.jsonl", model="openai:m", judge="openai:m", out=tmp_path / "o",
                                  plots=False, base_url=server.openai_base_url, api_key="k", tpm=450, max_tokens=300,
                                  skeleton_max_tokens=100, point_max_tokens=100)
        assert server.requests == []


def test_a_judge_without_a_key_is_told_in_the_commands_words(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    with serve(model()) as server:
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--judge", "anthropic:j")
    assert status == 2 and err.rstrip().endswith(  # review 156: it said "pass api_key=", "judge_options="
        "the judge's client (anthropic:j): no Anthropic API key: set ANTHROPIC_API_KEY (for an Anthropic-compatible "
        "server, set ANTHROPIC_BASE_URL) (the judge reads its key and base URL from the environment)"), err
    with serve(model()) as server:  # review 158: "pass base_url=...", which sotkit eval has not
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m",
                                   env={"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""})
    assert status == 2 and err.rstrip().endswith(
        "no OpenAI API key: set OPENAI_API_KEY (for an OpenAI-compatible server, set OPENAI_BASE_URL)"), err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where no directory can be made")
def test_an_out_directory_that_cannot_be_made_is_a_usage_error(tmp_path, capsys):
    # probe 153: a FileNotFoundError's one line and exit 1
    with serve(model()) as server:
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--out", "/proc/sotkit/x")
    assert status == 2 and "the out directory '/proc/sotkit/x' cannot be made (No such file or directory)" in err
    assert server.requests == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where no file can be made")
def test_an_out_directory_or_results_file_that_cannot_be_written_is_a_usage_error_before_any_call(tmp_path, capsys):
    # probe 261: a raw PermissionError on its .lock; a results.jsonl that took no record was found after the first
    # answer had been paid for, and said as "ExceptionGroup: unhandled errors in a TaskGroup"
    (tmp_path / "out" / "results.jsonl").mkdir(parents=True)  # (no mode bits keep root out; a directory does)
    with serve(model()) as server:
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--out", "/proc/self")
        assert status == 2 and "the out directory '/proc/self' cannot be written (" in err, err
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--out", str(tmp_path / "out"))
        assert status == 2 and f"{tmp_path / 'out' / 'results.jsonl'} cannot be written (Is a directory)" in err, err
        # review 263: a link to nowhere, and on Windows (no fcntl) a directory it cannot write to, were found mid-run
        (tmp_path / "linked").mkdir()
        (tmp_path / "linked" / "results.jsonl").symlink_to(tmp_path / "nowhere" / "results.jsonl")
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--out", str(tmp_path / "linked"))
        assert status == 2 and "results.jsonl cannot be written (No such file or directory)" in err, err
        with pytest.MonkeyPatch.context() as windows:
            windows.setitem(sys.modules, "fcntl", None)
            status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--out", "/proc/self")
            assert status == 2 and "the out directory '/proc/self' cannot be written (" in err, err
    assert server.requests == []


async def test_a_judge_without_a_key_of_its_own_says_where_its_options_go(tmp_path, monkeypatch):
    # probe 152: "no OpenAI API key: ... pass api_key=...", with api_key= passed (it is the answering model's)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    write_questions(tmp_path / "questions.jsonl")
    with serve(model()) as server:
        with pytest.raises(sotkit.ConfigError, match=r"^the judge's client \(openai:judge\): no OpenAI API key.*"
                                                     r"\(the judge's options go in judge_options=; those beside "
                                                     r"model= are the answering model's\)$"):
            await sotkit.evaluate(tmp_path / "questions.jsonl", model="openai:m", judge="openai:judge",
                                  out=tmp_path / "o", plots=False, base_url=server.openai_base_url, api_key="k")
        assert server.requests == []


def test_progress_prints_plain_lines_with_eta_speedup_and_win_rate_when_not_a_terminal():
    import io

    stream = io.StringIO()
    record = {"error": None, "measures": {"speedup": 2.0},
              "judge": {"verdicts": {"general": {"outcome": "win"}}}}
    meter = Progress(3, stream=stream, every_s=3600)
    meter.update(record)  # within every_s of the first line: not shown
    meter.update(dict(record, measures={"speedup": 3.0}, judge={"verdicts": {"general": {"outcome": "loss"}}}))
    meter.update(dict(record, error="sot: boom"))  # the last one is always shown
    lines = stream.getvalue().splitlines()
    assert lines == ["[sotkit eval] 0/3 questions",
                     "[sotkit eval] 3/3 questions · 1 failed · speed-up 2.00x (median) · net win rate +0.33 "
                     "(3 judged)"]
    assert "\r" not in stream.getvalue()


def test_progress_that_cannot_be_written_ends_quietly_and_the_run_goes_on(monkeypatch):
    # probe 242: with stderr closed (2>&-) eval failed at once on None.isatty(), its message on stdout; with its
    # reader gone (2>&1 | head -1) it answered every question, then failed before writing its report
    import io

    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    record = {"error": None, "measures": {}, "judge": None}
    meter = Progress(2, stream=Gone())
    meter.update(record)
    meter.update(record)
    meter.close()
    assert meter.stream is None
    # a pipe whose reader left: the progress ends, and its file stays as it is (review 245: it was sent to /dev/null,
    # the process's stderr with it, for a library's caller)
    import stat

    read, write = os.pipe()
    os.close(read)
    with open(write, "w") as gone:
        meter = Progress(2, stream=gone)
        meter.update(record)
        assert meter.stream is None and stat.S_ISFIFO(os.fstat(write).st_mode)
        with contextlib.suppress(BrokenPipeError):
            gone.close()
    monkeypatch.setattr(sys, "stderr", None)
    meter = Progress(2)
    meter.update(record)
    meter.close()


@pytest.mark.parametrize("ctrl_c", [signal.SIG_DFL, signal.SIG_IGN])
def test_sotkit_eval_stopped_by_sigterm_keeps_what_it_finished_as_on_ctrl_c(tmp_path, ctrl_c):
    # probe 242: docker stop or timeout killed it with no word of what was kept; with Ctrl-C ignored (a background
    # job, as a suite run with `&` starts it) it left a traceback, or a worker thread held its exit a minute
    questions = write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    results = tmp_path / "cut" / "results.jsonl"
    answers = model(judge=None)

    def the_second_waits(request: RecordedRequest) -> Reply:  # so the run is under way when the signal comes
        reply = answers(request)
        reply = reply if isinstance(reply, Reply) else Reply(reply)
        return dataclasses.replace(reply, latency=Latency(ttft_s=60 if QUESTIONS[1]["question"] in request.user
                                                         else 0))

    with FakeLLMServer(the_second_waits) as server:
        env = {**os.environ, "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.openai_base_url}
        process = subprocess.Popen([sys.executable, "-m", "sotkit.cli", "eval", str(questions), "--model", "openai:m",
                                    "--no-plots", "--out", str(tmp_path / "cut"), "--json"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, ctrl_c))
        deadline = time.monotonic() + 60
        while not (results.exists() and results.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "interrupted" in stderr and "rerun the same command to continue" in stderr and "Traceback" not in stderr
    assert json.loads(stdout) == {"error": "terminated", "type": "SIGTERM"}  # --json: one object, as for a failure


def test_the_command_says_why_questions_failed(tmp_path):
    # probe 242: only "2 question(s) failed (...); rerun the same command": a wrong answer is no rerun's to mend
    questions = write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    with FakeLLMServer(Reply("", fault=Fault.status(400))) as server:  # (not retried: a quick test)
        done = subprocess.run([sys.executable, "-m", "sotkit.cli", "eval", str(questions), "--model", "openai:m",
                               "--no-plots", "--out", str(tmp_path / "out")], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "OPENAI_API_KEY": "k",
                                                "OPENAI_BASE_URL": server.openai_base_url})
    assert done.returncode == 1
    assert "2 question(s) failed (sleep, walk), the first with sot: BadRequestError" in done.stderr, done.stderr


def test_a_key_refused_stops_the_run_at_the_first_call_and_says_what_to_do(tmp_path):
    # probe 313: every question went through its calls (with no server, 5 s of retries each), then "rerun the same
    # command to retry them", which mends no wrong key
    questions = write_questions(tmp_path / "questions.jsonl", QUESTIONS[:3])
    with FakeLLMServer("Hi.", api_key="the-right-key") as server:
        done = subprocess.run([sys.executable, "-m", "sotkit.cli", "eval", str(questions), "--model", "openai:m",
                               "--no-plots", "--out", str(tmp_path / "out")], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "OPENAI_API_KEY": "a-wrong-key",
                                                "OPENAI_BASE_URL": server.openai_base_url})
        assert len(server.requests) == 1
    assert done.returncode == 1 and "a-wrong-key" not in done.stderr
    assert "sotkit eval: error: AuthenticationError" in done.stderr
    assert "the run stopped: check the API key (OPENAI_API_KEY, ANTHROPIC_API_KEY)" in done.stderr


async def test_a_403_for_one_question_is_that_questions_failure_not_the_runs(tmp_path):
    # review 315: OpenRouter's moderation answers a flagged input 403; taken for a refused key, it stopped every run
    # at that question, and no run ever finished
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:3])
    answers = model()
    flagged = {"error": {"code": 403, "message": "Your chosen model requires moderation and your input was flagged"}}

    def moderated(request):
        return Reply("", fault=Fault.status(403, body=flagged)) if "walk more" in request.user else answers(request)
    with serve(moderated) as server:
        summary = await run(server, tmp_path, judge=None)
    assert summary.failed == ["walk"] and len(summary.records) == 3
    assert "PermissionDeniedError" in summary.records[1]["error"]

async def test_an_answer_another_questions_error_cut_short_says_so_not_interrupted(tmp_path):
    # probe 313: with questions answered side by side, those in flight when a refused key stopped the run were kept
    # as "stopped before it finished (the run was interrupted)", as by Ctrl-C
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])

    async def responder(request):
        if "walk more" not in request.user:
            return Reply(SEQUENTIAL, latency=Latency(ttft_s=0.0, tokens_per_s=2))  # in flight at the stop
        while not any("fall asleep" in r.user for r in server.requests):  # (its response begun: its prompt paid)
            await anyio.sleep(0.01)
        await anyio.sleep(0.5)
        return Reply("", fault=Fault.status(401))
    with serve(responder) as server:
        with pytest.raises(openai.AuthenticationError):
            await run(server, tmp_path, judge=None, concurrency=2)
    [kept] = read_results(tmp_path / "out" / "results.jsonl")
    assert kept["id"] == "sleep"
    assert kept["answers"]["sot"]["error"].startswith(
        "stopped before it finished (another question's error stopped the run: AuthenticationError: "), kept


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/v1", "http://no-such-host.invalid/v1"])
async def test_no_server_at_the_url_stops_the_run_after_the_first_questions_retries(tmp_path, url):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:3])
    with pytest.raises(openai.APIConnectionError):
        await sotkit.evaluate(model="openai:m", out=tmp_path / "out", base_url=url, api_key="k", plots=False,
                              questions=tmp_path / "questions.jsonl",
                              retry=sotkit.RetryPolicy(attempts=2, initial_wait_s=0.01))
    results = tmp_path / "out" / "results.jsonl"
    assert not results.exists() or read_results(results) == []  # no question recorded as failed, N times over


def test_the_command_says_a_bad_option_in_its_own_words(tmp_path):
    questions = write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    done = subprocess.run([sys.executable, "-m", "sotkit.cli", "eval", str(questions), "--model", "openai:m",
                           "--max-points", "500", "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "OPENAI_API_KEY": "k"})
    assert done.returncode == 2
    # (probe 242: "max_points=500 ... sequentially (mode='sequential')", an option eval does not have)
    assert "error: --max-points 500: at most 100;" in done.stderr and "mode=" not in done.stderr
    # probe 305: "templates='nope' is not a directory; ... or a mapping of template names to sources"
    done = subprocess.run([sys.executable, "-m", "sotkit.cli", "eval", str(questions), "--model", "openai:m",
                           "--templates", str(tmp_path / "nope"), "--out", str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "OPENAI_API_KEY": "k"})
    assert done.returncode == 2 and done.stderr.endswith(
        f"error: --templates {str(tmp_path / 'nope')!r} is not a directory; pass a directory of <name>.jinja files\n")


def test_the_command_exits_2_on_a_bad_questions_file(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "Why?"}\n{"questoin": "How?"}\n')
    done = subprocess.run([sys.executable, "-m", "sotkit.cli", "eval", str(path), "--model", "openai:m"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "OPENAI_API_KEY": "k"})
    assert done.returncode == 2
    assert "line 2: unknown field(s) 'questoin'" in done.stderr
    assert not (tmp_path / "eval-q").exists() and not Path("eval-q").exists()


async def test_a_second_run_on_the_same_directory_at_once_is_refused(tmp_path):
    import fcntl

    write_questions(tmp_path / "questions.jsonl")
    (tmp_path / "out").mkdir()
    with open(tmp_path / "out" / ".lock", "w") as held, serve(model()) as server:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running sotkit eval holds it
        with pytest.raises(sotkit.ConfigError, match="another sotkit eval is running on"):
            await run(server, tmp_path)
        assert server.requests == []


async def test_a_results_file_cut_mid_line_is_repaired_and_the_cut_question_answered_again(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    results = tmp_path / "out" / "results.jsonl"
    with serve(model(judge=prefers_sot_for("health"))) as server:
        await run(server, tmp_path)
        whole = comparable(results)
        lines = results.read_text().splitlines(keepends=True)  # sleep's SoT answer, both, its verdicts, walk's ...
        results.write_text("".join(lines[:3]) + lines[3][: len(lines[3]) // 2])  # killed while writing walk's SoT
        server.reset()
        await run(server, tmp_path)
        assert {q for r in server.requests for q in ("fall asleep", "walk more") if q in r.user} == {"walk more"}
    assert comparable(results) == whole
    assert all(json.loads(line) for line in results.read_text().splitlines())


async def test_answers_holding_unicode_line_separators_are_read_back_by_a_rerun(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    answers = sot_responder(SKELETON, {1: "Go to bed\u2028early.", 2: "Keep it\x85 dark.", 3: "No\u2029coffee."},
                            sequential="Sleep well.\u2028Really\x85 well.")
    with serve(lambda r: "Both are fine. [[C]]" if is_judge(r) else answers(r)) as server:
        first = await run(server, tmp_path)
        calls = len(server.requests)
        second = await run(server, tmp_path)
        assert len(server.requests) == calls  # every record read back whole: nothing asked again
    assert second.records == first.records
    assert first.records[0]["answers"]["sequential"]["text"] == "Sleep well.\u2028Really\x85 well."


async def test_ids_and_categories_with_pipes_or_line_breaks_stay_in_their_table_cells(tmp_path):
    write_questions(tmp_path / "questions.jsonl", [
        {"id": "a|b", "category": "x|y", "question": QUESTIONS[0]["question"]},
        {"id": "line\nbreak", "category": "two\r\nlines", "question": QUESTIONS[1]["question"]}])
    with serve(model()) as server:
        await run(server, tmp_path)
    report = (tmp_path / "out" / "report.md").read_text()
    for table in re.findall(r"(?:^\|.*\n)+", report, re.M):  # every row as many cells as its header
        assert len({len(re.findall(r"(?<!\\)\|", row)) for row in table.splitlines()}) == 1, table
    assert "| a\\|b | x\\|y | sot |" in report and "| line break | two lines | sot |" in report


async def test_concurrency_overlaps_questions_but_never_one_questions_two_modes(tmp_path):
    write_questions(tmp_path / "questions.jsonl")
    slow = Latency(ttft_s=0.05, tokens_per_s=200)
    with FakeLLMServer(model(), latency=slow) as server:
        await run(server, tmp_path, judge=None, concurrency=5)
        requests = server.requests
        rerun = await run(server, tmp_path, judge=None)  # one at a time: nothing asked again
        assert len(server.requests) == len(requests)
    span = {}  # question -> mode -> (first request in, last response out)
    for r in requests:
        question = next(q["question"] for q in QUESTIONS if q["question"] in r.user)
        mode = "sot" if is_skeleton(r) or "one and only one point" in r.user else "sequential"
        start, end = span.setdefault(question, {}).get(mode, (r.received_at, r.finished_at))
        span[question][mode] = (min(start, r.received_at), max(end, r.finished_at))
    assert all(modes["sot"][1] <= modes["sequential"][0] for modes in span.values())
    starts = sorted(modes["sot"][0] for modes in span.values())
    ends = sorted(modes["sequential"][1] for modes in span.values())
    assert starts[-1] < ends[0]  # all five questions were under way at once
    # probe 191: nothing said that the latencies were timed side by side (review 192: kept with each answer, not
    # taken from the run that writes the report)
    assert "10 answer(s) were timed while other questions were answered at the same time" in \
        (tmp_path / "out" / "report.md").read_text()
    assert rerun.side_by_side == 10
    # review 194: a question asked alone at --concurrency 4 (a rerun's one failed question, say) was timed alone
    write_questions(tmp_path / "one.jsonl", QUESTIONS[:1])
    with serve(model()) as server:
        alone = await run(server, tmp_path, out="alone", judge=None, concurrency=4, questions=tmp_path / "one.jsonl")
    assert alone.side_by_side == 0 and alone.records[0]["answers"]["sot"]["concurrency"] == 1


async def test_one_mode_alone_is_answered_and_reported(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    with serve(model()) as server:
        summary = await run(server, tmp_path, judge=None, modes="sequential", plots=True)
        assert not any(is_skeleton(r) for r in server.requests)
    assert [set(r["answers"]) for r in summary.records] == [{"sequential"}, {"sequential"}]
    assert summary.speedup is None and list((tmp_path / "out").glob("*.png")) == []
    assert "| sleep | health | – |" in (tmp_path / "out" / "report.md").read_text()


async def test_questions_may_be_plain_strings_and_bad_ones_or_a_file_as_out_are_refused_first(tmp_path):
    on_server = {"model": "openai:m", "modes": "sequential", "plots": False, "api_key": "k"}
    (tmp_path / "taken").write_text("a file")
    with serve(model()) as server:
        on_server["base_url"] = server.openai_base_url
        for questions, out, message in ((5, "out", "questions=5: pass a JSON Lines file, or a list"),
                                        (["Why?", 3], "out", "questions holds int 3: each must be a str or a Question"),
                                        (["Why?"], "taken", "is a file; pass a directory"),
                                        (["Why?", "Why?"], "out", "used more than once; ids must be unique")):
            with pytest.raises(sotkit.ConfigError, match=re.escape(message)):
                await sotkit.evaluate(questions, out=tmp_path / out, **on_server)
        assert server.requests == []
        summary = await sotkit.evaluate(["How can I sleep better?"], out=tmp_path / "out", **on_server)
    assert [r["question"] for r in summary.records] == ["How can I sleep better?"]
    assert summary.records[0]["answers"]["sequential"]["text"] == SEQUENTIAL


@pytest.mark.parametrize("edit, problem", [
    (lambda r: r.pop("question"), "'question' is missing or a NoneType"),
    (lambda r: r.update(answers=[]), "'answers' is missing or a list"),
    (lambda r: r["answers"]["sequential"].pop("text"), "answer 'sequential' has no text"),
    (lambda r: r["answers"]["sequential"].update(latency_s="fast"), "a latency that is no number"),
])
async def test_a_hand_edited_results_file_is_refused_with_its_line_before_any_call(tmp_path, edit, problem):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    with serve(model()) as server:
        await run(server, tmp_path, judge=None, modes="sequential")
        results = tmp_path / "out" / "results.jsonl"
        records = [json.loads(line) for line in results.read_text().splitlines()]
        edit(records[1])
        results.write_text("".join(json.dumps(r) + "\n" for r in records))
        calls = len(server.requests)
        with pytest.raises(sotkit.ConfigError, match=f"results.jsonl, line 2: not a sotkit eval record "
                                                     f"\\(.*{re.escape(problem)}.*delete that line"):
            await run(server, tmp_path, judge=None, modes="sequential")
        assert len(server.requests) == calls


async def test_a_rerun_with_other_templates_or_options_asks_again_what_they_shape(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    judge_prompt = (sotkit.DEFAULT_PROMPTS / "judge_pairwise.jinja").read_text() + "\n{# reworded #}"
    with serve(model()) as server:
        await run(server, tmp_path)
        calls = len(server.requests)
        await run(server, tmp_path)  # the same: nothing asked again
        assert len(server.requests) == calls
        await run(server, tmp_path, templates={"judge_pairwise": judge_prompt})  # only the judge is asked again
        asked = server.requests[calls:]
        assert asked and all(is_judge(r) for r in asked)
        calls = len(server.requests)
        await run(server, tmp_path, templates={"judge_pairwise": judge_prompt}, max_points=3)  # answers again
        asked = server.requests[calls:]
        # probes 191 and 193: the sequential answers were asked again too, though --max-points, the skeleton and
        # expand templates shape SoT's alone (and the router's template neither: every answer's mode is asked)
        assert any(is_skeleton(r) for r in asked) and not any(is_sequential(r) for r in asked)
        skeleton = (sotkit.DEFAULT_PROMPTS / "skeleton.jinja").read_text() + "\n{# reworded #}"
        router = (sotkit.DEFAULT_PROMPTS / "router.jinja").read_text() + "\n{# reworded #}"
        templates = {"judge_pairwise": judge_prompt}
        for changed, sequential_too in (({"skeleton": skeleton}, False), ({"router": router}, None)):
            calls, templates = len(server.requests), templates | changed
            summary = await run(server, tmp_path, templates=templates, max_points=3)
            asked = [r for r in server.requests[calls:] if not is_judge(r)]
            assert (any(map(is_sequential, asked)), bool(asked)) == (bool(sequential_too), sequential_too is not None)
            assert all(r["measures"]["speedup"] for r in summary.records)  # still compared: answered alike


async def test_a_results_file_from_before_the_modes_fingerprints_were_apart_is_read_as_before(tmp_path):
    # review 196: an older file's answers, asked with --max-points, carried one fingerprint of everything; its
    # sequential answers were asked again (and their verdicts), and the pairs were never compared again
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    with serve(model()) as server:
        first = await run(server, tmp_path, max_points=3)
        results = tmp_path / "out" / "results.jsonl"
        older = []
        for line in results.read_text().splitlines():
            record = json.loads(line)
            whole = record["answers"]["sot"]["setup"]  # everything but the router's template: what SoT's is now
            record["answers"] = {m: {k: v for k, v in a.items() if k != "alike"} | {"setup": whole}
                                 for m, a in record["answers"].items()}
            older.append(json.dumps(record))
        results.write_text("\n".join(older) + "\n")
        calls = len(server.requests)
        again = await run(server, tmp_path, max_points=3)
        assert len(server.requests) == calls  # nothing asked again, no verdict either
    assert again.speedup == first.speedup is not None
    assert [r["measures"] for r in again.records] == [r["measures"] for r in first.records]


def is_sequential(request: RecordedRequest) -> bool:
    return not is_judge(request) and not is_skeleton(request) and point_of(request) is None


def timed_answers(monkeypatch) -> list[int]:
    """How many answers are being timed now (an answer's latency is the time its ``Answer.run`` takes)."""
    running = [0]
    answer_run = Answer.run

    async def counted(self, *args, **kwargs):
        running[0] += 1
        try:
            return await answer_run(self, *args, **kwargs)
        finally:
            running[0] -= 1

    monkeypatch.setattr(Answer, "run", counted)
    return running


async def test_the_first_question_is_timed_like_the_others_not_with_the_sdks_set_up(tmp_path, monkeypatch):
    from sotkit.providers.openai import OpenAIProvider

    running, ready, first = timed_answers(monkeypatch), OpenAIProvider.ready, []

    async def noting(self):  # the first call imports the SDK and makes its client: it must not be timed
        if not first:
            first.append(running[0])
        await ready(self)
    monkeypatch.setattr(OpenAIProvider, "ready", noting)
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    with serve(model()) as server:
        summary = await run(server, tmp_path, judge=None)
    assert first == [0] and len(summary.records) == 2  # set up while no answer was being timed


class SlowLoad(Engine):
    """An in-process model that loads at its first call, as a real one does (noting how many answers were being
    timed then), then answers at once."""

    name = "toy_slow_load"
    loads: list[int] = []
    running = [0]

    def __init__(self, model: str) -> None:
        self.model = model

    def load(self, device, dtype):
        self.loads.append(self.running[0])
        return "loaded"

    def generate_one(self, loaded, request, on_text, should_stop):
        on_text("Rest well.")
        return Completion("Rest well.", 1, 2, "stop")


async def test_a_local_models_load_is_not_timed_as_the_first_answer(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    registry.register(SlowLoad)
    monkeypatch.setattr(SlowLoad, "running", timed_answers(monkeypatch))
    monkeypatch.setattr(SlowLoad, "loads", [])
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    summary = await sotkit.evaluate(tmp_path / "questions.jsonl", model="local:toy", decoding="toy_slow_load",
                                    modes="sequential", out=tmp_path / "out", plots=False)
    assert SlowLoad.loads == [0] and len(summary.records) == 2  # loaded once, while no answer was being timed


class LoopingJudge(Engine):
    """A local judge that gives its verdict, then says it again and again (one character a token)."""

    name = "toy_looping_judge"

    def __init__(self, model: str) -> None:
        self.model = model

    def load(self, device, dtype):
        return type("Chars", (), {"decode": lambda self, ids, skip_special_tokens=True: "".join(map(chr, ids))})()

    def generate_one(self, loaded, request, on_text, should_stop):
        stream = TextStream(loaded, (), on_text, max_tokens=request.max_tokens)
        stream.push([ord(c) for c in "Answer A is more complete. [[A]]\n\n" + "Answer A is better. " * 40])
        return stream.finish()


async def test_a_local_judges_reply_cut_where_it_began_to_repeat_itself_is_read(monkeypatch):
    # review 234: a reply the loop stop cut, its text before the repeat whole, was counted stopped by a filter
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    registry.register(LoopingJudge)
    async with sotkit.SoT("local:toy", decoding=LoopingJudge.name) as judge:
        record, failures = await judge_pair(judge, "Why sleep?", "SoT's answer.", "The other answer.")
    assert not failures and record["stopped"] == [None, None] and None not in record["verdicts"]


@pytest.mark.parametrize("text", ["", "Answer A is better because"])
@pytest.mark.parametrize("reason, kept", [("content_filter", True), ("model_context_window_exceeded", True),
                                          ("abort", False), ("tool_calls", False)])
async def test_a_stopped_judge_reply_is_kept_as_stopped_only_where_the_filter_stopped_it(text, reason, kept):
    # review 263, 264: a vLLM abort or a tool call, with text or none, was kept as stopped by the provider and never
    # asked again
    from tests.providers.test_wire import serving, sse
    stopped = sse({"choices": [{"delta": {"content": text}, "finish_reason": reason}]})
    async with serving(stopped) as (url, _), sotkit.SoT("openai:j", api_key="k", base_url=url, retry=1) as judge:
        record, failures = await judge_pair(judge, "Why sleep?", "SoT's answer.", "The other answer.")
    if kept:
        assert not failures and record["raw"] == [text, text] and record["stopped"] == [reason, reason]
    else:
        assert len(failures) == 2 and record["raw"] == [None, None] and record["stopped"] == [None, None]
        assert f"by the server ({reason!r}) before" in str(failures[0])


async def test_a_rerun_keeps_the_reason_of_a_reply_stopped_before_any_text():
    # review 266: the other order asked again, the kept one's "content_filter" became "" (no longer counted stopped)
    from tests.providers.test_wire import serving, sse
    kept = {"raw": ["", None], "cut": [False, False], "stopped": ["content_filter", None], "max_tokens": 512}
    async with serving(sse({"choices": [{"delta": {"content": "[[A]]"}, "finish_reason": "stop"}]})) as (url, _), \
            sotkit.SoT("openai:j", api_key="k", base_url=url, retry=1) as judge:
        record, failures = await judge_pair(judge, "Why sleep?", "SoT's answer.", "The other answer.", kept=kept)
    assert not failures and record["raw"] == ["", "[[A]]"] and record["stopped"] == ["content_filter", None]


class Echo(Engine):
    """An in-process model that answers with the prompt it was given."""

    name = "toy_echo"

    def __init__(self, model: str) -> None:
        self.model = model

    def load(self, device, dtype):
        return "loaded"

    def generate_one(self, loaded, request, on_text, should_stop):
        on_text(f"ECHO {request.prompt.user}")
        return Completion(f"ECHO {request.prompt.user}", 1, 2, "stop")


async def test_a_local_models_answers_are_asked_again_when_its_local_template_variants_change(tmp_path, monkeypatch):
    # review 196: the fingerprint read a directory's templates as an API model's client does, without its local/
    # variants, which a local: model's answers are written with: a changed local/sequential.jinja reused the answer
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    registry.register(Echo)
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    templates = tmp_path / "prompts"
    (templates / "local").mkdir(parents=True)
    sequential = "{% block user %}{% if context %}{{ context }}{% endif %}WORD {{ question }}{% endblock %}"
    (templates / "sequential.jinja").write_text(sequential.replace("WORD", "TOP"))
    texts = []
    for word in ("FIRST", "SECOND"):
        (templates / "local" / "sequential.jinja").write_text(sequential.replace("WORD", word))
        summary = await sotkit.evaluate(tmp_path / "questions.jsonl", model="local:toy", decoding="toy_echo",
                                        modes="sequential", templates=templates, out=tmp_path / "out", plots=False)
        texts.append(summary.records[0]["answers"]["sequential"]["text"])
    assert [text.split()[:2] for text in texts] == [["ECHO", "FIRST"], ["ECHO", "SECOND"]]


def test_progress_redraws_one_line_with_a_bar_on_a_terminal():
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    meter = Progress(4, stream=stream)
    meter.update({"error": None, "measures": {"speedup": 1.5}, "judge": None})
    meter.close()
    frames = stream.getvalue().split("\r\033[K")
    assert frames[1] == "[sotkit eval] [....................] 0/4 questions"
    assert re.fullmatch(r"\[sotkit eval\] \[#####\.{15}\] 1/4 questions · ETA \d+s · speed-up 1\.50x \(median\)\n",
                        frames[2])


async def test_cost_is_reported_per_mode(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    with serve(model()) as server:
        priced = await run(server, tmp_path, judge=None, prices={"openai:m": (1.0, 2.0)})
        unknown = await run(server, tmp_path, out="unpriced", judge=None)
    for mode in ("sot", "sequential"):
        answers = [r["answers"][mode] for r in priced.records]
        expected = sum(a["input_tokens"] * 1.0 + a["output_tokens"] * 2.0 for a in answers) / 1e6
        cost = priced.cost[mode]
        assert cost.answers == 2 and not cost.estimated
        assert cost.total == pytest.approx(expected) and cost.per_answer == pytest.approx(expected / 2)
        assert unknown.cost[mode].total is None and unknown.cost[mode].answers == 2  # openai:m has no known price
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"| sot | 2 | 0 | ${priced.cost['sot'].total:.6f} | ${priced.cost['sot'].per_answer:.6f} |" in report
    assert "| sequential | 2 | 0 | – | – |" in (tmp_path / "unpriced" / "report.md").read_text()
    # probe 191: "failed 1" beside no failed question, after a rerun had answered it, read as a failure
    assert "| mode | answers | failed attempts | total | per answer |" in report



async def test_every_call_of_a_failed_answer_is_costed_alike_in_both_modes_and_per_answer_is_over_finished_ones(
        tmp_path):
    # walk: SoT's point 3 fails every time (its partial answer); food: the sequential stream drops every time,
    # after its 200, so its attempts are charged an estimate. Both were counted unlike: the failed SoT answer as an
    # answer, the failed sequential one not at all
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:3])
    answers = model()

    def responder(request):
        if "walk more" in request.user and point_of(request) == 3:
            return Reply("", fault=Fault.status(500))
        if "spend less" in request.user and not is_skeleton(request) and point_of(request) is None:
            return Reply(SEQUENTIAL, fault=Fault.drop(3))
        return answers(request)
    with serve(responder) as server:
        summary = await run(server, tmp_path, judge=None, retry=2, prices={"openai:m": (1.0, 2.0)})
        dropped = [r for r in server.requests if "spend less" in r.user and not is_skeleton(r) and not point_of(r)]
    assert summary.failed == ["walk", "food"]
    food = next(r for r in summary.records if r["id"] == "food")["answers"]["sequential"]
    assert food["calls"] == len(dropped) == 2 and food["usage_estimated"] and food["output_tokens"] > 0
    for mode in ("sot", "sequential"):
        records = [r["answers"][mode] for r in summary.records]
        total = sum(a["input_tokens"] * 1.0 + a["output_tokens"] * 2.0 for a in records) / 1e6
        cost = summary.cost[mode]
        assert (cost.answers, cost.failed) == (2, 1)  # finished answers; the failed one's calls are in the total
        assert cost.total == pytest.approx(total) and cost.per_answer == pytest.approx(total / 2)
    cost = summary.cost["sequential"]
    assert cost.estimated and f"| sequential | 2 | 1 | ~${cost.total:.6f} | ~${cost.per_answer:.6f} |" in \
        (tmp_path / "out" / "report.md").read_text()


# Probe 105: a failed answer's spend left the mode's cost once a rerun answered the question: a flaky mode's cost was
# understated by what its failures cost.
async def test_what_failed_answers_spent_stays_in_the_cost_once_a_rerun_answers(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    answers, failing = model(), {"runs": 2}

    def responder(request):
        if failing["runs"] and point_of(request) == 2:
            return Reply("Half of it", fault=Fault.drop(2))
        return answers(request)
    with serve(responder) as server:
        spent = []
        for prices in (None, None, {"openai:m": (1.0, 2.0)}):  # failed, failed, then answered, priced only then
            summary = await run(server, tmp_path, judge=None, modes="sot", retry=1, prices=prices)
            sot = summary.records[0]["answers"]["sot"]
            spent.append((sot["input_tokens"] + 2.0 * sot["output_tokens"]) / 1e6)
            failing["runs"] -= failing["runs"] > 0
    cost = summary.cost["sot"]
    assert summary.failed == [] and (cost.answers, cost.failed) == (1, 2)
    assert cost.total == pytest.approx(sum(spent)) and cost.per_answer == pytest.approx(sum(spent))
    assert spent[0] > 0 and len(sot["failed_before"]) == 2
    # other options ask it again, at a cost of their own: what the old set-up spent is not this one's
    with serve(answers) as server:
        summary = await run(server, tmp_path, judge=None, modes="sot", max_points=3, prices={"openai:m": (1.0, 2.0)})
    assert (summary.cost["sot"].answers, summary.cost["sot"].failed) == (1, 0)


def test_the_command_says_in_one_line_what_it_cannot_write(tmp_path, capsys):
    from sotkit.cli import main

    questions = write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    base = ["eval", str(questions), "--model", "openai:m", "--no-plots", "--out"]
    assert main([*base, str(questions / "sub")]) == 2  # under a file: refused before any question is asked
    err = capsys.readouterr().err
    assert f"--out {questions / 'sub'}: {questions} is a file" in err and "Traceback" not in err
    if not os.path.exists("/dev/full"):  # (a file whose every write fails, as on a full disk)
        return
    results = tmp_path / "out" / "results.jsonl"
    responder = model()

    def fill_the_disk(request: RecordedRequest) -> str:  # once the run is under way, no record can be written
        if not results.is_symlink():
            results.symlink_to("/dev/full")
        return responder(request)
    results.parent.mkdir()
    with serve(fill_the_disk) as server, pytest.MonkeyPatch.context() as env:
        env.setenv("OPENAI_BASE_URL", server.openai_base_url)
        env.setenv("OPENAI_API_KEY", "k")
        assert main([*base, str(tmp_path / "out")]) == 1
    # probe 261: "ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)", naming nothing
    *_, line = capsys.readouterr().err.splitlines()  # (after the progress line)
    assert line == f"sotkit eval: error: OSError: [Errno 28] No space left on device: '{results}'"


# -- what a verdict or a tally stands on ---------------------------------------------------------------------------

async def test_a_judge_reply_cut_at_its_budget_gives_no_verdict_and_a_larger_budget_asks_only_it_again(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])

    def judge(request):  # with SoT shown first, a verdict at first sight, a long comparison, then the final one
        if sot_position(request) == "B":
            return "SoT is better. [[B]]"
        return "At first sight [[A]]; now closer. " + "Point by point, one at a time. " * 150 + "Finally: [[A]]"
    with serve(model(judge)) as server:
        summary = await run(server, tmp_path)
        general = summary.records[0]["judge"]["verdicts"]["general"]
        assert general["cut"] == [True, False] and general["verdicts"] == [None, "B"]
        assert general["outcome"] == "unparseable" and summary.judge_cut == 1  # not a win read off the first sight
        report = (tmp_path / "out" / "report.md").read_text()
        assert "1 judge reply was cut at the judge's budget of 512 tokens" in report
        server.reset()
        summary = await run(server, tmp_path, judge_max_tokens=2048)
        [asked] = server.requests  # only the cut reply: the other order's stands
        assert is_judge(asked) and sot_position(asked) == "A" and asked.max_tokens == 2048
    assert summary.records[0]["judge"]["verdicts"]["general"]["outcome"] == "win" and summary.judge_cut == 0


# Probe 105: a reply the provider's filter stopped was reported as cut at the judge's budget, with advice to raise
# it, which could not help (and each rerun paid for those calls again).
# Probe 261: one stopped before any text was a failure, asked again at every rerun.
@pytest.mark.parametrize("after_tokens", [6, 0])
async def test_a_judge_reply_the_filter_stopped_gives_no_verdict_and_no_advice_to_raise_the_budget(tmp_path,
                                                                                                   after_tokens):
    def judge(request):
        if sot_position(request) == "B" and "walk" not in judged_question(request):
            return "SoT is better. [[B]]"
        return Reply("At first sight [[A]], and then more", fault=Fault.filtered(after_tokens=after_tokens))
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])  # walk: both orders stopped
    with serve(model(judge)) as server:
        summary = await run(server, tmp_path)
        general = summary.records[0]["judge"]["verdicts"]["general"]
        assert general["stopped"] == ["content_filter", None] and general["cut"] == [False, False]
        assert general["verdicts"] == [None, "B"] and general["outcome"] == "unparseable"
        assert (summary.judge_cut, summary.judge_stopped) == (0, 3)
        report = (tmp_path / "out" / "report.md").read_text()
        assert "3 judge replies were stopped by the provider" in report and "cut at the judge's budget" not in report
        server.reset()
        for budget in (None, 2048):  # kept as it is: neither a rerun nor a larger budget asks it again
            summary = await run(server, tmp_path, judge_max_tokens=budget)
            assert server.requests == [] and summary.judge_stopped == 3


async def test_one_failed_order_of_the_judge_is_not_judged_and_only_it_is_asked_again(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    broken = {"on": True}

    def judge(request):
        if broken["on"] and sot_position(request) == "B":
            return Reply("", fault=Fault.status(500))
        return f"Fine. [[{sot_position(request)}]]"
    with serve(model(judge)) as server:
        summary = await run(server, tmp_path, judge_options={"base_url": server.openai_base_url, "api_key": "k",
                                                             "retry": 1})
        general = summary.records[0]["judge"]["verdicts"]["general"]
        assert general["raw"] == ["Fine. [[A]]", None] and general["outcome"] is None
        assert summary.failed == ["sleep"] and summary.verdicts["general"]["all"].failed == 1
        broken["on"] = False
        server.reset()
        summary = await run(server, tmp_path)
        [asked] = server.requests
        assert is_judge(asked) and sot_position(asked) == "B"
    assert summary.records[0]["judge"]["verdicts"]["general"]["outcome"] == "win" and summary.failed == []


async def test_answers_cut_off_are_marked_and_counted(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    long = "Here is a long and careful answer. " * 100
    answers = sot_responder(SKELETON, sequential=long)
    with serve(lambda r: "[[C]]" if is_judge(r) else answers(r)) as server:
        summary = await run(server, tmp_path, max_tokens=50)
    for record in summary.records:
        seq, sot = record["answers"]["sequential"], record["answers"]["sot"]
        assert seq["truncated"] is True and (sot["truncated"], sot["skeleton_truncated"]) == (False, False)
    assert summary.cut == {"sot": [], "sequential": ["sleep", "walk"]}
    assert "The sequential answer was cut off on 2 question(s)" in (tmp_path / "out" / "report.md").read_text()


async def test_an_answer_a_deadline_stopped_is_counted_failed_not_cut(tmp_path):
    # its partial result's text is truncated where the deadline stopped it: the report said "cut off at a token
    # budget or by the provider's filter" (probe 68)
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    slow = Reply("Slowly now. " * 50, latency=Latency(ttft_s=0.0, tokens_per_s=20))
    with serve(slow) as server:
        summary = await run(server, tmp_path, modes=["sequential"], judge=None, deadline=1.0)
    [record] = summary.records
    assert record["answers"]["sequential"]["truncated"] and record["answers"]["sequential"]["error"]
    assert summary.failed == ["sleep"] and summary.cut == {"sequential": []}


async def test_a_question_too_large_for_the_tokens_per_minute_budget_fails_alone(tmp_path):
    # review 214: its refusal was a ConfigError, which eval takes for the same for every question: the run stopped
    long = {"id": "long", "question": "What are good ways to improve this plan? " + "We ship weekly. " * 1700}
    write_questions(tmp_path / "questions.jsonl", [QUESTIONS[0], long, QUESTIONS[1]])
    with serve(Reply("A short answer.")) as server:
        summary = await run(server, tmp_path, modes=["sequential"], judge=None, tpm=6000, max_tokens=16)
    errors = {record["id"]: record["answers"]["sequential"]["error"] for record in summary.records}
    assert errors["long"].startswith("RequestTooLarge: this call is charged about") and summary.failed == ["long"]
    assert [errors[q["id"]] for q in QUESTIONS[:2]] == [None, None]


async def test_a_failed_answer_is_left_out_of_the_measures_and_counted_failed_per_category(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    answers = model(judge=lambda r: f"[[{sot_position(r)}]]")
    walk = sot_responder(SKELETON, {1: "Walk to work every day.", 2: "Walk to work every day too."})

    def responder(request):  # walk: point 3 fails every time, leaving two points that repeat each other
        if is_judge(request) or "walk more" not in request.user:
            return answers(request)
        return Reply("", fault=Fault.status(500)) if point_of(request) == 3 else walk(request)
    with serve(responder) as server:
        summary = await run(server, tmp_path, retry=1)
    walk = next(r for r in summary.records if r["id"] == "walk")
    assert walk["answers"]["sot"]["error"] and "text" in walk["answers"]["sot"]  # its partial answer is kept...
    assert "redundancy" not in walk["measures"]  # ...but not measured
    assert summary.measures["redundancy"]["health"] == 0.0  # sleep's alone
    health = summary.verdicts["general"]["health"]
    assert (health.wins, health.failed, health.net_win_rate) == (1, 1, 1.0)
    assert "| health | 1 | 1 | 0 | 0 | 0 | 1 | 0 | +1.00 |" in (tmp_path / "out" / "report.md").read_text()



async def test_each_judge_free_figure_says_how_many_questions_it_is_over(tmp_path):
    # walk's sequential answer fails: its SoT answer has points (redundancy, restatement) but no speed-up
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
    answers = model()

    def responder(request):
        sequential = not is_skeleton(request) and point_of(request) is None
        return Reply("", fault=Fault.status(500)) if sequential and "walk more" in request.user else answers(request)
    with serve(responder) as server:
        summary = await run(server, tmp_path, judge=None, retry=1)
    assert summary.failed == ["walk"]
    assert summary.counts["speedup"]["all"] == 1 and summary.counts["redundancy"]["all"] == 2
    m = summary.measures
    row = (f"| health | 1 | {m['speedup']['health']:.2f}x | {m['speedup_per_token']['health']:.2f}x | "
           f"{m['length_ratio']['health']:.2f} | {m['redundancy']['health']:.2f} (n=2) | "
           f"{m['restatement']['health']:.2f} (n=2) |")
    assert row in (tmp_path / "out" / "report.md").read_text()


def test_the_commands_last_line_says_on_how_many_pairs_the_rate_stands_and_json_has_the_figures(tmp_path, capsys):
    from sotkit.cli import main

    questions = write_questions(tmp_path / "questions.jsonl", QUESTIONS[:3])

    def judge(request):
        return "I cannot decide." if "fall asleep" in request.user else f"[[{sot_position(request)}]]"
    with serve(model(judge)) as server, pytest.MonkeyPatch.context() as env:
        env.setenv("OPENAI_BASE_URL", server.openai_base_url)
        env.setenv("OPENAI_API_KEY", "k")
        assert main(["eval", str(questions), "--model", "openai:m", "--judge", "openai:judge", "--no-plots",
                     "--judge-max-tokens", "100", "--out", str(tmp_path / "out"), "--json"]) == 0
        assert {r.max_tokens for r in server.requests if is_judge(r)} == {100}
    shown = capsys.readouterr()
    last = shown.err.splitlines()[-1]
    assert "net win rate +1.00 (95% interval -0.19 to +1.00; 2 judged, 1 unparseable)" in last, last
    # probe 313: the figures a team gates its decision on were only Markdown and a line of prose
    printed = json.loads(shown.out)
    assert printed == json.loads((tmp_path / "out" / "summary.json").read_text()) | {
        "report": str(tmp_path / "out" / "report.md")}
    every = printed["verdicts"]["general"]["all"]
    assert (every["wins"], every["judged"], every["unparseable"], every["net_win_rate"]) == (2, 2, 1, 1.0)
    assert every["interval"] == pytest.approx([-0.19, 1.0], abs=0.005) and printed["questions"] == 3
    assert printed["measures"]["speedup"]["all"] > 0 and printed["cost"]["sot"]["answers"] == 3
    missing = tmp_path / "missing.jsonl"  # a failed run: one JSON object too
    assert main(["eval", str(missing), "--model", "openai:m", "--no-plots", "--json", "--out",
                 str(tmp_path / "o")]) == 2
    failed = json.loads(capsys.readouterr().out)
    assert failed["type"] == "ConfigError" and str(missing) in failed["error"]

# -- reruns ----------------------------------------------------------------------------------------------------

async def test_a_category_fixed_in_the_file_counts_on_rerun_without_a_call(tmp_path):
    write_questions(tmp_path / "questions.jsonl", [QUESTIONS[0], dict(QUESTIONS[1], category="helth")])
    with serve(model()) as server:
        assert (await run(server, tmp_path)).categories == ["health", "helth"]
        calls = len(server.requests)
        write_questions(tmp_path / "questions.jsonl", QUESTIONS[:2])
        summary = await run(server, tmp_path)
        assert len(server.requests) == calls
    assert summary.categories == ["health"] and summary.verdicts["general"]["health"].ties == 2


async def test_options_that_shape_no_answer_do_not_ask_again_and_prices_given_later_count(tmp_path):
    from sotkit.router.rules import RulesRouter

    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    with serve(model()) as server:
        first = await run(server, tmp_path, router=RulesRouter())
        assert first.cost["sot"].total is None  # openai:m has no known price
        calls = len(server.requests)
        # another router object (another address in its repr), limits, retries, prices: the same answers
        summary = await run(server, tmp_path, router=RulesRouter(), rpm=600, max_concurrency=3, retry=2, timeout=30,
                            prices={"openai:m": (1.0, 2.0)})
        assert len(server.requests) == calls
    sot = summary.records[0]["answers"]["sot"]
    assert summary.cost["sot"].total == pytest.approx((sot["input_tokens"] + 2 * sot["output_tokens"]) / 1e6)


# The fingerprint of what shapes an answer hashed the base URL's password: a stored guess-check of it (in files
# often shared), and a password rotated asked every answer and verdict again.
async def test_a_base_url_password_shapes_no_answer_and_is_not_hashed(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    with serve(model()) as server:
        def with_password(password: str) -> dict[str, str]:
            return {"base_url": server.openai_base_url.replace("://", f"://gateway:{password}@"), "api_key": "k"}

        async def evaluate(password: str) -> sotkit.evaluation.Summary:
            return await sotkit.evaluate(model="openai:m", out=tmp_path / "out", questions=tmp_path / "questions.jsonl",
                                         judge="openai:judge", judge_options=with_password(password), plots=False,
                                         **with_password(password))

        first = await evaluate("hunter2-old")
        calls = len(server.requests)
        second = await evaluate("hunter2-new")  # the same setup: nothing asked again, the password not in it
        assert len(server.requests) == calls
    assert second.records == first.records and "hunter2" not in (tmp_path / "out" / "results.jsonl").read_text()


# Probe 105: with the server named only by $OPENAI_BASE_URL (the CLI's one way to name it), a rerun against another
# server reused the first server's answers and verdicts, and reported them as the second's.
@pytest.mark.parametrize("judge", ["openai:m", "openai:judge"])
async def test_a_server_named_by_the_environment_shapes_the_answers_and_verdicts(tmp_path, monkeypatch, judge):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    with serve(model()) as one, serve(model()) as two:
        async def evaluate(server: FakeLLMServer) -> sotkit.evaluation.Summary:
            monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
            return await sotkit.evaluate(model="openai:m", judge=judge, out=tmp_path / "out", api_key="k",
                                         questions=tmp_path / "questions.jsonl", plots=False,
                                         judge_options={} if judge == "openai:m" else {"api_key": "k"})

        await evaluate(one)
        asked = len(one.requests)
        await evaluate(two)
        assert len(two.requests) == asked  # every answer and verdict again, from the second server
        await evaluate(two)
        assert len(two.requests) == asked  # and only once
        await evaluate(one)
        assert len(one.requests) == 2 * asked
        # base_url=None names no server: the environment's stands (review 106)
        monkeypatch.setenv("OPENAI_BASE_URL", two.openai_base_url)
        none = {"api_key": "k", "base_url": None}
        await sotkit.evaluate(model="openai:m", judge=judge, out=tmp_path / "out", **none,
                              questions=tmp_path / "questions.jsonl", plots=False,
                              judge_options={} if judge == "openai:m" else none)
        assert len(two.requests) == 2 * asked
        await evaluate(two)
        assert len(two.requests) == 2 * asked
        await evaluate(one)
        # the same server named by base_url=: the same answers and verdicts
        monkeypatch.delenv("OPENAI_BASE_URL")
        named = {"base_url": one.openai_base_url, "api_key": "k"}
        await sotkit.evaluate(model="openai:m", judge=judge, out=tmp_path / "out", **named,
                              questions=tmp_path / "questions.jsonl", plots=False,
                              judge_options={} if judge == "openai:m" else named)
        assert len(one.requests) == 3 * asked


def test_base_url_none_is_the_same_set_up_as_no_base_url(monkeypatch):
    from sotkit.evaluation.run import _setup

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert _setup({}, {"base_url": None}, "openai:m") == _setup({}, {}, "openai:m")  # review 108: asked all again
    assert _setup({}, {"base_url": "http://a/v1"}, "openai:m") != _setup({}, {}, "openai:m")


async def test_a_client_given_shapes_the_answers_by_its_server(tmp_path):
    import openai

    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    with serve(model()) as one, serve(model()) as two:
        for server in (one, two):
            async with openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="k") as client:
                await sotkit.evaluate(model="openai:m", out=tmp_path / "out", questions=tmp_path / "questions.jsonl",
                                      modes=("sot",), plots=False, client=client)
        assert len(two.requests) == len(one.requests) > 0


async def test_question_objects_are_read_as_the_files_lines_are(tmp_path):
    with serve(model()) as server:
        given = [Question(1, "How can I fall asleep faster?"), Question("walk", "How can I walk more?", None)]
        first = await run(server, tmp_path, questions=given)
        calls = len(server.requests)
        second = await run(server, tmp_path, questions=given)  # reads its own results file back
        assert len(server.requests) == calls
        with pytest.raises(sotkit.ConfigError, match=re.escape("questions[0].id must be a non-empty string or a whole "
                                                               "number, got True")):
            await run(server, tmp_path, questions=[Question(True, "Why?")])
    assert [(r["id"], r["category"]) for r in first.records] == [("1", "general"), ("walk", "general")]
    assert second.records == first.records


async def test_a_rerun_of_one_mode_keeps_the_other_modes_answer(tmp_path):
    write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    answers, broken = model(judge=lambda r: f"[[{sot_position(r)}]]"), {"on": True}

    def responder(request):  # the skeleton fails until fixed
        return Reply("", fault=Fault.status(500)) if broken["on"] and is_skeleton(request) else answers(request)
    with serve(responder) as server:
        assert (await run(server, tmp_path, retry=1)).failed == ["sleep"]
        broken["on"] = False
        server.reset()
        summary = await run(server, tmp_path, judge=None, modes="sot")  # only SoT asked again
        assert all(is_skeleton(r) or point_of(r) for r in server.requests)
        assert summary.failed == [] and set(summary.records[0]["answers"]) == {"sot", "sequential"}
        assert summary.speedup is not None
        server.reset()
        summary = await run(server, tmp_path)  # both modes are in: only the judge is asked
        assert len(server.requests) == 2 and all(is_judge(r) for r in server.requests)
    assert summary.net_win_rate == 1.0


def eval_command(tmp_path, capsys, server, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``sotkit eval`` on one question against ``server``: its exit status and stderr."""
    from sotkit.cli import main

    questions = write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"OPENAI_BASE_URL": server.openai_base_url, "OPENAI_API_KEY": "k", **(env or {})}.items():
            patch.setenv(name, value)
        try:
            status = main(["eval", str(questions), "--no-plots", *args])
        except SystemExit as exit:  # argparse's usage errors
            status = exit.code
    return status, capsys.readouterr().err


def test_the_command_takes_modes_both_as_its_help_says_and_speaks_in_its_options(tmp_path, capsys):
    with serve(model()) as server:
        for modes in ("both", " both", "sot,sequential", None):
            status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--judge", "openai:m",
                                       "--out", str(tmp_path / "out"), *(("--modes", modes) if modes else ()))
            assert status == 0, err
        asked = len(server.requests)
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--modes", "sot", "--judge",
                                   "openai:m", "--out", str(tmp_path / "sot"))
        assert status == 2 and "use --modes both (the default) with --judge" in err and "modes=(" not in err
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--aspects",
                                   "--out", str(tmp_path / "sot"))
        assert status == 2 and "--aspects needs a --judge model" in err
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--judge-max-tokens", "900",
                                   "--out", str(tmp_path / "sot"))
        assert status == 2 and "--judge-max-tokens needs a --judge model" in err
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--modes", "sot,fast",
                                   "--out", str(tmp_path / "sot"))
        assert status == 2 and "--modes sot,fast: choose one or both of sot, sequential" in err
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--limit", "abc")
        assert status == 2 and "--limit: 'abc': give a whole number, at least 1" in err and "_positive" not in err
        status, err = eval_command(tmp_path, capsys, server, "--model", "", "--out", str(tmp_path / "empty"))
        assert status == 2 and "model '' is not of the form" in err  # `--model "$MODEL"`: not the default model
        assert len(server.requests) == asked  # refused before any call


def test_the_command_takes_max_points_and_a_change_of_it_asks_the_answers_again(tmp_path, capsys):
    base = ("--model", "openai:m", "--modes", "sot", "--out", str(tmp_path / "out"))
    with serve(model()) as server:
        assert eval_command(tmp_path, capsys, server, *base)[0] == 0
        server.reset()
        assert eval_command(tmp_path, capsys, server, *base)[0] == 0
        assert server.requests == []  # nothing changed: nothing asked
        status, err = eval_command(tmp_path, capsys, server, *base, "--max-points", "2")
        assert status == 0, err
        assert server.requests  # the answers it shapes are asked again
        server.reset()
        assert eval_command(tmp_path, capsys, server, *base, "--max-points", "2")[0] == 0
        assert server.requests == []
    [record] = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()][-1:]
    assert record["answers"]["sot"]["skeleton"] == ["Keep a schedule", "Dim the lights"]  # the third cut off
    with serve(model()) as server:
        status, err = eval_command(tmp_path, capsys, server, *base, "--max-points", "1")
    assert status == 2 and "--max-points: '1': give a whole number, at least 2" in err


def test_a_refused_judge_or_model_leaves_no_out_directory_behind(tmp_path, capsys):
    with serve(model()) as server:
        out = tmp_path / "new" / "out"
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--judge", "opnai:j",
                                   "--out", str(out))
        assert status == 2 and "unknown provider 'opnai'" in err
        assert not (tmp_path / "new").exists()  # neither the directory nor the parent the run made
        status, err = eval_command(tmp_path, capsys, server, "--out", str(out), env={"SOTKIT_MODEL": "opnai:m"})
        assert status == 2 and "$SOTKIT_MODEL='opnai:m': unknown provider 'opnai'" in err
        assert not (tmp_path / "new").exists()
        (out / "mine").mkdir(parents=True)  # a directory that was there before is left as it was
        status, err = eval_command(tmp_path, capsys, server, "--model", "openai:m", "--judge", "opnai:j",
                                   "--out", str(out))
        assert status == 2 and sorted(p.name for p in out.iterdir()) == [".lock", "mine"]


def test_evaluate_refused_before_its_first_record_leaves_no_directory_it_made(tmp_path):
    # the CLI cleaned up after a refused judge, but evaluate() called from Python left out/ holding only .lock
    from sotkit.evaluation import evaluate

    out = tmp_path / "new" / "out"
    with pytest.raises(sotkit.ConfigError, match="unknown provider 'opnai'"):
        anyio.run(functools.partial(evaluate, ["Why?"], model="openai:m", judge="opnai:j", out=out, plots=False,
                                    api_key="k", base_url="http://127.0.0.1:9/v1"))
    assert not (tmp_path / "new").exists()
