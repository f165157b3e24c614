"""The judge-free measures on hand-made answers whose redundancy and restatement are known."""

import pytest

from sotkit.expansion import ExpansionFilter
from sotkit.quality import (Instructions, content_words, echo, length_ratio, redundancy, restatement, restates_question,
                            speedup, speedup_per_token, words)
from sotkit.templates import Templates


def test_points_that_share_no_phrase_have_no_redundancy():
    points = ["Go to bed at the same hour every night.", "Keep the bedroom dark and cool.",
              "Avoid coffee after lunch time."]
    assert redundancy(points) == 0.0


def test_identical_points_are_fully_redundant():
    assert redundancy(["Drink water every day.", "Drink water every day."]) == 1.0


def test_redundancy_counts_the_share_of_each_points_trigrams_found_elsewhere():
    # a: "a b c d" -> (a b c), (b c d); b: "b c d e" -> (b c d), (c d e); c shares nothing
    points = ["alpha beta gamma delta", "beta gamma delta epsilon", "zeta eta theta iota"]
    # a: 1 of 2 shared, b: 1 of 2 shared, c: 0 of 2 -> mean (0.5 + 0.5 + 0) / 3
    assert redundancy(points) == pytest.approx(1 / 3)


def test_redundancy_ignores_points_too_short_for_a_trigram_and_needs_two_points():
    assert redundancy(["one two"]) is None  # nothing to compare: the report shows "–", not a perfect 0.00
    assert redundancy(["one two", "one two three", "four five six"]) == 0.0


def test_a_first_sentence_that_repeats_the_question_is_a_restatement():
    question = "How can I improve my time management skills?"
    restated = "To improve your time management skills, it's essential to plan. Start with a list."
    fresh = "Plan each day the evening before. Improving time management skills takes practice."
    assert restates_question(question, restated)
    assert not restates_question(question, fresh)  # only its second sentence names the question's words
    assert restatement(question, [restated, fresh, "", restated]) == pytest.approx(2 / 3)


def test_a_question_with_one_content_word_is_never_restated():
    assert content_words("Why sleep?") == {"sleep"}
    assert not restates_question("Why sleep?", "Sleep matters because the body repairs itself.")
    assert restatement("Why sleep?", ["Sleep matters because the body repairs itself."]) is None  # cannot tell


def test_restatement_without_a_point_with_words_is_not_measured():
    question = "How can I improve my time management skills?"
    assert restatement(question, []) is None
    assert restatement(question, ["", "…", "🙂"]) is None
    assert restatement(question, ["…", "Plan the day."]) == 0.0  # only the point with words counts


def test_lengths_and_speedups():
    assert length_ratio("one two three", "one two three four five six") == 0.5
    assert length_ratio("anything", "") is None
    assert speedup(10.0, 4.0) == 2.5
    assert speedup(0.0, 4.0) is None
    # SoT twice as fast but half as long: no speed-up per token
    assert speedup_per_token(10.0, 200, 5.0, 100) == pytest.approx(1.0)
    assert speedup_per_token(10.0, 0, 5.0, 100) is None


def test_echo_is_the_share_of_sentences_copied_from_the_template_not_the_question_or_title():
    question, title = "How can I sleep better?", "Avoid heavy meals"
    rendered = (f'Question: {question}\n\nOne part of the answer is "{title}". '
                "Explain only this part, in four sentences.")
    instructions = Instructions(rendered, (question, title))
    assert echo(instructions, f'One part of the answer is "{title}". Eat dinner by seven.') == 0.5
    assert echo(instructions, "Explain only this part, in four sentences.") == 1.0
    assert echo(instructions, f"{title} before bed. How can I sleep better? Eat early.") == 0.0  # quoted only
    assert echo(instructions, "") == 0.0


# -- other scripts -------------------------------------------------------------------------------------------------


