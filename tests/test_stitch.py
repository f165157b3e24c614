from sotkit.stitch import Stitcher


def texts(events) -> str:
    return "".join(e.text for e in events)


def stitcher(*titles: str) -> Stitcher:
    """A stitcher with points 1, 2, ... titled ``titles``."""
    s = Stitcher()
    for index, title in enumerate(titles, 1):
        s.add_point(index, title)
    return s


def test_later_points_wait_for_earlier_ones():
    s = Stitcher()
    assert texts(s.add_point(1, "A")) == ""  # a header waits for its point's first text
    assert texts(s.add_point(2, "B")) == ""
    assert texts(s.add_text(2, "bee")) == ""  # buffered: point 1 is still being written
    assert texts(s.add_text(1, "ay")) == "1. A: ay"  # the head point streams live
    assert texts(s.finish_point(2)) == ""
    assert texts(s.finish_point(1)) == "\n2. B: bee"  # released the moment point 1 is done
    assert s.text == "1. A: ay\n2. B: bee"


def test_a_skipped_point_is_left_out():
    s = Stitcher()
    for i, title in enumerate("ABC", 1):
        s.add_point(i, title)
        s.add_text(i, title.lower())
    s.finish_point(3)
    s.finish_point(2, skipped=True)
    s.finish_point(1)
    assert s.text == "1. A: a\n3. C: c"


def test_a_point_that_fails_before_writing_leaves_no_header():
    s = Stitcher()
    s.add_point(1, "A")
    s.add_point(2, "B")
    s.add_text(1, "a")
    s.finish_point(1)  # point 2 is now the head, but has written nothing
    assert s.text == "1. A: a"
    events = s.finish_point(2, skipped=True)
    assert s.text == "1. A: a"
    # ... but says it failed: a UI that showed the point's title from its point event drops it (no event did)
    assert [(e.type, e.index, e.text, e.failed) for e in events] == [("withdraw", 2, "", True)]


def test_events_name_their_point_and_empty_text_is_no_event():
    s = Stitcher()
    s.add_point(1, "A")
    s.add_point(2, "B")
    assert s.add_text(1, "") == [] and s.text == ""  # no header for nothing
    assert [(e.text, e.index) for e in s.add_text(1, "a")] == [("1. A: ", 1), ("a", 1)]
    s.add_text(2, "b")
    assert [(e.text, e.index) for e in s.finish_point(1)] == [("\n2. B: ", 2), ("b", 2)]


def test_a_point_that_finishes_empty_keeps_its_header():
    s = Stitcher()
    s.add_point(1, "A")
    s.add_point(2, "B")
    s.finish_point(1)
    s.add_text(2, "b")
    assert s.text == "1. A: \n2. B: b"


def test_withdraw_takes_back_only_the_live_points_text():
    s = Stitcher()
    s.add_point(1, "A")
    s.add_point(2, "B")
    assert s.withdraw(1) == ""  # nothing released yet
    s.add_text(1, "first ")
    s.add_text(1, "try")
    s.add_text(2, "buffered")
    assert s.withdraw(2) == ""  # a later point's buffer is dropped, nothing released is touched
    assert s.text == "1. A: first try"
    assert s.withdraw(1) == "1. A: first try" and s.text == ""  # the header comes again with the retry's text
    assert s.withdraw(1) == ""
    s.add_text(1, "second")
    s.add_text(2, "bee")
    s.finish_point(1)
    s.finish_point(2)
    assert s.text == "1. A: second\n2. B: bee"


def test_withdraw_after_a_buffered_point_is_released_takes_back_all_its_pieces():
    s = Stitcher()
    s.add_point(1, "A")
    s.add_point(2, "B")
    s.add_text(2, "b1 ")
    s.add_text(2, "b2")  # two pieces, buffered while point 1 writes
    s.add_text(1, "a")
    s.finish_point(1)  # point 2 becomes the live point and its buffer is released at once
    assert s.withdraw(2) == "\n2. B: b1 b2" and s.text == "1. A: a"


def test_a_skipped_live_point_is_taken_back_with_its_header():
    s = Stitcher()
    s.add_point(1, "A")
    s.add_point(2, "B")
    s.add_point(3, "C")
    s.add_text(1, "a")
    s.finish_point(1)
    s.add_text(2, "half")
    s.add_text(3, "c")
    [withdraw, *released] = s.finish_point(2, skipped=True)
    assert (withdraw.type, withdraw.index, withdraw.text, withdraw.failed) == ("withdraw", 2, "\n2. B: half", True)
    assert texts(released) == "\n3. C: c" and s.text == "1. A: a\n3. C: c"
    s.finish_point(3)
    assert s.text == "1. A: a\n3. C: c"


