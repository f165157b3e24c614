"""Limits shared across processes through a real redis-server (installed by .ci/redis-server), with worker
processes (tests/redis_worker.py) against one FakeLLMServer: the server's own timestamps show what it was sent."""

import asyncio
import itertools
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path

import anyio
import pytest
import redis

import sotkit
from sotkit.limits_redis import COMMANDS, SharedModelLimits, _refusal
from sotkit.redact import shown_url
from sotkit.testing import FakeLLMServer, Latency, Reply
from tests.conftest import free_port, untraced_env
from tests.test_coordinator import max_overlap
from tests.test_limits import exit_status, fork, needs_fork, turns_after_the_first_gives_up

pytestmark = pytest.mark.anyio

WORKER = Path(__file__).with_name("redis_worker.py")
FAST = Latency(ttft_s=0.0, tokens_per_s=2000)


@contextmanager
def redis_server(port: int, password: str | None = None):
    """A redis-server of our own on ``port``, without persistence (with ``password`` required if given); yields
    its process; stopped on exit."""
    if shutil.which("redis-server") is None:
        why = "redis-server is not installed (the README's test command installs it with .ci/redis-server)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; in CI this test must run, not skip")
        pytest.skip(why)
    auth = ["--requirepass", password] if password else []
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", *auth], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = redis.Redis(port=port, password=password)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"redis-server exited: {process.stderr.read()[-2000:]!r}"
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not come up in 20 s"
                time.sleep(0.05)
        yield process
    finally:
        client.close()
        process.send_signal(signal.SIGCONT)  # a test may have frozen it: a stopped process would not terminate
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_url():
    port = free_port()
    with redis_server(port):
        yield f"redis://127.0.0.1:{port}/0"


def start_worker(redis_url: str, server: FakeLLMServer, questions: list[str], **options) -> subprocess.Popen:
    flags = [part for name, value in options.items() for part in (f"--{name.replace('_', '-')}", str(value))]
    worker = subprocess.Popen([sys.executable, str(WORKER), redis_url, server.openai_base_url, *questions, *flags],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=untraced_env())
    assert worker.stdout.readline() == "ready\n", worker.stderr.read()
    return worker


def go(*workers: subprocess.Popen) -> None:
    """Start workers together (each waits for a line once its client is built)."""
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()


