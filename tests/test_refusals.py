"""Parts of a request a model refuses with HTTP 400 and sotkit can do without. Claude models from 4.6 on refuse an
assistant prefill ("This model does not support assistant message prefill"): sotkit sends them none, and a server
that refuses one under a name it does not know gets none from then on, the refused calls going again at once,
written from their start. OpenAI's reasoning models and Claude Opus 4.7 refuse a temperature, which the LLM router
and the judges send: it is left out from then on, with a warning. Real SDKs, loopback server."""

from __future__ import annotations

import asyncio
import warnings

import openai
import pytest

import sotkit
from sotkit.providers import create_provider
from sotkit.router import make_router
from sotkit.providers.anthropic import takes_prefill
from sotkit.providers.base import char_weight, estimated_tokens
from sotkit.testing import FakeLLMServer, Fault, Latency, RecordedRequest, Reply
from sotkit.testing._replies import split_tokens
from tests.conftest import is_skeleton, joined, point_of, sot_responder

pytestmark = pytest.mark.anyio

REFUSAL = {"type": "error", "error": {"type": "invalid_request_error", "message": "This model does not support "
                                      "assistant message prefill. The conversation must end with a user message."}}
SKELETON = "1. Sleep well\n2. Eat less sugar\n3. Move daily\n4. See friends"
#: as a model writes a point without a prefill: its header restated, then its text
POINTS = {1: "**Sleep well**: Aim for eight hours a night.", 2: "**Eat less sugar**: Swap soda for water.",
          3: "**Move daily**: Walk for thirty minutes.", 4: "**See friends**: Call one friend a week."}
TEXTS = ["Aim for eight hours a night.", "Swap soda for water.", "Walk for thirty minutes.", "Call one friend a week."]
TITLES = ["Sleep well", "Eat less sugar", "Move daily", "See friends"]


@pytest.mark.parametrize("name, takes", [
    ("claude-sonnet-4-6", False), ("claude-opus-4-7", False), ("claude-opus-4-8-20260901", False),
    ("claude-sonnet-5", False), ("us.anthropic.claude-opus-4-6-v1", False), ("Claude-Haiku-4-6", False),
    ("claude-sonnet-4-5", True), ("claude-haiku-4-5-20251001", True), ("claude-opus-4-1-20250805", True),
    ("claude-sonnet-4-20250514", True), ("claude-3-5-sonnet-20241022", True), ("claude-3-haiku-20240307", True),
    ("anthropic.claude-3-7-sonnet-20250219-v1:0", True),
    ("m", True), ("deepseek-chat", True), ("my-proxy-alias", True),  # no version: sent one until refused
])
def test_which_models_are_sent_a_prefill(name, takes):
    assert takes_prefill(name) is takes


def refusing(prefill_refused: bool):
    """A model answering without a prefill as models do; ``prefill_refused``: its server answers any request that
    carries one with the API's 400, whatever the model's name."""

    def respond(request: RecordedRequest) -> Reply:
        if request.prefill is not None:
            assert not prefill_refused, "a prefill was sent after the server refused one"
            return Reply("", fault=Fault.status(400, body=REFUSAL))
        if is_skeleton(request):
            return Reply(SKELETON)
        index = point_of(request)
        return Reply(POINTS[index] if index else "A plain answer.")

    return respond


async def answer(server: FakeLLMServer, model: str, **options) -> tuple[sotkit.Result, list]:
    async with sotkit.SoT(f"anthropic:{model}", base_url=server.anthropic_base_url, api_key="k",
                          **{"mode": "sot", **options}) as sot:
        async with sot.stream("How can I live well?") as stream:
            events = [event async for event in stream]
    return events[-1].result, events


def check(result: sotkit.Result, events: list) -> None:
    assert [p.title for p in result.points] == TITLES
    assert [p.text for p in result.points] == TEXTS
    assert [p.attempts for p in result.points] == [1, 1, 1, 1]
    assert joined(events) == result.text


async def test_a_claude_model_that_refuses_a_prefill_is_sent_none():
    """The fake server refuses a prefill for these names as the API does; sotkit never sends one, so no call fails
    and the skeleton and points are read as written from their start."""
    with FakeLLMServer(refusing(prefill_refused=False), latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        result, events = await answer(server, "claude-sonnet-4-6")
    check(result, events)
    assert all(r.prefill is None and r.status == 200 for r in server.requests)


async def test_the_fake_server_refuses_a_prefill_for_claude_from_4_6_as_the_api_does():
    from anthropic import AsyncAnthropic, BadRequestError

    with FakeLLMServer("Hello.") as server:
        client = AsyncAnthropic(api_key="k", base_url=server.anthropic_base_url, max_retries=0)
        messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Well,"}]
        with pytest.raises(BadRequestError, match="does not support assistant message prefill"):
            await client.messages.create(model="claude-opus-4-7", max_tokens=10, messages=messages)
        reply = await client.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=messages)
        await client.close()
    assert reply.content[0].text == "Hello."


#: a skeleton template without the default's prefill: the points' prefills are the first refused
UNPREFILLED = {"skeleton": "{% block user %}Give the skeleton (not the full content) of an answer to: {{ question }}"
                           "{% endblock %}"}


