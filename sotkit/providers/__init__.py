"""Provider adapters, one module per provider, found by naming convention and imported lazily.

``openai:gpt-4o-mini`` is served by ``sotkit.providers.openai``; adding a provider is adding a module that
defines ``PROVIDER``, a ``Provider`` subclass taking ``(model_name, **options)``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
from collections.abc import Iterable
from typing import Any

from ..errors import ConfigError
from ..options import check_names
from ..redact import looks_like_key
from .base import HELD, STARTED, THINKING, CallUsage, ChatRequest, Chunk, Prompt, Provider

__all__ = ["HELD", "STARTED", "THINKING", "CallUsage", "ChatRequest", "Chunk", "Prompt", "Provider", "available",
           "create_provider", "owners", "split_model"]


def available() -> list[str]:
    """Names of the installed provider modules (no module is imported); ``base`` and private helper modules
    (``_sse``, ``_clients``) are not providers."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base" and not m.name.startswith("_"))


#: the clouds that serve OpenAI's and Anthropic's models, through the SDKs' own clients
_PLATFORMS = {
    "azure": "Azure OpenAI is 'openai:DEPLOYMENT' with client=openai.AsyncAzureOpenAI(azure_endpoint=..., "
             "api_version=..., api_key=...)",
    "vertex": "Claude on Vertex AI is 'anthropic:MODEL' with client=anthropic.AsyncAnthropicVertex(region=..., "
              "project_id=...)",
    "bedrock": "Bedrock streams in AWS's event-stream format, which sotkit does not read: use the Anthropic API, "
               "Vertex, or an OpenAI-compatible gateway",
}


def split_model(model: str) -> tuple[str, str]:
    """``"openai:gpt-4o"`` -> ``("openai", "gpt-4o")``, with an error that says what a model string is."""
    if looks_like_key(model):  # SoT(os.environ["OPENAI_API_KEY"]), say: not echoed
        raise ConfigError("the model looks like an API key (not shown here): pass the key as api_key=... and the "
                          "model as 'provider:model', for example 'openai:gpt-4o-mini'")
    prefix, sep, name = model.partition(":")
    if not sep or not prefix or not name.strip():
        raise ConfigError(f"model {model!r} is not of the form 'provider:model' (for example "
                          f"'openai:gpt-4o-mini' or 'local:smollm2'); providers: {', '.join(available())}")
    if name != name.strip() or not name.isprintable() or prefix != prefix.strip():
        # an invisible character stands for nothing; a tab or line end inside may stand for a space: not guessed
        clean = "".join(c for c in name if c.isprintable() or c.isspace()).strip()
        fix = "remove them" if not clean.isprintable() else f"write {prefix.strip() + ':' + clean!r}"
        raise ConfigError(f"model {model!r} has white space around its name or invisible characters (a tab, a line "
                          f"end) in it: {fix}")
    if prefix not in available():
        hint = _PLATFORMS.get(prefix.lower(), "OpenAI-compatible servers use 'openai:' with base_url=")
        close = difflib.get_close_matches(prefix.lower(), available(), n=1)  # ("anthropc", "OpenAI"; probe 260)
        meant = f"did you mean {close[0] + ':' + name!r}? " if close else ""
        raise ConfigError(f"unknown provider {prefix!r} in model {model!r}; {meant}known providers: "
                          f"{', '.join(available())} ({hint})")
    return prefix, name


def create_provider(model: str, *, also: Iterable[str] = (), **options: Any) -> Provider:
    """Build the adapter for a ``provider:model`` string. Options go to the adapter (api_key, base_url, ...);
    an unknown one is a ``ConfigError`` with the closest known names (``also``: the caller's own options)."""
    prefix, name = split_model(model)
    provider = provider_class(prefix)
    parameters = inspect.signature(provider.__init__).parameters.values()
    if not any(p.kind is p.VAR_KEYWORD for p in parameters):
        known = provider.option_names() | set(also)  # the caller's own options are as valid as the adapter's
        check_names(options, known, f"sotkit with {prefix}: models" if also else f"{prefix}: models",
                    owners=owners(set(options) - known, prefix))
        return provider(name, **options)
    try:  # an adapter taking **options checks them itself; a misspelt caller's option is named here
        return provider(name, **options)
    except ConfigError as exc:
        meant = {given: close for given in options if given not in also  # modle: mode or model
                 if (close := difflib.get_close_matches(given, also, n=2, cutoff=0.8))}
        others = owners(set(options) - provider.option_names() - set(also), prefix)
        if not meant and not others:
            raise
        # the misspelling first (probe 281: it came after the local engines' options, in 600 characters)
        lead = "".join(f"{given}= is no option: did you mean {' or '.join(map(repr, close))}? "
                       for given, close in meant.items())
        hints = "".join(f"; {given}= is an option of {whose}" for given, whose in others.items())
        raise ConfigError(f"{lead}{exc}{hints}") from exc


def base_url_variable(model: str) -> str | None:
    """The environment variable an API model's SDK finds its server in when no ``base_url=`` is given
    (``OPENAI_BASE_URL`` for ``openai:...``); None for other models."""
    prefix = model.partition(":")[0]
    return importlib.import_module(f".{prefix}", __name__).BASE_URL_VARIABLE if prefix in ("openai", "anthropic") \
        else None


def provider_class(prefix: str) -> Any:
    """The adapter class of ``prefix:`` models (``"openai"``): a ``Provider`` subclass taking ``(model_name,
    **options)``."""
    return importlib.import_module(f"{__name__}.{prefix}").PROVIDER


def owners(unknown: set[str], prefix: str) -> dict[str, str]:
    """Which other providers' models take the options a ``prefix:`` model does not (a local model's ``device=``
    given to an API model): option -> ``"openai: and anthropic: models"``."""
    if not unknown:
        return {}
    takes = {other: provider_class(other).option_names() for other in available() if other != prefix}
    taken = {option: [f"{other}:" for other, names in takes.items() if option in names] for option in unknown}
    return {option: f"{' and '.join(whose)} models" for option, whose in taken.items() if whose}