def finish(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        _, err = worker.communicate(timeout=120)  # closes stdin
        assert worker.returncode == 0, err[-3000:]


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_workers_never_exceed_the_shared_concurrency(redis_url):
    with FakeLLMServer(Reply("one two three four five six seven eight", latency=Latency(0.1, 40))) as server:
        workers = [start_worker(redis_url, server, [f"w{w} q{i}" for i in range(6)], max_concurrency=2)
                   for w in range(3)]
        go(*workers)
        finish(workers)
        requests = server.requests
    assert len(requests) == 18
    # two slots across three processes, each of which alone would send six at once
    assert max_overlap(requests) == 2


def test_workers_share_one_requests_per_minute_budget(redis_url):
    with FakeLLMServer(Reply("ok", latency=FAST)) as server:
        workers = [start_worker(redis_url, server, [f"w{w} q{i}" for i in range(10)], rpm=600) for w in range(3)]
        go(*workers)
        finish(workers)
        times = sorted(r.received_at for r in server.requests)
    assert len(times) == 30
    # A bucket of 10 refilled at 10 a second (rpm=600, shared): any stretch of the server's clock holds at most
    # 10 + 10/s x its length requests. 0.5 s of slack for the way from Redis's grant to the server (a process's
    # first call builds its HTTP client there, on a loaded machine); three processes with a bucket each would
    # send all 30 in the first instant (30 > 10 + 10 x 0.5). For the first and last request this says the 30
    # span at least 1.5 s (a separate check for 1.8 s failed once, at 1.79 s, on a loaded machine).
    for i in range(len(times)):
        for j in range(i, len(times)):
            assert j - i + 1 <= 10 + 10 * (times[j] - times[i] + 0.5), (i, j, times[j] - times[i])


def test_a_killed_workers_slots_are_free_within_the_lease(redis_url):
    lease = 2.0  # renewed every 0.67 s: a loaded machine may hold a process back a while

    def respond(request):
        return Reply("held", latency=Latency(ttft_s=120)) if "hold" in request.user else Reply("quick", latency=FAST)

    client = redis.Redis.from_url(redis_url)
    with FakeLLMServer(respond) as server:
        holder = start_worker(redis_url, server, ["hold 1", "hold 2"], max_concurrency=2, lease=lease)
        go(holder)
        wait_for(lambda: len(server.requests) == 2, "the holder's two calls")
        waiter = start_worker(redis_url, server, ["quick 1", "quick 2"], max_concurrency=2, lease=lease)
        go(waiter)
        time.sleep(3 * lease)  # the holder renews its leases: they outlive the lease time while it lives
        assert len(server.requests) == 2, "a call went out while every shared slot was held"
        [key] = client.keys("sotkit:*:slots")
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        now_s, now_us = client.time()
        expiries = [score for _, score in client.zrange(key, 0, -1, withscores=True)]
        # nothing renews them now: every lease ends within one lease time of the death, on Redis's own clock
        assert len(expiries) <= 2 and all(e <= now_s * 1000 + now_us / 1000 + lease * 1000 for e in expiries)
        finish([waiter])
        quick = [r for r in server.requests if "quick" in r.user]
    assert len(quick) == 2 and all(r.text == "quick" for r in quick)


async def test_unreachable_redis_at_construction_is_a_clear_error():
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(sotkit.LimitsUnavailable, match=rf"Redis at {url}.*start it \(redis-server\), fix the URL, "
                                                       r"or leave limits= out"):
        sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k", limits=url)
    with pytest.raises(sotkit.ConfigError, match="starts with redis://"):
        sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k", limits="http://localhost:6379")
    with pytest.raises(sotkit.ConfigError, match="on_outage='sometimes': use 'open' or 'closed'"):
        sotkit.RedisLimits("redis://localhost", on_outage="sometimes")
    # (probe 265: a lease of a few milliseconds lapsed while held, and two processes shared one slot)
    for lease in (0, 0.002, 1e17):  # (review 267: 1e17 failed mid-run, Redis's expiry out of range)
        with pytest.raises(sotkit.ConfigError, match=re.escape(f"lease={lease!r}: must be a number >= 0.1 and <= ")):
            sotkit.RedisLimits("redis://localhost", lease=lease)


def test_a_redis_that_answers_but_refuses_the_limits_scripts_is_refused_at_construction(redis_url):
    # probe 265: an ACL user without scripts, a read-only replica or another app's key under the prefix answered PING
    # and was taken; each process then kept to its own limits (N times the budget), warned once as an outage "until
    # it is back". The check runs the limits' own renewal script on the model's key (review 267: a probe key of
    # its own deleted a user's, needed EVAL, SET and DEL, and fell in another cluster slot)
    admin = redis.Redis.from_url(redis_url)
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    key = "sotkit:{openai:m}:slots"

    def build(url: str, **options) -> sotkit.SoT:
        return sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k",
                          limits=sotkit.RedisLimits(url, **options))
    rights = r"check that its user may run PING, SELECT, EVALSHA, SCRIPT LOAD, TIME, .*, HINCRBY on the keys"
    try:
        admin.acl_setuser("noscripts", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-@scripting"])
        with pytest.raises(sotkit.LimitsUnavailable, match=rf"refuses the limits' scripts on {re.escape(key)} "
                                                           rf"\(NoPermissionError: .*\): {rights}"):
            build(redis_url.replace("redis://", "redis://noscripts:pw@"))
        # review 268: scripts allowed, but not a command inside them (Redis's "can't run this command")
        admin.acl_setuser("scriptsonly", enabled=True, passwords=["+pw"], keys=["sotkit:*"],
                          commands=["+ping", "+select", "+evalsha", "+script|load"])
        with pytest.raises(sotkit.LimitsUnavailable, match=rf"\(ResponseError: .*\): {rights}"):
            build(f"redis://scriptsonly:pw@127.0.0.1:{port}/0")
        # least privilege: the limits' commands on the model's keys, no EVAL, SET or DEL, in any database (review
        # 269: PING and SELECT were needed and not named)
        admin.acl_setuser("least", enabled=True, passwords=["+pw"], keys=["sotkit:{*}:*"],
                          commands=[f"+{c.lower().replace(' ', '|')}" for c in COMMANDS])
        for database in (0, 1):
            build(f"redis://least:pw@127.0.0.1:{port}/{database}")
        admin.acl_setuser("noping", enabled=True, passwords=["+pw"], keys=["sotkit:*"], commands=["+@all", "-ping"])
        with pytest.raises(sotkit.LimitsUnavailable, match=rf"refused \(.*'ping'.*\): {rights}"):
            build(f"redis://noping:pw@127.0.0.1:{port}/0")
        # a client of a short lease, only built, leaves other workers' leases their key's life (review 268)
        admin.zadd(key, {"another worker's": 4e12})
        admin.pexpire(key, 60_000)
        build(redis_url, lease=0.1)
        assert admin.pttl(key) > 50_000 and admin.zcard(key) == 1
        admin.delete(key)
        admin.set(key, "another app's")
        with pytest.raises(sotkit.LimitsUnavailable, match=r"WRONGTYPE.*another app's keys share the prefix: choose "
                                                           r"another prefix="):
            build(redis_url)
        admin.delete(key)
        admin.replicaof("127.0.0.1", free_port())  # a replica (of a primary that is not up): it takes no writes
        with pytest.raises(sotkit.LimitsUnavailable, match=r"refuses the limits' scripts on .* \(ReadOnlyError: .*\): "
                                                           r"the URL names a read-only replica: name the primary"):
            build(redis_url)
    finally:
        admin.replicaof("NO", "ONE")
        admin.close()


def test_errors_that_pass_are_outages_and_the_others_refusals():
    # review 267: BUSY and out of memory were said as refusals, with a checklist of rights
    assert _refusal(redis.ResponseError("BUSY Redis is busy running a script.")) is None
    assert _refusal(redis.ResponseError("OOM command not allowed when used memory > 'maxmemory'.")) is None
    # (review 269: redis-py gives some their own class and drops the code; others have codes of their own)
    assert _refusal(redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'.")) is None
    assert _refusal(redis.exceptions.TryAgainError("Multiple keys request during rehashing of slot")) is None
    assert _refusal(redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory")) is None
    assert _refusal(redis.ResponseError("NOREPLICAS Not enough good replicas to write.")) is None
    assert _refusal(redis.ResponseError("MISCONF Redis is configured to save RDB snapshots, but it's currently "
                                        "unable to persist to disk.")) is None
    assert _refusal(redis.ConnectionError("Connection refused")) is None
    assert "a Redis Cluster node" in _refusal(redis.exceptions.MovedError("10175 127.0.0.1:7001"))
    assert "renamed or disabled" in _refusal(redis.ResponseError("unknown command 'evalsha'"))


async def test_another_apps_key_under_the_prefix_mid_run_is_said_as_a_refusal_not_an_outage(redis_url):
    limits = sotkit.RedisLimits(redis_url, on_outage="closed")
    with FakeLLMServer(Reply("fine", latency=FAST)) as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", limits=limits,
                              mode="sequential", retry=1) as sot:
            admin = redis.Redis.from_url(redis_url)
            admin.set("sotkit:{openai:m}:slots", "another app's")
            admin.close()
            with pytest.raises(sotkit.LimitsUnavailable, match=r"refuses the limits' scripts \(ResponseError: "
                                                               r"WRONGTYPE.*choose another prefix="):
                await sot.generate("Fine?")
        assert server.requests == []


@pytest.mark.parametrize("on_outage", ["open", "closed"])
async def test_redis_going_away_mid_run(on_outage):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    limits = sotkit.RedisLimits(url, on_outage=on_outage, timeout=0.5)
    with FakeLLMServer(Reply("fine", latency=FAST)) as server:
        with redis_server(port):
            sot = sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", limits=limits, rpm=600,
                             mode="sequential", retry=1)
            assert (await sot.generate("Before?")).text == "fine"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if on_outage == "open":  # this process's own limits take over, with a warning
                assert (await sot.generate("During?")).text == "fine"
                assert any(issubclass(w.category, sotkit.SharedLimitsWarning) and "unreachable" in str(w.message)
                           for w in caught)
            else:  # no call goes out
                with pytest.raises(sotkit.SotkitError) as raised:
                    await sot.generate("During?")
                chain = [raised.value, raised.value.__cause__, raised.value.__context__]
                assert any(isinstance(e, sotkit.LimitsUnavailable) for e in chain), chain
                assert len(server.requests) == 1
        with redis_server(port):  # back: shared again
            await anyio.sleep(1.1)  # RETRY_REDIS_S: Redis is tried again after this
            assert (await sot.generate("After?")).text == "fine"
            await sot.aclose()


async def test_a_call_holding_a_slot_finishes_when_redis_goes_away_even_fail_closed():
    port = free_port()
    limits = sotkit.RedisLimits(f"redis://127.0.0.1:{port}/0", on_outage="closed", timeout=0.5)
    with FakeLLMServer(Reply("fine", latency=Latency(ttft_s=1.0))) as server, ExitStack() as stack:
        stack.enter_context(redis_server(port))
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", limits=limits,
                              mode="sequential", retry=1) as sot, anyio.create_task_group() as tg:
            results = []
            tg.start_soon(_append, results, sot.generate("Slow?"))
            while not server.requests:
                await anyio.sleep(0.01)
            stack.close()  # Redis stops while the call holds its slot; its release then fails
        assert [r.text for r in results] == ["fine"]