@pytest.mark.parametrize("options", [{}, {"max_concurrency": 1, "templates": UNPREFILLED}])
async def test_a_server_that_refuses_a_prefill_gets_none_from_then_on(options):
    """A name sotkit cannot place ("m") is sent a prefill; the server's 400 turns it off for the client, and the
    refused calls go again at once, read as written from their start ("**Sleep well**: ..." loses its header).
    With one concurrency slot and the points' prefills the first refused, the points that waited for the slot were
    set up to continue a prefill before the refusal: they start over too."""
    responder = refusing(prefill_refused=False)
    with FakeLLMServer(responder, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        result, events = await answer(server, "m", **options)
        check(result, events)
        refused = [r for r in server.requests if r.status == 400]
        assert refused and all(r.prefill is not None for r in refused)
        assert not any(e.type == "retry" for e in events)  # no retry: the refused requests wrote nothing


async def test_a_client_sends_no_prefill_after_its_server_refused_one():
    requests = []

    def respond(request: RecordedRequest) -> Reply:
        requests.append(request.prefill)
        return refusing(prefill_refused=False)(request)

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        async with sotkit.SoT("anthropic:m", base_url=server.anthropic_base_url, api_key="k", mode="sot") as sot:
            first = await sot.generate("How can I live well?")
            refused = sum(p is not None for p in requests)
            requests.clear()
            second = await sot.generate("How can I live well?")
    assert refused >= 1 and requests and all(p is None for p in requests)
    assert [p.text for p in first.points] == [p.text for p in second.points] == TEXTS


async def test_calls_set_up_before_the_refusal_start_over_without_the_prefill():
    """Two answers on one client with one concurrency slot: the second's skeleton, set up to continue "1." while
    it waited for the slot, goes out after the first's refusal turned the prefill off, so it is read from its
    start (its "Here is a skeleton:" no point title)."""
    import anyio

    results = []
    with FakeLLMServer(refusing(prefill_refused=False), latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        async with sotkit.SoT("anthropic:m", base_url=server.anthropic_base_url, api_key="k", mode="sot",
                              max_concurrency=1) as sot:
            async def ask() -> None:
                results.append(await sot.generate("How can I live well?"))

            async with anyio.create_task_group() as tg:
                tg.start_soon(ask)
                tg.start_soon(ask)
    assert [[p.title for p in r.points] for r in results] == [TITLES, TITLES]
    assert [[p.text for p in r.points] for r in results] == [TEXTS, TEXTS]
    assert sum(r.status == 400 for r in server.requests) == 1


def ignoring():
    """A server that takes a prefill and ignores it (a gateway that renders the messages through a chat template):
    its model writes its answer from the start, as without one."""
    def respond(request: RecordedRequest) -> Reply:
        index = point_of(request)
        return Reply(SKELETON if is_skeleton(request) else POINTS[index] if index else "A plain answer.")

    return respond


async def test_a_server_that_ignores_the_skeletons_prefill_is_sent_none():
    # "1." then the model's own "1. Sleep well\n2. ..." read as "1.1. Sleep well": the first point was lost and the
    # rest were numbered one down, with no error
    with FakeLLMServer(ignoring(), latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        result, events = await answer(server, "deepseek-chat")
    check(result, events)
    assert [r.prefill for r in server.requests if r.prefill is not None] == ["1."]  # the first skeleton's only
    assert not any(e.type in ("retry", "withdraw") for e in events)  # its repeated "1." was held back, never shown


async def test_a_point_that_broke_off_is_restarted_where_the_model_is_not_known_to_continue_a_prefill():
    # A gateway that ignores a prefill, with a sampled model: its first attempts take the header's prefill as any
    # model might (a point need not restate it), a point breaks off after "Swap soda for", and the resumed prefill
    # "...: Swap soda for" is ignored by a fresh sample: "Swap soda for Drink water ..." was the point's text, two
    # generations spliced, returned as a success (probe 52). Now the point restarts.
    def respond(request: RecordedRequest) -> Reply:
        if is_skeleton(request):
            return Reply(SKELETON[len(request.prefill or ""):])
        index = point_of(request)
        if request.attempt == 1:
            return Reply(" " + TEXTS[index - 1], fault=Fault.drop(after_tokens=3) if index == 2 else None)
        return Reply("Drink water instead of soda.")  # a sample of its own, whatever was prefilled

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        result, events = await answer(server, "deepseek-chat", retry=sotkit.RetryPolicy(initial_wait_s=0.01))
    assert [p.text for p in result.points] == [TEXTS[0], "Drink water instead of soda.", *TEXTS[2:]]
    assert joined(events) == result.text and [e.type for e in events].count("withdraw") <= 1
    assert [r.prefill for r in server.requests if point_of(r) == 2] == ["2. Eat less sugar:"] * 2


@pytest.mark.parametrize("prefill, opening", [
    ("1.", "1."), ("2. Eat less sugar:", "2. Eat less sugar:"),
    ("12. A title much longer than the check needs", "12. A title much longer "),
    ("\n", ""), (None, ""),  # a blank prefill: any text would repeat it
])
def test_what_a_server_that_ignores_the_prefill_would_write_again(prefill, opening):
    from sotkit.providers.base import ChatRequest, Prompt
    from sotkit.runner import Backend, _openings, _repeated

    request = ChatRequest(Prompt("Hi", prefill=prefill), max_tokens=50)
    alias = Backend(create_provider("anthropic:my-proxy-alias", api_key="k"), None, None)  # as ignoring
    # a Claude name too (a gateway or an alias may carry it; probe 188, review 190)
    claude = Backend(create_provider("anthropic:claude-3-5-haiku", api_key="k"), None, None)
    whole = opening == (prefill or "").strip()  # the prefill's end is a word's: a repeat goes on with no letter
    for backend in (alias, claude):
        assert _openings(backend, request, "") == (((opening, whole),) if opening else ())
    # an in-process model is given its prefill by sotkit itself: a reply that repeats it is the model's own
    local = Backend(create_provider("local:smollm2"), None, None)
    assert _openings(local, request, "") == _openings(local, request, " Aim for eight hours of sleep every day") == ()
    # a resumed text (Claude's only) written again from its start, as a whole: not its first words, not the prefill's
    done = " Aim for eight hours of sleep every night."
    assert _openings(claude, request, done) == \
        tuple(dict.fromkeys([(done.strip(), False), (((prefill or "").strip() + done).strip(), False)]))
    if opening:  # undecided while the reply may still open with it
        assert [_repeated(opening + " Sleep", ((opening, whole),)), _repeated(opening[:1], ((opening, whole),)),
                _repeated("Sleep", ((opening, whole),))] == [True, None, False]
        # review 192: a real Claude goes on from "1." with "1.5 liters" (its own first point), not "1." again
        assert _repeated(opening + "5 liters", ((opening, whole),)) is (not (whole and opening == "1."))
        assert _repeated(opening, ((opening, whole),)) is (None if whole else True)  # its next character says
    texts = _openings(claude, request, done)
    assert [_repeated("Aim for eight", texts), _repeated("Aim for eight hours of sleep every night. Also", texts),
            _repeated("Aim for eight hours of sleep every day", texts)] == [None, True, False]


@pytest.mark.parametrize("prefill, reply, repeated", [
    ("1.", "1.5 liters of water a day", False), ("Sure", "Surely, here", False),  # going on with its word or number
    ("1.", "1.e4 – King's Pawn Opening", False),  # review 195: a chess opening, not "1." again
    ("1.", "1. Sleep well", True), ("1.", "1.充足睡眠", True), ("2. 少吃糖:", "2. 少吃糖:用水代替", True),
    # review 194: a prefill followed by a letter is written again all the same
    ("Verdict: [[", "Verdict: [[A]] is better.", True), ('{"answer": "', '{"answer": "Paris"}', True),
    ("The answer is (", "The answer is (B).", True),
])
def test_a_prefill_written_again_is_told_from_its_own_last_word_going_on(prefill, reply, repeated):
    from sotkit.runner import _repeated

    assert _repeated(reply, ((prefill, True),)) is repeated


@pytest.mark.parametrize("prefill", ["#", "[", "```", "--"])
def test_a_prefill_without_a_letter_or_digit_is_not_taken_for_repeated(prefill):
    # review 192: "#" then "# Getting started" is a level-2 heading a model writes on from its prefill
    from sotkit.providers.base import ChatRequest, Prompt
    from sotkit.runner import Backend, _openings

    claude = Backend(create_provider("anthropic:claude-3-5-haiku", api_key="k"), None, None)
    assert _openings(claude, ChatRequest(Prompt("Hi", prefill=prefill), max_tokens=50), "") == ()


@pytest.mark.parametrize("bullet, written", [("-", "- "), ("*", "* "), ("•", "• "),
                                             ("•", "- "), ("-", "* "), ("-", "-\t"),  # (review 306: another bullet)
                                             ("-", "  - ")])  # (review 309: after spaces)
async def test_a_skeleton_prefilled_with_a_bullet_on_a_server_that_ignores_it_loses_no_point(bullet, written):
    # probe 305: a template asking for its skeleton as bullets prefilled "-", and the model's own "- Sleep well"
    # after it was read as "-- Sleep well": the first point was lost, with no flag and no error
    def respond(request: RecordedRequest) -> Reply:
        return Reply("\n".join(written + title for title in TITLES) if is_skeleton(request)
                     else POINTS[point_of(request)])

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        result, events = await answer(server, "my-gateway-alias", templates={"skeleton": bulleted(bullet)})
    check(result, events)
    assert [r.prefill for r in server.requests if is_skeleton(r)] == [bullet, None]


@pytest.mark.parametrize("going_on", [" Sleep well", "\n- Sleep well", "\n\n* Sleep well"])
async def test_a_model_that_goes_on_from_a_bullet_prefill_is_not_taken_for_one_that_ignores_it(going_on):
    # review 306: "\n- Sleep well" after "-" (an empty first item, then the list) was taken for the list written
    # again: a skeleton call thrown away, and no prefill sent again for the client's life
    from sotkit.runner import _BULLET_OPENINGS, _repeated

    def respond(request: RecordedRequest) -> Reply:
        if is_skeleton(request):
            rest = "\n".join(f"- {title}" for title in TITLES[1:])
            return Reply(f"{going_on}\n{rest}" if request.prefill else "x")
        return Reply(POINTS[point_of(request)][len(request.prefill or ""):])

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        result, _ = await answer(server, "claude-3-5-sonnet-20241022", templates={"skeleton": bulleted("-")})
    assert [p.title for p in result.points] == TITLES
    assert [r.prefill for r in server.requests if is_skeleton(r)] == ["-"]
    bullets = tuple((opening, False) for opening in _BULLET_OPENINGS)
    assert [_repeated(text, bullets) for text in ("", "-", "- ", "*\t", " - Sleep", "--", "\n", "\n- Sleep")] == \
        [None, None, True, True, True, False, False, False]  # (review 309: " - Sleep" was let through)
    assert _repeated("-\u00a0Sleep", bullets) is _repeated("\u00a0- Sleep", bullets) is True  # (review 310)


def bulleted(bullet: str) -> str:
    """A skeleton template that asks for bullets and prefills ``bullet``."""
    return ("{% block user %}Give the skeleton (not the full content) of an answer to {{ question }} as bullets."
            f"{{% endblock %}}{{% block prefill %}}{bullet}{{% endblock %}}")


async def test_a_claude_name_on_a_server_that_ignores_the_prefill_is_found_out_at_its_first_reply():
    # review 190: a gateway serving a Claude name had a point that broke off resumed, and a resample of its answer
    # from the start was spliced to the text received ("Swap soda**Eat less sugar**: Replace soda with water."),
    # though the skeleton's first reply, "1." again after the prefill "1.", had shown that it ignores the prefill
    def respond(request: RecordedRequest) -> Reply:
        index = point_of(request)
        if is_skeleton(request):
            return Reply(SKELETON)
        if index == 2 and request.attempt == 1:
            return Reply(POINTS[2], fault=Fault.drop(after_tokens=4))
        return Reply("**Eat less sugar**: Replace soda with water." if index == 2 else POINTS[index])

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        with pytest.warns(UserWarning, match="anthropic:claude-3-5-haiku wrote its answer from the start, not on "
                                             r"from the assistant prefill \(a gateway or alias") as caught:
            result, events = await answer(server, "claude-3-5-haiku", retry=sotkit.RetryPolicy(initial_wait_s=0.01))
    # once, though the point's resample comes after it (a ResourceWarning of another test's socket may be caught too)
    assert len([w for w in caught if "from the start" in str(w.message)]) == 1, [str(w.message) for w in caught]
    assert [p.text for p in result.points] == [TEXTS[0], "Replace soda with water.", *TEXTS[2:]]
    assert [p.title for p in result.points] == TITLES and joined(events) == result.text
    assert [r.prefill for r in server.requests] == ["1.", *[None] * 6]  # the first skeleton's only


async def test_a_claude_name_on_a_server_that_ignores_the_prefill_does_not_splice_a_resumed_answer_to_itself():
    # probe 188: a sequential answer (no prefill to give the server away) that broke off was resumed, and the
    # gateway wrote it again from the start after the text received: "A plain answer, written in oneA plain
    # answer, written in one go.", a success
    answer_text = "A plain answer, written in one go, and then some more words to finish it."

    def respond(request: RecordedRequest) -> Reply:
        return Reply(answer_text, fault=Fault.drop(after_tokens=6) if request.attempt == 1 else None)

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        with pytest.warns(UserWarning, match="claude-3-5-haiku wrote its answer from the start"):
            result, events = await answer(server, "claude-3-5-haiku", mode="sequential",
                                          retry=sotkit.RetryPolicy(initial_wait_s=0.01))
    assert result.text == answer_text and joined(events) == result.text
    assert [e.type for e in events].count("withdraw") == 1
    broken, resumed, again = server.requests
    sent = "".join(token for _, token in broken.pieces)
    assert resumed.prefill == sent.rstrip() and again.prefill is None
    # the attempt found out wrote (and was paid for) more than the broken one's text before its own was let through
    assert result.usage.output_tokens > len(split_tokens(answer_text)) + estimated_tokens(char_weight(sent))


async def test_a_claude_answer_broken_off_too_early_to_be_found_again_is_written_anew_not_resumed():
    # review 192: "A plain" (7 characters) was resumed on a gateway that ignores the prefill, too short to check
    # the reply against: "A plainA plain answer, written in one go.", a success
    def respond(request: RecordedRequest) -> Reply:
        return Reply("A plain answer, written in one go.", fault=Fault.drop(after_tokens=2) if request.attempt == 1
                     else None)

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        result, events = await answer(server, "claude-3-5-haiku", mode="sequential",
                                      retry=sotkit.RetryPolicy(initial_wait_s=0.01))
    assert result.text == "A plain answer, written in one go." == joined(events)
    assert [r.prefill for r in server.requests] == [None, None]  # asked again from its start, not resumed


async def test_a_resumed_answer_found_written_again_keeps_its_text_for_the_error_when_the_retries_fail():
    # review 190: the call was started over, its text withdrawn, as soon as the echo was found; the retries then
    # failed before any text and the error had no partial answer, though the stream had shown the broken text
    def respond(request: RecordedRequest) -> Reply:
        if request.attempt <= 2:  # broken, then resumed and written again from its start
            return Reply("A plain answer, written in one go.", fault=Fault.drop(after_tokens=6) if request.attempt == 1
                         else None)
        return Reply("", fault=Fault.status(500))

    events = []
    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        async with sotkit.SoT("anthropic:claude-3-5-haiku", base_url=server.anthropic_base_url, api_key="k",
                              mode="sequential", retry=sotkit.RetryPolicy(initial_wait_s=0.01)) as sot:
            with pytest.warns(UserWarning, match="wrote its answer from the start"), \
                    pytest.raises(sotkit.PartialResultError) as caught:
                async with sot.stream("Tell me about sleep.") as stream:
                    async for event in stream:
                        events.append(event)
    sent = "".join(token for _, token in server.requests[0].pieces)
    assert caught.value.partial.text == sent.strip() == joined(events)
    assert not any(e.type == "withdraw" for e in events) and len(server.requests) == 5


async def test_a_gateway_reasoning_model_that_ignores_the_prefill_behind_its_think_block_is_found_out():
    # "<think>...</think>" then "1. Sleep well...": the block hid the repeated "1.", and "<think>The user wants
    # tips.</think>" became point 1 with "Sleep well" lost (probe 50)
    def respond(request: RecordedRequest) -> Reply:
        index = point_of(request)
        return Reply("<think>The user wants tips.</think>\n\n"
                     + (SKELETON if is_skeleton(request) else POINTS[index] if index else "A plain answer."))

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        result, events = await answer(server, "qwen3-32b")
    check(result, events)
    assert [r.prefill for r in server.requests if r.prefill is not None] == ["1."]


async def test_a_point_that_broke_off_on_a_server_that_continues_the_prefill_restarts_and_keeps_its_prefill():
    # a proxy alias of a real Claude: a point that broke off after "3" is written again from its title, and the
    # prefill stays on (a resumed "3" then " 30-minute walks" once turned it off for good)
    texts = {**dict(enumerate(TEXTS, 1)), 3: "3 30-minute walks a week."}

    def respond(request: RecordedRequest) -> Reply:
        if is_skeleton(request):
            return Reply(SKELETON[len(request.prefill or ""):])
        index = point_of(request)
        written = request.prefill.split(":", 1)[1]
        text = " " + texts[index] if not written else texts[index][len(written.strip()):]
        return Reply(text, fault=Fault.drop(after_tokens=1) if index == 3 and request.attempt == 1 else None)

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        async with sotkit.SoT("anthropic:sonnet-proxy", base_url=server.anthropic_base_url, api_key="k", mode="sot",
                              retry=sotkit.RetryPolicy(initial_wait_s=0.01)) as sot:
            result = await sot.generate("How can I live well?")
            assert sot.backends[0].provider.supports_prefill  # still sent: the server does continue it
    assert result.points[2].text == "3 30-minute walks a week."
    assert [r.prefill for r in server.requests if point_of(r) == 3] == ["3. Move daily:", "3. Move daily:"]


async def test_a_400_that_is_not_about_the_prefill_fails_as_before():
    bad = {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}}
    with FakeLLMServer(Reply("", fault=Fault.status(400, body=bad))) as server:
        async with sotkit.SoT("anthropic:m", base_url=server.anthropic_base_url, api_key="k", mode="sot") as sot:
            with pytest.raises(Exception, match="max_tokens: too large"):
                await sot.generate("How can I live well?")
    assert len(server.requests) == 1  # a 400 is not retried


#: the APIs' own refusals of a temperature
NO_TEMPERATURE = {
    "openai": {"error": {"message": "Unsupported value: 'temperature' does not support 0.0 with this model. Only the "
                                    "default (1) value is supported.", "type": "invalid_request_error",
                         "param": "temperature", "code": "unsupported_value"}},
    "anthropic": {"type": "error", "error": {"type": "invalid_request_error",
                                             "message": "`temperature` is deprecated for this model."}},
}


def refusing_temperature(api: str, verdict: str = "A"):
    """A model whose server refuses any temperature; it answers the router with ``verdict``, the rest as a model
    writing from its start."""
    answer = refusing(prefill_refused=False)

    def respond(request: RecordedRequest) -> Reply:
        if "temperature" in request.body:
            return Reply("", fault=Fault.status(400, body=NO_TEMPERATURE[api]))
        if "How would you like to answer the question?" in request.user:
            return Reply(verdict)
        return answer(request)

    return respond


@pytest.mark.parametrize("api", ["openai", "anthropic"])
async def test_the_llm_router_of_a_model_that_refuses_a_temperature_still_decides(api):
    """The router asks for temperature 0; a model that refuses any temperature got a 400, and every question was
    routed by the fallback router instead. Now its call goes again without one, once, with a warning."""
    with FakeLLMServer(refusing_temperature(api)) as server:
        url = server.openai_base_url if api == "openai" else server.anthropic_base_url
        async with sotkit.SoT(f"{api}:claude-sonnet-4-6" if api == "anthropic" else "openai:gpt-5", base_url=url,
                              api_key="k", router="llm") as sot:
            with pytest.warns(UserWarning, match="refused a temperature .* it is sent none from now on"):
                first = await sot.generate("How can I live well?")
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # said once per client
                second = await sot.generate("How can I live well?")
    for result in (first, second):
        assert result.mode == "sot" and result.route_reason.startswith("llm (")
        assert [p.text for p in result.points] == TEXTS
    assert sum(r.status == 400 for r in server.requests) == 1


async def test_calls_refused_a_temperature_together_warn_once():
    # each call refused while others were in flight with it warned again: 16 warnings for 30 requests (probe 90)
    with FakeLLMServer(refusing_temperature("openai")) as server:
        async with sotkit.SoT("openai:gpt-5", base_url=server.openai_base_url, api_key="k", mode="sequential",
                              temperature=0.5) as sot:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                results = await asyncio.gather(*(sot.generate(f"How can I live well, {i}?") for i in range(8)))
    assert all(result.text for result in results)
    assert sum(r.status == 400 for r in server.requests) > 1  # sent together, refused together
    assert len([w for w in caught if "refused a temperature" in str(w.message)]) == 1


async def test_a_temperature_refused_under_warnings_made_errors_is_learned_and_answered():
    # the warning raised before the client noted the refusal: every request sent a temperature again, and failed
    with FakeLLMServer(refusing_temperature("openai")) as server:
        async with sotkit.SoT("openai:gpt-5", base_url=server.openai_base_url, api_key="k", mode="sequential",
                              temperature=0.5) as sot:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                results = [await sot.generate(f"How can I live well, {i}?") for i in range(3)]
    assert all(result.text for result in results)
    assert sum(r.status == 400 for r in server.requests) == 1


async def test_a_standalone_llm_router_decides_without_the_temperature_refused():
    with FakeLLMServer(refusing_temperature("openai", verdict="C")) as server:
        provider = create_provider("openai:gpt-5", base_url=server.openai_base_url, api_key="k")
        with pytest.warns(UserWarning, match="refused a temperature"):
            decision = await make_router("llm", provider=provider).decide("Tell me about the history of tea.")
        await provider.aclose()
    assert decision.mode == "sequential" and decision.reason.startswith("llm (openai:gpt-5): C")


#: a gateway that turns thinking on refuses a prefill in thinking's words
THINKING_REFUSAL = {"type": "error", "error": {"type": "invalid_request_error", "message": "messages.1.content.0.type: "
                    "Expected `thinking` or `redacted_thinking`, but found `text`. When `thinking` is enabled, a final "
                    "`assistant` message must start with a thinking block."}}


@pytest.mark.parametrize("message", [
    THINKING_REFUSAL["error"]["message"], "final message must be from the user",
    "messages: the last message must have role `user`"])
async def test_a_prefill_refused_in_other_words_is_refused_too(message):
    """Thinking's words (a gateway that turns it on), and other gateways'."""
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}

    def respond(request: RecordedRequest) -> Reply:
        if request.prefill is not None:
            return Reply("", fault=Fault.status(400, body=body))
        return refusing(prefill_refused=False)(request)

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        result, events = await answer(server, "my-gateway-claude")
    check(result, events)


async def test_a_proxy_in_front_of_a_reasoning_model_that_refuses_max_tokens_is_sent_max_completion_tokens():
    """sotkit sends max_completion_tokens to OpenAI itself; a proxy's base_url gets max_tokens, which OpenAI's
    reasoning models refuse. The refusal names the field to use: the call goes again with it, and so do the rest."""
    refusal = {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                                    "'max_completion_tokens' instead.", "type": "invalid_request_error",
                         "param": "max_tokens", "code": "unsupported_parameter"}}

    def respond(request: RecordedRequest) -> Reply:
        if "max_tokens" in request.body:
            return Reply("", fault=Fault.status(400, body=refusal))
        return Reply("Keep a schedule.")

    with FakeLLMServer(respond) as server:
        async with sotkit.SoT("openai:gpt-5", base_url=server.openai_base_url, api_key="k", mode="sequential") as sot:
            first = await sot.generate("How can I sleep better?")
            second = await sot.generate("How can I sleep better?")
    assert first.text == second.text == "Keep a schedule."
    assert [("max_tokens" in r.body, r.body.get("max_completion_tokens")) for r in server.requests] == \
        [(True, None), (False, 1024), (False, 1024)]

    # calls refused at once (a SoT answer's points): each goes again, not only the first (the others read the field
    # the first had switched to as the one they had sent, and failed with the 400: probe 218)
    refused: list[RecordedRequest] = []

    async def respond_together(request: RecordedRequest) -> Reply:
        if "max_tokens" not in request.body:
            return Reply("Keep a schedule.")
        refused.append(request)
        for _ in range(1000):  # every call is sent before the first is refused
            if len(refused) >= 3:
                break
            await asyncio.sleep(0.005)
        return Reply("", fault=Fault.status(400, body=refusal))

    with FakeLLMServer(respond_together) as server:
        async with sotkit.SoT("openai:gpt-5", base_url=server.openai_base_url, api_key="k", mode="sequential") as sot:
            async with asyncio.TaskGroup() as tg:
                answers = [tg.create_task(sot.generate(f"How can I sleep better? ({i})")) for i in range(3)]
    assert [answer.result().text for answer in answers] == ["Keep a schedule."] * 3
    assert sorted("max_tokens" in r.body for r in server.requests) == [False] * 3 + [True] * 3


