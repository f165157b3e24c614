"""The public surface: imports, bad input caught before any network traffic."""

import atexit
import copy
import datetime
import gc
import importlib
import json
import math
import os
import pickle
import re
import socket
import struct
import subprocess
import sys
import threading
import types
from pathlib import Path

import anyio
import openai
import pytest

import sotkit
from sotkit.errors import describe
from sotkit.testing import Fault, FakeLLMServer, Latency, RecordedRequest, Reply
from tests.conftest import free_port, point_of, sot_responder

pytestmark = pytest.mark.anyio


def test_import_sotkit_loads_no_sdk_torch_or_transformers():
    code = ("import sys, sotkit; heavy = {'openai', 'anthropic', 'torch', 'transformers', 'httpx2', "
            "'matplotlib'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("model, message", [
    ("gpt-4o", "not of the form 'provider:model'"),
    ("openia:gpt-4o", "unknown provider 'openia' in model 'openia:gpt-4o'; did you mean 'openai:gpt-4o'?"),
    # probe 260: a misspelt or capitalised provider got no suggestion
    ("anthropc:claude-x", "did you mean 'anthropic:claude-x'?"),
    ("OpenAI:gpt-4o", "did you mean 'openai:gpt-4o'?"),
    ("openai:", "not of the form"),
])
def test_bad_model_strings(model, message):
    with pytest.raises(sotkit.ConfigError, match=message):
        sotkit.SoT(model)


def test_missing_keys_say_what_to_set(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(sotkit.ConfigError, match="set OPENAI_API_KEY"):
        sotkit.SoT("openai:gpt-4o-mini")
    with pytest.raises(sotkit.ConfigError, match="set ANTHROPIC_API_KEY"):
        sotkit.SoT("anthropic:claude-sonnet-4-6")


@pytest.mark.parametrize("model", ["openai:gpt-4o-mini", "anthropic:claude-sonnet-4-6"])
def test_an_empty_key_is_refused_never_replaced_by_the_environments(monkeypatch, model):
    # probe 198: api_key=os.getenv("MY_KEY", "") of an unset variable sent $OPENAI_API_KEY to the base_url named
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    with pytest.raises(sotkit.ConfigError, match=r"api_key is empty .* replaced by \$[A-Z_]+: pass the key") as error:
        sotkit.SoT(model, api_key="", base_url="http://127.0.0.1:9/v1")
    assert "sk-" not in str(error.value)
    assert str(error.value).endswith('or, for a server that takes no key, pass a placeholder (api_key="none")')


@pytest.mark.parametrize("options, message", [
    ({"max_concurrency": 0}, "max_concurrency"),
    ({"max_points": 1}, "max_points=1: must be a whole number >= 2"),
    ({"mode": "fast"}, "mode='fast'"),
    ({"deadline": -1}, "deadline=-1: must be a number > 0"),
    ({"rpm": 0}, "rpm=0: must be a number > 0"),
    ({"on_point_error": "ignore"}, "on_point_error"),
    ({"retry": 0}, "retry=0: must be a whole number >= 1"),
    ({"router": "magic"}, "unknown router 'magic'"),
    ({"router": "LLM"}, "unknown router 'LLM'; did you mean 'llm'?"),  # (probe 260: none suggested)
    ({"retry": "3"}, "retry='3': must be a RetryPolicy or a whole number of attempts"),
    ({"eager": "yes"}, "eager='yes': must be True or False"),
    ({"context": 3}, "context=3: must be a str or None"),
    ({"max_tokens": 2.5}, "max_tokens=2.5: must be a whole number >= 1$"),
    ({"point_max_tokens": None}, "point_max_tokens=None: must be a whole number >= 1$"),
    ({"skeleton_max_tokens": 0}, "skeleton_max_tokens=0: must be a whole number >= 1$"),
    ({"max_points": None}, "max_points=None: must be a whole number >= 2$"),
    ({"max_points": 10**5000}, r"max_points=<an int of 16610 bits>: must be a smaller number >= 2"),  # no ValueError
    # each point's prompt carries the skeleton: 1,600 points took quadratic time and memory (probe 101)
    ({"max_points": 101}, r"^max_points=101: at most 100; each point's call carries the whole skeleton.*sequential"),
    ({"mode": 10**5000}, r"mode=<an int of 16610 bits>: use 'auto', 'sot' or 'sequential'"),
    ({"limits": 10**5000}, r"limits= of type int: must be a Redis URL"),
    # a call charged more than a minute's budget would wait minutes and then be refused by the API as too large
    ({"tpm": 600}, r"tpm=600 is less than a call's max_tokens \(up to 1024 here\), while a call is charged its prompt "
                   "plus its max_tokens"),
    ({"tpm": 2000, "point_max_tokens": 3000}, r"tpm=2000 is less than a call's max_tokens \(up to 3000 here\)"),
])
def test_bad_limits_fail_at_construction(options, message):
    with pytest.raises(sotkit.ConfigError, match=message):
        sotkit.SoT("openai:gpt-4o-mini", api_key="k", **options)


async def test_a_request_whose_max_tokens_is_over_the_tpm_is_refused_before_it_waits():
    async with sotkit.SoT("openai:gpt-4o-mini", api_key="k", tpm=5000) as sot:
        with pytest.raises(sotkit.ConfigError, match=r"tpm=5000 is less than a call's max_tokens \(up to 8000 here"):
            await sot.generate("Why?", max_tokens=8000)


async def test_bad_questions_and_options_fail_before_any_request():
    with FakeLLMServer("1. A\n2. B") as server:
        async with sotkit.SoT("openai:m", api_key="k", base_url=server.openai_base_url) as sot:
            for question in ["", "   \n"]:
                with pytest.raises(sotkit.ConfigError, match="question is empty"):
                    await sot.generate(question)
            with pytest.raises(sotkit.ConfigError, match="unknown option"):
                await sot.generate("Why?", max_pointz=3)
        assert server.requests == []


@pytest.mark.parametrize("question", ["\ufeff", "\ufeff\n", "\u200b\u200b", "\x00", " \u2060\u200d\t", "\u3164", "\u2800",
                                      "\ufe0f", "\u0301"])
async def test_a_question_with_no_visible_character_is_empty(question):
    # an empty file saved as UTF-8 with a byte-order mark reads as "\ufeff": it asks no more than spaces do
    with FakeLLMServer("1. A\n2. B") as server:
        async with sotkit.SoT("openai:m", api_key="k", base_url=server.openai_base_url) as sot:
            with pytest.raises(sotkit.ConfigError, match="^the question is empty; pass the text to answer$"):
                await sot.generate(question)
            with pytest.raises(sotkit.ConfigError, match="question is empty"):
                async with sot.stream(question):
                    pass
        assert server.requests == []


@pytest.mark.parametrize("question", ["🙂", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "猫", "7", "\ufeff?",
                                      "\u200bWhy\u200b", "e\u0301"])
async def test_a_question_of_one_visible_character_is_asked(question):
    with FakeLLMServer("An answer.") as server:
        async with sotkit.SoT("openai:m", api_key="k", base_url=server.openai_base_url, mode="sequential") as sot:
            assert (await sot.generate(question)).text == "An answer."
        assert question.strip() in server.requests[0].user  # as given: only white space comes off its ends


async def test_a_lone_surrogate_in_the_context_is_refused_where_it_is_given_saying_where():
    document = "Report: caf\udce9 sales rose."  # bytes decoded with errors="surrogateescape"
    where = r"^context= holds a lone surrogate '\\udce9' at position 11, .*decode with errors='replace' instead$"
    with pytest.raises(sotkit.ConfigError, match=where):
        sotkit.SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9/v1", context=document)
    with FakeLLMServer("Sales rose.") as server:
        async with sotkit.SoT("openai:m", api_key="k", base_url=server.openai_base_url, mode="sequential") as sot:
            with pytest.raises(sotkit.ConfigError, match=where):
                await sot.generate("What happened?", context=document)
            with pytest.raises(sotkit.ConfigError, match=where):
                async with sot.stream("What happened?", context=document):
                    pass
            # counter-case: a context of any script, emoji and joiners is sent as given
            text = "Report: café, 猫, می\u200cخواهم, \U0001f468\u200d\U0001f469 \U0001f600"
            assert (await sot.generate("What happened?", context=text)).text == "Sales rose."
        assert len(server.requests) == 1 and text in server.requests[0].user


async def test_a_stream_starts_its_request_as_its_block_is_entered_not_at_the_first_read():
    # probe 165: a handler that entered the stream, then sent its headers, added that wait to the answer's (the SDKs'
    # own streams send the request on entering)
    with FakeLLMServer("Hi.") as server:
        async with sotkit.SoT("openai:m", api_key="k", base_url=server.openai_base_url, mode="sequential") as sot:
            async with sot.stream("Hi?") as events:
                with anyio.fail_after(10):
                    while not server.requests:  # nothing read yet
                        await anyio.sleep(0.01)
                assert [e.type async for e in events][-1] == "done"
    assert len(server.requests) == 1


async def test_a_closed_client_and_a_finished_stream_refuse_more_requests():
    with FakeLLMServer("Hi.") as server:
        async with sotkit.SoT("openai:m", api_key="k", base_url=server.openai_base_url, mode="sequential") as sot:
            async with sot.stream("Hi?") as events:
                assert [e.type async for e in events][-1] == "done"
                with pytest.raises(sotkit.ConfigError, match="read to its end or closed"):
                    [e async for e in events]  # one stream is one request: reading it again is no new answer
            unread = sot.stream("Hi?")
            async with unread:
                pass
            with pytest.raises(sotkit.ConfigError, match="read to its end or closed"):
                async with unread:
                    pass
        for use in (sot.generate("Hi?"), sot.__aenter__()):
            with pytest.raises(sotkit.ConfigError, match="client is closed"):
                await use
        async with sotkit.SoT("openai:m", api_key="k", base_url=server.openai_base_url) as sot:
            made_before = sot.stream("Hi?")  # made while the client was open, read after it closed
        with pytest.raises(sotkit.ConfigError, match="client is closed"):
            async with made_before as events:
                [e async for e in events]
        await server.wait_idle_async(connections=True)
        assert len(server.requests) == 1 and server.open_connections == 0


async def test_a_stream_whose_request_had_not_started_when_its_client_closed_sends_nothing():
    # probe 243: aclose() (an app's shutdown hook) right after a handler entered its stream stopped no request, which
    # then ran to its end on the closed client, on SDK clients it opened again and nothing closed
    with FakeLLMServer("Hi.") as server:
        sot = sotkit.SoT("openai:m", api_key="k", base_url=server.openai_base_url, mode="sequential")
        async with sot.stream("Hi?") as events:
            await sot.aclose()
            with pytest.raises(sotkit.ConfigError, match="client is closed"):
                [e async for e in events]
        await server.wait_idle_async(connections=True)
        assert server.requests == [] and server.open_connections == 0


@pytest.mark.parametrize("option, message", [
    ({"router_threshold": 0.8}, "router_threshold= configures the client, not one request: pass it to sotkit.SoT"),
    ({"templates": {}}, "templates= configures the client"),
    ({"model": "openai:other"}, "model= configures the client"),
    # the provider's own options were "unknown option" per request (probe 72), as if there were none
    ({"base_url": "http://127.0.0.1:10"}, "base_url= configures the client"),
    ({"api_key": "k2", "extra_body": {}}, "api_key=, extra_body= configures the client"),
    ({"max_completion_tokens": 50}, "unknown option 'max_completion_tokens' for a request (per-request options); "
                                    "did you mean 'max_tokens'?"),  # OpenAI's name for ours
])
async def test_a_client_option_given_per_request_says_where_it_goes(option, message):
    async with sotkit.SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9") as sot:
        with pytest.raises(sotkit.ConfigError, match=re.escape(message)):
            await sot.generate("Why?", **option)


async def test_a_provider_objects_own_options_are_no_client_option_per_request():
    # a provider passed built takes its options in its own constructor, and one named like a request option
    # (temperature) is a request's: the advice "pass it to sotkit.SoT" hid the typo beside it (probe 73)
    from collections.abc import AsyncIterator

    from sotkit.providers import ChatRequest, Chunk, Provider

    class Mine(Provider):
        def __init__(self, *, temperature: float = 0.7, endpoint: str = "x") -> None:
            self.model = "mine:m"

        async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
            yield "Hi."

    async with sotkit.SoT(Mine()) as sot:
        for options, message in (({"temperature": 0.2, "max_point": 3}, "did you mean 'max_points'?"),
                                 ({"endpoint": "y"}, "unknown option 'endpoint' for a request")):
            with pytest.raises(sotkit.ConfigError, match=re.escape(message)):
                await sot.generate("Why?", **options)


@pytest.mark.parametrize("typo, meant", [("max_point", "max_points"), ("router_treshold", "router_threshold"),
                                         ("fallbak", "fallback")])
def test_a_misspelt_client_option_is_named_for_every_provider(typo, meant):
    for model, key in (("openai:m", {"api_key": "k"}), ("local:smollm2", {})):  # a local model checks its own
        with pytest.raises(sotkit.ConfigError, match=f"did you mean '{meant}'"):  # options: the hint still comes
            sotkit.SoT(model, **key, **{typo: 1})


@pytest.mark.parametrize("theirs, ours", [("max_retries", "retry"), ("retries", "retry"), ("Max_Points", "max_points"),
                                          ("max_output_tokens", "max_tokens"), ("base_URL", "base_url")])
def test_another_apis_name_or_another_case_is_answered_with_ours(theirs, ours):
    with pytest.raises(sotkit.ConfigError, match=f"unknown option '{theirs}' .*; did you mean '{ours}'\\?"):
        sotkit.SoT("openai:m", api_key="k", **{theirs: 1})


@pytest.mark.parametrize("model, option, whose", [("openai:m", "device", "local: models"),
                                                  ("anthropic:m", "alpha", "local: models"),
                                                  ("local:smollm2", "base_url", "anthropic: and openai: models")])
async def test_another_kind_of_models_option_says_whose_it_is(model, option, whose):
    # was "unknown option 'device'" alone, as if no model took one (probe 72), and still so per request (probe 81)
    with pytest.raises(sotkit.ConfigError, match=f"{option}= is an option of {whose}"):
        sotkit.SoT(model, **{option: 1})
    async with sotkit.SoT(model, **({} if model.startswith("local:") else {"api_key": "k"})) as sot:
        with pytest.raises(sotkit.ConfigError, match=f"unknown option '{option}' for a request .*; {option}= is an "
                                                     f"option of {whose}"):
            await sot.generate("Why?", **{option: 1})


async def test_a_string_named_fallbacks_option_per_request_is_not_sent_to_the_client():
    # it said "configures the client: pass it to sotkit.SoT(...)", which then refused it: a fallback named by a
    # string takes none of the options (probe 82)
    async with sotkit.SoT("openai:m", api_key="k", fallback="local:smollm2") as sot:
        with pytest.raises(sotkit.ConfigError, match="unknown option 'device' for a request .*; device= is an "
                                                     "option of local: models"):
            await sot.generate("Why?", device="cpu")


@pytest.mark.parametrize("model", ["openai:m", None, "local:smollm2"])
def test_a_fallback_that_is_the_main_model_configured_the_same_way_is_refused(monkeypatch, model):
    # probe 272: its calls went to the same model again, past the main model's max_concurrency
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.delenv("SOTKIT_MODEL", raising=False)
    same = model or "openai:gpt-4o-mini"  # (the default model, with only $OPENAI_API_KEY set)
    with pytest.raises(sotkit.ConfigError, match=rf"^fallback='{same}' is the main model itself, configured the same "
                                                 r"way: .* raise retry= to try it more, or name another model$"):
        sotkit.SoT(model, fallback=same)
    sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", fallback="openai:m")  # (another server: the variable's)


async def test_a_local_engines_option_per_request_says_it_configures_the_client():
    async with sotkit.SoT("local:smollm2") as sot:  # was "unknown option 'fast_decode'" (probe 81)
        with pytest.raises(sotkit.ConfigError, match="fast_decode= configures the client, not one request"):
            await sot.generate("Why?", fast_decode=True)



@pytest.mark.parametrize("server", ["refuses", "closes", "resets"])
async def test_a_connection_refused_or_broken_before_the_answer_is_a_connection_error_not_a_timeout(provider, server):
    # probe 292, review 294: the OpenAI SDK's aiohttp transport raised each, at once, as APITimeoutError ('Request
    # timed out.'): a service alerting on timeouts, or a user raising timeout=, was misled
    sdk = importlib.import_module(provider)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0 if server != "refuses" else free_port()))
        port = listening.getsockname()[1]
        if server != "refuses":
            listening.listen(8)
            threading.Thread(target=_answer_nothing, args=(listening, server == "resets"), daemon=True).start()
        else:
            listening.close()  # nothing listens on the port
        async with sotkit.SoT(f"{provider}:m", api_key="k", base_url=f"http://127.0.0.1:{port}/v1", retry=1) as sot:
            with pytest.raises(sdk.APIConnectionError) as broken:
                await sot.generate("Why?", mode="sequential")
    assert not isinstance(broken.value, sdk.APITimeoutError)  # (a subclass of APIConnectionError)
    assert "timed out" not in str(broken.value)


