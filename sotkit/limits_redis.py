"""Per-model limits shared by every process (on any machine) that names the same Redis: ``SoT(...,
limits="redis://host:6379/0")`` or ``limits=RedisLimits(url, lease=..., on_outage=...)``.

A provider's rate limits hold per organization, not per process. ``SharedModelLimits`` has the interface of
``ModelLimits`` (``slot()`` and ``admit()``), so the runner uses either alike; every decision is one Lua script,
atomic on the Redis server and timed by the server's clock, so machines need no synchronised clocks:

- concurrency: a sorted set of leases per model, scored by their expiry. A process renews the leases it holds
  every third of ``lease``; a process that dies stops renewing, and its slots free themselves within ``lease``.
  A full set is polled (every ``POLL_S``): only calls holding one of the process's own first-come-first-served
  slots poll, one task per event loop and model at a time (across processes and loops the order is the polls',
  not arrival).
- requests and tokens per minute: a token bucket per model in a hash (level, last update), the same bucket as
  ``TokenBucket`` (one second's worth, at least one unit), so a burst is spread at the budget's rate. A take
  reserves its units at once (the level may go below zero: later takes wait behind it) and is told how long to
  wait for its turn, so takes go in the order Redis runs them and a large one is not starved by small ones. A
  take whose caller leaves before its turn gives its units back only from the end of the line (in one process a
  take that gives up spends nothing: its turn goes to the next; here the takes behind it had their turns fixed).

Each event loop of the process (a sync app's threads may each run one) gets its own redis-py client, whose
sockets belong to the loop that opened them, and renews the leases taken in it.

All workers must configure the same budgets for a model (each passes its own numbers to the scripts).

When Redis goes away mid-run, ``on_outage`` decides: ``"open"`` (the default) keeps serving on this process's
own in-process limits (the same numbers, so N workers may together reach N times a budget until Redis is back:
the provider's own limit then answers 429, which the retry policy waits out); ``"closed"`` fails the calls
that need a new slot or budget with ``LimitsUnavailable`` (a ``ConnectionError``, so the retry policy retries
it, and then the fallback model). Either way Redis is tried again after ``RETRY_REDIS_S``; a call already
holding a slot keeps it. The default is fail-open because an outage of the limiter should not become an outage
of the answers; choose ``"closed"`` where going over a budget costs more than not answering.

Redis is only reachable from asyncio (redis-py's asyncio client), not from trio.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import random
import re
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import anyio

from .errors import AsyncioOnly, ConfigError, LimitsUnavailable, advise
from .forks import renewed_in_children
from .limits import SPACED_S, ModelLimits, TokenBucket
from .options import check_choice, check_number, check_type
from .per_loop import PerLoop
from .redact import shown_url, user_info_cut

T = TypeVar("T")

#: the protocol spoken: RESP2, which every Redis speaks (redis-py's default RESP3 opens with HELLO, from Redis 6)
RESP = 2
#: seconds between tries for a free concurrency slot while every slot is leased
POLL_S = 0.02
#: seconds after a failed Redis call before Redis is tried again (meanwhile on_outage decides at once)
RETRY_REDIS_S = 1.0
#: the shortest lease, renewed every third of it a Redis round trip apart, and the longest (a day: Redis keeps
#: expiries in milliseconds, and a dead worker's slots would stay taken as long)
MIN_LEASE_S, MAX_LEASE_S = 0.1, 86_400.0
#: the commands the limits run (PING, and SELECT for a database other than 0, where the client is built; the rest in
#: their scripts), which a Redis user needs on the keys under the prefix
COMMANDS = ("PING", "SELECT", "EVALSHA", "SCRIPT LOAD", "TIME", "ZREMRANGEBYSCORE", "ZCARD", "ZADD", "ZREM", "PEXPIRE",
            "HGET", "HSET", "HLEN", "HKEYS", "HDEL", "HINCRBY")
#: the errors Redis answers with that pass (busy with a script, out of memory, loading, a failover, too few replicas,
#: a failed save): outages, by their code (redis-py gives some a class of their own and drops the code: _passing)
_PASSING = ("BUSY", "OOM", "LOADING", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN", "NOREPLICAS", "MISCONF")


def _passing(exc: BaseException) -> bool:
    import redis.exceptions as errors

    return str(exc).startswith(_PASSING) or isinstance(exc, (errors.BusyLoadingError, errors.OutOfMemoryError,
                                                             errors.TryAgainError, errors.MasterDownError,
                                                             errors.ClusterDownError))


def _rights() -> str:
    return f"check that its user may run {', '.join(COMMANDS)} on the keys under the prefix (and that none of them " \
           "is renamed or disabled)"


def _refusal(exc: BaseException) -> str | None:
    """What to check where Redis answered the limits with an error that is no outage (None for an outage: no answer,
    or an error that passes, as BUSY or out of memory): its user's rights, a replica, another app's keys, a cluster,
    commands renamed or disabled."""
    import redis

    said = str(exc)
    if not isinstance(exc, redis.ResponseError) or _passing(exc):
        return None
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return "the URL names a read-only replica: name the primary"
    if said.startswith("WRONGTYPE"):
        return "another app's keys share the prefix: choose another prefix="
    if type(exc).__name__ in ("MovedError", "AskError"):  # (redis-py's cluster redirections)
        return "a Redis Cluster node: sotkit speaks to one Redis, so name one that is no cluster"
    return _rights()  # an ACL's refusal (NOPERM, or a command the script may not run), a command renamed, ...


# KEYS[1] the model's leases; ARGV: max concurrency, lease ms, lease id. 1 when the lease was taken.
ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS[1] the model's leases; ARGV: lease ms, lease ids held. The number of held leases that were missing.
RENEW = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local missing = 0
for i = 2, #ARGV do
  -- no XX: a held lease that is missing (Redis restarted and lost it, or it expired) is added back, so it counts
  missing = missing + redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return missing
"""

