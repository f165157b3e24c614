r"""Jinja prompt templates: loaded and checked once, when a client is built.

A template is one file, ``<name>.jinja``, with up to four blocks::

    {% block system %}...{% endblock %}
    {% block user %}...{% endblock %}      (required)
    {% block prefill %}...{% endblock %}   (assistant prefill, for providers that support it)
    {% block stop %}...{% endblock %}      (stop sequences, one a line; \n, \t, \s and \\ stand for a newline, a
                                           tab, a space and a backslash, any other text, non-ASCII too, for itself)

No other block names are accepted (a misspelt one would drop its text), nor text or statements outside the blocks
(never sent), and each template uses what its call is about (``_REQUIRED``: the question, expand's point, a judge's
answers), else its prompt would silently lack it. A template is one self-contained file:
``{% include %}``, ``{% extends %}`` and ``{% import %}`` are not supported. Each stop line is stripped of its
surrounding spaces and tabs before its escapes are decoded, so the block can be indented; write ``\s`` or ``\t``
for a space or a tab at either end.

Users override any subset by passing a directory (same file names) or a mapping ``name -> source``. A file there
that looks meant as a template but is not named ``<name>.jinja`` (``expand.jinja2``, ``expand.j2``,
``expand.jinja.txt``, ``Expand.jinja``) is an error that says what to rename it to, not silently ignored; other
files (``README.md``, ``notes.txt``, hidden ones such as ``.DS_Store``) are left alone. A template whose ``stop``
block holds more sequences than the provider takes (OpenAI's API: 4) fails when the client is built.
Models served in-process get the variants under ``prompts/local/`` where one exists.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from .errors import TemplateError
from .providers.base import Prompt, Provider
from .quality import clauses
from .redact import shown
from .skeleton import INVISIBLE

DEFAULT_PROMPTS = Path(str(files("sotkit.prompts")))

#: LLMZoo's aspects as the SoT paper used them, each with what it asks of an answer: ``sotkit eval --aspects``
#: judges them with the ``judge_aspect`` template (here, for the template's check)
ASPECTS = {
    "coherence": "The answer reads as one whole that flows logically from one point to the next, not as "
                 "disconnected pieces.",
    "diversity": "The answer covers a range of distinct, relevant ideas or perspectives instead of repeating one.",
    "immersion": "The answer stays in the role, voice or setting the question asks for, where it asks for one.",
    "integrity": "The answer is complete and consistent: every part is finished and no part contradicts another.",
    "relevance": "The answer addresses the question directly and precisely, without repetition, padding or "
                 "off-topic text.",
}

#: the variables each template is rendered with; used to check templates at build time. A variable whose
#: sample is None is optional (``context``: None when the request has none).
SAMPLE_VARIABLES: dict[str, dict[str, Any]] = {
    "skeleton": {"question": "What are good ways to save energy at home?", "context": None},
    "expand": {
        "question": "What are good ways to save energy at home?",
        "context": None,
        "points": [{"index": 1, "title": "Insulate"}, {"index": 2, "title": "Use LED bulbs"}],
        "point": {"index": 2, "title": "Use LED bulbs"},
    },
    "sequential": {"question": "What are good ways to save energy at home?", "context": None},
    "router": {"question": "What are good ways to save energy at home?"},
    # ``sotkit eval``'s judges, sent with ``SoT.complete``: which of two answers is better, overall or on one aspect
    "judge_pairwise": {"question": "How can I sleep better?", "answer_a": "Keep a schedule.",
                       "answer_b": "Avoid screens at night."},
    "judge_aspect": {"question": "How can I sleep better?", "answer_a": "Keep a schedule.",
                     "answer_b": "Avoid screens at night.", "aspect": "relevance", "criterion": ASPECTS["relevance"]},
}

#: what each template must use, else its prompt lacks what its call is about; a tuple: any one of them
_REQUIRED: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "skeleton": ("question",), "expand": ("question", "point"), "sequential": ("question",), "router": ("question",),
    "judge_pairwise": ("question", "answer_a", "answer_b"),
    "judge_aspect": ("question", "answer_a", "answer_b", ("aspect", "criterion")),
}

TemplateSource = str | Path | Mapping[str, str] | None
#: the escapes a stop block may use (not Python's unicode_escape, which garbles non-ASCII and fails on "C:\Users")
_ESCAPE = re.compile(r"\\([nts\\])")
_ESCAPED = {"n": "\n", "t": "\t", "s": " ", "\\": "\\"}
_BLOCKS = ("system", "user", "prefill", "stop")
#: Jinja's statements by the names of the nodes they parse to, where these differ
_STATEMENTS = {"Assign": "set", "AssignBlock": "set", "FilterBlock": "filter", "CallBlock": "call", "Macro": "macro",
               "If": "if", "For": "for", "With": "with"}
#: why a value may not reach the prompt, and what to do
_UNSENT = (" (used only in a branch or a condition, a {% set %} not written out, or the prefill or stop block, which "
           "not every provider sends); write it in the {% block user %}")
_BLANK = re.compile(rf"[\s{INVISIBLE}]*")  # white space, a BOM, zero-width spaces
#: two contexts, the second long (a template may send only one past some length)
_CONTEXTS = ("Some background for the answer.", "The house was built in 1962 and has a heat pump. " * 40)
_MANY_POINTS = [{"index": i, "title": f"Point {i}"} for i in range(1, 101)]  # as many as max_points allows
_OUTLINE = [{"index": 1, "title": "Insulate"}, {"index": 2, "title": "Use LED bulbs"},
            {"index": 3, "title": "Seal the drafts"}]
_RETITLED = [{"index": 1, "title": "Dress in layers"}, {"index": 2, "title": "Cook in batches"},
             {"index": 3, "title": "Read before bed"}]
#: values of what a call is about (``_REQUIRED``), each laid over the sample in turn, and what they are in words: a
#: template that sends it renders a different prompt with each (``_check_sent``)
_VALUES: dict[str | tuple[str, ...], tuple[str, list[dict[str, Any]]]] = {
    "question": ("questions", [{"question": q} for q in (
        "What are good ways to save energy at home?", "How do I keep a houseplant alive?",
        "What should I pack for a week of hiking in the Alps?")]),
    "point": ("points of a three-point outline", [{"points": _OUTLINE, "point": p} for p in _OUTLINE]),
    "answer_a": ("answers A", [{"answer_a": a} for a in (
        "Keep a schedule.", "Go to bed earlier.", "Keep the bedroom cool, dark and quiet.")]),
    "answer_b": ("answers B", [{"answer_b": b} for b in (
        "Avoid screens at night.", "Drink less coffee.", "Put the phone in another room at night.")]),
    ("aspect", "criterion"): ("aspects of the five sotkit eval judges",
                              [{"aspect": a, "criterion": c} for a, c in ASPECTS.items()]),
}
#: the refusals of a templates= below as the commands' --templates says them (a mapping is no option there)
TEMPLATES_IN_CLI_WORDS = {"templates=": "--templates ",
                          " (a str or Path) or a mapping of template names to sources": "",
                          " or a mapping of template names to sources": ""}
#: endings of a file in a templates directory meant as a template (only ``<name>.jinja`` is read as one)
_TEMPLATE_LIKE = (".jinja", ".jinja2", ".j2", ".jinja.txt")
#: nodes that need a loader; templates are self-contained files, so these are refused when loaded
_LOADING = {jinja2.nodes.Extends: "extends", jinja2.nodes.Include: "include", jinja2.nodes.Import: "import",
            jinja2.nodes.FromImport: "from ... import"}


def _written(value: Any) -> Any:
    """What ``{{ ... }}`` writes: text and numbers as they are; nothing for None (a request with no context has
    context None, which would be written "None"). Anything else is a slip whose Python repr would go to the model,
    each sample's different (so the build-time check took it for the question sent: probe 305)."""
    if value is None or isinstance(value, (str, int, float, jinja2.Undefined)):  # (an undefined one raises its own)
        return "" if value is None else value
    if callable(value):
        call = f", {value.__name__}()" if isinstance(getattr(value, "__name__", None), str) else ""
        raise TypeError(f"{{{{ ... }}}} writes a method or function ({value!r}), not its result: call it{call}")
    raise TypeError(f"{{{{ ... }}}} writes a {type(value).__name__} as Python shows it ({str(value)[:60]!r}): write "
                    "one of its fields, {{ point.title }}, or join a list's, "
                    "{{ points|map(attribute='title')|join(', ') }}")