def test_a_skipped_first_point_leaves_no_separator_before_the_next():
    s = Stitcher()
    s.add_point(1, "A")
    s.add_point(2, "B")
    s.add_text(1, "a")
    assert s.withdraw(1) == "1. A: a"  # restarted: its header comes again with its new text
    assert [(e.text, e.failed) for e in s.finish_point(1, skipped=True)] == [("", True)]
    s.add_text(2, "b")
    assert s.text == "2. B: b"


def test_a_skipped_buffered_point_is_withdrawn_from_view_without_touching_the_answer():
    s = Stitcher()
    s.add_point(1, "A")
    s.add_point(2, "B")
    s.add_text(1, "a")
    s.add_text(2, "half")  # buffered behind point 1, but shown point by point in a UI
    [withdraw] = s.finish_point(2, skipped=True)
    assert (withdraw.index, withdraw.text, withdraw.failed) == (2, "", True) and s.text == "1. A: a"
    assert s.finish_point(1) == []  # nothing of point 2 is released after it


def test_a_live_point_withdrawn_leaves_no_bare_header_in_the_settled_text():
    s = Stitcher()
    s.add_point(1, "Sleep well")
    s.add_text(1, "Aim for eight hours.")
    s.finish_point(1)
    s.add_point(2, "Eat less")
    s.add_text(2, "Swap soda")
    assert s.settled_text == s.text == "1. Sleep well: Aim for eight hours.\n2. Eat less: Swap soda"
    # a retry of point 2 starts over: its header goes with its text, and comes again with the retry's first text
    assert s.withdraw(2) == "\n2. Eat less: Swap soda"
    assert s.text == s.settled_text == "1. Sleep well: Aim for eight hours."
    assert s.settle() == [] and s.text == "1. Sleep well: Aim for eight hours."  # the request ends there


def test_a_title_that_ends_in_its_own_punctuation_takes_no_colon():
    s = Stitcher()
    for i, title in enumerate(["What is jet lag?", "Avoid screens!", "Why:", "Sleep well", "为什么会这样？"], 1):
        s.add_point(i, title)
        s.add_text(i, "x")
        s.finish_point(i)
    assert s.text == "1. What is jet lag? x\n2. Avoid screens! x\n3. Why: x\n4. Sleep well: x\n5. 为什么会这样？x"


def test_a_text_that_goes_on_with_its_titles_sentence_takes_no_colon():
    # review 172: "2. **Use LED bulbs**, which last" lost its header with the title, and read "2. Use LED bulbs: , ..."
    s = stitcher("Use LED bulbs")
    events = s.add_text(1, ", which last for years.") + s.finish_point(1)
    assert s.text == texts(events) == "1. Use LED bulbs, which last for years."
    # ... and a retry that opens otherwise gets its separator back (review 173: "2. Dim the lightsUse warm bulbs.")
    s = stitcher("Dim the lights")
    shown = texts(s.add_text(1, ", which helps"))
    withdrawn = s.withdraw(1)
    assert shown.endswith(withdrawn) and withdrawn.startswith("1. Dim the lights")
    events = s.add_text(1, "Use warm bulbs.") + s.finish_point(1)
    assert s.text == shown[:len(shown) - len(withdrawn)] + texts(events) == "1. Dim the lights: Use warm bulbs."
    # ... and the other way, or a retry that opens with a code block (review 174: "2. Dim the lights: ```py")
    for retry, text in ((", which helps.", "1. Dim the lights, which helps."),
                        ("```py\nx = 1\n```", "1. Dim the lights:\n   ```py\n   x = 1\n   ```")):
        s = stitcher("Dim the lights")
        s.add_text(1, "Plain text.")
        s.withdraw(1)
        s.add_text(1, retry)
        s.finish_point(1)
        assert s.text == text


