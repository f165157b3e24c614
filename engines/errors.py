"""The root of sotkit's exception tree, here so that the engines raise it without importing the SDK.

``sotkit.errors`` re-exports these and adds the rest of the tree (the SDK uses the engines, never the other way).
"""

from __future__ import annotations


class SotkitError(Exception):
    """Base class of every error sotkit raises."""


class ConfigError(SotkitError, ValueError):
    """Bad input found before any network traffic: a model string, a limit, a missing key."""


class ModelNotAvailableError(ConfigError):
    """A local model (or its optional dependencies) is not installed; the message says how to install it."""


class PromptTooLong(ConfigError):
    """A prompt of ``tokens`` that fills a local model's whole context window (``window`` tokens) alone: no answer
    fits. With ``mode="auto"``, a skeleton's prompt that does not fit gives a sequential answer, whose prompt is
    shorter."""

    def __init__(self, message: str, tokens: int, window: int) -> None:
        super().__init__(message)
        self.tokens, self.window = tokens, window
