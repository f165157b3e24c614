"""Just enough HTTP/1.1 for the official SDKs: keep-alive, request bodies in, JSON or chunked SSE out.

Each request gets an ``Exchange``. While it is being answered, a read is kept pending on the socket: HTTP
clients send nothing mid-response, so that read finishing with EOF means the client hung up, and every wait
and write checks it (``ClientGone``). That is how cancellation on the client side becomes visible.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from ._wire import reason_phrase

MAX_HEAD_BYTES = 64 * 1024
_READ_SIZE = 64 * 1024


class ClientGone(Exception):
    """The client closed the connection before the response was complete."""


class BadHTTP(Exception):
    """A request the server cannot even parse as HTTP; the connection is answered with ``status`` and closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Input:
    """A socket's incoming bytes. At most one read is pending at a time: the one that watches for a hang-up
    during a response is the same one the next request's head is read from, so no byte is ever lost."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buffer = bytearray()
        self._pending: asyncio.Future[bytes] | None = None

    async def _fill(self) -> None:
        pending, self._pending = self._pending, None
        data = await (pending or self._reader.read(_READ_SIZE))
        if not data:
            raise EOFError
        self._buffer += data

    async def read_until(self, separator: bytes, limit: int) -> bytes:
        while (end := self._buffer.find(separator)) < 0:
            if len(self._buffer) > limit:
                raise BadHTTP(431, f"request head larger than {limit} bytes")
            await self._fill()
        return self._take(end + len(separator))

    async def read_exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            await self._fill()
        return self._take(n)

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    async def read_body(self, headers: Mapping[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = bytearray()
            while True:
                size_line = await self.read_until(b"\r\n", MAX_HEAD_BYTES)
                try:
                    size = int(size_line.split(b";")[0], 16)
                except ValueError:
                    raise BadHTTP(400, f"bad chunk size line {size_line!r}") from None
                chunk = await self.read_exactly(size + 2)
                if size == 0:
                    return bytes(body)
                body += chunk[:-2]
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise BadHTTP(400, f"bad content-length {headers['content-length']!r}") from None
        return await self.read_exactly(length)

    def watch(self) -> None:
        """Keep a read pending so that a hang-up is noticed while a response is written."""
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._reader.read(_READ_SIZE))

    def check(self) -> None:
        """Raise ``ClientGone`` if the pending read saw EOF or a reset; keep any data (a pipelined request)."""
        pending = self._pending
        if pending is None or not pending.done():
            return
        if pending.cancelled() or pending.exception() is not None or not pending.result():
            raise ClientGone
        self._buffer += pending.result()
        self._pending = None
        self.watch()

    async def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, waking early with ``ClientGone`` if the client hangs up."""
        if seconds > 0 and self._pending is not None:
            await asyncio.wait([self._pending], timeout=seconds)
        elif seconds > 0:
            await asyncio.sleep(seconds)
        self.check()

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()


class Output:
    """Writes one response: a JSON body, or a chunked event stream."""

    def __init__(self, writer: asyncio.StreamWriter, watch: Input, *, close_after: bool) -> None:
        self._writer = writer
        self._input = watch
        self.close_after = close_after
        #: some bytes of the response went out (too late to answer with an error status instead)
        self.started = False

    async def wait(self, seconds: float) -> None:
        """Sleep ``seconds`` (``ClientGone`` as soon as the client hangs up)."""
        await self._input.wait(seconds)

    async def _write(self, data: bytes) -> None:
        self._input.check()
        if self._writer.transport.is_closing():
            raise ClientGone
        self.started = True
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise ClientGone from exc

    def _head(self, status: int, headers: Mapping[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {reason_phrase(status)}", *(f"{k}: {v}" for k, v in headers.items())]
        if self.close_after:
            lines.append("connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        head = self._head(status, {**headers, "content-length": str(len(body))})
        await self._write(head + body)

    async def open_stream(self, headers: Mapping[str, str], first: bytes) -> None:
        head = self._head(200, {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache",
                                "transfer-encoding": "chunked", **headers})
        await self._write(head + _chunk(first))

    async def stream(self, data: bytes) -> None:
        await self._write(_chunk(data))

    async def close_stream(self, last: bytes) -> None:
        await self._write(_chunk(last) + b"0\r\n\r\n")

    def hang_up(self) -> None:
        """Close the connection from the server side (bytes already written are still delivered)."""
        self.close_after = True
        self._writer.close()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n" if data else b""


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    """``(method, target, version, headers)`` with header names lower-cased (repeats joined by ', ')."""
    request_line, *lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = request_line.split(" ")
    except ValueError:
        raise BadHTTP(400, f"bad request line {request_line!r}") from None
    headers: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise BadHTTP(400, f"bad header line {line!r}")
        name, value = name.strip().lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return method, target, version, headers