class Templates:
    """The prompt set of one client: defaults, optionally local variants, then the user's overrides."""

    def __init__(self, overrides: TemplateSource = None, *, local: bool = False) -> None:
        self._env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
                                       autoescape=False, finalize=_written)
        self._templates: dict[str, tuple[jinja2.Template, str]] = {}
        self._variables: dict[str, set[str]] = {}
        self._stop_counts: dict[str, int] = {}  # of each template's sample render
        self._grow: set[str] = set()  # the templates whose stops grow with the skeleton's points
        self._local = local
        self._yours: set[str] = set()  # the templates the user's overrides replace
        # the defaults, then the user's, each with its local/ variants for a model served in-process
        for folder, yours in ((DEFAULT_PROMPTS, False), (overrides, True)):
            for name, (source, origin) in _read_overrides(folder, local=local).items():
                self._add(name, source, origin)
                if yours:
                    self._yours.add(name)
        for name, (_, origin) in self._templates.items():
            self._check(name, origin)
        if not local and isinstance(overrides, (str, Path)) and _variants(Path(overrides)):
            Templates(overrides, local=True)  # its local/ variants checked now too, not first by a local: client

    def uses(self, name: str, variable: str) -> bool:
        """Does template ``name`` refer to ``variable`` (so passing it cannot be silently dropped)?"""
        return variable in self._variables[name]

    def check_stop_limit(self, provider: Provider) -> None:
        """Refuse a template whose stop block holds more sequences than ``provider`` takes: the API would refuse
        every call it sends (none were ever dropped: a dropped one would let the text run on)."""
        limit = provider.max_stop
        for name, count in self._stop_counts.items():
            if limit is not None and count > limit:
                grows = f" for a skeleton of {len(_MANY_POINTS)} points" if name in self._grow else ""
                raise TemplateError(f"template {self._templates[name][1]!r} has {count} stop sequences{grows}, but "
                                    f"{provider.model} takes at most {limit}; keep at most {limit} lines in its "
                                    "{% block stop %}")

    def render(self, name: str, **variables: Any) -> Prompt:
        prompt = self._render(name, variables)
        if name == "expand" and name in self._yours:  # (a point's prompt: the one the echo filter reads)
            prompt = dataclasses.replace(prompt, instructions=self._own_words(prompt, variables))
        return prompt

    def _own_words(self, prompt: Prompt, variables: dict[str, Any]) -> str | None:
        """sotkit's own words in a point's ``prompt`` rendered from the user's template: the shipped template's (for an
        API model, and one served in-process), and the user template's clauses about the point or the question, found
        by rendering it again with marks in their place (probe 345, reviews 347-348: a disclaimer it asks the model to
        end with, or a fact it gives, is no echo; a context it quotes is no part of it). None for a copy of a shipped
        template: the prompt is all sotkit's own."""
        variants = (False, True) if self._local else (False,)
        shipped = [_shipped(local)._render("expand", variables) for local in variants]
        if any((words.system, words.user) == (prompt.system, prompt.user) for words in shipped):
            return None
        own = [f"{words.system or ''}\n{words.user}" for words in shipped]
        point, text = dict(variables["point"]), f"{prompt.system or ''}\n{prompt.user}"
        values = (variables["question"], point["title"], variables.get("context") or "")
        try:
            marked = self._render("expand", {**variables, "question": _MARKS[0], "point": point | {"title": _MARKS[1]},
                                             "context": _MARKS[2] if variables.get("context") else None})
            marked_text: str | None = f"{marked.system or ''}\n{marked.user}"
        except TemplateError:
            marked_text = None
        if marked_text is None or _unmarked(marked_text, values) != text:
            # it reads their values itself (a branch on them, a filter, a slice; review 350): all of it counts
            return "\n".join([*own, text])
        about = (_unmarked(clause, values[:2] + ("",)) for clause in clauses(marked_text)
                 if any(mark in clause for mark in _MARKS))
        return "\n".join([*own, *about])

    def _render(self, name: str, variables: dict[str, Any]) -> Prompt:
        template, origin = self._templates[name]
        optional = {key: None for key, sample in SAMPLE_VARIABLES[name].items() if sample is None}
        try:
            context = template.new_context({**optional, **variables})
            text = {
                block: "".join(render(context)) if (render := template.blocks.get(block)) else ""
                for block in _BLOCKS
            }
            # stripped before decoding, so an indented block's spaces are not sent, and "\t" can still be one
            lines = (line.strip(" \t") for line in text["stop"].split("\n"))
            stop = tuple(_ESCAPE.sub(lambda m: _ESCAPED[m[1]], line) for line in lines if line)
        except Exception as exc:  # any error of the template's own code (1/0, a bad call) names the template
            raise TemplateError(f"template {origin!r} failed to render: {type(exc).__name__}: {exc}; fix the "
                                "template so that it renders for any value its variables can take") from exc
        # (a block of only zero-width spaces is as empty: str.strip() keeps them)
        system, user, prefill = (None if _BLANK.fullmatch(text[block]) else text[block].strip()
                                 for block in ("system", "user", "prefill"))
        if not user:
            raise TemplateError(f"template {origin!r} rendered an empty user prompt; give it a non-empty "
                                "{% block user %}...{% endblock %}")
        return Prompt(user=user, system=system, prefill=prefill, stop=stop)

    def _check_names(self, parsed: jinja2.nodes.Template, origin: str) -> None:
        """Refuse an unknown filter or test, also one named in a string (``map('upper')``): Jinja finds one inside an
        {% if %} only when the branch runs (probe 345, reviews 347-348), after the client was built."""
        used = [("test", node.name, node.lineno) for node in parsed.find_all(jinja2.nodes.Test)]
        for node in parsed.find_all(jinja2.nodes.Filter):
            used.append(("filter", node.name, node.lineno))
            kind, at = _NAMING.get(node.name, (None, 0))
            if kind and len(node.args) > at and isinstance(arg := node.args[at], jinja2.nodes.Const) \
                    and isinstance(arg.value, str):
                used.append((kind, arg.value, node.lineno))
        for kind, name, line in used:
            known = self._env.filters if kind == "filter" else self._env.tests
            if name not in known:
                raise TemplateError(f"template {origin!r} uses an unknown {kind} {name!r} on line {line}"
                                    f"{_did_you_mean(name, known)}")

    def _add(self, name: str, source: str, origin: str) -> None:
        if name not in SAMPLE_VARIABLES:
            known = ", ".join(SAMPLE_VARIABLES)
            raise TemplateError(f"unknown template {name!r} (from {origin!r}); templates are: {known}")
        try:
            source.encode("utf-8")
        except UnicodeEncodeError as exc:  # else every call that sends it fails
            raise TemplateError(f"template {origin!r} holds a lone surrogate ({source[exc.start]!r}) at offset "
                                f"{exc.start}, which cannot be sent; remove it or write the whole character") from exc
        try:
            parsed = self._env.parse(source)  # parsed once: compiled and searched for variables
            self._check_names(parsed, origin)
            template = self._env.from_string(parsed)
            self._variables[name] = jinja2.meta.find_undeclared_variables(parsed)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template {origin!r} has a syntax error on line {exc.lineno}: {exc.message}") from exc
        if node := next(parsed.find_all(tuple(_LOADING)), None):  # found here, not as a "no loader" TypeError later
            raise TemplateError(f"template {origin!r} uses {{% {_LOADING[type(node)]} %}} on line {node.lineno}, which "
                                "is not supported: a template is one self-contained file; copy in the text it needs")
        if unknown_blocks := sorted(template.blocks.keys() - set(_BLOCKS)):  # else its text is silently dropped
            block = unknown_blocks[0]
            raise TemplateError(f"template {origin!r} has an unknown {{% block {block} %}}"
                                f"{_did_you_mean(block, _BLOCKS)}; the blocks are: {', '.join(_BLOCKS)}")
        if "user" not in template.blocks:
            raise TemplateError(f"template {origin!r} has no {{% block user %}}: every template needs one")
        _check_outside_blocks(parsed, origin)  # (first: a {% set %} there would read as an undefined variable)
        # a variable only a rarely taken branch uses is not reached by _check's sample render: compare names instead
        given = SAMPLE_VARIABLES[name].keys() | self._env.globals.keys() | {"loop"}
        if unknown_names := sorted(self._variables[name] - given):
            unknown, allowed = unknown_names[0], ", ".join(SAMPLE_VARIABLES[name])
            raise TemplateError(f"template {origin!r} uses an undefined variable ({unknown!r} is undefined)"
                                f"{_did_you_mean(unknown, SAMPLE_VARIABLES[name])}; {name!r} templates get: {allowed}")
        for needed in _REQUIRED[name]:
            if not self._variables[name] & ({needed} if isinstance(needed, str) else set(needed)):
                written = " or ".join(f"{{{{ {v} }}}}" for v in ((needed,) if isinstance(needed, str) else needed))
                raise TemplateError(f"template {origin!r} never uses {written}, so its prompt would leave it out; "
                                    f"write it in the {{% block user %}} ({name!r} templates get: "
                                    f"{', '.join(SAMPLE_VARIABLES[name])})")
        self._templates[name] = (template, origin)

    def _check(self, name: str, origin: str) -> None:
        try:
            sample = SAMPLE_VARIABLES[name]
            # with a context and without (a stop block may depend on it)
            samples = [sample, sample | {"context": _CONTEXTS[0]}] if "context" in sample else [sample]
            self._stop_counts[name] = max(len(self.render(name, **given).stop) for given in samples)
            if name == "expand":  # stops written per point: counted for a skeleton of the most points there can be
                most = max(len(self.render(name, **given | {"points": _MANY_POINTS}).stop) for given in samples)
                if most > self._stop_counts[name]:
                    self._stop_counts[name] = most
                    self._grow.add(name)
            self._check_sent(name, origin)
        except TemplateError as exc:
            cause = exc.__cause__
            # a name that is not a variable (not an item a value lacks: "list object has no element 2")
            if isinstance(cause, jinja2.UndefinedError) and (cause.message or "").endswith("is undefined"):
                allowed = ", ".join(SAMPLE_VARIABLES[name])
                raise TemplateError(f"template {origin!r} uses an undefined variable ({cause.message}); "
                                    f"{name!r} templates get: {allowed}") from cause
            if isinstance(cause, jinja2.UndefinedError) and (cause.message or "").startswith("'dict object' has no "
                                                                                    "attribute") \
                    and "point" in SAMPLE_VARIABLES[name]:  # "{{ point.name }}" (a point is the only dict)
                raise TemplateError(f"template {origin!r} reads a field a point does not have ({cause.message}): a "
                                    "point (`point`, and each of `points`) has `index` and `title`") from cause
            raise

    def _check_sent(self, name: str, origin: str) -> None:
        """Each value a call is about must reach the system or user prompt, with a context and without: each of the
        values it may take (``_VALUES``) makes a prompt of its own, and each point's title does. Used only in a
        branch or a condition, a ``{% set %}`` never written out, or the prefill or stop block (not every provider
        sends a prefill), it would be left out, and the reply would answer another question."""
        sample = SAMPLE_VARIABLES[name]
        for context in (None, _CONTEXTS[0]) if "context" in sample else (None,):
            given = sample | ({"context": context} if "context" in sample else {})
            case = " with a context" if context else " without a context" if "context" in sample else ""
            for needed in _REQUIRED[name]:
                what, values = _VALUES[needed]
                prompts = [self._sent(name, origin, given | value) for value in values]
                if len(set(prompts)) < len(prompts):
                    shown = " or ".join(f"{{{{ {v} }}}}" for v in ((needed,) if isinstance(needed, str) else needed))
                    raise TemplateError(f"template {origin!r} does not send {shown}{case}: its user and system "
                                        f"prompts came out alike for different {what}{_UNSENT}")
                if needed != "point":
                    continue
                # and each point's own title: its number alone, or the outline, does not say which point to write
                for prompt, retitled in zip(prompts, _RETITLED):
                    if self._sent(name, origin, given | {"points": _RETITLED, "point": retitled}) == prompt:
                        raise TemplateError(f"template {origin!r} does not send {{{{ point.title }}}}{case}: point "
                                            f"{retitled['index']}'s prompt came out alike with another title{_UNSENT}")
        # a template that reads the context must send it: one that only tests it ("{% if context %}Answer from the
        # document.{% endif %}") would point the model to a document it never sees
        if self.uses(name, "context") and len({self._sent(name, origin, sample | {"context": text})
                                               for text in _CONTEXTS}) < len(_CONTEXTS):
            raise TemplateError(f"template {origin!r} reads {{{{ context }}}} but does not send it: its user and "
                                f"system prompts came out alike for different contexts{_UNSENT}")

    def _sent(self, name: str, origin: str, variables: dict[str, Any]) -> tuple[str | None, str]:
        """The system and user prompts a call with ``variables`` sends; a failure says with which values."""
        try:
            prompt = self.render(name, **variables)
        except TemplateError as exc:
            given = ", ".join(f"{k}={v!r}" for k, v in variables.items() if k in ("point", "aspect"))
            raise TemplateError(f"{exc} (with {given}, as a call may have it)" if given else str(exc)) from exc
        return prompt.system, prompt.user


