"""``python -m sotkit``: the ``sotkit`` command, where the venv's ``bin/`` is not on PATH (cron, ``docker exec``)."""

if __name__ == "__main__":  # (not when a tool imports every module: doctest collection, API docs)
    from .cli import run

    run()
