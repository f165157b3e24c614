"""Batched chat generation on a tiny random Llama: batch = alone, stop strings, budgets, streaming, cancellation, line
limits, and the points of one answer decoded apart."""

import copy
import re
import string

import pytest
from transformers import LogitsProcessor

from sotkit.engines.generation import _DistinctRows, _newline_id, _Row, chat_token_ids, stream_generate
from sotkit.engines.streaming import TextStream
from sotkit.engines.testing import char_tokenizer, tiny_llama, tiny_chat_tokenizer
from sotkit.providers.base import Prompt
from tests.conftest import smollm2

PROMPTS = [
    Prompt("Tell me about tea.", system="Be brief."),
    Prompt("Why is the sky blue? Explain it well, please.", system="Be brief."),
    Prompt("Tell me about coffee.", system="Be brief.", prefill="1. Beans:"),
]


@pytest.fixture(scope="module")
def tokenizer():
    tok = tiny_chat_tokenizer()
    tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


@pytest.fixture(scope="module")
def model(tokenizer):
    return tiny_llama(len(tokenizer), seed=1)  # a seed whose rows all run to the token budget


@pytest.fixture(scope="module")
def free_run(model, tokenizer):
    """Each prompt generated alone, with no stop strings: the reference for everything else."""
    runs = [stream_generate(model, tokenizer, [p], max_new_tokens=40)[0] for p in PROMPTS]
    assert all(len(r.text) >= 20 for r in runs), "the fixture model should write long enough texts"
    return runs


def test_prefill_leaves_the_assistant_turn_open(tokenizer):
    text = tokenizer.decode(chat_token_ids(tokenizer, PROMPTS[2]))
    assert text.endswith("<|im_start|>assistant\n1. Beans:")
    assert tokenizer.decode(chat_token_ids(tokenizer, PROMPTS[0])).endswith("<|im_start|>assistant\n")


def test_a_template_that_writes_the_bos_itself_gets_one_bos_not_two():
    # Llama-2- and Mistral-style: the tokenizer adds <s> when encoding, and the chat template already wrote one
    from tokenizers import processors

    from sotkit.engines.testing import CHATML

    tokenizer = char_tokenizer(["<unk>", "<|im_end|>", "<|im_start|>", "<s>"], string.printable,
                               eos_token="<|im_end|>")
    tokenizer.bos_token = "<s>"
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A",
                                                                               special_tokens=[("<s>", 3)])
    tokenizer.chat_template = "{{ bos_token }}" + CHATML
    assert tokenizer("Hi")["input_ids"][0] == 3  # encoding adds one
    ids = chat_token_ids(tokenizer, Prompt("Hi"))
    assert ids[0] == 3 and ids.count(3) == 1


@pytest.mark.parametrize("share_prefix", [False, True])
def test_a_batch_writes_what_each_prompt_writes_alone(model, tokenizer, free_run, share_prefix):
    batch = stream_generate(model, tokenizer, PROMPTS, max_new_tokens=40, share_prefix=share_prefix)
    assert [c.text for c in batch] == [c.text for c in free_run]
    assert [c.input_tokens for c in batch] == [len(chat_token_ids(tokenizer, p)) for p in PROMPTS]
    assert [c.output_tokens for c in batch] == [c.output_tokens for c in free_run]


def test_prompts_without_a_common_prefix_are_batched_without_sharing_one(model):
    tokenizer = tiny_chat_tokenizer(pad_token="<|im_end|>")
    tokenizer.padding_side = "left"
    tokenizer.chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}"  # no fixed opening
    prompts = [Prompt("Tea?"), Prompt("Why is the sky blue?")]
    alone = [stream_generate(model, tokenizer, [p], max_new_tokens=20)[0] for p in prompts]
    assert stream_generate(model, tokenizer, prompts, max_new_tokens=20, share_prefix=True) == alone


