"""Reasoning left in the answer's text by a compatible server (``<think>...</think>``) is no part of the answer."""

from __future__ import annotations

import pytest

import sotkit
import sotkit.providers
from sotkit.providers._think import ThinkTags
from sotkit.providers.base import Thinking
from sotkit.retry import is_retryable
from sotkit.testing import FakeLLMServer, Fault, Latency, RecordedRequest, Reply
from sotkit.testing._replies import split_tokens
from tests.conftest import is_skeleton, point_of

REASONING = "<think>\nThe user wants tips. Candidate ideas:\n1. Maybe breathing\n2. Maybe yoga\nOkay.\n</think>\n\n"


def feed(text: str, step: int) -> tuple[str, int]:
    """The text that comes out, piece by piece, and how many pieces were only reasoning."""
    tags, out, thinking = ThinkTags(), [], 0
    for i in range(0, len(text), step):
        piece = tags.feed(text[i:i + step])
        if isinstance(piece, Thinking):
            thinking += 1
        else:
            out.append(piece)
    return "".join(out) + tags.finish(), thinking


@pytest.mark.parametrize("step", [1, 2, 3, 10_000])
@pytest.mark.parametrize("text, answer", [
    ("\n\nKeep it dark.", "Keep it dark."),  # R1's blank line after its reasoning, by vLLM's parser (probe 312)
    (" Alpha\n2. Beta", " Alpha\n2. Beta"),  # a prefill's continuation ("1." then this; review 322: "1.Alpha")
    ("\n    def f(x):\n        return x", "    def f(x):\n        return x"),  # indented code (review 322)
    (" \n\n  \nKeep it dark.", "Keep it dark."),  # blank lines of spaces too (review 325)
])
def test_text_after_reasoning_that_came_apart_loses_only_its_opening_line_breaks(text, answer, step):
    def fed(tags: ThinkTags) -> str:
        tags.apart()
        out = [piece for i in range(0, len(text), step) if isinstance(piece := tags.feed(text[i:i + step]), str)]
        return "".join(out) + tags.finish()
    assert fed(ThinkTags()) == answer
    # a prefill's continuation is kept as it comes (review 326: "\n2. Beta" after a resumed "1. Alpha" lost its line)
    assert fed(ThinkTags(continues=True)) == text


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7, 10_000])
@pytest.mark.parametrize("text, answer", [
    (REASONING + "1. Alpha\n2. Beta", "1. Alpha\n2. Beta"),
    ("\n  <think>Short.</think>Keep it dark.", "Keep it dark."),
    ("<think>\n</think>\n\n\nKeep it dark.", "Keep it dark."),  # an empty block (reasoning switched off)
    ("<think>The budget ran out while reason", ""),  # the call ended inside the block: no text
    # a gateway's <thinking> block (gemini-cli-openai; Amazon Nova): it was the answer, and the skeleton (probe 342)
    ("<thinking>\nA list:\n1. alpha\n</thinking>\n\n1. Alpha\n2. Beta", "1. Alpha\n2. Beta"),
    ("<thinking>Closed by the other tag</think>", ""),  # (each block ends at its own close only)
    # no block opens the text: it is all the answer's
    ("Keep it dark.", "Keep it dark."),
    ("Use <think> tags for reasoning: <think>...</think>.", "Use <think> tags for reasoning: <think>...</think>."),
    ("Wrap it in <thinking>...</thinking>.", "Wrap it in <thinking>...</thinking>."),
    ("<thinker>is no tag of either</thinker>", "<thinker>is no tag of either</thinker>"),
    ("<thi", "<thi"),
    ("  ", "  "),
])
def test_a_think_block_that_opens_the_text_goes_in_any_pieces(text, answer, step):
    assert feed(text, step)[0] == answer


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7, 10_000])
@pytest.mark.parametrize("text, fails", [
    # DeepSeek-R1's template writes the <think> into the prompt: only the close shows the text was reasoning
    ("Okay, the user wants tips.\n1. Maybe breathing\n</think>\n\n1. Alpha", True),
    ("Hmm.</think>Keep it dark.", True),
    ("Hmm.</think>Keep it dark. <think> is a tag.", True),  # the first tag decides, even in one piece
    ("</think>\n\nKeep it dark.", True),  # no reasoning at all
    ("Okay.\n  </think>\nKeep it dark.", True),
    ("Is it dark?</think>Keep it dark.", True),
    # an indented close is no code block after a line of text, nor after NBSPs (review 173)
    ("Okay, the user wants tips.\n    </think>\n\nKeep it dark.", True),
    ("Okay.\n1. Maybe breathing\n    </think>\n\nKeep it dark.", True),
    ("Okay.\n\n\u00a0\u00a0\u00a0\u00a0</think>\nKeep it dark.", True),
    ("Okay.\n\n\u00a0    </think>\nKeep it dark.", True),  # (alike whatever the pieces: review 174)
    # ... a close after a no-break space, or at a line's start with a <think> later on its line, a close after a
    # line of inline code, or a Chinese stop (review 170: some passed by piece size)
    ("Okay.\n\u00a0</think>\nKeep it dark.", True),
    ("Okay.\n</think> Keep it dark: a <think> tag opens it.", True),
    ("`` ` `` is a backtick.\nOkay.\n</think>\nKeep it dark.", True),
    ("Okay, I'd use ```ls``` here.\nOkay.\n</think>\nKeep it dark.", True),
    ("```ls -la /a/very/long/path/to/some/dir``` lists it.\nOkay.\n</think>\nKeep it dark.", True),
    ("好的，我明白了。</think>Keep it dark.", True),
    # tags the answer writes itself, a block that opened the text, or none: the text stays
    ("Wrap it in <think>...</think> tags.", False),
    ("<think>Hmm.</think>Keep it dark. A later </think> is text.", False),
    ("Keep it dark. </thinking> is no close tag.", False),
    # an answer that names the close tag (probe 164: every answer about stripping R1's reasoning failed)
    ("Keep it dark. Split the text at the `</think>` tag.", False),
    ("Keep it dark: text.split('</think>')[-1]", False),
    ('Keep it dark. The </think> tag ends the reasoning; <code></think></code> too.', False),
    # ... in emphasis, other quotes, a table, after a colon, or on a line of a fenced example (review 168)
    ("Keep it dark: **</think>**, “</think>”, «</think>», |</think>|, is:</think>.", False),
    ("Keep it dark. R1 writes:\n```\nOkay, the user asks.\n</think>\n\nThe answer.\n```\nStrip it.", False),
    # ... also in a block that a longer fence or tildes open, or that a fence with a language seems to close
    ("Keep it dark:\n````markdown\n```\n</think>\n```\n````\nDone.", False),
    ("Keep it dark:\n~~~\n```\n</think>\n~~~\nDone.", False),
    ("Keep it dark:\n```\n```python\n</think>\n```\nDone.", False),
    ("Keep it dark. R1 writes:\n\n    Okay, the user asks.\n    </think>\n\nStrip it.", False),  # (review 172)
    ("Keep it dark.\n\n" + " " * 20 + "</think>\nKeep it dark.", False),  # (alike whatever the pieces: review 168)
    ("Keep it dark. R1 writes:\n\n\tOkay, the user asks.</think>\n\nStrip it.", False),
])
def test_reasoning_whose_open_tag_the_template_wrote_fails_loudly_at_its_close(text, fails, step):
    if fails:
        with pytest.raises(sotkit.StreamError, match="reasoning parser") as raised:
            feed(text, step)
        assert not is_retryable(raised.value)  # the same request would stream the same
    else:
        assert "Keep it dark" in feed(text, step)[0] or "Wrap" in feed(text, step)[0]


