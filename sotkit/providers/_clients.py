"""Several SDK clients behind one provider, each call on the least busy one.

Each SDK client owns one httpx connection pool, and httpcore checks every connection of its pool whenever
a request starts; for an idle keep-alive connection that check is a socket probe. With hundreds of SoT
expansions streaming at once the checks grow quadratic: on 30 questions x 8 points they were a quarter of
the client's CPU (benchmarks/overhead.py). So past ``calls_per_client`` calls in flight on every client,
another client (another pool) is opened. Calls go to the least busy client, the first on a tie, so calls made
one after another stay on one client and reuse its connection, and the others go idle: those past the first are
closed once idle for ``IDLE_CLIENT_S``, last first, as a call ends (a pool checks its connections' keep-alive only
when it is used, so after a burst an idle client's connections stayed open as long as the provider). All clients
share one TLS context: building one costs ~20 ms of CPU, most of what making a client costs. The first client is
made at the first call, in a worker thread: it imports the SDK (1-2 s the first time in a process) and builds that
context, which would otherwise stall the event loop.

The SDKs speak HTTP through httpx2; they also offer aiohttp underneath it "for improved concurrency
performance". With 400 expansions streaming at once its C parser and connection pool cut the client's CPU
per question by about a quarter (benchmarks/overhead.py), so a provider built with ``http="aiohttp"`` (or
with ``SOTKIT_HTTP=aiohttp`` set) uses it; it needs ``pip install 'sotkit[aiohttp]'`` and runs on asyncio only.
Its connection pool has no per-request check, so one client carries every call (up to the SDK's 1,000
connections): each extra client would also probe the platform in a worker thread on its first calls.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib
import importlib.util
import os
import ssl
import sys
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio
import anyio.to_thread

from ..errors import AsyncioOnly, ConfigError
from ..options import check_header
from ..per_loop import PerLoop, current_loop
from ..redact import hold, shown, shown_url

HTTP_BACKENDS = ("httpx", "aiohttp")
#: calls in flight on every client before the pool opens another, per HTTP backend
CALLS_PER_CLIENT = {"httpx": 32, "aiohttp": 1000}
#: how long a client past the first may stay idle before it is closed (longer than httpx's keep-alive expiry, 5 s,
#: and aiohttp's, 15 s: by then the SDK alone would have dropped its connections too)
IDLE_CLIENT_S = 20.0


def http_backend(chosen: str | None = None) -> str:
    """``chosen``, else ``$SOTKIT_HTTP``, else httpx (the SDKs' default); checked before any client is built."""
    chosen = chosen or os.environ.get("SOTKIT_HTTP") or "httpx"
    if chosen not in HTTP_BACKENDS:
        raise ConfigError(f"http={shown(chosen)}: use one of {', '.join(HTTP_BACKENDS)} "
                          "(as http=... or in $SOTKIT_HTTP)")
    if chosen == "aiohttp" and importlib.util.find_spec("aiohttp") is None:
        raise ConfigError("http='aiohttp' needs aiohttp: pip install 'sotkit[aiohttp]'")
    return chosen


def shared_tls_context() -> ssl.SSLContext:
    """One TLS context for every client in the process while ``$SSL_CERT_FILE`` and ``$SSL_CERT_DIR`` stay as they
    are (made in a worker thread, with the first client): a client built after they change trusts what they say
    then, as the SDK's own would (a CA a test set and then unset was still trusted)."""
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _tls_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """``shared_tls_context`` for these settings (httpx2 reads them from the environment itself)."""
    import httpx2  # the SDKs' HTTP library: 85 ms to import, so it is imported off the loop with them

    try:
        return httpx2.create_ssl_context()
    except OSError as exc:  # ssl's error names no file: say which setting gave it
        names = [name for name in ("SSL_CERT_FILE", "SSL_CERT_DIR") if os.environ.get(name)]
        names = [name for name in names if not os.path.exists(os.environ[name])] or names  # the one pointing nowhere
        given = "".join(f"; ${name}={os.environ[name]!r}" for name in names)
        advice = f": point ${' or $'.join(names)} at a readable CA bundle, or unset it" if names else ""
        raise ConfigError(f"the TLS certificates cannot be loaded ({exc.strerror or exc}{given}){advice}") from exc


class _LoopClients:
    """The clients of one event loop, and how many calls each carries now."""

    def __init__(self, given: Any = None) -> None:
        self.clients = [] if given is None else [given]
        self.busy = [0] * len(self.clients)
        self.idle_since = [0.0] * len(self.clients)  # when each client's last call ended (monotonic)
        self.opening = anyio.Lock()
        self.closer: AsyncGenerator[None, None] | None = None  # closes the clients this pool made, at the loop's end


async def _closed_with_the_loop(clients: list[Any]) -> AsyncGenerator[None, None]:
    """Waits, suspended, as long as its event loop lives, then closes ``clients``: ``asyncio.run`` and ``anyio.run``
    close the async generators a loop still holds before they close it. A sync app that runs a loop per request
    leaves no session or connection open behind each one (aiohttp would log every one left unclosed)."""
    try:
        yield
    finally:
        for client in clients:
            await client.close()
        clients.clear()


class ClientPool:
    """Clients made by ``make(tls_context)`` on demand, at most ``max_clients`` per event loop; a client given by the
    user is used alone.

    An SDK client's connections belong to the event loop that opened them, so each loop gets clients of its own
    (a sync app that calls ``anyio.run`` per request, or threads each running a loop), closed at that loop's end
    (``_closed_with_the_loop``; a loop closed without closing its async generators leaves them to the garbage
    collector). A user's client is tied to the loop it first ran in, through whichever pool: a second loop is
    refused.
    """

    def __init__(self, make: Callable[[ssl.SSLContext], Any] | None = None, *, client: Any = None,
                 calls_per_client: int = CALLS_PER_CLIENT["httpx"], max_clients: int = 16,
                 idle_s: float = IDLE_CLIENT_S,
                 sdk: str | None = None, prepare: Callable[[], object] | None = None, asyncio_only: bool = False
                 ) -> None:
        if (make is None) == (client is None):
            raise ValueError("give either make or client")
        self._sdk = sdk  # the name of the SDK whose clients these are
        self._make = make
        self._prepare = prepare  # the slow part of the first make (the SDK's import), which a cancel may abandon
        self._given = client
        self._owned = client is None
        self._loops = PerLoop(lambda: _LoopClients(client))
        self._calls_per_client = calls_per_client
        self._max_clients = max_clients if self._owned else 1
        self._idle_s = idle_s
        self._asyncio_only = asyncio_only  # aiohttp's clients
        if client is not None:
            _hold_secrets(self, client)

    def _here(self) -> _LoopClients:
        if not self._owned:
            loop = current_loop()
            if _first_loop(self._given, loop) is not loop:
                raise ConfigError(f"client= ({type(self._given).__name__}) ran in another event loop first, and its "
                                  "connections belong to that loop: in each new loop (asyncio.run per request, a "
                                  "thread's own loop) pass a client made in it, or pass api_key= and base_url= "
                                  "instead of client= (sotkit then opens clients per loop)")
        return self._loops.get()

    def check_event_loop(self) -> None:
        """``AsyncioOnly`` where this loop cannot run the clients (aiohttp's, on trio)."""
        if self._asyncio_only and not isinstance(current_loop(), asyncio.AbstractEventLoop):
            raise AsyncioOnly("http='aiohttp' runs on asyncio only, not on trio: use http='httpx' there (the "
                              "default; unset $SOTKIT_HTTP if it says aiohttp)")

    async def ready(self) -> None:
        """Make this loop's first client, off the event loop (see the module's notes)."""
        here = self._here()
        if here.clients:
            return
        self.check_event_loop()  # for a provider used on its own too; a request checks every model as it starts
        async with here.opening:
            if not here.clients:
                assert self._make is not None
                make = self._make
                if self._prepare is not None:  # a second or more at the first call: a deadline ends the wait, the
                    await anyio.to_thread.run_sync(self._prepare, abandon_on_cancel=True)  # import goes on, is kept
                here.clients.append(await anyio.to_thread.run_sync(lambda: make(shared_tls_context())))
                _hold_secrets(self, here.clients[0])
                here.busy.append(0)
                here.idle_since.append(0.0)
                here.closer = _closed_with_the_loop(here.clients)
                await anext(here.closer)  # started: the loop now holds it

    @asynccontextmanager
    async def client(self) -> AsyncIterator[Any]:
        """The client for one call, counted as busy until the block ends."""
        here = self._here()
        if not here.clients:
            await self.ready()
        clients, busy, idle_since = here.clients, here.busy, here.idle_since
        index = min(range(len(clients)), key=busy.__getitem__)
        if busy[index] >= self._calls_per_client and len(clients) < self._max_clients:
            assert self._make is not None  # the SDK is imported and the TLS context built: a few ms
            clients.append(self._make(shared_tls_context()))
            busy.append(0)
            idle_since.append(0.0)
            index = len(clients) - 1
        busy[index] += 1
        client = clients[index]  # (an aclose() during the call empties the list)
        try:
            yield client
        except Exception as exc:
            if (error := _sdk_error_for(exc, self._sdk, client)) is None:
                raise
            raise error from exc
        finally:
            busy[index] -= 1
            idle_since[index] = time.monotonic()
            if len(clients) > 1:
                await self._close_idle(here)

    async def _close_idle(self, here: _LoopClients) -> None:
        """Close the clients past the first that have been idle for ``idle_s``, last first: popped, so that the calls
        in flight keep their clients' places, and closed at once, shielded as the SDKs' own close is."""
        idle = []
        while len(here.clients) > 1 and not here.busy[-1] and time.monotonic() - here.idle_since[-1] >= self._idle_s:
            here.busy.pop(), here.idle_since.pop()
            idle.append(here.clients.pop())
        interrupted: BaseException | None = None
        for old in idle:  # each closed, whatever another's close raised: popped, no one else would close it
            try:
                with anyio.CancelScope(shield=True):
                    await old.close()
            except Exception:  # an idle client's close fails no call
                pass
            except BaseException as exc:  # a native cancel (task.cancel()) passes the shield: raised after
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted

    async def aclose(self) -> None:
        """Close the clients this pool made for this event loop now (never a user's own client); other loops'
        close with their loops."""
        here = self._loops.pop()
        if here is not None and here.closer is not None:
            await here.closer.aclose()


def _hold_secrets(pool: ClientPool, client: Any) -> None:
    """The key ``client`` sends and its base URL's password, replaced by *** in sotkit's messages while ``pool``
    lives (a server's error may repeat them)."""
    keys = ("api_key", "auth_token", "_azure_ad_token", "access_token")  # Azure AD's and Vertex's tokens too
    hold(pool, keys=[getattr(client, key, None) for key in keys], urls=(getattr(client, "base_url", ""),))


def _sdk_error_for(error: Exception, sdk: str | None, client: Any) -> Exception | None:
    """The error the SDK named ``sdk`` should have raised for ``error``, where that is not ``error`` itself. The
    SDKs' aiohttp transport lets some of aiohttp's own errors through (a broken chunked encoding: "Invalid character
    in chunk size"), which no retry policy knows, and says any failure to connect or to be answered timed out
    (``APITimeoutError`` at once for a refused connection, a reset, a server that closes; probe 292, review 294):
    they are the SDK's ``APIConnectionError``. A timeout stays one, the TLS handshake's too."""
    aiohttp = sys.modules.get("aiohttp")
    if sdk is None or aiohttp is None:
        return None
    if isinstance(error, sys.modules[sdk].APITimeoutError):  # (through httpx's ConnectTimeout)
        error = getattr(error.__cause__, "__cause__", None)  # type: ignore[assignment]
        timed_out = (TimeoutError, ConnectionAbortedError)  # (asyncio aborts a TLS handshake that takes too long)
        if not isinstance(error, aiohttp.ClientError) or isinstance(error, timed_out) \
                or isinstance(getattr(error, "os_error", None), timed_out):
            return None
    elif not isinstance(error, aiohttp.ClientError):
        return None
    import httpx2

    return sys.modules[sdk].APIConnectionError(message=f"Connection error: {error}",
                                               request=httpx2.Request("POST", client.base_url))


#: the event loop each user's client first ran in, by its HTTP client: one-off SoT clients (sotkit.generate(...,
#: client=)) and the copy without retries share it
_FIRST_LOOPS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _first_loop(client: Any, loop: Any) -> Any:
    """The loop ``client``'s connections belong to: the first it ran in (``loop``, if none yet)."""
    return _FIRST_LOOPS.setdefault(getattr(client, "_client", client), loop)


#: the GenAI semantic conventions' provider names of the SDKs' clients for cloud platforms, by class name
_PLATFORM_CLIENTS = {"AsyncAzureOpenAI": "azure.ai.openai", "AsyncAnthropicVertex": "gcp.vertex_ai",
                     "AsyncAnthropicBedrockMantle": "aws.bedrock"}


def platform_of(client: Any) -> str | None:
    """The platform a user's SDK client reaches (``Provider.platform``), where its class says."""
    return next((_PLATFORM_CLIENTS[kind.__name__] for kind in type(client).__mro__
                 if kind.__name__ in _PLATFORM_CLIENTS), None)


def user_client(client: Any, sdk_name: str, class_name: str, **settings: Any) -> ClientPool:
    """A pool of the user's own SDK client, checked now rather than at the first call: it must be one of the SDK's
    async clients (``AsyncOpenAI``, ``AsyncAzureOpenAI``, ``AsyncAnthropicVertex``, ...; the SDK is imported
    already: the user built it), and the settings sotkit would give a client it builds (``api_key``, ``base_url``,
    ...) belong on that client instead. A client that retries on its own is used as a copy that does not."""
    sdk = sys.modules.get(sdk_name)
    async_client = getattr(getattr(sdk, "_base_client", None), "AsyncAPIClient", None) or getattr(sdk, class_name, None)
    if async_client is None or not isinstance(client, async_client):
        kind = f"{type(client).__module__}.{type(client).__qualname__}"
        raise ConfigError(f"client= takes an async client of the {sdk_name} SDK ({sdk_name}.{class_name} or another "
                          f"of its Async... clients), not {kind}")
    if given := [name for name, value in settings.items() if value is not None]:
        raise ConfigError(f"{', '.join(given)} and client= both given: set {', '.join(given)} on the client you "
                          "pass (sotkit uses it as it is), or leave client= out")
    # sent as headers, given or read by the SDK from its environment variables (reviews 264, 266)
    for name in ("api_key", "auth_token", "organization", "project", "_azure_ad_token", "access_token"):
        if isinstance(value := getattr(client, name, None), str):  # (Azure keeps its token as _azure_ad_token)
            check_header(f"client.{name.lstrip('_')} (given, or read by the SDK from its environment variable)", value)
    if any(kind.__name__.endswith("Bedrock") for kind in type(client).__mro__):  # AWS's own event-stream framing
        raise ConfigError(f"client={type(client).__name__}: sotkit reads server-sent event streams, and Bedrock "
                          "streams in AWS's event-stream format; use the Anthropic API, Vertex, or an "
                          "OpenAI-compatible gateway")
    if getattr(client, "max_retries", 0):  # sotkit's retry policy is the only retry layer
        try:
            client = client.with_options(max_retries=0)
        except Exception as exc:
            raise ConfigError(f"client= retries on its own (max_retries={client.max_retries}) and could not be "
                              f"copied without it ({exc}): build it with max_retries=0") from exc
    return ClientPool(client=client, sdk=sdk_name)


def import_sdk(name: str, warm: tuple[str, ...] = ()) -> ModuleType:
    """Import an SDK and the modules ``warm`` names (where installed), in a worker thread.

    An SDK brings 70,000-120,000 objects that live as long as the process (modules, classes, pydantic schemas).
    Importing them triggers full garbage collections that walk the whole heap while holding the GIL, 40-80 ms
    each on a 2-core machine, and every one stalls the event loop; every later full collection walks them
    again. So the first import freezes the heap around it (``gc.freeze()``): collections skip what was alive
    then, and the longest loop pause of a first call falls from 80 ms to under 25 ms
    (``benchmarks/loop_stalls.py``). Objects alive then (the application's too) that are in reference cycles are
    never freed by the cycle collector, even once garbage; ``gc.unfreeze()`` after the first call undoes it."""
    first = name not in sys.modules
    if first:
        gc.freeze()
    sdk = importlib.import_module(name)
    for extra in warm:
        try:
            importlib.import_module(extra)
        except ImportError:
            pass
    if first:
        gc.freeze()
    return sdk


def network_timeout(sdk: ModuleType, seconds: float | None) -> Any:
    """An SDK client's timeout for ``timeout=seconds``: connecting, sending and a free connection, not reading. The
    wait for text is sotkit's own (``first_token_timeout``, ``stall_timeout``), which keeps a call that a server
    decoding one request at a time has queued behind the others (a read timeout ended it, and the retry queued
    again)."""
    return None if seconds is None else sdk.Timeout(seconds, read=None)


def sdk_clients(sdk_name: str, http: str | None, make: Callable[[ModuleType, Any], Any],
                warm: tuple[str, ...] = (), base_url: str | None = None, key: str | None = None) -> ClientPool:
    """A pool of ``make(sdk, http_client)`` SDK clients (``sdk`` the module ``sdk_name``, imported when the first
    client is made), each on the SDK's own async HTTP client (its defaults for timeouts and connection limits) for
    the backend ``http`` chooses (see ``http_backend``). ``warm`` names modules the SDK would import at its first
    request, on the event loop; they are imported with the SDK instead (where installed). ``base_url``: the URL
    the clients will call, checked against the backend; it and ``key``, the key they will send, are kept out of
    sotkit's messages from now on (not from the first call: a fallback's key may come back in another model's
    error before its own first call)."""
    backend = http_backend(http)
    if backend == "aiohttp" and base_url and "@" in urlsplit(base_url).netloc:
        # aiohttp refuses a URL's credentials beside the SDK's Authorization header, at every call
        raise ConfigError(f"base_url={shown_url(base_url)!r} holds credentials (user:password@), which "
                          "http='aiohttp' cannot send: use http='httpx' (the default; unset $SOTKIT_HTTP if it says "
                          "aiohttp), or drop the credentials from the URL")

    parts = urlsplit(base_url or "")
    # a URL's credentials go as httpx sends them from the URL (a Basic header), but not in the URL, which httpx logs
    # at INFO for every request (and the SDKs at DEBUG)
    auth = {"auth": (unquote(parts.username or ""), unquote(parts.password or ""))} if "@" in parts.netloc else {}

    def build(tls: ssl.SSLContext) -> Any:
        sdk = import_sdk(sdk_name, warm)
        http_client = sdk.DefaultAioHttpClient if backend == "aiohttp" else sdk.DefaultAsyncHttpxClient
        client = make(sdk, http_client(verify=tls, **auth))
        if auth:
            client.base_url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        return client

    pool = ClientPool(build, calls_per_client=CALLS_PER_CLIENT[backend], sdk=sdk_name,
                      prepare=functools.partial(import_sdk, sdk_name, warm), asyncio_only=backend == "aiohttp")
    hold(pool, keys=(key,), urls=(base_url or "",))
    return pool
