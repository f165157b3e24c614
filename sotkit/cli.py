"""``sotkit ask "question"`` (or ``sotkit ask -``, the question on stdin): stream a Skeleton-of-Thought answer
to the terminal.

The answer goes to stdout as it is stitched; the route, the skeleton as it forms, retries and the closing
usage line go to stderr, so ``sotkit ask ... > answer.txt`` keeps only the answer.

A terminal cannot take back what it printed: when a retried point withdraws text it had streamed
(``WithdrawEvent``), the terminal shows a ``[restarted]`` mark and the point again from its header (``[left
out]`` after a point that failed for good, and the answer goes on below it). Written to a
file or a pipe, stdout gets the answer once, when it is complete, so it is exactly ``result.text`` (Ctrl-C there
prints what was written so far). Under ``--json`` (``ask``'s and ``router eval``'s), once the options parse, stdout
gets one JSON object whatever happens: the result, or ``{"error": ..., "type": ...}`` with the partial result's fields
where there is one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import difflib
import importlib
import json
import math
import os
import re
import select
import signal
import ssl
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, NoReturn

import anyio

from . import (ConfigError, FallbackEvent, FallbackWarning, PartialResultError, Result, RetryEvent, SoT, SotkitError,
               StreamError, Usage, __version__, default_model)
from .client import FALLBACK_OPTIONS
from .console import discard, escaped, to_stderr
from .engines import registry
from .engines.commands import number, whole
from .engines.models import INSTALL_LOCAL, LOCAL_EXTRA, check_device
from .evaluation import cli as eval_cli
from .providers import base_url_variable
from .providers.openai import AZURE_CLIENT
from .providers._sse import BROKE_OFF
from .providers.base import NO_ENDPOINT, cut_by
from .redact import redact, shown_url
from .retry import causes, quota_spent, url_asked
from .router import check_threshold
from .templates import TEMPLATES_IN_CLI_WORDS
from .router import cli as router_cli


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # `sotkit ask "-why?"` reads the question as an unknown option; "-how ...?" as -h with a value
        if message.endswith("required: question") or self.prog.endswith(" ask") and message.startswith(
                "argument -h/--help: ignored explicit argument"):
            message += ('; if it begins with "-", put it after --: sotkit ask -- "-v or -V?" (or on stdin: '
                        "sotkit ask -)")
        super().error(message)


def _long_options(parser: argparse.ArgumentParser, args: argparse.Namespace | None = None) -> dict[str, str]:
    """Every ``--option`` of ``parser`` and of its commands (only those ``args`` chose, when given), with the
    command it belongs to ("sotkit router eval")."""
    found: dict[str, str] = {}
    for action in parser._actions:
        found |= {name: parser.prog for name in action.option_strings if name.startswith("--")}
        if isinstance(action, argparse._SubParsersAction):
            chosen = [getattr(args, action.dest, None)] if args is not None else list(action.choices)
            for command in filter(None, chosen):
                found = _long_options(action.choices[command], args) | found
    return found


def _seconds(text: str) -> float:
    """argparse's type for a number of seconds above 0."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is no number of seconds") from None
    if not 0 < seconds < math.inf:
        raise argparse.ArgumentTypeError(f"{text} is no finite number of seconds above 0")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sotkit", description="LLM answers sooner, by decoding in parallel.")
    parser.add_argument("--version", action="version", version=f"sotkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{ask,prepare,engines,eval,router}")
    ask = commands.add_parser("ask", help="answer a question")
    ask.add_argument("question", help='the question, in quotes: sotkit ask "How can I sleep better?"; or - to read '
                                      "it from stdin (UTF-8), for one too long for the command line: "
                                      "sotkit ask - < question.txt")
    ask.add_argument("--model", help="provider:model, e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-6, "
                                     "local:smollm2 (default: $SOTKIT_MODEL, else by which API key is set)")
    ask.add_argument("--mode", choices=["auto", "sot", "sequential"], default="auto",
                     help="sot: skeleton then points in parallel; sequential: one plain answer; auto (default): the "
                          "router decides")
    ask.add_argument("--router", help="how mode=auto decides: default, rules, llm, embedding or embedding:PATH")
    ask.add_argument("--router-threshold", type=float, metavar="P",
                     help="for a learned router (default, embedding): the calibrated P(sot) from which it says SoT "
                          "(default: the router's own, 0.65 for the default, 0.6 for embedding, the file's for "
                          "embedding:PATH; higher is more precise, lower sends more questions to SoT)")
    ask.add_argument("--fallback", help="model for what fails on the main model: an answer, a skeleton or points (an "
                                        "API model's key and base URL come from the environment, not --base-url)")
    ask.add_argument("--base-url", help="an OpenAI- or Anthropic-compatible server, with --model "
                     "openai:<name> or anthropic:<name>")
    ask.add_argument("--templates", help="a directory of .jinja templates overriding the defaults")
    ask.add_argument("--max-points", type=whole(2),
                     help="most points in a skeleton (default: the model's; 10, or 6 for local models)")
    ask.add_argument("--max-tokens", type=whole(1), metavar="N",
                     help="token budget of a sequential answer (default 1024)")
    ask.add_argument("--skeleton-max-tokens", type=whole(1), metavar="N",
                     help="token budget of the skeleton (default 300)")
    ask.add_argument("--point-max-tokens", type=whole(1), metavar="N",
                     help="token budget of each point (default 300, 128 for local: models; a reasoning model "
                          "spends it on reasoning first)")
    ask.add_argument("--temperature", type=number(at_least=0, at_most=2), metavar="T",
                     help="sampling temperature of every call, 0 to 2 (default: the API's; local: models decode "
                          "greedily)")
    ask.add_argument("--deadline", type=_seconds, help="seconds for the whole answer")
    ask.add_argument("--timeout", type=_seconds, metavar="S",
                     help="for an API model: seconds a call waits for its first text, and to connect and send "
                          "(default 60; for a local: model's API --fallback, its wait for a first text)")
    ask.add_argument("--max-concurrency", type=whole(1), metavar="N",
                     help="most calls to the model at once (default 16; a server's slots, for one that has few)")
    ask.add_argument("--on-point-error", choices=["skip", "raise"], default="skip",
                     help="a point that fails after its retries and the fallback (or a skeleton that does, after two "
                          "points or more): leave it out with a note on stderr (default), or print the rest and exit "
                          "with status 1")
    ask.add_argument("--device", help="for a local: model (the --model, else a local --fallback): cpu, cuda, "
                     "cuda:N, mps or auto")
    ask.add_argument("--fast-decode", action="store_true", default=None,
                     help="for a local: model, as --device: greedy decoding on a static cache and CUDA graphs (on a "
                          "GPU several times faster; no faster on a CPU)")
    ask.add_argument("--json", action="store_true", help="print the whole result as JSON at the end")
    ask.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands.add_parser("prepare", help="de-quantise the embedded model (local:smollm2) into the cache now, once per "
                                        "machine (about 20 s), so that its first answer does not wait: for set-up "
                                        "scripts and container images")
    engine_commands = registry.commands()
    engines = commands.add_parser("engines", help="self-hosted engines: " + ", ".join(
        f"{command} ({engine.name})" for command, engine in sorted(engine_commands.items())))
    engines.add_argument("engine", choices=sorted(engine_commands))
    engines.add_argument("args", nargs=argparse.REMAINDER, help="the engine's own command and options")
    eval_cli.add_parser(commands)
    router_cli.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # argparse's own message, with the likely cause of a stray word after a question, or of a typo
        unquoted = args.command == "ask" and not any(word.startswith("-") for word in extra)
        options, elsewhere = _long_options(parser, args), _long_options(parser)
        meant = []  # for each unknown option: the likely one, or the command it belongs to
        for word, name in ((word, word.partition("=")[0]) for word in extra if word.startswith("--")):
            if close := difflib.get_close_matches(name, options, 2, 0.75):
                meant.append(f"{word} (did you mean {' or '.join(close)}?)")
            elif name in elsewhere:
                meant.append(f"{word} is an option of {elsewhere[name]}" + (
                    " (here a model's base URL comes from $OPENAI_BASE_URL or $ANTHROPIC_BASE_URL)"
                    if name == "--base-url" else ""))
        parser.error(f"unrecognized arguments: {' '.join(extra)}" + (
            f'; put a question of several words in quotes: sotkit ask "{args.question} {" ".join(extra)}"'
            if unquoted else "") + (f"; {', '.join(meant)}" if meant else ""))
    if args.command == "engines":
        try:
            return importlib.import_module(registry.commands()[args.engine].cli_module).main(args.args) or 0
        except ModuleNotFoundError as exc:  # an install without the local extra: its --help works, nothing else
            if exc.name not in LOCAL_EXTRA:
                raise
            to_stderr(f"sotkit: error: the engines need {exc.name!r}, which is not installed; install the local "
                      f"extra: {INSTALL_LOCAL}")
            return 2
    so_far = _SoFar()
    restore: dict[int, Any] = {}
    if args.command in ("ask", "router", "eval"):  # what they wrote is kept on a SIGTERM as on Ctrl-C
        restore = _catch(_unless_ignored(_TERMINATING, so_far.terminate))
        if (interrupt := signal.getsignal(signal.SIGINT)) is not None:  # the run sets its own: set back at the end
            restore[signal.SIGINT] = interrupt
    if args.command == "eval":
        try:
            status = eval_cli.main(args, so_far.run)  # (it says what it kept on Ctrl-C: 130)
            if status == 130 and args.json:  # a script reading stdout gets one JSON object
                _keep_going_without_stdout(_out, _json(_stopped(so_far)))
        finally:
            _catch(restore)
        return 128 + so_far.terminated_by if status == 130 and so_far.terminated_by else status
    stdout, errors = sys.stdout, getattr(sys.stdout, "errors", None)
    try:
        if args.command == "router":
            return router_cli.main(args, so_far.run)
        if args.command == "prepare":
            from .engines.models import EMBEDDED, check_available, embedded_model_dir

            check_available(EMBEDDED)  # the local extra first: a copy made earlier is no use without it
            print(embedded_model_dir())
            return 0
        if sys.stdout is None:  # closed (`>&-`): print() would drop the answer without a word
            raise ConfigError("stdout is closed, and sotkit ask writes the answer there: redirect it to a file or "
                              "/dev/null instead")
        if hasattr(sys.stdout, "reconfigure"):  # a stdout that cannot encode a character (an ASCII locale, a lone
            sys.stdout.reconfigure(errors="backslashreplace")  # surrogate) shows it escaped rather than lose it all
        with warnings.catch_warnings():
            # sotkit's notes (a serial server, a refused temperature) are shown, not raised where the environment
            # makes warnings errors (PYTHONWARNINGS=error): the answer matters more than a note on its speed
            warnings.filterwarnings("default", category=UserWarning, module="sotkit")
            warnings.filterwarnings("ignore", category=FallbackWarning)  # each fallback is noted, with its error
            warnings.showwarning = lambda message, *_: _note(f"warning: {message}")  # one line, like the rest
            status = so_far.run(_ask, args, so_far)
            if so_far.stopping_since is not None:  # a signal let go as the whole answer printed: it ends as a stop
                raise KeyboardInterrupt
            return status
    except KeyboardInterrupt as stop:
        # a second Ctrl-C must not cut the answer so far as it prints (a third, or a later SIGTERM, ends the process)
        restore = _catch(_unless_ignored((signal.SIGINT, *_TERMINATING), _Presses(so_far.stopping_since))) | restore
        status = 128 + (so_far.terminated_by or signal.SIGINT)
        if args.command == "ask":
            _keep_going_without_stdout(_interrupted, args, so_far)
        elif getattr(args, "json", False):  # router eval's: a script reading stdout gets one JSON object, with the
            _keep_going_without_stdout(_out, _json(_stopped(so_far) | getattr(stop, "so_far", {})))  # figures so far
        _exit_now_if_threads_run(status)
        return status
    except BrokenPipeError:  # stdout's reader left (`| head`): stop quietly, as a writer the pipe's signal ends
        discard(sys.stdout)
        return 141
    except Exception as exc:  # sotkit's errors, and the SDKs' own (authentication, connection): one line
        so_far.printing = True  # (a signal now would raise into the writing of what was written: review 205)
        as_json = getattr(args, "json", False)  # ask's and router eval's option
        partial = exc.partial if isinstance(exc, PartialResultError) else None
        # what a request that failed with the SDK's error spent: its calls are paid for all the same
        spent = so_far.events.result() if partial is None and so_far.events is not None else None
        if spent is not None and not (spent.usage.input_tokens or spent.usage.output_tokens):
            spent = None  # refused before any call started (a 401): nothing was spent
        if partial is not None:  # what was written, once: a terminal already shows it
            _keep_going_without_stdout(_show, partial, as_json, so_far.shown, error=_error(exc))
        elif as_json:  # a script reads stdout: it gets one JSON object for every failure
            _keep_going_without_stdout(_out, _json(_error(exc) | ({"usage": spent.to_dict()["usage"]} if spent
                                                                   else {})))
        if spent is not None:
            _note(f"spent before the error: {_calls(spent.usage)}, {_tokens(spent.usage)}, {_cost(spent.usage)}")
        debug = getattr(args, "debug", False)
        if debug:  # then the one line and the exit status, as without --debug (2: wrong before any call)
            to_stderr(redact("".join(traceback.format_exception(exc))).rstrip())
        if isinstance(exc, SotkitError):
            to_stderr(f"sotkit: error: {_own_message(exc)}")
            return 2 if isinstance(exc, ConfigError) else 1
        more = "" if debug else " (--debug shows the traceback)"
        to_stderr(f"sotkit: error: {type(exc).__name__}: {_message(exc)}{more}")
        return 1
    finally:
        _catch(restore)  # as they were: main may run in a process that goes on (a test, a wrapper)
        if errors is not None and hasattr(stdout, "reconfigure") and not stdout.closed:
            with contextlib.suppress(OSError, ValueError):  # it flushes first: into a full disk, say
                stdout.reconfigure(errors=errors)