async def test_an_azure_api_version_that_refuses_max_completion_tokens_and_stream_options_is_sent_neither():
    """Azure is sent max_completion_tokens, and every server stream_options; API versions before 2024-09-01 refuse
    both ("Unrecognized request argument supplied: ..."): every call failed, or with a fallback the fallback answered
    all (probe 87). The call goes again without them, and so do the rest; usage is then estimated."""
    def respond(request: RecordedRequest) -> Reply:
        for field in ("max_completion_tokens", "stream_options"):
            if field in request.body:
                return Reply("", fault=Fault.status(400, body={"error": {
                    "message": f"Unrecognized request argument supplied: {field}", "type": "invalid_request_error",
                    "param": None, "code": None}}))
        return Reply("Keep a schedule.")

    with FakeLLMServer(respond) as server:
        azure = openai.AsyncAzureOpenAI(azure_endpoint=server.base_url, api_key="k", api_version="2024-06-01")
        async with sotkit.SoT("openai:my-gpt4o", client=azure, mode="sequential") as sot:
            first = await sot.generate("How can I sleep better?")
            second = await sot.generate("How can I sleep better?")
        await azure.close()
    assert first.text == second.text == "Keep a schedule." and second.usage.estimated
    assert all(r.path == "/openai/deployments/my-gpt4o/chat/completions" for r in server.requests)
    assert [sorted({"max_tokens", "max_completion_tokens", "stream_options"} & set(r.body)) for r in server.requests] \
        == [["max_completion_tokens", "stream_options"], ["max_tokens", "stream_options"], ["max_tokens"],
            ["max_tokens"]]