def test_rows_that_reach_eos_end_there_while_the_others_go_on(tokenizer):
    model = tiny_llama(len(tokenizer), seed=0)  # a seed where rows 2 and 3 write EOS early
    alone = [stream_generate(model, tokenizer, [p], max_new_tokens=40)[0] for p in PROMPTS]
    batch = stream_generate(model, tokenizer, PROMPTS, max_new_tokens=40)
    assert [c.finish_reason for c in batch] == ["length", "eos", "eos"]
    assert batch == alone
    assert "<|im_end|>" not in batch[1].text


def test_every_end_of_turn_id_of_the_generation_config_ends_a_row(model, tokenizer, free_run):
    second_eos = free_run[0].text[5]  # a character (= token) the model writes early in row 0
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(second_eos)]
    try:
        done = stream_generate(model, tokenizer, PROMPTS[:1], max_new_tokens=40)[0]
    finally:
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    assert done.finish_reason == "eos"
    assert done.text == free_run[0].text[: free_run[0].text.index(second_eos)]


def test_each_row_ends_at_its_own_stop_string(model, tokenizer, free_run):
    # Stop strings taken from the middle of each row's free text; rows stop at different steps.
    stops = [(run.text[12:14],) for run in free_run]
    batch = stream_generate(model, tokenizer, PROMPTS, max_new_tokens=40, stop=stops)
    for run, (stop,), done in zip(free_run, stops, batch):
        assert done.text == run.text[: run.text.index(stop)]
        assert done.finish_reason == "stop"
        assert done.output_tokens < run.output_tokens


def test_stop_shared_by_all_rows(model, tokenizer, free_run):
    stop = free_run[1].text[20:22]
    batch = stream_generate(model, tokenizer, PROMPTS, max_new_tokens=40, stop=[stop])
    for run, done in zip(free_run, batch):
        expected = run.text.split(stop)[0]
        assert done.text == expected
        assert done.finish_reason == ("stop" if stop in run.text else run.finish_reason)


def test_per_row_token_budgets(model, tokenizer, free_run):
    batch = stream_generate(model, tokenizer, PROMPTS, max_new_tokens=[3, 9, 5])
    assert [c.output_tokens for c in batch] == [3, 9, 5]
    assert [c.finish_reason for c in batch] == ["length"] * 3
    assert [c.text for c in batch] == [r.text[:n] for r, n in zip(free_run, [3, 9, 5])]


def test_streamed_deltas_add_up_and_never_show_a_stop_string(model, tokenizer, free_run):
    stops = [(run.text[15:18],) for run in free_run]
    deltas: dict[int, list[str]] = {}
    done: dict[int, object] = {}
    batch = stream_generate(
        model, tokenizer, PROMPTS, max_new_tokens=40, stop=stops,
        on_text=lambda row, text: deltas.setdefault(row, []).append(text),
        on_done=lambda row, completion: done.setdefault(row, completion),
    )
    for row, completion in enumerate(batch):
        assert "".join(deltas[row]) == completion.text
        assert len(deltas[row]) > 1  # streamed token by token, not at the end
        assert done[row] == completion
        assert stops[row][0] not in "".join(deltas[row])


def test_should_stop_cancels_every_row_at_the_next_token(model, tokenizer):
    calls = []
    batch = stream_generate(model, tokenizer, PROMPTS, max_new_tokens=40,
                            should_stop=lambda: calls.append(1) or len(calls) >= 2)
    assert [c.finish_reason for c in batch] == ["cancelled"] * 3
    assert [c.output_tokens for c in batch] == [2, 2, 2]


def test_bad_arguments_are_reported(model, tokenizer):
    with pytest.raises(ValueError, match="one per prompt"):
        stream_generate(model, tokenizer, PROMPTS, max_new_tokens=[3, 4])
    with pytest.raises(ValueError, match="at least 1"):
        stream_generate(model, tokenizer, PROMPTS, max_new_tokens=0)
    with pytest.raises(TypeError, match="not a single string"):
        stream_generate(model, tokenizer, PROMPTS, max_new_tokens=5, stop="\n")
    assert stream_generate(model, tokenizer, [], max_new_tokens=5) == []


# -- SmolLM2: the real embedded model ---------------------------------------------------------------------

