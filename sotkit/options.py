"""Checks of user-given options, shared by ``SoT``, ``generate``, ``stream`` and per-request overrides: each
failure is a ``ConfigError`` naming the option, the value and what is allowed, raised before any request."""

from __future__ import annotations

import datetime
import difflib
import json
import math
import numbers
import os
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, MappingView, Sequence
from types import MappingProxyType
from typing import Any, cast

from .errors import ConfigError
from .redact import shown, shown_url, user_info_cut


#: what other APIs and SDKs call sotkit's options, to suggest ours for theirs
_THEIR_NAMES = {"max_completion_tokens": "max_tokens", "max_output_tokens": "max_tokens",
                "max_new_tokens": "max_tokens", "retries": "retry", "max_retries": "retry", "request_timeout": "timeout",
                "api_base": "base_url"}


def check_names(given: Iterable[str], allowed: Iterable[str], where: str, suggest: Iterable[str] = (),
                owners: Mapping[str, str] = MappingProxyType({}), what: str = "option") -> None:
    """Every name in ``given`` is in ``allowed``; an unknown one is named with the closest of ``allowed`` and
    ``suggest`` (names the caller accepts elsewhere), with ours for another API's name, or with whose option it is
    (``owners``: name -> the models that take it)."""
    allowed = sorted(set(allowed))
    for name in given:
        if name not in allowed:
            known = [*allowed, *suggest]
            ours = _THEIR_NAMES.get(name.lower())
            close = [ours] if ours in known else difflib.get_close_matches(name.lower(), known, n=3, cutoff=0.7)
            hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
            if name in owners:
                hint = f"{name}= is an option of {owners[name]}; "
            elif instead := _elsewhere(name):
                hint = f"{instead}; "
            options = f"{what}s are: {', '.join(allowed)}" if allowed else "it takes none"
            raise ConfigError(f"unknown {what} {name!r} for {where}; {hint}{options}")


def _elsewhere(name: str) -> str | None:
    """Where an option that other SDKs take as a keyword goes in sotkit, if anywhere."""
    if name in _API_PARAMETERS:
        return (f"{name} is an API parameter sotkit does not set: send it in the client's "
                f"extra_body={{{name!r}: ...}}")
    if name in ("system", "stop", "stop_sequences"):
        return f"{name}: {_WRITTEN_BY_SOTKIT[name]}"
    if name in ("extra_headers", "default_headers", "headers", "extra_query", "default_query"):
        return f"{name}: build your own SDK client with them and pass it as client="
    if name in _NOT_ONE_TEXT:
        return f"{name} asks for {_NOT_ONE_TEXT[name][0]}, while sotkit reads one streamed text a call"
    return None


def check_number(name: str, value: Any, *, above: float | None = 0.0, at_least: float | None = None,
                 at_most: float | None = None, whole: bool = False, optional: bool = True) -> None:
    """``value`` is a number (a whole one when ``whole``) in the range, or None when ``optional``."""
    if value is None and optional:
        return
    number = isinstance(value, int if whole else (int, float)) and not isinstance(value, bool)
    kind = "a whole number" if whole else "a number"
    if number and not _finite(value):
        kind = "a smaller number" if isinstance(value, int) else "a finite number"
    bounds = [f"> {above:g}" if above is not None else "", f">= {at_least:g}" if at_least is not None else "",
              f"<= {at_most:g}" if at_most is not None else ""]
    wanted = f"{kind} {' and '.join(b for b in bounds if b)}".strip() + (" or None" if optional else "")
    if not number or not _finite(value) or (above is not None and not value > above) \
            or (at_least is not None and value < at_least) or (at_most is not None and value > at_most):
        raise ConfigError(f"{name}={shown_value(value)}: must be {wanted}{foreign_number(value, whole)}")


def foreign_number(value: Any, whole: bool = False) -> str:
    """What to do with a number that is no Python int or float (numpy's, a Decimal), which is refused (it would not
    go into a request's JSON); "" for anything else."""
    if not isinstance(value, numbers.Number) or isinstance(value, (int, float, bool)):
        return ""
    python = "int" if whole or isinstance(value, numbers.Integral) else "float"
    return f" (a Python {python}: convert it with {python}(...))"