async def _append(results: list, awaitable) -> None:
    results.append(await awaitable)


async def test_a_tokens_per_minute_budget_is_shared_between_clients(redis_url):
    # two connections, as two processes have: tpm=6000 is a bucket of 100 tokens refilled at 100 a second
    connections = [sotkit.RedisLimits(redis_url).connect() for _ in range(2)]
    limits = [SharedModelLimits(c, "openai:m", 4, tpm=6000) for c in connections]
    started = anyio.current_time()
    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(limits[i % 2].admit, 50)
    elapsed = anyio.current_time() - started
    for connection in connections:
        await connection.aclose()
    # 300 tokens through a bucket of 100 at 100/s take at least 2 s; each client alone would let its 150 through
    # in 0.5 s
    assert elapsed >= 1.9


async def test_a_take_cancelled_before_its_turn_gives_its_units_back(redis_url):
    # tpm=6000: a bucket of 100 tokens. The first take empties it; the second reserves 100 more (the level goes to
    # -100) and waits a second for its turn, but its caller leaves first: the 100 go back to the bucket
    connection = sotkit.RedisLimits(redis_url).connect()
    limits = SharedModelLimits(connection, "openai:m", 1, tpm=6000)
    await limits.admit(100)
    with anyio.move_on_after(0.1):
        await limits.admit(100)
    client = redis.Redis.from_url(redis_url)
    with anyio.fail_after(5):  # settled in a task of its own: the caller left at once
        while float(client.hget(connection.key("openai:m", "tokens"), "level")) < 0:
            await anyio.sleep(0.02)
    client.close()
    await connection.aclose()