def _answer_nothing(listening: socket.socket, reset: bool) -> None:
    """Read each request on ``listening`` and close its connection unanswered (with a reset: RST, not FIN)."""
    while True:
        try:
            connection, _ = listening.accept()
        except OSError:  # the test closed it
            return
        with connection:
            connection.recv(65536)
            if reset:
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def test_an_anthropic_compatible_server_of_ones_own_takes_no_key(monkeypatch):
    # probe 293: told to name the model a keyless server serves (anthropic:NAME), the user got "no Anthropic API key";
    # a compatible OpenAI server takes none, and Anthropic's own API still needs one
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(sotkit.ConfigError, match=r"^no Anthropic API key: set ANTHROPIC_API_KEY or pass api_key=\.\.\. "
                                                 r"\(for an Anthropic-compatible server, pass base_url=\.\.\.\)$"):
        sotkit.SoT("anthropic:claude-sonnet-4-6")
    for url in ("https://api.anthropic.com", "https://API.anthropic.com./v1"):
        with pytest.raises(sotkit.ConfigError, match=r"^no Anthropic API key: set ANTHROPIC_API_KEY or pass "
                                                     r"api_key=\.\.\.$"):
            sotkit.SoT("anthropic:claude-sonnet-4-6", base_url=url)
    with pytest.raises(sotkit.ConfigError, match=r"^no Anthropic API key"):  # Claude on Microsoft Foundry takes one
        sotkit.SoT("anthropic:claude-sonnet-4-6", base_url="https://mine.services.ai.azure.com/anthropic")
    with FakeLLMServer(lambda request: Reply("An answer.")) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
        result = await sotkit.generate("Why?", model="anthropic:m", mode="sequential")
    assert result.text == "An answer." and len(server.requests) == 1


async def test_a_gateways_token_beside_a_blank_anthropic_key_is_the_one_sent(monkeypatch):
    # review 294: ANTHROPIC_API_KEY="" (as gateways' guides set it) went to the SDK as the key, which then sent no
    # token ('Authorization: Bearer ' failed every call as a connection error)
    with FakeLLMServer(lambda request: Reply("An answer."), api_key="gateway-token") as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
        monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "gateway-token")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "")
        result = await sotkit.generate("Why?", model="anthropic:m", mode="sequential", retry=1)
    assert result.text == "An answer."