def test_the_reasoning_is_a_sign_of_life_not_silence():
    """Every piece of reasoning passes on THINKING, which the stall timers take for progress, but the first:
    "<thi" is held back until it shows it opens a block."""
    out, thinking = feed(REASONING + "Keep it dark.", 4)
    assert out == "Keep it dark." and thinking == len(REASONING) // 4 - 1


@pytest.mark.parametrize("opening", ["<think>Fine.</think>", "<think>", "<|channel|>analysis<|message|>Fine."])
def test_white_space_alone_in_or_after_the_reasoning_is_no_progress(opening):
    # probe 259, review 263: " " after "</think>" (or in the block) kept a call alive as a sign of life, 27 minutes
    tags = ThinkTags()
    tags.feed(opening)
    for blank in (" ", "\n", "  \n "):
        piece = tags.feed(blank)
        assert isinstance(piece, Thinking) and piece.chars == len(blank) and not piece.progress


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["sot", "sequential"])
async def test_a_reasoning_models_think_block_is_neither_a_skeleton_point_nor_answer_text(mode):
    """vLLM without a reasoning parser: the block streams in ``content`` before every reply."""
    texts = {1: "Inhale for four counts.", 2: "Tense and release each muscle."}

    def respond(request: RecordedRequest) -> Reply:
        if is_skeleton(request):
            reply = "1. Slow breathing\n2. Muscle relaxation"
        else:
            reply = texts.get(point_of(request), "Breathe slowly, then relax each muscle.")
        return Reply(REASONING + reply.removeprefix(request.prefill or ""))

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=2000)) as server:
        async with sotkit.SoT("openai:qwen3", base_url=server.openai_base_url, api_key="k", mode=mode) as sot:
            result = await sot.generate("How can I calm down before an exam?")
            async with sot.stream("How can I calm down before an exam?") as events:
                streamed = [e async for e in events]
    assert "think" not in result.text and "Maybe" not in result.text
    if mode == "sot":
        assert [p.title for p in result.points] == ["Slow breathing", "Muscle relaxation"]
        assert [p.text for p in result.points] == [texts[1], texts[2]]
    else:
        assert result.text == "Breathe slowly, then relax each muscle."
    assert "".join(e.text for e in streamed if e.type == "text") == result.text
    assert not any(e.type == "withdraw" for e in streamed)