async def test_shared_requests_that_waited_for_tokens_in_debt_do_not_leave_in_a_burst_above_rpm(redis_url):
    # as in one process (test_limits.py): requests taken while the tokens were in debt all left as the tokens came
    connection = sotkit.RedisLimits(redis_url).connect()
    limits = SharedModelLimits(connection, "openai:m", 64, rpm=240, tpm=60_000)  # 4 requests a second; 1,000 tokens
    left: list[float] = []

    async def call(tokens: int) -> None:
        await limits.admit(tokens)
        left.append(time.monotonic())

    await call(3000)  # 2,000 tokens in debt: 2 s
    async with anyio.create_task_group() as tg:
        for _ in range(12):
            tg.start_soon(call, 10)
    await connection.aclose()
    for i, start in enumerate(left):  # any stretch of w seconds: the burst (4) plus 4 a second, and one for timers
        assert len([t for t in left[i:] if t - start <= 0.2]) <= 4 + 1 + 1, [round(t - left[0], 2) for t in left]


async def test_a_shared_call_that_gives_up_waiting_for_its_request_gives_its_tokens_back(redis_url):
    connection = sotkit.RedisLimits(redis_url).connect()
    limits = SharedModelLimits(connection, "openai:m", 4, rpm=60, tpm=6000)  # a request a second; 100 tokens
    await limits.admit(10)  # the request's bucket is empty for a second
    with anyio.move_on_after(0.3):
        await limits.admit(90)  # takes its tokens, then waits for its request: cancelled, it never went
    client = redis.Redis.from_url(redis_url)
    with anyio.fail_after(5):  # 0 left plus 30 refilled without them; settled in a task of its own
        while float(client.hget(connection.key("openai:m", "tokens"), "level")) < 90:
            await anyio.sleep(0.02)
    client.close()
    await connection.aclose()


async def test_a_caller_cancelled_while_redis_hangs_leaves_at_once_and_its_lease_goes_when_redis_answers(redis_url):
    # probe 243: the release of a lease was shielded for `timeout`, so a request cancelled while Redis hung (its
    # deadline, its client's disconnect) ended up to that late
    connection = sotkit.RedisLimits(redis_url, timeout=10.0).connect()
    limits = SharedModelLimits(connection, "openai:m", 1)
    client = redis.Redis.from_url(redis_url)
    slots = connection.key("openai:m", "slots")
    with anyio.CancelScope() as scope:
        async with limits.slot():
            client.client_pause(3000, all=False)  # Redis holds every write (the release) 3 s, answers reads
            scope.cancel()
    assert client.zcard(slots) == 1  # left without waiting for the release (the shield waited the 3 s)
    with anyio.fail_after(10):  # which goes through once Redis answers
        while client.zcard(slots):
            await anyio.sleep(0.02)
    client.close()
    await connection.aclose()


async def test_a_take_that_gives_up_before_a_later_one_leaves_its_turn_unused(redis_url):
    # its units went back although a take waited behind it, so a take that came later got that one's turn: two
    # requests at once past the bucket's burst. The turns are lower bounds, which a slow machine cannot break.
    connection = sotkit.RedisLimits(redis_url).connect()
    limits = SharedModelLimits(connection, "openai:m", 1, rpm=120)  # 2 a second, holds 2
    await limits.admit(0)
    await limits.admit(0)
    went = await turns_after_the_first_gives_up(lambda: limits.admit(0))
    await connection.aclose()
    assert set(went) == {"behind it", "later"} and went["later"] >= 1.45


async def test_takes_that_all_give_up_give_all_their_units_back(redis_url):
    # with no take left behind them, every cancelled take's units go back, not only the last one's
    connection = sotkit.RedisLimits(redis_url).connect()
    limits = SharedModelLimits(connection, "openai:m", 1, rpm=60)  # 1 a second, holds 1
    await limits.admit(0)
    with anyio.move_on_after(0.1):
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(limits.admit, 0)
    await anyio.sleep(0.2)  # the give-backs are settled in tasks of their own
    client = redis.Redis.from_url(redis_url)
    bucket = client.hgetall(connection.key("openai:m", "requests"))
    client.close()
    await connection.aclose()
    assert float(bucket[b"level"]) > -1 and not [field for field in bucket if field.startswith(b"gave:")]