async def test_a_budget_too_large_is_no_refusal_of_its_field():
    # "max_completion_tokens is too large" refuses the value: the field is the right one, and a switch to max_tokens
    # would have been kept for every later call, which reasoning models refuse
    body = {"error": {"message": "max_completion_tokens is too large: 1024. This model supports at most 512 "
                                 "completion tokens, whereas you provided 1024.", "type": "invalid_request_error",
                      "param": "max_completion_tokens", "code": "invalid_value"}}
    with FakeLLMServer(lambda request: Reply("", fault=Fault.status(400, body=body))) as server:
        azure = openai.AsyncAzureOpenAI(azure_endpoint=server.base_url, api_key="k", api_version="2024-10-21")
        async with sotkit.SoT("openai:small", client=azure, mode="sequential") as sot:
            with pytest.raises(openai.BadRequestError, match="too large"):
                await sot.generate("How can I sleep better?")
        await azure.close()
    assert [sorted({"max_tokens", "max_completion_tokens"} & set(r.body)) for r in server.requests] == [
        ["max_completion_tokens"]]


@pytest.mark.parametrize("message", [
    "Unrecognized request argument supplied: foo (accepted: model, messages, max_tokens, max_completion_tokens, "
    "stream, stream_options)",
    "'max_tokens' or 'max_completion_tokens' is too large: 4096. This model's maximum context length is 2048.",
])
async def test_a_400_that_only_names_the_budget_fields_changes_nothing(message):
    # a proxy refusing another field beside a list of those it takes switched the budget field and dropped
    # stream_options for good, three sends of one failed call (probe 89)
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    with FakeLLMServer(lambda request: Reply("", fault=Fault.status(400, body=body))) as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sequential") as sot:
            with pytest.raises(openai.BadRequestError):
                await sot.generate("How can I sleep better?")
    assert len(server.requests) == 1 and "stream_options" in server.requests[0].body