def shown_value(value: Any) -> str:
    """The value as a message shows it: a huge int by its size (its digits would fill the screen, and past 4,300
    of them Python refuses to write them), an API key not at all."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"<an int of {value.bit_length()} bits>"
    text = shown(value)  # (a key put in another option by mistake is not shown; probe 334)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float, which no API or timer takes
        return False


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    choices = list(choices)
    if value not in choices:
        raise ConfigError(f"{name}={shown_value(value)}: use {', '.join(map(repr, choices[:-1]))} or {choices[-1]!r}")


def check_type(name: str, value: Any, kind: type | tuple[type, ...], wanted: str) -> None:
    """``value`` is of ``kind``; a str one UTF-8 can carry, as every str option is sent (a ``context=``) or
    stored as UTF-8."""
    if not isinstance(value, kind):
        raise ConfigError(f"{name}={shown_value(value)}: must be {wanted}")
    if isinstance(value, str):
        _check_utf8(f"{name}=", value)


#: body fields sotkit writes itself, with the option that sets each: an ``extra_body`` value for one overrode it
#: unseen (a request's own ``temperature=``, the router's budget, a template's system prompt), and a None left some
#: out with nothing in their place (no stop sequences, no token limit) and others not at all; sotkit leaves out on
#: its own a temperature, budget field or stop sequences a server refuses
_WRITTEN_BY_SOTKIT = dict.fromkeys(("model", "messages", "stream"), "sotkit builds them from the model and templates") | {
    "temperature": "use temperature= (the client's, or per request; none is sent unless given)",
    **dict.fromkeys(("max_tokens", "max_completion_tokens"),
                    "use skeleton_max_tokens=, point_max_tokens= and max_tokens= (the sequential answer's)"),
    **dict.fromkeys(("stop", "stop_sequences"), "put stop sequences in a template's {% block stop %}, one a line"),
    "system": "put the system prompt in a template's {% block system %}"}
#: the APIs' sampling and bookkeeping parameters, which sotkit passes on in extra_body rather than as options
_API_PARAMETERS = {"top_p", "top_k", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
                   "top_logprobs", "user", "metadata", "service_tier", "reasoning_effort", "verbosity", "thinking",
                   "min_p", "repetition_penalty"}
_TOOLS = "tool calls in place of text"
#: fields that can ask for something other than one streamed text a call, which sotkit reads, splits and stitches,
#: with the values that do not
_NOT_ONE_TEXT = {"n": ("several answers a call (each billed, one read)", (None, 1)),
                 "tools": (_TOOLS, (None, [])), "functions": (_TOOLS, (None, [])),
                 "tool_choice": (_TOOLS, (None, "none", {"type": "none"})), "function_call": (_TOOLS, (None, "none")),
                 "response_format": ("a structured reply, which would also shape the skeleton and every point",
                                     (None, {"type": "text"})),
                 # (a reply in audio streams its transcript apart from the text, which it leaves empty)
                 "modalities": ("a reply in audio", (None, ["text"], [])), "audio": ("a reply in audio", (None,))}


def check_extra_body(extra_body: Any) -> dict[str, Any]:
    """A provider's ``extra_body=``: fields added to every request's body (``{}`` for none), as the JSON the SDK
    would send, a copy: a later change to the caller's dict cannot reach requests unchecked."""
    if extra_body is not None and not isinstance(extra_body, Mapping):
        raise ConfigError(f"extra_body={extra_body!r}: must be a dict of fields added to each request's body")
    body = {}
    for name, value in (extra_body or {}).items():
        if not isinstance(name, str):
            raise ConfigError(f"extra_body has the key {shown_value(name)}: a body's field names are str")
        _check_utf8(f"extra_body's key {name!r}", name)
        try:  # now, not at the first call, deep in the SDK's encoder
            sent = json.dumps(value, allow_nan=False, default=_sent_by_the_sdks, ensure_ascii=False)
            body[name] = value = json.loads(sent.encode())  # UTF-8, as it goes: a lone surrogate cannot
        except (TypeError, ValueError, RecursionError) as exc:
            raise ConfigError(f"extra_body[{name!r}]={shown_value(value)}: JSON cannot carry it ({exc}); use "
                              "str, numbers, bool, None, lists and dicts") from None
        if name in _WRITTEN_BY_SOTKIT:
            raise ConfigError(f"extra_body[{name!r}]={shown_value(value)}: sotkit sets {name} on each call itself; "
                              f"{_WRITTEN_BY_SOTKIT[name]}")
        if name in _NOT_ONE_TEXT and (isinstance(value, bool) or value not in _NOT_ONE_TEXT[name][1]):
            raise ConfigError(f"extra_body[{name!r}]={shown_value(value)}: asks for {_NOT_ONE_TEXT[name][0]}, while "
                              "sotkit reads one streamed text a call; ask for the form you want in the question or "
                              "a template instead")
    return body