def test_words_are_read_in_every_script():
    assert words("Gardez un horaire régulier, l'été.") == ["gardez", "un", "horaire", "régulier", "l'été"]
    assert words("Соблюдайте режим сна") == ["соблюдайте", "режим", "сна"]
    assert words("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # the vowel signs (combining marks) stay in their word
    assert words("re\u0301gulier") == ["re\u0301gulier"]  # an accent as a combining mark (decomposed text)
    # a script written without spaces is read as characters, beside the words of a spaced one
    assert words("每天保持 sleep 规律。") == ["每", "天", "保", "持", "sleep", "规", "律"]
    assert words("Don't sleep 5'10 in x_y.") == ["don't", "sleep", "5", "10", "in", "x", "y"]  # as ever in English


@pytest.mark.parametrize("points", [
    ["Gardez un horaire de sommeil régulier chaque jour.", "Gardez un horaire de sommeil régulier chaque jour."],
    ["Соблюдайте регулярный режим сна каждый день.", "Соблюдайте регулярный режим сна каждый день."],
    ["每天保持规律的睡眠时间。", "每天保持规律的睡眠时间。"],
])
def test_points_that_repeat_each_other_in_other_scripts_are_redundant_and_restated(points):
    assert redundancy(points) == 1.0
    assert restatement(points[0], points) == 1.0
    assert length_ratio(points[0], points[1]) == 1.0


def test_points_in_chinese_are_compared_by_characters():
    points = ["每天晚上同一时间上床睡觉。", "睡前一小时不要看手机。", "卧室要保持黑暗和凉爽。"]
    assert redundancy(points) == 0.0
    question = "如何提高我的时间管理能力？"
    assert {"时间", "管理", "能力"} <= content_words(question)  # pairs of characters: a Chinese word is mostly two
    assert content_words("早睡 and 晚起, 好") == {"早睡", "晚起", "好"}
    assert restates_question(question, "要提高你的时间管理能力，首先要做计划。然后列一个清单。")
    # only its second sentence (after "。", which needs no space) names the question's words
    assert not restates_question(question, "每天晚上做计划。这能提高我的时间管理能力。")


QUESTION_RU = "Как лучше спать?"
TITLE_RU = "Избегайте тяжёлой пищи"
TEMPLATE_RU = (f"Вопрос: {QUESTION_RU}\n\nОдна часть ответа: «{TITLE_RU}». "
               "Объясните только эту часть, в четырёх предложениях.")
QUESTION_ZH, TITLE_ZH = "如何睡得更好？", "避免油腻的食物"
TEMPLATE_ZH = f"问题：{QUESTION_ZH}\n\n答案的一部分是“{TITLE_ZH}”。只解释这一部分，用四句话。"


def test_echo_of_a_template_in_other_scripts():
    russian = Instructions(TEMPLATE_RU, (QUESTION_RU, TITLE_RU))
    assert echo(russian, "Объясните только эту часть, в четырёх предложениях.") == 1.0
    assert echo(russian, f"Одна часть ответа: «{TITLE_RU}». Ужинайте рано.") == 0.5
    assert echo(russian, f"{TITLE_RU} перед сном. {QUESTION_RU} Ужинайте рано.") == 0.0  # quoted only
    chinese = Instructions(TEMPLATE_ZH, (QUESTION_ZH, TITLE_ZH))
    assert echo(chinese, "只解释这一部分，用四句话。晚饭要早吃。") == 0.5  # a sentence ends at "。"
    assert echo(chinese, f"{TITLE_ZH}。{QUESTION_ZH}晚饭要早吃。") == 0.0  # the question and the title are quoted
    # while it streams, a sentence that opens with its own characters cannot become an echo; one that opens
    # with the template's may
    assert not chinese.could_echo("晚饭要在睡前三小时吃完")
    assert not chinese.could_echo("3 个小时前吃完晚饭")  # characters after a space are no word still being written
    assert chinese.could_echo("只解释这一部")


def test_the_expansion_filter_keeps_points_in_other_scripts_and_drops_their_echoes():
    def run(raw: str, title: str, question: str, templates: Templates, *, whole_sentences: bool):
        """What the filter released while the text streamed in one character at a time, and in all."""
        prompt = templates.render("expand", question=question, context=None, points=[{"index": 1, "title": title}],
                                  point={"index": 1, "title": title})
        f = ExpansionFilter(1, title, strip_header=True, whole_sentences=whole_sentences, question=question,
                            instructions=Instructions(f"{prompt.system or ''}\n{prompt.user}", (question, title)))
        streamed = "".join(f.feed(c) for c in raw)
        return streamed, streamed + f.finish()

    # a small model's point: the opening that only repeats the title and the copied instruction go, the rest stays
    local = Templates(local=True)
    raw = f"{TITLE_RU}. Поздний ужин мешает желудку отдыхать ночью. Explain this in four sentences."
    assert run(raw, TITLE_RU, QUESTION_RU, local, whole_sentences=True)[1] == \
        "Поздний ужин мешает желудку отдыхать ночью."
    chinese = "晚饭要在睡前三小时吃完，这样胃在夜里可以休息。"
    assert run(chinese, TITLE_ZH, QUESTION_ZH, local, whole_sentences=True)[1] == chinese
    # a template in Russian, copied by the model
    custom = Templates({"expand": "{% block user %}Вопрос: {{ question }}\nТема: {{ point.title }}. Напишите два "
                                  "дружелюбных предложения только об этой теме.{% endblock %}"})
    raw = "Напишите два дружелюбных предложения только об этой теме. Поздний ужин мешает сну."
    assert run(raw, TITLE_RU, QUESTION_RU, custom, whole_sentences=False)[1] == "Поздний ужин мешает сну."
    # an API model's Chinese point streams as it is written, not held back to the call's end
    streamed, _ = run(chinese, TITLE_ZH, QUESTION_ZH, Templates(), whole_sentences=False)
    assert streamed.startswith("晚饭要在睡前三小时")