async def test_a_large_call_is_not_starved_by_another_clients_small_calls(redis_url):
    # tpm=6000, shared: a bucket of 100 tokens refilled at 100 a second. One client keeps small calls (20 tokens
    # and a prompt) going; the other's call of 300 goes once the bucket is full and leaves it in debt. A take that
    # waited without reserving never saw a full bucket: the small calls took whatever had refilled.
    with FakeLLMServer(Reply("Hi.", latency=FAST)) as server:
        options = dict(base_url=server.openai_base_url, api_key="k", limits=redis_url, tpm=6000, mode="sequential",
                       retry=1)
        async with sotkit.SoT("openai:m", **options) as busy, sotkit.SoT("openai:m", **options) as other:

            async def keep_asking(worker: int) -> None:
                for i in itertools.count():
                    await busy.generate(f"Small {worker}-{i}?", max_tokens=20)

            async with anyio.create_task_group() as tg:
                for worker in range(3):
                    tg.start_soon(keep_asking, worker)
                with anyio.fail_after(60):
                    while len(server.requests) < 5:  # the small calls flow (a first call imports the SDK)
                        await anyio.sleep(0.05)
                    await other.generate("Large?", max_tokens=300)
                tg.cancel_scope.cancel()
        requests = server.requests
    assert [r.user for r in requests].count("Large?") == 1
    # each call's charge, as the client counts it: its prompt (about 4 characters a token) plus its max_tokens
    charges = sorted((r.received_at, math.ceil((len(r.system or "") + len(r.user)) / 4) + r.max_tokens)
                     for r in requests)
    # any stretch of the server's clock holds at most the bucket (100), the refill (100 a second, with 0.5 s of
    # slack as in the requests-per-minute test) and the debt a call larger than the bucket leaves (200 here)
    debt = max(charge for _, charge in charges) - 100
    for i in range(len(charges)):
        for j in range(i, len(charges)):
            tokens = sum(charge for _, charge in charges[i:j + 1])
            span = charges[j][0] - charges[i][0]
            assert tokens <= 100 + 100 * (span + 0.5) + debt, (i, j, tokens, span)


def test_threads_each_running_an_event_loop_share_one_client_with_redis_limits(redis_url):
    # a sync app calling asyncio.run per request in several threads, on one client: each event loop has a Redis
    # client of its own and renews the leases taken in it (one Redis client, swapped whenever another loop called,
    # and locks bound to one loop hung them)
    with FakeLLMServer(Reply("Hi.", latency=Latency(ttft_s=0.2, tokens_per_s=1000))) as server:
        sot = sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", limits=redis_url,
                         max_concurrency=2, rpm=600, mode="sequential", retry=1)
        answers, errors = [], []

        def ask(thread: int) -> None:
            try:
                for i in range(3):
                    answers.append(asyncio.run(sot.generate(f"Thread {thread}, question {i}?")).text)
            except BaseException as exc:  # the test reads it
                errors.append(exc)

        threads = [threading.Thread(target=ask, args=(t,), daemon=True) for t in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in threads), "a thread's requests hung"
        assert errors == [] and answers == ["Hi."] * 12
        assert server.max_in_flight <= 2
    client = redis.Redis.from_url(redis_url)
    assert client.keys("sotkit:*:slots") == []  # every lease released
    client.close()



@needs_fork
def test_children_forked_from_a_process_that_built_the_client_share_its_redis_limits(redis_url):
    # gunicorn --preload: the children took the parent's name for their leases, so each child's lease was the
    # others' too, and four calls went out at once under max_concurrency=2
    with FakeLLMServer(Reply("Hi.", latency=Latency(ttft_s=0.3, tokens_per_s=1000))) as server:
        sot = sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", limits=redis_url,
                         max_concurrency=2, mode="sequential", retry=1)

        def ask() -> None:
            async def at_once() -> None:
                async with anyio.create_task_group() as tg:
                    for i in range(4):
                        tg.start_soon(sot.generate, f"Question {i}?")
            anyio.run(at_once)

        children = [fork(ask) for _ in range(3)]
        assert [exit_status(child) for child in children] == [0, 0, 0] and len(server.requests) == 12
        assert server.max_in_flight == 2

async def test_a_concurrency_slot_is_shared_between_clients(redis_url):
    # two connections, as two processes have, one slot between them: each holder waits on the other's release
    connections = [sotkit.RedisLimits(redis_url).connect() for _ in range(2)]
    limits = [SharedModelLimits(c, "openai:m", 1) for c in connections]
    holding, most = 0, 0

    async def hold(limit: SharedModelLimits) -> None:
        nonlocal holding, most
        async with limit.slot():
            holding += 1
            most = max(most, holding)
            await anyio.sleep(0.1)
            holding -= 1

    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(hold, limits[i % 2])
    for connection in connections:
        await connection.aclose()
    assert most == 1  # each client alone would let one of its own in beside the other's


async def test_refused_credentials_are_named_and_no_message_shows_the_password():
    port = free_port()
    with redis_server(port, password="s3cret-pw"):
        with pytest.raises(sotkit.LimitsUnavailable, match=r"refused the credentials.*put its password in the URL, "
                                                           r"redis://:PASSWORD@host:6379/0"):
            sotkit.RedisLimits(f"redis://127.0.0.1:{port}/0").connect()
        with pytest.raises(sotkit.LimitsUnavailable, match="refused the credentials") as raised:
            sotkit.RedisLimits(f"redis://:wrong-pw@127.0.0.1:{port}/0").connect()
        assert f"redis://:***@127.0.0.1:{port}/0" in str(raised.value) and "wrong-pw" not in str(raised.value)
        connections = [sotkit.RedisLimits(f"redis://:s3cret-pw@127.0.0.1:{port}/0", on_outage=on_outage,
                                          timeout=0.5).connect() for on_outage in ("closed", "open")]
    # Redis is gone mid-run: the error (fail-closed) and the warning (fail-open) name the URL, not its password
    with pytest.raises(sotkit.LimitsUnavailable, match=r"redis://:\*\*\*@127") as raised:
        async with SharedModelLimits(connections[0], "openai:m", 1).slot():
            pass
    with pytest.warns(sotkit.SharedLimitsWarning, match=r"redis://:\*\*\*@127") as caught:
        await SharedModelLimits(connections[1], "openai:m", 1, rpm=60).admit(1)
    assert not any("s3cret-pw" in text for text in [str(raised.value), *(str(w.message) for w in caught)])
    for connection in connections:
        await connection.aclose()
    assert shown_url("redis://me:p@ss:w@host:6379/0?password=q&db=1") == "redis://me:***@host:6379/0?password=***&db=1"
    # a URL that holds "://" again, past its user info (a gateway's upstream in its path or query; probe 314)
    assert shown_url("https://me:s3cret@gateway.example/proxy/https://api.openai.com/v1") == \
        "https://me:***@gateway.example/proxy/https://api.openai.com/v1"
    assert "s3cret" not in repr(sotkit.RedisLimits("redis://:s3cret@cache.example:6379/0?client_name=a://b"))