@pytest.mark.anyio
async def test_a_reasoning_model_whose_template_opened_the_block_is_an_error_not_an_answer():
    with FakeLLMServer("Okay, the user asks about exams. Breathing helps.\n</think>\n\nBreathe slowly.",
                       latency=Latency(ttft_s=0.0, tokens_per_s=2000)) as server:
        async with sotkit.SoT("openai:deepseek-r1", base_url=server.openai_base_url, api_key="k",
                              mode="sequential") as sot:
            with pytest.raises(sotkit.StreamError, match="--reasoning-parser"):
                await sot.generate("How can I calm down before an exam?")
        assert len(server.requests) == 1  # not asked again: the same request streams the same


@pytest.mark.anyio
@pytest.mark.parametrize("fallback", [False, True])
@pytest.mark.parametrize("api", ["openai", "anthropic"])
async def test_points_a_skeleton_started_from_reasoning_whose_block_the_template_opened_are_no_answer(api, fallback):
    # probe 218: the reasoning's numbered lines started points before its </think> came; the skeleton's error then
    # read as a retry that disagreed with the points already started, "those are kept": reasoning as the answer
    reasoning = "Okay, the user wants tips.\n1. first I consider sleep\n2. then I list ideas\n3. then I check\n"

    def respond(request: RecordedRequest) -> Reply:
        if is_skeleton(request):
            return Reply(reasoning + "</think>\n\n1. Dark room\n2. Same hour")
        return Reply("Let me think.")

    def answer(request: RecordedRequest) -> Reply:  # the fallback, a model served with its reasoning parser
        return Reply("1. Dark room\n2. Same hour" if is_skeleton(request) else "Keep it dark.")

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=200)) as server, \
            FakeLLMServer(answer, latency=Latency(ttft_s=0.0, tokens_per_s=2000)) as backup:
        base_url = server.openai_base_url if api == "openai" else server.anthropic_base_url
        options = {"fallback": sotkit.providers.create_provider("openai:backup", api_key="k",
                                                                base_url=backup.openai_base_url)} if fallback else {}
        async with sotkit.SoT(f"{api}:deepseek-r1", base_url=base_url, api_key="k", mode="sot", **options) as sot:
            with pytest.raises(sotkit.StreamError, match="--reasoning-parser"):
                await sot.generate("How can I sleep better?")
            with pytest.raises(sotkit.StreamError, match="--reasoning-parser"):
                async with sot.stream("How can I sleep better?") as events:
                    async for event in events:
                        assert event.type != "fallback"  # (its skeleton would have had to agree with the points)
        if fallback:
            await options["fallback"].aclose()
    assert sum(is_skeleton(r) for r in server.requests) == 2  # one each: not asked again
    assert not backup.requests


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["sot", "sequential"])
@pytest.mark.parametrize("again", ["whole", "bare close"])
async def test_reasoning_a_broken_try_wrote_is_no_answer_when_its_retry_ends_the_reasoning(mode, again):
    # review 224: the first try's reasoning lines started points, then it broke; the retry wrote the same lines
    # (they agreed: none started) and its </think>, and the reasoning was kept as the answer. Review 225: a retry
    # that wrote nothing before its </think> kept it too (points, or a sequential answer's partial text)
    reasoning = "Okay, the user wants tips.\n1. first I consider sleep\n2. then I list ideas\n3. then I check\nSo:\n"
    tries = []

    def respond(request: RecordedRequest) -> Reply:
        if not is_skeleton(request) and mode == "sot":
            return Reply("Let me think.")
        tries.append(request)
        text = reasoning + "</think>\n\n1. Dark room\n2. Same hour"
        if len(tries) == 1:
            return Reply(text, fault=Fault.drop(after_tokens=len(split_tokens(reasoning))))
        return Reply(text if again == "whole" else "\n</think>\n\n1. Dark room\n2. Same hour")

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=200)) as server:
        async with sotkit.SoT("openai:deepseek-r1", base_url=server.openai_base_url, api_key="k", mode=mode) as sot:
            with pytest.raises(sotkit.StreamError, match="--reasoning-parser"):  # not a PartialResultError
                await sot.generate("How can I sleep better?")
    assert len(tries) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("thought", ["Okay, the user wants sleep tips. Let me think.\n", ""])