@smollm2
def test_smollm2_batched_expansion_equals_each_point_alone():
    from sotkit.engines.models import load_model
    from sotkit.templates import Templates

    # float32: in bfloat16 a batch of rows rounds
    # differently from one row, so greedy texts can part ways after a few dozen tokens
    model, tokenizer = load_model("smollm2", dtype="float32")
    templates = Templates(local=True)
    question = "What are the most effective ways to deal with stress?"
    points = [{"index": i, "title": t} for i, t in enumerate(["Exercise", "Sleep well", "Talk to friends"], 1)]
    prompts = [templates.render("expand", question=question, points=points, point=p) for p in points]
    stops = [("\n\n", f"\n{p['index'] + 1}.") for p in points]
    batch = stream_generate(model, tokenizer, prompts, max_new_tokens=48, stop=stops)
    alone = [stream_generate(model, tokenizer, [p], max_new_tokens=48, stop=[s])[0] for p, s in zip(prompts, stops)]
    assert [c.text for c in batch] == [c.text for c in alone]
    assert all(c.text.strip() for c in batch)


@smollm2
def test_smollm2_points_of_one_answer_open_and_go_on_differently():
    from sotkit.engines.models import load_model
    from sotkit.quality import first_sentence, redundancy
    from sotkit.templates import Templates

    model, tokenizer = load_model("smollm2", dtype="float32")
    question = "How can I improve my time management skills?"
    points = [{"index": i, "title": t} for i, t in enumerate(["Set clear goals", "Set priorities", "Plan your day"], 1)]
    prompts = [Templates(local=True).render("expand", question=question, points=points, point=p) for p in points]
    stops = [("\n\n", f"\n{p['index'] + 1}.") for p in points]
    alike = [c.text for c in stream_generate(model, tokenizer, prompts, max_new_tokens=48, stop=stops)]
    distinct = [c.text for c in stream_generate(model, tokenizer, prompts, max_new_tokens=48, stop=stops,
                                                distinct_rows=True)]
    # alone, SmolLM2 opens two points with one sentence ("To improve time management skills, it's essential to")
    assert redundancy(alike) > 0.1 and redundancy(distinct) < redundancy(alike) / 4
    assert all(distinct) and len({first_sentence(t)[:40] for t in distinct}) == len(distinct)


@smollm2
def test_smollm2_streams_characters_split_across_tokens_whole_and_matches_transformers_generate():
    import torch

    from sotkit.engines.models import load_model

    model, tokenizer = load_model("smollm2", dtype="float32")
    prompt = Prompt("Translate to Japanese: good morning")
    deltas: list[str] = []
    [done] = stream_generate(model, tokenizer, [prompt], max_new_tokens=30, on_text=lambda row, text: deltas.append(text))
    # SmolLM2 writes Japanese in byte tokens: one character takes two or three of them
    split = [ch for ch in set(done.text) if len(tokenizer(ch, add_special_tokens=False)["input_ids"]) > 1]
    assert split, f"the reply {done.text!r} has no character written over several tokens"
    assert "".join(deltas) == done.text and not any("\ufffd" in d for d in deltas)
    # the same greedy text as transformers' own generate
    ids = chat_token_ids(tokenizer, prompt)
    out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                         max_new_tokens=30, do_sample=False, top_p=None, top_k=None, temperature=None,
                         pad_token_id=tokenizer.pad_token_id)
    assert done.text == tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)


def test_a_line_limit_forces_a_newline_in_its_row_only(model, tokenizer, free_run):
    limited, free, last = stream_generate(model, tokenizer, PROMPTS, max_new_tokens=40, max_line_tokens=[4, None, 4])
    assert free.text == free_run[1].text  # a row without a limit is untouched
    alone = stream_generate(model, tokenizer, [PROMPTS[0]], max_new_tokens=40, max_line_tokens=4)[0]
    for row in (limited, last, alone):  # every limited row, also one after a row that reached its limit
        lines = row.text.split("\n")
        assert len(lines) >= 5
        assert all(len(tokenizer(line, add_special_tokens=False)["input_ids"]) <= 4 for line in lines)
    assert limited.text.startswith(free_run[0].text[:3])  # the first tokens are the model's own


