"""What a call cost in USD: the user's own prices first, else pydantic's ``genai-prices`` library.

The library's bundled price table is used as installed: it is never updated online (its ``UpdatePrices``, which
fetches a newer table from GitHub, is not started), so a cost is reproducible and needs no network. Upgrade the
package for newer prices, or pass ``prices=``.

A call is priced by its model string, whatever ``base_url`` served it: ``openai:gpt-4o-mini`` at OpenAI's list
price (a gateway in front of OpenAI bills the same), a model the library does not list at ``None`` (unknown,
never 0). ``local:`` models cost 0.0: an in-process model has no bill per token.
"""

from __future__ import annotations

from collections.abc import Mapping

from .options import check_prices
from .providers.base import CallUsage

#: the library's provider id for each provider prefix of a model string
LIBRARY_PROVIDERS = {"openai": "openai", "anthropic": "anthropic"}
#: providers whose calls cost nothing per token
FREE_PROVIDERS = frozenset({"local"})


class Prices:
    """Prices calls: ``cost(model, usage)`` is USD, or None where the model's price is unknown."""

    def __init__(self, overrides: Mapping[str, tuple[float, float]] | None = None) -> None:
        self.overrides = check_prices(overrides)
        self._unknown: set[str] = set()  # models the library does not list: looked up once

    def cost(self, model: str, usage: CallUsage) -> float | None:
        if (price := self.overrides.get(model)) is not None:
            return (usage.input_tokens * price[0] + usage.output_tokens * price[1]) / 1e6
        provider, _, name = model.partition(":")
        if provider in FREE_PROVIDERS:
            return 0.0
        if provider not in LIBRARY_PROVIDERS or model in self._unknown:
            return None
        import genai_prices  # imports pydantic models: only once an API model's call is priced

        try:
            calculation = genai_prices.calc_price(
                genai_prices.Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens),
                name, provider_id=LIBRARY_PROVIDERS[provider])
        except LookupError:  # a model (a self-hosted one, say) the library does not list
            self._unknown.add(model)
            return None
        return float(calculation.total_price)

    def known(self, model: str) -> bool:
        """Does this model have a price (its cost is not None)?"""
        return self.cost(model, CallUsage()) is not None