# The mask knew lower-case schemes and a password without / or #, and a user name without @; a value of the
# wrong type was echoed whole; the repr showed the URL as given.
@pytest.mark.parametrize("limits, message", [
    ("REDIS://:sk-SECRET123@localhost:6379/0", r"limits='REDIS://:\*\*\*@localhost:6379/0': a Redis URL starts"),
    ("redis://:ab/sk-SECRET123@localhost:6379/0", r"limits='redis://:\*\*\*@localhost:6379/0': a / \? or # in the "
                                                  r"user name or password .* percent-encode it"),
    ("redis://:ab#sk-SECRET123@localhost:6379/0", r"limits='redis://:\*\*\*@localhost:6379/0': a / \? or #"),
    ({"url": "redis://:sk-SECRET123@h/0"}, r"limits= of type dict: must be a Redis URL"),
    # probe 140: an unclosed [ raised urllib's bare ValueError ("Invalid IPv6 URL")
    ("redis://:sk-SECRET123@127.0.0.1:6399[/0", r"limits='redis://:\*\*\*@127.0.0.1:6399\[/0' is not a URL "
                                                r"\(Invalid IPv6 URL\)"),
])
def test_no_shape_of_redis_url_shows_its_password(limits, message):
    with pytest.raises(sotkit.ConfigError, match=message) as raised:
        sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k", limits=limits)
    assert "SECRET" not in str(raised.value)


def test_a_user_name_holding_an_at_sign_leaves_the_password_out_of_the_message_and_repr():
    url = f"redis://me@corp:sk-SECRET123@127.0.0.1:{free_port()}/0"
    with pytest.raises(sotkit.LimitsUnavailable, match=r"Redis at redis://me@corp:\*\*\*@127\.0\.0\.1") as raised:
        sotkit.RedisLimits(url).connect()
    assert "SECRET" not in str(raised.value)
    assert repr(sotkit.RedisLimits(url, lease=5)) == (f"RedisLimits(url='redis://me@corp:***@{url.rsplit('@')[-1]}', "
                                                      "lease=5, on_outage='open', timeout=2.0, prefix='sotkit')")


def test_an_at_sign_past_the_host_is_no_user_info():
    # "?client_name=a@b" was refused as a password holding a / ? or #, and a message masked the host (probe 88)
    assert sotkit.RedisLimits("redis://localhost:6379/0?client_name=a@b").url.endswith("a@b")
    from sotkit.redact import shown_url

    owner = "http://localhost:8000/v1?owner=alice@example.com"
    assert shown_url(owner) == owner
    assert shown_url("https://host/v1/models/@cf/meta/llama") == "https://host/v1/models/@cf/meta/llama"
    assert shown_url("redis://:ab/sk-SECRET@localhost:6379/0") == "redis://:***@localhost:6379/0"
    # a password of digits up to its unencoded / read as a port, and shown (probe 89)
    assert shown_url("redis://:2024/secretpass@redis.example:6379/0") == "redis://:***@redis.example:6379/0"
    with pytest.raises(sotkit.ConfigError, match="percent-encode it") as raised:
        sotkit.RedisLimits("redis://:2024/secretpass@redis.example:6379/0")
    assert "secretpass" not in str(raised.value)
    # ... and one of digits after a user name (redis://user:2024/pw@host was read as host "user", port 2024), also
    # where an option's value holds an @ too (probe 91)
    for options in ("", "?client_name=me@x"):
        with pytest.raises(sotkit.ConfigError, match=rf"redis://app:\*\*\*@redis.example:6379/0{re.escape(options)}': "
                                                     ".* percent-encode") as raised:
            sotkit.RedisLimits(f"redis://app:2024/secretpass@redis.example:6379/0{options}")
        assert "secretpass" not in str(raised.value)
    # ... and after a user name holding an @, or in a password holding an @ before its / (review 93)
    for url in ("redis://me@corp.com:s3cr3t/pw@127.0.0.1:6379/0", "redis://:p@ss/s3cr3t@127.0.0.1:6379/0"):
        with pytest.raises(sotkit.ConfigError, match=r"\*\*\*@127\.0\.0\.1:6379/0': .* percent-encode") as raised:
            sotkit.RedisLimits(url)
        assert "s3cr3t" not in str(raised.value)
    # an IPv6 host without a port is a host, not a cut password
    assert sotkit.RedisLimits("redis://[::1]/0?client_name=a@b").url.endswith("a@b")
    # an @ in a fragment is read as the end of a password cut by its # (refused), and a token before the host part
    # was then shown as the user name (review 94): a cut user info whose user name holds an @ is masked whole
    for url in ("redis://tok_9f8e7d6c5b4a@redis.example:6379/0#note@team", "redis://tok_9f8e7d6c5b4a@h:6379?db=0#a@b",
                "redis://user:1234/0#x@host"):
        assert "tok_9f8e7d6c5b4a" not in shown_url(url) and "1234" not in shown_url(url)
    assert shown_url("http://[::1]/v1/a@b") == "http://[::1]/v1/a@b"


