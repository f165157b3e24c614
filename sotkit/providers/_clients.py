"""Several SDK clients behind one provider, each call on the least busy one.

Each SDK client owns one httpx connection pool, and httpcore checks every connection of its pool whenever
a request starts; for an idle keep-alive connection that check is a socket probe. With hundreds of SoT
expansions streaming at once the checks grow quadratic: on 30 questions x 8 points they were a quarter of
the client's CPU (benchmarks/overhead.py). So past ``calls_per_client`` calls in flight on every client,
another client (another pool) is opened. Calls go to the least busy client, the first on a tie, so calls made
one after another stay on one client and reuse its connection. All clients share one TLS context: building
one costs ~20 ms of CPU, most of what making a client costs.

The SDKs speak HTTP through httpx2; they also offer aiohttp underneath it "for improved concurrency
performance". With 400 expansions streaming at once its C parser and connection pool cut the client's CPU
per question by about a quarter (benchmarks/overhead.py), so a provider built with ``http="aiohttp"`` (or
with ``SOTKIT_HTTP=aiohttp`` set) uses it; it needs ``pip install 'sotkit[aiohttp]'`` and runs on asyncio only.
Its connection pool has no per-request check, so one client carries every call (up to the SDK's 1,000
connections): each extra client would also probe the platform in a worker thread on its first calls.
"""

from __future__ import annotations

import importlib.util
import os
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from types import ModuleType
from typing import Any

import httpx2

from ..errors import ConfigError

HTTP_BACKENDS = ("httpx", "aiohttp")
#: calls in flight on every client before the pool opens another, per HTTP backend
CALLS_PER_CLIENT = {"httpx": 32, "aiohttp": 1000}


def http_backend(chosen: str | None = None) -> str:
    """``chosen``, else ``$SOTKIT_HTTP``, else httpx (the SDKs' default); checked before any client is built."""
    chosen = chosen or os.environ.get("SOTKIT_HTTP") or "httpx"
    if chosen not in HTTP_BACKENDS:
        raise ConfigError(f"http={chosen!r}: use one of {', '.join(HTTP_BACKENDS)} "
                          "(as http=... or in $SOTKIT_HTTP)")
    if chosen == "aiohttp" and importlib.util.find_spec("aiohttp") is None:
        raise ConfigError("http='aiohttp' needs aiohttp: pip install 'sotkit[aiohttp]'")
    return chosen


class ClientPool:
    """Clients made by ``make(tls_context)`` on demand, at most ``max_clients``; a client given by the user is
    used alone."""

    def __init__(self, make: Callable[[ssl.SSLContext], Any] | None = None, *, client: Any = None,
                 calls_per_client: int = 32, max_clients: int = 16) -> None:
        if (make is None) == (client is None):
            raise ValueError("give either make or client")
        self._make = partial(make, httpx2.create_ssl_context()) if make is not None else None
        self._owned = client is None
        self._clients = [client if client is not None else self._make()]  # the first at once: bad settings fail here
        self._busy = [0]
        self._calls_per_client = calls_per_client
        self._max_clients = max_clients if self._owned else 1

    @asynccontextmanager
    async def client(self) -> AsyncIterator[Any]:
        """The client for one call, counted as busy until the block ends."""
        index = min(range(len(self._clients)), key=self._busy.__getitem__)
        if self._busy[index] >= self._calls_per_client and len(self._clients) < self._max_clients:
            self._clients.append(self._make())
            self._busy.append(0)
            index = len(self._clients) - 1
        self._busy[index] += 1
        try:
            yield self._clients[index]
        finally:
            self._busy[index] -= 1

    async def aclose(self) -> None:
        """Close the clients this pool made (never a user's own client)."""
        if self._owned:
            for client in self._clients:
                await client.close()


def sdk_clients(sdk: ModuleType, http: str | None, make: Callable[[Any], Any]) -> ClientPool:
    """A pool of ``make(http_client)`` SDK clients, each on the SDK's own async HTTP client (its defaults for
    timeouts and connection limits) for the backend ``http`` chooses (see ``http_backend``)."""
    backend = http_backend(http)
    http_client = sdk.DefaultAioHttpClient if backend == "aiohttp" else sdk.DefaultAsyncHttpxClient
    return ClientPool(lambda tls: make(http_client(verify=tls)), calls_per_client=CALLS_PER_CLIENT[backend])
