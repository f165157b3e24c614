"""Server-sent events read straight off an SDK's streaming response.

The SDKs build a pydantic model for every chunk, which costs about a millisecond each: with hundreds of
expansions streaming at once that, not the network, was the bottleneck (benchmarks/overhead.py). The
requests still go through the SDKs (auth, headers, base URLs, status errors as the SDK's exception types);
only the chunks of a successful stream are parsed here, with ``json.loads``, from the response's bytes in one
generator (httpx's text and line decoders and the SDK's line iterator would add four more per chunk).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, AsyncIterator
from types import ModuleType
from typing import Any, Protocol

import anyio

from ..errors import StreamError, renote, server_text
from .base import AFTER_END_S, ENDED, REFUSED, STARTED, CallUsage, Signal, Thinking


class Refusal(str):
    """The first text of a refusal sent in place of the model's (OpenAI's ``delta.refusal``), with the model's text
    that came ``before`` it in the same event: the refusal's piece goes after ``REFUSED``, apart from that text."""

    before: str

    def __new__(cls, text: str, before: str = "") -> Refusal:
        refusal = super().__new__(cls, text)
        refusal.before = before
        return refusal


class Reading(Protocol):
    """What a provider reads from its events besides their text."""

    @property
    def whole(self) -> bool:
        """The model's end was reported (OpenAI's ``finish_reason``, Anthropic's ``stop_reason``): the answer is
        whole, and a connection that breaks after it loses nothing."""

    ended: bool
    """The stream's terminal event came (``[DONE]``, ``message_stop``): whatever follows is no part of the answer."""

    stray: Any
    """The first event of no shape the API sends (a gateway's error object, say), passed over; None if none came."""

    @property
    def end(self) -> str:
        """What reports the model's end, for the error of a stream cut before it ("a finish_reason or [DONE]")."""

    @property
    def whole_at_body_end(self) -> bool:
        """Is the answer whole if the body ends here (``whole``, or what a server that reports no end reliably last
        said)?"""

    @property
    def firm(self) -> bool:
        """Is the reported end surely one? A finish_reason on a chunk of text, or before any text, may be a relay's
        mark on every chunk: what follows it is read longer (``UNSURE_TAIL_S``), and a break then is a failure."""

    def text_of(self, event: str | None, data: Any) -> str | Signal | CallUsage | None:
        """An event's text, or None for one without (taking note of what else it says, or raising), or
        ``THINKING`` for reasoning, or a ``partial`` usage of counts sent ahead; ``data`` is parsed JSON, or the raw
        text when it is not JSON."""

    def as_events(self, reply: Any) -> list[tuple[str | None, Any]]:
        """A whole reply (parsed JSON) as the events of the stream it stands for: a server that ignores ``stream``
        answers so."""