#: signals that end ``sotkit ask``, ``eval`` and ``router`` as Ctrl-C does: docker stop, systemd and timeout send
#: SIGTERM; a closed ssh session SIGHUP (not on Windows)
_TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class _Presses:
    """A signal after the one that stopped the answer, while the answer so far prints: Ctrl-C is let go, the next one
    ending the process at once; SIGTERM or SIGHUP ends it at once. A burst counts as one: a signal within
    ``BURST_S`` of the first (a supervisor's to the process and to its group), or a Ctrl-C within it of the one
    before (a key held down), is let go (it killed the process before its JSON was out: probes 131 and 199)."""

    BURST_S = 0.3

    def __init__(self, first: float | None = None) -> None:
        self.first = self.last = time.monotonic() if first is None else first

    def __call__(self, number: int, _: object) -> None:
        now = time.monotonic()
        if now - (self.last if number == signal.SIGINT else self.first) > self.BURST_S:
            signal.signal(number, signal.SIG_DFL)
            if number != signal.SIGINT:
                os.kill(os.getpid(), number)
        self.last = now


def _unless_ignored(numbers: Iterable[int], handler: Any) -> dict[int, Any]:
    """``handler`` for each signal of ``numbers`` not ignored: one ignored (as nohup ignores SIGHUP, or a background
    job Ctrl-C) stays ignored."""
    return {number: handler for number in numbers if signal.getsignal(number) is not signal.SIG_IGN}