def _sent_by_the_sdks(value: Any) -> Any:
    """What an SDK encodes its own way, as JSON does it: dates, pydantic models (as the SDKs dump them), mappings,
    sequences and dict views (Anthropic's SDK sends them all, OpenAI's some), the SDKs' sentinels. Anything else is
    a ``TypeError``, as in ``json.dumps``: bytes, a set (sent in no set order), an iterator (the check would use it
    up)."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence | MappingView) and not isinstance(value, bytes | bytearray):
        return list(cast(Iterable[Any], value))  # (a dict's views iterate; the MappingView ABC does not say so)
    if callable(getattr(value, "model_dump", None)):
        return value.model_dump(mode="json", exclude_unset=True, by_alias=True)
    if type(value).__name__ in ("NotGiven", "Omit"):  # the SDKs' own "leave this field out"
        return None
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def check_api_key(value: Any) -> None:
    if value is not None and not isinstance(value, str):  # the value itself is a secret: never in the message
        raise ConfigError(f"api_key must be a str, not {type(value).__name__}")


def api_key_or_env(given: str | None, variable: str) -> str | None:
    """``api_key=`` if given, else ``$variable``; refused if an HTTP header cannot carry it. A key read from a file
    keeps its line end (a ``.env`` saved with CRLF, a secret mounted with a newline): the SDK's request then fails
    before it leaves, as a connection error, retried for nothing and blamed on the server's address."""
    if given == "":  # os.getenv("MY_KEY", "") of an unset variable: the environment's key would go to base_url
        raise ConfigError(f"api_key is empty (read from an unset variable with a default of \"\"?); an empty key "
                          f"is never replaced by ${variable}: pass the key, leave api_key= out to use ${variable}, "
                          "or, for a server that takes no key, pass a placeholder (api_key=\"none\")")
    key, source = (given, "api_key") if given else (os.environ.get(variable), f"${variable}")
    check_header(source, key)
    return key


def check_header(source: str, value: str | None) -> None:
    """Refuse a value an HTTP header cannot carry (a key, an organization's id), by its ``source`` only."""
    if value and (value != value.strip() or not value.isascii() or not value.isprintable()):
        raise ConfigError(f"{source} holds white space at its ends, a line break or a character that is not printable "
                          "ASCII (a line end kept from the file it was read from?), which an HTTP header cannot "
                          "carry: remove it (the value is not shown here)")


#: Unicode categories of characters that show nothing alone: spaces and line breaks, controls (NUL, tab), format
#: characters (a byte-order mark, zero-width spaces and joiners) and marks without a letter to sit on; and letters
#: and symbols drawn blank (Hangul fillers, the blank Braille pattern)
_INVISIBLE = frozenset(("Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me"))
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800")
#: printable marks that a URL's host ignores (Unicode's default-ignorable marks: a combining grapheme joiner,
#: Khmer and Mongolian ones, variation selectors): pasted in, they make another host or a URL that fails to encode
_IGNORED_MARKS = frozenset("\u034f\u17b4\u17b5\u180b\u180c\u180d\u180f"
                           + "".join(map(chr, range(0xFE00, 0xFE10))) + "".join(map(chr, range(0xE0100, 0xE01F0))))


def shows_anything(text: str) -> bool:
    """Does ``text`` hold a character that shows (not only spaces, zero-width ones, controls or blank letters)?"""
    return not all(c in _BLANK or unicodedata.category(c) in _INVISIBLE for c in text)


def check_question(question: Any) -> str:
    """The question as sent: a str with a visible character (one of only a byte-order mark, zero-width spaces or
    NULs, such as an empty file saved with a BOM gives, is as empty as one of spaces) that UTF-8 can carry."""
    if not isinstance(question, str):
        raise ConfigError(f"the question must be a str, got {type(question).__name__}")
    if not shows_anything(question):
        raise ConfigError("the question is empty; pass the text to answer")
    _check_utf8("the question", question)
    return question.strip()