async def test_a_server_that_refuses_both_budget_fields_is_not_sent_them_in_turn_forever():
    def respond(request: RecordedRequest) -> Reply:
        field = "max_tokens" if "max_tokens" in request.body else "max_completion_tokens"
        return Reply("", fault=Fault.status(400, body={"error": {
            "message": f"Unsupported parameter: '{field}'. Use 'max_completion_tokens' instead.",
            "type": "invalid_request_error", "param": field, "code": "unsupported_parameter"}}))

    with FakeLLMServer(respond) as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sequential") as sot:
            with pytest.raises(openai.BadRequestError):
                await sot.generate("How can I sleep better?")
    assert len(server.requests) == 2  # max_tokens, then max_completion_tokens, then no more


@pytest.mark.parametrize("message, field, refused", [
    # the forms review 93 found unread: pydantic's own, vLLM's list of errors, LiteLLM's, others'
    ("1 validation error for ChatCompletionRequest\nstream_options\n  Extra inputs are not permitted "
     "[type=extra_forbidden, input_value={'include_usage': True}, input_type=dict]", "stream_options", True),
    ("[{'type': 'extra_forbidden', 'loc': ('body', 'stream_options'), 'msg': 'Extra inputs are not permitted'}]",
     "stream_options", True),
    ("litellm.UnsupportedParamsError: openai does not support parameters: ['temperature', 'stop'], for model=o1",
     "stop", True),
    ("Stop sequences are not supported for this model", "stop", True),
    ("property 'stream_options' is unsupported", "stream_options", True),
    # ... and ones it read as refusals that refuse something else: a value, a model, a combination
    ("Unsupported value: 'stream_options.include_usage' must be a boolean", "stream_options", False),
    ("max_tokens is not supported when n > 1", "max_tokens", False),
    ("'stop' is not supported in combination with 'logprobs'", "stop", False),
    ("Model does not support stop sequences longer than 32 characters", "stop", False),
    ("unknown model 'gpt-x'. Supported params: stop, max_tokens", "stop", False),
    # ... or another field, with this one suggested (review 94)
    ("property 'max_token' is unsupported, did you mean 'max_tokens'?", "max_tokens", False),
    ("unknown field `x`, expected one of `stop`, `max_tokens`", "stop", False),
])
def test_a_refusal_of_a_field_is_told_from_other_400s_that_name_it(message, field, refused):
    from sotkit.providers.openai import _refuses

    assert _refuses(message, field) is refused
    assert _refuses(("does not support parameters: [" + "x" * 20) * 4000 + message, field) is False  # at once