def _catch(handlers: dict[int, Any]) -> dict[int, Any]:
    """Set the signal handlers given, in the main thread (Python refuses it elsewhere); the ones they replace."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {number: signal.signal(number, handler) for number, handler in handlers.items()}


@dataclasses.dataclass
class _SoFar:
    """Where ``_ask`` leaves the answer as it stood when Ctrl-C stopped it (none before the request began)."""

    events: Any = None
    """The request's stream while it is read (None before and after): its result is read once the stream is closed,
    when text that a stop cut mid-call is marked so."""
    shown: str | None = None
    """The answer's text a live terminal shows (None: stdout is no terminal, or takes JSON)."""
    terminated_by: int | None = None
    """The signal that stopped it, where not Ctrl-C (``_TERMINATING``)."""
    stopping_since: float | None = None
    """When the first signal began to stop the run (``interrupting``)."""
    printing: bool = False
    """The whole answer (or an error's) is being printed: a stop prints nothing more."""
    presses: Any = None
    """``_Presses`` for the signals after the first as it prints (``_while_printing``)."""
    stop_run: Any = None
    """What stops the run while ``run`` runs the command, as ``interrupting`` calls it: the event loop's Ctrl-C
    handler, or a cancel of the run's task where the loop set none (else None)."""

    def run(self, function: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """``anyio.run(function, *args)``, which Ctrl-C, SIGTERM and SIGHUP stop as the event loop stops on Ctrl-C:
        the run is cancelled, its cleanups run, then KeyboardInterrupt. Where the loop sets no Ctrl-C handler of its
        own (Ctrl-C ignored, as in a background job or under nohup; a wrapper's handler) a SIGTERM cancels the run's
        task as it would (a KeyboardInterrupt raised from the signal handler into the loop left a traceback, or a
        worker thread that held the exit a minute), and Ctrl-C is left as it was."""
        before = signal.getsignal(signal.SIGINT)

        async def first_step() -> Any:
            loops = signal.getsignal(signal.SIGINT)
            if loops is not before and callable(loops):  # the loop put its own in
                self.stop_run = self.interrupting(loops)
                _catch({signal.SIGINT: self.stop_run})
            else:
                task, loop = asyncio.current_task(), asyncio.get_running_loop()
                cancelled: list[bool] = []

                def cancel(*_: object) -> None:  # as asyncio's own handler: a second time (it goes on), at once
                    if cancelled or task is None or task.done():
                        raise KeyboardInterrupt
                    cancelled.append(True)
                    loop.call_soon_threadsafe(task.cancel)

                self.stop_run = self.interrupting(cancel)
            return await function(*args)

        try:
            return anyio.run(first_step)
        except asyncio.CancelledError:  # cancelled by a signal: ended as the loop ends a run Ctrl-C cancelled
            if self.stopping_since is None:
                raise
            raise KeyboardInterrupt from None
        finally:
            self.stop_run = None

    def terminate(self, number: int, _: object) -> None:
        """SIGTERM or SIGHUP stops the answer as Ctrl-C does, so that what was written is kept."""
        if self.stopping_since is None:
            self.terminated_by = number
        if self.printing:
            self._while_printing(number)
        elif self.stop_run is not None:  # it cancels the run, ended as Ctrl-C's
            self.stop_run(signal.SIGINT, None)
        # outside ``run``: as Ctrl-C would stop it, also where Ctrl-C is ignored; once for a burst, as ``interrupting``
        elif self.stopping_since is None or time.monotonic() - self.stopping_since > _Presses.BURST_S:
            self.stopping_since = self.stopping_since or time.monotonic()
            raise KeyboardInterrupt

    def interrupting(self, handler: Any) -> Any:
        """The event loop's Ctrl-C ``handler``, called once for a burst of signals: called again while the run
        stops, it raises KeyboardInterrupt into the cancellation half unwound, which then may never end (review
        201). A signal past ``_Presses.BURST_S`` still forces the stop."""
        def interrupt(number: int, frame: object) -> None:
            now = time.monotonic()
            if self.printing:  # (the loop's handler would raise into it)
                self._while_printing(number)
            elif self.stopping_since is None:
                self.stopping_since = now
                handler(number, frame)
            elif now - self.stopping_since > _Presses.BURST_S:
                handler(number, frame)
        return interrupt

    def _while_printing(self, number: int) -> None:
        """A signal as the whole answer prints: the first is kept for the exit status after it (the answer is
        whole); those after it are ``_Presses``'s, as while an answer so far prints."""
        if self.presses is not None:
            self.presses(number, None)
        else:
            self.stopping_since = self.stopping_since or time.monotonic()
            self.presses = _Presses(self.stopping_since)


def _exit_now_if_threads_run(status: int) -> None:
    """After Ctrl-C: a local model's first conversion or load runs on in a worker thread, which nothing can stop,
    and Python's exit would wait for it (20 s and more) only to lose its work; exit at once instead (what was
    printed is flushed first)."""
    if any(thread.is_alive() and not thread.daemon and thread is not threading.main_thread()
           for thread in threading.enumerate()):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError):  # closed, or unwritable: the exit comes all the same
                stream.flush()
        os._exit(status)