async def text_pieces(response: Any, sdk: ModuleType, reading: Reading,
                      model: str) -> AsyncGenerator[str | Signal | CallUsage, None]:
    """The text of ``model``'s SDK streaming response, one piece per read from the network, as ``reading`` gives
    each event's, after ``STARTED``; the reasoning of a read passes on before its text, as ``Thinking``. Where the
    client falls behind, a read brings several events, and each piece costs the same to filter, stitch and send on:
    the busier the client, the fewer the pieces. Text ahead of an event that raises is given first.

    Once the model's end is reported (``reading.whole``), what follows is read for a second at most (``_tail``),
    and a connection that breaks or goes quiet then costs nothing (unless text follows, which shows that the end
    was none, ``reading.whole`` turning False: then it is read on); before it, a connection that breaks
    raises the SDK's own ``APIConnectionError`` / ``APITimeoutError``, as the SDK's stream classes do, and a body
    that ends is a ``StreamError`` (the answer was cut), as is a 200 whose body is not an event stream (a proxy's
    HTML error page, an empty body, text with no event). A body is read by what it holds, whatever its content type
    says (some proxies send none, or a wrong one): events, or a whole JSON reply (from a server that ignores
    ``stream``) as the events of its stream."""
    import httpx2  # imported with the SDK, off the event loop, before the first response

    http = response.http_response
    try:
        content_type = http.headers.get("content-type", "").lower()  # media types ignore case
        if "html" in content_type:
            body = server_text(await http.aread(), 500)
            raise StreamError(f"the server answered 200 with {content_type}, not an event stream: {body!r}", raw=body)
        yield STARTED
        # the raw bytes skip a decoder and a re-chunker per piece, where there is no content encoding to undo
        identity = http.headers.get("content-encoding", "identity") == "identity"
        parser, halves = EventParser(), Halves()
        chunks = aiter(http.aiter_raw() if identity and not http.is_stream_consumed else http.aiter_bytes())
        sniffing = True  # until the body's first bytes show events or a whole JSON reply (no event opens with "{")
        async for chunk in chunks:
            if sniffing and (head := chunk.lstrip(_BLANK)):
                sniffing = False
                if head.startswith(b"{"):
                    body = head + b"".join([rest async for rest in chunks])
                    pieces, error = _joined(reading.as_events(_parsed(body.decode())), reading, halves)
                    for piece in pieces:
                        yield piece
                    if error:
                        raise error
                    if not reading.whole:
                        excerpt = server_text(body, 500)
                        raise StreamError(f"the reply from {model} came whole, as JSON, but without {reading.end}: "
                                          f"{excerpt!r}", raw=excerpt)
                    if rest := halves.rest():
                        yield rest
                    return
            pieces, error = _joined(parser.feed(chunk), reading, halves)
            for piece in pieces:
                yield piece
            if error:
                raise error
            if reading.whole:
                yield ENDED
                pieces, error = await _tail(chunks, parser, reading, halves)
                for piece in pieces:
                    yield piece
                if error:
                    raise error
                if reading.whole:
                    if rest := halves.rest():
                        yield rest
                    return
                # text came after the end: it was none (a relay that sends a finish_reason with every chunk)
        pieces, error = _joined(parser.finish(), reading, halves)
        for piece in pieces:
            yield piece
        if error:
            raise error
        if sniffing:  # not a byte but white space
            raise StreamError(f"the server answered 200 with an empty body, no event: the stream from {model} was cut "
                              "(llama-cpp-python's server, for one, answers so a prompt longer than its context window, "
                              "n_ctx; its log says why)")
        if not reading.whole_at_body_end:
            stray = reading.stray  # (probe 311: a gateway's error object, then the body's end, read "it was cut")
            before = "" if stray is None else \
                f"; before, it sent an event that is not the API's: {server_text(str(stray), 300)!r}"
            raise StreamError(f"the stream from {model} ended without {reading.end}: it was cut{before}", raw=stray)
        if rest := halves.rest():
            yield rest
    except httpx2.TimeoutException as exc:
        raise sdk.APITimeoutError(request=response.http_request) from exc
    except httpx2.TransportError as exc:
        raise sdk.APIConnectionError(message=f"{BROKE_OFF} ({type(exc).__name__}: {exc})"[:300],
                                     request=response.http_request) from exc
    except httpx2.DecodingError as exc:  # (probe 340: it read as a connection that broke off)
        encoding = http.headers.get("content-encoding")
        raise StreamError(f"the body from {model} does not decode as its content-encoding {encoding!r} says ({exc}):"
                          " the server, or a proxy between, labels it wrongly") from exc
    except UnicodeDecodeError as exc:
        raise StreamError(f"the event stream is not UTF-8 text: {exc}", raw=exc.object[:500]) from exc
    except StreamError as exc:  # the id the provider's support asks for, as the SDKs' errors carry it
        if request_id := http.headers.get("request-id") or http.headers.get("x-request-id"):
            renote(exc, f"(request_id: {request_id})", "(request_id: ")
        raise


#: an SDK's ``APIConnectionError`` raised after the server answered: it was reachable
BROKE_OFF = "the connection broke off while the server streamed its answer, after its 200"
_SURROGATE = re.compile("[\ud800-\udfff]")
#: what may come before a body's first event or JSON: white space, a byte-order mark
_BLANK = b" \t\r\n\xef\xbb\xbf"
#: how long the events after the model's end (the counts, the terminal event) may take to come
TAIL_S = 1.0
#: how long the rest of the body may take after the terminal event, as the SDKs drain it
DRAIN_S = 0.1
#: as long, after an end that may be a relay's mark on every chunk (``Reading.firm``): the next text's gap
UNSURE_TAIL_S = AFTER_END_S - DRAIN_S


