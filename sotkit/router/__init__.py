"""The router (SoT-R): decide per question whether Skeleton-of-Thought helps.

SoT speeds up answers that are lists of independent points and hurts answers that must be built step by step
(code, computation, proofs, puzzles) or written as one piece (an essay, a letter, a role). A question sent to
SoT by mistake gets a worse answer; one sent to sequential by mistake only loses speed. So every router here
prefers sequential when unsure.

- the default (``make_router()``, what ``mode="auto"`` uses): guards for the kinds of request that need one
  connected answer, then a word-feature classifier trained on questions written for sotkit, with calibrated
  confidence; SoT only from ``threshold``. Plain Python, microseconds, no model.
- ``"rules"``: the guards, then list signals ("ways", "tips", "differences", "what if"); recall first.
- ``"llm"``: asks a model the SoT paper's question (independent list, dependent list, or no list?).
- ``"embedding"`` / ``"embedding:PATH"``: guards, then a classifier over all-MiniLM-L6-v2 embeddings, the
  shipped one or one you trained on your own labels (``sotkit router train``).

Modules: ``base`` (Decision, Router, the fallback), ``rules``, ``learned``, ``llm``.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import os
import re
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..redact import shown
from .base import Decision, FallsBack, GuardedRouter, Router
from .learned import (DEFAULT_CLASSIFIER, EMBEDDING_CLASSIFIER, EmbeddingRouter, LearnedRouter, LinearClassifier,
                      SentenceEncoder, evaluate, read_labels, train, validate_threshold)
from .llm import LLMRouter, parse_router_answer
from .rules import RulesRouter, guard

if TYPE_CHECKING:
    from ..providers.base import Provider
    from ..templates import Templates

__all__ = [
    "Decision", "Router", "RulesRouter", "LLMRouter", "LearnedRouter", "EmbeddingRouter", "GuardedRouter",
    "LinearClassifier", "SentenceEncoder", "make_router", "default_router", "parse_router_answer", "guard",
    "train", "evaluate", "read_labels", "ROUTERS",
]

#: the router names ``make_router`` accepts (and ``"embedding:PATH"`` for a trained file)
ROUTERS = ("default", "rules", "llm", "embedding")



@functools.cache
def _default_classifier() -> LinearClassifier:
    return LinearClassifier.load(DEFAULT_CLASSIFIER)


def default_router(threshold: float | None = None) -> LearnedRouter:
    """What ``mode="auto"`` uses: the guards, then the shipped word classifier (SoT from its threshold)."""
    return LearnedRouter(_default_classifier(), threshold=threshold, name="default")


def check_threshold(spec: object, threshold: object, option: str) -> None:
    """``ConfigError``, naming ``option``, unless ``threshold`` is a probability for a learned router ``spec``."""
    validate_threshold(threshold, option)
    if isinstance(spec, LearnedRouter):  # (probe 308: it was told its confidence is not calibrated)
        raise ConfigError(f"{option} is for a router named by a string; a router object carries its own: "
                          "default_router(threshold=...), LearnedRouter(path, threshold=...)")
    if spec in ("rules", "llm") or not (spec is None or isinstance(spec, str)):  # (a misspelt name: make_router's)
        raise ConfigError(f"{option} applies to the learned routers (the default, 'embedding' and "
                          f"'embedding:PATH'), not to {spec!r}: its confidence is not calibrated")


def make_router(spec: str | Router | None = None, *, provider: Provider | None = None,
                templates: Templates | None = None, threshold: float | None = None) -> Router:
    """The router named by ``spec``: ``None`` or ``"default"``, ``"rules"``, ``"llm"``, ``"embedding"``,
    ``"embedding:PATH"`` (a file from ``sotkit router train``), or your own object with
    ``async decide(question) -> Decision`` (wrapped so that its errors fall back to the default router).

    ``"llm"`` asks ``provider`` (usually the request's own model) with ``templates``' ``router`` template.
    ``threshold`` (the client's ``router_threshold``) is the calibrated P(sot) from which a learned router
    says SoT: higher trades recall for precision. Raises ``ConfigError`` for an unknown name, a missing
    provider, an unreadable router file or a threshold a router cannot use, and ``ModelNotAvailableError`` when
    the embedding model is not installed.
    """
    if threshold is not None:
        check_threshold(spec, threshold, "router_threshold")
    if spec is None or spec == "default":
        return default_router(threshold)
    if spec == "rules":
        return RulesRouter()
    if spec == "llm":
        if provider is None:
            raise ConfigError('router="llm" needs a provider to ask: pass provider=... (or use the default router)')
        return LLMRouter(provider, templates)
    if spec == "embedding":
        return EmbeddingRouter(threshold=threshold)
    if isinstance(spec, str) and spec.startswith("embedding:"):
        path = spec.removeprefix("embedding:")
        if not path:
            raise ConfigError('router="embedding:" needs a path: router="embedding:router.json"')
        return LearnedRouter(os.path.expanduser(path), threshold=threshold)  # no shell expands a ~ after the colon
    if isinstance(spec, str):
        bare = spec.strip()  # (white space around a name read from a file or a variable; probe 271)
        close = difflib.get_close_matches(bare.lower(), ROUTERS, n=1)  # ("LLM"; probe 260)
        hint = f"did you mean {close[0]!r}? " if close else ""
        if bare.endswith(".json") or os.path.isfile(bare):  # a router file (sotkit router train's) named bare,
            named = re.fullmatch(r"[A-Za-z_]{2,}[:=](.+)", bare, re.DOTALL)  # or after another word ("learned:",
            hint = f"did you mean 'embedding:{named[1] if named else bare}'? "  # "embedding=")
        raise ConfigError(f"unknown router {shown(spec)}; {hint}use one of {', '.join(map(repr, ROUTERS))}, "
                          "'embedding:PATH', or an object with async decide(question) -> Decision")
    if isinstance(spec, (RulesRouter, FallsBack)):
        return spec
    decide = getattr(spec, "decide", None)
    if not callable(decide) or not inspect.iscoroutinefunction(decide):
        raise ConfigError(f"router {type(spec).__name__} has no async decide(question) -> Decision method")
    return GuardedRouter(spec)