def _check_utf8(what: str, text: str) -> None:
    """A lone surrogate cannot be sent: say where it is, rather than let the request fail on encoding."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(f"{what} holds a lone surrogate {text[exc.start]!r} at position {exc.start}, "
                          "which no API can receive; it usually comes from decoding bytes with "
                          "errors='surrogateescape': decode with errors='replace' instead") from None


def check_url(name: str, url: Any, endpoints: tuple[str, ...] = ()) -> None:
    """An http(s) URL with a host (and a valid port, no spaces and no query), or None; not one that ends with one of
    the ``endpoints``, paths the SDK adds itself ("/chat/completions": it would post to ".../chat/completions/chat/
    completions", a 404 that says nothing of why)."""
    if url is None:
        return
    from urllib.parse import urlsplit

    # (a space is said below, with the URL)
    if isinstance(url, str) and (at := next((i for i, c in enumerate(url) if not (c.isprintable() or c == " ")
                                             or c in _BLANK or c in _IGNORED_MARKS), None)) is not None:
        raise ConfigError(f"{name} holds {ascii(url[at])} at character {at + 1}, which no URL carries (an invisible "
                          "or control character pasted with it, a NUL, or a byte the environment could not decode): "
                          "remove it (the URL is not shown here)")
    try:
        parts = urlsplit(url) if isinstance(url, str) and not any(c.isspace() for c in url) else None
        valid = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname) \
            and (parts.port is None or parts.port > 0)  # .port raises ValueError for "host:abc"
    except ValueError:
        valid = False
    if not valid:  # a URL by its password-less form, anything else by its type (a dict may hold the URL)
        given = f"{name}={shown(shown_url(url))}" if isinstance(url, str) else f"{name}= of type {type(url).__name__}"
        if isinstance(url, str) and user_info_cut(url):
            raise ConfigError(f"{given}: a / ? or # in the user name or password ends the host part of a URL: "
                              "percent-encode it (%2F, %3F, %23)")
        raise ConfigError(f"{given}: must be an http:// or https:// URL with a host, "
                          "for example 'http://localhost:8000/v1'")
    path = urlsplit(url).path.rstrip("/").casefold()
    if endpoint := next((end for end in endpoints if path.endswith(end)), None):
        raise ConfigError(f"{name}={shown(shown_url(url))} ends with {endpoint}, which the SDK adds to the base URL "
                          f"itself: leave it out ({shown(shown_url(url.rstrip('/')[:-len(endpoint)]))})")
    if "?" in url:  # the query not shown: a gateway's key may be in it
        raise ConfigError(f"{name}={shown(shown_url(url.partition('?')[0]))} has a query (?...): the SDK adds its "
                          "paths after the whole URL, query included, so every request would go to the wrong path "
                          "(a 404); leave the query out, and for options a gateway takes in the query (an "
                          "api-version, a key) build your own SDK client with default_query={...} and pass it as "
                          "client=")


def url_host(url: str) -> str:
    """The host a URL names, lower case (""); "com." is the root's, the same host as "com"."""
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").rstrip(".")


#: below this many USD per million tokens, a price was most likely given per token
PER_TOKEN_LIKELY = 0.001


def check_prices(prices: Any) -> dict[str, tuple[float, float]]:
    """``prices={"provider:model": (usd_per_million_input_tokens, usd_per_million_output_tokens)}``."""
    if prices is None:
        return {}
    if not isinstance(prices, Mapping):
        raise ConfigError(f"prices={prices!r}: must be a dict of model string to (input, output) USD per million "
                          "tokens, for example prices={'openai:my-model': (0.15, 0.6)}")
    checked = {}
    for model, price in prices.items():
        if not isinstance(model, str) or ":" not in model or not model.isprintable() or " " in model:
            raise ConfigError(f"prices: the key {shown(model)} must be a 'provider:model' string, as passed to SoT "
                              "(no white space), for example 'openai:gpt-4o-mini'")
        if not isinstance(price, (tuple, list)) or len(price) != 2:
            raise ConfigError(f"prices[{model!r}]={price!r}: must be (input, output) USD per million tokens, "
                              "for example (0.15, 0.6)")
        for name, value in zip(("input", "output"), price):
            check_number(f"prices[{model!r}] {name} USD per million tokens", value, above=None, at_least=0,
                         optional=False)
        checked[model] = (float(price[0]), float(price[1]))
        if any(0 < value < PER_TOKEN_LIKELY for value in checked[model]):
            warnings.warn(f"prices[{model!r}]={price!r} is USD per million tokens: no model is that cheap, so these "
                          "look like prices per token or per thousand (multiply by 1e6 or 1e3)", stacklevel=4)
    return checked