@pytest.mark.parametrize("message", ["Unsupported parameter: 'stop' is not supported with this model.",
                                     "Unrecognized request argument supplied: stop",  # an older Azure API's words
                                     "The 'stop' parameter is not supported with this model.",  # others' (probe 91)
                                     "This model does not support 'stop'."])
@pytest.mark.parametrize("thinking", ["", "<think>Let me think.</think>"])
async def test_a_model_that_refuses_stop_sequences_has_its_text_ended_at_them_by_sotkit(message, thinking):
    """GPT-5 and the o-series refuse ``stop`` (gpt-5.5 takes it again): a template's stop block failed every call.
    The call goes again at once without it, and sotkit ends the text at the first stop sequence itself, however the
    stream's pieces split it."""
    refusal = {"error": {"message": message, "type": "invalid_request_error", "param": "stop",
                         "code": "unsupported_parameter"}}
    templates = {"expand": "{% block user %}Expand '{{ point.title }}' for: {{ question }}{% endblock %}"
                           "{% block stop %}\nNext point:\n{% endblock %}"}

    def respond(request: RecordedRequest) -> Reply:
        if "stop" in request.body:
            return Reply("", fault=Fault.status(400, body=refusal))
        if is_skeleton(request):
            return Reply("1. Keep a schedule\n2. Dim the lights")
        title = request.user.split("'")[1]  # (reasoning before it: TypeError, each point failed; found by mypy)
        return Reply(f"{thinking}{title} holds. Next point: the other one, which runs on.")

    with FakeLLMServer(respond, latency=Latency(ttft_s=0, tokens_per_s=500)) as server:
        async with sotkit.SoT("openai:gpt-5-mini", base_url=server.openai_base_url, api_key="k", mode="sot",
                              templates=templates) as sot:
            result = await sot.generate("How can I sleep better?")
            refused = sum(r.fault is not None for r in server.requests)  # the points sent before the first refusal
            again = await sot.generate("How can I sleep better?")
    for answer in (result, again):
        assert [p.text for p in answer.points] == ["Keep a schedule holds.", "Dim the lights holds."]
        assert [(p.finish_reason, p.truncated, p.attempts) for p in answer.points] == [("stop", False, 1)] * 2
    assert 1 <= refused <= 2 and sum(r.fault is not None for r in server.requests) == refused  # learnt for good


