"""``evaluate``: answer every question in each mode, judge the pairs, measure, and keep every finished
question on disk at once so a run can stop anywhere and continue where it stopped.

``DIR/results.jsonl`` is append-only: one line per finished (or failed) question, flushed and fsynced before
the next is counted. The latest line of an id is its record. A rerun keeps the parts of a record that the
current settings ask for and that succeeded (an answer by the same model, a judgement by the same judge of the
same answers) and redoes only the rest, so a finished question costs no model call and a failed one is retried.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal, TypeGuard

import anyio

from .. import __version__, quality
from ..client import SoT
from ..errors import ConfigError, PartialResultError, describe as describe_one
from ..options import check_number, check_type
from ..providers import base_url_variable
from ..providers.base import BY_FILTER, FILTERED, ChatRequest, Prompt, closing
from ..redact import shown_url
from ..result import Result, Usage
from ..retry import no_server, status_of
from ..templates import TemplateSource, _read_overrides
from .judge import ASPECTS, JUDGE_MAX_TOKENS, JUDGE_VIEW, judge_pair, kept_replies
from .questions import Question, category_text, checked, field_text, load_questions, question_id
from .progress import Progress
from .report import Summary, fell_back, summarize, write_report

MODES = ("sot", "sequential")
RESULTS = "results.jsonl"
#: options that shape neither an answer nor a verdict (keys, limits, prices, retries, timeouts; the router, as
#: every answer's mode is asked for): a rerun that changes only these reuses what is done
NOT_SHAPING = frozenset({"api_key", "client", "max_concurrency", "rpm", "tpm", "limits", "prices", "timeout", "retry",
                         "stall_timeout", "first_token_timeout", "router", "router_threshold", "trace_content"})
#: what shapes a SoT answer only: a sequential one is not asked again when they change (a SoT answer that fell back
#: to a sequential one is shaped by the sequential template too); the router's template shapes neither here
SOT_ONLY_OPTIONS = frozenset({"max_points", "skeleton_max_tokens", "point_max_tokens", "eager"})
SOT_ONLY_TEMPLATES = frozenset({"skeleton", "expand"})
#: what an answer's calls spent, kept of a failed one for the answer asked again
SPENT = ("error", "calls", "input_tokens", "output_tokens", "cost", "usage_estimated", "priced_calls")


async def evaluate(questions: str | Path | Sequence[Question | str], *, model: str, judge: str | None = None,
                   modes: Sequence[str] = MODES, out: str | Path, limit: int | None = None, concurrency: int = 1,
                   aspects: bool = False, templates: TemplateSource = None, plots: bool = True,
                   progress: bool = False, judge_options: Mapping[str, Any] | None = None,
                   judge_max_tokens: int | None = None, **options: Any) -> Summary:
    """Answer ``questions`` (a JSON Lines file, ``Question`` objects or strings) with ``model`` in each of ``modes``,
    judge SoT against sequential with ``judge`` (both orders; with ``aspects``, also on LLMZoo's five aspects),
    and write ``out/results.jsonl``, ``out/report.md`` and, with ``plots``, PNG plots (``sotkit[eval]``).

    Rerunning with the same ``out`` continues: what is done is not asked again, as long as what shapes it is the
    same (the model, the answering client's options and templates; the judge, its options and templates: change
    one and those answers or verdicts are asked again). ``concurrency`` questions run
    at a time (1 by default, so one question's latencies are not inflated by another's calls); each question's
    modes run one after the other. Other keywords configure the answering client (``base_url``, ``device``, ...)
    and its requests (``max_points``, ``deadline``, ...); ``judge_options`` configure the judge's client when the
    judge is another model (``base_url``, ``api_key``, ...); ``judge_max_tokens`` is the judge's budget per reply
    (with a judge only; ``JUDGE_MAX_TOKENS`` unless given; a reply cut there gives no verdict: raise it and rerun,
    and only the cut replies are asked again).
    """
    modes = _check_modes(modes)
    # (each flag's type before its value is read: aspects="yes" was told it needed a judge; probe 260)
    for name, flag in (("aspects", aspects), ("plots", plots), ("progress", progress)):
        check_type(name, flag, bool, "True or False")
    if judge is not None and set(modes) != set(MODES):
        raise ConfigError("judging compares SoT with sequential answers: use modes=('sot', 'sequential') with judge=")
    if aspects and judge is None:
        raise ConfigError("aspects=True needs a judge= model")
    if judge_max_tokens is not None and judge is None:  # given for a judge, and none would read it
        raise ConfigError("judge_max_tokens= needs a judge= model")
    judge_max_tokens = JUDGE_MAX_TOKENS if judge_max_tokens is None else judge_max_tokens
    check_number("concurrency", concurrency, above=None, at_least=1, whole=True, optional=False)
    check_number("limit", limit, above=None, at_least=1, whole=True)
    check_number("judge_max_tokens", judge_max_tokens, above=None, at_least=1, whole=True, optional=False)
    check_type("judge_options", judge_options, (Mapping, type(None)), "a dict of the judge's options")
    if judge_options and judge is None:  # options for a judge, and none would read them (an empty dict gives none)
        raise ConfigError("judge_options= needs a judge= model")
    if not isinstance(out, str | os.PathLike) or not os.fspath(out).strip():  # Path("") is the current directory
        raise ConfigError(f"out={out!r}: pass a directory for results.jsonl and report.md, such as 'eval-run'")
    judge_options = dict(judge_options or {})
    _check_options(options, judge_options)
    if plots:
        from .report import check_plotting

        check_plotting()  # now, not after hours of answers
    todo = load_questions(questions) if isinstance(questions, str | Path) else _questions(questions)
    todo = todo[:limit] if limit else todo
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out={str(out)!r} is a file; pass a directory for results.jsonl and report.md")
    with _run_directory(out):
        store = ResultStore(out / RESULTS)
        # (a local: model's answers are shaped by a directory's local/ variants, as its client reads them)
        overrides = {name: source for name, (source, _) in
                     _read_overrides(templates, local=str(model).startswith("local:")).items()}
        settings = {"model": model, "judge": judge, "modes": list(modes),
                    "aspects": list(ASPECTS) if aspects else [], "judge_max_tokens": judge_max_tokens,
                    "prices": options.get("prices"),  # answers are priced in the report, so a rerun may add prices
                    # each mode's answers are asked again when what shapes them changes (not the other mode's)
                    "setup": {mode: _setup({n: s for n, s in overrides.items()
                                            if not n.startswith("judge_") and n != "router"
                                            and (mode == "sot" or n not in SOT_ONLY_TEMPLATES)},
                                           {n: v for n, v in options.items()
                                            if mode == "sot" or n not in SOT_ONLY_OPTIONS}, model)
                              for mode in MODES},
                    # (the judge is the answering client where it is the same model with no options of its own)
                    "judge_setup": _setup({n: s for n, s in overrides.items() if n.startswith("judge_")},
                                          {**(options if judge == model and not judge_options else judge_options),
                                           "(answers shown as)": JUDGE_VIEW}, judge)}
        records: dict[str, dict[str, Any]] = {}
        pending: list[tuple[Question, dict[str, Any] | None]] = []
        for q in todo:
            previous = store.records.get(q.id)
            if previous is not None and previous["question"] != q.question:
                previous = None  # the id now names another question: answer it afresh
            if previous is not None and is_complete(previous, settings):
                # the category is the file's now (a fixed typo counts); a complete record has no error to ask
                # again, whatever the errors of modes or a judge this run does not ask for
                # (its measures taken again: an older sotkit's may have been taken otherwise)
                answers = _known_alike(previous["answers"], settings)
                records[q.id] = previous | {"category": q.category, "error": None, "answers": answers,
                                            "measures": measures(q.question, answers)}
            else:
                pending.append((q, previous))

        meter = Progress(len(todo), done=list(records.values()), judging=judge is not None) if progress else None
        again = sum(any(answer and answer.get("error") is None and not _asked_alike(answer, mode, settings)
                        for mode, answer in _known_alike(previous["answers"], settings).items() if mode in modes)
                    for _, previous in pending if previous is not None)
        rejudged = sum(bool((previous.get("judge") or {}).get("verdicts")) and not _same_judge(previous["judge"],
                                                                                               settings)
                       for _, previous in pending if previous is not None) if judge else 0
        if meter and again:  # (say why what was paid for is asked again)
            meter.say(f"{again} question(s) in {out / RESULTS} were answered with another model, server, template "
                      "or option (or another sotkit): they are answered again")
        if meter and rejudged:
            meter.say(f"{rejudged} question(s) in {out / RESULTS} were judged by another judge, judge template or "
                      "option: they are judged again")
        if pending:
            clients = _clients(model, judge, templates, options, judge_options, judge_max_tokens)
            async with clients as (answerer, judger):
                await warm_up(answerer)  # before the first timed call
                limiter = anyio.CapacityLimiter(concurrency)
                # kept with each answer (at most that many timed side by side): the report names those so timed
                settings["concurrency"] = min(concurrency, len(pending))

                stopped_by: list[str] = []  # the error every question meets, once one stopped the run

                def why_stopped() -> str:  # what an answer the run's stop cut short says
                    return f"another question's error stopped the run: {stopped_by[0]}" if stopped_by \
                        else _interrupted()

                async def one(q: Question, previous: dict[str, Any] | None) -> None:
                    try:
                        async with limiter:
                            record = await answer_question(q, previous, answerer, judger, settings, store.append,
                                                           why_stopped)
                    except Exception as exc:  # (before the task group cancels the questions beside it)
                        if every_question_alike(exc):
                            stopped_by.append(describe(exc))
                        raise
                    store.append(record)  # on disk before anything else happens
                    records[q.id] = record
                    if meter:
                        meter.update(record)

                try:
                    async with anyio.create_task_group() as tg:
                        for q, previous in pending:
                            tg.start_soon(one, q, previous)
                except BaseExceptionGroup as group:
                    # an error the same for every question: raised as itself, not in a group
                    if (config := group.subgroup(every_question_alike)) is not None:
                        raise _first(config)
                    # so is results.jsonl failing to take a record (a full disk): its error names the file
                    if (unwritten := group.subgroup(lambda e: isinstance(e, OSError)
                                                    and e.filename == str(store.path))) is not None:
                        raise _first(unwritten)
                    raise
        if meter:
            meter.close()
        summary = summarize([records[q.id] for q in todo], settings)
        write_report(summary, out, plots=plots)
        return summary


def _questions(given: Any) -> list[Question]:
    """``Question`` objects as given; a string is a question with the id of its text."""
    if isinstance(given, bytes) or not isinstance(given, Iterable):
        raise ConfigError(f"questions={given!r}: pass a JSON Lines file, or a list of questions (str or Question)")
    given = list(given)
    if not given:  # a report of nothing would read as a run that went well
        raise ConfigError("questions=[]: there is nothing to answer; pass at least one question")
    if bad := [q for q in given if not isinstance(q, str | Question)]:
        raise ConfigError(f"questions holds {type(bad[0]).__name__} {bad[0]!r}: each must be a str or a Question")
    questions = []
    for i, q in enumerate(given):  # every text checked now, not when its turn comes after others were answered
        text = checked(q if isinstance(q, str) else q.question, f"questions[{i}]", question=True)
        if isinstance(q, str):
            questions.append(Question(question_id(text), text))
            continue
        # as the file's fields are read: an int id becomes a str, None the default (results.jsonl holds strs)
        qid = field_text(q.id, f"questions[{i}].id")
        category = category_text(q.category, f"questions[{i}].category")
        questions.append(Question(question_id(text) if qid is None else qid, text, category))
    if twice := sorted(i for i, n in Counter(q.id for q in questions).items() if n > 1):
        raise ConfigError(f"question id(s) {', '.join(map(repr, twice))} used more than once; ids must be unique "
                          "(a question given twice as a str gets the same id)")
    return questions


@contextmanager
def _run_directory(out: Path) -> Iterator[None]:
    """``out``, made if need be and held by this run alone; a run stopped before its first record (a refused judge,
    say) leaves no directory it made."""
    made = list(itertools.takewhile(lambda path: not path.exists(), (out, *out.parents)))  # the deepest first
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # read-only, no permission, /proc: before any question is asked
        for directory in made:  # those it made before the one it could not
            with suppress(OSError):
                directory.rmdir()
        raise ConfigError(f"the out directory {str(out)!r} cannot be made ({exc.strerror}); choose one you can "
                          "write to") from None
    try:
        with _exclusive(out):
            yield
    finally:
        if made and out.is_dir() and {path.name for path in out.iterdir()} <= {".lock"}:
            (out / ".lock").unlink(missing_ok=True)
            with suppress(OSError):
                for directory in made:
                    directory.rmdir()


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """One run per directory at a time: two would append the same questions to one results file."""
    try:
        lock = open(out / ".lock", "w")
    except OSError as exc:  # a directory it cannot write to (read-only, not its user's): before any question
        raise ConfigError(f"the out directory {str(out)!r} cannot be written ({exc.strerror}); choose one you can "
                          "write to") from None
    with lock:
        try:
            import fcntl
        except ImportError:  # no advisory locks on Windows: keeping runs apart is up to the user there
            yield
            return
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another sotkit eval is running on {out}; wait for it to finish, or choose another "
                              "--out") from None
        yield


def _check_options(options: Mapping[str, Any], judge_options: Mapping[str, Any]) -> None:
    """Refuse what would make answers or verdicts other than the named model's, judged as that model's."""
    for name, given in (("fallback=", options), ("judge_options={'fallback': ...}", judge_options)):
        if given.get("fallback") is not None:
            raise ConfigError(f"{name} is not taken by sotkit eval: an answer or verdict written by "
                              "the fallback would be timed and judged as the main model's; leave it out (a failed "
                              "question is recorded, and retried when you rerun the same command)")
    # each answer is asked in the mode of its column, and the judge's replies are sequential: a mode= would be
    # ignored without a word (the router's choice is not what sotkit eval compares)
    for name, given in (("mode=", options), ("judge_options={'mode': ...}", judge_options)):
        if given.get("mode") is not None:
            raise ConfigError(f"{name} is not taken by sotkit eval: every question is answered in each of modes= "
                              "(--modes), SoT and sequential, so that the two can be compared; leave it out (to "
                              "see what mode='auto' picks for a question, ask it with sotkit.generate(question, "
                              "mode='auto') and read result.mode and result.route_reason)")
    if options.get("on_point_error") is not None:  # a point left out would not show in the answer judged
        raise ConfigError("on_point_error= is not taken by sotkit eval: an answer with a point left out would be "
                          "timed and judged as a whole one; leave it out (a point that fails fails its question, "
                          "which is recorded, and retried when you rerun the same command)")
    if fixed := [name for name in ("max_tokens", "temperature") if name in judge_options]:
        raise ConfigError(f"judge_options={{{fixed[0]!r}: ...}} is not taken: the judge replies at temperature 0, "
                          "within judge_max_tokens= (--judge-max-tokens); leave it out, and give a budget there")


def _check_modes(modes: Sequence[str] | str) -> tuple[str, ...]:
    chosen = tuple(m.strip() for m in (modes.split(",") if isinstance(modes, str) else modes) if m.strip())
    wrong = [m for m in chosen if m not in MODES]
    if wrong or not chosen or len(set(chosen)) != len(chosen):
        raise ConfigError(f"modes={','.join(chosen) or '(none)'}: choose one or both of {', '.join(MODES)}, "
                          "each once")
    return chosen


class _clients:
    """The answering client and the judging one; the same client when the judge is the answering model."""

    def __init__(self, model: str, judge: str | None, templates: TemplateSource, options: dict[str, Any],
                 judge_options: Mapping[str, Any], judge_max_tokens: int) -> None:
        self.answerer = SoT(model, templates=templates, **options)
        try:
            self.judger = None if judge is None else self.answerer if judge == model and not judge_options else \
                SoT(judge, templates=templates, **judge_options)
        except ConfigError as exc:  # the options beside model= are the answering client's: say whose this is
            whose = " (the judge's options go in judge_options=; those beside model= are the answering model's)" \
                if "api_key=" in str(exc) or "base_url=" in str(exc) else ""  # where that is the way out
            raise ConfigError(f"the judge's client ({judge}): {exc}{whose}") from exc
        if self.judger is not None:  # the judges' own budget, checked before any answer is paid for
            self.judger._checked(dataclasses.replace(self.judger.options, max_tokens=judge_max_tokens,
                                                     temperature=0.0))

    async def __aenter__(self) -> tuple[SoT, SoT | None]:
        return self.answerer, self.judger

    async def __aexit__(self, *exc_info: object) -> None:
        await self.answerer.aclose()
        if self.judger is not None and self.judger is not self.answerer:
            await self.judger.aclose()


async def warm_up(client: SoT) -> None:
    """Pay the client's first-call costs untimed, so that the first question is timed like the others (its SoT
    answer, asked first, would otherwise carry them): ``ready()`` imports the SDK and makes its client; an
    in-process model loads only at its first call, so it gets a one-token call. An API's connections are left to
    the first question's calls (opening them would take paid calls; probe 313: 9% on its SoT answer on loopback)."""
    try:
        for backend in client.backends:
            await backend.provider.ready()
        main = client.backends[0].provider
        if main.in_process:
            async with closing(main.stream(ChatRequest(Prompt("Hi"), max_tokens=1))) as chunks:
                async for _ in chunks:
                    pass
    except ConfigError:
        raise  # the same for every question: stop now
    except Exception:
        pass  # the questions' own calls meet it again, are retried as usual, and record it if it stays