def test_a_chinese_or_japanese_title_takes_the_full_width_colon_and_no_space():
    # "1. 制定计划: 每天..." put an ASCII colon and space into a Chinese answer (probe 84); Korean is written with
    # spaces and ASCII punctuation
    s = Stitcher()
    for i, (title, text) in enumerate([("制定计划", "每天列清单。"), ("睡眠", "8時間寝る。"), ("경복궁", "궁궐입니다."),
                                       ("Sleep (睡眠)", "x"), ("Visit 東京", "It is big."), ("Python入门", "先装好。")], 1):
        s.add_point(i, title)
        s.add_text(i, text)
        s.finish_point(i)
    assert s.text == ("1. 制定计划：每天列清单。\n2. 睡眠：8時間寝る。\n3. 경복궁: 궁궐입니다.\n4. Sleep (睡眠): x\n"
                      "5. Visit 東京: It is big.\n6. Python入门：先装好。")  # English naming a place in kanji: ASCII


def test_a_request_ended_early_keeps_what_the_later_points_wrote():
    # point 1 still streams; point 2 finished behind it, point 3 wrote half: a deadline or a closed client ends the
    # request there, and neither the finished point nor the half is lost (they were buffered, never shown)
    s = stitcher("Sleep well", "Eat less", "Move daily")
    s.add_text(1, "Aim for")
    s.add_text(2, "Swap soda.")
    s.finish_point(2)
    s.add_text(3, "Walk to")
    expected = "1. Sleep well: Aim for\n2. Eat less: Swap soda.\n3. Move daily: Walk to"
    assert s.text == "1. Sleep well: Aim for" and s.settled_text == expected  # what a partial result holds
    events = s.settle()
    assert s.text == s.settled_text == expected
    assert texts(events) == expected.removeprefix("1. Sleep well: Aim for")
    assert [e.index for e in events] == [2, 2, 3, 3] and s.settle() == []


def test_a_points_later_lines_are_indented_under_its_item():
    # a point's own numbered list (kept whole) would otherwise be numbered along with the answer's points:
    # "2. Clean the oven: Do this:\n1. Remove the racks.\n2. Wipe it.\n3. Degrease the cabinets: ..."
    s = Stitcher()
    s.add_point(1, "Clean the oven")
    s.add_point(2, "Degrease the cabinets")
    events = s.add_text(1, "Do this:\n1. Remove the racks.") + s.add_text(1, "\n2. Wipe it.")
    events += s.finish_point(1) + s.add_text(2, "Use warm soapy water.") + s.finish_point(2)
    assert s.text == ("1. Clean the oven: Do this:\n   1. Remove the racks.\n   2. Wipe it.\n"
                      "2. Degrease the cabinets: Use warm soapy water.")
    assert "".join(e.text for e in events) == s.text


def test_a_blank_line_inside_a_point_stays_empty_however_the_text_is_split():
    # it was written as three spaces ("\n   \n"), trailing whitespace in the answer (probe 84 F8)
    raw = "LEDs last.\n\nThey use less power.\n\n\nCheck the label."
    for step in (1, 2, 3, len(raw)):
        s = stitcher("Use LED bulbs", "Seal the windows")
        events = [e for i in range(0, len(raw), step) for e in s.add_text(1, raw[i:i + step])]
        events += s.finish_point(1) + s.add_text(2, "Use tape.") + s.finish_point(2)
        assert s.text == ("1. Use LED bulbs: LEDs last.\n\n   They use less power.\n\n\n   Check the label.\n"
                          "2. Seal the windows: Use tape."), step
        assert texts(events) == s.text


def test_a_point_withdrawn_at_a_line_start_is_indented_afresh():
    s = stitcher("Use LED bulbs")
    s.add_text(1, "LEDs last.\n")
    s.withdraw(1)
    s.add_text(1, "They last.\nThey save.")
    assert s.text == "1. Use LED bulbs: They last.\n   They save."


def test_a_point_that_opens_with_a_block_starts_it_on_a_line_of_its_own():
    # "2. Local setup: ```bash" opened no code block, and its closing fence opened one over the rest of the answer;
    # a table's or a list's first line on the item's line rendered as text (probe 62)
    # a quote's ">" showed as text (probe 241)
    s = stitcher("Local setup", "Layers", "Checklist", "Why", "Motto")
    events = s.add_text(1, "```bash\nmake dev\n```") + s.finish_point(1)
    events += s.add_text(2, "| Layer | Tool |\n|---|---|") + s.finish_point(2)
    events += s.add_text(3, "- Pull `main`\n- Run it") + s.finish_point(3)
    events += s.add_text(4, "It saves time.") + s.finish_point(4)
    events += s.add_text(5, ">") + s.add_text(5, ' "Ship it." — us\n\nWe mean it.') + s.finish_point(5)
    assert s.text == ("1. Local setup:\n   ```bash\n   make dev\n   ```\n"
                      "2. Layers:\n   | Layer | Tool |\n   |---|---|\n"
                      "3. Checklist:\n   - Pull `main`\n   - Run it\n"
                      "4. Why: It saves time.\n"
                      '5. Motto:\n   > "Ship it." — us\n\n   We mean it.')
    assert texts(events) == s.text
    s = stitcher("Who")  # "> 50%" is a sentence whatever its pieces: "> " then "50%" (review 244)
    events = s.add_text(1, "> ") + s.add_text(1, "50% of users skip it.") + s.finish_point(1)
    assert s.text == texts(events) == "1. Who: > 50% of users skip it."


