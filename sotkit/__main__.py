"""``python -m sotkit``: the ``sotkit`` command, where the venv's ``bin/`` is not on PATH (cron, ``docker exec``)."""

from .cli import run

run()