def test_a_key_glued_to_other_text_is_redacted_and_a_placeholder_only_as_a_word():
    # a server writing the key glued to Chinese text or URL-encoded got it past a word-boundary match (probe 89)
    from sotkit.redact import hold, redact

    class Owner:
        pass

    owner = Owner()
    hold(owner, keys=("sk-proj-GLUED0123456789", "not-needed"))
    assert redact("密钥sk-proj-GLUED0123456789无效, Bearer%20sk-proj-GLUED0123456789") == "密钥***无效, Bearer%20***"
    assert redact("key not-needed is fine; the field is not-needed-anymore") == \
        "key *** is fine; the field is not-needed-anymore"


@pytest.mark.parametrize("database", ["O", "sotkit"])
def test_a_database_that_is_no_number_is_a_config_error(database):
    """redis-py would quietly use database 0 for "/O", a typo of "/0"."""
    with pytest.raises(sotkit.ConfigError, match=f"the database after the port is a number, such as /0, "
                                                 f"not '{database}'"):
        sotkit.RedisLimits(f"redis://localhost:6379/{database}")


def test_a_database_redis_refuses_is_named_as_its_answer_not_as_silence(redis_url):
    with pytest.raises(sotkit.LimitsUnavailable, match=r"answered with an error \(DB index is out of range\): "
                                                       r"check the URL \(its database number\)"):
        sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k",
                   limits=redis_url.rsplit("/", 1)[0] + "/99")


def test_a_redis_busy_with_a_script_at_construction_is_not_ready_not_a_wrong_url(redis_url):
    # (session 60: its message had no test of its own, only its classifier)
    busy, other = redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
    busy.config_set("lua-time-limit", 100)  # (busy-reply-threshold's old name: a PING answers BUSY after 0.1 s)
    ended: list[BaseException] = []
    looping = threading.Thread(target=lambda: ended.extend(pytest.raises(redis.ResponseError, busy.eval,
                                                                         "while true do end", 0).value.args))

    def answers_busy() -> bool:
        try:
            return not other.ping()
        except redis.ResponseError as exc:
            return str(exc).startswith("BUSY")

    looping.start()
    try:
        wait_for(answers_busy, "the script to hold Redis")
        with pytest.raises(sotkit.LimitsUnavailable, match=r"is not ready \(ResponseError: BUSY .*\): build the client "
                                                           r"again once it is$"):
            sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k", limits=redis_url)
    finally:
        other.script_kill()
        looping.join(timeout=10)
        busy.close()
        other.close()
    assert "killed" in str(ended), ended  # (the script ran until the test killed it)


def test_a_redis_loading_its_data_at_construction_is_not_ready_not_a_missing_server():
    # (session 60: redis-py raises LOADING as a BusyLoadingError, a ConnectionError: it was said as "start it
    # (redis-server), fix the URL"). A server of our own on a socket answers every command with LOADING.
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener, listener.accept()[0] as connection:
            while connection.recv(65536):
                connection.sendall(b"-LOADING Redis is loading the dataset in memory\r\n")

    threading.Thread(target=serve, daemon=True).start()
    url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    with pytest.raises(sotkit.LimitsUnavailable, match=r"is not ready \(BusyLoadingError: Redis is loading the dataset "
                                                       r"in memory\): build the client again once it is$"):
        sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k", limits=url)


def test_a_tls_url_to_a_redis_without_tls_says_so(redis_url):
    # (session 60: the handshake is never answered, and the message said only "Timeout connecting to server")
    with pytest.raises(sotkit.LimitsUnavailable, match=r"\(TimeoutError: .*\); start it \(redis-server\), fix the "
                                                       r"URL \(rediss:// speaks TLS: use redis:// for a Redis without "
                                                       r"it\), or leave limits= out"):
        sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k",
                   limits=sotkit.RedisLimits(redis_url.replace("redis:", "rediss:"), timeout=0.5))


