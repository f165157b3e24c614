"""The request path end to end: the real openai and anthropic SDKs against the loopback fake server."""

from __future__ import annotations

import dataclasses

import anthropic
import anyio
import pytest

import sotkit
from sotkit.limits import estimate_tokens
from sotkit.providers import create_provider
from sotkit.providers.base import Prompt, char_weight
from sotkit.templates import DEFAULT_PROMPTS
from sotkit.testing import Fault, FakeLLMServer, Latency, RecordedRequest, Reply
from sotkit.testing._replies import split_tokens
from tests.conftest import is_skeleton, point_of, sot_responder

pytestmark = pytest.mark.anyio

SKELETON = "1. Sleep well\n2. Eat less sugar\n3. Move daily\n4. See friends"
FAST = Latency(ttft_s=0.0, tokens_per_s=2000)


def client(server: FakeLLMServer, provider: str, model: str = "test-model", **options) -> sotkit.SoT:
    base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    options.setdefault("mode", "sot")
    return sotkit.SoT(f"{provider}:{model}", base_url=base_url, api_key="test-key", **options)


def expansions(server: FakeLLMServer):
    return [r for r in server.requests if point_of(r) is not None]


def max_overlap(requests) -> int:
    """The most requests the server was serving at one moment, from its own timestamps."""
    edges = sorted([(r.received_at, 1) for r in requests] + [(r.finished_at or r.closed_at, -1) for r in requests])
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


async def test_a_skeleton_prefill_that_holds_whole_point_lines_has_those_points_expanded_too():
    # the prefill's points were parsed but never started: point 1 stayed empty, and the answer was '' as a success
    templates = {"skeleton": "{% block user %}Give the skeleton (not the full content) of an answer to: "
                             "{{ question }}{% endblock %}{% block prefill %}1. Sleep well\n2.{% endblock %}"}
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with client(server, "anthropic", templates=templates) as sot:
            result = await sot.generate("How can I be healthier?")
    assert [p.title for p in result.points] == ["Sleep well", "Eat less sugar", "Move daily", "See friends"]
    assert all(p.done and p.text == f"Details of point {p.index}." for p in result.points)
    assert sorted(point_of(r) for r in expansions(server)) == [1, 2, 3, 4]


async def test_a_skeleton_the_parser_ends_early_is_marked_truncated_with_why():
    # the parser stops a skeleton that loops; points may be missing, so the result says so (it said nothing)
    looping = "1. Sleep well every night\n2. Eat less sugar\n3. Sleep well every night\n4. Eat less sugar\n5. Move"
    with FakeLLMServer(sot_responder(looping), latency=FAST) as server:
        async with client(server, "openai") as sot:
            result = await sot.generate("How can I be healthier?")
    assert [p.title for p in result.points] == ["Sleep well every night", "Eat less sugar"]
    assert result.skeleton_truncated and "ended after 2 point(s): its last 2 list lines repeated" in result.route_reason


async def test_points_are_stitched_in_skeleton_order_when_they_finish_in_reverse(provider):
    # each point's first token 0.45 s before the one ahead of it: more than a loaded machine's skew between sends
    slow_first = {i: Latency(ttft_s=0.45 * (5 - i), tokens_per_s=2000) for i in range(1, 5)}
    texts = {i: f"Text of point {i}." for i in range(1, 5)}
    with FakeLLMServer(sot_responder(SKELETON, texts, point_latency=slow_first), latency=FAST) as server:
        async with client(server, provider) as sot, sot.stream("How can I be healthier?") as events:
            seen = [event async for event in events]
    done_order = [e.index for e in seen if e.type == "point_done"]
    assert done_order == [4, 3, 2, 1]
    assert [(e.index, e.title) for e in seen if e.type == "point"] == [(1, "Sleep well"), (2, "Eat less sugar"),
                                                                       (3, "Move daily"), (4, "See friends")]
    result = seen[-1].result
    assert result.mode == "sot" and not result.skeleton_truncated
    assert result.skeleton == ["Sleep well", "Eat less sugar", "Move daily", "See friends"]
    assert [p.text for p in result.points] == [texts[i] for i in range(1, 5)]
    assert result.text == ("1. Sleep well: Text of point 1.\n2. Eat less sugar: Text of point 2.\n"
                           "3. Move daily: Text of point 3.\n4. See friends: Text of point 4.")
    assert "".join(e.text for e in seen if e.type == "text") == result.text
    # text events come in skeleton order, even though points 2-4 finished first
    indices = [e.index for e in seen if e.type == "text"]
    assert indices == sorted(indices)


@pytest.mark.parametrize("limit", [2, 16])
async def test_expansions_run_concurrently_up_to_the_limit(provider, limit):
    skeleton = "\n".join(f"{i}. Point number {i}" for i in range(1, 7))
    # 0.5 s each: every request sent at once reaches the server before the first one ends, on a loaded machine too
    slow = {i: Latency(ttft_s=0.5, tokens_per_s=2000) for i in range(1, 7)}
    with FakeLLMServer(sot_responder(skeleton, point_latency=slow), latency=FAST) as server:
        async with client(server, provider, max_concurrency=limit, eager=False) as sot:
            result = await sot.generate("List six things.")
    assert len(result.points) == 6
    assert max_overlap(expansions(server)) == min(limit, 6)


async def test_first_expansion_starts_while_the_skeleton_still_streams(provider):
    model = sot_responder(SKELETON)

    def respond(request):  # the skeleton pauses 1.5 s once its second line is complete (at "\n3.")
        reply = model(request)
        two_lines = len(split_tokens(reply.text.split("\n3.")[0] + "\n3."))
        return dataclasses.replace(reply, fault=Fault.stall(two_lines, 1.5)) if is_skeleton(request) else reply

    with FakeLLMServer(respond, latency=FAST) as server:
        async with client(server, provider) as sot:
            result = await sot.generate("How can I be healthier?")
    [skeleton] = [r for r in server.requests if is_skeleton(r)]
    first = min(expansions(server), key=lambda r: r.received_at)
    assert point_of(first) in (1, 2)  # both start the moment the second line is complete
    assert first.received_at < skeleton.finished_at
    assert len(result.points) == 4


async def test_a_skeleton_that_is_not_a_list_gives_a_sequential_answer(provider):
    responder = sot_responder("Paris is the capital of France.", sequential="The capital of France is Paris.")
    with FakeLLMServer(responder, latency=FAST) as server:
        async with client(server, provider) as sot, sot.stream("What is the capital of France?") as events:
            seen = [event async for event in events]
    result = seen[-1].result
    assert result.mode == "sequential"
    assert result.text == "The capital of France is Paris."
    assert [e.mode for e in seen if e.type == "route"] == ["sot", "sequential"]  # the last is the answer's mode
    assert "0 point(s)" in result.route_reason or "1 point(s)" in result.route_reason
    assert result.points == []
    assert "".join(e.text for e in seen if e.type == "text") == result.text
    assert [e.mode for e in seen if e.type == "route"] == ["sot", "sequential"]


async def test_usage_is_summed_over_every_call(provider):
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with client(server, provider) as sot:
            result = await sot.generate("How can I be healthier?")
    assert result.usage.calls == len(server.requests) == 5
    assert result.usage.input_tokens == sum(r.usage.input_tokens for r in server.requests) > 0
    assert result.usage.output_tokens == sum(r.usage.output_tokens for r in server.requests) > 0
    timings = result.timings
    assert timings.total_s >= timings.skeleton_s > 0
    assert 0 < timings.first_point_at <= timings.first_text_at <= timings.total_s  # the first point's header
    assert result.model == f"{provider}:test-model"


# llama.cpp's servers ignore stream_options: asking for no usage makes the fake server send none, as they do
NO_USAGE = {"stream_options": {"include_usage": False}}


