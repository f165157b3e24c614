"""Integration: SoT through ``transformers serve``, an OpenAI-compatible server that nobody here wrote.

It serves the embedded SmolLM2 directory on loopback; sotkit talks to it as ``openai:<model>`` with
``base_url``, through the official openai SDK.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import sotkit

pytestmark = pytest.mark.anyio


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served_model():
    from sotkit.engines.models import embedded_model_dir

    directory = str(embedded_model_dir())
    executable = shutil.which("transformers", path=str(Path(sys.executable).parent))
    assert executable, "the transformers CLI is missing: pip install -e '.[local,dev]'"
    port = _free_port()
    server = subprocess.Popen(
        [executable, "serve", directory, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, f"transformers serve exited: {server.stderr.read()[-2000:]}"
            try:
                urllib.request.urlopen(f"{base_url}/models", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "transformers serve did not come up in 180 s"
                time.sleep(0.5)
        yield directory, base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


async def test_sot_answer_through_transformers_serve(served_model):
    model, base_url = served_model
    async with sotkit.SoT(f"openai:{model}", base_url=base_url, timeout=300) as sot:
        result = await sot.generate("What are the benefits of regular exercise?", mode="sot", max_points=3,
                                    skeleton_max_tokens=40, point_max_tokens=24)
    assert result.mode == "sot", result.route_reason
    assert 2 <= len(result.points) <= 3
    assert all(p.text and p.model == f"openai:{model}" for p in result.points)
    assert result.text.startswith(f"1. {result.points[0].title}: ")
    assert result.usage.calls == 1 + len(result.points)