def test_a_tokenizer_without_a_newline_has_no_newline_to_force(tokenizer):
    assert tokenizer.decode([_newline_id(tokenizer)]) == "\n"
    # "\n" is <unk> here: forcing that token would write "<unk>" where a line should end
    assert _newline_id(char_tokenizer(["<unk>", "</s>"], "ab", eos_token="</s>")) is None


def test_no_two_lines_of_a_list_row_open_alike(model, tokenizer):
    # Unbarred, this model writes the line "j+jO" twice in a row for the first prompt (a point written again).
    for prompt in PROMPTS:
        text = stream_generate(model, tokenizer, [prompt], max_new_tokens=60, max_line_tokens=4)[0].text
        openings = [re.sub(r"^\s*(\d+[.)]?)?\s*", "", line)[:2] for line in text.split("\n")]  # after the number
        openings = [o for o in openings if len(o) == 2]
        assert len(openings) >= 8  # the prefilled prompt's lines spend two or three of their 4 tokens on "2."-"12."
        assert len(set(openings)) == len(openings), text


@pytest.mark.parametrize("prefill, markers", [("1. Beans:", [f"{n}." for n in range(2, 11)]), ("- Beans", ["-"] * 9)])
def test_a_line_ended_for_the_model_opens_with_the_lists_next_marker(model, tokenizer, prefill, markers):
    # left alone after a forced newline a small model explains its point on a line of its own: no new point
    prompt = Prompt("Tell me about coffee.", system="Be brief.", prefill=prefill)
    text = stream_generate(model, tokenizer, [prompt], max_new_tokens=50, max_line_tokens=4)[0].text
    lines = text.split("\n")[1:]  # the first line continues the prefill
    assert len(lines) >= len(markers)
    assert [line[:len(marker)] for line, marker in zip(lines, markers)] == markers


@smollm2
def test_smollm2_skeleton_lines_end_at_their_heads_colon_and_the_list_goes_on():
    from sotkit.engines.models import load_model
    from sotkit.templates import Templates

    model, tokenizer = load_model("smollm2", dtype="float32")
    question = "What are the main differences between Python and JavaScript programming languages?"
    prompt = Templates(local=True).render("skeleton", question=question)
    free, limited = (stream_generate(model, tokenizer, [prompt], max_new_tokens=60, max_line_tokens=limit)[0].text
                     for limit in (None, 16))
    assert re.search(r"[a-z]: [A-Z]", free)  # the model's own lines explain each title after a colon
    lines = (prompt.prefill + limited).rstrip("\n").split("\n")
    assert len(lines) >= 4
    assert all(re.fullmatch(rf"{n}\. [^:]+:?", line) for n, line in enumerate(lines, 1)), lines


class Writes(LogitsProcessor):
    """Makes a one-row batch write ``tokens``: each step the next of them, unless a processor after this one forced
    another token (the script then goes on where it was)."""

    def __init__(self, tokens: list[int]) -> None:
        self.tokens, self.at, self.wanted = tokens, 0, None

    def __call__(self, input_ids, scores):
        if self.wanted is not None and int(input_ids[0, -1]) == self.wanted:
            self.at += 1
        self.wanted = self.tokens[min(self.at, len(self.tokens) - 1)]
        scores[:] = -1e4
        scores[0, self.wanted] = 0.0
        return scores


