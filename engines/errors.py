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