def is_complete(record: dict[str, Any], settings: dict[str, Any]) -> bool:
    """Does the record hold everything ``settings`` ask for, without an error?"""
    answers = record.get("answers", {})
    if any(not _usable_answer(answers.get(m), m, settings) for m in settings["modes"]):
        return False
    if settings["judge"] is None or fell_back(answers):  # two sequential answers: nothing of SoT's to judge
        return True
    judgement = record.get("judge") or {}
    return _same_judge(judgement, settings) and \
        all(None not in kept_replies(judgement.get("verdicts", {}).get(a), settings["judge_max_tokens"])
            for a in ["general", *settings["aspects"]])


def _usable_answer(answer: dict[str, Any] | None, mode: str, settings: dict[str, Any]) -> TypeGuard[dict[str, Any]]:
    return answer is not None and answer.get("error") is None and _asked_alike(answer, mode, settings)


def _asked_alike(answer: dict[str, Any], mode: str, settings: dict[str, Any]) -> bool:
    """Was ``answer`` asked as ``settings`` would ask it in ``mode``?"""
    return answer.get("model") == settings["model"] and answer.get("setup") == settings["setup"][mode]


def _known_alike(answers: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """``answers``, those from before the modes' fingerprints were apart given theirs: such an answer's (no
    ``alike``) is the fingerprint of everything, which SoT's is now; where it matches, the answer was asked as
    ``settings`` would ask it in either mode."""
    setups = settings["setup"]
    return {mode: answer | {"setup": setups[mode], "alike": setups["sequential"]}
            if answer and "alike" not in answer and mode in setups and answer.get("setup") == setups["sot"] else answer
            for mode, answer in answers.items()}


def _same_judge(judgement: dict[str, Any], settings: dict[str, Any]) -> bool:
    return judgement.get("model") == settings["judge"] and judgement.get("setup") == settings["judge_setup"]


def _setup(templates: Mapping[str, str], options: Mapping[str, Any], model: str | None) -> str:
    """A fingerprint of what shapes an answer (or a verdict) besides its model: the template overrides, the client's
    options but those in ``NOT_SHAPING``, the server where no option names it, and this sotkit's version, whose
    default prompts may differ. A URL's password shapes nothing: it is left out (a results file would be a check of
    guesses, and a new password would ask everything again)."""
    # (a base URL with or without a slash at its end names the same server: probe 313, every answer asked again)
    options = {name: value.rstrip("/") if name == "base_url" and isinstance(value, str) else value
               for name, value in options.items() if (name, value) != ("base_url", None)}  # (None: not given)
    # an object's repr may hold its address, which differs from one run to the next
    shown = {name: re.sub(r" at 0x[0-9a-fA-F]+", "", repr(shown_url(value) if isinstance(value, str) else value))
             for name, value in options.items() if name not in NOT_SHAPING}
    if "base_url" not in options and (server := _server(model, options)):  # as if given: the same answers
        shown["base_url"] = repr(shown_url(server.rstrip("/")))
    text = json.dumps({"templates": dict(templates), "options": shown, "sotkit": __version__}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _server(model: str | None, options: Mapping[str, Any]) -> str | None:
    """The URL a model's calls go to that no ``base_url=`` names: a given SDK client's, or the environment's."""
    if options.get("client") is not None:
        return str(getattr(options["client"], "base_url", "") or "") or None
    variable = base_url_variable(model or "")
    return (os.environ.get(variable) or None) if variable else None


def _interrupted() -> str:
    """Why an answer the run's stop cut short stopped, where no question's error stopped the run (Ctrl-C, a kill)."""
    return "the run was interrupted"


async def answer_question(q: Question, previous: dict[str, Any] | None, answerer: SoT, judger: SoT | None,
                          settings: dict[str, Any],
                          save: Callable[[dict[str, Any]], None] = lambda record: None,
                          why_stopped: Callable[[], str] = _interrupted) -> dict[str, Any]:
    """One question's record: reuse what ``previous`` already holds, ask for the rest. A new answer is ``save``d
    (without verdicts) before the next call, another mode's or the judge's, so that a run stopped or killed
    during that call keeps it, saying ``why_stopped()``, and a rerun asks only for what is missing."""
    old_answers = _known_alike((previous or {}).get("answers", {}), settings)
    answers: dict[str, dict[str, Any]] = dict(old_answers)  # a mode not asked this run keeps its answer
    new = False  # an answer of this run not yet on disk
    for mode in settings["modes"]:  # one after the other, so neither slows the other down
        old = old_answers.get(mode)
        if _usable_answer(old, mode, settings):
            answers[mode] = old
            continue
        if new:
            save(_record(q, answers, settings))

        def recorded(answered: dict[str, Any]) -> dict[str, Any]:
            # (concurrency: the questions answered at a time, this answer's latency timed among them)
            # (alike: what shapes both modes' answers, to compare them by)
            answered |= {"setup": settings["setup"][mode], "alike": settings["setup"]["sequential"],
                         "concurrency": settings["concurrency"]}
            if old is not None and old["error"] and _asked_alike(old, mode, settings):
                answered["failed_before"] = spent_failing(old)  # what this answer cost is theirs too
            return answered
        # an answer the run's stop cuts short is saved as failed: the calls it made count in the rerun's cost
        answers[mode] = recorded(await answer(answerer, q.question, mode, on_stop=lambda spent: save(
            _record(q, answers | {mode: recorded(spent)}, settings)), why_stopped=why_stopped))
        new = answers[mode]["error"] is None
    record = _record(q, answers, settings)
    if judger is not None and all(answers[m]["error"] is None for m in MODES) and not fell_back(answers):
        reusable = previous is not None and all(old_answers.get(m) is answers[m] for m in MODES)
        if not reusable:  # a rerun finds no verdicts in this record, so it asks the judge only
            save(record)
        record["judge"] = await judge_answers(judger, q.question, answers, settings,
                                              (previous or {}).get("judge") if reusable else None,
                                              on_stop=lambda judged: save(record | {"judge": judged}))
        if record["judge"]["error"]:
            record["error"] = "; ".join(filter(None, [record["error"], f"judge: {record['judge']['error']}"]))
    return record


def every_question_alike(error: BaseException) -> bool:
    """Would every question meet ``error`` alike, so that it stops the run: sotkit's ``ConfigError``, a server
    refusing the key (401) or not knowing the model or URL (404), as the error or what it was raised from, or no
    server at the URL after the retries (refused, or no such host, however deep in the transport's errors)? (Probe
    313: each question went through its retries, and then the run said to rerun it.) Not a 403: a provider's
    moderation refuses one question so (OpenRouter's "your input was flagged"; review 315: no run finished); nor an
    error met while handling another (a fallback's, after the main model's 401)."""
    raised_from: BaseException | None = error
    while raised_from is not None:
        if isinstance(raised_from, ConfigError) or status_of(raised_from) in (401, 404):
            return True
        raised_from = raised_from.__cause__
    return no_server(error)


def spent_failing(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """What a failed answer and the failed attempts before it spent, as the answer asked again keeps it."""
    spent = {name: answer[name] for name in SPENT if name in answer}
    return [*answer.get("failed_before", []), spent]


def _record(q: Question, answers: dict[str, dict[str, Any]], settings: dict[str, Any]) -> dict[str, Any]:
    """A question's record without verdicts; its error names the modes asked for whose answers failed (a mode
    not yet asked is no error: it is missing, and a rerun asks for it)."""
    errors = [f"{m}: {a['error']}" for m in settings["modes"] if (a := answers.get(m)) and a["error"]]
    return {"id": q.id, "category": q.category, "question": q.question, "answers": dict(answers), "judge": None,
            "measures": measures(q.question, answers), "error": "; ".join(errors) or None}


async def answer(sot: SoT, question: str, mode: Literal["auto", "sot", "sequential"],
                 on_stop: Callable[[dict[str, Any]], None] | None = None,
                 why_stopped: Callable[[], str] = _interrupted) -> dict[str, Any]:
    """Answer in ``mode`` and keep what an evaluation reads: the answer, its skeleton, the mode actually used
    and why, timings, usage, retries; or the error, with the partial answer if any, and what its calls spent.
    Stopped (the run cancelled, Ctrl-C), it gives ``on_stop`` such a failed answer's record, saying
    ``why_stopped()``, and stops."""
    retries = 0
    result = None
    record: dict[str, Any] = {"model": sot.model, "requested_mode": mode, "error": None}
    stream = sot.stream(question, mode=mode)

    def spent(usage: Usage) -> dict[str, Any]:
        # a failed answer's attempts were paid for too (a stream that broke after its 200 is charged an estimate):
        # the report counts them in its mode's cost
        return {"retries": retries, "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                "calls": usage.calls, "cost": usage.cost, "usage_estimated": usage.estimated,
                # each call's model and tokens, priced in the report (lists: as a rerun reads them back)
                "priced_calls": [list(call) for call in usage.priced_calls]}
    def kept_at_the_stop(error: str) -> None:
        # (a call the stop ended before the server took it spent nothing: no failed attempt to count; review 263)
        if on_stop is not None and (usage := stream.result().usage).input_tokens + usage.output_tokens:
            on_stop(record | {"error": error} | spent(usage))

    try:
        async with stream as events:
            async for event in events:
                if event.type == "retry":
                    retries += 1
                elif event.type == "done":
                    result = event.result
    except Exception as exc:
        record["error"] = describe(exc)
        if every_question_alike(exc):  # the run stops (no record of it N times): what this answer spent is kept
            kept_at_the_stop(record["error"])
            raise
        result = exc.partial if isinstance(exc, PartialResultError) else None
    except BaseException:
        kept_at_the_stop(f"stopped before it finished ({why_stopped()})")
        raise
    record |= spent((stream.result() if result is None else result).usage)
    if result is None:
        return record
    return record | {
        "text": result.text, "mode": result.mode, "route_reason": result.route_reason,
        "skeleton": result.skeleton, "points": [p.text for p in result.points],
        "latency_s": result.timings.total_s, "first_text_s": result.timings.first_text_at,
        "truncated": result.truncated, "skeleton_truncated": result.skeleton_truncated,
        "filtered": _filtered(result),
        "batched": sot.backends[0].provider.supports_batch,  # its points written in one call
    }


async def judge_answers(judger: SoT, question: str, answers: dict[str, dict[str, Any]], settings: dict[str, Any],
                        previous: dict[str, Any] | None,
                        on_stop: Callable[[dict[str, Any]], None] = lambda judged: None) -> dict[str, Any]:
    """The judge's verdicts, general and per aspect; a reply already given by the same judge is kept (a verdict
    whose other order failed is finished by asking that order only). Stopped, it gives ``on_stop`` the verdicts so
    far, the replies that came included."""
    kept = previous.get("verdicts", {}) if previous and _same_judge(previous, settings) else {}
    verdicts: dict[str, Any] = {}
    errors: list[str] = []

    def judged() -> dict[str, Any]:
        return {"model": settings["judge"], "setup": settings["judge_setup"], "verdicts": verdicts,
                "error": "; ".join(errors) or None}

    for aspect in ["general", *settings["aspects"]]:
        if None not in kept_replies(kept.get(aspect), settings["judge_max_tokens"]):
            verdicts[aspect] = kept[aspect]
            continue
        verdicts[aspect], failures = await judge_pair(
            judger, question, answers["sot"]["text"], answers["sequential"]["text"],
            None if aspect == "general" else aspect, max_tokens=settings["judge_max_tokens"], kept=kept.get(aspect),
            on_stop=lambda so_far: on_stop(judged() | {"verdicts": verdicts | {aspect: so_far}}))
        if failures:
            group = ExceptionGroup(f"the judge failed in {len(failures)} of 2 orders", failures)
            if (config := group.subgroup(every_question_alike)) is not None:
                raise _first(config)  # the same for every question: stop the run
            on = "" if aspect == "general" else f"on the {aspect} aspect, "
            errors.append(on + describe(group, every="both orders"))
    return judged()


def measures(question: str, answers: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """The judge-free measures (``sotkit.quality``) of one question's answers; None where they do not apply."""
    # a failed answer's partial text is not measured: its points are those that did not fail
    sot, seq = [a if a and "text" in a and not a["error"] else None for a in (answers.get(m) for m in MODES)]
    found: dict[str, float | None] = {}
    if sot:
        as_sot = sot["mode"] == "sot"  # a fallen-back answer has no points to compare
        found["redundancy"] = quality.redundancy(sot["points"]) if as_sot else None
        found["restatement"] = quality.restatement(question, sot["points"]) if as_sot else None
    # compared only as answered alike (a mode kept from an earlier run may be another model's), and only whole
    # answers: one the provider's filter stopped is no answer to compare (a retry's wait is counted: the report
    # names the answers that waited, and SoT's parallel calls meet a rate limit sooner)
    if sot and seq and (sot.get("model"), _alike(sot)) == (seq.get("model"), _alike(seq)) \
            and not any(_stopped_by_filter(a) for a in (sot, seq)):
        found["length_ratio"] = quality.length_ratio(sot["text"], seq["text"])
        found["speedup"] = quality.speedup(seq["latency_s"], sot["latency_s"])
        sot_tokens, seq_tokens = _tokens_in_text(sot), _tokens_in_text(seq)
        found["speedup_per_token"] = None if sot_tokens is None or seq_tokens is None else \
            quality.speedup_per_token(seq["latency_s"], seq_tokens, sot["latency_s"], sot_tokens)
    return found


def _filtered(result: Result) -> bool:
    """Did the provider's filter stop the answer (the sequential answer's call, a point's, or the skeleton's, as
    its note says)? It is then no whole answer to time or to measure."""
    reasons = [result.finish_reason, *(p.finish_reason for p in result.points)]
    return any(reason in FILTERED for reason in reasons) or BY_FILTER in (result.route_reason or "")


def _alike(answer: dict[str, Any]) -> str | None:
    """What shapes both modes' answers, as ``answer`` was asked (an answer from before it was kept: its setup,
    then one for both modes)."""
    return answer.get("alike", answer.get("setup"))


def _stopped_by_filter(answer: dict[str, Any]) -> bool:
    """An answer's ``filtered``, or, in a record from before it was kept, its skeleton's note saying so."""
    return bool(answer.get("filtered")) or BY_FILTER in (answer.get("route_reason") or "")


def _tokens_in_text(answer: dict[str, Any]) -> int | None:
    """An answer's output tokens where each of its calls wrote text the answer has: the skeleton's and a call per
    point (or one for all of them: an in-process model's batch, ``batched``), or one. None where more were made (a
    retried or re-asked call, a skeleton whose answer fell back to sequential): their tokens, in no text of the
    answer, would credit it with speed it did not deliver."""
    calls = (2 if answer.get("batched") else len(answer["points"]) + 1) if answer["mode"] == "sot" else 1
    return answer["output_tokens"] if answer.get("calls") == calls and not answer.get("retries") else None


def _first(exc: BaseException) -> BaseException:
    """A group's first error, to raise as itself: the group it was in is not shown as its context (``from None``
    would lose its own cause too, which says what it was: a connection refused, say)."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    exc.__suppress_context__ = True
    return exc


def describe(exc: BaseException, every: str = "every time") -> str:
    """One line for an error; a task group's as its members', one the same in every member said once, with
    ``every`` ("both orders") in place of a repeat."""
    if isinstance(exc, BaseExceptionGroup):
        texts = list(dict.fromkeys(describe(member) for member in exc.exceptions))
        if len(texts) == 1 and len(exc.exceptions) > 1:
            return f"{texts[0][:480]} ({every})"
        return "; ".join(texts)[:500]
    return describe_one(exc, 500)  # with sotkit's notes: why it was not retried, the main model's error


def _record_problem(record: Any) -> str | None:
    """What is wrong with a line of ``results.jsonl`` for the report and a rerun to read it, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    for name, kinds in (("id", str), ("question", str), ("category", str), ("answers", dict), ("measures", dict),
                        ("judge", (dict, type(None))), ("error", (str, type(None)))):
        if not isinstance(record.get(name), kinds):
            return f"{name!r} is missing or a {type(record.get(name)).__name__}"
    for mode, answer in record["answers"].items():
        if not isinstance(answer, dict) or not isinstance(answer.get("error"), (str, type(None))):
            return f"answer {mode!r} is no answer record"
        if answer["error"] is None and not isinstance(answer.get("text"), str):  # a failed answer has no text
            return f"answer {mode!r} has no text"
        if not all(isinstance(answer.get(k), (int, float, type(None))) for k in ("latency_s", "first_text_s")):
            return f"answer {mode!r} has a latency that is no number"
    return None


class ResultStore:
    """``results.jsonl``: read once, then appended a line at a time, each flushed and fsynced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        if os.path.lexists(path):  # (a link to nowhere too)
            try:  # one it cannot append to is said before any call is paid for (not at the first answer's end)
                open(path, "ab").close()
            except OSError as exc:
                raise ConfigError(f"{path} cannot be written ({exc.strerror}); make it writable, or choose another "
                                  "--out") from None
            self._read()

    def _read(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            # a run killed mid-write left half a line: drop it, so the next line starts clean
            keep = data.rfind(b"\n") + 1
            with open(self.path, "r+b") as f:
                f.truncate(keep)
            data = data[:keep]
        # "\n" only: an answer may hold U+2028, U+2029 or U+0085, which json.dumps leaves raw and splitlines() splits at
        for number, line in enumerate(data.decode("utf-8").split("\n"), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            if (problem := _record_problem(record)) is not None:
                raise ConfigError(f"{self.path}, line {number}: not a sotkit eval record ({problem}); this file is "
                                  "written by sotkit eval only: delete that line to answer its question again, or "
                                  "move the file away, or choose another --out")
            self.records[record["id"]] = record

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:  # (a full disk's error, raised at the write, names no file)
            raise type(exc)(exc.errno, exc.strerror, str(self.path)) from exc
        self.records[record["id"]] = record