def test_a_block_opening_that_streams_in_pieces_still_starts_on_a_line_of_its_own():
    # the header went out with the first piece, "1.", before the space that makes it a list (probe 166: "1. Keep a
    # schedule: 1. Pick a bedtime"); a piece that only may open one waits for the next, or for the point's end
    s = stitcher("Keep a schedule", "Avoid caffeine", "Go", "Rank")
    events = [e for piece in ("1", ".", " Pick a bedtime\n", "2. Pick a wake time") for e in s.add_text(1, piece)]
    events += s.finish_point(1)
    events += s.add_text(2, "`") + s.add_text(2, "``\ncode\n```") + s.finish_point(2)
    events += s.add_text(3, "-") + s.add_text(3, "5 degrees is cold.") + s.finish_point(3)
    events += s.add_text(4, "1.") + s.finish_point(4)
    assert s.text == ("1. Keep a schedule:\n   1. Pick a bedtime\n   2. Pick a wake time\n"
                      "2. Avoid caffeine:\n   ```\n   code\n   ```\n3. Go: -5 degrees is cold.\n4. Rank: 1.")
    assert texts(events) == s.text
    # ... and one that waits when the request ends early is kept
    s = stitcher("Keep a schedule", "Avoid caffeine")
    events = s.add_text(1, "1.") + s.add_text(2, "Less coffee.")
    assert s.settled_text == "1. Keep a schedule: 1.\n2. Avoid caffeine: Less coffee."
    assert texts(events + s.settle()) == s.text == s.settled_text


def test_a_later_point_that_opens_with_a_block_keeps_its_own_line_in_a_partial_answer():
    # a deadline while point 1 streamed: point 2's fence followed "2. Script: " in the settled text (probe 64); a
    # sentence that opens with "> 50%" or "#1" is no block
    s = stitcher("Why", "Script", "Who", "Rule")
    s.add_text(1, "It saves time.")
    s.add_text(2, "```python\nprint(1)\n```")
    s.add_text(3, "> 50% of users skip it.")
    s.add_text(4, "#1 rule: back up.")
    settled = s.settled_text
    events = s.settle()
    assert s.text == settled == ("1. Why: It saves time.\n2. Script:\n   ```python\n   print(1)\n   ```\n"
                                 "3. Who: > 50% of users skip it.\n4. Rule: #1 rule: back up.")
    assert texts(events) == s.text[len("1. Why: It saves time."):]


def test_a_point_whose_text_is_only_its_title_as_a_sentence_says_it_once():
    s = stitcher("Pack a tent", "Verdict", "Why now?", "制定计划", "Rest")
    s.add_text(1, "Pack a tent.")
    s.add_text(2, "Pack a tent.")  # another point's title: a verdict's answer, kept as it is
    s.add_text(3, "Why now?")
    s.add_text(4, "制定计划。")
    s.add_text(5, "Rest well.")
    for index in range(1, 6):
        s.finish_point(index)
    assert s.text == "1. Pack a tent.\n2. Verdict: Pack a tent.\n3. Why now?\n4. 制定计划。\n5. Rest: Rest well."


def test_a_point_whose_text_opens_with_its_title_as_a_sentence_is_stitched_alike_however_it_is_split():
    whole = stitcher("Pack a tent")
    whole.add_text(1, "Pack a tent!\nIt keeps you dry.")
    whole.finish_point(1)
    split = stitcher("Pack a tent")
    assert texts(split.add_text(1, "Pack a tent!")) == ""  # only the title so far: the header waits for more
    split.add_text(1, "\nIt keeps you dry.")
    split.finish_point(1)
    assert split.text == whole.text == "1. Pack a tent: Pack a tent!\n   It keeps you dry."
