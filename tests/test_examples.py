"""Every example runs as a user runs it (a subprocess) against the loopback fake server; the web app is
driven in headless Chromium."""

from __future__ import annotations

import argparse
import importlib.util
import os
import queue
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import sotkit
from sotkit.testing import FakeLLMServer, Fault, Latency, RecordedRequest, Reply
from tests.conftest import point_of, sot_responder, untraced_env

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

SKELETON = "1. Keep a regular schedule\n2. Dim the lights early\n3. Skip late caffeine\n4. Cool, quiet bedroom"
TITLES = ["Keep a regular schedule", "Dim the lights early", "Skip late caffeine", "Cool, quiet bedroom"]
TEXTS = {i: f"Advice for point {i}, in a few plain words that take a moment to stream." for i in range(1, 5)}
ANSWER = "\n".join(f"{i}. {TITLES[i - 1]}: {TEXTS[i]}" for i in range(1, 5))
FAST = Latency(ttft_s=0.0, tokens_per_s=2000)
# later points finish first, so "in skeleton order" is a real claim
REVERSED = {i: Latency(ttft_s=0.05 * (5 - i), tokens_per_s=2000) for i in range(1, 5)}


def run_example(path: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<path>`` with a clean provider environment plus ``env``; fail with its output."""
    process = subprocess.run([sys.executable, str(EXAMPLES / path), *args], env=example_env(env), text=True,
                             capture_output=True, timeout=120)
    assert process.returncode == 0, f"{path} exited {process.returncode}:\n{process.stdout}\n{process.stderr}"
    return process


def example_env(extra: dict[str, str] | None) -> dict[str, str]:
    keep = {k: v for k, v in untraced_env().items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "SOTKIT_MODEL"))}
    return keep | {"HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"} | (extra or {})


def load_example(path: str) -> ModuleType:
    name = f"examples_{Path(path).stem}"
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(sot_responder(SKELETON, TEXTS, point_latency=REVERSED), latency=FAST) as server:
        yield server


def openai_args(server: FakeLLMServer) -> list[str]:
    return ["--model", "openai:fake", "--base-url", server.openai_base_url]


KEY = {"OPENAI_API_KEY": "test-key"}


# -- scripts ----------------------------------------------------------------------------------------------

def test_quickstart_prints_the_answer_skeleton_usage_and_timings(server):
    out = run_example("quickstart.py", "How can I sleep better?", *openai_args(server), env=KEY).stdout
    assert out.startswith(ANSWER + "\n\n")
    assert f"skeleton: {TITLES}" in out
    output_tokens = sum(r.usage.output_tokens for r in server.requests)
    assert "usage:    5 calls, " in out and f" and {output_tokens} output tokens" in out
    assert re.search(r"timings:  first point \d+\.\d\d s, skeleton done \d+\.\d\d s, total \d+\.\d\d s", out)
    assert len(server.requests) == 5 and {r.model for r in server.requests} == {"fake"}


def test_streaming_cli_shows_the_skeleton_then_the_answer_in_order(server):
    process = run_example("streaming_cli.py", "How can I sleep better?", *openai_args(server), env=KEY)
    assert process.stdout == ANSWER + "\n"  # text events, in skeleton order although point 4 finished first
    notes = process.stderr.splitlines()
    assert notes[0].startswith("[sot] ")
    assert [n for n in notes if n.startswith("[skeleton]")] == [f"[skeleton] {i}. {t}" for i, t in enumerate(TITLES, 1)]
    assert re.fullmatch(r"\[done\] 4 points, first text \d+\.\d\d s, total \d+\.\d\d s", notes[-1])


def test_streaming_cli_leaves_out_a_point_that_fails_and_finishes_the_answer():
    # probe 169: a point that failed for good vanished unsaid, then a PartialResultError traceback, exit 1
    answer = sot_responder(SKELETON, TEXTS)

    def respond(request: RecordedRequest) -> Reply:
        return Reply("", fault=Fault.status(400)) if point_of(request) == 2 else answer(request)

    with FakeLLMServer(respond, latency=FAST) as server:
        process = run_example("streaming_cli.py", "How can I sleep better?", *openai_args(server), env=KEY)
    assert process.stdout == "\n".join(f"{i}. {TITLES[i - 1]}: {TEXTS[i]}" for i in (1, 3, 4)) + "\n"
    # (probe 276: "[done] 4 points", the one left out counted)
    assert " [point 2 left out]" in process.stderr.splitlines() and "[done] 3 points (1 left out)" in process.stderr


def test_streaming_cli_says_an_sdk_error_in_one_line_and_leaves_a_closed_pipe_quietly(server):
    # probe 276: a key refused (the SDK's AuthenticationError, no SotkitError) was a 66-line traceback, and so was
    # `| head`'s closed pipe
    def command(server: FakeLLMServer) -> list[str]:
        return [sys.executable, str(EXAMPLES / "streaming_cli.py"), "How can I sleep better?", *openai_args(server)]

    with FakeLLMServer(Reply("", fault=Fault.status(401)), latency=FAST) as refusing:
        process = subprocess.run(command(refusing), env=example_env(KEY), text=True, capture_output=True, timeout=120)
    assert process.returncode == 1 and "Traceback" not in process.stderr
    assert process.stderr.splitlines()[-1].startswith("[error] AuthenticationError: Error code: 401")
    head = subprocess.run(f"{shlex.join(command(server))} | head -c 5", shell=True, capture_output=True, text=True,
                          env=example_env(KEY), timeout=120)
    assert head.stdout == ANSWER[:5] and "Traceback" not in head.stderr and "BrokenPipe" not in head.stderr


def test_streaming_cli_says_a_sequential_answer_as_one_not_as_0_points(server):
    # review 277: "[done] 0 points"
    process = run_example("streaming_cli.py", "Write a Python function that reverses a linked list.",
                          *openai_args(server), env=KEY)
    assert process.stderr.splitlines()[0].startswith("[sequential] ")
    assert re.fullmatch(r"\[done\] one sequential answer, first text \d+\.\d\d s, total \d+\.\d\d s",
                        process.stderr.splitlines()[-1])


def support_responder(request: RecordedRequest) -> Reply:
    """A model answering the customer-support templates: a plan, then one step per request."""
    step = re.findall(r"Write only step (\d+)", request.user)
    if not step:
        return Reply(SKELETON.removeprefix(request.prefill or ""))
    return Reply((" " if request.prefill else "") + TEXTS[int(step[0])])


def test_custom_templates_replace_only_the_files_in_the_directory():
    with FakeLLMServer(support_responder, latency=FAST) as server:
        out = run_example("custom_templates/run.py", *openai_args(server), env=KEY).stdout
    assert out == ANSWER + "\n"
    assert len(server.requests) == 5
    for request in server.requests:
        assert request.system == "You are Sam, a friendly and concise customer-support agent for Acme Home Electronics."
        assert '"My order arrived damaged. What should I do?"' in request.user
        assert "skeleton (not the full content)" not in request.user  # the default prompt is not used
    # the directory has no sequential.jinja or router.jinja: those stay the defaults
    overridden = sotkit.Templates(EXAMPLES / "custom_templates")
    assert overridden.render("sequential", question="Q?") == sotkit.Templates().render("sequential", question="Q?")


def test_closed_apis_asks_every_configured_provider(server):
    env = {"OPENAI_API_KEY": "openai-key", "OPENAI_BASE_URL": server.openai_base_url,
           "ANTHROPIC_API_KEY": "anthropic-key", "ANTHROPIC_BASE_URL": server.anthropic_base_url}
    out = run_example("closed_apis.py", "How can I sleep better?", "--base-url", server.openai_base_url,
                      "--compat-model", "compat-model", env=env).stdout
    headers = re.findall(r"^== (\S+?)(?: at (\S+))?: sot, 4 points, 5 calls", out, re.MULTILINE)
    assert headers == [("openai:gpt-4o-mini", ""), ("anthropic:claude-sonnet-4-6", ""),
                       ("openai:compat-model", server.openai_base_url)]
    assert out.count(ANSWER) == 3
    served = {(r.api, r.model, r.api_key) for r in server.requests}
    # probe 276: the compatible server was sent the OpenAI key
    assert served == {("openai", "gpt-4o-mini", "openai-key"), ("anthropic", "claude-sonnet-4-6", "anthropic-key"),
                      ("openai", "compat-model", "none")}


def test_closed_apis_reports_a_failing_provider_and_still_answers_with_the_others():
    answer = sot_responder(SKELETON, TEXTS)

    def anthropic_refuses(request: RecordedRequest) -> Reply:
        return Reply("", fault=Fault.status(401)) if request.api == "anthropic" else answer(request)

    with FakeLLMServer(anthropic_refuses, latency=FAST) as server:
        env = {"ANTHROPIC_API_KEY": "revoked", "ANTHROPIC_BASE_URL": server.anthropic_base_url}
        out = run_example("closed_apis.py", "--base-url", server.openai_base_url, env=env).stdout
    assert out.startswith("== anthropic:claude-sonnet-4-6: failed: AuthenticationError")
    assert f"== openai:default at {server.openai_base_url}: sot, 4 points, 5 calls" in out and ANSWER in out


@pytest.mark.parametrize(("env", "flags", "expected"), [
    ({}, [], [("local:smollm2", {})]),
    ({"ANTHROPIC_API_KEY": "k"}, [], [("anthropic:claude-sonnet-4-6", {})]),
    ({"OPENAI_BASE_URL": "http://gpu:8000/v1"}, ["--compat-model", "qwen"],
     [("openai:qwen", {"base_url": "http://gpu:8000/v1", "api_key": "none"})]),
    ({"OPENAI_API_KEY": "sk-real", "COMPAT_API_KEY": "vllm-key"}, ["--base-url", "http://gpu:8000/v1"],
     [("openai:gpt-4o-mini", {}), ("openai:default", {"base_url": "http://gpu:8000/v1", "api_key": "vllm-key"})]),
    ({"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://proxy/v1"}, [], [("openai:gpt-4o-mini", {})]),
])
def test_closed_apis_chooses_models_from_the_environment(env, flags, expected):
    closed_apis = load_example("closed_apis.py")
    args = argparse.Namespace(openai_model="gpt-4o-mini", anthropic_model="claude-sonnet-4-6", base_url=None,
                              compat_model="default")
    for flag, value in zip(flags[::2], flags[1::2]):
        setattr(args, flag.removeprefix("--").replace("-", "_"), value)
    assert closed_apis.choose_models(args, env) == expected


# -- the web app ------------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_webapp_tells_the_page_why_when_the_model_keeps_failing():
    """A call that fails for good raises the SDK's own error (here a 401), not a SotkitError: the page still gets a
    failure event with the reason, not a broken stream."""
    app = load_example("webapp/app.py")
    key = "sk-proj-WEBKEY-0123456789"  # a gateway's 401 that repeats it went to every browser word for word
    body = {"error": {"type": "invalid_request_error", "message": f"Incorrect API key provided: {key}."}}
    with FakeLLMServer(Reply("x", fault=Fault.status(401, body=body))) as server:
        async with sotkit.SoT("openai:m", api_key=key, base_url=server.openai_base_url, mode="sot") as sot:
            sent = [event async for event in app.answer_events(sot, "How can I sleep better?")]
    assert sent[-1].startswith("event: failure\ndata: ") and "AuthenticationError" in sent[-1]
    assert "Incorrect API key provided: ***." in sent[-1] and key not in sent[-1]


@pytest.mark.parametrize(("skeleton_s", "chars_per_s"), [
    (0.5, 60),  # "1. A\n2. B\n" in 0.5 s is 20 characters/s: the points' 60 per call is faster
    (0.05, 200),     # 200 characters/s: faster than the points, as where a batch slows each row down
])
def test_stopwatch_estimates_a_sequential_answer_from_the_faster_measured_speed(skeleton_s, chars_per_s):
    if importlib.util.find_spec("starlette") is None:
        pytest.fail("the web app needs the examples extra: pip install -e '.[examples]'")
    app = load_example("webapp/app.py")
    now = [0.0]
    watch = app.Stopwatch(clock=lambda: now[0])
    # point 2's first attempt breaks and is withdrawn: its decoding is timed from its second attempt's text
    events = [(0.5, sotkit.PointEvent(1, "A")), (0.5, sotkit.PointEvent(2, "B")),
              (0.7, sotkit.PointDeltaEvent(1, "x" * 10)), (0.9, sotkit.PointDeltaEvent(2, "w" * 5)),
              (0.95, sotkit.WithdrawEvent(2, "w" * 5)), (0.95, sotkit.PointDeltaEvent(2, "y" * 10)),
              (1.7, sotkit.PointDoneEvent(1, "x" * 100)), (2.95, sotkit.PointDoneEvent(2, "y" * 100))]
    for at, event in events:
        now[0] = at
        watch.record(event)
    now[0] = 3.0
    result = sotkit.Result(text="z" * 500, mode="sot", model="m", timings=sotkit.Timings(skeleton_s=skeleton_s),
                           points=[sotkit.Point(1, "A", "x" * 100), sotkit.Point(2, "B", "y" * 100)])
    stats = watch.footer(result)
    # the points: 180 characters after their first pieces in 1.0 + 2.0 s of decoding (a first piece may hold text
    # sotkit held back: probe 169's came whole, in 0 s); their first tokens 0.2 and 0.4 s after their titles
    assert stats["points_chars_per_s"] == pytest.approx(60)
    assert stats["skeleton_chars_per_s"] == pytest.approx(10 / skeleton_s)
    assert stats["chars_per_s"] == pytest.approx(chars_per_s)
    assert stats["ttft_s"] == pytest.approx(0.3)
    assert stats["sequential_s"] == pytest.approx(0.3 + 500 / chars_per_s)
    assert (stats["first_point_s"], stats["total_s"]) == (0.5, 3.0)
    assert watch.footer(sotkit.Result(text="z", mode="sequential", model="m"))["sequential_s"] is None
    whole = app.Stopwatch(clock=lambda: now[0])  # every point in one piece: nothing measured on them
    for event in (sotkit.PointEvent(1, "A"), sotkit.PointDeltaEvent(1, "x" * 100), sotkit.PointDoneEvent(1, "x" * 100)):
        now[0] += 0.001
        whole.record(event)
    assert "points_chars_per_s" not in (footer := whole.footer(result))
    assert footer["chars_per_s"] == pytest.approx(10 / skeleton_s)  # the skeleton's alone


@pytest.fixture
def chromium() -> str:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run .ci/browser-deps (installs Debian's chromium package)")
    return str(CHROMIUM)


def start_app(*args: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start the web app on an ephemeral loopback port; return the process and its URL once it serves."""
    app = subprocess.Popen([sys.executable, str(EXAMPLES / "webapp" / "app.py"), "--port", "0", *args],
                           env=example_env(env), text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in app.stdout], daemon=True).start()
    log = []
    while True:
        try:
            log.append(lines.get(timeout=60))
        except queue.Empty:
            app.kill()
            pytest.fail("the web app did not start in 60 s:\n" + "".join(log))
        if found := re.search(r"Uvicorn running on (http://\S+)", log[-1]):
            return app, found.group(1) + "/"
        if app.poll() is not None and lines.empty():
            pytest.fail("the web app exited:\n" + "".join(log))