def _interrupted(args: argparse.Namespace, so_far: _SoFar) -> None:
    """Ctrl-C or SIGTERM: a terminal already shows the answer so far; a file or pipe gets it now, so that it is not
    lost."""
    stopped = _stopped(so_far)
    how = f"terminated ({stopped['type']})" if so_far.terminated_by else "interrupted (Ctrl-C)"
    if so_far.printing:  # the whole answer, printed on in spite of the signal (``_out``): nothing more
        _note(f"{how} as the whole answer was printed")
        return
    result = so_far.events.result() if so_far.events is not None else None
    if result is not None:
        _show(result, args.json, so_far.shown, error=stopped)
    elif args.json:
        _out(_json(stopped))
    _note(f"{how}: the answer stops where it was cut" if result is not None and result.text else
          f"{how} before any of the answer was written")


def _stopped(so_far: _SoFar) -> dict[str, str]:
    """``--json``'s error after Ctrl-C, SIGTERM or SIGHUP."""
    by = signal.Signals(so_far.terminated_by).name if so_far.terminated_by else None
    return {"error": "terminated", "type": by} if by else {"error": "interrupted", "type": "KeyboardInterrupt"}


#: the library's advice as this command's options say it
_CLI_WORDS = {"on_point_error='skip' to": "--on-point-error skip to", "fallback= to": "--fallback MODEL to",
              "it usually comes from decoding bytes with errors='surrogateescape': decode with errors='replace' "
              "instead": "the command line holds bytes that are not UTF-8: pass the question in UTF-8 (a UTF-8 "
                         "terminal, or iconv -f ITS-ENCODING -t utf-8 for text from a file)",
              " or pass api_key=...": "", "pass base_url=...": "pass --base-url URL", AZURE_CLIENT: "",
              "pass model='provider:model'": "pass --model MODEL",
              "a larger max_tokens": "a larger --max-tokens",
              "a larger point_max_tokens": "a larger --point-max-tokens",
              "(skeleton_max_tokens=": "(--skeleton-max-tokens ", "(point_max_tokens)": "(--point-max-tokens)",
              "(max_tokens)": "(--max-tokens)", "max_points=": "--max-points ",
              "sequentially (mode='sequential')": "sequentially (--mode sequential)",
              "raise first_token_timeout= (timeout= where it is not given)": "raise --timeout",
              "set max_concurrency= to its slots": "set --max-concurrency to its slots",
              " (Point.done; the others are cut or missing)": "; the others are cut off or missing",
              "use device='cpu' or device='auto'": "use --device cpu or --device auto",
              "or device='cuda' for the first": "or --device cuda for the first",
              "raise RetryPolicy(max_wait_s=...) to wait that long": "try again then (sotkit ask waits no longer; "
                                                                     "the library's RetryPolicy(max_wait_s=...) does)",
              " is in .partial": " is printed on stdout",
              **TEMPLATES_IN_CLI_WORDS,
              FALLBACK_OPTIONS: "A --fallback model reads its key and base URL from the environment only "
                                "(OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL)"}


