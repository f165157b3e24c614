"""``FakeLLMServer``: a loopback OpenAI + Anthropic server on its own thread, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import errno
import inspect
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Self, Union

from ..errors import ConfigError
from ..options import check_header
from ..providers.base import CallUsage
from ._http import MAX_HEAD_BYTES, BadHTTP, ClientGone, Input, Output, parse_head
from ._records import RecordedRequest
from ._replies import Completion, Fault, Latency, RandomFaults, Reply, reasoning_spent, split_tokens
from ._wire import BadRequest, Dialect, dialect_for_unknown, reason_phrase, route

Responder = Union[str, Reply, Sequence[Union[str, Reply]],
                  Callable[[RecordedRequest], Union[str, Reply, Awaitable[Union[str, Reply]]]]]

_HOST = "127.0.0.1"
_START_TIMEOUT_S = 10.0
_REQUEST_ID_HEADER = {"openai": "x-request-id", "anthropic": "request-id"}


class FakeLLMServer:
    """An OpenAI-compatible and Anthropic-compatible chat server on a loopback port, served from a daemon thread.

    ``responder`` decides every reply: a ``str`` or ``Reply`` (always that), a list (consumed in order, shared by
    both APIs) or a callable taking the ``RecordedRequest`` (sync or async; either runs on the server's own loop,
    so it must not block: a ``time.sleep`` in it holds every other request). ``latency`` paces replies that do not
    set their own; ``random_faults`` injects faults into a seeded fraction of requests; ``api_key``, when given,
    makes any other key a 401.

    A list suits calls made one after another. SoT's calls run at once, in no fixed order, and a router may send a
    question down the sequential path (one call) instead: answer them by their prompt with a callable, and assert
    ``result.mode``. Replies a list still holds at the end are no error; an empty list answers any request with an
    error. A list takes no ``random_faults`` that break a reply on its way: each retry would get the next reply,
    meant for another call.

    Use it as ``with`` / ``async with`` block, or call ``start()`` and ``stop()``. An exception the responder
    raised (an ``assert`` on the request, a list run out) is answered with a 500, kept in ``errors``, and raised
    again at the end of the ``with`` block (where the block raised, its error names it in a note; not where
    ``errors`` was cleared).
    """

    def __init__(self, responder: Responder = "Hello from FakeLLMServer.", *, latency: Latency | None = None,
                 random_faults: RandomFaults | None = None, api_key: str | None = None, port: int = 0) -> None:
        self._next_reply = _reply_source(responder)
        listed = not (isinstance(responder, (str, Reply)) or callable(responder))
        if listed and random_faults is not None and (broken := [f for f in random_faults.faults if _breaks(f)]):
            raise ConfigError(f"a list of replies with random_faults={broken[0]!r}: a reply broken on its way would "
                              "make each retry take the list's next reply, meant for another call; answer by the "
                              "request with a callable (request.attempt tells a retry), or put the fault on a reply: "
                              "Reply(..., fault=...)")
        port = int(port) if isinstance(port, str) and port.isascii() and port.isdigit() else port  # from os.environ
        if not (isinstance(port, int) and not isinstance(port, bool) and 0 <= port <= 65535):
            raise ConfigError(f"port must be an int 0..65535 (0: any free port), got {port!r}")
        if latency is not None and not isinstance(latency, Latency):
            raise TypeError(f"latency must be a Latency, got {type(latency).__name__}")
        if random_faults is not None and not isinstance(random_faults, RandomFaults):
            raise TypeError(f"random_faults must be a RandomFaults, got {type(random_faults).__name__}")
        self.latency = latency or Latency()
        self._random_faults = random_faults
        self._sampler = random_faults.sampler() if random_faults else None
        if api_key is not None and not (isinstance(api_key, str) and api_key):
            raise ConfigError(f"api_key={api_key!r}: pass the key the clients send (a non-empty str), or None to take "
                              "any")
        check_header("FakeLLMServer api_key", api_key)  # (no client could send it: every request a 401; probe 260)
        self._api_key = api_key
        self._wanted_port = port
        self.port: int | None = None
        #: exceptions the responder raised, or the server met answering a reply: each was answered with a 500
        #: naming it (or, when the response had begun, by closing the connection), and is raised again at the end
        #: of the ``with`` block
        self.errors: list[BaseException] = []

        self._lock = threading.Condition()
        self._records: list[RecordedRequest] = []
        self._in_flight = self._max_in_flight = self._open_connections = self._accepted = 0
        self._ids = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._attempts: dict[tuple, int] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the port and start serving; returns once requests can be sent."""
        if self._thread is not None:
            raise RuntimeError("FakeLLMServer already started (and a stopped one cannot restart: make a new one)")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(ready, failure), name="FakeLLMServer", daemon=True)
        self._thread.start()
        if not ready.wait(_START_TIMEOUT_S):
            raise RuntimeError(f"FakeLLMServer did not start within {_START_TIMEOUT_S} s")
        if failure:
            if getattr(failure[0], "errno", None) == errno.EADDRINUSE:  # (probe 316: asyncio's words alone)
                failure[0].add_note(f"FakeLLMServer(port={self._wanted_port}): the port is taken; pass port=0 for a "
                                    "free one (server.port says which)")
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close every connection and the port, and end the server thread. Safe to call twice, and from a
        responder."""
        if self._thread is None or self._stopped:
            return
        self._stopped = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        if threading.current_thread() is not self._thread:
            self._thread.join(_START_TIMEOUT_S)

    def _raise_errors(self, raised: BaseException | None) -> None:
        """Raise the first of ``errors`` in the test where the block raised nothing of its own; where it did, name
        them on its error (a request that failed on a responder's ``assert`` fails the test with it)."""
        if self.errors and raised is not None:
            raised.add_note(f"FakeLLMServer: the responder or a reply raised {len(self.errors)} error(s), answered "
                            f"with a 500 (see server.errors); the first: {self.errors[0]!r}")
        elif self.errors:
            first = self.errors[0]
            first.add_note(f"raised in FakeLLMServer by the responder or a reply, and answered with a 500 (or a "
                           f"hang-up, the response begun); {len(self.errors)} error(s) in server.errors (clear it "
                           "to accept them)")
            raise first

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._serve_connection, _HOST, self._wanted_port, backlog=2048))
        except OSError as exc:
            failure.append(exc)
            loop.close()
            ready.set()
            return
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        # every other task on this loop is a connection, a pending read or a responder: end them all
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        # a transport closes its socket in a callback of the loop's next turn: one left unrun leaves the socket to the
        # collector, a ResourceWarning (an error under -W error; probe 316 saw 4 in 36 runs of a suite on 2 workers)
        for _ in range(2):
            await asyncio.sleep(0)
        asyncio.get_running_loop().stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
        self._raise_errors(exc_info[1])

    async def __aenter__(self) -> Self:
        import anyio.to_thread  # a sotkit dependency; works under asyncio and trio alike

        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(self, *exc_info: Any) -> None:
        import anyio.to_thread

        with anyio.CancelScope(shield=True):  # a block left by cancellation (a timeout) stops the server too
            await anyio.to_thread.run_sync(self.stop)
        self._raise_errors(exc_info[1])

    # -- what tests read -----------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeLLMServer is not started: use it in a with block or call start() first")
        return f"http://{_HOST}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """``base_url`` for ``openai.AsyncOpenAI``."""
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """``base_url`` for ``anthropic.AsyncAnthropic``."""
        return self.base_url

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request so far, in arrival order."""
        with self._lock:
            return [r.snapshot() for r in self._records]

    @property
    def in_flight(self) -> int:
        """Requests being answered right now.

        A client can hold its whole response a moment before the server thread counts the request done:
        call ``wait_idle()`` before asserting on this.
        """
        return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests ever answered at the same time (since start or ``reset``)."""
        return self._max_in_flight

    @property
    def open_connections(self) -> int:
        """Client connections open right now (idle keep-alive ones included)."""
        return self._open_connections

    def reset(self) -> None:
        """Forget recorded requests, errors and attempt counts (a prompt sent again is attempt 1), and restart
        ``max_in_flight`` from the current count. A long-running test calls it to keep the record from growing.
        A list's next reply and ``random_faults``' next draw go on where they were: a server shared by several tests
        makes what each gets depend on the tests before it. An error the responder or a reply raised since is raised
        here, once all is forgotten (clear ``errors`` first to accept it): a server shared by several tests and reset
        after each fails the test whose responder raised (one reset before each test went green on it)."""
        with self._lock:  # (what a request raises while this runs is raised now or kept for later: review 317)
            errors = self.errors[:]  # (the same list: one a test holds sees what comes next; review 318)
            self.errors.clear()
            self._records.clear()
            self._attempts.clear()
            self._max_in_flight = self._in_flight
        if errors:
            errors[0].add_note(f"raised in FakeLLMServer by the responder or a reply, and answered with a 500 (or a "
                               f"hang-up, the response begun); {len(errors)} error(s) since the last reset")
            raise errors[0]

    def wait_idle(self, timeout: float = 5.0, *, connections: bool = False) -> None:
        """Block until no request is in flight (and, with ``connections``, no connection is open).

        Raises ``TimeoutError`` after ``timeout`` seconds. In async code use ``await wait_idle_async(...)``.
        """
        def idle() -> bool:
            return self._in_flight == 0 and (not connections or self._open_connections == 0)

        with self._lock:
            if not self._lock.wait_for(idle, timeout):
                raise TimeoutError(f"FakeLLMServer still busy after {timeout} s: {self._in_flight} requests in "
                                   f"flight, {self._open_connections} connections open")

    async def wait_idle_async(self, timeout: float = 5.0, *, connections: bool = False) -> None:
        """``wait_idle`` without blocking the caller's event loop."""
        import anyio.to_thread

        await anyio.to_thread.run_sync(lambda: self.wait_idle(timeout, connections=connections))

    # -- serving -------------------------------------------------------------------------------------------------

    def _count(self, *, requests: int = 0, connections: int = 0) -> None:
        with self._lock:
            self._in_flight += requests
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            self._open_connections += connections
            self._lock.notify_all()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._count(connections=+1)
        self._accepted += 1
        number, source = self._accepted, Input(reader)
        try:
            while await self._serve_request(source, writer, number):
                pass
        except (EOFError, ConnectionError, OSError):
            pass  # the client closed an idle keep-alive connection
        except asyncio.CancelledError:
            # the server is stopping; ending quietly keeps asyncio from logging every connection, and unsent bytes
            # are dropped: a plain close() would wait for a client that may never read them, past the loop's end
            writer.transport.abort()
        finally:
            source.close()
            writer.close()
            self._count(connections=-1)

    async def _serve_request(self, source: Input, writer: asyncio.StreamWriter, connection: int) -> bool:
        """Answer one request; True when the connection can carry another."""
        try:
            method, target, version, headers = parse_head(await source.read_until(b"\r\n\r\n", MAX_HEAD_BYTES))
            body = await source.read_body(headers)
        except BadHTTP as exc:
            writer.write(f"HTTP/1.1 {exc.status} {reason_phrase(exc.status)}\r\ncontent-length: {len(str(exc))}\r\n"
                         f"connection: close\r\n\r\n{exc}".encode("latin-1"))
            return False
        path = target.partition("?")[0]
        dialect = route(path) if method == "POST" else None
        record = RecordedRequest(api=(dialect or dialect_for_unknown(headers)).api, method=method, path=path,
                                 headers=headers, received_at=time.perf_counter(), connection=connection)
        close_after = version != "HTTP/1.1" or headers.get("connection", "").lower() == "close"
        out = Output(writer, source, close_after=close_after)
        with self._lock:
            self._records.append(record)
        self._count(requests=+1)
        source.watch()
        try:
            await self._answer(record, dialect, body, out)
        except ClientGone:
            record.client_closed, record.closed_at, record.finished_at = True, time.perf_counter(), None
            if record.text is not None and record.status in (None, 200):  # a reply was on its way, not an error
                _broken_off(record)
            return False
        except Exception as exc:  # e.g. a reply the server cannot render: tell the test, not just the log
            return await self._fail(record, dialect or dialect_for_unknown(headers), out, exc)
        finally:
            self._count(requests=-1)
        return not out.close_after

    def _keep(self, exc: BaseException) -> None:
        """Add ``exc`` to ``errors``, which ``reset`` empties under the same lock (review 317: an error added between
        its check and its clearing was lost)."""
        with self._lock:
            self.errors.append(exc)

    async def _fail(self, record: RecordedRequest, dialect: Dialect, out: Output, exc: Exception) -> bool:
        """Record ``exc`` and answer 500 naming it, or hang up if the response has begun; as ``_serve_request``."""
        self._keep(exc)
        if out.started:  # a status line is out: closing is the only way left to say the response is broken
            record.finished_at = time.perf_counter()
            out.hang_up()
            return False
        try:
            await self._send_error(record, dialect, out, 500, f"FakeLLMServer failed answering: {exc!r} "
                                                              "(the exception is in server.errors)")
        except ClientGone:
            record.client_closed, record.closed_at, record.finished_at = True, time.perf_counter(), None
            return False
        return not out.close_after

    async def _answer(self, record: RecordedRequest, dialect: Dialect | None, raw: bytes, out: Output) -> None:
        if dialect is None:
            message = (f"Invalid URL ({record.method} {record.path}): FakeLLMServer serves "
                       "POST /v1/chat/completions (or Azure's /openai/deployments/NAME/chat/completions) and "
                       "POST /v1/messages")
            return await self._send_error(record, dialect_for_unknown(record.headers), out, 404, message)
        refusal = self._refusal(record, dialect, raw)
        if refusal is not None:
            return await self._send_error(record, dialect, out, *refusal)

        with self._lock:  # the same prompt again (a continued prefill aside) is the next attempt at it
            key = (record.api, record.model, record.system,
                   tuple(record.messages[:-1] if record.prefill is not None else record.messages))
            record.attempt = self._attempts[key] = self._attempts.get(key, 0) + 1

        fault = self._draw_fault()
        # drawn before the responder: no reply is consumed
        if fault is not None and fault.kind in ("status", "not_a_stream"):
            return await self._send_fault(record, dialect, out, fault)
        try:
            reply = await self._next_reply(record)
        except BaseException as exc:  # the test's own responder broke (pytest.fail() raises no Exception): say so
            if isinstance(exc, asyncio.CancelledError) and self._stopped:  # in the response and keep it for the test
                raise
            if isinstance(exc, KeyboardInterrupt):  # raised again in the test, it would end the whole test run
                interrupt, exc = exc, RuntimeError(f"the responder raised {exc!r}")
                exc.__cause__ = interrupt
            self._keep(exc)
            return await self._send_error(record, dialect, out, 500, f"FakeLLMServer responder failed: {exc!r}")
        fault = reply.fault or fault
        if fault is not None and fault.kind in ("status", "not_a_stream"):
            return await self._send_fault(record, dialect, out, fault)

        if fault is not None and fault.kind == "runaway":  # max_tokens and stop ignored, the reply on repeat
            first = split_tokens(reply.text) or [" "]
            # the copies apart, as words are ("The end. The end."), where the reply ends in none
            again = split_tokens(" " + reply.text.lstrip()) if reply.text[-1:].strip() else first
            tokens = [first[i] if i < len(first) else again[(i - len(first)) % len(again)] for i in range(fault.tokens)]
            done = Completion(tokens, "end", reasoning=reasoning_spent(reply.reasoning_tokens, record.max_tokens))
        else:
            done = Completion.cut(reply.text, record.stop, record.max_tokens, reply.reasoning_tokens)
            if fault is not None and fault.kind == "filtered" and (done.finish == "end"  # or at a shorter reply's end
                                                                   or fault.after_tokens < len(done.tokens)):
                done = replace(done, tokens=done.tokens[:fault.after_tokens], finish="filtered", stop_sequence=None)
        usage = reply.usage or CallUsage(dialect.input_tokens(record), done.reasoning + len(done.tokens))
        record.reply, record.text, record.usage, record.fault = reply.text, done.text, usage, fault
        record.finish_reason = dialect.finish_reasons[done.finish]
        rid = dialect.response_id(next(self._ids))
        headers = self._request_id(dialect)  # (a request's id of its own, as the APIs send, not the response's)
        latency = reply.latency or self.latency

        # Record fields are set just before the bytes go out, so a client that has its response in hand
        # always finds the record complete.
        if record.stream:
            record.status, record.first_byte_at = 200, time.perf_counter()
            await out.open_stream(headers, dialect.stream_open(record, usage, rid))

            async def emit(token: str) -> None:
                sent_at = time.perf_counter()
                await out.stream(dialect.stream_token(record, token, rid))
                record.pieces.append((sent_at, token))

            async def end(last: bytes) -> None:  # the end of a faulty stream, without its terminal event
                record.finished_at = time.perf_counter()
                _broken_off(record)  # before the client can read the end
                await out.close_stream(last)

            async def fault_in_stream(fault: Fault) -> None:
                if fault.kind == "cut":
                    await end(b"")
                elif fault.kind == "error_event":
                    await end(dialect.stream_error(fault.status_code, _default_message(fault.status_code), fault.body))
                elif fault.kind == "garbage":
                    await end(f"data: {fault.body}\n\n".encode())
                else:  # keep_alive: one at once, then one every every_s, for seconds in all
                    waited = 0.0
                    while waited < fault.seconds - 1e-9:  # (a sum of every_s short of seconds by a rounding: done)
                        await out.stream(dialect.keep_alive(record, rid))
                        await out.wait(step := min(fault.every_s, fault.seconds - waited))
                        waited += step

            if await self._generate(record, done, latency, fault, out, emit, fault_in_stream):
                record.finished_at = time.perf_counter()
                if fault is not None and fault.kind == "unclean_close":  # the terminal event, and no end of the body
                    await out.stream(dialect.stream_close(record, done, usage, rid))
                    out.hang_up()
                else:
                    await out.close_stream(dialect.stream_close(record, done, usage, rid))
        elif await self._generate(record, done, latency, fault, out, None):
            body = json.dumps(dialect.complete_body(record, done, usage, rid)).encode()
            await self._send(record, out, 200, body, {"content-type": "application/json", **headers})

    def _refusal(self, record: RecordedRequest, dialect: Dialect, raw: bytes) -> tuple[int, str] | None:
        """``(status, message)`` when the real API would refuse this request; fills the record's fields."""
        try:
            record.body = json.loads(raw)
        except ValueError as exc:
            return 400, f"We could not parse the JSON body of your request: {exc}"
        try:
            dialect.parse(record.body, record)
        except BadRequest as exc:
            return 400, str(exc)
        if self._api_key is not None and record.api_key != self._api_key:
            return 401, "Incorrect API key provided (FakeLLMServer)"
        return None

    async def _generate(self, record: RecordedRequest, done: Completion, latency: Latency, fault: Fault | None,
                        out: Output, emit: Callable[[str], Awaitable[None]] | None,
                        fault_in_stream: Callable[[Fault], Awaitable[None]] | None = None) -> bool:
        """Pace the tokens like a model would (sending them through ``emit`` when streaming) and apply a fault
        after its ``after_tokens``. False when the fault ended the response."""
        n = len(done.tokens)
        fault_at = min(fault.after_tokens, n) if fault is not None and fault.kind not in _SHAPES_REPLY else -1
        shift = 0.0  # a stall pushes every later token back

        async def pause_until(offset: float) -> None:
            await out.wait(record.received_at + offset + shift - time.perf_counter())

        for i in range(n + 1):
            if i == fault_at and fault is not None:
                if fault.kind == "stall":
                    await out.wait(fault.seconds)
                    shift += fault.seconds
                elif fault.kind != "drop" and fault_in_stream is not None:
                    await fault_in_stream(fault)
                    if fault.kind != "keep_alive":
                        return False
                    shift += fault.seconds
                if fault.kind == "drop" or fault.then == "close" or (emit is None and fault.kind != "stall"):
                    record.finished_at = time.perf_counter()
                    _broken_off(record)
                    out.hang_up()
                    return False
            if i == n:
                break
            await pause_until(latency.offset(i))
            if emit is not None:
                await emit(done.tokens[i])
                if latency.tokens_per_s is None and i % 64 == 63:
                    await asyncio.sleep(0)  # a long unpaced reply (a runaway) must not starve the server's loop
        await pause_until(latency.ttft_s)  # an empty reply still takes the time to first token
        return True

    def _draw_fault(self) -> Fault | None:
        """The server-wide random fault for this request, if any (only the server thread draws)."""
        if self._random_faults is None or self._sampler is None:
            return None
        if self._sampler.random() >= self._random_faults.rate:
            return None
        return self._sampler.choice(list(self._random_faults.faults))

    async def _send_fault(self, record: RecordedRequest, dialect: Dialect, out: Output, fault: Fault) -> None:
        record.fault = fault
        if fault.kind == "not_a_stream":
            return await self._send(record, out, 200, fault.body.encode(), fault.headers)
        if fault.body is None:
            return await self._send_error(record, dialect, out, fault.status_code,
                                          _default_message(fault.status_code), fault.headers)
        if isinstance(fault.body, (str, bytes)):
            body = fault.body.encode() if isinstance(fault.body, str) else fault.body
            content_type = "text/plain; charset=utf-8"
        else:
            body, content_type = json.dumps(fault.body).encode(), "application/json"
        await self._send(record, out, fault.status_code, body,
                         {"content-type": content_type, **self._request_id(dialect), **fault.headers})

    async def _send_error(self, record: RecordedRequest, dialect: Dialect, out: Output, status: int, message: str,
                          headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(dialect.error_body(status, message)).encode()
        await self._send(record, out, status, body,
                         {"content-type": "application/json", **self._request_id(dialect), **(headers or {})})

    def _request_id(self, dialect: Dialect) -> dict[str, str]:
        """The header an API's every response carries, errors too (an app logs it for the provider's support)."""
        return {_REQUEST_ID_HEADER[dialect.api]: f"req_fake{next(self._request_ids):06d}"}

    async def _send(self, record: RecordedRequest, out: Output, status: int, body: bytes,
                    headers: Mapping[str, str]) -> None:
        record.status, record.first_byte_at = status, time.perf_counter()
        record.finished_at = record.first_byte_at
        await out.send(status, body, headers)


#: faults that shape the whole reply (how it ends or how long it runs) rather than act at one token of it
_SHAPES_REPLY = ("runaway", "unclean_close", "filtered")


def _breaks(fault: Fault) -> bool:
    """Can ``fault`` keep its reply from arriving whole, so that a client asks again? (A status or a page in
    place of the stream is drawn before any reply is taken.)"""
    return fault.kind not in ("status", "not_a_stream", "unclean_close", "filtered")


def _default_message(status: int) -> str:
    known = {429: "Rate limit reached", 500: "The server had an error while processing your request",
             503: "Service unavailable", 529: "Overloaded"}
    return f"{known.get(status, f'Error {status}')} (injected by FakeLLMServer)"


def _reply_source(responder: Responder) -> Callable[[RecordedRequest], Awaitable[Reply]]:
    """Turn any accepted responder into one async function ``request -> Reply``."""
    if isinstance(responder, (str, Reply)):
        reply = _as_reply(responder)

        async def constant(_: RecordedRequest) -> Reply:
            return reply

        return constant
    if callable(responder):
        async def call(request: RecordedRequest) -> Reply:
            result = responder(request)
            if inspect.isawaitable(result):
                result = await result
            return _as_reply(result)

        return call
    if isinstance(responder, (bytes, bytearray)):  # a Sequence, but of ints: say what to do instead
        raise TypeError("responder must be a str, a Reply, a list of them, or a callable taking a RecordedRequest; "
                        "got bytes: decode it to a str first")
    if isinstance(responder, Sequence):
        replies = [_as_reply(r) for r in responder]
        position = itertools.count()
        lock = threading.Lock()

        async def next_in_list(request: RecordedRequest) -> Reply:
            with lock:
                i = next(position)
            if i >= len(replies):
                raise LookupError(f"the responder list has {len(replies)} replies and a request asked for "
                                  f"reply #{i + 1}; give more replies or a callable")
            return replies[i]

        return next_in_list
    raise TypeError("responder must be a str, a Reply, a list of them, or a callable taking a RecordedRequest; "
                    f"got {type(responder).__name__}")


def _as_reply(value: object) -> Reply:
    if isinstance(value, Reply):
        return value
    if isinstance(value, str):
        return Reply(value)
    raise TypeError(f"a responder must give a str or a Reply, got {type(value).__name__}")


def _broken_off(record: RecordedRequest) -> None:
    """A reply that a fault or the client broke off: its text is what was sent (none of a JSON body's), and it sent
    no finish reason."""
    record.text, record.finish_reason = "".join(token for _, token in record.pieces), None
