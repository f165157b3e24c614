"""Credentials kept out of sotkit's messages: URLs shown with their passwords as ``***``.

This module imports nothing of sotkit's, so that every other module (options, limits, errors, tracing) can use it.
"""

from __future__ import annotations

import re

# The user info runs from "scheme://" to the last @ (a user name or password may hold an @, and a password
# written unencoded a / or #); its user name, up to the first colon, is kept where it holds no / ? or #.
_USER_INFO = re.compile(r"^([a-z][a-z0-9+.-]*://)(?:([^:/?#]*):)?.*@", re.IGNORECASE | re.DOTALL)
_PASSWORD_OPTION = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def shown_url(url: str) -> str:
    """``url`` with the secret of its user info (``scheme://user:PASSWORD@host``, any scheme; all of a user info
    without a colon, which may be a token) and a ``?password=`` option as ``***``, for messages."""
    url = _PASSWORD_OPTION.sub(r"\1***", url)
    return _USER_INFO.sub(lambda m: f"{m[1]}{m[2]}:***@" if m[2] is not None else f"{m[1]}***@", url, count=1)