async def test_a_fallbacks_reasoning_costs_none_of_the_points_the_main_models_skeleton_started(thought):
    # review 222: the main model's whole lines started points, then it stalled; the fallback's skeleton was
    # reasoning, and the answer failed with its error where it had kept the main model's points (skeleton_truncated);
    # review 227: so again where the fallback's reasoning was empty, its </think> first (the main model's text taken
    # for its own)
    def respond(request: RecordedRequest) -> Reply:
        if is_skeleton(request):
            return Reply("1. Dark room\n2. Same hour\n3. Cool air\n4.", fault=Fault.stall(after_tokens=10, seconds=30))
        return Reply("Keep it so.")

    def reasoning(request: RecordedRequest) -> Reply:
        return Reply(f"{thought}</think>\n\n1. Dark room" if is_skeleton(request) else "Keep it so.")

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=2000)) as server, \
            FakeLLMServer(reasoning, latency=Latency(ttft_s=0.0, tokens_per_s=2000)) as backup:
        fallback = sotkit.providers.create_provider("openai:deepseek-r1", api_key="k", base_url=backup.openai_base_url)
        async with sotkit.SoT("openai:main", base_url=server.openai_base_url, api_key="k", mode="sot", retry=1,
                              stall_timeout=1.0, fallback=fallback) as sot:
            # (the fallback failed too: points after the third may be missing, an error unless they may be)
            result = await sot.generate("How can I sleep better?", on_point_error="skip")
        await fallback.aclose()
    assert [p.title for p in result.points] == ["Dark room", "Same hour", "Cool air"] and result.skeleton_truncated
    assert {p.text for p in result.points} == {"Keep it so."}


@pytest.mark.anyio
async def test_a_fallbacks_bare_close_leaves_the_main_models_partial_answer():
    # review 227: the main model wrote, then stalled; the fallback's </think> came first, and the main model's text
    # was withdrawn as if it were the fallback's reasoning: no partial answer
    with FakeLLMServer(Reply("Sleep in a dark room every night.", fault=Fault.stall(after_tokens=4, seconds=30)),
                       latency=Latency(ttft_s=0.0, tokens_per_s=2000)) as server, \
            FakeLLMServer("</think>\n\nSleep well.", latency=Latency(ttft_s=0.0, tokens_per_s=2000)) as backup:
        fallback = sotkit.providers.create_provider("openai:deepseek-r1", api_key="k", base_url=backup.openai_base_url)
        async with sotkit.SoT("openai:main", base_url=server.openai_base_url, api_key="k", mode="sequential",
                              retry=1, stall_timeout=1.0, fallback=fallback) as sot:
            with pytest.raises(sotkit.PartialResultError) as caught:
                await sot.generate("How can I sleep better?")
        await fallback.aclose()
    assert caught.value.partial.text == "Sleep in a dark" and caught.value.partial.truncated
    assert isinstance(caught.value.__cause__, sotkit.StreamError) and caught.value.__cause__.no_answer