def _check_outside_blocks(parsed: jinja2.nodes.Template, origin: str) -> None:
    """Only the blocks are sent: text or a statement outside them would be silently dropped (and a ``{% set %}``
    there is not seen inside them)."""
    def blank(part: jinja2.nodes.Node) -> bool:  # white space, a BOM or a zero-width space
        return isinstance(part, jinja2.nodes.TemplateData) and _BLANK.fullmatch(part.data) is not None

    for node in parsed.body:
        if isinstance(node, jinja2.nodes.Block) or isinstance(node, jinja2.nodes.Output) and all(
                map(blank, node.nodes)):
            continue
        name = type(node).__name__
        what = f"{{% {_STATEMENTS[name]} %}}" if name in _STATEMENTS else "a statement"
        line = node.lineno or next((n.lineno for n in node.find_all(jinja2.nodes.Node) if n.lineno), "?")
        if isinstance(node, jinja2.nodes.Output):  # the line of its first text that is not white space
            part = next(p for p in node.nodes if not blank(p))
            blank_start = _BLANK.match(part.data) if isinstance(part, jinja2.nodes.TemplateData) else None
            skipped = blank_start.group() if blank_start else ""
            what, line = "text", part.lineno + skipped.count("\n")
        raise TemplateError(f"template {origin!r} has {what} outside its blocks on line {line}, which sotkit never "
                            "renders: only the blocks are sent; move it into the {% block user %} (or the block "
                            "that uses it)")


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _read(path: Path) -> str:
    """A template file's text, or a TemplateError naming the file and what to do."""
    try:
        return path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is no text of the template
    except UnicodeDecodeError as exc:
        raise TemplateError(f"template {str(path)!r} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                            f"offset {exc.start}); save it with UTF-8 encoding") from exc
    except IsADirectoryError as exc:
        raise TemplateError(f"template {str(path)!r} is a directory, not a file; rename or remove it") from exc
    except OSError as exc:
        raise TemplateError(f"template {str(path)!r} cannot be read ({exc.strerror}); check that it exists and is "
                            "readable") from exc