#: text the library's messages quote as repr quotes it (a title, a model's reply, the question, a server's excerpt):
#: the model's or the user's words, which no advice replaces. It opens after a space or " (", not after "=" or a
#: call's "(" (device='cpu', create_provider('provider:model', ...)) nor in a word (a model's), and closes before a
#: space or one of "),:;."
_REPR = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""  # a str as repr quotes it
_QUOTED = re.compile(rf"""((?:(?<= \()|(?<=\s)|^){_REPR}(?=[\s),:;.]|$))""")


def _in_cli_words(message: str) -> str:
    words = dict(_CLI_WORDS)
    if FALLBACK_OPTIONS in message:  # the fallback's own error: --base-url is the main model's
        words["pass base_url=..."] = "set ANTHROPIC_BASE_URL" if "Anthropic-compatible" in message \
            else "set OPENAI_BASE_URL"
    parts = _QUOTED.split(message)  # (the quoted words at the odd places)
    for library, cli in words.items():
        parts[::2] = [part.replace(library, cli) for part in parts[::2]]
    return "".join(parts)


def _error(exc: Exception) -> dict[str, str]:
    """An error as ``--json`` shows it."""
    return {"error": _own_message(exc) if isinstance(exc, SotkitError) else _message(exc),
            "type": type(exc).__name__}


def _own_message(error: Exception) -> str:
    """One line for sotkit's own error, in this command's words; a server's error sent inside its stream (the error
    itself, or what a partial answer broke off for), and a spent quota a partial answer broke off for, get the hint
    their status would (a spent quota, a request too large)."""
    sent = next((cause for cause in causes(error) if isinstance(cause, StreamError) or quota_spent(cause)), None)
    return _in_cli_words(_with_notes(error)) + (_hint(sent) if sent is not None else "")


def _message(error: Exception) -> str:
    """One line for an SDK's error, with what to do about it."""
    return _with_notes(error, f"{str(error)[:300]}{_hint(error)}")


def _with_notes(error: Exception, said: str | None = None) -> str:
    """The error's message (or ``said`` of it) and its notes: which model failed, where a fallback's error is shown;
    the keys and URL passwords of sotkit's clients as ``***``."""
    return redact(" ".join([str(error) if said is None else said, *getattr(error, "__notes__", ())]))


def _hint(error: BaseException) -> str:
    status = getattr(error, "status_code", None)
    if status in (401, 403):
        return "; check the API key (OPENAI_API_KEY, ANTHROPIC_API_KEY) and that it is for this --model"
    if status == 404 and NO_ENDPOINT.match(said := str(error)):  # LM Studio's: the path, never the model (review 322)
        return "; the server serves no such path: check --base-url" + (
            " (it has /v1 twice: Anthropic's SDK adds /v1 itself, so give the server's URL without it)"
            if "/v1/v1/" in said else "" if "/v1/" in said
            else " (a compatible server's API is under /v1, as in http://host:port/v1)")
    if status == 404:  # a wrong name, or a base URL the API is not under (most compatible servers' is at /v1)
        url = url_asked(error)
        return "; check the model name in --model" + (
            f" and the URL asked, {url}" + ("" if "/v1/" in url else " (a compatible server's API is under /v1, "
                                            "as in --base-url http://host:port/v1)") if url else " (and --base-url)")
    if quota_spent(error):  # the SDK's words ("You exceeded your current quota") read as a rate limit to wait out
        return "; the account's quota or spend limit ran out (not retried): check its plan and billing"
    if status == 413:  # the API's own limit, or a proxy's before it (nginx's bare page says only "413")
        return ("; the request was too large for the server or a proxy before it (nginx's client_max_body_size): "
                "shorten the question")
    if BROKE_OFF in str(error):
        return "; the server answered, then broke off on every attempt (overloaded, or a proxy's time limit?)"
    if status == 407 or any("Proxy" in type(cause).__name__ for cause in causes(error)):  # httpx's, aiohttp's
        return ("; the proxy failed: check $HTTPS_PROXY, $HTTP_PROXY or $ALL_PROXY, its credentials, and that it "
                "reaches --base-url's host (or $NO_PROXY for a server to reach directly)")
    if any(isinstance(cause, ssl.SSLError) for cause in causes(error)):
        return ("; TLS failed: an https:// URL for a server that speaks plain http (use http://: check --base-url, "
                "$OPENAI_BASE_URL, $ANTHROPIC_BASE_URL), or a certificate this machine does not trust")
    if "Connection" in type(error).__name__ or "Timeout" in type(error).__name__:
        return "; check --base-url (or $OPENAI_BASE_URL, $ANTHROPIC_BASE_URL) and that the server is reachable"
    return ""


