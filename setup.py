"""Package discovery, the one thing pyproject.toml cannot say: every package under ``sotkit/`` and ``engines/``
(installed as ``sotkit.engines``) ships, found rather than listed, so a new subpackage cannot silently drop out
of the wheel. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["sotkit", "sotkit.*"]),
                *(f"sotkit.{p}" for p in find_packages(include=["engines", "engines.*"])),
                "sotkit.prompts", "sotkit.prompts.local"])  # folders of templates (package data), no code