@pytest.mark.parametrize("pieces, text", [
    (["Go to bed. Ne", "xt point: more"], "Go to bed. "),  # split inside the stop sequence
    (["Go to bed. Next", " steps: rest"], "Go to bed. Next steps: rest"),  # a start of one that is none
    (["Go to bed.", " N"], "Go to bed. N"),  # the call ended inside a start of one
])
def test_stop_at_ends_a_text_at_its_first_stop_sequence_however_it_is_split(pieces, text):
    from sotkit.providers.base import StopAt

    stopping = StopAt(["Next point:", "###"])
    released = "".join(stopping.feed(piece) for piece in pieces)
    assert released + ("" if stopping.hit else stopping.finish()) == text


async def test_extra_body_reaches_anthropic_and_no_temperature_goes_unless_given():
    with FakeLLMServer(refusing_temperature("anthropic")) as server:
        async with sotkit.SoT("anthropic:claude-opus-4-7", base_url=server.anthropic_base_url, api_key="k",
                              mode="sequential", extra_body={"thinking": {"type": "adaptive"}}) as sot:
            result = await sot.generate("How can I live well?")
    assert result.text == "A plain answer."
    [request] = server.requests
    assert request.body["thinking"] == {"type": "adaptive"} and "temperature" not in request.body


async def test_a_thinking_budget_in_extra_body_is_sent_on_top_of_each_calls_own_budget():
    # the API counts the thinking within max_tokens and refuses one not above the budget: the skeleton's 300 tokens
    # were refused under a 2,048-token budget, the error naming max_tokens, which the user had set to 8,000 (probe 218)
    answer = sot_responder("1. Dark room\n2. Same hour", {1: "Keep it dark.", 2: "Sleep at one hour."})

    def respond(request: RecordedRequest) -> Reply:
        if request.max_tokens <= request.body["thinking"]["budget_tokens"]:
            return Reply("", fault=Fault.status(400, body={"type": "error", "error": {
                "type": "invalid_request_error", "message": "`max_tokens` must be greater than "
                                                            "`thinking.budget_tokens`."}}))
        return answer(request)

    with FakeLLMServer(respond) as server:
        async with sotkit.SoT("anthropic:claude-sonnet-4-6", base_url=server.anthropic_base_url, api_key="k",
                              mode="sot", skeleton_max_tokens=300, point_max_tokens=200,
                              extra_body={"thinking": {"type": "enabled", "budget_tokens": 2048}}) as sot:
            result = await sot.generate("How can I sleep better?")
    assert result.text == "1. Dark room: Keep it dark.\n2. Same hour: Sleep at one hour."
    assert sorted(r.max_tokens for r in server.requests) == [200 + 2048, 200 + 2048, 300 + 2048]
    # a budget already above the thinking's is sent as it was (a model's output limit may not take both, review
    # 222); a budget written as a float counts too
    with FakeLLMServer(respond) as server:
        async with sotkit.SoT("anthropic:claude-sonnet-4-6", base_url=server.anthropic_base_url, api_key="k",
                              mode="sequential", max_tokens=24_000,
                              extra_body={"thinking": {"type": "enabled", "budget_tokens": 2048.0}}) as sot:
            await sot.generate("How can I sleep better?")
            await sot.generate("How can I sleep better?", max_tokens=100)
    assert [r.max_tokens for r in server.requests] == [24_000, 100 + 2048]