async def _ask(args: argparse.Namespace, so_far: _SoFar) -> int:
    if args.router_threshold is not None:  # named as typed, not as the client's router_threshold
        check_threshold(args.router, args.router_threshold, "--router-threshold")
    model = default_model() if args.model is None else args.model
    if args.model is None:
        why = {"local:smollm2": "no OPENAI_API_KEY or ANTHROPIC_API_KEY is set, so the embedded model answers"}
        _note(f"model {model} ({why.get(model, 'from the environment')}; choose with --model)")
    options: dict[str, Any] = {k: v for k, v in {
        "fallback": args.fallback, "base_url": args.base_url, "templates": args.templates,
        "router": args.router, "router_threshold": args.router_threshold, "device": args.device,
        "fast_decode": args.fast_decode, "timeout": args.timeout, "max_concurrency": args.max_concurrency,
    }.items() if v is not None}
    local_options: dict[str, Any] = {k: options.pop(k) for k in ("device", "fast_decode") if k in options}
    per_request = {"on_point_error": args.on_point_error} | {name: getattr(args, name) for name in (
        "max_points", "max_tokens", "skeleton_max_tokens", "point_max_tokens", "temperature")
        if getattr(args, name) is not None}
    live = sys.stdout.isatty() and not args.json  # else the answer is printed once, complete
    so_far.shown = "" if live else None
    async with contextlib.AsyncExitStack() as stack:
        if model.startswith("local:"):
            if "timeout" in options and (args.fallback or "local:").startswith("local:"):  # (an in-process model
                # loads at its first call: it has no first-text timeout; an API fallback has one, timeout=)
                raise ConfigError(f"--timeout is for API models, and --model {model} runs in this process; use "
                                  "--deadline to bound the answer")
            if "base_url" in options:  # (the library's refusal names base_url=)
                raise ConfigError(f"--base-url is for API models (openai:, anthropic:), and --model {model} runs in "
                                  "this process; leave --base-url out, or name the server's model: --model "
                                  "openai:NAME")
            options |= local_options
        elif local_options:  # the fallback's, then: a provider built here
            flags = " and ".join(f"--{k.replace('_', '-')}" for k in local_options)
            if not (args.fallback or "").startswith("local:"):
                raise ConfigError(f"{flags} {'are' if len(local_options) > 1 else 'is'} for local: models, and "
                                  f"neither --model {model} nor --fallback {args.fallback or '(none)'} is one; leave "
                                  f"{flags} out")
            from .providers import create_provider

            options["fallback"] = create_provider(args.fallback, **local_options)
            stack.push_async_callback(options["fallback"].aclose)
        if "device" in local_options:  # a GPU that is not there: said now, not at the first call, after the route
            await anyio.to_thread.run_sync(partial(check_device, local_options["device"], present=True),
                                           abandon_on_cancel=True)  # (it imports torch: Ctrl-C stops the wait)
        sot = await stack.enter_async_context(SoT(args.model, **options))  # None: names a bad $SOTKIT_MODEL
        if args.base_url and args.fallback and (variable := base_url_variable(args.fallback)) \
                and os.environ.get(variable, "").rstrip("/") != args.base_url.rstrip("/"):  # (probe 131)
            where = shown_url(os.environ.get(variable) or "") or "unset: its own API"
            _note(f"--fallback {args.fallback} goes to ${variable} ({where}), not to --base-url, which is --model's")
        # (stdin read off the loop: Ctrl-C while a question is still coming stops it before any request begins, where
        # the blocking read went on to the stream's end, and its half was asked)
        question = await anyio.to_thread.run_sync(_question, args.question, abandon_on_cancel=True)
        so_far.events = events = await stack.enter_async_context(
            sot.stream(question, mode=args.mode, deadline=args.deadline, **per_request))
        result = await _read(events, so_far if live else None)
    so_far.events, so_far.printing = None, True  # a stop from here on prints nothing more: the answer is whole
    _show(result, args.json, so_far.shown)
    return 0


def _json(value: dict[str, Any]) -> str:
    """``--json``'s output: text as it is where stdout writes UTF-8 ("睡眠", not "\\u7761\\u7720"), else escaped
    as JSON escapes it (stdout's own escapes, "\\xe9", would be no JSON)."""
    utf8 = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "").replace("_", "") == "utf8"
    # JSON escapes C0 controls itself; C1's (a terminal's CSI, U+009B) and DEL are escaped too (review 201)
    return _C1.sub(lambda c: f"\\u{ord(c[0]):04x}", json.dumps(value, indent=2, ensure_ascii=not utf8))


