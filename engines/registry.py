"""Engines by name, the way ``provider:model`` strings find providers: ``decoding="lexical_unit"`` finds the
lexical-unit engine. The built-in engines are imported on first use; ``register`` adds one from anywhere.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any, TypeVar

from .base import Engine
from .errors import ConfigError

#: built-in engines: name -> module (relative to this package) that defines ``ENGINE``
_BUILT_IN = {"greedy": ".greedy", "lexical_unit": ".lexical_unit.engine", "focusllm": ".focusllm.engine"}
_registered: dict[str, type[Engine]] = {}
_EngineClass = TypeVar("_EngineClass", bound=type[Engine])


def register(engine: _EngineClass) -> _EngineClass:
    """Make ``engine`` answer ``decoding=engine.name`` (usable as a class decorator); a later registration
    of the same name replaces the earlier one."""
    if not (isinstance(engine, type) and issubclass(engine, Engine)) or not getattr(engine, "name", None):
        raise TypeError(f"{engine!r} is not an Engine subclass with a name")
    _registered[engine.name] = engine
    return engine


def names() -> list[str]:
    """Every engine's name, built-in or registered (nothing is imported)."""
    return sorted({*_BUILT_IN, *_registered})


def option_names() -> set[str]:
    """The options any engine takes (each engine is imported)."""
    return {option for name in names() for option in _options(get(name))}


def get(name: str) -> type[Engine]:
    """The engine called ``name``; a ``ConfigError`` listing the others if there is none."""
    if name not in _registered and name in _BUILT_IN:
        register(importlib.import_module(_BUILT_IN[name], __package__).ENGINE)
    if name not in _registered:
        raise ConfigError(f"decoding={name!r}; use one of {', '.join(repr(n) for n in names())}")
    return _registered[name]


def create(name: str, model: str, options: dict[str, Any], common: tuple[str, ...] = ()) -> Engine:
    """Build engine ``name`` for ``model``; an option it does not take is a ``ConfigError`` that names the closest
    option any local model takes, lists the ones this engine does and names the engines that take it (``common``:
    the options every local model takes besides ``decoding=``)."""
    engine = get(name)
    if unknown := sorted(set(options) - set(_options(engine))):
        takes = {other: _options(get(other)) for other in names()}
        own = f"decoding={name!r} takes " + (", ".join(f"{t}=" for t in takes[name]) or "no options of its own")
        elsewhere = [f"{option}= is an option of decoding={other!r}" for option in unknown
                     for other, theirs in takes.items() if option in theirs]
        anywhere = {*common, "decoding", *option_names()}
        close = [f"{match}=" for option in unknown if option not in anywhere
                 for match in difflib.get_close_matches(option, anywhere, n=1, cutoff=0.75)]
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        every = " ".join([*(f"{c}=," for c in common), f"decoding= ({', '.join(repr(n) for n in names())})"])
        raise ConfigError(f"unknown option(s) for local models: {', '.join(unknown)}; {hint}local models take "
                          f"{every}; " + "; ".join([own, *elsewhere]))
    return engine(model, **options)


def _options(engine: type[Engine]) -> list[str]:
    return [p.name for p in inspect.signature(engine.__init__).parameters.values() if p.kind is p.KEYWORD_ONLY]


def commands() -> dict[str, type[Engine]]:
    """``sotkit engines <command>``: the engines that have a command line, by command."""
    return {engine.command: engine for engine in map(get, names()) if engine.command}