@smollm2
def test_a_line_limit_ends_a_line_on_a_whole_character(monkeypatch):
    # SmolLM2 writes a Chinese character or an emoji in two to four byte tokens: a newline forced between them left
    # U+FFFD at the end of every title of a Chinese skeleton (and in the point prompts that quote them)
    from transformers import LogitsProcessorList

    from sotkit.engines import generation
    from sotkit.engines.models import load_model

    _, tokenizer = load_model("smollm2", dtype="float32")
    skeleton = "1. 如何提高睡眠质量的方法有很多\n2. Smile 😀 and party 🎉🎉 with 🚀🚀🚀 rockets\n"
    script = tokenizer(skeleton, add_special_tokens=False)["input_ids"]
    limit = 15
    at = script.index(_newline_id(tokenizer))
    assert all(tokenizer.decode(line[:limit]).endswith("\ufffd") for line in (script[:at], script[at + 1 :])), \
        "the limit should fall inside a character of each line"
    writes = Writes(script + [tokenizer.eos_token_id])
    monkeypatch.setattr(generation, "LogitsProcessorList",
                        lambda processors: LogitsProcessorList([writes, *processors]))
    deltas: list[str] = []
    [done] = stream_generate(tiny_llama(len(tokenizer)), tokenizer, [Prompt("How can I sleep better?")],
                             max_new_tokens=100, max_line_tokens=limit, on_text=lambda row, text: deltas.append(text))
    assert "\ufffd" not in done.text and "".join(deltas) == done.text
    # each line ended two tokens past the limit, where its character was whole, and went on after the next marker
    assert done.text.split("\n") == ["1. 如何提高睡眠", "2.质量的方法有很多", "2. Smile 😀 and party 🎉🎉 with 🚀",
                                     "3.🚀🚀 rockets", ""]


@smollm2
def test_a_line_limit_that_falls_after_an_open_word_lets_the_clause_end(monkeypatch):
    # SmolLM2's skeleton for "How can I get better sleep?" had two titles cut at the limit after "and" ("... including
    # sleep disorders and"), which the answer printed as its heads; a line open at the limit now ends with its clause,
    # for up to OPEN_GRACE tokens more, and a line not open there ends at the limit as before
    from transformers import LogitsProcessorList

    from sotkit.engines import generation
    from sotkit.engines.models import load_model

    _, tokenizer = load_model("smollm2", dtype="float32")
    skeleton = ("1. Keep a cool room and a dark one.\n2. Avoid screens, caffeine and alcohol before bed.\n"
                "3. Exercise often and sleep at the same time each night and every day too\n"
                "4. Set a regular sleep schedule every day\n5. Drink plain water at least 2.5 liters, no more\n")
    writes = Writes(tokenizer(skeleton, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id])
    monkeypatch.setattr(generation, "LogitsProcessorList",
                        lambda processors: LogitsProcessorList([writes, *processors]))
    [done] = stream_generate(tiny_llama(len(tokenizer)), tokenizer, [Prompt("How can I sleep better?")],
                             max_new_tokens=100, max_line_tokens=7)  # 7 tokens: "1. Keep a cool room and"
    assert generation.OPEN_GRACE == 8  # the third line: 7 tokens, the open "at", then 8 more at most
    assert done.text.split("\n") == [
        "1. Keep a cool room and a dark one.", "2. Avoid screens, caffeine and alcohol before bed.",
        "3. Exercise often and sleep at the same time each night and every day", "4. too",
        "4. Set a regular sleep schedule", "5. every day", "5. Drink plain water at least 2.5 liters,", "6. no more",
        ""]
    # (review 232: "at least 2." was a clause's end, and the next line's marker took the rest: "2.5 liters")


# -- the points of one answer: _DistinctRows ----------------------------------------------------------------

