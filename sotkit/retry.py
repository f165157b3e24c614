"""The one retry layer. SDK clients are built with ``max_retries=0``; every retry happens here.

Retried: connection errors, timeouts, stalls, streams cut mid-way, and HTTP 408, 409, 429, 5xx (529
"overloaded" included). Never other 4xx: those fail at once with the SDK's own exception; nor a 429 that says the
account's quota or spend limit ran out, not its rate (``QUOTA_SPENT``), nor a proxy's 407 to the tunnel. A
response's ``x-should-retry`` header (``true`` or ``false``) overrules its status, as in the official SDKs.
"""

from __future__ import annotations

import email.utils
import random
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import RetryAfterTooLong, StreamStalled
from .options import check_number

__all__ = ["QUOTA_SPENT", "RETRYABLE_STATUS", "RetryAfterTooLong", "RetryPolicy", "StreamStalled", "causes",
           "is_retryable", "quota_spent", "retry_after_s", "status_of"]

RETRYABLE_STATUS = frozenset({408, 409, 429})
#: the codes of a 429 that no wait ends (a person must raise the limit or pay): OpenAI's ``error.code`` (or its type,
#: where no code came), Anthropic's ``error.details.error_code``; the SDKs retry them as rate limits, and the answer
#: (or the fallback) waited for it
QUOTA_SPENT = frozenset({"insufficient_quota", "enforced_spend_limit_reached", "contract_spend_limit_reached"})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one call.

    ``attempts`` counts the first try. The wait before retry *n* is the larger of a jittered exponential
    backoff (``min(max_wait_s, initial_wait_s * 2**(n-1))``, times a random factor in [0.5, 1]) and the server's
    ``retry-after-ms`` / ``retry-after``; a server demand over ``max_wait_s`` fails fast.
    """

    attempts: int = 4
    initial_wait_s: float = 0.5
    max_wait_s: float = 60.0

    def __post_init__(self) -> None:
        check_number("RetryPolicy attempts", self.attempts, above=None, at_least=1, whole=True, optional=False)
        check_number("RetryPolicy initial_wait_s", self.initial_wait_s, above=None, at_least=0, optional=False)
        check_number("RetryPolicy max_wait_s", self.max_wait_s, optional=False)

    def wait_s(self, attempt: int, error: BaseException) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        backoff = min(self.max_wait_s, self.initial_wait_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        demanded = retry_after_s(error)
        if demanded is not None and demanded > self.max_wait_s:
            raise RetryAfterTooLong(
                f"the server asked to retry after {demanded:g} s, over max_wait_s={self.max_wait_s:g} s; "
                "raise RetryPolicy(max_wait_s=...) to wait that long"
            ) from error
        return max(backoff, demanded or 0.0)


def status_of(error: BaseException) -> int | None:
    """The HTTP status of an SDK error (openai and anthropic both set ``status_code``)."""
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def no_server(error: BaseException) -> bool:
    """Did ``error`` come of no server at the URL (a connection refused, no such host), however deep in the
    transport's errors?"""
    return any(isinstance(cause, (ConnectionRefusedError, socket.gaierror)) for cause in causes(error))


def url_asked(error: BaseException) -> str:
    """The URL the request of an SDK error, or of an error it came from, went to ("" where none says)."""
    return next((str(request.url) for cause in causes(error) if (request := getattr(cause, "request", None))), "")


def answered_status(error: BaseException) -> int | None:
    """The HTTP status the server answered ``error`` with, as events and spans say it: a ``RetryAfterTooLong``'s is
    its 429's (``status_of`` has none for it: it is no error to retry)."""
    return status_of(error.__cause__ if isinstance(error, RetryAfterTooLong) else error)


def is_retryable(error: BaseException, transient: tuple[type[BaseException], ...] = ()) -> bool:
    # the server's own word comes first, as the official SDKs take it (a 503 it says not to retry, a 409 it does)
    said = (_headers(error) or {}).get("x-should-retry")
    if said in ("true", "false"):
        return said == "true"
    if quota_spent(error) or _proxy_refused(error):
        return False
    status = status_of(error)
    if status is not None:
        return status in RETRYABLE_STATUS or status >= 500
    return isinstance(error, (TimeoutError, ConnectionError, *transient))


def retry_after_s(error: BaseException) -> float | None:
    """The server's ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), if it sent one."""
    headers = _headers(error)
    if headers is None:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value.split(",")[0]))  # "1, 30": the header sent twice, joined; the first counts
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def quota_spent(error: BaseException) -> bool:
    """A 429 that says the account's quota or spend limit ran out (``QUOTA_SPENT``), not its rate."""
    return status_of(error) == 429 and _code(error) in QUOTA_SPENT


def _code(error: BaseException) -> str | None:
    """An SDK error's code in words: Anthropic's ``error.details.error_code``, else OpenAI's ``error.code``, else its
    ``error.type`` (a server may send ``"type": "insufficient_quota"`` alone, or a status as the code: ``"429"``)."""
    words = (getattr(error, name, None) for name in ("error_code", "code", "type"))
    # (another library's error may carry a number or a dict there)
    return next((code for code in words if isinstance(code, str) and code and not code.isdigit()), None)


def _proxy_refused(error: BaseException) -> bool:
    """A proxy that asked for credentials (407) to open the tunnel: the SDK's connection error wraps httpx's
    ``ProxyError("407 ...")`` or aiohttp's ``ClientHttpProxyError`` (``status`` 407); no wait mends it."""
    return any(getattr(cause, "status", None) == 407 or type(cause).__name__ == "ProxyError" and
               str(cause).startswith("407 ") for cause in causes(error))


def causes(error: BaseException | None) -> Iterator[BaseException]:
    """The error and those it came from (an SDK's connection error wraps its HTTP library's, which wraps ssl's)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _headers(error: BaseException) -> Any:
    """The headers of the HTTP response an SDK error carries, if any."""
    return getattr(getattr(error, "response", None), "headers", None)