# The token bucket's scripts: KEYS[1] the bucket; ARGV: units per ms, capacity, units. Refilled up to now first.
_BUCKET_LEVEL = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local rate, capacity, units = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local level = tonumber(redis.call('HGET', KEYS[1], 'level') or capacity)
local updated = tonumber(redis.call('HGET', KEYS[1], 'updated') or now)
level = math.min(capacity, level + math.max(0, now - updated) * rate)
"""
_BUCKET_STORE = """
redis.call('HSET', KEYS[1], 'level', string.format('%.6f', level), 'updated', string.format('%.3f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - level) / rate) + 1000)
"""
# Takes the units at once: a level below zero is a debt that later takes wait out
# behind this one. Returns the ms until the caller's turn (the bucket full, for a take larger than it; 0 for now)
# and the take's number in line. A level at or above zero means no take waits: the records GIVE keeps are moot.
TAKE = _BUCKET_LEVEL + """
if level >= 0 and redis.call('HLEN', KEYS[1]) > 3 then
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(field, 1, 5) == 'gave:' then redis.call('HDEL', KEYS[1], field) end
  end
end
local wait = math.max(0, math.min(units, capacity) - level) / rate
level = level - units
local number = redis.call('HINCRBY', KEYS[1], 'last', 1)
""" + _BUCKET_STORE + "return {math.ceil(wait), number}"
# The take numbered ARGV[4] gave up before its turn. Units go back only from the end of the line: a take waiting
# behind it had its turn fixed with this debt counted, and a new take would otherwise get that same turn. Once every
# take behind has given up too, all of theirs go back.
GIVE = _BUCKET_LEVEL + """
redis.call('HSET', KEYS[1], 'gave:' .. ARGV[4], units)
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or 0)
while true do
  local given = redis.call('HGET', KEYS[1], 'gave:' .. last)
  if not given then break end
  redis.call('HDEL', KEYS[1], 'gave:' .. last)
  level = math.min(capacity, level + tonumber(given))
  last = last - 1
end
redis.call('HSET', KEYS[1], 'last', last)
""" + _BUCKET_STORE + "return 0"


class SharedLimitsWarning(UserWarning):
    """Redis, which shares the limits between processes, is unreachable: this process runs on its own limits."""


@dataclass(frozen=True)
class RedisLimits:
    """Limits shared through the Redis at ``url`` (``redis://``, ``rediss://`` or ``unix://``).

    ``lease``: seconds after which the concurrency slots of a process that died are free again (renewed every
    third of it while held). ``on_outage``: ``"open"`` or ``"closed"`` (see the module's docstring).
    ``timeout``: seconds for Redis to answer before it counts as gone. ``prefix`` starts every key.
    """

    url: str
    lease: float = 10.0
    on_outage: Literal["open", "closed"] = "open"
    timeout: float = 2.0
    prefix: str = "sotkit"

    def __post_init__(self) -> None:
        wanted = "a Redis URL such as 'redis://localhost:6379/0' or a RedisLimits"
        if not isinstance(self.url, str):  # not shown: a dict, say, may hold the URL, password and all
            raise ConfigError(f"limits= of type {type(self.url).__name__}: must be {wanted}")
        check_type("limits", self.url, str, wanted)  # one UTF-8 can carry
        if not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"limits={shown_url(self.url)!r}: a Redis URL starts with redis://, rediss:// or "
                              "unix://, for example 'redis://localhost:6379/0'")
        try:
            parts = urlsplit(self.url)
        except ValueError as exc:  # "Invalid IPv6 URL": an unclosed [ (probe 140)
            raise ConfigError(f"limits={shown_url(self.url)!r} is not a URL ({exc}): for example "
                              "'redis://localhost:6379/0'") from None
        if user_info_cut(self.url):  # redis-py would read the password's start as the port
            raise ConfigError(f"limits={shown_url(self.url)!r}: a / ? or # in the user name or password ends the "
                              "host part of a URL: percent-encode it (%2F, %3F, %23)")
        database = parts.path.strip("/") if not self.url.startswith("unix://") else ""
        if database and not database.isdigit():  # redis-py would quietly use database 0 ("/O" for "/0")
            raise ConfigError(f"limits={shown_url(self.url)!r}: the database after the port is a number, such as "
                              f"/0, not {database!r}")
        # (renewed every third of it, a Redis call apart: a few milliseconds let leases lapse while held; probe 265)
        check_number("lease", self.lease, above=None, at_least=MIN_LEASE_S, at_most=MAX_LEASE_S, optional=False)
        check_number("timeout", self.timeout, above=0, optional=False)
        check_choice("on_outage", self.on_outage, ("open", "closed"))
        check_type("prefix", self.prefix, str, "a str")

    def __repr__(self) -> str:  # the dataclass's, but for the URL's password (a config dump, a traceback's locals)
        shown = {field.name: getattr(self, field.name) for field in fields(self)} | {"url": shown_url(self.url)}
        return f"RedisLimits({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    def sync_client(self) -> Any:
        """A blocking redis-py client of this URL, for the checks made where the client is built."""
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
                                    protocol=RESP)

    def connect(self) -> RedisConnection:
        """Check that Redis answers (a clear ``LimitsUnavailable`` now rather than at the first call)."""
        if _in_trio():  # built on trio: refused first, whether Redis answers or not (probe 131)
            raise AsyncioOnly(_ON_TRIO)
        try:
            import redis
        except ImportError:
            raise ConfigError("limits shared through Redis need the redis package: "
                              "pip install 'sotkit[redis]'") from None
        try:
            client = self.sync_client()
        except ValueError as exc:
            raise ConfigError(f"limits={shown_url(self.url)!r} is not a Redis URL redis-py reads: {exc}") from None
        try:
            client.ping()
        except TypeError as exc:  # redis-py hands a URL option it does not parse to the connection, which refuses it
            option = re.search(r"unexpected keyword argument '([^']*)'", str(exc))
            raise ConfigError(f"limits={shown_url(self.url)!r}: redis-py takes no URL option "
                              f"{option[1] if option else str(exc)!r}; remove it or fix its name (options such "
                              "as ?socket_keepalive=true are redis-py's connection arguments)") from None
        except redis.AuthenticationError as exc:
            raise LimitsUnavailable(
                f"Redis at {shown_url(self.url)} refused the credentials ({exc}): put its password in the URL, "
                "redis://:PASSWORD@host:6379/0 (or redis://USER:PASSWORD@host:6379/0 for an ACL user)") from exc
        except (redis.ResponseError, redis.BusyLoadingError) as exc:  # it answered, with an error: "DB index is out
            # of range", say, or LOADING (a ConnectionError to redis-py, which drops its code)
            if _passing(exc):  # (busy with a script, a failed save: no fault of the URL's)
                raise LimitsUnavailable(f"Redis at {shown_url(self.url)} is not ready ({type(exc).__name__}: "
                                        f"{exc}): build the client again once it is") from exc
            if isinstance(exc, redis.exceptions.NoPermissionError):  # (review 269: PING, SELECT)
                raise LimitsUnavailable(f"Redis at {shown_url(self.url)} refused ({exc}): {_rights()}") from exc
            raise LimitsUnavailable(
                f"Redis at {shown_url(self.url)} answered with an error ({exc}): check the URL (its database number) "
                "and that the server is Redis 5 or newer") from exc
        except (redis.RedisError, OSError) as exc:
            # (a Redis without TLS never answers a TLS handshake: the client only times out)
            tls = " (rediss:// speaks TLS: use redis:// for a Redis without it)" \
                if self.url.startswith("rediss:") and isinstance(exc, redis.TimeoutError) else ""
            raise LimitsUnavailable(
                f"Redis at {shown_url(self.url)}, which would share the limits between processes, does not answer as "
                f"Redis ({type(exc).__name__}: {exc}); start it (redis-server), fix the URL{tls}, or leave limits= "
                "out to keep the limits in this process") from exc
        finally:
            client.close()
        return RedisConnection(self)


class _LoopState:
    """What one event loop uses of a ``RedisConnection``: redis-py's asyncio client (its sockets belong to the loop
    that opened them) and its scripts, the leases taken in this loop and the task renewing them, the Redis calls
    whose callers left, and the locks that let one task per model poll for a slot."""

    def __init__(self, config: RedisLimits) -> None:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # no retries inside redis-py: an outage is for on_outage to decide, after one timeout
        self.client = redis.asyncio.Redis.from_url(
            config.url, socket_timeout=config.timeout, socket_connect_timeout=config.timeout,
            retry=Retry(NoBackoff(), 0), protocol=RESP)
        self.scripts = {name: self.client.register_script(text)
                        for name, text in (("acquire", ACQUIRE), ("renew", RENEW), ("take", TAKE), ("give", GIVE))}
        self.held: dict[str, set[str]] = {}  # lease key -> lease ids held
        self.renewer: asyncio.Task[None] | None = None
        self.calls: set[asyncio.Task[Any]] = set()  # Redis calls whose caller left (a reference keeps them)
        self.pollers: dict[str, anyio.Lock] = {}  # lease key -> the lock its pollers queue on

    def poller(self, key: str) -> anyio.Lock:
        return self.pollers.setdefault(key, anyio.Lock())


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class RedisConnection:
    """One client's link to Redis: per event loop, an asyncio client, the leases held and their renewal."""

    def __init__(self, config: RedisLimits) -> None:
        self.config = config
        self.after_fork()
        renewed_in_children(self)
        self._loops = PerLoop(lambda: _LoopState(config))
        self._down_until = -1.0  # time.monotonic(): every loop of the process shares it
        self._last_error: BaseException | None = None
        self._warned = False

    def after_fork(self) -> None:
        """Lease ids of this process's own: forked children that took the parent's would share each lease."""
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._ids = itertools.count(1)

    def here(self) -> _LoopState:
        """This event loop's state; those of loops since closed are dropped (their sockets go with the loop)."""
        if _running_loop() is None:
            raise AsyncioOnly(_ON_TRIO)
        return self._loops.get()

    def check(self, key: str) -> None:
        """Run the renewal script once on ``key`` (a model's leases: it removes expired ones, as every call does)
        as the client is built: a Redis that answers but cannot run the limits (an ACL user without their scripts
        or keys, a read-only replica, another app's key there) is refused now, not warned of as an outage at the
        first call while each process keeps to its own limits (probe 265)."""
        import redis

        client = self.config.sync_client()
        try:
            # (with the longest lease: its PEXPIRE of the key, which holds other workers' leases, only lengthens
            # the key's life; with this client's it would shorten it to this client's lease; review 268)
            client.register_script(RENEW)(keys=[key], args=[round(MAX_LEASE_S * 1000)])
        except redis.RedisError as exc:
            if (advice := _refusal(exc)) is None:  # an outage now: on_outage decides at the first call
                return
            raise LimitsUnavailable(f"Redis at {shown_url(self.config.url)} refuses the limits' scripts on {key} "
                                    f"({type(exc).__name__}: {exc}): {advice}") from exc
        finally:
            client.close()

    def key(self, model: str, kind: str) -> str:
        return f"{self.config.prefix}:{{{model}}}:{kind}"  # {model}: a cluster keeps a model's keys together

    async def run(self, script: str, key: str, *args: Any,
                  late: Callable[[Any], Coroutine[Any, Any, Any]] | None = None) -> Any:
        """One script call, or ``None`` while Redis is down and ``on_outage="open"`` (``LimitsUnavailable``
        when ``"closed"``). ``late(result)`` undoes a call that goes through after the caller left (a lease:
        release it; a bucket's units: give them back)."""
        return await self._guard(lambda state: state.scripts[script](keys=[key], args=args), script, late)

    async def _guard(self, call: Callable[[_LoopState], Awaitable[T]], what: str,
                     late: Callable[[Any], Coroutine[Any, Any, Any]] | None = None) -> T | None:
        if time.monotonic() < self._down_until:
            self._outage(None, what)
            return None
        state = self.here()
        # The call runs in a task of its own, which the caller's deadline or cancellation does not stop: the caller
        # leaves at once (a shield would hold it up to `timeout` while Redis hangs), and what the server grants
        # after that is never lost: `late` undoes it.
        task = asyncio.get_running_loop().create_task(self._call(lambda: call(state)))
        try:
            exc, result = await asyncio.shield(task)
        except asyncio.CancelledError:
            state.calls.add(task)
            task.add_done_callback(lambda done: self._left(state, done, late))
            raise
        if exc is not None:
            self._outage(exc, what)
            return None
        if self._warned:
            self._warned = False
            advise(f"Redis at {shown_url(self.config.url)} answers again: the limits are shared again",
                   SharedLimitsWarning)
        return result

    async def _call(self, call: Callable[[], Awaitable[T]]) -> tuple[BaseException | None, T | None]:
        """``(None, result)``, or ``(error, None)`` when Redis fails, which then counts as down a while."""
        import redis

        try:
            return None, await call()
        except (redis.RedisError, OSError) as exc:
            self._down_until, self._last_error = time.monotonic() + RETRY_REDIS_S, exc
            return exc, None

    def _left(self, state: _LoopState, task: asyncio.Task[Any],
              late: Callable[[Any], Coroutine[Any, Any, Any]] | None) -> None:
        """A call whose caller left has ended: undo what it did (releasing a lease it was refused is harmless)."""
        state.calls.discard(task)
        if task.cancelled() or task.exception() is not None:
            return  # retrieved: the caller that would have seen it is gone
        exc, result = task.result()
        if late is not None and exc is None:
            undo = asyncio.get_running_loop().create_task(late(result))
            state.calls.add(undo)
            undo.add_done_callback(state.calls.discard)

    def _outage(self, exc: BaseException | None, what: str) -> None:
        exc = exc or self._last_error  # (within RETRY_REDIS_S of a failure: the failure's cause)
        cause = f" ({type(exc).__name__}: {exc})" if exc else ""
        # an error Redis answers with (an ACL's refusal, a replica's READONLY, another app's key) is no outage
        advice = _refusal(exc) if exc is not None else None
        state = f"refuses the limits' scripts{cause}: {advice}; until then" if advice else \
            f"is unreachable{cause}; until it is back"
        if self.config.on_outage == "closed":
            raise LimitsUnavailable(f"Redis at {shown_url(self.config.url)}, which shares the limits, {state}, with "
                                    "on_outage='closed', no call goes out") from exc
        if not self._warned:
            self._warned = True
            advise(f"Redis at {shown_url(self.config.url)}, which shares the limits, {state} (at {what}), this "
                   "process keeps to its own limits (on_outage='open')", SharedLimitsWarning, stacklevel=3)

    def lease_id(self) -> str:
        """A new lease's id: host, process and client (to read in Redis), and a counter."""
        return f"{self.owner}:{next(self._ids)}"

    def hold(self, key: str, lease_id: str) -> None:
        state = self.here()
        state.held.setdefault(key, set()).add(lease_id)
        if state.renewer is None or state.renewer.done():
            state.renewer = asyncio.get_running_loop().create_task(self._renew(state))

    async def release(self, key: str, lease_id: str) -> None:
        self.here().held.get(key, set()).discard(lease_id)
        await self._settle(lambda state: state.client.zrem(key, lease_id), "release")

    async def give_back(self, key: str, rate_per_ms: float, capacity: float, units: float, number: int) -> None:
        """Give up the take ``number`` in line, whose caller left before its turn (see GIVE)."""
        await self._settle(lambda state: state.scripts["give"](keys=[key], args=(rate_per_ms, capacity, units,
                                                                                 number)), "give back")

    async def _settle(self, call: Callable[[_LoopState], Awaitable[Any]], what: str) -> None:
        """A call for a caller that is done or leaving: waited for at most ``timeout``; a caller that is cancelled
        (its deadline, its client gone) leaves at once, and the call goes through without it (``_guard``)."""
        with anyio.move_on_after(self.config.timeout):
            try:
                await self._guard(call, what)
            except LimitsUnavailable:
                pass  # fail-closed refuses new calls, never a finished one: a lease expires by itself

    async def _renew(self, state: _LoopState) -> None:
        lease_ms = round(self.config.lease * 1000)
        while any(state.held.values()):
            asleep = time.monotonic()
            await asyncio.sleep(self.config.lease / 3)
            asleep = time.monotonic() - asleep
            for key, ids in list(state.held.items()):
                if ids:
                    renewed = set(ids)
                    try:
                        missing = await self.run("renew", key, lease_ms, *renewed)
                        if gone := renewed - ids:  # released meanwhile: the renewal may have added them back
                            await self._guard(lambda state: state.client.zrem(key, *gone), "renew")
                    except LimitsUnavailable:
                        continue  # fail-closed: the calls holding these slots go on; new ones are refused
                    if missing and missing > len(gone):
                        self._lost(key, missing - len(gone), asleep)

    def _lost(self, key: str, slots: int, asleep: float) -> None:
        """Held leases were gone from Redis: other processes may have taken those slots meanwhile."""
        why = (f"this process was paused {asleep:.1f} s, past lease={self.config.lease:g} s"
               if asleep > self.config.lease else "Redis lost them, or this process was held up past its lease")
        advise(f"{slots} concurrency slot(s) this process held ({key}) had expired in Redis ({why}); other processes "
               "may have taken them, so until these calls end up to that many more may run than the shared "
               "max_concurrency (a longer lease= covers longer pauses)", SharedLimitsWarning)

    async def aclose(self) -> None:
        """Close this event loop's client; other loops' clients are theirs to close (or go with their loop)."""
        if (state := self._loops.pop()) is not None:
            if state.renewer is not None:
                state.renewer.cancel()
            await state.client.aclose()


class SharedModelLimits:
    """``ModelLimits``' interface, with the budgets kept in Redis; ``local`` (this process's own limits, the
    same numbers) takes over while Redis is down with ``on_outage="open"``."""

    def __init__(self, connection: RedisConnection, model: str, max_concurrency: int, rpm: float | None = None,
                 tpm: float | None = None) -> None:
        self.local = ModelLimits(max_concurrency, rpm, tpm)  # checks the numbers
        self.connection = connection
        self.model = model
        self._slots = connection.key(model, "slots")
        connection.check(self._slots)

    @property
    def tpm(self) -> float | None:
        return self.local.tpm

    @property
    def max_concurrency(self) -> int:
        return self.local.max_concurrency

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        """One of the model's ``max_concurrency`` slots across every process, held for the block (as: did the call
        wait for it?)."""
        async with self.local.slot() as waited:  # never more here than in all; first come, first served here
            lease_id, polled = await self._acquire()
            try:
                yield waited or polled
            finally:
                if lease_id is not None:
                    await self.connection.release(self._slots, lease_id)

    async def _acquire(self) -> tuple[str | None, bool]:
        """The lease (None: Redis is down, fail-open), and whether the call waited for it."""
        lease_id = self.connection.lease_id()
        lease_ms = round(self.connection.config.lease * 1000)
        # one task per event loop polls Redis for a slot; the others of the loop queue behind it, in order
        queued = anyio.current_time()
        async with self.connection.here().poller(self._slots):
            # queued behind other calls' round trips to a Redis far away: spaced by the client as well
            polled = anyio.current_time() - queued > SPACED_S
            while True:
                taken = await self.connection.run("acquire", self._slots, self.max_concurrency, lease_ms, lease_id,
                                                  late=lambda _: self.connection.release(self._slots, lease_id))
                if taken is None:
                    return None, polled  # Redis is down, fail-open: the local slot alone holds
                if taken:
                    self.connection.hold(self._slots, lease_id)
                    return lease_id, polled
                polled = True
                await anyio.sleep(POLL_S * random.uniform(0.5, 1.5))  # jittered: processes do not poll in step

    async def admit(self, estimated_tokens: int) -> bool:
        """Wait for the per-minute budgets shared by every process: True where the call had to wait. The request
        last, and the tokens given back by a call that gives up waiting for it, as in one process (``ModelLimits``)."""
        waited, give_back, taken_at = False, None, 0.0
        if self.local.tokens:
            waited, give_back = await self._take("tokens", self.local.tokens, estimated_tokens)
            taken_at = time.monotonic()
        if self.local.requests:
            try:
                waited = (await self._take("requests", self.local.requests, 1))[0] or waited
            except BaseException:
                if give_back is not None and self.local.tokens:
                    await give_back(self.local.tokens.unspent(estimated_tokens, taken_at))
                raise
        return waited

    async def _take(self, kind: str, bucket: TokenBucket,
                    units: float) -> tuple[bool, Callable[[float], Awaitable[None]]]:
        """Wait for ``units`` of the ``kind`` budget: whether that spaced the call, and how to give some back."""
        key = self.connection.key(self.model, kind)
        rate, capacity = bucket.rate_per_s / 1000, bucket.capacity

        def give_back(taken: list[int], back: float = units) -> Coroutine[Any, Any, None]:
            return self.connection.give_back(key, rate, capacity, back, number=taken[1])

        taken = await self.connection.run("take", key, rate, capacity, units, late=give_back)
        if taken is None:  # Redis is down, fail-open: this process's own bucket
            async def local(back: float) -> None:
                bucket.give_back(back)
            return await bucket.take(units), local
        if wait_ms := taken[0]:
            # the units are reserved: the turn comes once the bucket has refilled for them, with no poll
            try:
                await anyio.sleep(wait_ms / 1000)
            except BaseException:  # cancelled before its turn: the units go back from the end of the line (GIVE)
                await give_back(taken)
                raise
        return wait_ms / 1000 > SPACED_S, functools.partial(give_back, taken)


def _in_trio() -> bool:
    """Is this code running in a trio event loop?"""
    trio = sys.modules.get("trio")
    try:
        return trio is not None and bool(trio.lowlevel.current_task())
    except RuntimeError:  # outside trio.run
        return False


_ON_TRIO = ("limits shared through Redis run on asyncio (redis-py's asyncio client), not trio: run on asyncio, or "
            "leave limits= out")