def test_webapp_streams_the_skeleton_then_fills_every_point_in_a_real_browser(chromium, tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[examples]' (and run .ci/browser-deps for Chromium)")
    # points take two to four seconds, later ones first (0.6 s apart, more than their sends' skew on a loaded
    # machine), so the page is seen half-written
    slow = {i: Latency(ttft_s=0.6 * (5 - i), tokens_per_s=8) for i in range(1, 5)}
    artifacts = Path(os.environ.get("SOTKIT_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    with FakeLLMServer(sot_responder(SKELETON, TEXTS, point_latency=slow), latency=Latency(0.1, 50)) as server:
        app, url = start_app(*openai_args(server), env=KEY)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 900, "height": 820})
                page.goto(url)
                assert "openai:fake" in page.inner_text(".model")
                # the question goes in a GET query (EventSource's only method): one of some 256 KiB got uvicorn's 400
                assert page.eval_on_selector("#question", "e => e.maxLength") == 10_000
                page.fill("#question", "How can I sleep better?")
                page.click("#submit")
                # the first moment the whole skeleton is on the page
                skeleton = page.wait_for_function("""() => {
                    const titles = [...document.querySelectorAll('#points .title')].map(e => e.textContent);
                    return titles.length === 4 && {titles, state: document.body.dataset.state};
                }""", timeout=20_000).json_value()
                assert skeleton == {"titles": TITLES, "state": "streaming"}
                # points fill in at the same time, not one after another
                page.wait_for_function("document.querySelectorAll('#points li.writing').length >= 2", timeout=20_000)
                page.wait_for_selector("body[data-state=done]", timeout=30_000)
                titles = page.locator("#points .title").all_inner_texts()
                texts = page.locator("#points .text").all_inner_texts()
                footer = page.inner_text("#numbers")
                page.screenshot(path=str(artifacts / "webapp.png"), full_page=True)
                # a question the router sends to a sequential answer replaces the points with plain text
                page.fill("#question", "Write a Python function that sorts a list.")
                page.click("#submit")
                page.wait_for_selector("body[data-state=done]", timeout=30_000)
                sequential = (page.inner_text("#answer"), page.locator("#points li").count(), page.inner_text("#route"))
                browser.close()
        finally:
            app.terminate()
            app.wait(timeout=10)
    assert titles == TITLES
    assert texts == [TEXTS[i] for i in range(1, 5)]
    seconds = r"\d+\.\d\d s"
    assert re.fullmatch(f"First point {seconds} · total {seconds} · sequential estimate {seconds} \\(\\d+\\.\\d× the total\\)",
                        footer)
    assert (artifacts / "webapp.png").read_bytes().startswith(b"\x89PNG")
    assert sequential[:2] == ("A plain answer.", 0) and sequential[2].startswith("Sequential: guard: asks for code")
    # the finished points arrived last-first; the page kept skeleton order
    points = sorted((r for r in server.requests if point_of(r)), key=lambda r: r.finished_at)
    assert [point_of(r) for r in points] == [4, 3, 2, 1]