def test_model_strings_from_the_caller_or_the_environment_are_checked_and_say_where_they_came_from(monkeypatch):
    with pytest.raises(sotkit.ConfigError, match="model '' is not of the form"):
        sotkit.SoT("")  # not silently the default model
    monkeypatch.setenv("SOTKIT_MODEL", "smollm2")
    with pytest.raises(sotkit.ConfigError, match=r"^\$SOTKIT_MODEL='smollm2': model 'smollm2' is not of the form"):
        sotkit.SoT()
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(sotkit.ConfigError, match="fallback='openai:other': no OpenAI API key.*gets none of the main "
                                                 "model's options.*create_provider"):
        sotkit.SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9/v1", fallback="openai:other")


def test_a_local_fallbacks_errors_keep_their_kind_and_say_how_to_configure_it(tmp_path):
    # probe 282: a folder's error became a plain ConfigError (no longer caught as ModelNotAvailableError) with advice
    # about API keys and base URLs; device= beside a local fallback was only "an option of local: models"
    with pytest.raises(sotkit.ModelNotAvailableError, match=rf"^fallback='local:{tmp_path}': '{tmp_path}' has no "
                                                            r"config.json, .*save_pretrained\(path\)$"):
        sotkit.SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9/v1", fallback=f"local:{tmp_path}")
    with pytest.raises(sotkit.ConfigError, match=r"unknown option 'device' .*; a fallback named by a string gets none "
                                                 r"of the client's options: to give them to 'local:smollm2', pass "
                                                 r"fallback=sotkit.providers.create_provider\('local:smollm2', "
                                                 r"device=...\)$"):
        sotkit.SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9/v1", fallback="local:smollm2", device="cpu")
    with pytest.raises(sotkit.ConfigError) as typo:  # review 283: it told to give the main model's key to the fallback
        sotkit.SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9/v1", fallback="anthropic:c", temprature=0)
    assert "did you mean 'temperature'" in str(typo.value) and "create_provider" not in str(typo.value)
    with pytest.raises(sotkit.ConfigError, match="unknown provider 'opnai'"):  # review 286: a ModuleNotFoundError
        sotkit.SoT("opnai:gpt-4o", api_key="k", fallback="openai:gpt-4o-mini")


def test_openais_own_url_with_no_key_is_refused_where_the_client_is_built(monkeypatch):
    # probe 153: it was sent the placeholder key a keyless compatible server takes, and each call got a 401
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for url in ("https://api.openai.com/v1", "https://API.openai.com:443/v1/", "https://eu.api.openai.com/v1",
                "https://api.openai.com./v1"):
        with pytest.raises(sotkit.ConfigError, match=r"^no OpenAI API key for .*, OpenAI's own API: set "
                                                     r"OPENAI_API_KEY or pass api_key=\.\.\.$"):
            sotkit.SoT("openai:gpt-4o-mini", base_url=url)
    azure = ", an Azure OpenAI endpoint: set OPENAI_API_KEY or pass api_key=... (or pass client=openai.AsyncAzureOpenAI"
    with pytest.raises(sotkit.ConfigError, match=re.escape(azure)):
        sotkit.SoT("openai:gpt-4o-mini", base_url="https://mine.openai.azure.com/openai/v1")
    with pytest.raises(sotkit.ConfigError, match=", a Microsoft Foundry endpoint: set OPENAI_API_KEY or pass api_key="
                                                 r"\.\.\.$"):  # (review 299)
        sotkit.SoT("openai:gpt-4o-mini", base_url="https://mine.services.ai.azure.com/models")
    foundry = sotkit.SoT("openai:mistral-large", api_key="k", base_url="https://mine.services.ai.azure.com/models")
    provider = foundry.backends[0].provider  # other vendors' models there: their field, no OpenAI stop limit (302)
    assert (provider._max_tokens_field, provider.max_stop) == ("max_tokens", None)
    sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1")  # a server of one's own may take none