_C1 = re.compile("[\x7f-\x9f]")


def _question(given: str) -> str:
    """The question given, or, for ``-``, stdin's text (the Unix convention): a question over the command line's
    limit (about 128 KiB) can only come that way."""
    if given != "-":
        try:  # UTF-8 that Python read in a locale's other encoding (LC_ALL=C with PYTHONUTF8=0): its bytes again
            return os.fsencode(given).decode("utf-8") if not given.isascii() else given
        except UnicodeError:
            return given  # not UTF-8 bytes: the client says what to do
    data = sys.stdin.buffer.read() if sys.stdin else b""  # no stdin at all (closed: <&-) is an empty one
    try:
        text = data.decode("utf-8-sig")  # a file saved with a byte-order mark
    except UnicodeDecodeError as exc:
        raise ConfigError(f"sotkit ask -: stdin is not UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start}); "
                          "convert it first from its encoding (latin1, cp1252, ...): iconv -f latin1 -t utf-8 FILE | "
                          "sotkit ask -") from None
    if not text.strip():
        raise ConfigError('sotkit ask -: stdin held no question; pipe one in (echo "How can I sleep better?" | '
                          "sotkit ask -) or give it as an argument in quotes")
    return text


#: what differs between errors of one kind: request ids, a point's number and title (its repr), numbers
_PARTICULARS = re.compile(rf"\(request_id: [^)]*\)|point \d+ \({_REPR}\)|\d+")


def _call(event: RetryEvent | FallbackEvent) -> str:
    return {"point": f"point {event.index}", "sequential": "answer"}.get(event.call, event.call)


async def _read(events: Any, live: _SoFar | None) -> Result:
    """Show each event as it comes (the answer's text too where ``live``, which keeps what it showed); the result
    at the end."""
    shown = ""
    told: set[tuple[str, str]] = set()  # kinds of fallback noted
    restarted: set[int | None] = set()  # points whose shown text was taken back for a retry
    # skeleton lines read while a line of the answer is on the terminal: noted where it ends (probe 341: on stderr,
    # they cut into the first point's line)
    held: list[str] = []
    async for event in events:
        if event.type == "route":
            _note(f"{event.mode}: {_in_cli_words(event.reason)}")
        elif event.type == "point":
            note = f"skeleton {event.index}. {event.title}"
            if live and shown and not shown.endswith("\n"):
                held.append(note)
            else:
                _note(note)
        elif event.type == "retry":
            _note(f"retrying {_call(event)} in {event.wait_s:.1f} s (attempt {event.attempt}: "
                  f"{_in_cli_words(event.error)})")
        elif event.type == "fallback" and (kind := (event.model, _PARTICULARS.sub("#", event.error))) not in told:
            told.add(kind)  # the first of a kind (say, every point's 401): the end's note names the points
            _note(f"{_call(event)} failed on {event.model} ({_in_cli_words(event.error)}); the fallback "
                  f"{event.fallback} writes it")
        elif event.type == "text":
            shown += event.text
            if live:
                text = escaped(event.text)
                if held and "\n" in text:
                    line_end = text.index("\n") + 1
                    print(text[:line_end], end="", flush=True)
                    for note in held:
                        _note(note)
                    held.clear()
                    text = text[line_end:]
                print(text, end="", flush=True)
                live.shown = shown
        elif event.type == "withdraw" and event.text:
            shown = shown[:len(shown) - len(event.text)]
            if live:
                live.shown = shown
                mark = "left out" if event.failed else "restarted"
                if event.index is not None and event.text.startswith("\n"):  # a whole point, header and all, from
                    print(f" [{mark}]", end="", flush=True)  # its line's start: its header again begins a line
                else:  # the answer again from the start of its last line
                    print(f" [{mark}]\n{escaped(shown[shown.rfind(chr(10)) + 1:])}", end="", flush=True)
            if not event.failed:
                restarted.add(event.index)
        elif event.type == "withdraw" and event.failed and event.index in restarted and live:
            # its retry failed before any text: marked where the restart left the cursor (a line's start, where the
            # point opened the answer: the next point's header comes without a line break)
            at_start = not shown or shown.endswith("\n")
            print(f"[point {event.index} left out]\n" if at_start else f" [point {event.index} left out]", end="",
                  flush=True)
        elif event.type == "done":
            result = event.result
    return result


