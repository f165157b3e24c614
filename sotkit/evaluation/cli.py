"""``sotkit eval QUESTIONS.jsonl --model M [--judge J] ...``: the command-line face of ``evaluate``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import anyio

from ..console import to_stderr
from ..engines.commands import whole
from ..errors import ConfigError, SotkitError, clipped
from ..redact import redact
from ..retry import causes, no_server, status_of, url_asked
from ..templates import TEMPLATES_IN_CLI_WORDS
from .judge import JUDGE_MAX_TOKENS
from .questions import ALL
from .report import interval_text


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval", help="is SoT faster, and as good, on my questions? (answers in both modes, judged pairwise)",
        description="Answer every question with SoT and sequentially, judge each pair in both orders, and write "
                    "DIR/results.jsonl (resumable: rerun the same command to continue), DIR/report.md and plots.")
    parser.add_argument("questions", help='a JSON Lines file: {"question": ..., "id": ..., "category": ...} a line')
    parser.add_argument("--model", help="provider:model that answers (default: as for sotkit ask)")
    parser.add_argument("--judge", help="provider:model that judges the pairs (without it: judge-free measures only)")
    parser.add_argument("--modes", default="both", type=_modes, help="sot, sequential or both (default: both)")
    parser.add_argument("--out", help="directory for results and report (default: eval-<questions file name>)")
    parser.add_argument("--limit", type=whole(1), help="only the first N questions")
    parser.add_argument("--concurrency", type=whole(1), default=1,
                        help="questions answered at a time (default 1: latencies not inflated by other questions)")
    parser.add_argument("--aspects", action="store_true",
                        help="also judge coherence, diversity, immersion, integrity and relevance (LLMZoo's)")
    parser.add_argument("--judge-max-tokens", type=whole(1),
                        help=f"the judge's token budget per reply; a reply cut there gives no verdict (default "
                             f"{JUDGE_MAX_TOKENS})")
    parser.add_argument("--max-points", type=whole(2),
                        help="most points in a SoT answer's skeleton (default: the model's)")
    parser.add_argument("--templates", help="a directory of .jinja templates overriding the defaults, judges' too")
    parser.add_argument("--no-plots", dest="plots", action="store_false", help="no PNG plots (no matplotlib needed)")
    parser.add_argument("--json", action="store_true",
                        help="also print the figures as JSON on stdout (as DIR/summary.json holds them)")


def _modes(text: str) -> str:
    return "sot,sequential" if text.strip() == "both" else text  # evaluate checks the rest


#: ``evaluate``'s advice as this command's options say it (the specific ones first)
_CLI_WORDS = {"use modes=('sot', 'sequential') with judge=": "use --modes both (the default) with --judge",
              "aspects=True needs a judge= model": "--aspects needs a --judge model",
              "judge_max_tokens= needs a judge= model": "--judge-max-tokens needs a --judge model",
              "modes=": "--modes ", "max_points=": "--max-points ", " sequentially (mode='sequential') or": "",
              # the clients are built from --model, --judge and the environment alone (keys, base URLs)
              " or pass api_key=...": "", "Anthropic-compatible server, pass base_url=...":
                  "Anthropic-compatible server, set ANTHROPIC_BASE_URL", "pass base_url=...": "set OPENAI_BASE_URL",
              "(the judge's options go in judge_options=; those beside model= are the answering model's)":
                  "(the judge reads its key and base URL from the environment)", **TEMPLATES_IN_CLI_WORDS}


def _in_cli_words(message: str) -> str:
    for library, cli in _CLI_WORDS.items():
        message = message.replace(library, cli)
    return message


def _json_out(args: argparse.Namespace, value: dict[str, Any]) -> None:
    """With ``--json``, ``value`` on stdout: one JSON object, also for a run that failed or was stopped."""
    if args.json:
        print(json.dumps(value, indent=2))


def _advice(error: BaseException) -> str:
    """What to do about a server's refusal, or its absence, that stopped the run (``every_question_alike``), or
    nothing."""
    url = url_asked(error)
    status = next((code for cause in causes(error) if (code := status_of(cause)) is not None), None)
    if no_server(error):
        return (f"; the run stopped: is the server{' at ' + redact(url) if url else ''} up, and its URL right "
                "(OPENAI_BASE_URL, ANTHROPIC_BASE_URL)?")
    if status == 401:
        return ("; the run stopped: check the API key (OPENAI_API_KEY, ANTHROPIC_API_KEY) and that it is for "
                "--model and --judge")
    if status == 404:
        return (f"; the run stopped: check the model names in --model and --judge, and the URL asked"
                f"{', ' + redact(url) if url else ''} (OPENAI_BASE_URL, ANTHROPIC_BASE_URL)")
    return ""


def _check_out(out: Path) -> None:
    """Refuse an --out that cannot become a directory now, before any question is asked."""
    existing = next((path for path in (out, *out.parents) if path.exists()), None)  # "." or "/" at the latest
    if existing is not None and not existing.is_dir():
        raise ConfigError(f"--out {out}: {existing} is a file, not a directory; choose another --out")


def _kept(results: Path, *, judged: bool) -> str:
    """What an interrupted run left for the rerun, counted from ``results`` (Ctrl-C may come before any answer, or
    between a question's two answers, and the file may hold earlier runs' records)."""
    if not results.is_file() or not results.stat().st_size:
        return "no answer was finished, so nothing was saved: rerun the same command to start again"
    records: dict[Any, dict[str, Any]] = {}
    for line in results.read_text(encoding="utf-8", errors="replace").split("\n"):
        with suppress(ValueError):  # a line cut by the interrupt: the rerun drops it
            if isinstance(record := json.loads(line), dict):
                records[record.get("id")] = record  # the latest line of an id is its record
    answers = sum(isinstance(a, dict) and a.get("error") is None
                  for r in records.values() if isinstance(r.get("answers"), dict) for a in r["answers"].values())
    verdicts = sum(isinstance(r.get("judge"), dict) and r["judge"].get("error") is None  # (not a half: one order's
                   and all(isinstance(v, dict) and v.get("outcome") is not None  # reply, kept at the stop)
                           for v in (r["judge"].get("verdicts") or {None: None}).values()) for r in records.values())
    kept = f"{answers} finished answer(s)" + (f" and the verdicts on {verdicts} question(s)" if judged else "")
    return f"{kept} are kept in {results}: rerun the same command to continue (only what is missing is asked)"


def main(args: argparse.Namespace, run: Callable[..., Any] = anyio.run) -> int:
    """``sotkit eval``; ``run`` runs its coroutine function (``anyio.run``, or one that a signal stops)."""
    from ..client import default_model
    from .run import evaluate

    out = Path(args.out or f"eval-{Path(args.questions).stem}")
    # only when given: the answers' fingerprint then stays that of earlier runs without it
    request = {"max_points": args.max_points} if args.max_points else {}
    try:
        _check_out(out)
        model = default_model() if args.model is None else args.model  # `--model ""` is refused, not the default
        summary = run(lambda: evaluate(
            args.questions, model=model, judge=args.judge, modes=args.modes, out=out,
            limit=args.limit, concurrency=args.concurrency, aspects=args.aspects, templates=args.templates,
            plots=args.plots, progress=True, judge_max_tokens=args.judge_max_tokens, **request))
    except KeyboardInterrupt:
        to_stderr(f"\nsotkit eval: interrupted; {_kept(out / 'results.jsonl', judged=bool(args.judge))}")
        return 130  # (sotkit's main prints --json's object for the stop: it knows the signal)
    except Exception as exc:  # sotkit's, an SDK's error that every question meets (a key refused), a file it cannot
        said = (_in_cli_words(redact(str(exc))) if isinstance(exc, SotkitError) else
                redact(f"{type(exc).__name__}: {exc}")) + _advice(exc)  # write, ...: one line
        to_stderr(f"sotkit eval: error: {said}")
        _json_out(args, {"error": said, "type": type(exc).__name__})
        return 2 if isinstance(exc, ConfigError) else 1
    _json_out(args, summary.as_dict() | {"report": str(out / "report.md")})
    parts = [f"{len(summary.records)} question{'s' if len(summary.records) != 1 else ''}"]
    if summary.speedup is not None:
        parts.append(f"median speed-up {summary.speedup:.2f}x")
    if general := summary.verdicts.get("general"):  # the rate with the n it stands on, and what it leaves out
        t = general[ALL]
        counts = [f"{t.judged} judged"] + [f"{n} {name}" for n, name in (
            (t.unparseable, "unparseable"), (t.failed, "failed"), (t.fell_back, "fell back to sequential")) if n]
        rate = f"{t.net_win_rate:+.2f} (95% interval {interval_text(t)}; " if t.judged else "– ("
        parts.append(f"net win rate {rate}{', '.join(counts)})")
    if summary.judge_cut:
        n = summary.judge_cut
        parts.append(f"{n} judge repl{'y' if n == 1 else 'ies'} cut at --judge-max-tokens "
                     f"{args.judge_max_tokens or JUDGE_MAX_TOKENS}")
    if summary.judge_stopped:
        parts.append(f"{summary.judge_stopped} judge repl{'y' if summary.judge_stopped == 1 else 'ies'} stopped by "
                     "the provider")
    if cut := sum(len(ids) for ids in summary.cut.values()):
        parts.append(f"{cut} answer(s) cut off")
    if waited := sum(len(ids) for ids in summary.waited.values()):
        parts.append(f"{waited} answer(s) waited for a retry (their latencies hold the wait)")
    for mode, cost in summary.cost.items():
        parts.append(f"{mode} cost " + ("unknown" if cost.total is None
                                         else f"{'~' if cost.estimated and cost.total else ''}${cost.total:.6f}"))
    to_stderr(f"sotkit eval: {', '.join(parts)}; report: {out / 'report.md'}")
    if summary.failed:  # why, too: a rerun cannot mend a wrong key or URL (the report has every error)
        why = clipped(_in_cli_words(redact(" ".join(next(r["error"] for r in summary.records if r["error"]).split()))),
                      300)
        to_stderr(f"sotkit eval: {len(summary.failed)} question(s) failed ({', '.join(summary.failed)}), the first "
                  f"with {why}; rerun the same command to retry them")
        return 1
    return 0
