"""What a call cost in USD: the user's own prices first, else pydantic's ``genai-prices`` library.

The library's bundled price table is used as installed: it is never updated online (its ``UpdatePrices``, which
fetches a newer table from GitHub, is not started), so a cost is reproducible and needs no network. Upgrade the
package for newer prices, or pass ``prices=``.

A call is priced by its model string, whatever ``base_url`` served it: ``openai:gpt-4o-mini`` at OpenAI's list
price (a gateway in front of OpenAI bills the same), a model the library does not list at ``None`` (unknown,
never 0). ``local:`` models cost 0.0: an in-process model has no bill per token. A model left unknown while a
``prices=`` key is close to its name (a typo, most likely) gets a warning, once, that names the key; a key that
prices no model of the client is no error, since one table may serve several clients.

``Usage.cost`` calls ``Prices.cost`` when it is read, for each call it recorded.
"""

from __future__ import annotations

import datetime
import difflib
import warnings
from collections.abc import Mapping

from .options import check_prices

#: the library's provider id for each provider prefix of a model string
LIBRARY_PROVIDERS = {"openai": "openai", "anthropic": "anthropic"}
#: providers whose calls cost nothing per token
FREE_PROVIDERS = frozenset({"local"})


class Prices:
    """Prices calls: ``cost(model, input_tokens, output_tokens)`` is USD, or None where the price is unknown."""

    def __init__(self, overrides: Mapping[str, tuple[float, float]] | None = None) -> None:
        self.overrides = check_prices(overrides)
        self._warned: set[str] = set()
        self._models: set[str] = set()  # the client's (``check_models``): a key for one of them is no typo

    def cost(self, model: str, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0,
             cache_write_tokens: int = 0, service_tier: str | None = None, at: float | None = None,
             cache_write_1h_tokens: int = 0, web_searches: int = 0) -> float | None:
        """One call's cost. The prompt cache's reads and writes are part of ``input_tokens``: the library prices them
        at the cache's prices (the writes that stay an hour, ``cache_write_1h_tokens`` of ``cache_write_tokens``, at
        their own), an override (which has none) at its input price. The library prices a ``service_tier``
        at its rates (the standard ones for a tier it does not list) and the call at the prices of its time ``at``
        (seconds since the epoch; now when None), and the server's ``web_searches`` at its price per search (an
        override prices tokens only)."""
        if (price := self.overrides.get(model)) is not None:
            return (input_tokens * price[0] + output_tokens * price[1]) / 1e6
        if model.partition(":")[0] in FREE_PROVIDERS:
            return 0.0
        found = _library_model(model)
        if found is None or not _listed(found):
            self._unknown(model)
            return None
        self._named_otherwise(model)
        import genai_prices

        more = {name: count for name, count in (("cache_write_1h_tokens", cache_write_1h_tokens),
                                                ("web_searches", web_searches)) if count}
        calculation = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=input_tokens, output_tokens=output_tokens,
                               cache_read_tokens=cache_read_tokens, cache_write_tokens=cache_write_tokens, **more),
            found[1], provider_id=found[0], price_context={"service_tier": service_tier} if service_tier else None,
            genai_request_timestamp=None if at is None else datetime.datetime.fromtimestamp(at, datetime.timezone.utc))
        return float(calculation.total_price)  # per call: a long prompt's tier is the call's own

    def check_models(self, models: list[str]) -> None:
        """Warn of a key close to the name of a model the client uses, where none is equal to it, naming neither
        another of its models nor one the library prices (a sibling such a table may well price for other clients):
        a typo that would leave the model at the library's price, or none, silently."""
        self._models = set(models)
        for model in models:
            if model not in self.overrides and (key := self._typo_of(model)):
                warnings.warn(f"prices= has {key!r} but not {model!r}, a model of this client: a typo? "
                              f"{model!r} gets the library's price (None where it has none)", stacklevel=3)

    def _unknown(self, model: str) -> None:
        """Warn, once, of a ``prices=`` key that looks like a typo of an unknown model's name."""
        if self._first_look(model) and (key := self._typo_of(model)):
            warnings.warn(f"no price is known for {model!r}, so its cost is None; prices= has {key!r}: a typo "
                          f"of {model!r}?", stacklevel=4)  # the line that read usage.cost

    def _named_otherwise(self, model: str) -> None:
        """Warn, once, of a ``prices=`` key the library takes for the same model as ``model`` (a dated snapshot's
        name, another spelling), which prices only the model string it equals. Not applied: the library gives one
        name to some models that are not the same (``gpt-5-chat-latest`` and ``gpt-5``)."""
        if not self._first_look(model):
            return
        same = _library_id(model)
        if key := next((key for key in self.overrides if key != model and _library_id(key) == same), None):
            warnings.warn(f"{model!r} is priced at genai-prices' price: prices= has {key!r}, which the library takes "
                          f"for the same model, but a key prices only the model string it equals (give {model!r} a "
                          "key of its own to price it so)", stacklevel=4)  # the line that read usage.cost

    def _first_look(self, model: str) -> bool:
        """Is this the first time ``model`` is priced with keys given? (Each model is warned of once.)"""
        if model in self._warned or not self.overrides:
            return False
        self._warned.add(model)
        return True

    def _typo_of(self, model: str) -> str | None:
        """The key closest to ``model``'s name that names neither another model of the client nor one the library
        prices (a sibling such a table may well price for other clients), if one is close."""
        others = [key for key in self.overrides if key not in self._models]
        close = [key for key in others if _same_paid_name(key, model)]  # under another provider, most likely
        close += difflib.get_close_matches(model, others, n=len(others) or 1, cutoff=0.8)
        # the library matches names in any case: a key the model's in other capitals would pass for one it prices
        return next((key for key in close if key.casefold() == model.casefold() or not _listed_model(key)), None)


def _same_paid_name(key: str, model: str) -> bool:
    """Is ``key`` ``model``'s name under another provider, neither of them free ("anthropic:my-finetune" for
    "openai:my-finetune"; "local:llama-3" and "openai:llama-3" may well be one table's two ways to run one model)?"""
    (key_provider, _, key_name), (provider, _, name) = key.partition(":"), model.partition(":")
    return key_name.casefold() == name.casefold() and not {key_provider, provider} & FREE_PROVIDERS


def _listed_model(model: str) -> bool:
    return (found := _library_model(model)) is not None and _listed(found)


def _library_model(model: str) -> tuple[str, str] | None:
    """The library's (provider id, model name) for a model string, or None for providers it does not price."""
    provider, _, name = model.partition(":")
    return (LIBRARY_PROVIDERS[provider], name) if provider in LIBRARY_PROVIDERS else None


#: (provider id, model name) -> the library's id of the model, or None where it lists none (for the process: a miss
#: matches the whole table)
_IDS: dict[tuple[str, str], str | None] = {}


def _listed(key: tuple[str, str]) -> bool:
    if key not in _IDS:
        import genai_prices  # imports pydantic models: only once an API model's call is priced

        try:
            _IDS[key] = genai_prices.calc_price(genai_prices.Usage(), key[1], provider_id=key[0]).model.id
        except LookupError:  # a model (a self-hosted one, say) the library does not list
            _IDS[key] = None
    return _IDS[key] is not None


def _library_id(model: str) -> tuple[str, str] | None:
    """The library's (provider id, model id) for a model string it lists: one for every name of a model."""
    found = _library_model(model)
    return (found[0], _IDS[found]) if found is not None and _listed(found) else None  # type: ignore[return-value]
