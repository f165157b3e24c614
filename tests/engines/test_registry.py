"""The engine seam: an engine registered from a test module answers ``local:`` SoT requests, batched or not, and
streams through the shared ``TextStream`` (stops, hold-back, budget, EOS)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

import anyio

import pytest

import sotkit
from sotkit.engines import registry
from sotkit.engines.base import Engine
from sotkit.engines.streaming import LOOP_PERIOD, LOOP_TOKENS, Completion, TextStream

pytestmark = pytest.mark.anyio

PIECE = 3  # characters per step: the toy commits "tokens" (characters) in spans of this size
SKELETON = "1. Tea\n2. Coffee\n3. Cocoa\n"


class CharTokenizer:
    """One token per character (its code point); 0 is the end of sequence."""

    eos_token_id = 0

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(chr(i) for i in ids if i)


def point_text(title: str) -> str:
    return f"{title} is made with hot water. Many people enjoy {title.lower()} in the morning."


def reply(request) -> str:
    """A skeleton for a list-shaped request (it has a line limit), continuing its prefill ("1."), else a paragraph
    on the point's title (the first sentence of the local expand prompt's user turn)."""
    if request.max_line_tokens:
        return SKELETON.removeprefix(request.prompt.prefill or "")
    title = request.prompt.user.split(".")[0]
    text = point_text(title) + "\n\nIgnored after a stop."
    return text.removeprefix(request.prompt.prefill or "")  # a retry continues the text it was given


class Echo(Engine):
    """Writes ``reply(request)`` in fixed-size pieces; loads no model."""

    name = "toy_echo"
    calls: list[int] = []  # rows per generate call, for the assertions

    def __init__(self, model: str, *, piece: int = PIECE) -> None:  # no model directory to check
        self.model, self.piece = model, piece

    def load(self, device, dtype):
        return CharTokenizer()

    reply = staticmethod(reply)

    def generate_one(self, tokenizer, request, on_text, should_stop):
        type(self).calls.append(1)
        return self._write(tokenizer, request, on_text, should_stop)

    def _write(self, tokenizer, request, on_text, should_stop):
        stream = TextStream(tokenizer, request.stop, on_text, eos_ids=[0], max_tokens=request.max_tokens,
                            input_tokens=len(request.prompt.user))
        ids = [ord(c) for c in self.reply(request)] + [0]
        for start in range(0, len(ids), self.piece):
            if stream.push(ids[start : start + self.piece]) or should_stop():
                break
        return stream.finish("cancelled")


class BatchedEcho(Echo):
    name = "toy_echo_batched"
    batches = True

    def generate(self, tokenizer, requests, on_text, on_done, should_stop):
        type(self).calls.append(len(requests))
        for row, request in enumerate(requests):
            on_done(row, self._write(tokenizer, request, lambda text, row=row: on_text(row, text), should_stop))


class BatchThatBreaks(BatchedEcho):
    """Its batches die in the worker thread once a row has written part of its text; single calls work."""

    name = "toy_batch_that_breaks"

    def generate(self, tokenizer, requests, on_text, on_done, should_stop):
        if len(requests) == 1:
            return super().generate(tokenizer, requests, on_text, on_done, should_stop)
        type(self).calls.append(len(requests))
        on_done(0, self._write(tokenizer, requests[0], lambda text: on_text(0, text), should_stop))
        on_text(1, point_text("Coffee")[:16])  # part of a sentence
        raise RuntimeError("the batch died")


@pytest.fixture(autouse=True)
def scratch_registry(monkeypatch):
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))  # registrations end with the test


@pytest.mark.parametrize("engine", [Echo, BatchedEcho], ids=["one at a time", "batched"])
async def test_a_toy_engine_registered_here_answers_sot_through_local(engine):
    registry.register(engine)
    engine.calls = []
    result = await sotkit.generate("What are some warm drinks?", model="local:toy", decoding=engine.name,
                                   mode="sot", stall_timeout=None)
    assert result.mode == "sot" and [p.title for p in result.points] == ["Tea", "Coffee", "Cocoa"]
    for point in result.points:  # cut at the stop string "\n\n", nothing after it
        assert point.text == point_text(point.title)
    assert result.usage.output_tokens > 0 and result.usage.cost == 0.0  # an in-process model has no bill
    # the skeleton, then the three expansions: in one batch, or one call each
    assert engine.calls == ([1, 3] if engine.batches else [1, 1, 1, 1])


async def test_a_batched_point_is_stitched_when_its_row_ends_not_when_the_whole_batch_does():
    registry.register(BatchedEcho)
    async with sotkit.stream("What are some warm drinks?", model="local:toy", decoding=BatchedEcho.name,
                             mode="sot") as events:
        seen = [event async for event in events]
    order = [(e.type, e.index) for e in seen if e.type in ("text", "point_delta")]
    assert order.index(("text", 2)) < order.index(("point_delta", 3))  # point 2 shown before row 3 is written
    assert seen[-1].result.text == "\n".join(f"{i}. {t}: {point_text(t)}"
                                              for i, t in enumerate(("Tea", "Coffee", "Cocoa"), 1))


async def test_a_batch_row_that_fails_is_retried_through_the_runner_as_a_single_call():
    registry.register(BatchThatBreaks)
    BatchThatBreaks.calls = []
    async with sotkit.stream("What are some warm drinks?", model="local:toy", decoding=BatchThatBreaks.name,
                             mode="sot", stall_timeout=None) as events:
        seen = [event async for event in events]
    result = seen[-1].result
    assert [p.text for p in result.points] == [point_text(t) for t in ("Tea", "Coffee", "Cocoa")]
    # rows 2 and 3 were announced as retried and ran alone; row 2 continued the text the batch had shown
    assert sorted(e.index for e in seen if e.type == "retry") == [2, 3]
    assert not [e for e in seen if e.type == "withdraw"]
    assert BatchThatBreaks.calls == [1, 3, 1, 1]
    assert [p.attempts for p in result.points] == [1, 2, 2]


class Looping(Echo):
    """Writes one sentence again and again after its first, as SmolLM2 does in many answers."""

    name = "toy_looping"

    @staticmethod
    def reply(request) -> str:
        return "Three tips. " + LOOPED * 20


async def test_a_local_answer_that_loops_ends_before_the_repeat_cut_off_and_says_so():
    registry.register(Looping)
    async with sotkit.stream("How can I sleep better?", model="local:toy", decoding=Looping.name,
                             mode="sequential", max_tokens=1024) as events:
        seen = [event async for event in events]
    result = seen[-1].result
    assert result.text == "Three tips. " + LOOPED.strip() == "".join(e.text for e in seen if e.type == "text")
    assert (result.truncated, result.finish_reason) == (True, "repetition")
    assert result.usage.output_tokens < len(Looping.reply(None)) // 4  # (the model stopped: no 1,024 tokens)


class SlowLoop(Looping):
    """Loops on a paragraph of 160 tokens, 10 ms a token: the repeat is held back for 1.6 s, longer than the stall
    timeout of the test below (a 7B model on a CPU, 0.25 s a token, would hold it back 40 s)."""

    name = "toy_slow_loop"

    @staticmethod
    def reply(request) -> str:
        return "My advice. " + ("Good sleep starts with a routine: go to bed and get up at the same time every day, "
                                "keep the bedroom dark, quiet and cool, and leave the phone in another room. ") * 6

    def _write(self, tokenizer, request, on_text, should_stop):
        stream = TextStream(tokenizer, request.stop, on_text, eos_ids=[0], max_tokens=request.max_tokens)
        for c in self.reply(request):
            time.sleep(0.01)  # a step of the model
            if stream.push([ord(c)]) or should_stop():
                break
        return stream.finish("cancelled")


async def test_a_repeat_held_back_longer_than_the_stall_timeout_is_no_stall():
    registry.register(SlowLoop)
    result = await sotkit.generate("How can I sleep better?", model="local:toy", decoding=SlowLoop.name,
                                   mode="sequential", max_tokens=2000, stall_timeout=1.0, retry=1)
    assert result.finish_reason == "repetition" and result.text.endswith("in another room.")


class SlowEcho(Echo):
    """Echo that takes a while per piece and counts the generations running at once."""

    name = "toy_echo_slow"
    running = most = 0

    def generate_one(self, tokenizer, request, on_text, should_stop):
        cls = type(self)
        cls.running += 1
        cls.most = max(cls.most, cls.running)
        try:
            return self._write(tokenizer, request, lambda text: (time.sleep(0.002), on_text(text)), should_stop)
        finally:
            cls.running -= 1


def test_one_local_model_used_from_several_event_loops_answers_each_in_turn():
    """A capacity limiter belongs to one event loop: shared across loops, one released in a loop never woke the
    others, and every request waited for ever. Generations of one model still run one at a time."""
    registry.register(SlowEcho)
    texts: list[str] = []

    def ask() -> None:
        texts.append(anyio.run(lambda: sotkit.generate("Why tea?", model="local:toy", decoding=SlowEcho.name,
                                                        mode="sequential")).text)

    threads = [threading.Thread(target=ask, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(texts) == 3 and len(set(texts)) == 1 and SlowEcho.most == 1


class CountedLoads(Echo):
    name = "toy_echo_counted"
    loads = 0

    def load(self, device, dtype):
        type(self).loads += 1
        return super().load(device, dtype)


async def test_an_engines_own_load_runs_once_per_client_not_per_call():
    registry.register(CountedLoads)
    async with sotkit.SoT("local:toy", decoding=CountedLoads.name) as sot:
        for mode in ("sot", "sequential", "sot"):
            await sot.generate("What are some warm drinks?", mode=mode)
    assert CountedLoads.loads == 1


def test_engine_options_are_checked_when_the_client_is_built():
    registry.register(Echo)
    assert "toy_echo" in registry.names()
    with pytest.raises(sotkit.ConfigError, match=r"unknown option\(s\) for local models: pice; did you mean piece=\?"):
        sotkit.SoT("local:toy", decoding="toy_echo", pice=2)
    for typo, meant in (("devise", "device"), ("dtyp", "dtype"), ("decodng", "decoding"), ("alpah", "alpha")):
        with pytest.raises(sotkit.ConfigError, match=f"{typo}; did you mean {meant}=\\? local models take"):
            sotkit.SoT("local:toy", **{typo: "cpu"})
    with pytest.raises(sotkit.ConfigError, match="decoding='greedy' takes fast_decode=, distinct_points=; "
                                                 "alpha= is an option of decoding='lexical_unit'"):
        sotkit.SoT("local:toy", alpha=0.5)  # greedy, the default, takes none; the message names who does
    with pytest.raises(sotkit.ConfigError, match="decoding='toy_ech'; use one of .*'greedy'.*'toy_echo'"):
        sotkit.SoT("local:toy", decoding="toy_ech")
    with pytest.raises(TypeError, match="not an Engine subclass"):
        registry.register(CharTokenizer)  # type: ignore[arg-type]


def test_the_built_in_engines_and_their_commands_come_from_the_registry():
    assert {"greedy", "lexical_unit", "focusllm"} <= set(registry.names())
    commands = registry.commands()
    assert {c: e.name for c, e in commands.items()} == {"lud": "lexical_unit", "focus": "focusllm"}
    help_text = subprocess.run([sys.executable, "-m", "sotkit.cli", "engines", "--help"], capture_output=True,
                               text=True, check=True).stdout
    assert "{focus,lud}" in help_text


@pytest.mark.parametrize("piece", [1, 2, 5])
def test_text_stream_holds_back_partial_stops_and_characters_whatever_the_span(piece):
    # U+FFFD is what a tokenizer decodes for a character whose bytes have not all arrived: held until settled
    text = "ab\ufffdcd\n\nef"
    received: list[str] = []
    stream = TextStream(CharTokenizer(), ["\n\n"], received.append, eos_ids=[0], max_tokens=100)
    ids = [ord(c) for c in text]
    for start in range(0, len(ids), piece):
        if stream.push(ids[start : start + piece]):
            break
    done = stream.finish("length")
    assert "".join(received) == done.text == "ab\ufffdcd"
    assert done.finish_reason == "stop"
    assert not any(r.endswith("\ufffd") for r in received)  # never handed over unsettled
    # tokens after the stop string are not the generation's: at most the span that completed it
    assert stream.tokens == ids[: text.index("\n\n") + 2]


def test_text_stream_counts_eos_and_ends_at_the_budget():
    ends = TextStream(CharTokenizer(), eos_ids=[0], max_tokens=10)
    assert ends.push([ord("h"), ord("i"), 0, ord("x")]) and ends.completion.text == "hi"
    assert ends.completion.output_tokens == 3 and ends.completion.finish_reason == "eos"
    cut = TextStream(CharTokenizer(), eos_ids=[0], max_tokens=4)
    assert cut.push([ord(c) for c in "abcdef"]) and (cut.text, cut.completion.finish_reason) == ("abcd", "length")
    with pytest.raises(TypeError, match="not a single string"):
        TextStream(CharTokenizer(), "\n")


def test_text_stream_names_the_context_window_where_it_ends_the_text_before_the_budget():
    window = TextStream(CharTokenizer(), eos_ids=[0], max_tokens=10, context_room=4)
    assert window.push([ord(c) for c in "abcdef"]) and window.max_tokens == 4
    assert (window.text, window.completion.finish_reason) == ("abcd", "model_context_window_exceeded")
    for budget in (3, 4):  # the budget ends it first, or both at once: the budget is what to raise
        assert TextStream(CharTokenizer(), max_tokens=budget, context_room=4).finish().finish_reason == "length"
    assert TextStream(CharTokenizer(), context_room=4).finish().finish_reason == "model_context_window_exceeded"


LOOPED = "Sleep at the same time every night, and keep the room dark and cool. "  # 70 characters, 70 tokens
SNIPPET = ("You can also use the open function with a custom mode:\n\n```python\ndef f(path, mode=\"r\"):\n"
           "    with open(path, mode) as file:\n        return file.read()\n```\n\nThis opens the file in read mode.")


def streamed(ids: list[int], tokenizer=None, *, piece: int = 1, stops: tuple[str, ...] = (), max_tokens: int = 1000
             ) -> tuple[Completion, str]:
    """The completion of ``ids`` pushed ``piece`` at a time (a character a token by default), and the text streamed."""
    received: list[str] = []
    stream = TextStream(tokenizer or CharTokenizer(), stops, received.append, eos_ids=[0], max_tokens=max_tokens)
    for start in range(0, len(ids), piece):
        if stream.push(ids[start : start + piece]):
            break
    return stream.finish("length"), "".join(received)


def chars(text: str) -> list[int]:
    return [ord(c) for c in text]


@pytest.mark.parametrize("piece", [1, 3, 80])
def test_text_stream_ends_a_loop_before_its_repeat_and_never_streams_the_repeat(piece):
    done, shown = streamed(chars("Three tips. " + LOOPED * 5), piece=piece, stops=("\n\n",))
    # the repeat began at the full stop, as the text before the first copy ended with one too: the stop stays
    assert (done.text, done.finish_reason) == ("Three tips. " + LOOPED.strip(), "repetition") and shown == done.text
    # its tokens up to the one that made it a loop are counted (generated), none after it in the same span
    assert done.output_tokens == len("Three tips. " + LOOPED) - 2 + max(LOOP_TOKENS, len(LOOPED))


def test_text_stream_holds_a_repeat_back_only_while_it_lasts():
    received: list[str] = []
    stream = TextStream(CharTokenizer(), (), received.append, eos_ids=[0], max_tokens=1000)
    stream.push(chars("Rest well - rest well"))
    assert received == ["Rest well - r"]  # "est well" repeats what came before: it may be a loop's start
    stream.push(chars(" "))
    assert received[-1] == ""  # held still: an empty text says the generation goes on (a stall timer's progress)
    stream.push(chars("!"))
    assert "".join(received) == "Rest well - rest well !"


@pytest.mark.parametrize("text, kept", [
    # the looping sentence ends as the one before it: the cut falls at its end, not inside it
    ("To sleep better, avoid screens before bed. " + "Keep the room cool before bed. " * 12,
     "To sleep better, avoid screens before bed. Keep the room cool before bed."),
    ("1. Drink water every day.\n" + "2. Eat vegetables every day.\n" * 12,
     "1. Drink water every day.\n2. Eat vegetables every day."),
    # review 235: a full stop inside a number ends no sentence
    ("Old dose was 3.5 mg. " + "New dose is 3.5 mg. " * 10, "Old dose was 3.5 mg. New dose is 3.5 mg."),
    # review 236: a sentence's end with its closing quote or bracket, in a token of its own
    ("Avoid screens before bed.» " + "Keep the room cool before bed.» " * 8,
     "Avoid screens before bed.» Keep the room cool before bed.»"),
])
def test_text_stream_keeps_the_first_copy_of_a_looping_sentence_whole(text, kept):
    done, shown = streamed(chars(text))
    assert (done.text, done.finish_reason, shown) == (kept, "repetition", kept)


class WordTokenizer:
    """A token per word with the white space before it, as a BPE tokenizer splits text: " The" is not "The"."""

    def __init__(self) -> None:
        self.words: list[str] = [""]  # (0: the end of sequence)

    def encode(self, text: str) -> list[int]:
        words = re.findall(r"\s*\S+|\s+", text)
        for word in words:
            if word not in self.words:
                self.words.append(word)
        return [self.words.index(word) for word in words]

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(self.words[i] for i in ids)


def test_text_stream_keeps_a_looping_sentence_whole_where_a_token_decoded_alone_loses_its_space():
    """Llama 2's and Mistral's decoder drops the space a token opens with where it comes first: "▁Keep" alone is
    "Keep"; what follows a full stop is read in the text, not in a token decoded alone (review 236)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    text = "Avoid screens before bed. " + "Keep the room cool before bed. " * 12
    pieces = sorted(set(re.findall(r" ?\w+|[^\w\s]", " " + text)))
    vocab = {"</s>": 0, "<unk>": 1, **{piece.replace(" ", "▁"): i + 2 for i, piece in enumerate(pieces)}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(),
                                                  pre_tokenizers.Split(Regex(r"▁?\w+|[^\w▁]"), "isolated")])
    core.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                      decoders.Strip(" ", 1, 0)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="</s>", unk_token="<unk>")
    done, shown = streamed(tokenizer.encode(text, add_special_tokens=False), tokenizer)
    assert done.text == "Avoid screens before bed. Keep the room cool before bed." == shown