@pytest.mark.anyio
async def test_an_anthropic_compatible_gateways_think_block_is_no_answer_text():
    """A gateway serving a reasoning model on Anthropic's wire may send its reasoning as <think> text in the text
    block (probe 49): it was the answer there, while the same reply on OpenAI's wire was cleaned. A Claude model's
    text is its own."""
    opened = "Okay, the user asks about exams.\n</think>\n\nBreathe slowly."  # the chat template wrote <think>
    with FakeLLMServer([REASONING + "Breathe slowly.", opened, REASONING + "Breathe slowly."],
                       latency=Latency(ttft_s=0.0, tokens_per_s=2000)) as server:
        async with sotkit.SoT("anthropic:qwen3", base_url=server.anthropic_base_url, api_key="k",
                              mode="sequential") as sot:
            assert (await sot.generate("How can I calm down before an exam?")).text == "Breathe slowly."
            with pytest.raises(sotkit.StreamError, match="--reasoning-parser"):
                await sot.generate("How can I calm down before an exam?")
        async with sotkit.SoT("anthropic:claude-3-5-haiku", base_url=server.anthropic_base_url, api_key="k",
                              mode="sequential") as sot:
            assert (await sot.generate("How can I calm down before an exam?")).text.startswith("<think>")


# gpt-oss's harmony format from a server that passes it on raw (llama.cpp --reasoning-format none)
ANALYSIS = ("<|channel|>analysis<|message|>The user wants tips. Candidate ideas:\n1. Maybe breathing\n2. Maybe yoga"
            "<|end|><|start|>assistant<|channel|>final<|message|>")


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7, 10_000])
@pytest.mark.parametrize("text, answer", [
    (ANALYSIS + "1. Alpha\n2. Beta", "1. Alpha\n2. Beta"),
    (ANALYSIS + "Keep it dark.<|return|>", "Keep it dark."),
    ("<|channel|>analysis<|message|>Hmm.<|end|><|channel|>final<|message|>Keep it dark.<|end|>", "Keep it dark."),
    ("\n<|start|>assistant<|channel|>analysis<|message|>Hmm.<|end|><|start|>assistant<|channel|>final<|message|>"
     "Keep it dark.", "Keep it dark."),
    # a commentary channel (a tool preamble, a call) is no answer either
    ("<|channel|>analysis<|message|>Plan.<|end|><|start|>assistant<|channel|>commentary<|message|>Let me think."
     "<|end|><|start|>assistant<|channel|>final<|message|>Keep it dark.", "Keep it dark."),
    ('<|channel|>commentary to=functions.lookup <|constrain|>json<|message|>{"q": "sleep"}<|call|>'
     "<|start|>assistant<|channel|>final<|message|>Keep it dark.", "Keep it dark."),
    ("<|channel|>final<|message|>Keep it dark.<|return|>", "Keep it dark."),  # no analysis (reasoning effort low)
    # the call ended inside the reasoning, or in the final channel's header: no text
    ("<|channel|>analysis<|message|>The budget ran out while reason", ""),
    ("<|channel|>analysis<|message|>Hmm.<|end|><|start|>assistant<|channel|>fin", ""),
    # the final message's own text stays, tokens it quotes and a '<' at its end too
    (ANALYSIS + "Harmony opens with <|channel|>. Is a < b? Yes, a <",
     "Harmony opens with <|channel|>. Is a < b? Yes, a <"),
    # a server that drops special tokens' text: only "assistantfinal" shows the reasoning's end
    ("analysisUser says hello. Should respond politely.assistantfinalHello! How can I help?", "Hello! How can I help?"),
    ("analysisWe need three tips.\n1. Maybe yoga\nassistantfinal1. Alpha\n2. Beta", "1. Alpha\n2. Beta"),
    # the text does not open with a harmony header: it is all the answer's
    ("The model writes <|channel|>analysis<|message|> before its reasoning.",
     "The model writes <|channel|>analysis<|message|> before its reasoning."),
    ("```\n<|channel|>analysis<|message|>Hmm.<|end|>\n```", "```\n<|channel|>analysis<|message|>Hmm.<|end|>\n```"),
    ("<|channel|> is one of harmony's tokens.\nIt names the channel.",
     "<|channel|> is one of harmony's tokens.\nIt names the channel."),
    ("<|channel|>analysis and <|message|> mark the reasoning.",
     "<|channel|>analysis and <|message|> mark the reasoning."),
    ("<|start|>user<|message|>Hi<|end|>", "<|start|>user<|message|>Hi<|end|>"),
    ("Keep it dark.<|return|>", "Keep it dark.<|return|>"),  # end markers go only after a harmony header
    ("analysis of the data shows it.", "analysis of the data shows it."),
    ("analysisResult = run()\nprint(analysisResult)", "analysisResult = run()\nprint(analysisResult)"),  # never closed
    ("an apple a day", "an apple a day"),
    ("analysis", "analysis"),
    ("<|chan", "<|chan"),
])
def test_gpt_oss_channels_before_the_final_one_go_in_any_pieces(text, answer, step):
    assert feed(text, step)[0] == answer