def distinct_step(tokenizer, prompts, written, favourites, sure=1.0):
    """One step of ``_DistinctRows`` over rows that have written ``written``; every row's scores are 0 but its
    favourite character's, ``sure``. Returns each row's penalized characters and its choice."""
    import torch

    def ids(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    rows = [_Row(TextStream(tokenizer, eos_ids=[tokenizer.eos_token_id])) for _ in written]
    for row, text in zip(rows, written):
        row.stream.push(ids(text))
    processor = _DistinctRows(rows, [ids(p) for p in prompts], [tokenizer.eos_token_id])
    scores = torch.zeros(len(rows), len(tokenizer))
    for row, favourite in enumerate(favourites):
        scores[row, ids(favourite)] = sure
    scores = processor(None, scores)
    penalized = [{tokenizer.decode([i]) for i in (row < 0).nonzero().flatten().tolist()} for row in scores]
    return penalized, [tokenizer.decode([int(row.argmax())]) for row in scores]


def test_a_point_is_steered_off_a_phrase_another_point_wrote(tokenizer):
    penalized, choices = distinct_step(tokenizer, ["Q. 1", "Q. 2"], ["xabc", "yab"], ["d", "c"])
    assert penalized == [set(), {"c"}]  # "abc" was row 0's: row 1 may not write it after "ab"
    assert choices[0] == "d" and choices[1] != "c"


def test_a_point_is_steered_off_its_own_loop_and_the_shared_prompt_but_not_its_own_title(tokenizer):
    prompts = ["Why xyz? Point: uvw", "Why xyz? Point: abc"]
    penalized, _ = distinct_step(tokenizer, prompts, ["abcab", "xy"], ["c", "z"])
    assert penalized == [{"c"}, {"z"}]  # its own "abc" again; "xyz" from the question
    penalized, _ = distinct_step(tokenizer, prompts, ["abcde", "xab"], ["f", "c"])
    assert penalized == [set(), set()]  # row 1's title holds "abc": row 0 wrote it, row 1 still may


def test_a_point_may_always_end(tokenizer):
    # the chat template ends every prompt turn with the end-of-turn token: after "ab" here, too
    penalized, choices = distinct_step(tokenizer, ["ab<|im_end|> Point: 1", "ab<|im_end|> Point: 2"], ["xab", "yab"],
                                       ["<|im_end|>", "c"])
    assert penalized == [set(), set()] and choices == ["<|im_end|>", "c"]


def test_points_decoded_side_by_side_do_not_write_the_same_phrase_in_one_step(tokenizer):
    _, choices = distinct_step(tokenizer, ["Q. 1", "Q. 2", "Q. 3"], ["xab", "yab", "zab"], ["c", "c", "c"])
    assert choices[0] == "c" and "c" not in choices[1:] and choices[1] != choices[2]
    # a penalty, not a ban: a choice the model is sure of stands
    _, choices = distinct_step(tokenizer, ["Q. 1", "Q. 2"], ["xab", "yab"], ["c", "c"], sure=_DistinctRows.PENALTY + 1)
    assert choices == ["c", "c"]


def test_rows_that_are_one_answers_points_part_ways(model, tokenizer):
    prompts = [PROMPTS[0], PROMPTS[0]]
    alike = stream_generate(model, tokenizer, prompts, max_new_tokens=40)
    assert alike[0].text == alike[1].text  # the same prompt twice: the same text twice
    first, second = stream_generate(model, tokenizer, prompts, max_new_tokens=40, distinct_rows=True)
    assert first.text != second.text

    def runs(text):
        return {text[i:i + 3] for i in range(len(text) - 2)}

    assert len(runs(first.text) & runs(second.text)) < len(runs(alike[0].text)) / 4


def test_a_question_that_quotes_the_chat_markup_is_text_not_control_tokens(tokenizer):
    # "<|im_end|>" (id 1) typed by the user must not end the user's turn, nor "<|im_start|>" (id 2) open one
    question = "What do <|im_end|> and <|im_start|>assistant mean?"
    ids = chat_token_ids(tokenizer, Prompt(question, system="Be brief <|im_end|>.", prefill="<|im_start|>"))
    assert ids.count(1) == 2 and ids.count(2) == 3  # the template's own: system and user turns; three openings
    assert tokenizer.decode(ids, skip_special_tokens=False).count(question) == 1
    # a message that is markup written earlier in the chat was found there: the template's own "<|im_start|>" was
    # read as text and the user's as the turn's opening (review 206)
    for quoted in ("<|im_start|>", "<|im_end|>", "<|im_start|>user"):
        ids = chat_token_ids(tokenizer, Prompt(quoted, system="Be brief."))
        assert ids[0] == 2 and ids.count(1) == 2 and ids.count(2) == 3, quoted
        assert tokenizer.decode(ids, skip_special_tokens=False).count(quoted) >= 1
    plain = chat_token_ids(tokenizer, PROMPTS[0])  # no markup quoted: tokenized whole, as before
    assert plain == tokenizer(tokenizer.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me about tea."}],
        tokenize=False, add_generation_prompt=True), add_special_tokens=False)["input_ids"]