@contextmanager
def redis5(port: int):
    """A server that answers as Redis 5 does: PING and SELECT, and its own error for HELLO (Redis 6's), which a
    RESP3 client opens with. No Redis 5 binary is at hand."""
    ready, stop = threading.Event(), threading.Event()

    def serve() -> None:
        with socket.create_server(("127.0.0.1", port)) as listener:
            listener.settimeout(0.1)
            ready.set()
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                with conn, conn.makefile("rb") as reader:
                    while (line := reader.readline()).startswith(b"*"):
                        args = [reader.readline() and reader.readline().strip() for _ in range(int(line[1:]))]
                        name = args[0].upper()
                        conn.sendall(b"+PONG\r\n" if name == b"PING" else b"+OK\r\n" if name in (b"SELECT", b"CLIENT")
                                     else b":1\r\n" if name == b"EVAL" else b"-ERR unknown command `%s`\r\n" % args[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop.set()
        thread.join(5)


def test_redis_5_is_spoken_to_in_the_protocol_it_knows():
    with redis5(free_port()) as url:
        sotkit.RedisLimits(url).connect()  # RESP3's HELLO would be "unknown command"


def test_an_unknown_url_option_is_a_config_error_naming_it():
    with pytest.raises(sotkit.ConfigError, match="redis-py takes no URL option 'foo'; remove it or fix its name"):
        sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k",
                   limits=f"redis://127.0.0.1:{free_port()}/0?foo=bar")


async def _count_becomes(client: redis.Redis, key: str, count: int, timeout: float = 10.0) -> None:
    deadline = anyio.current_time() + timeout
    while (leases := client.zcard(key)) != count:
        assert anyio.current_time() < deadline, f"{key} holds {leases} lease(s), not {count}"
        await anyio.sleep(0.05)  # without blocking the loop, where the leases are renewed


async def test_a_held_slot_counts_again_after_redis_restarts_and_loses_it():
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis(port=port)
    holder_in, holder_out = anyio.Event(), anyio.Event()
    with ExitStack() as stack:
        stack.enter_context(redis_server(port))
        # a lease of 1.5 s, renewed every 0.5 s: a loaded machine's pause of up to 1 s does not let the holder's lapse
        connections = [sotkit.RedisLimits(url, lease=1.5, on_outage="closed", timeout=0.5).connect()
                       for _ in range(2)]
        holder, other = (SharedModelLimits(c, "openai:m", 1) for c in connections)

        async def hold() -> None:
            async with holder.slot():
                holder_in.set()
                await holder_out.wait()

        async with anyio.create_task_group() as tg:
            tg.start_soon(hold)
            await holder_in.wait()
            [key] = client.keys("sotkit:*:slots")
            stack.close()  # restarted without persistence: the lease is gone
            stack.enter_context(redis_server(port))
            assert client.zcard(key) == 0
            await _count_becomes(client, key, 1)  # the holder's renewal adds its lease back
            with anyio.move_on_after(1.0) as waited:
                async with other.slot():
                    pass
            assert waited.cancelled_caught, "a second slot was granted while the only one was held"
            holder_out.set()
        for connection in connections:
            await connection.aclose()
    client.close()


async def test_a_frozen_redis_does_not_hold_a_caller_past_its_deadline():
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis(port=port)
    with redis_server(port) as process:
        connections = [sotkit.RedisLimits(url, timeout=60.0).connect() for _ in range(2)]
        first, second = (SharedModelLimits(c, "openai:m", 1) for c in connections)
        async with first.slot():  # the client is connected
            pass
        process.send_signal(signal.SIGSTOP)
        try:
            with anyio.fail_after(30):  # held for Redis's timeout (60 s), the caller would fail here
                with anyio.move_on_after(0.3):  # the caller's own deadline
                    async with first.slot():
                        await anyio.sleep(10)
        finally:
            process.send_signal(signal.SIGCONT)
        # the slot Redis granted once it answered, after the caller left, is released, not held for the lease (10 s)
        with anyio.fail_after(5):
            async with second.slot():
                pass
        await _count_becomes(client, connections[0].key("openai:m", "slots"), 0)
        for connection in connections:
            await connection.aclose()
    client.close()


async def test_a_process_paused_past_its_lease_says_its_slots_may_have_been_taken(redis_url):
    """A paused container, a VM migration, code blocking the loop: the lease expires meanwhile, another process
    may take the slot, and the calls that held it go on. sotkit cannot undo that; it says so (probe 39)."""
    connection = sotkit.RedisLimits(redis_url, lease=0.3).connect()
    limits = SharedModelLimits(connection, "openai:m", 1)
    def said(caught) -> bool:
        return any("1 concurrency slot(s) this process held" in str(w.message) and "past lease=0.3 s" in str(w.message)
                   for w in caught)

    with pytest.warns(sotkit.SharedLimitsWarning) as caught:
        async with limits.slot():
            await anyio.sleep(0.15)
            time.sleep(0.8)  # the whole process held up past its lease: nothing renews it
            with anyio.move_on_after(5):  # the renewal after the pause finds the lease gone (soon, on a busy machine)
                while not said(caught):
                    await anyio.sleep(0.05)
    assert said(caught)
    await connection.aclose()


async def test_slots_renewed_in_time_bring_no_warning(redis_url):
    connection = sotkit.RedisLimits(redis_url, lease=1.5).connect()
    limits = SharedModelLimits(connection, "openai:m", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with limits.slot():
            await anyio.sleep(1.2)  # renewed every 0.5 s
    await connection.aclose()