def test_ordinary_text_comes_out_as_it_comes():
    """Only text that may still open a block waits: a lowercase "an" for one more character."""
    tags = ThinkTags()
    assert [tags.feed(piece) for piece in ["Keep", " it", " dark."]] == ["Keep", " it", " dark."]
    tags = ThinkTags()
    assert [tags.feed(piece) for piece in ["an", " apple", " a day"]] == ["", "an apple", " a day"]


def test_harmony_reasoning_is_a_sign_of_life_and_its_final_text_streams():
    tags = ThinkTags()
    pieces = [tags.feed(ANALYSIS[i:i + 4]) for i in range(0, len(ANALYSIS), 4)]
    header = len("<|channel|>analysis<|message|>") // 4  # the pieces held back until the header shows what it is
    assert pieces[:header] == [""] * header and all(isinstance(piece, Thinking) for piece in pieces[header:])
    pieces = [tags.feed(piece) for piece in ["Keep", " it", " dark.<|", "return|>"]]
    assert pieces[:3] == ["Keep", " it", " dark."]  # "<|" waits: it may be the start of an end marker
    assert isinstance(pieces[3], Thinking) and pieces[3].progress
    assert tags.finish() == ""


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["sot", "sequential"])
@pytest.mark.parametrize("reasoning", [ANALYSIS, "analysisThe user wants tips. Maybe yoga.assistantfinal"])
async def test_gpt_oss_channels_are_neither_a_skeleton_point_nor_answer_text(mode, reasoning):
    """A compatible server serving gpt-oss without a reasoning parser: the analysis channel and the final channel's
    header stream in ``content`` before every reply, the skeleton's first item on the header's line."""
    texts = {1: "Inhale for four counts.", 2: "Tense and release each muscle.", 3: "Picture a calm place."}

    def respond(request: RecordedRequest) -> Reply:
        if is_skeleton(request):
            reply = "1. Slow breathing\n2. Muscle relaxation\n3. Visualisation\n"
        else:
            reply = texts.get(point_of(request), "Breathe slowly, then relax each muscle.")
        return Reply(reasoning + reply.removeprefix(request.prefill or "") + "<|return|>" * (reasoning == ANALYSIS))

    with FakeLLMServer(respond, latency=Latency(ttft_s=0.0, tokens_per_s=2000)) as server:
        async with sotkit.SoT("openai:gpt-oss-120b", base_url=server.openai_base_url, api_key="k", mode=mode) as sot:
            result = await sot.generate("How can I calm down before an exam?")
            async with sot.stream("How can I calm down before an exam?") as events:
                streamed = [e async for e in events]
    assert "<|" not in result.text and "analysis" not in result.text and "Maybe" not in result.text
    if mode == "sot":
        assert [p.title for p in result.points] == ["Slow breathing", "Muscle relaxation", "Visualisation"]
        assert [p.text for p in result.points] == [texts[1], texts[2], texts[3]]
    else:
        assert result.text == "Breathe slowly, then relax each muscle."
    assert "".join(e.text for e in streamed if e.type == "text") == result.text
    assert not any(e.type == "withdraw" for e in streamed)
