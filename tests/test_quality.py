"""The judge-free measures on hand-made answers whose redundancy and restatement are known."""

import pytest

from sotkit.quality import (content_words, length_ratio, redundancy, restatement, restates_question, speedup,
                            speedup_per_token)


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
    assert redundancy(["one two"]) == 0.0
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


def test_lengths_and_speedups():
    assert length_ratio("one two three", "one two three four five six") == 0.5
    assert length_ratio("anything", "") is None
    assert speedup(10.0, 4.0) == 2.5
    assert speedup(0.0, 4.0) is None
    # SoT twice as fast but half as long: no speed-up per token
    assert speedup_per_token(10.0, 200, 5.0, 100) == pytest.approx(1.0)
    assert speedup_per_token(10.0, 0, 5.0, 100) is None


def test_echo_is_the_share_of_sentences_copied_from_the_template_not_the_question_or_title():
    from sotkit.quality import Instructions, echo

    question, title = "How can I sleep better?", "Avoid heavy meals"
    rendered = f'Question: {question}\n\nOne part of the answer is "{title}". Explain only this part, in four sentences.'
    instructions = Instructions(rendered, (question, title))
    assert echo(instructions, f'One part of the answer is "{title}". Eat dinner by seven.') == 0.5
    assert echo(instructions, "Explain only this part, in four sentences.") == 1.0
    assert echo(instructions, f"{title} before bed. How can I sleep better? Eat early.") == 0.0  # quoted only
    assert echo(instructions, "") == 0.0