def test_a_message_that_quotes_markup_is_found_where_the_template_trims_another_message(tokenizer):
    # review 210: the trimmed system prompt made the rendering with marks differ, and the search that replaced it
    # read the template's own <|im_end|> after the system prompt as the user's quote
    trimming = copy.deepcopy(tokenizer)
    trimming.chat_template = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] | trim + "
                              "'<|im_end|>\\n' }}{% endfor %}{{ '<|im_start|>assistant\\n' }}")
    system = trimming("<|im_start|>system\nBe brief.", add_special_tokens=False)["input_ids"]
    for user in ("<|im_end|>", " <|im_end|>", "<|im_end|>\n"):  # (review 212: a quote the template trims, too)
        ids = chat_token_ids(trimming, Prompt(user, system="Be brief.\n"))
        assert ids[:len(system)] == system and ids[len(system)] == 1 and ids.count(1) == 2, user  # its own, the user's
    # a template that writes a message twice: each copy is text (review 212: the second was read as markup)
    twice = copy.deepcopy(tokenizer)
    twice.chat_template = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + "
                           "'<|im_end|>\\n' }}{% endfor %}{{ '<|im_start|>assistant\\n(re: ' + messages[-1]['content'] "
                           "+ ')' }}")
    ids = chat_token_ids(twice, Prompt("<|im_end|>"))
    assert ids.count(1) == 1 and ids.count(2) == 2  # the user turn's end; the two turns' openings


@smollm2
def test_the_text_around_a_message_that_quotes_markup_is_tokenized_whole_as_before():
    # review 209: every message and piece of markup was tokenized apart once one message quoted markup, so the
    # "\n\n" between a Gemma-style template's system text and the user's became one token, not a plain prompt's two
    from sotkit.engines.models import load_model

    _, tokenizer = load_model("smollm2", dtype="float32")
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]})
    tokenizer.chat_template = (
        "{{ bos_token }}{% set first = messages[0]['content'] + '\n\n' %}{% for message in messages[1:] %}"
        "{{ '<start_of_turn>' + message['role'] + '\n' + (first if loop.first else '') + message['content'] | trim + "
        "'<end_of_turn>\n' }}{% endfor %}{{ '<start_of_turn>model\n' }}")
    system = "Explain <end_of_turn> literally."
    text = tokenizer.apply_chat_template([{"role": "system", "content": system},
                                          {"role": "user", "content": "Tell me about tea."}], tokenize=False,
                                         add_generation_prompt=True)
    at = text.index(system)

    def ids(piece, plain=False):
        return tokenizer(piece, add_special_tokens=False, split_special_tokens=plain)["input_ids"]

    assert chat_token_ids(tokenizer, Prompt("Tell me about tea.", system=system)) == \
        ids(text[:at]) + ids(system, plain=True) + ids(text[at + len(system):])


@pytest.mark.parametrize("fast_decode", [False, True])
def test_budgets_stop_at_the_models_context_and_a_prompt_that_fills_it_is_refused(model, tokenizer, fast_decode):
    from sotkit.engines.errors import ConfigError

    most = model.config.max_position_embeddings  # 1024
    long, short = Prompt("tea " * 240), Prompt("Why?")
    lengths = [len(chat_token_ids(tokenizer, p)) for p in (long, short)]
    rows = stream_generate(model, tokenizer, [long, short, short], max_new_tokens=[200, 200, 3],
                           fast_decode=fast_decode)
    # every row has the room the longest prompt leaves: rows that ended are fed pads at positions after their own;
    # a row cut there says the window cut it (a larger budget would not help), one at its budget says "length"
    assert [r.output_tokens for r in rows] == [most - lengths[0]] * 2 + [3] and lengths[0] + 200 > most
    assert [r.finish_reason for r in rows] == ["model_context_window_exceeded"] * 2 + ["length"]
    with pytest.raises(ConfigError, match=rf"the prompt has {len(chat_token_ids(tokenizer, Prompt('tea ' * 260)))} "
                                          rf"tokens and the model's context holds {most}"):
        stream_generate(model, tokenizer, [short, Prompt("tea " * 260)], max_new_tokens=5, fast_decode=fast_decode)