#: the filters that take another filter's or a test's name, and at which of their arguments
_NAMING = {"map": ("filter", 0), "select": ("test", 0), "reject": ("test", 0), "selectattr": ("test", 1),
           "rejectattr": ("test", 1)}
#: what stands for the question, the point's title and the context in a second render of a point's prompt: words of
#: characters no case changes ("|upper") or a split ("question.split()[1]") loses (review 349)
_MARKS = ("\ue000 \ue000", "\ue001 \ue001", "\ue002 \ue002")


def _unmarked(text: str, values: tuple[str, str, str]) -> str:
    """``text`` with the ``values`` of the question, the title and the context in place of their marks."""
    for mark, value in zip(_MARKS, values):
        text = text.replace(mark, value)
    return text


@functools.cache
def _shipped(local: bool) -> Templates:
    """sotkit's own templates (for a model served in-process: ``local``)."""
    return Templates(local=local)


def _read_overrides(overrides: TemplateSource, *, local: bool = False) -> dict[str, tuple[str, str]]:
    """``{name: (source, origin)}`` from a directory or a mapping of names to sources; for a model served
    in-process (``local``), a directory's ``local/`` variants first, as in ``DEFAULT_PROMPTS`` (a copy of it keeps
    its prompts for small models)."""
    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        if bad := [f"{type(name).__name__} {name!r}: {type(source).__name__}" for name, source in overrides.items()
                   if not isinstance(name, str) or not isinstance(source, str)]:
            raise TemplateError(f"templates= maps template names to their Jinja sources, both str; got "
                                f"{', '.join(bad)}")
        for name, source in overrides.items():  # a file's path given as its source: "has no {% block user %}"
            if "{%" not in source and source.strip().endswith(_TEMPLATE_LIKE):
                raise TemplateError(f"templates={{{name!r}: {shown(source)}}}: a mapping's values are Jinja sources, "
                                    "not paths; pass the text (Path(...).read_text()), or a directory as templates=")
        return {name.removesuffix(".jinja"): (source, f"<string {name}>") for name, source in overrides.items()}
    if not isinstance(overrides, (str, Path)) or not str(overrides).strip():  # Path("") is the current directory
        raise TemplateError(f"templates={overrides!r}: pass a directory of <name>.jinja files (a str or Path) or a "
                            "mapping of template names to sources")
    directory = Path(overrides)
    if not directory.is_dir():
        raise TemplateError(f"templates={shown(str(overrides))} is not a directory; pass a directory of "
                            "<name>.jinja files or a mapping of template names to sources")
    variants = directory / "local"
    has_variants = _variants(directory)
    found = _read_directory(directory, optional=has_variants)
    if has_variants and local:
        found |= _read_directory(variants, optional=bool(found), variants=True)
    elif not found:
        raise TemplateError(f"{str(directory)!r} holds templates only in local/, which only models served in-process "
                            "(local:) read; put <name>.jinja files in the folder itself for other models")
    return found