async def _tail(chunks: AsyncIterator[bytes], parser: EventParser, reading: Reading,
                halves: Halves) -> tuple[list[str | Signal | CallUsage], Exception | None]:
    """What follows the model's end: the events up to the terminal one (the counts), for at most ``TAIL_S``
    seconds (``UNSURE_TAIL_S`` after an end that may be none, ``Reading.firm``), then the rest of the body for at
    most ``DRAIN_S`` (so that the connection goes back to the pool). The answer is whole already: a connection that
    breaks or goes quiet now costs nothing (a break after an unsure end fails the call), and a later error event
    is no failure of it. Unless text comes after the end, which shows that it was none (``reading.whole`` turns
    False): then the pieces so far and any error after them are returned at once, and the body is read on."""
    pieces: list[str | Signal | CallUsage] = []
    error = None
    try:
        with anyio.move_on_after(TAIL_S if reading.firm else UNSURE_TAIL_S):
            while reading.whole and not reading.ended:
                more, error = _joined(parser.feed(await anext(chunks)), reading, halves)
                pieces += more
        if reading.whole:
            with anyio.move_on_after(DRAIN_S):
                async for _ in chunks:
                    pass
    except StopAsyncIteration:  # the body's end: the answer is whole, or the body's end is read again and judged
        pass
    except Exception:  # any transport's error: once the answer is surely whole, it costs nothing
        if not (reading.whole and reading.firm):
            raise
    return pieces, error


def _joined(events: list[tuple[str | None, Any]], reading: Reading,
            halves: Halves) -> tuple[list[str | Signal | CallUsage], Exception | None]:
    """The pieces of ``events``: counts sent ahead, the reasoning they hold (``Thinking``, its characters summed),
    then their text as one piece, up to the first event that raised; and what it raised. Events after the terminal
    one are not read."""
    texts: list[str] = []
    counts: list[str | Signal | CallUsage] = []
    thinking: int | None = None  # characters of reasoning, once any came
    said = False  # and whether any of them were not white space
    refused = None  # where in ``texts`` a refusal's text begins
    error = None
    for event, data in events:
        try:
            text = reading.text_of(event, data)
        except Exception as exc:
            if not reading.whole:  # after the model's end, an error event is no failure of the whole answer
                error = exc
            break
        if isinstance(text, Thinking):
            thinking, said = (thinking or 0) + text.chars, said or text.progress
        elif isinstance(text, CallUsage):
            counts.append(text)
        elif text:
            if isinstance(text, Refusal) and refused is None:
                texts.append(text.before)
                refused = len(texts)
            texts.append(text)  # type: ignore[arg-type]
        if reading.ended:
            break
    pieces = counts if thinking is None else [*counts, Thinking(thinking, said)]
    if refused is not None:
        before = halves.paired("".join(texts[:refused])) + halves.rest()  # (a half is the model's, not the refusal's)
        return [*pieces, *([before] if before else []), REFUSED, halves.paired("".join(texts[refused:]))], error
    text = halves.paired("".join(texts))
    return (pieces + [text] if text else pieces), error


class Halves:
    """The halves of a character past U+FFFF that a relay split between events (JSON escapes UTF-16: "\\ud83c",
    then "\\udf89"; a JavaScript proxy that slices text by its units sends them so), joined; Python keeps them as
    lone surrogates, which no encoder takes. A half that finds no partner becomes U+FFFD, as a broken byte does."""

    def __init__(self) -> None:
        self._held = ""  # a first half, at the end of the text so far

    def paired(self, text: str) -> str:
        text, self._held = self._held + text, ""
        if not _SURROGATE.search(text):
            return text
        if "\ud800" <= text[-1] <= "\udbff":
            text, self._held = text[:-1], text[-1]
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")

    def rest(self) -> str:
        """What is held when the stream ends: a first half whose second never came."""
        held, self._held = self._held, ""
        return "\ufffd" if held else ""


