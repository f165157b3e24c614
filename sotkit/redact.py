"""Credentials kept out of sotkit's messages: URLs shown with their passwords as ``***``, and the keys and URL
passwords of the clients alive replaced by ``***`` in the text sotkit makes of an error (``describe``, spans, log
lines, the CLI's): a gateway's 401 may repeat the key it was sent ("Incorrect API key provided: sk-...").

This module imports nothing of sotkit's, so that every other module (options, limits, errors, tracing) can use it.
"""

from __future__ import annotations

import base64
import re
import weakref
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

#: "scheme://" and the host part after it, to its first / ? or #
_NETLOC = re.compile(r"[a-z][a-z0-9+.-]*://([^/?#]*)", re.IGNORECASE)
_PASSWORD_OPTION = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
_REDIS = re.compile("rediss?://", re.IGNORECASE)
_IN_OPTION = re.compile(r"[?&][^?&=#]*=[^&#]*$")  # up to an @ in an option's value ("?client_name=a@b")
_HOST = re.compile(r"(?:\[[^\]]*\]|[^:\[\]]+)(?::\d+)?")  # a host part after its user info: a name or [IPv6], a port
#: an API key as the providers write them: OpenAI's sk- (sk-proj-, ...), Anthropic's sk-ant-, OpenRouter's sk-or-,
#: Groq's gsk_, xAI's xai-, Google's AIza, Hugging Face's hf_
_KEY = re.compile(r"\s*(?:sk-|gsk_|xai-|AIza|hf_)[\w-]{8,}\s*")
#: shorter strings are placeholders ("EMPTY", "unused") or words an error message may hold, not secrets
MIN_SECRET = 8
#: the secrets of the clients alive, by the id of the object holding them (dropped when it is collected)
_HELD: dict[int, frozenset[str]] = {}


def shown_url(url: str) -> str:
    """``url`` with the secret of its user info (``scheme://user:PASSWORD@host``, any scheme; all of a user info
    without a colon, which may be a token, or one whose user name holds an @ where the host part was cut: it may be
    a token and a host) and a ``?password=`` option as ``***``, for messages."""
    url = _PASSWORD_OPTION.sub(r"\1***", url)
    if (end := _user_info_end(url)) is None:
        return url
    start = url.index("://") + 3
    user, colon, _ = url[start:end].partition(":")
    shown = colon and not ("@" in user and user_info_cut(url))
    return f"{url[:start]}{user + colon if shown else ''}***{url[end:]}"


def user_info_cut(url: str) -> bool:
    """Did an unencoded / ? or # in a URL's password end its host part before the user info's @
    (``redis://:ab/cd@host``)?"""
    netloc = _NETLOC.match(url)
    return netloc is not None and (end := _user_info_end(url)) is not None and end > netloc.end()


def _user_info_end(url: str) -> int | None:
    """Where the @ that ends a URL's user info is. The host part's last (a user name or password may hold an @),
    unless the user info goes on past it: where what follows that @ is no host and port (``redis://:2024/pw@host``,
    ``http://me@corp:pw/x@host``: a password holding an unencoded / ? or # ended the host part early), a later @;
    in a Redis URL, whose path is only a database number, any later @ but one in an option's value, also after a
    host part that looks whole (``redis://:p@ss/word@host``; an @ in a fragment too, on the safe side). None where
    there is no user info: an @ further on is the path's or the query's (``?owner=a@b``)."""
    if not (netloc := _NETLOC.match(url)):
        return None
    at, later = netloc[1].rfind("@"), None
    if "@" in url[netloc.end():]:
        if _REDIS.match(url):
            later = next((i for i in range(len(url) - 1, netloc.end(), -1)
                          if url[i] == "@" and not _IN_OPTION.search(url, 0, i)), None)
        if later is None and not _HOST.fullmatch(netloc[1], at + 1):
            later = url.rindex("@")
    if later is not None:
        return later
    return netloc.start(1) + at if at >= 0 else None


def shown(value: object) -> str:
    """``repr(value)`` for a message, but for what looks like an API key (put in another option by mistake)."""
    return "<what looks like an API key, not shown>" if looks_like_key(value) else repr(value)


def looks_like_key(value: object) -> bool:
    """Is ``value`` a str written as an API key is (``sk-...``)?"""
    return isinstance(value, str) and _KEY.fullmatch(value) is not None


def hold(owner: object, keys: Iterable[object] = (), urls: Iterable[object] = ()) -> None:
    """Keep ``keys`` and the passwords in ``urls`` (or a user info that is a token) out of messages while
    ``owner`` lives; values that are not str are skipped (a key given as a function, a URL object: its str)."""
    secrets = {key for key in keys if isinstance(key, str)}
    for url in urls:
        parts = urlsplit(str(url))
        secret = parts.password or parts.username  # a token alone, also as curl's "TOKEN:" (an empty password)
        secrets |= {secret, unquote(secret)} if secret else set()  # the server may say it decoded
        if secret:  # sent as a Basic header (a token alone as its user name), which a proxy's error may quote
            basic = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
            secrets.add(base64.b64encode(basic).decode())
    if kept := frozenset(secret for secret in secrets if len(secret) >= MIN_SECRET):
        if id(owner) not in _HELD:
            weakref.finalize(owner, _HELD.pop, id(owner), None)
        _HELD[id(owner)] = _HELD.get(id(owner), frozenset()) | kept  # added to: a client's URL may hold fewer


def redact(text: str) -> str:
    """``text`` with every secret held as ``***`` (the longest first: one may hold another), wherever it stands
    ("密钥sk-...无效", "Bearer%20sk-..."); a placeholder of letters alone ("balanced", "not-needed") only as a word
    of its own, not in "unbalanced"."""
    for secret in sorted({secret for held in list(_HELD.values()) for secret in held}, key=len, reverse=True):
        if secret not in text:
            continue
        if secret.replace("-", "").isalpha():
            text = re.sub(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", "***", text)
        else:
            text = text.replace(secret, "***")
    return text
