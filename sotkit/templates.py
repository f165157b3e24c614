"""Jinja prompt templates: loaded and checked once, when a client is built.

A template is one file, ``<name>.jinja``, with up to four blocks::

    {% block system %}...{% endblock %}
    {% block user %}...{% endblock %}      (required)
    {% block prefill %}...{% endblock %}   (assistant prefill, for providers that support it)
    {% block stop %}...{% endblock %}      (stop sequences, one a line; \n, \t and \\ stand for a newline, a tab and
                                           a backslash, any other text, non-ASCII too, for itself)

Users override any subset by passing a directory (same file names) or a mapping ``name -> source``.
Models served in-process get the variants under ``prompts/local/`` where one exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from .errors import TemplateError
from .providers.base import Prompt

DEFAULT_PROMPTS = Path(str(files("sotkit.prompts")))

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
                     "answer_b": "Avoid screens at night.", "aspect": "relevance",
                     "criterion": "The answer addresses the question directly."},
}

TemplateSource = str | Path | Mapping[str, str] | None
#: the escapes a stop block may use (not Python's unicode_escape, which garbles non-ASCII and fails on "C:\Users")
_ESCAPE = re.compile(r"\\([nt\\])")
_ESCAPED = {"n": "\n", "t": "\t", "\\": "\\"}


class Templates:
    """The prompt set of one client: defaults, optionally local variants, then the user's overrides."""

    def __init__(self, overrides: TemplateSource = None, *, local: bool = False) -> None:
        self._env = jinja2.Environment(
            undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False
        )
        self._templates: dict[str, tuple[jinja2.Template, str]] = {}
        self._variables: dict[str, set[str]] = {}
        search = [DEFAULT_PROMPTS / "local", DEFAULT_PROMPTS] if local else [DEFAULT_PROMPTS]
        for name in SAMPLE_VARIABLES:
            path = next((d / f"{name}.jinja" for d in search if (d / f"{name}.jinja").is_file()), None)
            if path is not None:
                self._add(name, path.read_text(encoding="utf-8"), str(path))
        for name, (source, origin) in _read_overrides(overrides).items():
            self._add(name, source, origin)
        for name, (_, origin) in self._templates.items():
            self._check(name, origin)

    def uses(self, name: str, variable: str) -> bool:
        """Does template ``name`` refer to ``variable`` (so passing it cannot be silently dropped)?"""
        return variable in self._variables[name]

    def render(self, name: str, **variables: Any) -> Prompt:
        template, origin = self._templates[name]
        optional = {key: None for key, sample in SAMPLE_VARIABLES[name].items() if sample is None}
        try:
            context = template.new_context({**optional, **variables})
            text = {
                block: "".join(render(context)) if (render := template.blocks.get(block)) else ""
                for block in ("system", "user", "prefill", "stop")
            }
            stop = tuple(_ESCAPE.sub(lambda m: _ESCAPED[m[1]], line) for line in text["stop"].split("\n") if line)
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template {origin!r} failed to render: {exc}") from exc
        system, user, prefill = (text[block].strip() or None for block in ("system", "user", "prefill"))
        if not user:
            raise TemplateError(f"template {origin!r} rendered an empty user prompt; give it a non-empty "
                                "{% block user %}...{% endblock %}")
        return Prompt(user=user, system=system, prefill=prefill, stop=stop)

    def _add(self, name: str, source: str, origin: str) -> None:
        if name not in SAMPLE_VARIABLES:
            known = ", ".join(SAMPLE_VARIABLES)
            raise TemplateError(f"unknown template {name!r} (from {origin!r}); templates are: {known}")
        try:
            parsed = self._env.parse(source)  # parsed once: compiled and searched for variables
            template = self._env.from_string(parsed)
            self._variables[name] = jinja2.meta.find_undeclared_variables(parsed)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template {origin!r} has a syntax error on line {exc.lineno}: {exc.message}") from exc
        if "user" not in template.blocks:
            raise TemplateError(f"template {origin!r} has no {{% block user %}}: every template needs one")
        self._templates[name] = (template, origin)

    def _check(self, name: str, origin: str) -> None:
        try:
            self.render(name, **SAMPLE_VARIABLES[name])
        except TemplateError as exc:
            cause = exc.__cause__
            if isinstance(cause, jinja2.UndefinedError):
                allowed = ", ".join(SAMPLE_VARIABLES[name])
                raise TemplateError(f"template {origin!r} uses an undefined variable ({cause.message}); "
                                    f"{name!r} templates get: {allowed}") from cause
            raise


def _read_overrides(overrides: TemplateSource) -> dict[str, tuple[str, str]]:
    """``{name: (source, origin)}`` from a directory or a mapping of names to sources."""
    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        if bad := [f"{name!r}: {type(source).__name__}" for name, source in overrides.items()
                   if not isinstance(name, str) or not isinstance(source, str)]:
            raise TemplateError(f"templates= maps template names to their Jinja sources, both str; got "
                                f"{', '.join(bad)}")
        return {name.removesuffix(".jinja"): (source, f"<string {name}>") for name, source in overrides.items()}
    if not isinstance(overrides, (str, Path)):
        raise TemplateError(f"templates={overrides!r}: pass a directory of <name>.jinja files (a str or Path) or a "
                            "mapping of template names to sources")
    directory = Path(overrides)
    if not directory.is_dir():
        raise TemplateError(f"templates={str(overrides)!r} is not a directory; pass a directory of "
                            "<name>.jinja files or a mapping of template names to sources")
    found = {p.stem: (p.read_text(encoding="utf-8"), str(p)) for p in sorted(directory.glob("*.jinja"))}
    if not found:
        raise TemplateError(f"no *.jinja templates in {str(directory)!r}; expected any of "
                            + ", ".join(f"{n}.jinja" for n in SAMPLE_VARIABLES))
    return found