def malformed(data: Any) -> StreamError:
    """The error for an event that does not have the provider's shape (``data: <html>``, ``data: [1, 2]``)."""
    excerpt = server_text(data if isinstance(data, str) else str(data), 500)
    return StreamError(f"the server sent an event that is not the API's: {excerpt!r}",
                       raw=excerpt if isinstance(data, str) else data)


#: an SSE line longer than this is no API's event (a chunk of text is a few hundred bytes)
MAX_LINE_BYTES = 16 << 20


class EventParser:
    """The events of an SSE byte stream fed in pieces, however they split lines or characters. Lines end in
    ``\\n`` or ``\\r\\n`` (what every LLM API sends; a lone ``\\r`` is not taken as a line end). An ``error:``
    line (llama.cpp's server sends its errors so, a field the SSE spec would ignore) is read as ``event: error``
    with the rest of the line as its data."""

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self._pending: list[bytes] = []  # the unfinished line's pieces: joined once its end comes, not per read
        self._pending_size = 0
        self._fresh = True  # nothing fed yet
        self.seen = False  # an event came
        self.stray = ""  # the start of what was neither an event's field nor a comment (a proxy's error text)

    def feed(self, chunk: bytes) -> list[tuple[str | None, Any]]:
        """The events that ``chunk`` completes."""
        if self._fresh:  # a byte-order mark would hide the first field's name (the SSE spec drops it)
            chunk, self._fresh = chunk.removeprefix(b"\xef\xbb\xbf"), False
        if b"\n" not in chunk:
            self._pending.append(chunk)
            self._pending_size += len(chunk)
            if self._pending_size > MAX_LINE_BYTES:
                raise StreamError(f"an event stream line ran past {MAX_LINE_BYTES >> 20} MiB without ending",
                                  raw=b"".join(self._pending)[:500])
            return []
        *lines, last = (b"".join(self._pending) + chunk if self._pending else chunk).split(b"\n")
        self._pending, self._pending_size = [last], len(last)
        events: list[tuple[str | None, Any]] = []
        for raw in lines:
            line = raw.removesuffix(b"\r").decode()
            if line == "":
                if self._data:
                    events.append((self._event, _parsed("\n".join(self._data))))
                    self.seen = True
                self._event, self._data = None, []
            elif line.startswith("event:"):
                self._event = line[6:].strip()
            elif not self._data_line(line) and not line.startswith((":", "id:", "retry:")) and len(self.stray) < 500:
                self.stray += server_text(line, 500) + "\n"
        return events

    def _data_line(self, line: str) -> bool:
        """Take a ``data:`` line, or an ``error:`` one (as ``event: error`` with its data); False for any other."""
        if line.startswith("data:"):
            self._data.append(line[5:].removeprefix(" "))
        elif line.startswith("error:"):
            self._event = "error"
            self._data.append(line[6:].removeprefix(" "))
        else:
            return False
        return True

    def finish(self) -> list[tuple[str | None, Any]]:
        """The stream ended: the last event, where it lacked its final newline or blank line. Raises
        ``StreamError`` where the stream held no event but other text (an error page sent as an event stream), or
        ended inside an event's line (it was cut)."""
        pending = b"".join(self._pending)
        line = pending.removesuffix(b"\r").decode()
        if not self._data_line(line) and line and not line.startswith((":", "id:", "retry:", "event:")):
            self.stray += server_text(line, 500)
        if not self.seen and not self._data and self.stray.strip():
            raise StreamError(f"the server answered 200 with a body that holds no events, only: "
                              f"{self.stray[:500]!r}", raw=self.stray[:500])
        if not self._data:
            return []
        data = _parsed("\n".join(self._data))
        cut_mid_line = line.startswith("data:") and not pending.endswith(b"\r")  # a CRLF stream cut at its LF is not
        if cut_mid_line and isinstance(data, str) and data != "[DONE]":
            cut = server_text(line, 200)
            raise StreamError(f"the stream ended in the middle of an event: it was cut ({cut!r})", raw=line)
        return [(self._event, data)]


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
