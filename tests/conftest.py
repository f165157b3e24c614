"""Shared pytest configuration: async tests run on anyio's pytest plugin (``@pytest.mark.anyio``)."""

import gc
import os

# One torch thread, here and in the subprocesses the tests start (set before anything imports torch): the tests'
# models are tiny or decode one token at a time, and on a shared 2-core machine torch's second thread spins waiting
# for a busy core (SmolLM2's batched-expansion test: 35 s with torch's default of 2 threads, 8 s with 1).
# OMP_NUM_THREADS=2 pytest ... overrides it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

from sotkit.providers._clients import HTTP_BACKENDS


# The longest files (seconds each under --cov, on 2 cores) start first, so that the three workers of the test
# command (`-n 3 --dist loadfile --no-loadscope-reorder`) finish together rather than one running a long file
# alone at the end (pytest-xdist's own order, most tests first, started some of these last: 5 s of tail).
LONGEST_FIRST = ["test_gpu_script.py", "test_reliability.py", "providers/test_local.py",  # 44, 29, 28 s
                 "test_limits_redis.py", "engines/test_generation.py", "providers/test_llamacpp.py",  # 28, 25, 23 s
                 "test_examples.py", "test_blind_exchanges.py", "test_router.py",  # 21, 19, 18 s
                 "providers/test_transformers_serve.py"]  # 13 s


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.as_posix()
        return next((i for i, name in enumerate(LONGEST_FIRST) if path.endswith("/tests/" + name)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the rest keep their order


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> object:
    # No garbage collection while the test modules import torch, transformers and the SDKs (their objects live as
    # long as the process: full collections only walked them again and again, 2 s of a worker's 10 s of
    # collection); then they are frozen out of every later one, as sotkit does after importing an SDK (_clients.py).
    gc.disable()
    try:
        return (yield)
    finally:
        gc.freeze()
        gc.enable()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes() -> None:
    # pytest-xdist's workers are subprocesses too: given the variable by which coverage measures subprocesses
    # (`patch = ["subprocess"]`), each started one more coverage at its interpreter's start, under pytest-cov's
    # own (the suite's CPU 272 -> 239 s without it, the same lines and branches measured). pytest-cov measures
    # the workers, and in each sets the variable again for the subprocesses the tests start.
    os.environ.pop("COVERAGE_PROCESS_CONFIG", None)


# Tests of the real embedded model (SmolLM2); SOTKIT_SKIP_SMOLLM2=1 skips them where it cannot be had.
smollm2 = pytest.mark.skipif(os.environ.get("SOTKIT_SKIP_SMOLLM2") == "1", reason="SOTKIT_SKIP_SMOLLM2=1")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=[(sdk, http) for http in HTTP_BACKENDS for sdk in ("openai", "anthropic")],
                ids=lambda param: "-".join(param))
def provider(request, monkeypatch) -> str:
    """The name of each API provider, its SDK clients on each HTTP backend (a module may define its own)."""
    sdk, http = request.param
    monkeypatch.setenv("SOTKIT_HTTP", http)
    return sdk


# -- a scripted Skeleton-of-Thought model, served through the fake server ---------------------------------

import functools  # noqa: E402
import re  # noqa: E402

import sotkit.testing  # noqa: E402
from sotkit.testing import RecordedRequest  # noqa: E402

_POINT = re.compile(r"point (\d+)\b")


def point_of(request: RecordedRequest) -> int | None:
    """The point number an expand request asks for, or None for a skeleton (or sequential) request: the last "point
    N" of its prompt, also of the suite's own expand templates (``sotkit.testing.sot_call`` reads sotkit's alone)."""
    matches = _POINT.findall(request.user)
    return int(matches[-1]) if matches else None


def joined(events: list) -> str:
    """The stitched text a reader of the stream shows, with every withdrawal applied."""
    text = ""
    for event in events:
        if event.type == "text":
            text += event.text
        elif event.type == "withdraw":
            assert text.endswith(event.text)
            text = text[:len(text) - len(event.text)]
    return text


def is_skeleton(request: RecordedRequest) -> bool:
    return "skeleton (not the full content)" in request.user


def _call_of(request: RecordedRequest) -> tuple[str, int | None]:
    return ("skeleton", None) if is_skeleton(request) else \
        ("point", index) if (index := point_of(request)) is not None else ("sequential", None)


#: ``sotkit.testing.sot_responder``, telling the calls apart as the suite's own templates need
sot_responder = functools.partial(sotkit.testing.sot_responder, call_of=_call_of)


# -- a real OpenAI-compatible server, in a subprocess on loopback -----------------------------------------
import random  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402


def untraced_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess that coverage need not trace, less the variable by which it traces every
    Python subprocess: one that runs none of sotkit/'s code (a model server, the engines' GPU script; tracing a
    server's per-token Python loop made the llama.cpp test six times slower), or none that the suite's own process
    does not also run (the examples, the Redis tests' workers)."""
    env = {**os.environ, **extra}
    env.pop("COVERAGE_PROCESS_CONFIG", None)
    return env


def free_port() -> int:
    """A free port on loopback for another process's server, below the range the kernel hands out for port 0.

    A port found by binding port 0 stays free until the server binds it, seconds later: meanwhile a FakeLLMServer
    of another test (on port 0) could be given it and record this test's polls as its own requests (CI saw a 4th
    request in a test that made 3). Below the ephemeral range no FakeLLMServer and no outgoing connection lands."""
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in random.sample(range(10_000, ephemeral_low), 50):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:  # another worker's server has it
                continue
            return port
    raise RuntimeError(f"no free port on 127.0.0.1 between 10000 and {ephemeral_low}")


@contextmanager
def openai_server(command: list[str], name: str, *, timeout_s: float, extra_env: dict[str, str] | None = None
                  ) -> Iterator[str]:
    """Start ``command --host 127.0.0.1 --port <a free port>``, wait until its ``/v1/models`` answers, yield
    its base URL; stop it afterwards. The server is not traced by coverage (``untraced_env``)."""
    port = free_port()
    server = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, env=untraced_env(**(extra_env or {})))
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert server.poll() is None, f"{name} exited: {server.stderr.read()[-2000:]}"
            try:
                urllib.request.urlopen(f"{base_url}/models", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, f"{name} did not come up in {timeout_s:.0f} s"
                time.sleep(0.5)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)