async def test_a_server_that_reports_no_usage_gets_an_estimate_that_says_so():
    with FakeLLMServer(sot_responder(SKELETON, sequential="A plain answer, forty characters long."),
                       latency=FAST) as server:
        async with client(server, "openai", mode="sequential", extra_body=NO_USAGE) as sot:
            result = await sot.generate("How can I be healthier?")
    [request] = server.requests
    assert request.body["stream_options"] == {"include_usage": False}  # the server was asked for none
    assert (result.usage.calls, result.usage.estimated_calls, result.usage.estimated) == (1, 1, True)
    assert result.usage.output_tokens == 10  # 39 characters, about four to a token
    prompt_chars = sum(len(m["content"]) for m in request.body["messages"])
    assert result.usage.input_tokens == -(-prompt_chars // 4) > 0


async def test_an_estimate_counts_a_chinese_character_as_a_token_not_a_quarter():
    # 5,194 Chinese characters of output were estimated as 1,298 tokens, and a tpm budget charged a Chinese prompt
    # a quarter of its tokens (probe 84): a Chinese, Japanese or Korean character is about a token
    answer = "睡眠很重要。" * 10 + "Сон важен."  # 60 wide characters, 8 Cyrillic ones, 2 ASCII
    with FakeLLMServer(sot_responder(SKELETON, sequential=answer), latency=FAST) as server:
        async with client(server, "openai", mode="sequential", extra_body=NO_USAGE) as sot:
            result = await sot.generate("如何提高睡眠质量？")
    [request] = server.requests
    assert result.text == answer and result.usage.estimated
    assert result.usage.output_tokens == -(-(60 * 4 + 8 * 2 + 2) // 4) == 65
    prompt_chars = sum(len(m["content"]) for m in request.body["messages"])
    assert result.usage.input_tokens == -(-(prompt_chars + 3 * 9) // 4)  # the question's 9 wide characters


def test_char_weight_counts_each_script_as_its_tokens_come():
    assert [char_weight(t) for t in ("Sleep well.", "睡眠", "수면", "すいみん", "Сон", "café", "")] == [11, 8, 8, 16, 6, 5, 0]
    assert estimate_tokens(Prompt("睡眠" * 50).chars, 10) == 110


async def test_usage_sums_reported_and_estimated_calls():
    """Point 2 fails on the main model (which reports usage) and is written by a fallback that reports none."""
    base = sot_responder(SKELETON)

    def point_2_fails(request):
        reply = base(request)
        return Reply(reply.text, fault=Fault.status(400)) if point_of(request) == 2 else reply

    with FakeLLMServer(point_2_fails, latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, {2: "Fallback text here."}), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k", base_url=backup.openai_base_url, extra_body=NO_USAGE)
        async with client(server, "openai", fallback=fallback) as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    assert result.points[1].model == "openai:backup"
    reported = [r for r in server.requests if r.fault is None]
    assert result.usage.calls == len(server.requests) + 1 == 6 and result.usage.estimated_calls == 1
    assert result.usage.output_tokens == sum(r.usage.output_tokens for r in reported) + 5  # 19 characters
    assert result.usage.input_tokens > sum(r.usage.input_tokens for r in reported)


async def test_expand_prompts_share_their_prefix_and_end_with_the_point(provider):
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with client(server, provider, eager=False) as sot:
            await sot.generate("How can I be healthier?")
    prompts = sorted(expansions(server), key=point_of)
    users = [r.user for r in prompts]
    shared = users[0][: users[0].index("Continue and only continue")]
    assert all(u.startswith(shared) for u in users) and "4. See friends" in shared
    assert all(f"point {i}" in u[len(shared):] for i, u in enumerate(users, 1))
    if provider == "anthropic":  # the paper's prefill: "i. title"
        assert [r.prefill for r in prompts] == ["1. Sleep well:", "2. Eat less sugar:", "3. Move daily:",
                                                "4. See friends:"]


async def test_an_expansion_that_runs_on_into_the_next_point_is_cut(provider):
    runaway = {2: "Cut sugar from drinks first.\n3. Move daily: " + "Walk a lot. " * 300}
    # 400 tokens a second: the client has 0.75 s to hang up before the server ends the reply (point_max_tokens 300)
    with FakeLLMServer(sot_responder(SKELETON, runaway, point_latency={2: Latency(0, 400)}), latency=FAST) as server:
        async with client(server, provider) as sot:
            result = await sot.generate("How can I be healthier?")
        # ... at once: the call is not paid for to its end (no stop sequence does it: "\n3. " may be the point's own);
        # had the connection stayed open, the server would have written the rest (300 tokens, 0.75 s) into it
        await anyio.sleep(1.0)
        [call] = [r for r in expansions(server) if point_of(r) == 2]
    assert result.points[1].text == "Cut sugar from drinks first."
    assert not result.points[1].truncated  # ended by sotkit where it ran on, not cut short
    assert call.finished_at is None and len(call.pieces) < 300


async def test_a_points_own_numbered_list_is_kept_whole(provider):
    # no stop sequence cuts it at "\n3. " either: a number is the next point's only where the list cannot go on
    own = {2: "Swap these:\n1. Soda for water.\n2. Juice for fruit.\n3. Candy for nuts.\n4. Move daily: walk a lot"}
    with FakeLLMServer(sot_responder(SKELETON, own), latency=FAST) as server:
        async with client(server, provider) as sot:
            result = await sot.generate("How can I be healthier?")
    assert result.points[1].text == "Swap these:\n1. Soda for water.\n2. Juice for fruit.\n3. Candy for nuts."
    assert all(not r.stop for r in expansions(server))


async def test_templates_from_strings_reach_the_server(provider):
    templates = {"expand": "{% block user %}Q: {{ question }} | write point {{ point.index }} "
                           "({{ point.title }}) in a support tone{% endblock %}"}
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with client(server, provider, templates=templates) as sot:
            result = await sot.generate("How can I be healthier?")
    users = sorted(r.user for r in expansions(server))
    assert users[0] == "Q: How can I be healthier? | write point 1 (Sleep well) in a support tone"
    assert all(r.system is None and r.prefill is None for r in expansions(server))
    assert len(result.points) == 4


async def test_a_template_that_breaks_on_one_point_fails_that_point_and_keeps_the_others(provider):
    # probe 260: the samples rendered, point 4's title did not: the request raised a TemplateError without .partial,
    # the points already written (and paid for) lost, on_point_error="skip" or not
    templates = {"expand": "{% block user %}Q: {{ question }} | point {{ point.index }} ({{ point.title }}) "
                           "{{ 1 // (point.index - 4) }}{% endblock %}"}
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with client(server, provider, templates=templates) as sot:
            with pytest.raises(sotkit.PartialResultError) as failed:
                await sot.generate("How can I be healthier?")
            skipped = await sot.generate("How can I be healthier?", on_point_error="skip")
    assert isinstance(failed.value.__cause__, sotkit.TemplateError) and "ZeroDivisionError" in str(failed.value)
    # (review 264: it advised fallback=, or blamed a fallback, where no model was asked)
    assert str(failed.value).endswith("(pass on_point_error='skip' to accept it; no model was asked for them: fix "
                                      "the template)")
    assert [p.failed for p in failed.value.partial.points] == [False, False, False, True]
    assert [p.done for p in skipped.points] == [True, True, True, False] and "4." not in skipped.text


async def test_sequential_mode_makes_one_call(provider):
    with FakeLLMServer(sot_responder(SKELETON, sequential="Just do it."), latency=FAST) as server:
        async with client(server, provider) as sot:
            result = await sot.generate("Write a poem about the sea.", mode="sequential")
    assert (result.mode, result.text, result.usage.calls, len(server.requests)) == ("sequential", "Just do it.", 1, 1)


async def test_calls_one_after_another_reuse_one_connection(provider):
    # a stream read to its end hands its connection back to the pool; against a real API that saves a TCP
    # and TLS handshake per call
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with client(server, provider, mode="sequential") as sot:
            for _ in range(3):
                await sot.generate("How can I be healthier?")
    assert [r.connection for r in server.requests] == [1, 1, 1]


async def test_openai_request_fields_and_a_users_extra_body_reach_the_server():
    with FakeLLMServer(sot_responder(SKELETON, sequential="Hi."), latency=FAST) as server:
        async with client(server, "openai", mode="sequential", extra_body={"top_k": 5}, temperature=0.3) as sot:
            result = await sot.generate("How can I be healthier?", max_tokens=77)
    [request] = server.requests
    assert request.body["messages"][-1] == {"role": "user", "content": request.user}
    assert "How can I be healthier?" in request.user
    assert request.body["max_tokens"] == 77 and request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True} and result.usage.output_tokens > 0
    assert request.body["top_k"] == 5 and request.body["temperature"] == 0.3


async def test_temperature_reaches_every_call_on_both_apis(provider):
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with client(server, provider, temperature=0.3) as sot:
            result = await sot.generate("How can I be healthier?")
            await sot.generate("How can I be healthier?", mode="sequential", temperature=0.0)
    assert result.mode == "sot" and len(server.requests) == 1 + 4 + 1
    assert [r.body["temperature"] for r in server.requests] == [0.3] * 5 + [0.0]


async def test_no_temperature_is_sent_unless_asked(provider):
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with client(server, provider) as sot:
            await sot.generate("How can I be healthier?")
    assert not any("temperature" in r.body for r in server.requests)


async def test_auto_mode_routes_each_question_and_records_why(provider):
    with FakeLLMServer(sot_responder(SKELETON, sequential="x = 4"), latency=FAST) as server:
        async with client(server, provider, mode="auto") as sot:
            listy = await sot.generate("What are some ways to be healthier?")
            mathy = await sot.generate("Solve for x: 3x + 10 = 5(x - 2)")
    assert listy.mode == "sot" and len(listy.points) == 4 and listy.route_reason
    assert mathy.mode == "sequential" and mathy.text == "x = 4" and mathy.route_reason
    assert len(server.requests) == 5 + 1


async def test_a_context_goes_into_every_prompt_ahead_of_the_question(provider):
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with client(server, provider) as sot:
            await sot.generate("How can I be healthier?", context="REPORT: sleep matters most.")
    users = [r.user for r in server.requests]
    assert len(users) == 5
    assert all(u.startswith("Use this context to answer:\n\nREPORT: sleep matters most.") for u in users)
    assert all(u.index("REPORT") < u.index("How can I be healthier?") for u in users)


async def test_a_blank_context_is_no_context(provider):
    # it was sent as an empty section, "Use this context to answer:" and blanks (probe 211)
    with FakeLLMServer("A plain answer.", latency=FAST) as server:
        async with client(server, provider, mode="sequential") as sot:
            for context in (None, "", "  \n\t ", "\ufeff", "\u200b\n"):  # an empty file saved with a BOM too
                await sot.generate("How can I be healthier?", context=context)
    first, *others = (r.user for r in server.requests)
    assert others == [first] * 4 and "context" not in first


CLAUDE = "claude-sonnet-4-5"  # marked for Anthropic's prompt cache: another model's server may take no mark


def _marked(request) -> str | None:
    """The text of the user message's block marked for Anthropic's prompt cache, if any."""
    content = request.body["messages"][0]["content"]
    marked = [b["text"] for b in content if b.get("cache_control")] if isinstance(content, list) else []
    return marked[0] if marked else None


async def test_a_long_context_is_marked_for_anthropics_prompt_cache_alike_in_the_skeleton_and_every_point(provider):
    # Anthropic caches only a marked prefix: the context every call sends is written once by the skeleton call and
    # read by every point's call (which starts once the skeleton's reply has begun); the model reads the same text
    context = "REPORT: " + "Sleep matters most, then food. " * 200  # about 1,600 tokens
    with FakeLLMServer(sot_responder(SKELETON, sequential="Sleep."), latency=FAST) as server:
        async with client(server, provider, CLAUDE) as sot:
            await sot.generate("How can I be healthier?", context=context)
            sot_calls = len(server.requests)
            await sot.generate("How can I be healthier?", context=context, mode="sequential")
            await sot.generate("How can I be healthier?", context="REPORT: sleep matters most.")
    marked = [_marked(r) for r in server.requests]
    assert sot_calls == 5 and len(marked) == 5 + 1 + 5
    if provider == "openai":  # its cache needs no mark
        assert marked == [None] * 11
        return
    assert len(set(marked[:5])) == 1 and marked[0].startswith("Use this context to answer:\n\nREPORT:")
    assert marked[0].endswith(context + "\n\n")
    # the model reads the prompt it read before: the marked block and the rest, joined
    assert all(r.user.startswith(marked[0]) and r.user[len(marked[0]):].strip() for r in server.requests[:5])
    assert marked[5:] == [None] * 6  # one sequential call reads nothing back; a short context is not cached


async def test_a_long_system_prompt_every_call_shares_is_marked_without_a_context():
    # probe 193 F5: a template's long system prompt (a style guide) read by the skeleton and every point was sent
    # unmarked where no context= made a shared user prefix: every point paid the full input price for it
    guide = "House style:" + " Use short sentences and plain words." * 150  # about 1,400 tokens
    system = "{% block system %}" + guide + "{% endblock %}"
    templates = {name: system + "{% block user %}" + body + "{% endblock %}" for name, body in (
        ("skeleton", "Outline {{ question }} as a numbered list."),
        ("expand", "{{ question }}\nWrite point {{ point.index }}: {{ point.title }}."),
        ("sequential", "{{ question }}"))}
    def respond(request):
        return SKELETON if request.user.startswith("Outline") else "Do it."

    with FakeLLMServer(respond, latency=FAST) as server:
        async with client(server, "anthropic", CLAUDE, templates=templates) as sot:
            result = await sot.generate("How can I be healthier?")
            await sot.generate("How can I be healthier?", mode="sequential")
    assert len(result.points) == 4 and len(server.requests) == 5 + 1
    systems = [r.body["system"] for r in server.requests]
    assert all(s == [{"type": "text", "text": guide, "cache_control": {"type": "ephemeral"}}] for s in systems[:5])
    assert systems[5] == guide and [_marked(r) for r in server.requests] == [None] * 6  # one call reads nothing back
    assert all(r.system == guide for r in server.requests)
    # a gateway under a Claude name that takes the system prompt as a string only: sent unmarked from then on
    said = "system: Input should be a valid string"

    def gateway(request):
        if isinstance(request.body["system"], list):
            return Reply("", fault=Fault.status(400, body={"type": "error", "error": {
                "type": "invalid_request_error", "message": said}}))
        return respond(request)

    with FakeLLMServer(gateway, latency=FAST) as server:
        async with client(server, "anthropic", CLAUDE, templates=templates) as sot:
            result = await sot.generate("How can I be healthier?")
    assert len(result.points) == 4 and len(server.requests) == 1 + 5
    assert [isinstance(r.body["system"], list) for r in server.requests] == [True] + [False] * 5
    # ... but a refusal that only mentions the system prompt turns nothing off (review 201)
    other = {"type": "error", "error": {"type": "invalid_request_error", "message": "the system prompt is fine, but "
                                                                                     "the model name is not"}}
    with FakeLLMServer(Reply("", fault=Fault.status(400, body=other)), latency=FAST) as server:
        async with client(server, "anthropic", CLAUDE, templates=templates) as sot:
            for _ in range(2):
                with pytest.raises(Exception, match="the model name is not"):
                    await sot.generate("How can I be healthier?")
    assert [isinstance(r.body["system"], list) for r in server.requests] == [True, True]


async def test_a_server_that_refuses_the_cache_mark_gets_none_from_then_on_and_answers():
    # review 137: a gateway that serves Claude names but takes no cache_control failed every answer with a long
    # context (a 400 on every attempt) since the mark came in; the prefill and temperature refusals were recovered
    said = "messages.0.content.0.cache_control: Extra inputs are not permitted"
    refusal = {"type": "error", "error": {"type": "invalid_request_error", "message": said}}
    answer = sot_responder(SKELETON)

    def respond(request):
        return Reply("", fault=Fault.status(400, body=refusal)) if _marked(request) else answer(request)

    context = "REPORT: " + "Sleep matters most, then food. " * 200
    with FakeLLMServer(respond, latency=FAST) as server:
        async with client(server, "anthropic", CLAUDE) as sot:
            result = await sot.generate("How can I be healthier?", context=context)
            again = await sot.generate("How can I be healthier?", context=context)
    assert len(result.points) == len(again.points) == 4 and result.text == again.text
    marked = [_marked(r) is not None for r in server.requests]
    assert marked[0] and not any(marked[1:]) and len(marked) == 1 + 5 + 5  # the refused skeleton sent again at once
    assert [is_skeleton(r) for r in server.requests[:2]] == [True, True]


async def test_marking_the_cache_breaks_no_request_and_costs_no_write_that_nothing_reads(monkeypatch):
    # review 134: a compatible server that sent no counts failed every marked call (the estimate read the blocks
    # as text); a custom template that sample points break failed every answer; the user's own cache_control could
    # follow a breakpoint of ours; points after a skeleton written by another model were marked, each a write
    import sotkit.testing._wire as wire

    context = "Sleep matters most, then food. " * 200
    other = ("{% block user %}{{ context }}\n{{ question }}\n{% for p in points %}{{ p.title }}\n{% endfor %}"
             "{% set rest = points | rejectattr('index', 'eq', point.index) | first %}"
             "Write {{ point.title }}, not {{ rest.title }}.{% endblock %}")  # needs two points
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        with monkeypatch.context() as uncounted:
            uncounted.setattr(wire, "_anthropic_inputs", lambda usage: {})  # message_start counts nothing
            async with client(server, "anthropic", CLAUDE) as sot:
                estimated = await sot.generate("How can I be healthier?", context=context)
        async with client(server, "anthropic", CLAUDE, templates={"expand": other}) as sot:
            templated = await sot.generate("How can I be healthier?", context=context)
        async with client(server, "anthropic", CLAUDE, extra_body={"cache_control": {"type": "ephemeral"}}) as sot:
            await sot.generate("How can I be healthier?", context=context)
        async with client(server, "anthropic") as sot:  # another model on the Messages API: its server may take none
            await sot.generate("How can I be healthier?", context=context)
    assert estimated.usage.estimated and len(estimated.points) == 4 and len(templated.points) == 4
    assert [_marked(r) is not None for r in server.requests] == [True] * 5 + [False] * 15
    with FakeLLMServer(lambda r: Reply("", fault=Fault.status(400)) if r.api == "anthropic" and is_skeleton(r)
                       else sot_responder(SKELETON)(r), latency=FAST) as server:
        async with client(server, "anthropic", CLAUDE, fallback=create_provider(
                "openai:backup", api_key="k", base_url=server.openai_base_url)) as sot:
            await sot.generate("How can I be healthier?", context=context)
    marked = [(r.api, is_skeleton(r), _marked(r) is not None) for r in server.requests]
    assert marked[:2] == [("anthropic", True, True), ("openai", True, False)]  # the fallback wrote the skeleton
    assert marked[2:] == [("anthropic", False, False)] * 4  # so no point reads a cache: none is marked


async def test_a_custom_template_whose_prompts_share_no_long_prefix_marks_nothing():
    # the context after the instructions: the skeleton's and the points' prompts differ from their first line
    templates = {"skeleton": "{% block user %}Outline: {{ question }}\n\n{{ context }}{% endblock %}",
                 "expand": "{% block user %}Write point {{ point.index }} ({{ point.title }}): {{ question }}\n\n"
                           "{{ context }}{% endblock %}"}
    with FakeLLMServer(lambda r: SKELETON if r.user.startswith("Outline") else "Do it.", latency=FAST) as server:
        async with client(server, "anthropic", CLAUDE, templates=templates) as sot:
            await sot.generate("How can I be healthier?", context="Sleep matters most. " * 400)
    assert len(server.requests) == 5 and [_marked(r) for r in server.requests] == [None] * 5


async def test_a_context_that_a_custom_template_would_drop_is_an_error(provider):
    templates = {"sequential": "{% block user %}{{ question }}{% endblock %}"}
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with client(server, provider, templates=templates) as sot:
            with pytest.raises(sotkit.ConfigError, match="sequential never use"):
                await sot.generate("Why?", context="a long document")
        with pytest.raises(sotkit.ConfigError, match="sequential never use"):  # given to the client: at once
            client(server, provider, templates=templates, context="a long document")
    assert server.requests == []


async def test_a_temperature_the_api_does_not_take_is_refused_before_any_request(provider):
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        if provider == "anthropic":  # Anthropic takes 0 to 1, OpenAI 0 to 2
            with pytest.raises(sotkit.ConfigError, match=r"temperature=1.5 is above 1.0, the most anthropic:"):
                client(server, provider, temperature=1.5)
            async with client(server, provider) as sot:
                with pytest.raises(sotkit.ConfigError, match=r"use 0 to 1.0"):
                    await sot.generate("Why?", temperature=1.2)
            assert server.requests == []
        else:
            async with client(server, provider, temperature=1.5, mode="sequential") as sot:
                await sot.generate("Why?")
            assert server.requests[0].body["temperature"] == 1.5


@pytest.mark.parametrize("skeleton, points", [
    ("1." + " 1." * 400, 0),  # a model repeating itself: no line ever ends
    ("\n".join(f"{i}. Point number {i}" for i in range(1, 60)), 3),  # more points than max_points
])
async def test_a_skeleton_that_cannot_give_more_is_cut_off(provider, skeleton, points):
    slow = Latency(ttft_s=0.0, tokens_per_s=400)
    with FakeLLMServer(sot_responder(skeleton, sequential="Plain.", skeleton_latency=slow), latency=FAST) as server:
        async with client(server, provider, max_points=3) as sot:
            result = await sot.generate("What is this?")
        await server.wait_idle_async()
    # the first "1." of "1. 1. 1." is the prefill's again, as from a server that ignored it: no prefill then
    requests = [r for r in server.requests if is_skeleton(r)]
    assert len(requests) == 1 + (provider == "anthropic" and not points)
    assert all(r.client_closed for r in requests)  # the rest of the skeleton was not paid for
    assert len(result.points) == points and result.mode == ("sot" if points else "sequential")


class ScriptedBatchModel(sotkit.providers.base.Provider):
    """An in-process-like model: expands in one batch, reports each row's usage, ends its text at the budget."""

    model = "scripted:batch"
    supports_prefill = supports_batch = True

    def __init__(self, skeleton: str, rows: dict[str, str], *, whole_sentences: bool) -> None:
        self.skeleton, self.rows, self.whole_sentences = skeleton, rows, whole_sentences

    async def stream(self, request):
        yield self.skeleton
        yield sotkit.providers.base.CallUsage(10, 10)

    async def stream_batch(self, requests):
        for row, request in enumerate(requests):
            title = next(t for t in self.rows if request.prompt.user.endswith(t))
            words = self.rows[title].split(" ")[: request.max_tokens]  # a word a token
            for i, word in enumerate(words):
                yield row, (" " if i else "") + word
            yield row, sotkit.providers.base.CallUsage(10, len(words))


class BrokenBatchModel(ScriptedBatchModel):
    """Point 2's row comes back empty in the first batch; the prefilled batch breaks before it; its single retry is
    empty: ``asked`` records each (kind, prefill) of point 2's."""

    def __init__(self) -> None:
        super().__init__(" Sleep well\n2. Move daily\n3. Eat well", {"Sleep well": "Sleep eight hours.",
                         "Move daily": "", "Eat well": "Eat vegetables."}, whole_sentences=False)
        self.asked: list[tuple[str, str | None]] = []

    async def stream(self, request):
        if not request.prompt.user.endswith("Move daily"):  # the skeleton
            async for chunk in super().stream(request):
                yield chunk
            return
        self.asked.append(("single", request.prompt.prefill))
        yield sotkit.providers.base.CallUsage(10, 0)

    async def stream_batch(self, requests):
        row = next(r for r, request in enumerate(requests) if request.prompt.user.endswith("Move daily"))
        self.asked.append(("batch", requests[row].prompt.prefill))
        if len(requests) == 1:
            raise ConnectionError("the batch broke")
        async for chunk in super().stream_batch(requests):
            yield chunk


@pytest.mark.parametrize("fallback_writes", [True, False])
async def test_a_batch_rows_single_retry_that_went_on_to_the_fallback_asks_the_fallback_again_not_the_batch(
        fallback_writes):
    # review 273: the fallback, asked inside the row's single retry and left empty, sent the point back to the main
    # model's batch (a third ask of it; where that was empty too, a second FallbackEvent)
    model = BrokenBatchModel()
    replies = iter(["", "Walk daily." if fallback_writes else ""])
    templates = {"expand": "{% block user %}{{ question }} {{ point.title }}{% endblock %}"}
    with FakeLLMServer(lambda request: next(replies) if "Move daily" in request.user else "Other.",
                       latency=FAST) as server:
        backup = create_provider("anthropic:backup", api_key="k", base_url=server.anthropic_base_url)
        async with sotkit.SoT(model, templates=templates, mode="sot", fallback=backup, on_point_error="skip") as sot, \
                sot.stream("How can I be healthier?") as events:
            seen = [event async for event in events]
        await backup.aclose()
    assert model.asked == [("batch", None), ("batch", "Move daily:"), ("single", "Move daily:")]
    assert [r.prefill for r in server.requests if "Move daily" in r.user] == [None, "Move daily:"]
    assert len([e for e in seen if e.type == "fallback"]) == 1
    point = seen[-1].result.points[1]
    assert (point.model, point.failed, point.text) == ("anthropic:backup", not fallback_writes,
                                                       "Walk daily." if fallback_writes else "")


@pytest.mark.parametrize("whole_sentences", [True, False])
async def test_a_local_point_cut_by_its_budget_ends_at_a_complete_sentence(whole_sentences):
    rows = {"Sleep well": "Sleep eight hours. Keep a fixed bedtime and wake",
            "Move daily": "Walk every day. Take the stairs.",
            "Eat well": "Eat vegetables. Also move daily when you can. More."}
    model = ScriptedBatchModel(" Sleep well\n2. Move daily\n3. Eat well", rows, whole_sentences=whole_sentences)
    templates = {"expand": "{% block user %}{{ question }} {{ point.title }}{% endblock %}"}
    async with sotkit.SoT(model, templates=templates, mode="sot", point_max_tokens=9) as sot, \
            sot.stream("How can I be healthier?") as events:
        seen = [event async for event in events]
    result = seen[-1].result
    assert "".join(e.text for e in seen if e.type == "text") == result.text
    if whole_sentences:  # the cut sentence is dropped, and point 3 stops before it names point 2
        assert [p.text for p in result.points] == ["Sleep eight hours.", "Walk every day. Take the stairs.",
                                                   "Eat vegetables."]
    else:  # API models keep what they wrote
        assert result.points[0].text == rows["Sleep well"]


class LocalFallback(sotkit.providers.base.Provider):
    """An in-process fallback (its templates the local/ variants): it writes any point it is asked for."""

    model = "local:fallback"

    async def stream(self, request):
        yield "A fallback's text."
        yield sotkit.providers.base.CallUsage(5, 4)


@pytest.mark.parametrize("main_fails", [Reply("", fault=Fault.status(500)), Reply("")])
async def test_a_fallback_whose_template_did_not_render_leaves_the_main_models_error_said(tmp_path, main_fails):
    # review 266, 267: the main model failed point 2 (a 500, or no text twice), the fallback's local/ template did
    # not render for it, and the error said "no model was asked for them"
    (tmp_path / "local").mkdir()
    (tmp_path / "expand.jinja").write_text("{% block user %}{{ question }} {{ point.title }}{% endblock %}")
    (tmp_path / "local" / "expand.jinja").write_text(
        "{% block user %}{{ question }} {{ point.title }}{% if point.title == 'Eat less sugar' %}{{ 1 // 0 }}"
        "{% endif %}{% endblock %}")
    answers = sot_responder(SKELETON)

    def respond(request):
        return main_fails if request.user.endswith("Eat less sugar") else answers(request)
    with FakeLLMServer(respond, latency=FAST) as server:
        async with client(server, "openai", templates=tmp_path, fallback=LocalFallback(), retry=1) as sot:
            with pytest.raises(sotkit.PartialResultError) as failed:
                await sot.generate("How can I be healthier?")
    assert "no model was asked" not in str(failed.value) and "the fallback local:fallback failed too" in \
        str(failed.value)


@pytest.mark.parametrize("breaks", [["Move daily"], ["Sleep well", "Move daily", "Eat well"]])
async def test_a_batch_leaves_out_a_point_whose_template_did_not_render(breaks):
    # probe 260, review 264: the batch path of in-process models, as the single calls' (one point fails, the others
    # are written; all failing, no batch is sent)
    rows = {"Sleep well": "Sleep eight hours.", "Move daily": "Walk every day.", "Eat well": "Eat vegetables."}
    model = ScriptedBatchModel(" Sleep well\n2. Move daily\n3. Eat well", rows, whole_sentences=False)
    broken = " or ".join(f"point.title == {title!r}" for title in breaks)
    templates = {"expand": "{% block user %}{{ question }} {{ point.title }}{% if " + broken + " %}{{ 1 // 0 }}"
                           "{% endif %}{% endblock %}"}
    async with sotkit.SoT(model, templates=templates, mode="sot") as sot:
        with pytest.raises(sotkit.PartialResultError) as failed:
            await sot.generate("How can I be healthier?")
    points = failed.value.partial.points
    assert [p.title for p in points if p.failed] == breaks
    assert all(p.text == rows[p.title] for p in points if not p.failed)


class StallingBatchModel(ScriptedBatchModel):
    """Writes each row's first words, then runs on without a word more (a deadline stops it)."""

    async def stream_batch(self, requests):
        for row in range(len(requests)):
            yield row, "Forty characters of a row, written once."
        await anyio.sleep(60)


async def test_a_batch_a_deadline_stops_is_charged_an_estimate_of_what_its_rows_wrote():
    """Its rows' prompts and text were counted nowhere: the partial's usage was the skeleton's alone (probe 47)."""
    model = StallingBatchModel(" Sleep well\n2. Move daily", {}, whole_sentences=False)
    async with sotkit.SoT(model, mode="sot", deadline=0.5) as sot:
        with pytest.raises(sotkit.DeadlineExceeded) as caught:
            await sot.generate("How can I be healthier?")
    usage = caught.value.partial.usage
    assert usage.output_tokens == 10 + 2 * 10  # the skeleton's counts, and two rows of 40 characters, estimated
    assert (usage.calls, usage.estimated_calls) == (2, 1)
    # who wrote each row's text, as for a single call's (probe 242: a stopped local answer's points said null)
    assert [(p.text, p.model) for p in caught.value.partial.points] == \
        [("Forty characters of a row, written once.", model.model)] * 2


class WrongRowModel(ScriptedBatchModel):
    """Answers "Move daily" with ``wrong(request)`` (as SmolLM2 did: its prompt copied back, nothing, only its
    header), unless the point is prefilled and ``fixed_by_prefill`` holds; records the prefill of every row."""

    def __init__(self, wrong, *, fixed_by_prefill: bool) -> None:
        super().__init__(" Sleep well\n2. Move daily\n3. Eat well", ECHO_ROWS, whole_sentences=True)
        self.wrong, self.fixed_by_prefill, self.prefills = wrong, fixed_by_prefill, []

    async def stream_batch(self, requests):
        for row, request in enumerate(requests):
            self.prefills.append(request.prompt.prefill)
            title = next(t for t in self.rows if f'"{t}"' in request.prompt.user)
            text = self.rows[title]
            if title == "Move daily" and not (self.fixed_by_prefill and request.prompt.prefill):
                text = self.wrong(request)
            yield row, text
            yield row, sotkit.providers.base.CallUsage(10, 10)


def echoed_prompt(request) -> str:
    return request.prompt.user.rsplit("\n", 1)[-1]  # the instructions, copied


ECHO_ROWS = {"Sleep well": "Sleep eight hours.", "Move daily": "Walk every day.", "Eat well": "Eat vegetables."}
ECHO_TEMPLATES = {"expand": '{% block user %}{{ question }}\nWrite two sentences on "{{ point.title }}" for a '
                            "reader in a hurry.{% endblock %}"}


async def test_a_point_that_echoes_its_prompt_is_retried_with_a_prefill_and_the_echo_never_shown():
    model = WrongRowModel(echoed_prompt, fixed_by_prefill=True)
    async with sotkit.SoT(model, templates=ECHO_TEMPLATES, mode="sot") as sot, \
            sot.stream("How can I be healthier?") as events:
        seen = [event async for event in events]
    result = seen[-1].result
    assert [p.text for p in result.points] == ["Sleep eight hours.", "Walk every day.", "Eat vegetables."]
    assert model.prefills == [None, None, None, "Move daily:"]  # one retry, of the echoed point only
    assert result.points[1].attempts == 2 and result.usage.calls == 3  # skeleton, batch, retry
    assert not any("hurry" in getattr(e, "text", "") for e in seen)


@pytest.mark.parametrize("on_point_error", ["raise", "skip"])
async def test_a_point_that_echoes_again_when_retried_fails_without_showing_the_echo(on_point_error):
    model = WrongRowModel(echoed_prompt, fixed_by_prefill=False)
    async with sotkit.SoT(model, templates=ECHO_TEMPLATES, mode="sot", on_point_error=on_point_error) as sot:
        if on_point_error == "raise":
            with pytest.raises(sotkit.PartialResultError) as caught:
                await sot.generate("How can I be healthier?")
            assert isinstance(caught.value.__cause__, sotkit.errors.EchoedInstructions)
            result = caught.value.partial
        else:
            result = await sot.generate("How can I be healthier?")
    assert [(p.text, p.failed) for p in result.points] == [
        ("Sleep eight hours.", False), ("", True), ("Eat vegetables.", False)]
    assert "hurry" not in result.text and "Move daily" not in result.text
    assert model.prefills == [None, None, None, "Move daily:"]


async def test_a_local_point_that_only_names_itself_is_retried_on_a_new_line_after_its_header():
    # SmolLM2 answered "Use your bed for sleep" with "The answer is: Use your bed for sleep."; retried after a bare
    # "Title:" it opened its paragraph with the blank line that is the template's stop, and wrote nothing
    model = WrongRowModel(lambda request: "The answer is: Move daily.", fixed_by_prefill=True)
    templates = {"expand": ECHO_TEMPLATES["expand"] + "{% block stop %}\\n\\n{% endblock %}"}
    async with sotkit.SoT(model, templates=templates, mode="sot") as sot, \
            sot.stream("How can I be healthier?") as events:
        seen = [event async for event in events]
    result = seen[-1].result
    assert [p.text for p in result.points] == ["Sleep eight hours.", "Walk every day.", "Eat vegetables."]
    assert model.prefills == [None, None, None, "Move daily:\n"]
    assert not any("answer is" in getattr(e, "text", "") for e in seen)


async def test_an_api_point_that_echoes_its_prompt_is_not_shown(provider):
    # the SoT paper's prompt, copied back by the model for point 2
    echo = {2: "Continue and only continue the writing of point 2 (Eat less sugar). Cut soda first."}
    with FakeLLMServer(sot_responder(SKELETON, echo), latency=FAST) as server:
        async with client(server, provider) as sot:
            result = await sot.generate("How can I be healthier?")
    assert result.points[1].text == "Cut soda first."


async def test_a_sentence_a_template_of_yours_asks_for_is_no_echo_but_sotkits_own_words_are(provider):
    # probe 345: a disclaimer the template asks every point to end with, and a fact its system prompt gives, were
    # dropped as echoes of the prompt (a point of the fact alone failed as EchoedInstructions)
    disclaimer = "This is general information, not personal financial advice."
    expand = ("{% block system %}You are FinBot. Facts you may tell: Acme savings accounts pay 4 percent a year."
              "{% endblock %}{% block user %}[[point {{ point.index }}]] {{ question }}{% if context %}\n{{ context }}"
              "{% endif %}\nWrite point {{ point.index }} "
              "({{ point.title }}) in one sentence, then end with this exact sentence: " + disclaimer
              + "{% endblock %}")
    texts = {1: f"Keep three months of expenses. {disclaimer}", 2: "Acme savings accounts pay 4 percent a year.",
             3: "Continue and only continue the writing of point 3 (Move daily). Walk after meals.",  # sotkit's words
             4: 'Write point 4 (See friends) in one sentence. Call one today.'}  # the template's, about the point

    def respond(request: RecordedRequest) -> Reply:
        return Reply(SKELETON if is_skeleton(request) else texts[int(request.user.split("]]")[0][8:])])

    with FakeLLMServer(respond, latency=FAST) as server:
        async with client(server, provider, templates={"expand": expand}) as sot:
            result = await sot.generate("How can I save money?", mode="sot")
            assert [p.text for p in result.points] == [texts[1], texts[2], "Walk after meals.", "Call one today."]
            # review 347: a sentence of a long context that names a title, quoted by its point, was taken for the
            # template's own and dropped
            texts[2] = "Eat less sugar, the report says. Cut soda."
            context = "Notes. " * 1000 + "Eat less sugar, the report says. " + "More notes. " * 1000
            result = await sot.generate("How can I save money?", mode="sot", context=context)
    assert result.points[1].text == texts[2]


@pytest.mark.parametrize("silence", ["", "2. Move daily:"])
@pytest.mark.parametrize("fixed_by_prefill", [True, False])
async def test_a_point_left_without_text_is_retried_and_never_finished_empty(silence, fixed_by_prefill):
    model = WrongRowModel(lambda request: silence, fixed_by_prefill=fixed_by_prefill)
    async with sotkit.SoT(model, templates=ECHO_TEMPLATES, mode="sot") as sot:
        if fixed_by_prefill:
            result = await sot.generate("How can I be healthier?")
        else:
            with pytest.raises(sotkit.PartialResultError) as caught:
                await sot.generate("How can I be healthier?")
            error = caught.value.__cause__
            assert type(error) is sotkit.errors.EmptyPoint and "Move daily" in str(error)
            result = caught.value.partial
    assert model.prefills == [None, None, None, "Move daily:"]  # one retry, of the empty point only
    moved = ("Walk every day.", False) if fixed_by_prefill else ("", True)
    assert [(p.text, p.failed) for p in result.points] == [
        ("Sleep eight hours.", False), moved, ("Eat vegetables.", False)]
    assert ("Move daily" in result.text) == fixed_by_prefill


@pytest.mark.parametrize("silence", ["", "2. Eat less sugar:", "\u200b\xad"])  # (review 275: nothing that shows)
async def test_an_api_point_left_without_text_fails_or_goes_to_the_fallback(provider, silence):
    # a Claude model (before 4.6) surely continues a prefill: its "2. Eat less sugar:" again, and nothing after it,
    # is its own silence, not a server's that ignored the prefill
    model = {"model": "claude-3-5-haiku"} if provider == "anthropic" else {}
    with FakeLLMServer(sot_responder(SKELETON, {2: silence}), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, {2: "Cut soda first."}), latency=FAST) as backup:
        async with client(server, provider, **model) as sot:
            with pytest.raises(sotkit.PartialResultError) as caught:
                await sot.generate("How can I be healthier?")
        asked = [r.prefill for r in server.requests if point_of(r) == 2]
        fallback = create_provider("openai:backup", api_key="k", base_url=backup.openai_base_url)
        async with client(server, provider, fallback=fallback, **model) as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    error = caught.value.__cause__
    assert isinstance(error, sotkit.errors.EmptyPoint) and "came back without text of its own" in str(error)
    assert str(error).endswith(", also when asked again")
    # asked once more: Anthropic continues a prefill, so with a header other than the paper's "i. title"; OpenAI
    # takes none, so with the same request, which a sampling model answers anew
    assert asked == (["2. Eat less sugar:", "Eat less sugar:"] if provider == "anthropic" else [None, None])
    assert [p.failed for p in caught.value.partial.points] == [False, True, False, False]
    assert "Eat less sugar" not in caught.value.partial.text
    assert result.points[1].text == "Cut soda first." and result.points[1].model == "openai:backup"


@pytest.mark.parametrize("model", ["test-model", "claude-sonnet-4-6"])
async def test_a_header_of_the_templates_own_form_that_the_model_writes_is_not_kept_twice(provider, model):
    # probe 193: an expand template's prefill "Point 2 - Beta:", not sent where the model takes no prefill (OpenAI,
    # Claude 4.6) or found ignored (an alias: "test-model"), was written by the model itself and kept after the
    # answer's own header: "2. Beta: Point 2 - Beta: body 2."
    if provider == "openai" and model != "test-model":
        pytest.skip("a Claude name is Anthropic's")
    default = (DEFAULT_PROMPTS / "expand.jinja").read_text()
    expand = default.replace("{% block prefill %}{{ point.index }}. {{ point.title }}:{% endblock %}",
                             "{% block prefill %}Point {{ point.index }} - {{ point.title }}:{% endblock %}")
    assert expand != default
    titles = ["Sleep well", "Eat less sugar", "Move daily", "See friends"]
    model_reply = sot_responder(SKELETON)

    def respond(request):
        index = point_of(request)
        return Reply(f"Point {index} - {titles[index - 1]}: Body {index}.") if index else model_reply(request)

    with FakeLLMServer(respond, latency=FAST) as server:
        async with client(server, provider, model, templates={"expand": expand}) as sot:
            result = await sot.generate("How can I be healthier?")
    assert [p.text for p in result.points] == [f"Body {i}." for i in range(1, 5)]
    assert "Point 1 -" not in result.text


async def test_an_api_models_points_keep_an_opening_clause_that_restates_the_question(provider):
    # (a small model's lose it: test_expansion; an API model's may pick one of the things asked, probe 241)
    texts = {1: "To improve your sleep quality, go to bed at ten.", 2: "To improve sleep, eat less sugar.",
             3: "To keep fit, walk daily.", 4: "Friends help."}
    with FakeLLMServer(sot_responder(SKELETON, texts), latency=FAST) as server:
        async with client(server, provider) as sot, sot.stream("How can I improve my sleep quality?") as events:
            seen = [event async for event in events]
    result = seen[-1].result
    assert [p.text for p in result.points] == list(texts.values())
    assert "".join(e.text for e in seen if e.type == "text") == result.text


class Recorder(sotkit.providers.base.Provider):
    """A model served in-process ("local:", so it gets the local prompts) that records what it is asked."""

    def __init__(self, *, supports_context: bool = False, supports_prefill: bool = False,
                 reply=lambda request: "Sleep eight hours.") -> None:
        self.model, self.requests, self.reply = "local:recorder", [], reply
        self.supports_context, self.supports_prefill = supports_context, supports_prefill

    async def stream(self, request):
        self.requests.append(request)
        yield self.reply(request)
        yield sotkit.providers.base.CallUsage(10, 3)


async def test_a_model_that_reads_the_context_itself_gets_it_beside_the_prompt():
    reader = Recorder(supports_context=True)  # as FocusLLM does
    async with sotkit.SoT(reader, mode="sequential") as sot:
        await sot.generate("Why sleep?", context="REPORT: sleep matters most.")
    [request] = reader.requests
    assert request.context == "REPORT: sleep matters most." and "REPORT" not in request.prompt.user


async def test_a_fallback_model_is_asked_with_its_own_prompt():
    def point_2_fails(request):
        reply = sot_responder(SKELETON)(request)
        return Reply(reply.text, fault=Fault.status(500)) if point_of(request) == 2 else reply

    backup, retry = Recorder(), sotkit.RetryPolicy(attempts=2, initial_wait_s=0.01)
    with FakeLLMServer(point_2_fails, latency=FAST) as server:
        async with client(server, "openai", fallback=backup, retry=retry) as sot:
            result = await sot.generate("How can I be healthier?")
    assert result.points[1].model == "local:recorder"
    [request] = backup.requests
    outline = [{"index": i, "title": t} for i, t in enumerate(
        (line.split(". ", 1)[1] for line in SKELETON.splitlines()), 1)]
    expected = sotkit.Templates(local=True).render("expand", question="How can I be healthier?", context=None,
                                                   points=outline, point=outline[1])
    assert request.prompt == expected  # the in-process model's prompt, not the API model's


async def test_a_point_retried_on_the_fallback_model_stays_there():
    # the main model writes nothing for point 2, also when retried; the fallback writes it once prefilled
    backup = Recorder(supports_prefill=True, reply=lambda request: "Cut soda." if request.prompt.prefill else "")
    with FakeLLMServer(sot_responder(SKELETON, {2: ""}), latency=FAST) as server:
        async with client(server, "anthropic", fallback=backup) as sot:
            result = await sot.generate("How can I be healthier?")
    assert (result.points[1].text, result.points[1].model) == ("Cut soda.", "local:recorder")
    assert [r.prompt.prefill for r in backup.requests] == [None, "Eat less sugar:\n"]  # its stop is a blank line
    assert len([r for r in server.requests if point_of(r) == 2]) == 2


async def test_a_point_that_only_names_the_questions_topic_is_no_point(provider):
    # every expansion of "Healthier living" would be the whole answer again
    with FakeLLMServer(sot_responder("1. Healthier living\n2. Sleep well\n3. Move daily"), latency=FAST) as server:
        async with client(server, provider) as sot:
            result = await sot.generate("What does healthier living take?")
    assert [p.title for p in result.points] == ["Sleep well", "Move daily"]


async def test_a_retry_that_fails_over_to_the_fallback_model_is_still_asked_as_a_retry():
    # point 2 comes back empty, and its prefilled retry meets a server error: the fallback gets the retry's header
    def respond(request):
        reply = sot_responder(SKELETON, {2: ""})(request)
        return Reply(reply.text, fault=Fault.status(500)) if point_of(request) == 2 and request.prefill != \
            "2. Eat less sugar:" else reply

    backup = Recorder(supports_prefill=True, reply=lambda request: "Cut soda.")
    with FakeLLMServer(respond, latency=FAST) as server:
        async with client(server, "anthropic", fallback=backup, retry=sotkit.RetryPolicy(attempts=1)) as sot:
            result = await sot.generate("How can I be healthier?")
    assert (result.points[1].text, result.points[1].model) == ("Cut soda.", "local:recorder")
    assert [r.prompt.prefill for r in backup.requests] == ["Eat less sugar:\n"]


async def test_two_tasks_reading_one_stream_both_end():
    # each waiting read made an event of its own and only the newest was set: the other reader waited for ever
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with client(server, "openai") as sot, sot.stream("How can I be healthier?") as events:
            read: dict[str, list] = {"a": [], "b": []}

            async def reader(name: str) -> None:
                async for event in events:
                    read[name].append(event.type)

            with anyio.fail_after(20):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(reader, "a")
                    tg.start_soon(reader, "b")
    events_read = read["a"] + read["b"]
    assert events_read.count("done") == 1 and events_read.count("point_done") == 4


async def test_a_partial_result_has_its_route_and_a_result_read_later_its_own_timings():
    # the route's reason was set only once the skeleton phase ended (a partial result had None), and total_s grew
    # with every later call of result()
    slow = {i: Latency(ttft_s=5.0, tokens_per_s=2000) for i in range(1, 5)}
    with FakeLLMServer(sot_responder(SKELETON, point_latency=slow), latency=FAST) as server:
        async with client(server, "openai", deadline=1.0) as sot:
            with pytest.raises(sotkit.DeadlineExceeded) as ended:
                await sot.generate("How can I be healthier?")
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with client(server, "openai") as sot, sot.stream("How can I be healthier?") as events:
            async for event in events:
                pass
            await anyio.sleep(0.3)
            result = events.result()
    assert ended.value.partial.route_reason == "mode='sot' was requested"
    assert result.timings.total_s == event.result.timings.total_s


async def test_a_point_that_runs_on_under_a_title_parsed_after_its_call_started_ends_there(provider):
    # point 2's call starts once two lines are parsed; its reply runs on into point 4 under a bold title, which
    # the skeleton had not written when the call started: point 4's text was in point 2 as well
    texts = {2: "Cut soda first.\n\n**See friends:** Call one a week.", 4: "Call one a week."}
    late = {2: Latency(ttft_s=3.0, tokens_per_s=2000)}  # it writes once the skeleton is whole
    with FakeLLMServer(sot_responder(SKELETON + "\n", texts, point_latency=late,
                                     skeleton_latency=Latency(ttft_s=0.0, tokens_per_s=10)), latency=FAST) as server:
        async with client(server, provider) as sot:
            result = await sot.generate("How can I be healthier?")
    point_2 = next(r for r in expansions(server) if point_of(r) == 2)
    skeleton = next(r for r in server.requests if is_skeleton(r))
    assert point_2.received_at < skeleton.finished_at  # the premise: asked before point 4 was parsed
    assert result.points[1].text == "Cut soda first." and result.points[3].text == "Call one a week."


async def test_an_api_models_sentence_that_names_another_point_is_no_echo(provider):
    # the other points' titles are in the prompt's skeleton, so a short sentence naming one was taken for a copy of
    # the prompt and dropped
    skeleton = "1. Use a password manager\n2. Enable two-factor authentication\n3. Avoid reuse"
    texts = {2: "2FA blocks most takeovers. Use a password manager too."}
    with FakeLLMServer(sot_responder(skeleton, texts), latency=FAST) as server:
        async with client(server, provider) as sot:
            result = await sot.generate("What are the best practices for password security?")
    assert result.points[1].text == "2FA blocks most takeovers. Use a password manager too."


async def test_a_point_with_sections_headed_by_earlier_points_titles_keeps_them(provider):
    # "Treatment" compares the types the skeleton listed before it: its sections were cut as a run-on (probe 31);
    # a reply runs on into the points after its own
    skeleton = "1. Type 1 diabetes\n2. Type 2 diabetes\n3. Treatment\n4. Prevention"
    texts = {3: "It depends on the type.\n\n### Type 1 diabetes\nInsulin for life.\n\n### Type 2 diabetes\nDiet first.",
             2: "It develops slowly.\n\n### Prevention\nStay active."}
    with FakeLLMServer(sot_responder(skeleton, texts), latency=FAST) as server:
        async with client(server, provider) as sot:
            result = await sot.generate("How do type 1 and type 2 diabetes differ?")
    assert result.points[2].text == texts[3]
    assert result.points[1].text == "It develops slowly."  # a later point's title still ends a point


@pytest.mark.parametrize("model", ["claude-3-5-haiku", "claude-sonnet-4-6"])  # continues a prefill; is sent none
async def test_a_sequential_answer_opens_with_the_prefill_its_model_continued(model):
    # a team's template prefilled "In short,": Claude 3.5 continued it, and the answer lost it (probe 62); the same
    # for complete(), whose judges' "Verdict: [[" prefill made every verdict unparseable
    templates = {"sequential": "{% block user %}{{ question }}{% endblock %}{% block prefill %}In short,{% endblock %}"}

    def respond(request: RecordedRequest) -> str:
        return " log every purchase." if request.prefill == "In short," else "In short, log every purchase."

    with FakeLLMServer(respond, latency=FAST) as server:
        async with client(server, "anthropic", model, mode="sequential", templates=templates) as sot:
            result = await sot.generate("How do I budget?")
            completed = await sot.complete("sequential", {"question": "How do I budget?"})
    assert result.text == completed.text == "In short, log every purchase."


async def test_a_skeleton_in_a_list_style_no_rule_reads_says_so_in_the_reason():
    # a team's template asked for "a) b) c)": the answer went sequential, its reason saying only "0 point(s)"
    with FakeLLMServer(sot_responder("a) Sleep well\nb) Eat less sugar\nc) Move daily",
                                     sequential="Sleep, eat less sugar, move."), latency=FAST) as server:
        async with client(server, "openai") as sot:
            result = await sot.generate("How can I be healthier?")
    assert result.mode == "sequential" and "(no list it reads: lines opening with '1.'" in result.route_reason
    # probe 324: titles of emoji alone are no list it reads either, and the reason says what a title needs
    with FakeLLMServer(sot_responder("1. 🛏️⏰\n2. ☕🚫\n3. ❄️🌙", sequential="Sleep."), latency=FAST) as server:
        async with client(server, "openai") as sot:
            result = await sot.generate("How can I sleep better?")
    assert result.mode == "sequential"
    assert "then a space, none needed in a script written without spaces, and a title with a letter" \
        in result.route_reason


async def test_a_skeleton_cut_off_before_its_second_point_says_what_cut_it_in_the_reason():
    # probe 142: a skeleton the provider's filter stopped in its second line went sequential "because the skeleton
    # had 1 point(s)", the filter unsaid
    model = sot_responder("1. Sleep well\n2. Eat less sugar", sequential="Sleep, eat less sugar, move.")

    def respond(request: RecordedRequest) -> Reply:
        return Reply("1. Sleep well\n2. Eat", fault=Fault.filtered(after_tokens=100)) if is_skeleton(request) \
            else model(request)

    with FakeLLMServer(respond, latency=FAST) as server:
        async with client(server, "openai") as sot:
            result = await sot.generate("How can I be healthier?", mode="sot")
    assert result.mode == "sequential" and result.route_reason == (
        "the skeleton had 1 point(s), so the answer is sequential (the skeleton was cut off by the provider's "
        "filter ('content_filter') after 1 point(s))")


async def test_a_prefill_opens_the_answer_only_with_its_models_first_text():
    # sent at the call's start, it stayed when the main model failed before any text and a fallback wrote the whole
    # answer ("In short,In short, ..."), and a failure before any text became a PartialResultError holding only the
    # prefill in place of the SDK's own error (probe 64)
    templates = {"sequential": "{% block user %}{{ question }}{% endblock %}{% block prefill %}In short,{% endblock %}"}
    backup = Recorder(reply=lambda request: "In short, rest.")  # sent no prefill: writes it itself
    with FakeLLMServer(Reply("x", fault=Fault.status(500)), latency=FAST) as server:
        async with client(server, "anthropic", "claude-3-5-haiku", mode="sequential", templates=templates,
                          retry=sotkit.RetryPolicy(attempts=1)) as sot:
            with pytest.raises(anthropic.InternalServerError):
                await sot.generate("How do I sleep?")
        async with client(server, "anthropic", "claude-3-5-haiku", mode="sequential", templates=templates,
                          retry=sotkit.RetryPolicy(attempts=1), fallback=backup) as sot:
            result = await sot.generate("How do I sleep?")
    assert result.text == "In short, rest."