def _variants(directory: Path) -> bool:
    """Does ``directory`` hold ``local/`` variants (for models served in-process; or templates in a folder of
    its own, which reading them refuses)?"""
    variants = directory / "local"
    return variants.is_dir() and any(not _hidden(path.relative_to(variants)) for path in variants.rglob("*.jinja"))


def _hidden(path: Path) -> bool:
    """Is ``path`` (or a folder it is in) hidden: an editor's (".ipynb_checkpoints/"), never a template of ours?"""
    return any(part.startswith(".") for part in path.parts)


def _read_directory(directory: Path, optional: bool = False, *, variants: bool = False) -> dict[str, tuple[str, str]]:
    """The templates of ``directory`` (``variants``: a ``local/`` folder, which holds none of its own)."""
    file_names = ", ".join(f"{n}.jinja" for n in SAMPLE_VARIABLES)
    found = {}
    for path in sorted(directory.iterdir()):
        if path.is_dir() and not path.name.startswith(".") and any(path.glob("*.jinja")) \
                and (path.name != "local" or variants):
            raise TemplateError(f"{str(path)!r} holds templates that are never read: only the folder's own "
                                "<name>.jinja files are, and its local/ ones for models served in-process (local:); "
                                "move them into one of those, or out of the folder")
        ending = next((e for e in _TEMPLATE_LIKE if path.name.lower().endswith(e)), None)
        if ending is None or path.name.startswith("."):  # README.md, .DS_Store, macOS's ._expand.jinja
            continue
        name = path.name[:-len(ending)]
        if path.name != f"{name}.jinja" or name not in SAMPLE_VARIABLES:  # else silently ignored
            # a misspelt name, not another file ("footer.jinja" is no "router.jinja", nor a backup its template)
            close = difflib.get_close_matches(name.lower(), list(SAMPLE_VARIABLES), n=1, cutoff=0.75) or [
                meant for meant in SAMPLE_VARIABLES if name.lower().startswith((f"{meant}_", f"{meant}-"))][:1]
            rename = f"; rename it to {close[0]}.jinja" if close and not (directory / f"{close[0]}.jinja").exists() \
                else "; move it out of the folder (a template is one self-contained file)"
            raise TemplateError(f"{str(path)!r} is not read as a template: templates are named {file_names}{rename}")
        found[name] = (_read(path), str(path))
    if not found and not optional:
        raise TemplateError(f"no *.jinja templates in {str(directory)!r}; expected any of {file_names}")
    return found