def _show(result: Result, as_json: bool, shown: str | None, error: dict[str, str] | None = None) -> None:
    """The answer on stdout (as JSON, or as text: what a live terminal has not ``shown`` yet, such as points that
    finished behind the one cut by Ctrl-C) and its notes on stderr; for an error's partial answer too."""
    if as_json:
        _out(_json(result.to_dict() | (error or {})))
    else:
        rest = result.text if shown is None else escaped(result.text.removeprefix(shown)) \
            if result.text.startswith(shown) else ""
        if rest or shown:  # (shown: the terminal's line, ended; stopped before any text, no empty line: probe 341)
            _out(rest)
    for point in result.points:
        if point.failed:
            why = f" ({_in_cli_words(point.error)})" if point.error else ""
            _note(f"point {point.index} ({point.title}) failed{why}" if error else
                  f"point {point.index} ({point.title}) was left out: it failed{why} "
                  "(--on-point-error raise makes that an error)")
    if result.written_by not in (None, result.model):
        what = "the skeleton" if result.mode == "sot" else "the answer"
        _note(f"{what} was written by the fallback {result.written_by} ({result.model} failed)")
    if fallback := [p for p in result.points if p.model not in (None, result.model) and not p.failed]:
        _note(f"point(s) {', '.join(str(p.index) for p in fallback)} written by the fallback {fallback[0].model}")
    if result.skeleton_truncated:  # the router's reason, shown first, then what the skeleton adds ("the skeleton ...")
        _, said, note = (result.route_reason or "").rpartition("; the skeleton")  # (not said: note is all of it)
        _note(_in_cli_words(f"the skeleton{note}") if said else f"the skeleton was cut short: {_in_cli_words(note)}")
    # a call that never ended was stopped by the error shown (a deadline, Ctrl-C), not cut off by its budget
    if result.truncated and result.mode == "sequential" and not (error and result.finish_reason is None):
        _note(f"the answer was cut off {cut_by(result.finish_reason, '--max-tokens')}: it ends where it was stopped")
    cut: dict[str, list[str]] = {}  # what cut points off -> their numbers
    for p in result.points:
        if p.truncated and p.complete and not p.failed:
            cut.setdefault(cut_by(p.finish_reason, "--point-max-tokens"), []).append(str(p.index))
    for why, numbers in cut.items():
        _note(f"point(s) {', '.join(numbers)} cut off {why}: the text ends where it was stopped")
    if error and (unwritten := [p for p in result.points if not p.text and not p.failed]):  # not in the answer
        _note(f"point(s) {', '.join(f'{p.index} ({p.title})' for p in unwritten)} had no text yet when it stopped: "
              "not in the answer")
    # (probe 341: a point stopped mid-sentence, whole points after it, read as whole where it ended at a stop)
    if error and (unfinished := [p for p in result.points if p.text and not p.complete and not p.failed]):
        _note(f"point(s) {', '.join(f'{p.index} ({p.title})' for p in unfinished)} had not finished when it stopped: "
              "the text ends where it was cut")
    t = result.timings
    left_out = sum(p.failed for p in result.points)
    shape = f"sot, {len(result.points)} points" + (f" ({left_out} left out)" if left_out else "") \
        if result.mode == "sot" else result.mode
    skeleton = f"skeleton {t.skeleton_s:.2f} s, " if result.mode == "sot" else ""
    _note(f"{shape}, {_calls(result.usage)}, {_tokens(result.usage)}, {_cost(result.usage)}, {skeleton}"
          f"total {t.total_s:.2f} s")


def _tokens(usage: Usage) -> str:
    if not usage.estimated:
        return f"{usage.input_tokens} in / {usage.output_tokens} out tokens"
    return (f"~{usage.input_tokens} in / ~{usage.output_tokens} out tokens (estimated for {usage.estimated_calls} "
            f"of {usage.calls} calls: no counts came, from a server that sends none or a call stopped early)")


def _cost(usage: Usage) -> str:
    if usage.cost is None:
        return "cost unknown (genai-prices lists no price for this model)"
    if not usage.cost:  # local models, or nothing spent: no estimate makes 0 approximate
        return "$0"
    return f"~${usage.cost:.6f} (estimated tokens)" if usage.estimated else f"${usage.cost:.6f}"


def _calls(usage: Usage) -> str:
    calls = f"{usage.calls} call" + ("" if usage.calls == 1 else "s")
    if not usage.web_searches:
        return calls
    return f"{calls} ({usage.web_searches} web search" + ("" if usage.web_searches == 1 else "es") + ")"


def _note(text: str) -> None:
    to_stderr(f"[sotkit] {text}")


def _out(text: str) -> None:
    """``print(text)``, whole: a signal whose handler runs while a write waits on a slow reader (a pipe, ``less``)
    makes Python's buffered stdout drop the rest of it (3.11 to 3.13, review 203); ``os.write`` goes on."""
    stdout = sys.stdout
    if stdout is None:  # closed (>&-): main() said so on stderr, where an error's --json output cannot go
        return
    if stdout is not sys.__stdout__ or os.name != "posix":  # a caller's stream (a notebook's, rich's): its own write
        print(text, flush=True)
        return
    assert stdout is not None  # (as above: mypy takes "is sys.__stdout__" for "may be None" again)
    stdout.flush()
    data = (text + "\n").encode(stdout.encoding or "utf-8", stdout.errors or "strict")
    while data:
        try:
            data = data[os.write(stdout.fileno(), data):]
        except BlockingIOError:  # a parent's O_NONBLOCK on the pipe: wait until it takes more
            select.select([], [stdout.fileno()], [])


def _keep_going_without_stdout(show: Any, *args: Any, **kwargs: Any) -> None:
    """``show(...)``, which writes to stdout; where stdout fails too (the error being shown may be its own: a full
    disk), the error's line on stderr is what is left."""
    try:
        show(*args, **kwargs)
    except OSError:
        discard(sys.stdout)


def run() -> NoReturn:
    """The ``sotkit`` command: ``main()``, then the exit with its status. A signal of the burst that stopped the
    answer, coming after ``main()`` set the handlers back, would end the process by that signal (or a traceback);
    from here on one ends it at once with the status ``main()`` gave (what was written is flushed first)."""
    status = main()

    def exit_now(*_: object) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.flush()
        os._exit(status)

    _catch(_unless_ignored((signal.SIGINT, *_TERMINATING), exit_now))
    sys.exit(status)


if __name__ == "__main__":
    run()
