"""Integration: SoT through ``transformers serve``, an OpenAI-compatible server that nobody here wrote.

It serves the embedded SmolLM2 directory on loopback; sotkit talks to it as ``openai:<model>`` with
``base_url``, through the official openai SDK.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

import sotkit
from tests.conftest import openai_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def served_model():
    from sotkit.engines.models import embedded_model_dir

    directory = str(embedded_model_dir())
    executable = shutil.which("transformers", path=str(Path(sys.executable).parent))
    assert executable, "the transformers CLI is missing: pip install -e '.[local,dev]'"
    with openai_server([executable, "serve", directory, "--device", "cpu"], "transformers serve", timeout_s=180,
                       extra_env={"HF_HUB_OFFLINE": "1"}) as base_url:
        yield directory, base_url


async def test_sot_answer_through_transformers_serve(served_model):
    model, base_url = served_model
    # skip: SmolLM2 (greedy here) answers some expansion prompts with the skeleton's lines again, which is no text of
    # that point's own; such a point is asked once more, then left out. Which points it does that for depends on how
    # much of the skeleton each prompt shows (a point's call starts as soon as its line ends), so on the machine's
    # timing: on a 2-core machine alone it does it for every point, and the answer is a PartialResultError, never an
    # echo passed off as text
    async with sotkit.SoT(f"openai:{model}", base_url=base_url, timeout=300, on_point_error="skip") as sot:
        try:
            result = await sot.generate("What are the benefits of regular exercise?", mode="sot", max_points=3,
                                        skeleton_max_tokens=40, point_max_tokens=24)
        except sotkit.PartialResultError as error:
            assert isinstance(error.__cause__, sotkit.EmptyPoint), error.__cause__
            result = error.partial
    assert result.mode == "sot", result.route_reason
    assert 2 <= len(result.points) <= 3
    written = [p for p in result.points if not p.failed]
    assert all(p.text and p.model == f"openai:{model}" for p in written)
    assert all(p.attempts == 2 and not p.text for p in result.points if p.failed)  # asked twice, left out
    if written:
        assert result.text.startswith(f"{written[0].index}. {written[0].title}: ")
    assert result.usage.calls == 1 + sum(p.attempts for p in result.points)