def test_a_model_left_out_says_the_default_was_used_and_why(monkeypatch):
    # a deployment's unset variable (model=None) with a server's options: the error spoke of local models only
    for name in ("SOTKIT_MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(sotkit.ConfigError, match=r"api_key, base_url.* \(no model was given, so the default "
                                                 r"local:smollm2 was used: none of \$SOTKIT_MODEL.* is set; to use "
                                                 r"another, pass model='provider:model' or set \$SOTKIT_MODEL\)$"):
        sotkit.SoT(None, api_key="k", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(sotkit.ConfigError, match="^modle= is no option: did you mean 'mode' or 'model'[?] unknown "
                                                 "option.s. for local models: modle;"):
        sotkit.SoT(modle="openai:gpt-4o-mini")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    with pytest.raises(sotkit.ConfigError, match=r"default anthropic:\S+ was used: \$ANTHROPIC_API_KEY is set"):
        sotkit.SoT(None, base_url="http://127.0.0.1:9", device="cpu")
    # the error comes first, the default model after it (probe 131: a misspelt option's message ended in "pass
    # model=...", which was no fix for it)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with pytest.raises(sotkit.ConfigError, match=r"^unknown option 'max_point'.*did you mean 'max_points'"):
        sotkit.SoT(None, max_point=3)


async def test_retry_none_per_call_is_the_clients_policy_as_in_the_constructor():
    from sotkit.testing import Fault, Reply

    with FakeLLMServer([Reply("", fault=Fault.status(503)), "Fine."]) as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sequential",
                              retry=sotkit.RetryPolicy(attempts=2, max_wait_s=0.01)) as sot:
            result = await sot.generate("Why?", retry=None)  # an app passing its own optional setting through
    assert result.text == "Fine." and len(server.requests) == 2
    with FakeLLMServer("Fine.") as server:
        result = await sotkit.generate("Why?", model="openai:m", base_url=server.openai_base_url, api_key="k",
                                       mode="sequential", retry=None)
    assert result.text == "Fine."


def test_aclose_in_each_loop_that_used_the_client_closes_that_loops_connections():
    """A worker thread's loop, run by hand, used the client; the app closed it from its own loop first. The
    worker's aclose() did nothing then, and its loop, closed without shutdown_asyncgens(), left its socket open."""
    import asyncio
    import threading

    with FakeLLMServer("A plain answer.") as server:
        sot = sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sequential")
        worker = asyncio.new_event_loop()
        thread = threading.Thread(target=worker.run_forever, daemon=True)
        thread.start()
        try:
            assert asyncio.run_coroutine_threadsafe(sot.generate("Why?"), worker).result(30).text
            asyncio.run(sot.aclose())
            asyncio.run_coroutine_threadsafe(sot.aclose(), worker).result(30)
            server.wait_idle(connections=True)  # a TimeoutError while the worker loop's socket stays open
            assert server.open_connections == 0
        finally:
            worker.call_soon_threadsafe(worker.stop)
            thread.join()
            worker.close()


def test_a_stream_read_or_closed_from_another_loop_is_refused_at_once():
    """probe 319: a stream entered in a worker thread's loop and read from another loop waited for ever (the
    request's loop could not wake the reader's), even under asyncio.wait_for, where asyncio's debug mode was on."""
    import asyncio
    import threading

    with FakeLLMServer("A plain answer.", latency=Latency(ttft_s=0.0, tokens_per_s=50)) as server:
        sot = sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sequential")
        worker = asyncio.new_event_loop()
        thread = threading.Thread(target=worker.run_forever, daemon=True)
        thread.start()
        try:
            entered, tried = threading.Event(), threading.Event()

            async def read_there() -> str:  # in its own loop it is read to its end
                async with sot.stream("Why?") as events:
                    holder.append(events)
                    entered.set()
                    await asyncio.to_thread(tried.wait, 30)
                    return "".join([e.text async for e in events if e.type == "text"])
            holder: list = []
            answer = asyncio.run_coroutine_threadsafe(read_there(), worker)
            assert entered.wait(30)
            for call in (holder[0].__anext__, holder[0].aclose):
                with pytest.raises(sotkit.ConfigError, match="another event loop than the one that entered it"):
                    asyncio.run(asyncio.wait_for(call(), 10))
            tried.set()
            assert answer.result(30) == "A plain answer."
            asyncio.run_coroutine_threadsafe(sot.aclose(), worker).result(30)
        finally:
            worker.call_soon_threadsafe(worker.stop)
            thread.join()
            worker.close()


def test_loops_dropped_without_being_closed_are_collected_with_their_connections():
    """Sync code that runs each call on a new loop and never closes it: a shared client kept every such loop alive
    (its table of loops held them, and what it made for each), 9 file descriptors and 3 connections a call, until
    the process ran out of them (probe 216)."""
    import asyncio
    import gc
    import time
    import weakref

    with FakeLLMServer("A plain answer.") as server:
        sot = sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sequential")
        loops = []
        for _ in range(10):
            loop = asyncio.new_event_loop()
            assert loop.run_until_complete(sot.generate("Why?")).text == "A plain answer."
            loops.append(weakref.ref(loop))
            del loop
        gc.collect()
        assert sum(ref() is not None for ref in loops) <= 1  # the last one may wait for the next collection
        deadline = time.monotonic() + 5
        while server.open_connections > 3 and time.monotonic() < deadline:  # their sockets closed with them
            time.sleep(0.05)
        assert server.open_connections <= 3  # (was 30)


async def test_a_client_dropped_without_aclose_closes_its_connections_while_its_loop_runs_on():
    # review 217: once the loop kept the values made for it, it kept every dropped client's SDK clients and sockets
    # (3 connections a client) until it ended; a server building a client per request ran out of descriptors
    import gc

    with FakeLLMServer("A plain answer.") as server:
        for _ in range(5):
            sot = sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sequential")
            assert (await sot.generate("Why?")).text == "A plain answer."
            del sot
            gc.collect()
        for _ in range(100):  # their sockets close as their clients are collected
            await anyio.sleep(0.05)
            if server.open_connections <= 1:
                break
        assert server.open_connections <= 1


# aiohttp refuses a URL's credentials beside the SDK's auth header: every call failed, with a bare ValueError
# (openai) or as a connection error retried (anthropic).
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_aiohttp_with_credentials_in_the_base_url_is_refused_at_construction(provider):
    with pytest.raises(sotkit.ConfigError, match=r"base_url='http://user:\*\*\*@127.0.0.1:9/v1' holds credentials "
                                                 r"\(user:password@\), which http='aiohttp' cannot send: use "
                                                 r"http='httpx' .* or drop the credentials from the URL"):
        sotkit.SoT(f"{provider}:m", api_key="k", base_url="http://user:pw-secret@127.0.0.1:9/v1", http="aiohttp")


KEY = "sk-proj-0123456789abcdef"  # long enough to be held as a secret ("k" is not)


# probe 140: httpx logs every request's URL at INFO ("HTTP Request: POST http://proxyuser:PASSWORD@..."), the SDKs at
# DEBUG: the credentials went into the log of every call, in clear
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("where", ["base_url", "environment"])
async def test_a_base_urls_credentials_are_sent_as_before_but_never_logged(provider, where, caplog, monkeypatch):
    import base64
    import logging

    with FakeLLMServer("A short answer.") as server:
        url = getattr(server, f"{provider}_base_url").replace("http://", "http://proxy%40user:Pass%2Fw0rd-3@")
        options = {"base_url": url} if where == "base_url" else {}
        if where == "environment":
            monkeypatch.setenv(f"{provider.upper()}_BASE_URL", url)
        with caplog.at_level(logging.DEBUG):
            result = await sotkit.generate("Why?", model=f"{provider}:m", api_key=KEY, mode="sequential", **options)
    assert result.text == "A short answer."
    # what httpx sends from a URL's user info: a Basic header of the decoded name and password
    basic = base64.b64encode(b"proxy@user:Pass/w0rd-3").decode()
    assert server.requests[0].headers["authorization"] == f"Basic {basic}"
    assert caplog.records and not [r for r in caplog.records if "w0rd" in r.getMessage()]
    # ... and a proxy's error that quotes that header, or the credentials, shows them as *** (probe 140: the header
    # was shown whole; review 138: the password too, once the first client was made, with a key long enough to hold)
    said = f"proxy: credentials Basic {basic} (proxy@user:Pass/w0rd-3) not allowed"
    refusal = {"error": {"message": said, "type": "permission_error"}}
    with FakeLLMServer(Reply("", fault=Fault.status(403, body=refusal))) as server:
        url = getattr(server, f"{provider}_base_url").replace("http://", "http://proxy%40user:Pass%2Fw0rd-3@")
        monkeypatch.setenv(f"{provider.upper()}_BASE_URL", url)
        with pytest.raises(Exception) as raised:
            await sotkit.generate("Why?", model=f"{provider}:m", api_key=KEY, mode="sequential")
    assert "credentials Basic *** (proxy@user:***) not allowed" in describe(raised.value)


def test_the_basic_header_of_a_token_alone_in_a_base_url_is_held_too():
    # review 138: a user info of a token alone is sent as Basic base64("token:"), which was not held
    import base64

    from sotkit.redact import hold, redact

    class Owner:
        pass

    owner = Owner()
    hold(owner, urls=["http://gw-token-0123456789@127.0.0.1:9/v1"])
    basic = base64.b64encode(b"gw-token-0123456789:").decode()
    assert redact(f"Basic {basic} refused for gw-token-0123456789") == "Basic *** refused for ***"
    hold(owner, urls=["http://tok_9f8e7d6c5b4a:@127.0.0.1:9/v1"])  # review 139: curl's "TOKEN:" was not held at all
    basic = base64.b64encode(b"tok_9f8e7d6c5b4a:").decode()
    assert redact(f"token tok_9f8e7d6c5b4a, Basic {basic}") == "token ***, Basic ***"
    # and dropped once the owner is collected: a server that builds a client per request piles up no keys (probe 314:
    # a finalizer that never ran, or popped another entry, passed every test)
    once = Owner()  # (held once, as a client is)
    hold(once, keys=["sk-held-once-0123456789"])
    assert redact("sk-held-once-0123456789") == "***"
    del owner, once
    gc.collect()
    assert redact("tok_9f8e7d6c5b4a, gw-token-0123456789, sk-held-once-0123456789") == \
        "tok_9f8e7d6c5b4a, gw-token-0123456789, sk-held-once-0123456789"


@pytest.mark.parametrize("http", ["httpx", "aiohttp"])
def test_a_base_url_whose_password_holds_a_slash_is_refused_with_what_to_do(http):
    # it was "must be an http:// or https:// URL with a host", which it has
    with pytest.raises(sotkit.ConfigError, match=r"base_url='http://user:\*\*\*@127.0.0.1:9/v1': a / \? or # in "
                                                 r"the user name or password .* percent-encode it") as raised:
        sotkit.SoT("openai:m", api_key="k", base_url="http://user:pw/secret@127.0.0.1:9/v1", http=http)
    assert "secret" not in str(raised.value)
    # after a user name holding an @ the password was shown whole (review 93)
    with pytest.raises(sotkit.ConfigError, match=r"base_url='http://\*\*\*@127.0.0.1:9/v1': a / \? or # "
                                                 r"in the user name or password .* percent-encode it") as raised:
        sotkit.SoT("openai:m", api_key="k", base_url="http://me@corp.com:s3cr3t/pw@127.0.0.1:9/v1", http=http)
    assert "s3cr3t" not in str(raised.value)


# The SDKs add their paths after the whole base URL, query included ('/v1?api-version=1/chat/completions'):
# every request went to the wrong path and failed as a 404, and the query (an api-key, say) was shown in notes.
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("http", ["httpx", "aiohttp"])
def test_a_base_url_with_a_query_is_refused_with_what_to_do(provider, http, monkeypatch):
    url = "http://127.0.0.1:9/v1?api-version=2024-10-21&api-key=gw-SECRET-0123456789"
    message = (r"base_url='http://127.0.0.1:9/v1' has a query \(\?...\): the SDK adds its "
               r"paths after the whole URL, .* build your own SDK client with default_query=\{...\} and pass it "
               r"as client=")
    with pytest.raises(sotkit.ConfigError, match=message) as raised:
        sotkit.SoT(f"{provider}:m", api_key="k", base_url=url, http=http)
    assert "SECRET" not in str(raised.value)
    monkeypatch.setenv(f"{provider.upper()}_BASE_URL", url)
    with pytest.raises(sotkit.ConfigError, match=rf"\${provider.upper()}_BASE_URL='http://127.0.0.1:9/v1' has a "
                                                 r"query \(\?...\): the SDK"):
        sotkit.SoT(f"{provider}:m", api_key="k", http=http)
    with pytest.raises(sotkit.ConfigError, match=r"v1' has a query"):  # an empty one too
        sotkit.SoT(f"{provider}:m", api_key="k", base_url="http://127.0.0.1:9/v1?", http=http)
    # a token's user info holding a ?: what is left reads as a URL with a host ('tok'); nothing after the ? shown
    with pytest.raises(sotkit.ConfigError, match=r"base_url='http://tok' has a query") as raised:
        sotkit.SoT(f"{provider}:m", api_key="k", base_url="http://tok?SECRET@127.0.0.1:9/v1", http=http)
    assert "SECRET" not in str(raised.value)


@pytest.mark.parametrize("model, hint", [
    ("azure:gpt-4o", "Azure OpenAI is 'openai:DEPLOYMENT' with client=openai.AsyncAzureOpenAI("),
    ("vertex:claude-sonnet-4-6", "Claude on Vertex AI is 'anthropic:MODEL' with client=anthropic.AsyncAnthropic"),
    ("bedrock:claude", "Bedrock streams in AWS's event-stream format"),
    ("mistral:large", "OpenAI-compatible servers use 'openai:' with base_url="),
])
def test_a_clouds_name_as_a_provider_says_how_to_reach_it(model, hint):
    # "azure:" got the OpenAI-compatible hint, whose base_url= cannot reach Azure (no api-version, no api-key header)
    with pytest.raises(sotkit.ConfigError, match=re.escape(hint)):
        sotkit.SoT(model)


# A key put in the wrong option (SoT(os.environ["OPENAI_API_KEY"]), say) was echoed in the error.
KEY = "sk-proj-MISPLACED-abc123"


@pytest.mark.parametrize("options, message", [
    ({"model": KEY}, r"the model looks like an API key \(not shown here\): pass the key as api_key="),
    ({"model": "openai:m", "fallback": KEY}, r"fallback=<what looks like an API key, not shown>: the model looks like"),
    ({"model": "openai:m", "base_url": KEY}, r"base_url=<what looks like an API key, not shown>: must be an http"),
    ({"model": "openai:m", "router": KEY}, r"unknown router <what looks like an API key, not shown>"),
    ({"model": "openai:m", "templates": KEY}, r"templates=<what looks like an API key, not shown> is not a dir"),
    ({"model": "openai:m", "prices": {KEY: (1, 2)}}, r"the key <what looks like an API key, not shown> must be"),
    ({"model": "openai:m", "http": KEY}, r"http=<what looks like an API key, not shown>: use one of"),
])
def test_a_key_given_in_another_option_is_not_shown(options, message):
    with pytest.raises(sotkit.ConfigError, match=message) as raised:
        sotkit.SoT(**{"api_key": "k", **options})
    assert KEY not in str(raised.value)


@pytest.mark.parametrize("model", ["openai: gpt-4o", "openai:gpt-4o ", "openai:gpt-4o\n", "openai:\u200bgpt-4o"])
def test_a_model_name_with_white_space_or_invisible_characters_is_refused(model):
    with pytest.raises(sotkit.ConfigError, match="white space around its name or invisible characters.*: write "
                                                 "'openai:gpt-4o'$"):
        sotkit.SoT(model, api_key="k")


def test_a_tab_inside_a_model_name_is_refused_without_a_guess():
    # probe 153: 'openai:gpt\t4o' was told to write 'openai:gpt4o'
    with pytest.raises(sotkit.ConfigError, match=r"invisible characters \(a tab, a line end\) in it: remove them$"):
        sotkit.SoT("openai:gpt\t4o", api_key="k")


@pytest.mark.parametrize("provider, variable", [("openai", "OPENAI_BASE_URL"), ("anthropic", "ANTHROPIC_BASE_URL")])
def test_a_malformed_base_url_from_the_environment_is_refused_at_construction(monkeypatch, provider, variable):
    monkeypatch.setenv(variable, "localhost:8000/v1")  # no scheme: the SDK would retry it as a connection error
    with pytest.raises(sotkit.ConfigError, match=rf"\${variable}='localhost:8000/v1': must be an http"):
        sotkit.SoT(f"{provider}:m", api_key="k")


# A malformed base URL was echoed whole, password and all, in the error (and so on the CLI's stderr and --json).
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("url, shown", [("https://user:sk-SECRET123@host:99999/v1", "https://user:***@host:99999/v1"),
                                        ("ftp://me@corp:sk-SECRET123@host/v1", "ftp://me@corp:***@host/v1"),
                                        ("HTTPS://:ab/sk-SECRET123@host/v1 ", "HTTPS://:***@host/v1 "),
                                        ({"url": "https://u:sk-SECRET123@h/v1"}, "of type dict")])
def test_a_malformed_base_url_is_refused_without_its_password(monkeypatch, provider, url, shown):
    said = "a / ? or # in the user name" if "/sk-" in str(url) else "must be"  # the password cut at its /
    message = f"base_url={shown!r}: {said}" if isinstance(url, str) else f"base_url= {shown}: must"
    with pytest.raises(sotkit.ConfigError, match=re.escape(message)) as raised:
        sotkit.SoT(f"{provider}:m", api_key="k", base_url=url)
    assert "SECRET" not in str(raised.value)
    if isinstance(url, str):
        monkeypatch.setenv(f"{provider.upper()}_BASE_URL", url)
        with pytest.raises(sotkit.ConfigError, match=re.escape(f"_BASE_URL={shown!r}: {said}")) as raised:
            sotkit.SoT(f"{provider}:m", api_key="k")
        assert "SECRET" not in str(raised.value)


@pytest.mark.parametrize("provider, variable, api", [("openai", "OPENAI_BASE_URL", "https://api.openai.com/v1/"),
                                                     ("anthropic", "ANTHROPIC_BASE_URL", "https://api.anthropic.com")])
async def test_an_empty_base_url_variable_is_unset_as_an_empty_key_is(monkeypatch, provider, variable, api):
    # a blank .env line or ${VAR}: the SDK took "" as the URL, and every call failed, retried, as a connection error
    monkeypatch.setenv(variable, "")
    async with sotkit.SoT(f"{provider}:m", api_key="k") as sot:
        async with sot.backends[0].provider._clients.client() as sdk:
            assert str(sdk.base_url) == api


@pytest.mark.parametrize("provider, variable", [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")])
@pytest.mark.parametrize("key", ["sk-test ", "sk-test\n", "sk-test\r", "  ", "sk-t\u00e9st", "sk-\x07test"])
def test_an_api_key_an_http_header_cannot_carry_is_refused_at_construction(monkeypatch, provider, variable, key):
    # a key read from a file with its line end failed in the SDK before any request left: retried as a connection
    # error and blamed on the server's address
    monkeypatch.setenv(variable, key)
    message = "holds white space at its ends, a line break or a character that is not printable ASCII"
    with pytest.raises(sotkit.ConfigError, match=rf"^\${variable} {message}") as refused:
        sotkit.SoT(f"{provider}:m")
    with pytest.raises(sotkit.ConfigError, match=f"^api_key {message}"):
        sotkit.SoT(f"{provider}:m", api_key=key)
    assert "sk-" not in str(refused.value)  # the key itself is a secret
    assert sotkit.SoT(f"{provider}:m", api_key="sk-test inner space is carried").model == f"{provider}:m"


def test_an_anthropic_auth_token_a_header_cannot_carry_is_refused_too(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok\n")
    with pytest.raises(sotkit.ConfigError, match=r"^\$ANTHROPIC_AUTH_TOKEN holds white space at its ends"):
        sotkit.SoT("anthropic:m")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok")
    assert sotkit.SoT("anthropic:m").model == "anthropic:m"


@pytest.mark.parametrize("variable", ["OPENAI_ORG_ID", "OPENAI_PROJECT_ID"])
def test_an_openai_organization_or_project_a_header_cannot_carry_is_refused_too(monkeypatch, variable):
    # probe 260: "org-123\n" built, then every call failed before it left, retried as "Connection error."
    import openai

    monkeypatch.setenv(variable, "org-123\n")
    with pytest.raises(sotkit.ConfigError, match=rf"^\${variable} holds white space at its ends"):
        sotkit.SoT("openai:m", api_key="k")
    # so on a client of the user's, which reads the same variable (review 264)
    with pytest.raises(sotkit.ConfigError, match=r"^client\.(organization|project) \(given, or read by the SDK"):
        sotkit.SoT("openai:m", client=openai.AsyncOpenAI(api_key="k"))
    monkeypatch.setenv(variable, "org-123")
    assert sotkit.SoT("openai:m", api_key="k").model == "openai:m"
    with pytest.raises(sotkit.ConfigError, match=r"^client\.api_key \(given, or read by the SDK from its "
                                                 r"environment variable\) holds white space at its ends"):
        sotkit.SoT("openai:m", client=openai.AsyncOpenAI(api_key="k\n"))
    # Azure's Entra ID token too (review 266)
    azure = openai.AsyncAzureOpenAI(azure_ad_token="token\n", azure_endpoint="https://x.openai.azure.com",
                                    api_version="2024-10-21")
    with pytest.raises(sotkit.ConfigError, match=r"^client\.azure_ad_token \(given, or read"):
        sotkit.SoT("openai:m", client=azure)


@pytest.mark.parametrize("url", ["http://localhost:8000/v1\x00", "http://localhost:8000/v\udcff1",
                                 "http://loc\udcffalhost/v1", "http://localhost:8000/\x07v1",
                                 "http://local\u200bhost:8000/v1", "http://local\u3164host:8000/v1",  # (pasted)
                                 "http://local\u034fhost:8000/v1", "http://localhost\ufe0f:8000/v1"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_base_url_with_a_character_no_url_carries_is_refused_at_construction(monkeypatch, provider, url):
    # probe 260: it built, and the first call raised the HTTP library's UnicodeEncodeError or InvalidURL
    variable = f"{provider.upper()}_BASE_URL"
    message = r"holds '\\(x00|udcff|x07|u200b|u3164|u034f|ufe0f)' at character \d+, which no URL carries"
    with pytest.raises(sotkit.ConfigError, match=f"^base_url {message}"):
        sotkit.SoT(f"{provider}:m", api_key="k", base_url=url)
    if "\x00" in url:  # (no environment holds one)
        return
    monkeypatch.setenv(variable, url)  # (as os.environ decodes a byte that is no UTF-8: a lone surrogate)
    with pytest.raises(sotkit.ConfigError, match=rf"^\${variable} {message}"):
        sotkit.SoT(f"{provider}:m", api_key="k")


@pytest.mark.parametrize("provider, sdk_client", [("openai", "AsyncOpenAI"), ("anthropic", "AsyncAnthropic")])
def test_a_client_of_the_wrong_kind_or_with_settings_of_its_own_is_refused_at_construction(provider, sdk_client):
    import anthropic
    import openai

    sdk = {"openai": openai, "anthropic": anthropic}[provider]
    sync_client = {"openai": openai.OpenAI, "anthropic": anthropic.Anthropic}[provider](api_key="k")
    with pytest.raises(sotkit.ConfigError, match=rf"client= takes an async client of the {provider} SDK "
                                                 rf"\({provider}.{sdk_client} or another .*not {provider}\."):
        sotkit.SoT(f"{provider}:m", client=sync_client)
    with pytest.raises(sotkit.ConfigError, match="client= takes .* not builtins.str"):
        sotkit.SoT(f"{provider}:m", client="http://127.0.0.1:9")
    mine = getattr(sdk, sdk_client)(api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(sotkit.ConfigError, match="api_key, base_url and client= both given: set api_key, base_url on "
                                                 "the client you pass"):
        sotkit.SoT(f"{provider}:m", client=mine, api_key="k2", base_url="http://127.0.0.1:8")
    with pytest.raises(sotkit.ConfigError, match="api_key must be a str, not int"):
        sotkit.SoT(f"{provider}:m", api_key=12345, base_url="http://127.0.0.1:9")
    assert sotkit.SoT(f"{provider}:m", client=mine).model == f"{provider}:m"
    # the SDK's other async clients, and one's own subclass, are clients too
    others = {"openai": [openai.AsyncAzureOpenAI(api_key="k", api_version="2024-10-21",
                                                 azure_endpoint="https://mine.openai.azure.com")],
              "anthropic": [anthropic.AsyncAnthropicVertex(region="us-east5", project_id="p", access_token="t")]}
    for other in [*others[provider], type("Mine", (getattr(sdk, sdk_client),), {})(api_key="k")]:
        assert sotkit.SoT(f"{provider}:m", client=other).model == f"{provider}:m"
    # ... but Bedrock's streams are AWS's event-stream format, which sotkit does not read
    for bedrock in (anthropic.AsyncAnthropicBedrock, type("Traced", (anthropic.AsyncAnthropicBedrock,), {})):
        with pytest.raises(sotkit.ConfigError, match="Bedrock streams in AWS's event-stream format"):
            sotkit.SoT("anthropic:m", client=bedrock(aws_region="us-east-1", aws_access_key="a", aws_secret_key="b"))
    # a client that retries on its own is used without its retries: sotkit's policy is the only retry layer
    retrying = getattr(sdk, sdk_client)(api_key="k", max_retries=2)
    used = sotkit.SoT(f"{provider}:m", client=retrying).backends[0].provider._clients._given
    assert used.max_retries == 0 and retrying.max_retries == 2


def test_the_key_never_shows_in_reprs():
    sot = sotkit.SoT("openai:m", api_key="sk-secret-123", base_url="http://127.0.0.1:9")
    assert "sk-secret" not in repr(sot) and "sk-secret" not in repr(sot.backends)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_key_refused_where_none_was_given_says_so(provider, monkeypatch):
    # probe 334: the server's "Incorrect API key provided" alone, for a key the user never gave (sotkit's placeholder)
    variable = f"{provider.upper()}_API_KEY"
    for name in (variable, "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with FakeLLMServer("Hi.", api_key="the-servers-key") as server:
        async with sotkit.SoT(f"{provider}:m", base_url=getattr(server, f"{provider}_base_url"),
                              mode="sequential") as keyless, \
                sotkit.SoT(f"{provider}:m", api_key="wrong-key", base_url=getattr(server, f"{provider}_base_url"),
                           mode="sequential") as keyed:
            with pytest.raises(Exception) as refused:
                await keyless.generate("Hi?")
            with pytest.raises(Exception) as wrong:
                await keyed.generate("Hi?")
    assert refused.value.status_code == wrong.value.status_code == 401
    assert f"(no API key was given, so sotkit sent none of yours: pass api_key=... or set {variable})" in \
        refused.value.__notes__ and "no API key" not in " ".join(getattr(wrong.value, "__notes__", []))


@pytest.mark.parametrize("model, url, base", [
    ("openai:m", "http://127.0.0.1:8000/v1/chat/completions/", "http://127.0.0.1:8000/v1"),
    ("anthropic:m", "https://gw.example.com/v1/messages", "https://gw.example.com"),
])
def test_a_base_url_with_the_path_the_sdk_adds_is_refused_when_the_client_is_built(model, url, base):
    # probe 334: every request went to .../chat/completions/chat/completions, a 404 naming no URL
    with pytest.raises(sotkit.ConfigError, match=re.escape(f"which the SDK adds to the base URL itself: leave it out "
                                                           f"('{base}')")):
        sotkit.SoT(model, api_key="k", base_url=url)


@pytest.mark.parametrize("option", ["mode", "max_points", "temperature", "on_point_error"])
def test_a_key_put_in_another_option_is_not_shown_in_its_error(option):
    # probe 334: mode='sk-proj-...' was refused with the key in the message (model= and fallback= hid it)
    key = "sk-proj-" + "S3CRET" * 4
    with pytest.raises(sotkit.ConfigError, match=re.escape(f"{option}=<what looks like an API key, not shown>")):
        sotkit.SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9", **{option: key})


def test_default_model_follows_the_environment(monkeypatch):
    for name in ("SOTKIT_MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_BASE_URL",
                 "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert sotkit.default_model() == "local:smollm2"
    # probe 153: a keyless server of one's own set up the usual way was answered by the embedded 135M model
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:pw@127.0.0.1:8000/v1")
    for build in (sotkit.default_model, sotkit.SoT):
        with pytest.raises(sotkit.ConfigError, match=re.escape(
                "$OPENAI_BASE_URL is set (http://user:***@127.0.0.1:8000/v1), but no key and no model: for a server "
                "of your own, name the model it serves (openai:NAME: --model in the CLI, model= in Python, or "
                "$SOTKIT_MODEL); for OpenAI's own API, set OPENAI_API_KEY; for the embedded model, name "
                "local:smollm2")):
            build()
    assert sotkit.SoT("local:smollm2").model == "local:smollm2"  # named, the embedded model is taken as ever
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "x")  # a gateway's token, which the anthropic provider reads
    assert sotkit.default_model().startswith("anthropic:")
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "x")
    assert sotkit.default_model().startswith("anthropic:")
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    assert sotkit.default_model().startswith("openai:")
    monkeypatch.setenv("SOTKIT_MODEL", "local:/models/mine")
    assert sotkit.default_model() == "local:/models/mine"


async def test_complete_sends_a_named_template_as_rendered_with_retries_and_usage():
    from sotkit.testing import Fault, Reply

    replies = [Reply("", fault=Fault.status(503)), "Both are fine. [[C]]"]
    with FakeLLMServer(replies) as server:
        async with sotkit.SoT("openai:judge", base_url=server.openai_base_url, api_key="k",
                              retry=sotkit.RetryPolicy(attempts=2, max_wait_s=0.01)) as sot:
            result = await sot.complete("judge_pairwise", {"question": "Why?", "answer_a": "One.", "answer_b": "Two."},
                                        max_tokens=64)
        first, second = server.requests
    assert result.text == "Both are fine. [[C]]" and result.mode == "sequential" and result.usage.calls == 2
    assert second.system.startswith("You are an impartial judge.")  # the template's own system text
    assert second.user.startswith("[User Question]\nWhy?\n\n[The Start of Assistant A's Answer]\nOne.\n")
    assert second.max_tokens == 64 and first.body == second.body


async def test_complete_passes_a_context_variable_to_the_template_as_given():
    with FakeLLMServer("Fine.") as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k") as sot:
            result = await sot.complete("sequential", {"question": "Why?", "context": "DOC: the sky is dark."})
            # the expand template's points and point are no text (review 214: refused as "must be a str")
            point = {"index": 2, "title": "Use LED bulbs"}
            await sot.complete("expand", {"question": "How to save energy?", "point": point,
                                          "points": [{"index": 1, "title": "Insulate"}, point]})
            with pytest.raises(sotkit.ConfigError, match=r"variables\['point'\]='Use LED bulbs': must be a dict such "
                                                         r"as \{'index': 2"):  # (review 215: sent as a str's methods)
                await sot.complete("expand", {"question": "How?", "point": "Use LED bulbs", "points": [point]})
        request, expand = server.requests
    assert result.text == "Fine." and "DOC: the sky is dark." in request.user and "Use LED bulbs" in expand.user


async def test_complete_gives_its_variables_context_natively_to_a_model_that_reads_one_so():
    # review 286: a context in complete()'s variables went into the prompt of a model that reads it natively
    # (FocusLLM's supports_context), where generate(context=...) gave it apart
    class Native(sotkit.providers.base.Provider):
        supports_context = True

        def __init__(self) -> None:
            self.model, self.seen = "mine:native", []

        async def stream(self, request):
            self.seen.append((request.context, request.prompt.user))
            yield "The answer."
            yield sotkit.providers.base.CallUsage(10, 3, finish_reason="stop")

    model = Native()
    async with sotkit.SoT(model) as sot:
        await sot.complete("sequential", {"question": "What is it?", "context": "VARS-DOC"})
        await sot.generate("What is it?", mode="sequential", context="GEN-DOC")
        await sot.complete("sequential", {"question": "What is it?", "context": " \ufeff "})  # blank: none (review 287)
    assert [context for context, _ in model.seen] == ["VARS-DOC", "GEN-DOC", None]
    assert not any("DOC" in prompt for _, prompt in model.seen)


async def test_complete_refuses_a_context_its_template_never_reads():
    # review 348: the prompt went without it, as generate(context=) refuses
    async with sotkit.SoT("openai:m", api_key="k",
                          templates={"sequential": "{% block user %}{{ question }}{% endblock %}"}) as sot:
        with pytest.raises(sotkit.ConfigError, match=r"variables\['context'\] was given but the 'sequential' template "
                                                     r"of openai:m never uses \{\{ context \}\}"):
            await sot.complete("sequential", {"question": "Why?", "context": "DOC"})
        # review 349: a template that takes none was told to pass context=, which complete() refuses
        with pytest.raises(sotkit.ConfigError, match=r"complete\('judge_pairwise', ...\) takes no 'context': the "
                                                     r"'judge_pairwise' template gets question, answer_a, answer_b"):
            await sot.complete("judge_pairwise", {"question": "Why?", "answer_a": "a", "answer_b": "b",
                                                  "context": "DOC"})
    # review 350: a blank one is none, for those templates too
    with FakeLLMServer("[[A]]") as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k") as sot:
            for blank in (None, "", " \n"):
                await sot.complete("judge_pairwise", {"question": "Why?", "answer_a": "a", "answer_b": "b",
                                                      "context": blank})


async def test_complete_sends_its_variables_context_not_the_clients():
    # probe 284: SoT(context="CLIENTDOC") put the client's document in every complete() call, which takes no
    # context= and "sends the template as it renders" with the variables given
    with FakeLLMServer("Fine.") as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", context="CLIENTDOC") as sot:
            await sot.complete("sequential", {"question": "Say hi."})
            await sot.complete("sequential", {"question": "Why?", "context": "MINE"})
            await sot.generate("Why?", mode="sequential")  # an answer still reads the client's
        bare, own, answer = (r.user for r in server.requests)
    assert "CLIENTDOC" not in bare and ("MINE" in own and "CLIENTDOC" not in own) and "CLIENTDOC" in answer


async def test_complete_refuses_unknown_templates_and_missing_variables():
    async with sotkit.SoT("openai:judge", api_key="k") as sot:
        with pytest.raises(sotkit.ConfigError, match="unknown template 'judge'"):
            await sot.complete("judge", {"question": "Why?"})
        with pytest.raises(sotkit.ConfigError, match="needs the variables question, answer_a, answer_b; missing: "
                                                     "question$"):
            await sot.complete("judge_pairwise", {"answer_a": "x", "answer_b": "y"})
        # the caller's omission, not the template's fault (it was a TemplateError telling to fix the template)
        with pytest.raises(sotkit.ConfigError, match="missing: answer_b$") as missing:
            await sot.complete("judge_pairwise", {"question": "Why?", "answer_a": "x"})
        assert not isinstance(missing.value, sotkit.TemplateError)
        with pytest.raises(sotkit.ConfigError, match="missing: criterion$"):
            await sot.complete("judge_aspect", {"question": "Why?", "answer_a": "x", "answer_b": "y", "aspect": "z"})
        with pytest.raises(sotkit.ConfigError, match="variables must be a dict, not list"):
            await sot.complete("sequential", ["Why?"])
        # a misspelt variable was dropped without a word: the answer ignored the document (probe 198)
        with pytest.raises(sotkit.ConfigError, match=r"unknown variable 'contxt' for complete\('sequential', \.\.\.\); "
                                                     "did you mean 'context'"):
            await sot.complete("sequential", {"question": "Why?", "contxt": "A report."})
        with pytest.raises(sotkit.ConfigError, match=r"'temperature' is no variable of a template but an option of "
                                                     r"the request: complete\('sequential', variables, temperature="):
            await sot.complete("sequential", {"question": "Why?", "temperature": 0})
        with pytest.raises(sotkit.ConfigError, match="unknown variable '1'"):  # review 200: an AttributeError
            await sot.complete("sequential", {"question": "Why?", 1: "x"})
        with pytest.raises(sotkit.ConfigError, match=r"needs variables\['question'\] \(a string\)"):
            await sot.complete("sequential", {"question": 42})
        # the others are checked as generate()'s context= is: bytes went as their repr, a Path as its name (probe 211)
        for value, wrong in [(b"Paris is in France.", "b'Paris is in France.'"), (Path("notes.txt"), "PosixPath"),
                             (["a"], r"\['a'\]"), (5, "5")]:
            with pytest.raises(sotkit.ConfigError, match=rf"variables\['context'\]={wrong}.*: must be a str or None"):
                await sot.complete("sequential", {"question": "Why?", "context": value})
        with pytest.raises(sotkit.ConfigError, match=r"variables\['context'\]= holds a lone surrogate"):
            await sot.complete("sequential", {"question": "Why?", "context": "notes \udcff"})
        with pytest.raises(sotkit.ConfigError, match=r"variables\['answer_a'\]=5: must be a str$"):
            await sot.complete("judge_pairwise", {"question": "Why?", "answer_a": 5, "answer_b": "y"})
        with pytest.raises(sotkit.ConfigError, match="takes no mode="):
            await sot.complete("judge_pairwise", {"question": "Why?"}, mode="sot")
        # probe 260: titles alone went into the prompt as "<built-in method title of str ...>", a list as a template
        # name was a TypeError, and a misspelt option was offered complete()'s refused mode and context
        expand = {"question": "Why?", "point": {"index": 1, "title": "Sleep"}}
        for points in (["Sleep", "Diet"], [{"index": True, "title": "Sleep"}], [{"title": "Sleep"}]):
            with pytest.raises(sotkit.ConfigError, match=r"variables\['points'\] is .*; give a list such as "
                                                         r"\[\{'index': 1, 'title': 'Insulate'\}"):
                await sot.complete("expand", {**expand, "points": points})
        with pytest.raises(sotkit.ConfigError, match=r"variables\['point'\] is \{'idx': 1\}; give a dict such as"):
            await sot.complete("expand", {**expand, "points": [], "point": {"idx": 1}})
        with pytest.raises(sotkit.ConfigError, match=r"unknown template \['sequential'\]; templates are: skeleton"):
            await sot.complete(["sequential"], {"question": "Why?"})
        with pytest.raises(sotkit.ConfigError, match="did you mean 'max_points'") as misspelt:
            await sot.complete("sequential", {"question": "Why?"}, max_point=3)
        assert "mode" not in str(misspelt.value).partition("options are:")[2]


async def test_closing_a_client_ends_its_running_answers_at_once_with_what_they_wrote(provider):
    # they streamed on until the watchdog (aiohttp: for ever without one), and retries opened SDK clients anew
    # that nothing could close
    responder = sot_responder("1. Sleep well\n2. Eat less sugar", {1: "Short.", 2: " ".join(["slow"] * 200)})
    with FakeLLMServer(responder, latency=Latency(ttft_s=0, tokens_per_s=50)) as server:
        base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        sot = sotkit.SoT(f"{provider}:m", base_url=base_url, api_key="k", mode="sot", stall_timeout=None)
        caught: list[BaseException] = []

        async def ask():
            try:
                await sot.generate("How can I be healthier?")
            except sotkit.PartialResultError as exc:
                caught.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            while not any(r.pieces for r in server.requests if point_of(r) == 2):  # the slow point streams
                await anyio.sleep(0.01)
            await sot.aclose()
            assert caught  # ended before aclose() returned, not at a timeout
        await server.wait_idle_async(10)
        assert server.in_flight == 0
    [error] = caught
    assert "the SoT client was closed (aclose()" in str(error) and not isinstance(error, sotkit.DeadlineExceeded)
    [slow] = [r for r in server.requests if point_of(r) == 2]
    assert not error.partial.points[1].done and slow.client_closed


def test_sotkits_own_sdk_clients_leave_the_wait_for_text_to_first_token_timeout():
    # their read timeout, timeout=, ended a wait for bytes first, so first_token_timeout could not be more than it,
    # and a point queued on a one-at-a-time server for longer died of it (probe 246): they read without one
    sot = sotkit.SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9/v1", timeout=1, first_token_timeout=10)
    assert sot.options.first_token_timeout == 10
    assert sotkit.SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9/v1",
                      timeout=5).options.first_token_timeout == 5  # the wait is timeout= unless given


def test_with_a_users_client_the_first_text_wait_and_its_check_go_by_that_clients_timeout(monkeypatch):
    """A user's client keeps its own network timeout (sotkit's timeout= does not change it): the first-text wait
    defaulted to sotkit's 60 s and a first_token_timeout=30 was taken, while the client's 2 s ended every call, and
    the check named sotkit's timeout, not the client's (probe 97)."""
    import anthropic

    monkeypatch.setenv("OPENAI_API_KEY", "k")  # the fallback's
    quick = openai.AsyncOpenAI(api_key="k", base_url="http://127.0.0.1:9/v1", timeout=2)
    assert sotkit.SoT("openai:m", client=quick).options.first_token_timeout == 2
    with pytest.raises(sotkit.ConfigError, match=r"^first_token_timeout=30 is more than 2 s, the read timeout of the "
                                                 r"client= you gave.*client\.with_options\(timeout=\.\.\.\)"):
        sotkit.SoT("openai:m", client=quick, first_token_timeout=30)
    slow = anthropic.AsyncAnthropic(api_key="k", timeout=anthropic.Timeout(5, read=900))
    assert sotkit.SoT("anthropic:m", client=slow, timeout=40).options.first_token_timeout == 40
    assert sotkit.SoT("anthropic:m", client=slow, first_token_timeout=800).options.first_token_timeout == 800
    # review 99: with timeout=None the 60 s default stayed and was refused; a fallback sotkit builds keeps timeout=
    assert sotkit.SoT("openai:m", client=quick, timeout=None).options.first_token_timeout == 2
    backup = "openai:backup"  # (a fallback sotkit builds reads without a timeout: probe 246)
    assert sotkit.SoT("anthropic:m", client=slow, first_token_timeout=800, fallback=backup)
    assert sotkit.SoT("anthropic:m", client=slow, fallback=backup).options.first_token_timeout == 60
    # review 100: a fallback given as a Provider object keeps its own timeout, which sotkit's timeout= never set
    from sotkit.providers.openai import OpenAIProvider

    own = OpenAIProvider("backup", api_key="k", base_url="http://127.0.0.1:9/v1", timeout=900)
    assert sotkit.SoT("anthropic:m", client=slow, first_token_timeout=800,
                      fallback=own).options.first_token_timeout == 800


@pytest.mark.parametrize("hand_off", [pickle.dumps, copy.copy, copy.deepcopy])
def test_a_client_is_not_pickled_or_copied_and_says_to_build_one_in_each_process(hand_off):
    """They failed deep inside ("Can't pickle local object 'sdk_clients.<locals>.build'", "cannot pickle
    '_thread.lock'") without a word on what to do (probe 98)."""
    with pytest.raises(TypeError, match=r"^a sotkit\.SoT client holds connections.*build one in each process"):
        hand_off(sotkit.SoT("openai:m", api_key="k"))


def test_a_local_model_takes_any_first_token_timeout():
    pytest.importorskip("torch")
    assert sotkit.SoT("local:smollm2", timeout=1, first_token_timeout=10)  # in-process: no network at all


def test_a_stream_read_from_sync_code_is_refused_in_words_that_work_in_a_notebook_too():
    # a plain `with` failed with Python's own "does not support the context manager protocol" (its __exit__ is
    # looked up first), and the advice, asyncio.run, fails where a notebook's loop runs already
    sot = sotkit.SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9/v1")
    for read in (_with, list):
        with pytest.raises(sotkit.ConfigError, match=r"asyncio\.run; in a notebook.*`async with` and `await`"):
            read(sot.stream("Why?"))


def _with(events) -> None:
    with events:
        pass


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("field, value, shown", [("metadata", {"tags": {"a"}}, "set"), ("user", b"alice", "bytes"),
                                                 ("logit_bias", {"50256": math.nan}, "Out of range float"),
                                                 ("metadata", {(1, 2): "x"}, "keys must be str"),
                                                 ("user", "caf\udce9", "surrogates not allowed"),
                                                 ("metadata", {"caf\udce9": 1}, "surrogates not allowed")])
def test_an_extra_body_field_json_cannot_carry_is_refused_at_construction_naming_it(provider, field, value, shown):
    # accepted, then the first call raised a bare TypeError or ValueError from inside the SDK's JSON encoder
    with pytest.raises(sotkit.ConfigError, match=rf"^extra_body\['{field}'\]=.*: JSON cannot carry it \(.*{shown}"):
        sotkit.SoT(f"{provider}:m", api_key="k", extra_body={field: value})
    # what the SDKs send their own way stays theirs (probe 73): a datetime, a tuple
    sotkit.SoT(f"{provider}:m", api_key="k", extra_body={"metadata": {"at": datetime.date(2026, 1, 2)}, "t": (1, 2),
                                                          "dropped": openai.NOT_GIVEN, "r": range(2),
                                                          "m": types.MappingProxyType({"a": 1}), "d": {}.items()})
    with pytest.raises(sotkit.ConfigError, match="generator"):  # the check would use it up
        sotkit.SoT(f"{provider}:m", api_key="k", extra_body={"g": (n for n in range(2))})


def test_a_lone_surrogate_in_an_extra_body_key_is_refused_at_construction():
    # taken, and the first call failed with a bare UnicodeEncodeError (review 100)
    with pytest.raises(sotkit.ConfigError, match=r"^extra_body's key 'caf\\udce9' holds a lone surrogate"):
        sotkit.SoT("openai:m", api_key="k", extra_body={"caf\udce9": 1})


@pytest.mark.parametrize("field, value, says", [
    ("temperature", 0.9, "use temperature="), ("max_tokens", 40, "use skeleton_max_tokens=, point_max_tokens="),
    ("max_completion_tokens", None, "point_max_tokens="), ("stop", ["END"], "block stop"),
    ("stop", None, "block stop"), ("stop_sequences", ["END"], "block stop"), ("system", "Be terse.", "block system"),
    ("messages", [{"role": "user", "content": "Hi"}], "builds them"), ("model", "other", "builds them"),
    ("n", 2, "several answers a call"), ("n", True, "several answers a call"), ("tools", [{"type": "function"}],
                                                                                "tool calls"),
    ("tool_choice", "required", "tool calls"), ("response_format", {"type": "json_object"}, "structured reply"),
    ("modalities", ["text", "audio"], "a reply in audio"),  # probe 153: its text is the transcript's, apart
    ("audio", {"voice": "alloy", "format": "pcm16"}, "a reply in audio"),
])
def test_extra_body_may_not_set_what_sotkit_sets_or_what_a_call_cannot_return_as_one_text(provider, field, value,
                                                                                          says):
    # probe 97: such fields overrode a request's own temperature= and budgets, the router's, a template's system
    # prompt and stop lines, or replaced the prompt (Anthropic's messages), or were billed and dropped (n=2); review
    # 99: their None left the stop sequences or the token limit out with nothing in their place, or did nothing
    with pytest.raises(sotkit.ConfigError, match=rf"^extra_body\['{field}'\]=.*{re.escape(says)}"):
        sotkit.SoT(f"{provider}:m", api_key="k", extra_body={field: value})


async def test_extra_body_fields_that_ask_for_one_text_anyway_reach_the_server(provider):
    """Values of n, tools and response_format that change nothing were refused with the rest (review 99)."""
    harmless = {"n": 1, "tools": [], "tool_choice": "none", "parallel_tool_calls": False,
                "response_format": {"type": "text"}, "seed": 7, "stream_options": None, "modalities": ["text"]}
    with FakeLLMServer(sot_responder("1. One\n2. Two", sequential="Plain.")) as server:
        base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        async with sotkit.SoT(f"{provider}:m", base_url=base_url, api_key="k", mode="sequential",
                              extra_body=harmless) as sot:
            assert (await sot.generate("How can I sleep better?")).text == "Plain."
    [request] = server.requests
    assert {name: request.body.get(name) for name in harmless} == {**harmless, "stream_options": None}


@pytest.mark.parametrize("name, says", [
    ("top_p", "top_p is an API parameter sotkit does not set: send it in the client's extra_body={'top_p': ...}"),
    ("seed", "extra_body={'seed': ...}"), ("thinking", "extra_body={'thinking': ...}"),
    ("system", "{% block system %}"), ("stop", "{% block stop %}"), ("extra_headers", "pass it as client="),
    ("n", "several answers a call"), ("response_format", "structured reply"),
])
async def test_another_sdks_parameter_is_refused_saying_where_it_goes_in_sotkit(name, says):
    """They were refused as unknown options, with the list of ours but no word on where theirs go (probe 97)."""
    with pytest.raises(sotkit.ConfigError, match=re.escape(says)):
        sotkit.SoT("openai:m", api_key="k", **{name: 1})
    async with sotkit.SoT("openai:m", api_key="k") as sot:
        with pytest.raises(sotkit.ConfigError, match=rf"^unknown option '{name}' for a request.*{re.escape(says)}"):
            await sot.generate("How can I sleep better?", **{name: 1})


async def test_extra_body_is_copied_when_the_client_is_built(provider):
    """A later change to the caller's dict reached requests, unchecked (a set failed the call as a bare TypeError)."""
    extra: dict = {"metadata": {"team": "a"}}
    with FakeLLMServer(sot_responder("1. One\n2. Two", sequential="Plain.")) as server:
        base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        async with sotkit.SoT(f"{provider}:m", base_url=base_url, api_key="k",
                              mode="sequential", extra_body=extra) as sot:
            extra["metadata"]["team"], extra["tags"] = "b", {"x"}
            assert (await sot.generate("How can I sleep better?")).text == "Plain."
    assert [r.body["metadata"] for r in server.requests] == [{"team": "a"}] and "tags" not in server.requests[0].body
    with pytest.raises(sotkit.ConfigError, match=r"^extra_body has the key 1: a body's field names are str"):
        sotkit.SoT(f"{provider}:m", api_key="k", extra_body={1: 2})


def test_an_unreadable_ca_bundle_is_named_by_the_setting_that_gave_it(monkeypatch):
    # ssl's "[Errno 2] No such file or directory" named no file and no variable; the CLI exited 1 (probe 92)
    from sotkit.providers._clients import shared_tls_context

    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    with pytest.raises(sotkit.ConfigError, match=r"the TLS certificates cannot be loaded \(No such file or "
                                                 r"directory; \$SSL_CERT_FILE='/nonexistent/ca.pem'\): point"):
        shared_tls_context()


def test_the_tls_context_follows_the_ca_settings_of_the_moment(monkeypatch, tmp_path):
    # probe 213: the first client's context served the whole process: a CA set for one test and then unset was still
    # trusted by clients built after, and one set after the first call was not (the SDK alone reads them per client)
    import certifi

    from sotkit.providers._clients import shared_tls_context

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    default = shared_tls_context()
    (tmp_path / "ca.pem").write_text(Path(certifi.where()).read_text().split("-----END CERTIFICATE-----")[0]
                                     + "-----END CERTIFICATE-----\n")  # one CA of the bundle
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    own = shared_tls_context()
    assert own is not default and own.cert_store_stats()["x509_ca"] == 1
    monkeypatch.delenv("SSL_CERT_FILE")
    assert shared_tls_context() is default  # the default again, made once


def test_a_stream_read_from_sync_code_through_a_blocking_portal_as_the_readme_shows(monkeypatch):
    # probe 119: a Flask-style view that ran each __anext__ in run_until_complete lost the whole answer on leaving
    # the stream ("Attempted to exit cancel scope in a different task"); the README shows a portal instead. The
    # README's own code runs here (probe 131: its portal, entered without keeping its context manager, stopped when
    # that was collected: "This portal is not running")
    import pathlib

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippet = next(block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "blocking_portal" in block)
    # probe 188: it yielded the text events alone, and a point that broke off and was written anew showed "First
    # draft of theSecond, different answer." in the page; the withdrawals now go along
    model = sot_responder("1. Dark room\n2. Same hour", {1: "Keep it dark.", 2: "Sleep at one hour."})

    def responder(request: RecordedRequest) -> Reply:
        if point_of(request) == 2 and request.attempt == 1:
            return Reply("A first draft of the point, cut", fault=Fault.drop(after_tokens=4))
        return model(request)

    def shown(lines) -> str:  # what the page shows
        text = ""
        for line in lines:
            event = json.loads(line)
            text = text + event["text"] if event["type"] == "text" else text[:len(text) - len(event["text"])]
        return text

    with FakeLLMServer(responder, latency=Latency(tokens_per_s=400)) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        names: dict = {}
        exec(snippet, names)  # noqa: S102 -- the README's code, as a user pastes it (probe 198: json not imported)
        portal, sot, answer_chunks = names["portal"], names["sot"], names["answer_chunks"]
        gc.collect()
        lines = list(answer_chunks("How can I sleep better?"))
        withdrawn = [json.loads(line)["text"] for line in lines if '"withdraw"' in line]
        assert withdrawn and "draft" in withdrawn[0]  # point 2's first attempt had been streamed
        text = shown(lines)
        assert text == portal.call(sot.generate, "How can I sleep better?").text and "draft" not in text
        assert "Keep it dark." in text and "Sleep at one hour." in text
        chunks = answer_chunks("How can I sleep better?")
        next(chunks)
        chunks.close()  # the browser went away: the stream is left, its calls closed
        assert shown(answer_chunks("How can I sleep better?")) == text
        # options go through functools.partial (probe 281: portal.call(sot.generate, q, max_points=3) is a TypeError)
        assert names["answer"]("Why?", mode="sequential").mode == "sequential"
        portal.call(sot.aclose)
        atexit.unregister(names["running"].__exit__)  # the snippet's, for a script: here it stops now
        names["running"].__exit__(None, None, None)
    assert all(r.finished_at is not None or r.client_closed for r in server.requests)


def test_a_script_using_the_readmes_blocking_portal_exits_when_it_ends():
    # probe 281: a portal left to the collector at exit waited for ever in its clean-up, deaf to Ctrl-C
    import pathlib

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippet = next(block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "blocking_portal" in block)
    script = snippet + "\nprint(answer('Why?', mode='sequential').text)\n"
    with FakeLLMServer(Reply("Because.")) as server:
        env = {**os.environ, "OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.openai_base_url}
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "Because.\n"), done.stderr
