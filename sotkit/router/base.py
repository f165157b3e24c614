"""What every router shares: the ``Decision``, the ``Router`` protocol, and the fallback that keeps a failing
router from failing a request."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from ..errors import ConfigError, describe
from ..result import Mode  # at run time too: typing.get_type_hints (pydantic, FastAPI) reads Decision's fields
from ..tracing import without_text


@dataclass(frozen=True)
class Decision:
    """A router's verdict: the mode, a one-line reason for humans, and how sure the router is (0..1).

    The learned routers' ``confidence`` is calibrated on held-out questions: 0.8 means right about 8 times in 10.
    """

    mode: Mode
    reason: str
    confidence: float

    def __post_init__(self) -> None:
        if self.mode not in ("sot", "sequential"):
            raise ConfigError(f"Decision.mode must be 'sot' or 'sequential', not {self.mode!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ConfigError(f"Decision.confidence must lie in [0, 1], not {self.confidence!r}")

    @property
    def p_sot(self) -> float:
        """The probability that SoT suits the question, as this decision states it."""
        return self.confidence if self.mode == "sot" else 1.0 - self.confidence


@runtime_checkable
class Router(Protocol):
    """Anything with ``async decide(question) -> Decision`` routes requests."""

    async def decide(self, question: str) -> Decision: ...


@runtime_checkable
class SyncRouter(Protocol):
    """A router that can also decide synchronously, without a model call (the fallback of the others)."""

    def classify(self, question: str) -> Decision: ...


class FallsBack:
    """Base of routers that may fail: ``_decide`` may raise; ``decide`` never does (it asks ``fallback``).

    Routing only chooses between two correct ways to answer, so a router error must never fail a request.
    """

    name = "router"

    def __init__(self, fallback: SyncRouter | None = None) -> None:
        if fallback is None:
            from . import default_router

            fallback = default_router()
        self.fallback = fallback

    async def decide(self, question: str) -> Decision:
        try:
            return await self._decide(question)
        except Exception as exc:  # noqa: BLE001 -- a router error must never fail the request
            return self.fall_back(question, exc)

    def fall_back(self, question: str, error: Exception) -> Decision:
        """The fallback's decision, its reason saying why this router could not decide."""
        decision = self.fallback.classify(question)
        why = describe(error) if str(error) else type(error).__name__  # (cut: a server may echo the question)
        # logged as the runner's fallbacks are, quoted text elided (a model's reply): a router that cannot decide
        # (a template asking for another reply, a model answering otherwise) pays for every call
        logging.getLogger("sotkit").warning("%s router failed (%s); its fallback router decides", self.name,
                                            without_text(error))
        return replace(decision, reason=f"{self.name} router failed ({why}); fell back to {decision.reason}")

    async def _decide(self, question: str) -> Decision:
        raise NotImplementedError

    def failures(self, decisions: list[Decision]) -> list[str]:
        """The errors of the decisions this router could not make itself, as ``fall_back`` words them."""
        failed = f"{self.name} router failed ("
        return [d.reason.removeprefix(failed).partition("); fell back to ")[0] for d in decisions
                if d.reason.startswith(failed)]


class GuardedRouter(FallsBack):
    """Wraps a user's router so that its exceptions and malformed results fall back to the default router."""

    def __init__(self, router: Router, fallback: SyncRouter | None = None) -> None:
        super().__init__(fallback)
        self.router = router
        self.name = type(router).__name__

    async def _decide(self, question: str) -> Decision:
        decision = await self.router.decide(question)
        if not isinstance(decision, Decision):
            raise TypeError(f"decide() returned {type(decision).__name__}, not a sotkit.router.Decision")
        return decision