def test_text_stream_cut_by_a_loop_keeps_one_copy_where_the_first_opens_a_paragraph():
    # review 235: "The" opening the text and " The" after a full stop are two tokens: the repeat began one word into
    # the second copy, already shown, and the answer ended with the sentence twice
    tokenizer = WordTokenizer()
    done, shown = streamed(tokenizer.encode("Intro.\n\nThe code was written by Alan Turing in 1950." +
                                            " The code was written by Alan Turing in 1950." * 12), tokenizer)
    assert done.text == "Intro.\n\nThe code was written by Alan Turing in 1950." == shown


def test_text_stream_cut_by_a_loop_inside_a_character_takes_back_nothing_shown():
    """A byte-fallback decoder turns the whole last run of byte tokens into U+FFFD where it ends inside a character:
    the text before the repeat is decoded once, and never shorter than what was shown."""
    done, shown = streamed(list(("Note: 😴—" + "日本" * 16).encode()), ByteFallbackTokenizer())
    assert (done.text, done.finish_reason, shown) == ("Note: 😴—日本", "repetition", "Note: 😴—日本")


@pytest.mark.parametrize("text", [
    "A grid:\n```\n" + "{0, 0, 0, 0, 0, 0, 0, 0},\n" * 12 + "```\nAll zeros.",  # rows alike in a code block
    "A form:\n\n| Name | Date |\n|---|---|\n" + "|   |   |\n" * 20 + "\nFill it in.",  # and in a table
    "A board:\n~~~\n" + ". . . . . . . .\n" * 12 + "~~~\nAll empty.",
    "1. A grid:\n   ```c\n" + "   {0, 0, 0, 0, 0, 0, 0, 0},\n" * 12 + "   ```\n2. Print it.",  # a list item's block
    "A grid:\n```\n" + "{0, 0, 0, 0, 0, 0, 0, 0},\n" * 10 + "```\nAll zeros.",  # (review 238: its fence in a span)
    # rows alike with words, in a block, shorter than LOOP_PERIOD tokens: a blank template; a snippet shown again with
    # its sentences, then something else (SmolLM2, on how to open a file, was cut after the first)
    "Intro.\n\n" + SNIPPET + "\n\n" + SNIPPET + "\n\nYou can also use a mode of your own.\n\nDone.",
    "A table:\n```html\n<table>\n" + "<tr><td></td><td></td></tr>\n" * 8 + "</table>\n```\nFill it in.",
    # and repeats that are no loop:
    "ha" * (LOOP_TOKENS // 2) + "!",  # back to back, but shorter than LOOP_TOKENS
    "".join(f"Verse {n} is here. {LOOPED}" for n in "1234"),  # a refrain, not back to back
    "".join(chr(ord("a") + i % 26) + str(i) for i in range(LOOP_PERIOD)) * 2,  # a run longer than LOOP_PERIOD
])
def test_text_stream_keeps_rows_alike_in_a_code_block_or_a_table_and_repeats_that_are_no_loop(text):
    for piece in (1, 5):  # (a lexical-unit engine's spans are a few tokens)
        done, shown = streamed(chars(text), piece=piece, max_tokens=len(text))
        assert (done.text, done.finish_reason, shown) == (text, "length", text)


LINES = "I will not talk in class. " * 20
INTRO = "Talking in class distracts others, so here is the line the teacher set, to write out by hand. "


@pytest.mark.parametrize("question, text, kept", [
    # a loop that begins the answer, of the user's words (case, spacing and punctuation aside): asked for
    ("Write the sentence 'I will not talk in class.' 20 times.", LINES, LINES),
    ("Say 'HELLO, WORLD' fifty times", "Sure! " + "Hello world! " * 50, "Sure! " + "Hello world! " * 50),
    ("Write “Haha!” 50 times", "Haha! " * 60, "Haha! " * 60),  # (review 239: punctuation in the quotes)
    ("Write 'haha' 50 times", "haha" * 50, "haha" * 50),  # (review 240: copies of the quote, "ha" again)
    ("请把我不会在课堂上说话写二十遍。", "我不会在课堂上说话。" * 20, "我不会在课堂上说话。" * 20),  # (no spaces)
    ("Write 'ha' 100 times", "ha" * 100, "ha" * 100),  # (one word, quoted)
    # not asked: another question's, after the answer's start, or a loop after the asked one
    ("How can I keep quiet in class?", LINES, "I will not talk in class."),
    ("Write the sentence 'I will not talk in class.' 20 times.", INTRO + LINES,
     INTRO + "I will not talk in class."),
    ("Write the sentence 'I will not talk in class.' 20 times.", LINES + "The teacher smiled. " * 10,
     LINES + "The teacher smiled."),
    # review 238: one word again, not quoted, or letters of the user's inside other words
    ("Explain the theory of relativity.", "The the " * 20, "The the"),
    ("Give me 10 tips for sleeping well.", "1. " * 90, "1."),
    ("What is the capital of France?", "Haha! " * 60, "Haha!"),
    ("Explain machine learning.", "Machine learning, " * 20, "Machine learning,"),  # (two words, not quoted)
    ("What is 3 * 4 * 5?", "4 " * 100, "4"),  # (review 240: an asterisk is no quote mark)
])
def test_text_stream_writes_on_a_loop_the_user_asked_for(question, text, kept):
    received: list[str] = []
    stream = TextStream(CharTokenizer(), (), received.append, max_tokens=len(text), asked=question)
    for start in range(0, len(text), 3):
        stream.push(chars(text[start : start + 3]))
    done = stream.finish()
    assert (done.text.strip(), done.finish_reason) == (kept.strip(), "length" if kept == text else "repetition")
    assert "".join(received) == done.text


@pytest.mark.parametrize("text, kept", [
    # rows alike with words in a code block are a loop once their repeat reaches LOOP_PERIOD tokens (SmolLM2 wrote
    # each of these to its budget)
    ("Like this:\n```java\nimport java.io.File;\n" + "import java.util.NoSuchException;\n" * 12 + "```\nDone.",
     "Like this:\n```java\nimport java.io.File;\nimport java.util.NoSuchException;"),
    ("Run:\n```bash\nffmpeg -i in.flv" + " -noop" * 60 + "\n```\n", "Run:\n```bash\nffmpeg -i in.flv -noop"),
    ("Intro.\n\n" + (SNIPPET + "\n\n") * 6, "Intro.\n\n" + SNIPPET),  # a snippet and its sentence, again and again
    # review 239: rows of words whose zeros, a loop of their own from the same first token, run on
    ("```\nboard:" + ("0 " * 40 + "# empty\n") * 12 + "```\n", "```\nboard:" + "0 " * 40 + "# empty\n"),
    # (the row's closing bar goes with the repeat: a bar ends no phrase, and the repeat began after a space)
    ("| Day | Plan |\n|---|---|\n" + "| Rest | Rest |\n" * 20, "| Day | Plan |\n|---|---|\n| Rest | Rest "),
])
def test_text_stream_ends_a_loop_of_words_in_a_code_block_or_a_table(text, kept):
    assert len(text) - len(kept) > LOOP_PERIOD  # (a character a token)
    for piece in (1, 5):
        done, shown = streamed(chars(text), piece=piece, max_tokens=len(text))
        assert (done.text, done.finish_reason, shown) == (kept, "repetition", kept)


class ByteFallbackTokenizer:
    """One token per byte: ASCII a token of its own, other bytes byte tokens, decoded as Llama 2's and Mistral's
    tokenizers decode them: a run of byte tokens that is no whole UTF-8 text is one U+FFFD per byte."""

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        from tokenizers import decoders

        return decoders.ByteFallback().decode([chr(i) if i < 128 else f"<0x{i:02X}>" for i in ids])


@pytest.mark.parametrize("tokenizer", [CharTokenizer(), ByteFallbackTokenizer()], ids=["one U+FFFD", "byte fallback"])
@pytest.mark.parametrize("ending", ["length", "eos", "cancelled"])
def test_text_stream_cut_inside_a_character_hands_over_none_of_it(tokenizer, ending):
    if isinstance(tokenizer, CharTokenizer):  # a byte-level BPE's: one U+FFFD for what came of the character
        tokens = [ord(c) for c in "ab睡"] + [0xFFFD]
    else:  # "a", "b", 睡's three bytes and two of 眠's
        tokens = list("ab睡眠".encode()[:7])
    received: list[str] = []
    stream = TextStream(tokenizer, (), received.append, eos_ids=[0],
                        max_tokens=len(tokens) if ending == "length" else 100)
    for token in tokens + ([0] if ending == "eos" else []):
        stream.push([token])
    done = stream.finish("cancelled")
    assert (done.text, done.finish_reason) == ("ab睡", ending) and "".join(received) == "ab睡"


class SlowToLoad(Echo):
    """A model whose first load outlasts the request's deadline (SmolLM2's first de-quantisation takes ~20 s):
    it loads only once the test lets it."""

    name = "toy_slow_to_load"
    release = threading.Event()
    loaded = threading.Event()

    def load(self, device, dtype):
        type(self).release.wait(30)
        type(self).loaded.set()
        return CharTokenizer()


async def test_a_deadline_that_passes_while_the_model_loads_ends_the_request_on_time():
    registry.register(SlowToLoad)
    with pytest.raises(sotkit.DeadlineExceeded) as caught:
        await sotkit.generate("What are some warm drinks?", model="local:toy-slow", decoding=SlowToLoad.name,
                              mode="sequential", deadline=0.3)
    assert not SlowToLoad.loaded.is_set()  # the request ended while the load was still running
    assert caught.value.partial.text == ""
    SlowToLoad.release.set()  # the abandoned load finishes in its thread and serves the next request
    result = await sotkit.generate("What are some warm drinks?", model="local:toy-slow", decoding=SlowToLoad.name,
                                   mode="sequential")
    assert SlowToLoad.loaded.is_set() and result.text.startswith("What are some warm drinks")