async def test_the_llm_router_of_a_model_that_reasons_first_gets_room_to_answer():
    """The router's 16 tokens went on hidden reasoning, and so did eight times as many: the router failed on every
    question, paying each time, and said the answer was unreadable. Its call now gets at least 1,024 tokens."""
    answer = refusing(prefill_refused=False)

    def respond(request: RecordedRequest) -> Reply:
        if "How would you like to answer the question?" in request.user:
            return Reply("A", reasoning_tokens=200)
        return answer(request)

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        async with sotkit.SoT("openai:gpt-5", base_url=server.openai_base_url, api_key="k", router="llm") as sot:
            with pytest.warns(UserWarning, match=r"\(1024 to 32768 tokens\)"):
                result = await sot.generate("How can I live well?")
    assert result.route_reason.startswith("llm (openai:gpt-5): A")
    routed = [r.max_tokens for r in server.requests if "How would you like" in r.user]
    assert routed == [16, 1024]


async def test_a_router_answer_cut_before_any_text_says_so():
    with FakeLLMServer(Reply("A", reasoning_tokens=5000)) as server:
        provider = create_provider("openai:gpt-5", base_url=server.openai_base_url, api_key="k")
        decision = await make_router("llm", provider=provider).decide("How can I live well?")
        await provider.aclose()
    # the budget the call had was not 16 (raised for a model that reasons first): "a larger max_tokens=16" was said
    assert "cut off at the token limit (the LLM router's max_tokens) before any text; a larger " \
           "LLMRouter(max_tokens=...) may leave room for it (a reasoning model spends it on reasoning first)" \
           in decision.reason


async def test_text_held_undecided_is_given_only_when_its_stream_ends_whole():
    # a stream that broke after "1" (it may yet be "1." again) reports its counts first, as the providers do: the
    # "1" was released as text and, resumed, sent on in the next prefill (probe 52)
    from sotkit.providers.base import CallUsage
    from sotkit.runner import _unless_repeated

    alias = create_provider("anthropic:my-proxy-alias", api_key="k")

    async def stream(broken: bool):
        yield "1"
        yield CallUsage(10, 1, estimated=broken)
        if broken:
            raise ConnectionError("dropped")

    seen: list = []
    with pytest.raises(ConnectionError):
        async for chunk in _unless_repeated(stream(broken=True), ("1.",), alias):
            seen.append(chunk)
    assert seen == []
    assert [chunk async for chunk in _unless_repeated(stream(broken=False), ("1.",), alias)] == ["1", CallUsage(10, 1)]
