import re
import sys
from pathlib import Path

import pytest

from sotkit.expansion import ExpansionFilter


def clean(raw: str, *, step: int = 1, index: int = 2, title: str = "Use LED bulbs", question: str = "",
          continues: str = "", others=(), most_points: int | None = None,
          whole_sentences: bool = False) -> tuple[str, bool]:
    """Stream the raw text through the filter piece by piece; what it released must be the final text."""
    f = ExpansionFilter(index, title, strip_header=True, question=question, continues=continues, other_titles=others,
                        most_points=most_points, whole_sentences=whole_sentences)
    released = "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish()
    assert released == f.released
    return released, f.finished


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("raw, text", [
    ("They use 80% less energy.", "They use 80% less energy."),
    ("2. Use LED bulbs: They use less energy.", "They use less energy."),
    ("**Use LED bulbs**: They last 2.5 years.", "They last 2.5 years."),
    ("use led bulbs **: They last.", "They last."),
    ("**2. Use LED bulbs** - They last.", "They last."),
    ("3. Use LED bulbs: They last.", "3. Use LED bulbs: They last."),  # another point's number: not a restatement
    ("Use LED bulbs to save money.", "Use LED bulbs to save money."),  # not a restated header
    ("  They save.\n\n", "They save."),
    ("They save.\n12 bulbs is a lot.", "They save.\n12 bulbs is a lot."),
    ("Use LED bulbs.", "Use LED bulbs."),  # only the title, as a sentence: kept, not emptied
    ("Use LED bulbs", ""), ("**Use LED bulbs**", ""), ("### Use LED bulbs", ""),  # only the title, as a header
    ("Turn off lights", ""), ("**Turn off lights.**", ""),  # another point's title, nothing of its own
    ("Turn off lights when you leave.", "Turn off lights when you leave."),
    ("Turn off lights.", "Turn off lights."),  # as a plain sentence it may be the point's ("Python." for "Verdict")
    ("- Use LED bulbs: They last.", "They last."),  # the header as a bullet
    ("* **Use LED bulbs**: They last.", "They last."),
    ("- Use less power.", "- Use less power."),
    ("2) Use LED bulbs: They last.", "They last."),  # other forms of the number: held back while they stream too
    ("2） Use LED bulbs： They last.", "They last."),
    ("## 2. Use LED bulbs: They last.", "They last."),
    ("２．Use LED bulbs：They last.", "They last."),  # full-width digits, as the skeleton parser reads them
    ("2. Use LED bulbs — They last.", "They last."),  # an em dash
    ("2. Use LED bulbs:", ""),  # only the header: nothing of its own (the point is asked again)
    ("**Use LED bulbs** -  ", ""),
    ("**2. Use LED bulbs:** They last.", "They last."),  # the bold's close after the colon, in a piece of its own
    ("*Use LED bulbs:* They last.", "They last."),  # italics, and the underscore forms of both
    ("_Use LED bulbs_: They last.", "They last."),
    ("__2. Use LED bulbs__ - They last.", "They last."),
    # a bare title is a header on a line of its own, in emphasis or as a heading or not
    ("**Use LED Bulbs**\n\nThey last.", "They last."),
    ("### Use LED bulbs\n\nThey last.", "They last."),
    ("Use LED bulbs\nThey last.", "They last."),
    ("**Use LED bulbs** to save money.", "**Use LED bulbs** to save money."),  # the sentence goes on
    ("**Use LED bulbs** They last.", "**Use LED bulbs** They last."),  # as "**Docker** Compose starts ..."
    ("***Use LED bulbs:*** They last.", "They last."),  # bold italics
    ("Point 2: Use LED bulbs\nThey last.", "They last."),  # the point's number as a label
    ("**Point 2: Use LED bulbs**\n\nThey last.", "They last."),
    ("Point 3: Use LED bulbs\nThey last.", "Point 3: Use LED bulbs\nThey last."),  # another point's number
    # as a skeleton of "Step 1:" lines numbers it (it showed twice in the answer)
    ("Step 2: Use LED bulbs: They last.", "They last."),
    ("**Step 2: Use LED bulbs**\n\nThey last.", "They last."),
    ("Step 3: Use LED bulbs: They last.", "Step 3: Use LED bulbs: They last."),
    ("Steps matter: Use LED bulbs.", "Steps matter: Use LED bulbs."),
    # a numbered title that runs on into its sentence is the sentence's own: only the number goes (the title went,
    # "Use LED bulbs in every room." kept only "in every room."; review 93)
    ("2. Use LED bulbs in every room.", "Use LED bulbs in every room."),
    ("Step 2: Use LED bulbs in every room.", "Use LED bulbs in every room."),
    ("2. Use LED bulbs, they last.", "Use LED bulbs, they last."),
    ("**2. Use LED bulbs in every room**, they last.", "**2. Use LED bulbs in every room**, they last."),
    ("**2. Use LED bulbs** They last.", "They last."),  # the emphasis ends the header
    # emphasis the number opened goes with it unless the sentence closes it (review 94: the number stayed, or an
    # unclosed "**" bolded the rest of the answer)
    ("**2.** Use LED bulbs in every room.", "Use LED bulbs in every room."),
    ("**2. Use LED bulbs in every room.", "Use LED bulbs in every room."),
    ("2. *Use LED bulbs in every room.", "Use LED bulbs in every room."),
    ("2. **Use LED bulbs** in every room.", "**Use LED bulbs** in every room."),
    ("**2. Use LED bulbs** in every room.", "in every room."),  # a header closed with its title (review 96)
    ("*2. Use LED bulbs* in every room.", "in every room."),
])
def test_restated_headers_are_stripped_and_text_kept(raw, text, step):
    assert clean(raw, step=step, others=["Turn off lights"]) == (text, False)


@pytest.mark.parametrize("step", [1, 2, 5, 100])
@pytest.mark.parametrize("restates, raw, text", [
    # probe 193: a template's own header form, asked for as its prefill but not sent (OpenAI, Claude 4.6, a gateway
    # found out), was written by the model and kept: "2. Use LED bulbs: Point 2 - Use LED bulbs: They last."
    ("Point 2 - Use LED bulbs:", "Point 2 - Use LED bulbs: They last.", "They last."),
    ("Point 2 - Use LED bulbs:", "  point 2 -  use LED bulbs:\nThey last.", "They last."),
    ("Tip #2 — Use LED bulbs —", "Tip #2 — Use LED bulbs —\n\nThey last.", "They last."),
    ("Point 2 - Use LED bulbs:", "Point 2 was hard. They last.", "Point 2 was hard. They last."),  # not it
    ("Point 2 - Use LED bulbs:", "Point 2 - Use", "Point 2 - Use"),  # a reply that ends before it is all there
    # reviews 194-195: after a prefill ending in a word (no header's colon or dash), the reply's sentence may run
    # on ("Walkers", "Walk to work"): its words are its own, kept
    ("Tip #2 — Save", "Tip #2 — Savers buy LED bulbs.", "Tip #2 — Savers buy LED bulbs."),
    ("Tip #2 — Save", "Tip #2 — Save on bulbs.", "Tip #2 — Save on bulbs."),
    ("第2点：少吃糖：", "第2点：少吃糖：可以减少蛀牙。", "可以减少蛀牙。"),
])
def test_a_templates_own_header_asked_for_but_not_sent_is_stripped_when_restated(restates, raw, text, step):
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=True, restates=restates, other_titles=["Turn off lights"])
    released = "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish()
    assert released == f.released == text


@pytest.mark.parametrize("step", [1, 2, 3, 100])
@pytest.mark.parametrize("raw, text", [
    # probe 84 F5: the header in the forms of Chinese and Japanese lists stayed, and the answer showed it twice
    ("（2）设定优先级：使用四象限法。", "使用四象限法。"),
    ("(2) 设定优先级：使用四象限法。", "使用四象限法。"),
    ("第2点：设定优先级\n使用四象限法。", "使用四象限法。"),
    ("第二点：设定优先级\n使用四象限法。", "使用四象限法。"),
    ("要点2：设定优先级\n使用四象限法。", "使用四象限法。"),
    ("ポイント2：设定优先级\n使用四象限法。", "使用四象限法。"),
    ("【设定优先级】使用四象限法。", "使用四象限法。"),
    ("**【设定优先级】**\n\n使用四象限法。", "使用四象限法。"),
    ("设定优先级——使用四象限法。", "使用四象限法。"),
    ("二、设定优先级\n使用四象限法。", "使用四象限法。"),
    ("（二）设定优先级：使用四象限法。", "使用四象限法。"),
    ("②设定优先级：使用四象限法。", "使用四象限法。"),  # as the skeleton parser reads it
    # a Japanese bullet, and a full stop after the title (probe 86: "・Title：" stayed, "二、Title。" left its "。")
    ("・设定优先级：使用四象限法。", "使用四象限法。"),
    ("二、设定优先级。使用四象限法。", "使用四象限法。"),
    ("设定优先级。", "设定优先级。"),  # a title alone as a sentence stays, as "Use LED bulbs." does
    # another point's number, an aside between dashes, the title in a sentence: the point's own
    ("三、设定优先级\n使用四象限法。", "三、设定优先级\n使用四象限法。"),
    ("第3点：设定优先级\n使用四象限法。", "第3点：设定优先级\n使用四象限法。"),
    ("设定优先级——尤其是在忙碌时——很重要。", "设定优先级——尤其是在忙碌时——很重要。"),
    ("设定优先级很重要。", "设定优先级很重要。"),
])
def test_restated_headers_in_chinese_and_japanese_forms_are_stripped(raw, text, step):
    assert clean(raw, step=step, title="设定优先级", others=["制定计划", "避免拖延"]) == (text, False)


@pytest.mark.parametrize("step", [1, 2, 100])
@pytest.mark.parametrize("raw", ["十一、设定优先级\n使用四象限法。", "（十一）设定优先级：使用四象限法。"])
def test_a_header_numbered_in_chinese_past_ten_is_stripped_however_it_streams(raw, step):
    # streamed, "十" (10) was no start of point 11's header, and the header was released
    assert clean(raw, step=step, index=11, title="设定优先级") == ("使用四象限法。", False)


@pytest.mark.parametrize("step", [1, 2, 3, 5, 100])
@pytest.mark.parametrize("raw, text", [
    # the skeleton line's gist, restated with the title in one bold header or as a heading, goes with the header
    ("**Use LED bulbs — they last for years**\n\nThey use less power.", "They use less power."),
    ("**2. Use LED bulbs: cut the bill**\nThey use less power.", "They use less power."),
    ("__Use LED bulbs: cut the bill__ \n\nThey use less power.", "They use less power."),
    ("### Use LED bulbs — they last for years\nThey use less power.", "They use less power."),
    ("## 2. Use LED bulbs: cut the bill\n\nThey use less power.", "They use less power."),
    # the bold closes after the title, or further on in a sentence, or the line never ends: the text stays
    ("**Use LED bulbs:** they last for years.\nThey use less power.", "they last for years.\nThey use less power."),
    ("**Use LED bulbs**: they **really** last.\nThey use less power.", "they **really** last.\nThey use less power."),
    ("**Use LED bulbs: they last** and use less power.", "they last** and use less power."),
    ("Use LED bulbs: they last for years.\n\nThey use less power.", "they last for years.\n\nThey use less power."),
    ("### Use LED bulbs: they last for years", "they last for years"),
    ("**Use LED bulbs: " + "they last " * 25 + "**\nThey use less power.",
     ("they last " * 25).strip() + " **\nThey use less power."),
])
def test_a_header_line_with_the_skeletons_gist_goes_whole(raw, text, step):
    assert clean(raw, step=step) == (text, False)


@pytest.mark.parametrize("step", [1, 2, 3, 5, 100])
@pytest.mark.parametrize("raw", [
    "### Use LED bulbs\n- **Lumens:** pick by brightness\n- **Warmth:** 2700 K for living rooms",
    "**Use LED bulbs**\n- **Lumens:** pick by brightness\n- **Warmth:** 2700 K for living rooms",
    "2. Use LED bulbs\n- **Lumens:** pick by brightness\n- **Warmth:** 2700 K for living rooms",
    "Use LED bulbs\n\n- **Lumens:** pick by brightness\n- **Warmth:** 2700 K for living rooms",
])
def test_a_list_under_a_restated_header_keeps_its_first_item_whole(raw, step):
    """The first item's bullet is on the next line: no separator of the header's (DeepSeek-V3 style, blind b5 O06)."""
    assert clean(raw, step=step) == ("- **Lumens:** pick by brightness\n- **Warmth:** 2700 K for living rooms", False)


@pytest.mark.parametrize("raw", ["1957: Sputnik launch: It flew.", "2. 1957: Sputnik launch: It flew."])
def test_a_title_that_opens_with_a_number_and_a_colon_is_no_label(raw):
    assert clean(raw, title="1957: Sputnik launch") == ("It flew.", False)


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("continues, raw, text", [
    ("2. Use LED bulbs", ": They last.", "They last."),  # a custom prefill that stops at the title
    ("**2. Use LED bulbs", "** - They last.", "They last."),
    ("2. Use LED bulbs", " to save money.", "to save money."),  # the title's sentence goes on: nothing to drop
    ("2. Use LED bulbs:", ": is what I said.", ": is what I said."),  # the prefill had its separator
    ("", ": They last.", ": They last."),
])
def test_the_separator_after_a_prefilled_title_is_the_headers(continues, raw, text, step):
    assert clean(raw, step=step, continues=continues) == (text, False)


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, index, text", [
    ("1. Sleep well\n2. Eat less sugar\n3. Move daily", 2, ""),  # the skeleton again: nothing of point 2's own
    ("**3. Move daily**: Walk.", 2, ""),  # another point's header
    ("1. Sleep well", 1, ""),  # its own numbered header only: no sentence, unlike a bare title
    ("1. Preheat the oven.\nThen wait.", 2, "1. Preheat the oven.\nThen wait."),  # a list of its own
])
def test_a_reply_that_opens_with_another_points_line_has_no_text_of_its_own(raw, index, text, step):
    titles = ["Sleep well", "Eat less sugar", "Move daily"]
    f = ExpansionFilter(index, titles[index - 1], strip_header=True,
                        other_titles=[t for i, t in enumerate(titles, 1) if i != index])
    released = "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish()
    assert released == f.released == text


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, cut, text", [
    # the budget cut the reply inside its own restated header, or inside another point's line: no text of its own
    # (they came back as the points "2. Eat less" and, the rest taken for an echo, "1.")
    ("2. Eat less", True, ""),
    ("**Eat less sug", True, ""),
    ("1. Sleep", True, ""),
    ("2) Eat less", True, ""),
    ("## 2. Eat less", True, ""),
    ("2. Eat less", False, "2. Eat less"),  # ended by itself: what it wrote, such as it is
    ("1. Sleep", False, "1. Sleep"),
    ("Eat less bread.", True, "Eat less bread."),  # the title's words, then more: text of its own
])
def test_a_reply_cut_inside_a_header_or_another_points_line_has_no_text_of_its_own(raw, cut, text, step):
    titles = ["Sleep well", "Eat less sugar", "Move daily"]
    f = ExpansionFilter(2, titles[1], strip_header=True, other_titles=[titles[0], titles[2]])
    released = "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish(cut=cut)
    assert released == f.released == text


@pytest.mark.parametrize("raw", ["2. 使用节能灯：它们更省电。", "使用节能灯： 它们更省电。", "2．使用节能灯：它们更省电。"])
def test_a_header_restated_with_full_width_punctuation_is_stripped(raw):
    assert clean(raw, title="使用节能灯") == ("它们更省电。", False)


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("raw, title, text", [
    ("٢. غرفة مظلمة: استخدم ستائر معتمة.", "غرفة مظلمة", "استخدم ستائر معتمة."),  # Arabic-Indic digits
    ("२. अंधेरा कमरा: पर्दे लगाएँ।", "अंधेरा कमरा", "पर्दे लगाएँ।"),  # Devanagari
    ("٣. غرفة مظلمة: استخدم ستائر معتمة.", "غرفة مظلمة", "٣. غرفة مظلمة: استخدم ستائر معتمة."),  # point 3's number
])
def test_a_header_restated_with_the_scripts_own_digits_is_stripped(raw, title, text, step):
    # the skeleton parser reads these digits as the point's number, so a restated header may use them too
    assert clean(raw, step=step, title=title) == (text, False)


@pytest.mark.parametrize("step", [1, 4, 100])
def test_a_bulleted_line_ends_a_one_paragraph_point_but_not_an_api_point(step):
    # SmolLM2, asked for one paragraph: "- Use your bed for sleep: This is ...\n- Explain this in four sentences: ..."
    raw = "- Use LED bulbs: They last.\n- Explain this in four sentences: They save."
    text, _, finished = sentences(raw, step=step, cut=False)
    assert (text, finished) == ("They last.", True)
    listed = "They help:\n- less heat\n- lower bills"
    assert clean(listed, step=step) == (listed, False)


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, text", [
    ("They last. They help in these ways:\n- less heat\n- lower bills", "They last."),  # the cut list's opening
    ("They help in these ways:\n3. Unplug devices", ""),  # nothing but that: the point is asked again
    ("* They last. They save.", "They last. They save."),  # one paragraph, opened as a bullet
    ("They last: ten years.", "They last: ten years."),
])
def test_a_one_paragraph_point_drops_list_markup(raw, text, step):
    assert sentences(raw, step=step, cut=False)[0] == text


@pytest.mark.parametrize("step", [1, 5])
def test_running_on_into_the_next_point_is_cut(step):
    assert clean("They use less energy.\n3. Unplug devices: always", step=step) == ("They use less energy.", True)
    assert clean("Short.\n**3. Unplug**", step=step) == ("Short.", True)
    assert clean("Short.\n3.\nUnplug.", step=step) == ("Short.", True)
    assert clean("Typical:\n2.5 hours a night.", step=step) == ("Typical:\n2.5 hours a night.", False)  # no item


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("raw, text, finished", [
    # a list of the point's own, numbered from 1, goes on past this point's and the next point's numbers
    ("Set it up once:\n1. Buy a drive.\n2. Turn on backups.\n3. Unplug it.",
     "Set it up once:\n1. Buy a drive.\n2. Turn on backups.\n3. Unplug it.", False),
    ("1) Buy a drive.\n2) Turn it on.", "1) Buy a drive.\n2) Turn it on.", False),  # from the reply's first line
    ("Steps:\n**1.** Buy.\n**2.** Plug in.", "Steps:\n**1.** Buy.\n**2.** Plug in.", False),
    ("Steps:\n```\n1. x\n```\n1. Buy.\n2. Plug in.", "Steps:\n```\n1. x\n```\n1. Buy.\n2. Plug in.", False),
    ("Steps:\n1. Buy.\n2. Use LED bulbs.\n3. Unplug.", "Steps:\n1. Buy.\n2. Use LED bulbs.\n3. Unplug.", False),
    # the point's own header after an opening is no run-on: the point's text after it stays
    ("Good question.\n\n**2. Use LED bulbs**\n\nThey last.", "Good question.\n\n**2. Use LED bulbs**\n\nThey last.",
     False),
    # ... until a number breaks the run, or an item opens with another point's title (the skeleton again)
    ("Steps:\n1. Buy.\n2. Plug in.\n\n2. Avoid late caffeine: stop", "Steps:\n1. Buy.\n2. Plug in.", True),
    ("Steps:\n1. Buy.\n3. Unplug devices: always", "Steps:\n1. Buy.", True),
    ("They last.\n1. Keep a schedule\n2. Use LED bulbs", "They last.", True),
    ("Steps:\n1. Buy.\n2. **Exercise**: daily", "Steps:\n1. Buy.", True),  # a later point's title: a run-on
    ("Steps:\n1. Buy.\n2. Plug in.\n3. Avoid late caffeine: at 3 pm", "Steps:\n1. Buy.\n2. Plug in.", True),
    # an earlier point's title at another number is a step of the point's own (probe 62: a team's template asked
    # for steps; "2. Testing: ..." in "Deployment", point 1 titled "Testing", lost the rest of the point)
    ("Steps:\n1. Buy.\n2. Keep a schedule: same hour\n3. Rest.",
     "Steps:\n1. Buy.\n2. Keep a schedule: same hour\n3. Rest.", False),
    # ... but not after another titled item: the outline again, renumbered (probe 65)
    ("Steps:\n1. Use LED bulbs: now\n2. Keep a schedule: same hour", "Steps:\n1. Use LED bulbs: now", True),
    # any point's title at another number, as a header, opens the point's own list a lead-in announces where the
    # list's next item opens with no title (probe 241: "Each session:\n1. Warm up: walk 5 min ...", point 3 titled
    # "Warm up", was cut at the lead-in, the list and all after it lost)
    ("Each session:\n1. Exercise: walk 5 min.\n2. Intervals: run.\n3. Cool down: walk.\n\nAdd a minute.",
     "Each session:\n1. Exercise: walk 5 min.\n2. Intervals: run.\n3. Cool down: walk.\n\nAdd a minute.", False),
    ("Each session:\n1. Exercise: walk.\n2. Avoid late caffeine: tea.", "Each session:", True),
    # ... also where no item follows it (review 245: a first item of over 300 characters was cut with its list; a
    # list of one is kept, though it may be another point's text again)
    ("Each session:\n1. **Exercise:**\n" + "   - Walk briskly, then jog at an easy pace for a while.\n" * 6
     + "2. **Main set:** run.\n\nAdd a minute.",
     "Each session:\n1. **Exercise:**\n" + "   - Walk briskly, then jog at an easy pace for a while.\n" * 6
     + "2. **Main set:** run.\n\nAdd a minute.", False),
    ("They last.\n\nAlso:\n1. Exercise: walk daily.", "They last.\n\nAlso:\n1. Exercise: walk daily.", False),
    # a German date opens a line as a number does: "2. Mai" (its month capitalized) is no point (probe 62)
    ("Termine:\n\n**2. Mai:** Steuer\n**31. Juli:** Abgabe", "Termine:\n\n**2. Mai:** Steuer\n**31. Juli:** Abgabe",
     False),
    ("Bis zum 31. Juli.\n3. Oktober ist ein Feiertag.", "Bis zum 31. Juli.\n3. Oktober ist ein Feiertag.", False),
    # steps of the point's own, numbered from 1 as "Step 1:" (b8 O17), go on like its numbered items
    ("Step 1: Buy a drive.\nStep 2: Turn on backups.\nStep 3: Unplug it.\n\nCheck it monthly.",
     "Step 1: Buy a drive.\nStep 2: Turn on backups.\nStep 3: Unplug it.\n\nCheck it monthly.", False),
    ("Do this:\nstep 1: Buy.\nstep 2: Plug in.", "Do this:\nstep 1: Buy.\nstep 2: Plug in.", False),
    ("Step 1: Buy.\nStep 2: Avoid late caffeine: stop", "Step 1: Buy.", True),  # another point's title
    ("They last.\nStep 3: Unplug devices now.", "They last.", True),  # no list of its own: the next point
    # (probe 146: it was cut, the rest of the point lost, the point reported whole) a second list of its own, from 1,
    # after a lead-in
    ("Pros:\n1. No commute.\n2. Deep work.\n\nCons:\n1. Work blurs.\n2. Hard to switch off.",
     "Pros:\n1. No commute.\n2. Deep work.\n\nCons:\n1. Work blurs.\n2. Hard to switch off.", False),
    ("Pros:\n1. Bright.\n\n**Cons:**\n1. Exercised less.", "Pros:\n1. Bright.\n\n**Cons:**\n1. Exercised less.", False),
    ("优点：\n1. 省电。\n2. 寿命长。\n\n缺点：\n1. 价格高。", "优点：\n1. 省电。\n2. 寿命长。\n\n缺点：\n1. 价格高。", False),
    # ... but a list from 1 that opens with a point's title is the skeleton again, and so is one no lead-in
    # announces, after a list of its own (review 148: "\n\n1. A regular schedule: ..." again, in other words)
    ("Steps:\n1. Buy.\n\nAgain:\n1. Keep a schedule: same hour\n2. Avoid late caffeine", "Steps:\n1. Buy.\n\nAgain:",
     True),
    ("Save:\n1. Less heat.\n2. Bills.\n\n1. A schedule: bed at 10.\n2. Use LED bulbs: last.\n3. Late caffeine: stop.",
     "Save:\n1. Less heat.\n2. Bills.", True),
    # ... and a list after a lead-in that names another point, by its number or its title, is that point's (review
    # 150)
    ("Tips:\n1. Warm.\n\nNow for point 3:\n1. Stop by noon.", "Tips:\n1. Warm.\n\nNow for point 3:", True),
    ("Tips:\n1. Warm.\n\nAvoid late caffeine (point 3):\n1. Stop by noon.",
     "Tips:\n1. Warm.\n\nAvoid late caffeine (point 3):", True),
    # ... and a line numbered 1 that goes on with a sentence is no list (reviews 148, 149: the items after it lost)
    ("Steps:\n1. Preheat.\n2. Mix 2 cups of flour with\n1. cup of sugar.\n3. Bake.",
     "Steps:\n1. Preheat.\n2. Mix 2 cups of flour with\n1. cup of sugar.\n3. Bake.", False),
    ("Steps:\n1. Preheat.\n2. Prepare the mix:\n1. sift the flour\n3. Bake.",
     "Steps:\n1. Preheat.\n2. Prepare the mix:\n1. sift the flour\n3. Bake.", False),
    # an indented line opening with another point's title is read as any other (review 149) ...
    ("Tips:\n1. Warm.\n2. Dim.\n\n  3. Avoid late caffeine: stop by noon.", "Tips:\n1. Warm.\n2. Dim.", True),
    # ... but any other is a sub-item of the item above (probe 333: cut at the sub-list; or the point, opening with
    # "1. Cardio on these days:", which was read as naming point 1, was said to have no text of its own and failed)
    ("Two kinds:\n1. Aerobic, for 30 minutes.\n   1. Five days a week.\n   2. Moderate.\n2. Weights, twice.",
     "Two kinds:\n1. Aerobic, for 30 minutes.\n   1. Five days a week.\n   2. Moderate.\n2. Weights, twice.", False),
    ("1. Cardio on these days:\n   1. Monday\n   2. Thursday\n2. Strength on Saturday.",
     "1. Cardio on these days:\n   1. Monday\n   2. Thursday\n2. Strength on Saturday.", False),
    ("Plan:\n1. Cardio\n    1. easy runs\n    2. long runs\n2. Strength.",
     "Plan:\n1. Cardio\n    1. easy runs\n    2. long runs\n2. Strength.", False),
    # ... by a tab too, and two levels deep (review 335)
    ("Plan:\n1. Cardio\n\t1. Monday run\n\t2. Swim\n2. Strength", "Plan:\n1. Cardio\n\t1. Monday run\n\t2. Swim\n"
     "2. Strength", False),
    ("Plan:\n1. Cardio:\n   1. Running:\n      1. Mon 5 km\n      2. Thu 8 km\n   2. Swimming\n2. Rest.",
     "Plan:\n1. Cardio:\n   1. Running:\n      1. Mon 5 km\n      2. Thu 8 km\n   2. Swimming\n2. Rest.", False),
    # ... but an indented line that is no sub-list's next number is read as any other (review 335: "4." under "2."
    # kept a paraphrase of point 4), and a list begun again from 1 after a sentence is the answer again (review 335:
    # kept while that sentence was taken for a lead-in)
    ("Tips:\n1. Warm.\n2. Dim.\n   4. A quiet room: dark and cool.", "Tips:\n1. Warm.\n2. Dim.", True),
    ("Tips:\n1. Warm.\n2. Dim.\n\nThat covers it.\n\n1. Exercising daily: walk.\n2. Coffee: none after noon.",
     "Tips:\n1. Warm.\n2. Dim.\n\nThat covers it.", True),
    # ... indented, or numbered "1." throughout after a list of that kind (review 336: kept, other points twice)
    ("Tips:\n1. Warm.\n2. Dim.\n\nThat covers it.\n\n  1. Exercising daily: walk.\n  2. Coffee: none.",
     "Tips:\n1. Warm.\n2. Dim.\n\nThat covers it.", True),
    ("Steps:\n1. Swap a cup.\n1. Swap another.\n\nThat covers it.\n\n1. Exercising daily: walk.\n1. Coffee: none.",
     "Steps:\n1. Swap a cup.\n1. Swap another.\n\nThat covers it.", True),
    # ... and one opening with a bold number (probe 338: "**1.** ..." kept its first item alone)
    ("**1.** Warm light.\n**2.** Dim lamps.\n**3.** No screens.", "**1.** Warm light.\n**2.** Dim lamps.\n"
     "**3.** No screens.", False),
    # a reply opening with a numbered heading is its own list (probe 333: cut at the second heading)
    ("### 1. Living room\n\nLamps after 8 p.m.\n\n### 2. Bedroom\n\nOne warm bulb.",
     "### 1. Living room\n\nLamps after 8 p.m.\n\n### 2. Bedroom\n\nOne warm bulb.", False),
    ("#### Step 1: Fix your wake time\nSame time daily.\n\n#### Step 2: Get light\nGo out.",
     "#### Step 1: Fix your wake time\nSame time daily.\n\n#### Step 2: Get light\nGo out.", False),
    # review 337: indented under a lead naming another point, a quote or a table, or opening with another point's
    # title in marks, a "1." list is no sub-list; nor is "point 3" in an own item no lead to it
    ("Tips:\n1. Warm.\n2. Dim.\n\n**Now for point 3:**\n\n   1. Walk daily.\n   2. Lift.",
     "Tips:\n1. Warm.\n2. Dim.\n\n**Now for point 3:**", True),
    ("Tips:\n1. Warm.\n2. Dim.\n\n> That covers it.\n\n   1. Exercising helps: walk.\n   2. Lift.",
     "Tips:\n1. Warm.\n2. Dim.\n\n> That covers it.", True),
    ("Plan:\n1. Warm.\n   1. `Exercise`: walk 30 minutes.", "Plan:\n1. Warm.", True),
    ("Plan:\n1. Warm.\n   1. ✅ Exercise: walk 30 minutes.", "Plan:\n1. Warm.", True),  # (review 338)
    ("Plan:\n1. Warm.\n   1. [Exercise](https://example.com): walk.", "Plan:\n1. Warm.", True),
    ("1. Warm.\n2. Now for point 3:\n1. Walk daily.\n2. Lift.", "1. Warm.\n2. Now for point 3:", True),
    # ... and a section's list after its prose or bullets is its own (review 337: cut after the first section's prose)
    ("### 1. Morning\n\nHave coffee before 10.\n\n1. Brew a small cup.\n2. Drink water first.",
     "### 1. Morning\n\nHave coffee before 10.\n\n1. Brew a small cup.\n2. Drink water first.", False),
    ("### 1. Morning\n- One small cup.\n\n1. Brew it weak.\n2. Drink water first.",
     "### 1. Morning\n- One small cup.\n\n1. Brew it weak.\n2. Drink water first.", False),
    # a list numbered "1." throughout (probe 333: cut before its second item)
    ("In steps:\n\n1. Swap a cup.\n1. Swap another.\n1. Keep one.", "In steps:\n\n1. Swap a cup.\n1. Swap another."
     "\n1. Keep one.", False),
])
def test_a_points_own_numbered_list_is_kept(raw, text, finished, step):
    assert clean(raw, step=step, others=OTHERS) == (text, finished)


@pytest.mark.parametrize("step", [1, 3, 100])
def test_a_list_under_the_points_own_numbered_heading_is_its_own(step):
    # review 336: the heading "### 1. Morning", read as a lead-in naming point 1, cut the point after it
    raw = "### 1. Morning\n1. One cup:\n   1. Small.\n   2. Weak.\n2. Before 10."
    assert clean(raw, step=step, title="Limit caffeine", others=["Keep a regular schedule", "Exercise daily"],
                 most_points=5) == (raw, False)


@pytest.mark.parametrize("step", [1, 2, 3, 100])
@pytest.mark.parametrize("raw, text, finished", [
    # the first point's own list, its first item opening with the point's title: the "1." went as a restated header,
    # and the items from the third were cut as a run-on, the point reported whole (probe 166)
    ("1. Keep a schedule every day\n2. Set two alarms\n3. Skip naps\n4. Get light",
     "Keep a schedule every day\n2. Set two alarms\n3. Skip naps\n4. Get light", False),
    ("1. **Keep a schedule** every day\n2. Set two alarms\n3. Skip naps",
     "**Keep a schedule** every day\n2. Set two alarms\n3. Skip naps", False),
    ("1. Keep a schedule, even on weekends\n2. Set two alarms\n3. Skip naps",
     "Keep a schedule, even on weekends\n2. Set two alarms\n3. Skip naps", False),
    # ... also where the header went with the title, its emphasis or its stop closed (review 171)
    # (the stitcher joins ", even ..." to the title: review 172), also after other header marks (review 173)
    ("1. **Keep a schedule**, even on weekends\n2. Set two alarms\n3. Skip naps",
     ", even on weekends\n2. Set two alarms\n3. Skip naps", False),
    ("1. Keep a schedule. Same hour daily.\n2. Set two alarms\n3. Skip naps",
     "Same hour daily.\n2. Set two alarms\n3. Skip naps", False),
    ("Point 1: Keep a schedule. Same hour daily.\n2. Set two alarms\n3. Skip naps",
     "Same hour daily.\n2. Set two alarms\n3. Skip naps", False),
    ("### 1. **Keep a schedule**, even on weekends\n2. Set two alarms\n3. Skip naps",
     ", even on weekends\n2. Set two alarms\n3. Skip naps", False),
    # ... while the skeleton written again after it is still cut, and so is a list after a header with its
    # separator, which may be the whole answer in other words (review 167)
    ("1. Keep a schedule: same hour.\n2. Use LED bulbs: dim.\n3. Late caffeine: stop.", "same hour.", True),
    ("1. Keep a schedule: same hour daily.\n2. Dim your lights: warm bulbs.\n3. Cut caffeine: none after noon.",
     "same hour daily.", True),
    ("1. Keep a schedule every day.\n2. Use LED bulbs", "Keep a schedule every day.", True),
])
def test_the_first_points_list_that_opens_with_its_title_is_kept(raw, text, finished, step):
    others = ["Use LED bulbs", "Late caffeine"]
    assert clean(raw, step=step, index=1, title="Keep a schedule", others=others) == (text, finished)


@pytest.mark.parametrize("step", [1, 2, 3, 100])
@pytest.mark.parametrize("raw, text, finished", [
    # an item that opens with an earlier point's title at that point's number is the point's own where the next item
    # opens with no title (probe 166: cut at the lead-in, the point was lost)
    ("Do it in this order:\n1. Keep a schedule for a week\n2. Note when you wake\n3. Adjust",
     "Do it in this order:\n1. Keep a schedule for a week\n2. Note when you wake\n3. Adjust", False),
    ("Do it in this order:\n1. Keep a schedule for a week", "Do it in this order:\n1. Keep a schedule for a week",
     False),
    # ... whatever goes on with the title's sentence: a comma, a bracket, its emphasis closed (review 170)
    ("Do it in this order:\n1. Keep a schedule, even on weekends\n2. Note when you wake",
     "Do it in this order:\n1. Keep a schedule, even on weekends\n2. Note when you wake", False),
    ("Do it in this order:\n1. **Keep a schedule** for a week\n2. Note when you wake",
     "Do it in this order:\n1. **Keep a schedule** for a week\n2. Note when you wake", False),
    # ... and the skeleton written again where it does, this point's title too, past the first item's sub-items
    ("Do it in this order:\n1. Keep a schedule for a week\n2. Use LED bulbs: dim", "Do it in this order:", True),
    ("Here:\n1. Keep a schedule for a week\n   1. Pick a bedtime\n\n2. Use LED bulbs: dim", "Here:", True),
    ("Like so:\n1. Keep a schedule\n\nThen:\n3. Avoid late caffeine: stop", "Like so:", True),
    # ... and where the title is a header, whatever follows (review 167: the answer again in other words was kept)
    ("Here:\n1. Keep a schedule: same hour daily\n   1. Pick a bedtime\n2. Use LED bulbs: dim", "Here:", True),
    ("Here:\n1. Keep a schedule: same hour.\n2. LED lighting: dim.\n3. Caffeine: stop.", "Here:", True),
    ("Here:\n1. Keep a schedule: same hour.", "Here:", True),
])
def test_an_earlier_points_title_opening_an_item_of_the_points_own_list(raw, text, finished, step):
    assert clean(raw, step=step, others=OTHERS) == (text, finished)


@pytest.mark.parametrize("step", [1, 2, 3, 100])
@pytest.mark.parametrize("raw", [
    # a second list of the point's own under a heading, a bold label, a bullet's label or a line that runs into it
    # (probe 183: cut at its "1.", the heading left dangling, the point reported whole)
    "**Indoors**\n1. Dim the lamps\n2. Close the blinds\n\n**Outdoors**\n1. Shade the windows\n2. Plant trees",
    "#### Indoors\n1. Dim the lamps\n2. Close the blinds\n\n#### Outdoors\n1. Shade the windows\n2. Plant trees",
    "- **Indoors**\n  1. Dim the lamps\n  2. Close the blinds\n- **Outdoors**\n  1. Shade the windows\n"
    "  2. Plant trees",
    "Start with:\n1. Dim the lamps\n2. Close the blinds\n\nOnce that works, go on to\n1. Shade the windows\n"
    "2. Plant trees",
    # ... and an item opening with a later point's title at another number than that point's, going on with a
    # sentence, the list's next item opening with none (probe 183: the point was lost, or cut at that item)
    "A weekly plan:\n1. Avoid late caffeine on workdays\n2. Walk at lunch\n3. Read before bed",
    "A weekly plan:\n1. Walk at lunch\n2. Avoid late caffeine after four\n3. Read before bed",
    # ... also after a colon lead-in that names another point's title or "the last point" in passing, or a heading
    # that shares a word with another point's title but is no rewording of it (review 185: cut)
    "Set a time.\n1. Pick ten\n2. Keep it\n\nIf you avoid late caffeine, time it well:\n1. Stop at two\n2. Try tea",
    "Set a time.\n1. Pick ten\n2. Keep it\n\nThe last point about naps:\n1. Keep them short\n2. Not after four",
    "Set a time.\n1. Pick ten\n2. Keep it\n\n**Caffeine-free evening drinks**\n1. Warm milk\n2. Herbal tea",
    # ... a part of the point's own, or a time before a list, names no point (review 186: cut)
    "Set a time.\n1. Pick ten\n2. Keep it\n\nPart 1 of the routine:\n1. Dim the lamps\n2. Read",
    "Set a time.\n1. Pick ten\n2. Keep it\n\n9:30 is lights out, and before that you should\n1. Dim the lamps\n2. Read",
    # ... a heading or a line that names a word of another title but not all of it (review 187: cut)
    "Set a time.\n1. Pick ten\n2. Keep it\n\n**Can you have caffeine at night?**\n1. Try decaf\n2. Try tea",
    "Set a time.\n1. Pick ten\n2. Keep it\n\nIf you drink coffee late, you'd\n1. Sleep less\n2. Wake more",
])
def test_a_second_list_and_items_naming_other_points_are_the_points_own(raw, step):
    assert clean(raw, step=step, index=1, title="Keep a schedule", others=["Use LED bulbs", "Avoid late caffeine"],
                 most_points=3) == (raw, False)



@pytest.mark.parametrize("step", [1, 3, 200])
def test_a_line_of_common_words_alone_rewords_no_other_point_and_its_list_is_the_points_own(step):
    # probe 314: a mutant that took a line of common words alone ("when you move more") for a rewording of another
    # point's title ("Move more", every word of it common) cut the point's own list there, reported whole
    raw = "Water keeps you alert.\n1. Sip often\n2. Carry a bottle\nwhen you move more\n1. Drink before a walk\n" \
          "2. Refill after it"
    f = ExpansionFilter(2, "Drink water", strip_header=True, other_titles=["Sleep early", "Move more"],
                        earlier_titles=["Sleep early"])
    assert "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish() == raw
    assert not f.finished


@pytest.mark.parametrize("gap", [" " * 10, " " * 250, "\n" * 201])
def test_a_closing_line_announced_with_a_colon_is_kept_however_far_below_the_colon(gap):
    # probe 314: past 200 blank characters no test read where the colon was (a mutant dropped the line there)
    raw = f"End every support email with this line:\n{gap}\nLet me know if you have any other questions!"
    f = ExpansionFilter(2, "Use a friendly sign-off", strip_header=True)
    assert "Let me know if you have any other questions!" in f.feed(raw) + f.finish()


@pytest.mark.parametrize("label", ["Point", "Step", "Part"])
def test_a_restated_header_with_a_label_streamed_token_by_token_is_stripped(label):
    # probe 314: the "Part" form was read by no test while a reply streams (a mutant of it kept "Part 2: ...")
    pieces = [label, " 2", ": Use", " LED", " bulbs", ":", " They", " last", " ten", " years."]
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=True)
    assert "".join(f.feed(piece) for piece in pieces) + f.finish() == "They last ten years."

@pytest.mark.parametrize("step", [1, 2, 3, 100])
@pytest.mark.parametrize("raw, text", [
    # ... but a heading or a line that names another point, by a word of its title or its place, opens that point's
    # text, and an item with another point's title outside a list a lead-in announced is a run-on (review 184)
    # (the heading is left, as a header of another point's was before)
    ("At ten:\n1. Dim the lamps\n\n**Avoiding caffeine**\n1. No coffee",
     "At ten:\n1. Dim the lamps\n\n**Avoiding caffeine**"),
    ("At ten:\n1. Dim the lamps\n\nNow let's move on to the LED bulbs\n1. Buy warm ones",
     "At ten:\n1. Dim the lamps\n\nNow let's move on to the LED bulbs"),
    ("At ten:\n1. Dim the lamps\n\n**Using LED bulbs**\n1. Buy warm ones",
     "At ten:\n1. Dim the lamps\n\n**Using LED bulbs**"),
    ("At ten:\n1. Dim the lamps\n\nMoving on to the third point, about coffee\n1. None after noon",
     "At ten:\n1. Dim the lamps\n\nMoving on to the third point, about coffee"),
    ("At ten:\n1. Dim the lamps\n\n**Next point: stop coffee**\n1. None after noon",
     "At ten:\n1. Dim the lamps\n\n**Next point: stop coffee**"),
    ("Sleep at ten.\n\n1. Avoid late caffeine by stopping at noon.\nTea counts too.", "Sleep at ten."),
    ("Sleep at ten.\n\nNow, moving on:\n1. Avoid late caffeine by stopping at noon",
     "Sleep at ten.\n\nNow, moving on:"),
])
def test_a_heading_or_item_naming_another_point_still_ends_the_point(raw, text, step):
    assert clean(raw, step=step, index=1, title="Keep a schedule", others=["Use LED bulbs", "Avoid late caffeine"],
                 most_points=3) == (text, True)


@pytest.mark.parametrize("known", [1, 2, 3])
@pytest.mark.parametrize("step", [1, 3, 7, 1000])
def test_the_skeleton_written_again_waits_for_titles_the_skeleton_has_not_given_yet(known, step):
    """A point's reply that outpaced the skeleton kept the outline's lines past the titles parsed so far ("4. Walk
    daily\n\n**1. Sleep well**\n\n...": blind set b9's P51, by timing, once in a fresh clone's test run)."""
    titles = ["Sleep well", "Dim the lights", "Cut caffeine", "Walk daily"]
    raw = ("I'll work from this outline:\n\n" + "\n".join(f"{i}. {t}" for i, t in enumerate(titles, 1))
           + "\n\n**1. Sleep well**\n\nGo to bed at the same hour.")
    f = ExpansionFilter(1, titles[0], strip_header=True, other_titles=titles[1:known], most_points=10)
    out = "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step))
    for title in titles[known:]:
        f.add_other_title(title)
    f.set_most_points(len(titles))
    assert out + f.finish() == "Go to bed at the same hour."


@pytest.mark.parametrize("step", [1, 40, 200, 1000])
def test_an_item_that_waits_for_its_lists_next_line_is_decided_alike_whatever_the_pieces(step):
    # review 170: a first item past _HOLD kept the skeleton again in small pieces, and was cut in one
    raw = ("Here:\n1. Keep a schedule for a week" + " and more" * 40 + "\n2. Use LED bulbs: dim them.\n"
           "3. Avoid late caffeine: stop.")
    assert clean(raw, step=step, others=OTHERS) == clean(raw, step=len(raw), others=OTHERS)


def test_an_item_that_waits_for_its_lists_next_line_holds_back_a_bounded_text():
    """While an earlier point's title opens an item, the text waits for the list's next line: prose says it is the
    point's own at once, and a long line no later than _HOLD characters (review 167: the whole point was held, and
    read again at every piece, 17 s for 40,000 characters)."""
    for tail in ("\nThen more prose. " * 200, " and more of the same line" * 100):
        raw = "Like so:\n1. Keep a schedule for a week" + tail
        f = ExpansionFilter(2, "Use LED bulbs", strip_header=True, other_titles=OTHERS)
        streamed = "".join(f.feed(raw[i:i + 1]) for i in range(len(raw)))
        assert len(streamed) > len(raw) - 400 and streamed + f.finish() == raw.strip()


@pytest.mark.parametrize("step", [1, 2, 3, 100])
@pytest.mark.parametrize("raw, text, finished", [
    # a number the skeleton reads (probe 84 F6) ends a point that runs on into the next item too
    ("列清单。\n二、设定优先级\n排序。", "列清单。", True),
    ("列清单。\n（二）设定优先级：排序。", "列清单。", True),
    ("列清单。\n②设定优先级\n排序。", "列清单。", True),
    # probe 250: a title that opens with a Latin letter, a digit or a bracket after a full-width mark
    ("列清单。\n2、Python入门\n排序。", "列清单。", True),
    ("列清单。\n二、5G设备关机：排序。", "列清单。", True),
    ("列清单。\n２．「LED」照明\n排序。", "列清单。", True),
    ("做法：\n1、Python入门\n2、Java入门\n3、Go入门", "做法：\n1、Python入门\n2、Java入门\n3、Go入门", False),
    ("春季适合出行。\n3、4月份是最佳季节。", "春季适合出行。\n3、4月份是最佳季节。", False),  # March-April
    ("睡眠。\n２．５時間は短い。", "睡眠。\n２．５時間は短い。", False),  # 2.5 hours
    ("وضع خطة.\n\u200f2. تحديد الأولويات", "وضع خطة.", True),
    # the point's own list in those forms, and lines that open with a numeral, stay
    ("做法：\n一、列清单\n二、排序\n三、执行", "做法：\n一、列清单\n二、排序\n三、执行", False),
    ("做法：\n①列清单\n②排序\n③执行", "做法：\n①列清单\n②排序\n③执行", False),
    # ... also with no lead-in, in full-width or Arabic-Indic digits, with no space after the mark (probe 346: all
    # but the first item were cut)
    ("１．列清单。\n２．排序。\n３．执行。", "１．列清单。\n２．排序。\n３．执行。", False),
    ("1、列清单。\n2、排序。", "1、列清单。\n2、排序。", False),
    ("1.列清单。\n2.排序。", "1.列清单。\n2.排序。", False),
    ("١. ضع قائمة.\n٢. رتب المهام.", "١. ضع قائمة.\n٢. رتب المهام.", False),
    ("۱. فهرست بنویسید.\n۲. اولویت بدهید.", "۱. فهرست بنویسید.\n۲. اولویت بدهید.", False),  # (review 347)
    ("१. सूची बनाएं।\n२. क्रम तय करें।", "१. सूची बनाएं।\n२. क्रम तय करें।", False),
    ("（１）列清单。\n（２）排序。", "（１）列清单。\n（２）排序。", False),  # (review 348)
    ("(١) ضع قائمة.\n(٢) رتب المهام.", "(١) ضع قائمة.\n(٢) رتب المهام.", False),
    ("1.5小时就够。\n2、设定优先级\n排序。", "1.5小时就够。", True),  # (a number, not an item: the run-on is cut)
    ("列清单。\n一些人用纸笔。\n十分有效。", "列清单。\n一些人用纸笔。\n十分有效。", False),
    # two numerals joined by the enumeration comma are prose ("March and April", "four- and five-star"; probe 86)
    ("春季适合出行。\n三、四月份是最佳季节。", "春季适合出行。\n三、四月份是最佳季节。", False),
    ("提前预订。\n四、五星级酒店价格高。", "提前预订。\n四、五星级酒店价格高。", False),
    # ... but not where they open another point's title (probe 88: the point ran on into it)
    ("列清单。\n三、一次只做一件事：关掉手机通知。", "列清单。", True),
    # a list from 1 after a lead-in that opens with a title, written without a space after it, is the skeleton again
    # (review 149)
    ("做法：\n1. 列清单。\n\n总结：\n1. 设定优先级很重要", "做法：\n1. 列清单。\n\n总结：", True),
])
def test_a_run_on_into_a_chinese_or_arabic_numbered_item_is_cut(raw, text, finished, step):
    others = ["设定优先级", "一次只做一件事", "تحديد الأولويات", "Python入门", "5G设备关机", "「LED」照明"]
    assert clean(raw, step=step, index=1, title="制定计划", others=others) == (text, finished)


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("raw, text, finished, title, others", [
    # probe 324: a run-on into the next point after "。", "।", a space after Thai, or a full stop with no space after
    # it, was kept (the next point's text written twice, the answer passed as good)
    ("每天同一时间起床。2. 减少咖啡因：下午不喝咖啡。", "每天同一时间起床。", True, "规律作息", ["减少咖啡因"]),
    ("週末も同じ時刻に起きましょう。2. カフェインを控える：午後は避けます。", "週末も同じ時刻に起きましょう。", True,
     "毎日同じ時間に寝る", ["カフェインを控える"]),
    ("रोज़ एक ही समय पर सोएं। 2. कैफीन कम करें: कॉफ़ी न पिएं।", "रोज़ एक ही समय पर सोएं।", True, "नियमित समय",
     ["कैफीन कम करें"]),
    ("เข้านอนเวลาเดิมทุกวัน 2. ลดคาเฟอีน: งดกาแฟ", "เข้านอนเวลาเดิมทุกวัน", True, "เข้านอนให้ตรงเวลา", ["ลดคาเฟอีน"]),
    ("Same hour daily.2. Cut caffeine: No coffee after 2 pm.", "Same hour daily.", True, "Keep a schedule",
     ["Cut caffeine"]),
    ("每天同一时间起床。\n\n第二点：减少咖啡因\n下午不喝咖啡。", "每天同一时间起床。", True, "规律作息", ["减少咖啡因"]),
    # not where no other point's title follows, nor a one-character title, nor a version number
    ("每天同一时间起床。2. 这很重要。", "每天同一时间起床。2. 这很重要。", False, "规律作息", ["减少咖啡因"]),
    ("Use Python 3.2. Cut caffeine: no.", "Use Python 3.2. Cut caffeine: no.", False, "Keep a schedule",
     ["Cut caffeine"]),
    # with no space after the stop, only a title at its own point's number (review 328: "e.g.3.", "Fig.3.")
    *[(f"{said}3. Cut caffeine: later.", f"{said}3. Cut caffeine: later.", False, "Keep a schedule", ["Cut caffeine"])
      for said in ("Use a routine, e.g.", "As in Fig.", "See example.com.", "See Figure.", "Read x.com/page.")],
    ("Go to bed.2. Cut caffeine: none after noon.", "Go to bed.", True, "Keep a schedule", ["Cut caffeine"]),  # (326)
    ("Two tips: 1. Dim the lights.2. Exercise: walk.", "Two tips: 1. Dim the lights.2. Exercise: walk.", False,
     "Evening routine", ["Exercise"]),  # (its own inline list's item, glued: review 331)
    *[(f"{said}2. Cut caffeine: none after noon.", said, True, "Keep a schedule", ["Cut caffeine"])  # (review 327)
      for said in ("Geh ins Bett.", "Wake up well-rested.", "每天同一时间起床.", "the most important step.", "by 10 p.m.",
                   "Siehe Bild.")],
    # a one-word title written without spaces is ordinary vocabulary but at its own point's number (review 325: a
    # point's own inline list, or bullets, naming it were cut)
    ("3つあります。1. カフェイン：午後は控える。2. アルコール：控える。",
     "3つあります。1. カフェイン：午後は控える。2. アルコール：控える。", False, "規則正しい生活", ["カフェイン"]),
    ("次の3つです。\n\n- カフェイン：午後は控える\n- アルコール：控える", "次の3つです。\n\n- カフェイン：午後は控える\n- アルコール：控える",
     False, "規則正しい生活", ["カフェイン"]),
    # nor at its own number where the point's own inline list began before it (review 326)
    ("大事な点は2つです。1. 睡眠：7時間寝る。2. 運動：毎日歩く。", "大事な点は2つです。1. 睡眠：7時間寝る。2. 運動：毎日歩く。", False,
     "生活習慣", ["運動"]),
    # (an inline list on another line is no list of this one's: review 327; one after a colon is: review 328; a number
    # its own inline list has had is a run-on, and so is a one-word title at its own number: review 329)
    ("有两点：1. 早睡，2. 早起。坚持下去。2. 运动：白天多走路。", "有两点：1. 早睡，2. 早起。坚持下去。", True, "规律作息", ["运动"]),
    ("有两点：1.早睡早起。2. 运动：白天多走路。", "有两点：1.早睡早起。2. 运动：白天多走路。", False, "规律作息", ["运动"]),  # (331)
    # (a one-word English title is ordinary vocabulary there: own lists in forms the count does not read; review 330)
    ("Two tips. **1.** Dim the lights. 2. Exercise: walk.", "Two tips. **1.** Dim the lights. 2. Exercise: walk.",
     False, "Keep a schedule", ["Exercise"]),
    ("Two tips. 1. Sleep: by ten. 2. Caffeine: none.", "Two tips. 1. Sleep: by ten. 2. Caffeine: none.", False,
     "Keep a schedule", ["Caffeine"]),
    ("コツは2つです：1. 睡眠時間：7時間。2. 運動：毎日歩く。", "コツは2つです：1. 睡眠時間：7時間。2. 運動：毎日歩く。", False,
     "生活習慣", ["運動"]),
    ("睡眠のコツ。1. 暗くする。\n\n毎日同じ時間に起きる。2. カフェイン：午後は控える。", "睡眠のコツ。1. 暗くする。\n\n毎日同じ時間に起きる。",
     True, "規則正しい生活", ["カフェイン"]),
    # a point's own list numbered "(1)", "（1）" is kept whole (it was cut as point 1's start)
    ("Cut it in three ways.\n(1) No coffee after noon\n(2) Switch to tea\n(3) Skip energy drinks",
     "Cut it in three ways.\n(1) No coffee after noon\n(2) Switch to tea\n(3) Skip energy drinks", False,
     "Cut caffeine", ["Keep a schedule", "Cool the bedroom"]),
    ("可以这样做。\n（1）下午不喝咖啡\n（2）改喝花草茶", "可以这样做。\n（1）下午不喝咖啡\n（2）改喝花草茶", False,
     "减少咖啡因", ["规律作息", "保持卧室凉爽"]),
    # counted apart from the point's "1." items, under each of which it begins again (review 325: "2. Eat:" was cut)
    ("Do this:\n1. Wake:\n(1) At 7\n(2) Open curtains\n2. Eat:\n(1) Protein\n(2) Water",
     "Do this:\n1. Wake:\n(1) At 7\n(2) Open curtains\n2. Eat:\n(1) Protein\n(2) Water", False, "Morning routine",
     ["Evening routine", "Cut caffeine"]),
    # an item that opens with another point's title running into a sentence is the point's own (review 326)
    ("(1) Wake at 7\n(2) Exercise daily for ten minutes\n(3) Eat breakfast",
     "(1) Wake at 7\n(2) Exercise daily for ten minutes\n(3) Eat breakfast", False, "Morning routine",
     ["Cut caffeine", "Exercise daily"]),
    # also a later point's at its own number (review 328: a sub-list's "(2) Cut caffeine after 2 pm." was cut), or a
    # word it prefixes ("Exercises like yoga"); one with its separator in a piece of its own is a run-on (review 327)
    ("2. Evenings:\n   (1) Dim the lights\n   (2) Cut caffeine after 2 pm.",
     "2. Evenings:\n   (1) Dim the lights\n   (2) Cut caffeine after 2 pm.", False, "Daily routine",
     ["Cut caffeine"]),
    ("Do this:\n(1) Stretch\n(2) Exercises like yoga help.", "Do this:\n(1) Stretch\n(2) Exercises like yoga help.",
     False, "Morning routine", ["Exercise"]),
    ("Do this:\n(1) Wake at 7\n(2) Cut caffeine – none after noon.", "Do this:\n(1) Wake at 7", True,
     "Morning routine", ["Cut caffeine"]),
    # and a "(N)" line that opens with another point's title as a header is still a run-on, a full stop after it too
    ("Do this:\n(1) Wake at 7\n(2) Cut caffeine. None after noon.", "Do this:\n(1) Wake at 7", True,
     "Morning routine", ["Cut caffeine"]),
    *[(f"Do this:\n(1) Wake at 7\n(2) {said}", "Do this:\n(1) Wake at 7", True, "Morning routine", ["Cut caffeine"])
      for said in ("Cut caffeine. 2 pm at the latest.", "**Cut caffeine.** None after noon.",
                   'Cut caffeine. "None after noon."')],  # (review 331)
    ("每晚：\n(1) 早起。\n(2) 减少咖啡因。下午不喝咖啡。", "每晚：\n(1) 早起。", True, "规律作息", ["减少咖啡因"]),
    ("Do this:\n(1) Stretch\n(2) Exercise... if you can.\n(3) Exercise.\n(4) Eat",
     "Do this:\n(1) Stretch\n(2) Exercise... if you can.\n(3) Exercise.\n(4) Eat", False, "Morning routine",
     ["Exercise"]),  # (review 330)
    ("Do this:\n(1) Wake at 7\n(2) Cut caffeine: none after noon", "Do this:\n(1) Wake at 7", True, "Morning routine",
     ["Cut caffeine"]),
])
def test_a_run_on_in_other_scripts_and_forms_is_cut_and_an_own_list_kept(raw, text, finished, title, others, step):
    assert clean(raw, step=step, index=1, title=title, others=others) == (text, finished)


@pytest.mark.parametrize("mark", ["\u200f", "\u200e", "\ufeff"])
@pytest.mark.parametrize("step", [1, 100])
def test_a_restated_header_after_an_invisible_mark_goes(mark, step):
    # probe 324: after a bidi mark or a byte-order mark it stayed, and the title was written twice
    assert clean(f"{mark}٢. تقليل الكافيين: تجنب القهوة.", step=step, title="تقليل الكافيين") == \
        ("تجنب القهوة.", False)
    assert clean(f"2. {mark}Use LED bulbs: They last.", step=step) == ("They last.", False)


OTHERS = ["Keep a schedule", "Avoid late caffeine", "Exercise"]


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, text, finished", [
    # another point's title at a line's start, followed by its separator or the line's end, with no number
    ("They last.\n\n**Avoid late caffeine:** Stop by noon.", "They last.", True),
    ("They last.\n\n### Avoid late caffeine\nStop by noon.", "They last.", True),
    ("They last.\n\n- Avoid late caffeine: Stop by noon.", "They last.", True),  # a bullet opening a paragraph
    ("They last.\n\nAvoid late caffeine - stop by noon.", "They last.", True),  # so a plain line, two words
    ("They last.\n\nExercise\nWalk daily.", "They last.", True),  # a one-word title: alone on its line
    ("They last.\n**Avoid Late Caffeine**", "They last.", True),  # the call ended on the title's line
    ("They last. 4. Avoid late caffeine: Stop by noon.", "They last.", True),  # numbered, in the same line
    # not a run-on: a title word opening a sentence, a list of the point's own, a number that is no item's
    ("They last.\nExercise helps too.", "They last.\nExercise helps too.", False),
    ("They help:\n- less heat\n- Avoid late nights: dim them", "They help:\n- less heat\n- Avoid late nights: dim them",
     False),
    ("It beats:\n- Exercise: no\n- Avoid late caffeine: no", "It beats:\n- Exercise: no\n- Avoid late caffeine: no",
     False),  # other points' titles as items of a list of its own (a comparison)
    ("They last.\n**Avoid late caffeine** and sugar.", "They last.\n**Avoid late caffeine** and sugar.", False),
    ("It is 4. Avoid late caffeine: it adds up.", "It is 4. Avoid late caffeine: it adds up.", False),
    ("See:\n```\nExercise: true\n```\nDone.", "See:\n```\nExercise: true\n```\nDone.", False),  # code
    # a one-word title as an item of the point's own list, bulleted or numbered in a line: ordinary vocabulary
    ("Split it like this.\n- Exercise: 40%\n- Sleep: 60%", "Split it like this.\n- Exercise: 40%\n- Sleep: 60%",
     False),
    ("Go in order. 1. Exercise: first. 2. Rest: second.", "Go in order. 1. Exercise: first. 2. Rest: second.", False),
])
def test_running_on_into_another_point_under_its_title_is_cut(raw, text, finished, step):
    assert clean(raw, step=step, others=OTHERS) == (text, finished)


@pytest.mark.parametrize("step", [1, 4, 100])
def test_a_title_parsed_after_the_call_started_ends_the_point_too(step):
    # an eager expansion starts before the skeleton's later lines are parsed: they are added as they come
    raw = "They last.\n\n**Avoid late caffeine:** Stop by noon."
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=True, other_titles=["Keep a schedule"])
    released = f.feed(raw[:6])
    f.add_other_title("Avoid late caffeine")
    released += "".join(f.feed(raw[i:i + step]) for i in range(6, len(raw), step)) + f.finish()
    assert (released, f.finished) == ("They last.", True)


@pytest.mark.parametrize("step", [1, 4, 100])
def test_a_numbered_line_in_a_code_block_is_code_not_the_next_point(step):
    raw = "Automate it:\n```yaml\nactions:\n3. light.turn_off: bedroom\n```\nRun it at 22:00.\n3. Unplug: always"
    assert clean(raw, step=step, others=OTHERS) == (
        "Automate it:\n```yaml\nactions:\n3. light.turn_off: bedroom\n```\nRun it at 22:00.", True)


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, text", [
    # a first line that only talks about the task
    ("Sure! Here's the continuation of point 2:\n\nThey last.", "They last."),
    ("Sure, here's point 2 (Use LED bulbs):\nThey last.", "They last."),
    ("I'll continue with point 2.\n\nThey last.", "They last."),
    ("Sure! Here’s point 2:", ""),  # nothing else: the point is empty, and asked again
    # ... but a sentence alone may be the point itself, and a line the point's own words
    ("I'll be honest: continuing with a plan you dislike rarely works.",
     "I'll be honest: continuing with a plan you dislike rarely works."),
    ("Here's what the expansion of your market requires:\n- research\n- funding",
     "Here's what the expansion of your market requires:\n- research\n- funding"),
    ("Here's the rule of thumb for point 1 of any budget: never spend the deposit twice.",
     "Here's the rule of thumb for point 1 of any budget: never spend the deposit twice."),
    # a last line that only offers more help
    ("They last.\n\nLet me know if you'd like me to expand on the other points!", "They last."),
    ("They last.\nWould you like me to add more?\n3. Unplug: always", "They last."),
    # talk of the point's own subject stays
    ("Sure, LEDs last. Here is the point: they save.", "Sure, LEDs last. Here is the point: they save."),
    # ... and an acknowledgement whose sentence goes on in lower case is its subject (probe 166: "Sure!" was cut
    # from a point on ways to say yes)
    ("Sure! is casual and friendly.", "Sure! is casual and friendly."),
    ("Of course! implies it was obvious.", "Of course! implies it was obvious."),
    ("¡Claro! es la forma más común.", "¡Claro! es la forma más común."),
    ("Sure!\n\nhere you go:\n\nThey last.", "here you go:\n\nThey last."),  # (on its line only: review 167)
    ("Sure, LEDs last: we continue with point 4 below.\nThey save.",  # a line that says something
     "Sure, LEDs last: we continue with point 4 below.\nThey save."),
    ("Here's how:\nThey last.", "Here's how:\nThey last."),
    ("Let me know your budget first.\nThey last.", "Let me know your budget first.\nThey last."),  # first line
    ("They last.\nLet me knowledge guide you.", "They last.\nLet me knowledge guide you."),
    ("They last.\nLet me know\nmore.", "They last.\nLet me know\nmore."),  # not the last line
    ("End with a request, for example:\nLet me know by Friday if the date moves.",  # announced, and no offer
     "End with a request, for example:\nLet me know by Friday if the date moves."),
    ("They last.\nLet me know if you need more.\n", "They last."),  # a newline after it changes nothing
])
def test_lines_that_only_talk_about_the_task_are_dropped(raw, text, step):
    assert clean(raw, step=step, others=OTHERS)[0] == text


@pytest.mark.parametrize("step", [1, 2, 3, 100])
@pytest.mark.parametrize("raw, text", [
    # a rule that ends the point separates it from a next section the model left to another point: dropped
    ("They last.\n\n---", "They last."),
    ("They last.\n\n***\n", "They last."),
    ("They last.\n\n_ _ _", "They last."),
    ("They last.\n\n---\n\nLet me know if you'd like more tips!", "They last."),  # talk after it, then it
    ("They last.\n\nLet me know if you'd like more tips!\n\n---", "They last."),  # and the other way round
    ("They last.\n\nLet me know if you need more.\n\nHappy saving!", "They last."),  # two lines of talk
    # a rule between the point's own parts, list items, bold text and a table stay
    ("They last.\n\n---\n\nThey save.", "They last.\n\n---\n\nThey save."),
    ("They last:\n- longer\n- cooler", "They last:\n- longer\n- cooler"),
    ("They last.\n\n**Bottom line:** switch.", "They last.\n\n**Bottom line:** switch."),
    ("| bulb | watts |\n|---|---|\n| LED | 9 |", "| bulb | watts |\n|---|---|\n| LED | 9 |"),
    ("Front matter:\n\n```yaml\ntitle: LEDs\n---", "Front matter:\n\n```yaml\ntitle: LEDs\n---\n```"),  # code
])
def test_a_thematic_break_that_ends_a_point_is_dropped(raw, text, step):
    assert clean(raw, step=step, others=OTHERS)[0] == text


def sentences(raw: str, *, step: int, cut: bool, others=(), title: str = "Use LED bulbs",
              question: str = "") -> tuple[str, list[str], bool]:
    """Stream through a whole-sentence filter; returns the final text, what each delta released, finished."""
    f = ExpansionFilter(2, title, strip_header=True, whole_sentences=True, other_titles=others, question=question)
    pieces = [f.feed(raw[i:i + step]) for i in range(0, len(raw), step)] + [f.finish(cut=cut)]
    assert "".join(pieces) == f.released
    return f.released, pieces, f.finished


@pytest.mark.parametrize("step", [1, 4, 100])
def test_whole_sentences_hold_back_the_sentence_being_written(step):
    raw = "They use 80% less energy. They last 2.5 years. And they"
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=True, whole_sentences=True)
    released = "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step))
    assert released == "They use 80% less energy. They last 2.5 years."  # "2." did not count as an end
    assert f.finish() == " And they"  # the model ended it itself: nothing is dropped


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, text", [
    # a small model copying another point's skeleton line, with an ellipsis, is no answer (probe 59)
    ("1. Sleep well...", ""), ("1. Sleep well…", ""), ("Point 1: Sleep well...", ""), ("١. Sleep well...", ""),
    # another point's title as a plain sentence may be the answer ("Python." for "Verdict"), also with its own
    # number; a number that is no point's own, before words of its own, goes as before
    ("Sleep well...", "Sleep well..."), ("Sleep well…", "Sleep well…"), ("2. Sleep well.", "Sleep well."),
    ("1. It helps.", "It helps."),
])
def test_another_points_numbered_line_copied_is_no_answer(raw, text, step):
    assert sentences(raw, step=step, cut=False, others=["Sleep well"])[0] == text


@pytest.mark.parametrize("step", [1, 4, 100])
def test_an_opening_is_judged_title_only_when_its_sentence_has_ended(step):
    # "Sleep 7." is the title's words, but the stream is still writing the sentence: "7.5 hours" says more
    text, _, _ = sentences("Sleep 7.5 hours a night. It helps.", step=step, cut=False, title="Sleep 7 hours")
    assert text == "Sleep 7.5 hours a night. It helps."


@pytest.mark.parametrize("step", [1, 4, 100])
def test_a_point_cut_by_its_budget_ends_at_its_last_complete_sentence(step):
    text, _, finished = sentences("They save. They last (years).\" And the", step=step, cut=True)
    assert (text, finished) == ("They save. They last (years).\"", False)
    assert sentences("They save. They last.", step=step, cut=True)[0] == "They save. They last."
    # no complete sentence at all: the fragment is kept rather than nothing
    assert sentences("They save money on the", step=step, cut=True)[0] == "They save money on the"


@pytest.mark.parametrize("step", [1, 4, 100])
def test_an_expansion_ends_before_a_sentence_that_names_another_point(step):
    others = ["Unplug idle devices", "Insulate", "Use LED bulbs and lamps"]
    raw = "LEDs save energy. Insulate the attic too. Also unplug idle devices at night. More text."
    text, _, finished = sentences(raw, step=step, cut=False, others=others)
    # "Insulate" is one word (ordinary vocabulary); the third title contains this point's own title
    assert (text, finished) == ("LEDs save energy. Insulate the attic too.", True)
    # the first sentence is the point's opening and always stays
    text, _, _ = sentences("To unplug idle devices saves energy. It adds up.", step=step, cut=True, others=others)
    assert text == "To unplug idle devices saves energy. It adds up."


# -- echoed instructions ------------------------------------------------------------------------------------

from sotkit.quality import Instructions  # noqa: E402
from sotkit.templates import Templates  # noqa: E402

QUESTION = "How can I sleep better?"
RESTATED = "How can I improve my time management skills?"


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, text", [
    # the question turned into a purpose clause: it goes, and the rest starts the sentence
    ("To improve your time management skills, start with a list. Then rank it.", "Start with a list. Then rank it."),
    ("2. Use a planner: In order to improve time management, plan the week.", "Plan the week."),
    ("When it comes to managing your time, it helps to plan.", "It helps to plan."),
    ("When you wake up, plan your time.", "When you wake up, plan your time."),  # "wake" is its own
    ("To improve your time management skills, iCal reminders help.", "iCal reminders help."),  # (not "ICal")
    # a clause that says something of its own stays
    ("To avoid burnout, take breaks.", "To avoid burnout, take breaks."),
    ("To improve, plan.", "To improve, plan."),  # one content word is no restatement
    ("To improve your skills and sleep, plan.", "To improve your skills and sleep, plan."),
    ("To-do lists help.", "To-do lists help."),
    ("Tomorrow is another day.", "Tomorrow is another day."),
])
def test_a_small_models_opening_clause_that_only_restates_the_question_is_dropped(raw, text, step):
    assert clean(raw, step=step, title="Use a planner", question=RESTATED, whole_sentences=True) == (text, False)


@pytest.mark.parametrize("step", [1, 4, 100])
def test_an_api_models_opening_clause_stays_it_may_pick_one_of_the_things_asked(step):
    # (probe 241: "Multiply by 9/5 and add 32; to convert Fahrenheit to Celsius, ..." no longer said which was which)
    raw = ("To convert Celsius to Fahrenheit, multiply by 9/5 and add 32; to convert Fahrenheit to Celsius, "
           "subtract 32 and multiply by 5/9.")
    question = "How do I convert Celsius to Fahrenheit and Fahrenheit to Celsius?"
    assert clean(raw, step=step, title="The formulas", question=question) == (raw, False)
    raw = "To improve your time management skills, start with a list."
    assert clean(raw, step=step, title="Use a planner", question=RESTATED) == (raw, False)


def test_a_restating_clause_is_held_back_until_it_is_decided():
    f = ExpansionFilter(2, "Use a planner", strip_header=True, question=RESTATED, whole_sentences=True)
    assert f.feed("To improve your time management skills") == ""  # may still be the question restated
    assert f.feed(", write") == ""  # (a small model's text is released a whole sentence at a time)
    assert f.feed(" it down. Then") == "Write it down."
    f = ExpansionFilter(2, "Use a planner", strip_header=True, question=RESTATED)
    assert f.feed("To improve your time management skills") == "To improve your time management skills"
    # without the question there is nothing to hold back for
    f = ExpansionFilter(2, "Use a planner", strip_header=True)
    assert f.feed("To improve your time management skills") == "To improve your time management skills"


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, text", [
    ("The answer is: Use your bed for sleep.", ""),  # SmolLM2's whole point: it says nothing of its own
    ("Use your bed for sleep. Keep work and screens out of it.", "Keep work and screens out of it."),
    ("The first tip is to use your bed only for sleep. It trains your brain.", "It trains your brain."),
    ("Your bed is for sleep and rest.", "Your bed is for sleep and rest."),  # "rest" is its own
    ("Keep your bed for sleep", "Keep your bed for sleep"),  # "keep": said by the call that ended
])
def test_an_opening_sentence_that_only_names_the_point_is_dropped_from_whole_sentences(raw, text, step):
    assert sentences(raw, step=step, cut=False, title="Use your bed for sleep")[0] == text


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, text", [
    # opening sentences that only say the question again, with no word of the point's title, go (all of them)
    ("Time management is key to improving your skills. A planner shows the week at a glance.",
     "A planner shows the week at a glance."),
    ("Improving time management skills matters. Managing your time well improves your skills. Plan on Sunday.",
     "Plan on Sunday."),
    ("Good time management skills help everyone.", ""),  # nothing else: the point is empty, and asked again
    # the title and the question's words, with words that only weigh them, are nothing new either
    ("A planner improves your time management skills. It shows the week.", "It shows the week."),
    ("A planner is a key element of time management. It shows the week.", "It shows the week."),
    ("A planner is a critical aspect of improving time management. It shows the week.", "It shows the week."),
    # a sentence with words of its own stays, restating or not
    ("A planner improves your time management skills by showing the week.",
     "A planner improves your time management skills by showing the week."),
    ("Time is short. Plan on Sunday.", "Time is short. Plan on Sunday."),
    # only the opening: the same sentence later in the point is kept
    ("Plan on Sunday. Time management is key to improving your skills.",
     "Plan on Sunday. Time management is key to improving your skills."),
])
def test_opening_sentences_that_only_restate_the_question_are_dropped_from_whole_sentences(raw, text, step):
    assert sentences(raw, step=step, cut=False, title="Use a planner", question=RESTATED)[0] == text


def test_a_document_for_a_question_does_not_make_every_sentence_old_news():
    words = [chr(97 + i % 26) + chr(97 + i // 26) + "zzment" for i in range(40)]  # 40 words, 40 stems
    document = "Summarise this report: " + " ".join(words)
    assert sentences(f"A planner {words[0]} {words[1]}.", step=100, cut=False, title="Use a planner",
                     question=document)[0] == f"A planner {words[0]} {words[1]}."


def test_an_api_point_as_short_as_its_title_is_kept():  # API models stream as they come, whole sentences or not
    assert clean("The answer is: Use your bed for sleep.", title="Use your bed for sleep") == (
        "The answer is: Use your bed for sleep.", False)


CUSTOM = {"expand": "{% block user %}Question: {{ question }}\nTopic: {{ point.title }}. Write two friendly "
                    "sentences for our customers about this topic only.{% endblock %}"}


def echo_filter(templates: Templates, title: str, *, whole_sentences: bool) -> ExpansionFilter:
    """A filter given the point's instructions the way the coordinator renders them."""
    prompt = templates.render("expand", question=QUESTION, context=None,
                              points=[{"index": 1, "title": "Keep a schedule"}, {"index": 2, "title": title}],
                              point={"index": 2, "title": title})
    return ExpansionFilter(2, title, strip_header=True, whole_sentences=whole_sentences,
                           instructions=Instructions(f"{prompt.system or ''}\n{prompt.user}", (QUESTION, title)))


BEFORE = (Path(__file__).parent.parent / "benchmarks" / "data" / "local_prompts_before" / "expand.jinja").read_text()

ECHOES = {  # template -> what a small model wrote that copies it, and the real text in it
    "local": (Templates(local=True),
              "Avoid heavy meals. Eating late keeps your stomach busy at night. Explain this in four sentences.",
              "Eating late keeps your stomach busy at night."),
    "local before issue 24": (Templates({"expand": BEFORE}, local=True),
              'One part of the answer is "Avoid heavy meals". Eating late keeps your stomach busy at night. '
              "Explain only this part, in a paragraph of four sentences.",
              "Eating late keeps your stomach busy at night."),
    "api": (Templates(),
            "You're responsible for continuing the writing of one and only one point in the overall answer to "
            "the following question. Eating late keeps your stomach busy at night. Write it very shortly in "
            "1~2 sentences and do not continue with other points!",
            "Eating late keeps your stomach busy at night."),
    "custom": (Templates(CUSTOM),
               "Write two friendly sentences for our customers about this topic only. Eating late keeps your "
               "stomach busy at night.",
               "Eating late keeps your stomach busy at night."),
}


@pytest.mark.parametrize("whole_sentences", [True, False])
@pytest.mark.parametrize("step", [1, 7, 1000])
@pytest.mark.parametrize("template", list(ECHOES))
def test_sentences_that_echo_the_instructions_are_never_released(template, step, whole_sentences):
    templates, raw, real = ECHOES[template]
    f = echo_filter(templates, "Avoid heavy meals", whole_sentences=whole_sentences)
    pieces = [f.feed(raw[i:i + step]) for i in range(0, len(raw), step)] + [f.finish()]
    assert "".join(pieces) == f.released == real
    assert f.echoed
    for piece in pieces:  # not even a fragment of an echo went out
        assert not any(echo in piece for echo in ("part of the answer", "four sentences", "responsible", "friendly"))


@pytest.mark.parametrize("template", list(ECHOES))
def test_a_point_that_is_only_an_echo_comes_out_empty(template):
    templates = ECHOES[template][0]
    f = echo_filter(templates, "Get regular exercise", whole_sentences=True)
    echo = {"local": "Explain this in four sentences.",
            "local before issue 24": 'One part of the answer is "Get regular exercise".',
            "api": "Continue and only continue the writing of point 2 (Get regular exercise).",
            "custom": "Topic: Get regular exercise."}[template]
    assert f.feed(echo + " ") == "" and f.finish() == "" and f.echoed


@pytest.mark.parametrize("step", [1, 1000])
@pytest.mark.parametrize("raw", [
    "Avoid heavy meals before bed, since digestion keeps you awake.",  # the title, used in a sentence
    "To sleep better, avoid heavy meals late at night. A light snack is fine.",  # restates the question
    "Eat dinner early. It gives your body time to digest.",
])
def test_text_that_only_repeats_the_question_or_title_is_not_an_echo(raw, step):
    f = echo_filter(Templates(local=True), "Avoid heavy meals", whole_sentences=False)
    released = "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish()
    assert released == raw and not f.echoed


@pytest.mark.parametrize("closer", ['"', "')", ""])
def test_an_echo_after_a_sentence_end_split_from_its_space_is_still_found(closer):
    """The end's stop and closing quotes came in one piece and the space after them in the next: the search for the
    echo's start resumes at the stop (review 100: no test failed when it resumed after it)."""
    f = echo_filter(Templates(local=True), "Avoid heavy meals", whole_sentences=False)
    first = f"Eating late keeps you up.{closer}"
    assert [f.feed(first), f.feed(" Explain this in four sentences."), f.finish()] == [first, "", ""]
    assert f.echoed


@pytest.mark.parametrize("step", [1, 7, 1000])
@pytest.mark.parametrize("raw", [
    # the default system prompt, shown as a sample (probe 241: dropped, and in a code block its fence with it)
    "Use a short one.\n```\nYou are a helpful assistant. Answer only cooking questions.\n```",
    "Use a short one.\n```text\nYou are a helpful assistant.\n```\nThen add rules.",
    'Most begin with one line. "You are a helpful assistant." is the usual default, but too vague.',
    "Most begin with one line.\n> You are a helpful assistant.\n\nIt is too vague.",
    # (review 244) in a list, on a quoted line of several sentences, in a quotation of several
    'Give the model a role.\n\n- "You are a helpful assistant." (too vague)\n- "You are a chef." (better)',
    "Try this:\n> Be concise. You are a helpful assistant. Answer in English.",
    'Try "Be concise. You are a helpful assistant. Answer in English." as a start.',
    'Try **"Be concise. You are a helpful assistant. Answer in English."** as a start.',
    "Try «Be concise. You are a helpful assistant. Answer in English.» as a start.",
])
def test_an_echo_the_point_shows_as_a_sample_is_its_own(raw, step):
    f = echo_filter(Templates(), "Define the role", whole_sentences=False)
    released = "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish()
    assert released == raw and not f.echoed
    f = echo_filter(Templates(), "Define the role", whole_sentences=False)  # said, not shown, it is an echo
    assert f.feed("Keep it short. You are a helpful assistant. ") == "Keep it short." and f.finish() == ""


@pytest.mark.parametrize("step", [1, 7, 1000])
def test_a_reply_wholly_in_quotes_is_no_sample(step):
    # review 245: a reply opening with a quote mark kept every sentence after it, its echo of the prompt too
    raw = ('"Eating late keeps your stomach busy at night. Write it very shortly in 1~2 sentences and do not '
           'continue with other points!"')
    f = echo_filter(Templates(), "Avoid heavy meals", whole_sentences=False)
    released = "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish()
    assert released == '"Eating late keeps your stomach busy at night.' and f.echoed


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_an_echo_that_opens_with_a_quotation_is_dropped_at_any_piece_size(step):
    # review 244: its opening, '"Write it very shortly" ', was taken for a sample quoted whole at some piece sizes
    raw = 'Eat early. "Write it very shortly" in 1~2 sentences and do not continue with other points! Eat light.'
    f = echo_filter(Templates(), "Avoid heavy meals", whole_sentences=False)
    assert "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish() == "Eat early. Eat light."


def test_a_streamed_sentence_is_released_before_it_ends_once_it_cannot_be_an_echo():
    f = echo_filter(Templates(), "Avoid heavy meals", whole_sentences=False)
    assert f.feed("Late dinners keep your stomach working while") == "Late dinners keep your stomach working while"
    f = echo_filter(Templates(), "Avoid heavy meals", whole_sentences=False)
    assert f.feed("Continue and only continue the writing") == ""  # may still be the template's sentence


# -- what each delta releases (mutation testing, benchmarks/results/mutation.md) ------------------------------

def test_text_streams_as_it_comes_by_default():
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=True)  # not whole sentences
    assert f.feed("They") == "They"
    assert f.feed(" use less energy and") == " use less energy and"
    assert f.feed(" last. ") == " last."  # the space may be the end of the text
    assert f.feed("Buy") == " Buy"
    assert f.finish() == "" and f.released == "They use less energy and last. Buy"


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("space", ["\xa0", "\u202f"])
def test_a_title_before_a_no_break_space_and_a_colon_is_a_header(space, step):
    # probe 346: French writes "Titre : texte" with a no-break space; the restated header stayed ("Lumière tamisée:
    # Lumière tamisée : ...") and a run-on into a bold title so was kept
    assert clean(f"2. Use LED bulbs{space}: They last for years.", step=step) == ("They last for years.", False)
    assert clean(f"They last for years.\n\n**Seal drafts**{space}: Use weatherstrips.", step=step,
                 others=["Seal drafts"]) == ("They last for years.", True)
    assert clean(f"They last for years.\n(3) Seal drafts{space}: Use weatherstrips.", step=step,
                 others=["Seal drafts"]) == ("They last for years.", True)  # (review 347)
    assert clean(f"They last for years.\n\n**Seal drafts**{space}– Use weatherstrips.", step=step,
                 others=["Seal drafts"]) == ("They last for years.", True)  # (a dash; review 348)


def test_a_restated_header_is_held_back_only_while_the_text_may_still_become_one():
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=True)
    assert f.feed("2. Use LED") == ""
    assert f.feed(" bulbs:\n*") == ""  # the header is complete, and "*" may yet open a title in bold
    assert f.feed(" They last.") == "* They last."  # no title: released
    # the point's own header in a reply that keeps its headers is text like any other
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=False)
    assert f.feed("2. Use LED") == "2. Use LED"
    assert f.finish() == "" and f.released == "2. Use LED"


def test_a_header_that_only_looks_like_the_title_in_upper_case_is_released_at_once():
    # upper and lower case do not map one to one in Turkish: "KIRMIZI" is "kirmizi", not "kırmızı"
    f = ExpansionFilter(2, "Kırmızı et", strip_header=True)
    assert f.feed("2. K") == ""  # may still be "2. Kırmızı et:"
    assert f.feed("IRMIZI") == "2. KIRMIZI"


def test_the_text_before_the_next_point_is_released_at_once():
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=True)
    assert f.feed("They cost less per year:\n12") == "They cost less per year:"  # "\n12" may become "\n12."
    assert f.feed("\n3. Unplug devices") == "\n12" and f.finished


@pytest.mark.parametrize("step", [1, 100])
def test_a_sentence_ends_only_once_the_next_one_starts(step):
    # "2." at the end of what came so far may still be "2.5": a cut then drops the whole sentence
    text, pieces, _ = sentences("They save. They last 2.5 ye", step=step, cut=True)
    assert text == "They save." and "".join(pieces[:-1]) == "They save."


@pytest.mark.parametrize("step", [1, 100])
def test_a_title_of_two_words_marks_a_drift(step):
    text, _, finished = sentences("LEDs save energy. Also unplug devices at night. More.", step=step, cut=False,
                                  others=["Unplug devices"])
    assert (text, finished) == ("LEDs save energy.", True)


def test_a_sentence_released_in_part_is_never_taken_back():
    f = echo_filter(Templates(), "Avoid heavy meals", whole_sentences=False)
    assert f.feed("Late dinners keep your stomach working while") == "Late dinners keep your stomach working while"
    rest = (", and you're responsible for continuing the writing of one and only one point in the overall answer to "
            "the following question")
    assert f.feed(rest) == rest  # it went on to copy the instructions, but its start is out already
    assert f.finish() == "" and not f.echoed


@pytest.mark.parametrize("step", [1, 3, 100])
def test_a_chinese_full_stop_ends_a_sentence_without_a_space_after_it(step):
    # a small model's Chinese point was held back whole until its call ended, and a budget cut dropped all of it
    text, pieces, _ = sentences("节能灯省电百分之八十。寿命长达两年半。而且它们", step=step, cut=True, title="使用节能灯")
    assert text == "节能灯省电百分之八十。寿命长达两年半。"
    assert any(pieces[:-1])  # released while the call still streamed


OTHER_POINTS = ("Sleep well", "Move daily")


@pytest.mark.parametrize("raw, whole_sentences, text", [
    ("They save.\n(2) They last.", False, "They save."),  # "(2)" decided by what follows it, not released first
    ("Bulbs cut bills by half.\n**Tip**: they last ten years.", True,  # "\n*" of bold, no bullet
     "Bulbs cut bills by half.\n**Tip**: they last ten years."),
    ("Sure! Here's point 2: LED bulbs use 80% less energy.\nThey last.", False,  # the talk goes, the text stays
     "LED bulbs use 80% less energy.\nThey last."),
    ("Sure! Here's point 2:\n2. Use LED bulbs: They last.", False, "They last."),  # a header after the talk
    ("Swap them:\n```\n1. for lamp in lamps:", False, "Swap them:\n```\n1. for lamp in lamps:\n```"),  # closed
])
def test_the_same_reply_gives_the_same_text_however_it_is_split(raw, whole_sentences, text):
    # a network read brings one event or several: the pieces' sizes must not change the point (probe 28)
    for step in (1, 3, 7, len(raw)):
        f = ExpansionFilter(2, "Use LED bulbs", strip_header=True, whole_sentences=whole_sentences,
                            other_titles=OTHER_POINTS)
        released = "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish()
        assert released == f.released == text, step


def test_a_sentence_that_came_whole_is_kept_where_its_opening_streamed_would_have_been():
    # the echo check judged a whole sentence that names another point's title an echo, though streamed in pieces
    # its opening was released before its end
    titles = ["Sleep well", "Use LED bulbs", "Walk every morning before breakfast"]
    prompt = Templates().render("expand", question=QUESTION, context=None, point={"index": 2, "title": titles[1]},
                                points=[{"index": i, "title": t} for i, t in enumerate(titles, 1)])
    raw = "They cut bills by half. So walk every morning before breakfast."
    for step in (1, len(raw)):
        f = ExpansionFilter(2, titles[1], strip_header=True, other_titles=[titles[0], titles[2]],
                            instructions=Instructions(f"{prompt.system or ''}\n{prompt.user}", (QUESTION, titles[1])))
        assert "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish() == raw, step


@pytest.mark.parametrize("own, other", [("Budget", "Budget tracking apps"), ("Rest", "Interest rates"),
                                        ("Interest rates", "Rest")])
def test_running_on_into_a_title_that_holds_this_points_own_is_cut(own, other):
    # another title was left out where this point's title was in it, letter by letter ("rest" in "interest")
    raw = f"Set a monthly spending limit.\n\n**{other}**: use one."
    assert ExpansionFilter(1, own, strip_header=True, other_titles=[other]).feed(raw) == "Set a monthly spending limit."


# -- the point's own text that looked like a header, an offer, talk or a run-on (probe 29) ------------------------

STACK = ["Docker", "Kubernetes", "Python"]


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("raw, title", [
    ("**Docker** Compose starts every service with one command.", "Docker"),  # the bold title opens the sentence
    ("**Kubernetes** (K8s) is heavy for a small team.", "Kubernetes"),
    ("**Python** 3.12 gives clearer error messages.", "Python"),
    ("Sleep-deprived drivers are as impaired as drunk ones.", "Sleep"),  # the title is part of a word
    ("Express.js is minimal and unopinionated.", "Express"),
    ("Empathy — understanding what people need — builds trust.", "Empathy"),  # a dash of an aside
    ("**Wind** — onshore and offshore — supplied 7% of the power.", "Wind"),
    ("饮食、咖啡因和酒精都会影响睡眠。", "饮食"),  # "、" lists things, it is no header's colon
])
def test_a_title_that_opens_the_points_own_sentence_is_kept(raw, title, step):
    assert clean(raw, step=step, title=title, others=[t for t in STACK if t != title]) == (raw, False)


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("raw, text", [
    ("Use LED bulbs — they last ten years.", "they last ten years."),  # a dash with no second one: the header's
    ("Use LED bulbs - they last.", "they last."),
    ("Use LED bulbs. They last.", "They last."),
])
def test_a_header_with_a_dash_or_a_full_stop_is_still_stripped(raw, text, step):
    assert clean(raw, step=step) == (text, False)


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, text", [
    # the point's own advice or samples, in the words of an offer
    ("Be specific.\nFeel free to reach out to HR if the talk stalls.", None),
    ("Make it safe.\nFeel free to ask students to write questions on sticky notes.", None),
    ('Good lines include\n* "Is there anything else?"\n* Let me know if you run into any other issues.', None),
    ("A common closing sentence is\n*I hope this helps you plan the rollout.*", None),
    ("End the email warmly.\n\n- I hope this helps you plan the rollout.", None),
    # offers of more of the answer
    ("They last.\n\nLet me know if you'd like more tips!", "They last."),
    ("They last.\nI hope this helps!", "They last."),
    ("They last.\n\nFeel free to ask if you have any questions.", "They last."),
    ("They last.\n\n*Let me know if there's anything else I can help with.*", "They last."),
    ("They last.\nI hope this helps! Let me know if you'd like a sample plan.", "They last."),  # both on one line
    ("They last.\nHope that helps, feel free to ask me more.", "They last."),
    ("They last.\nI hope this helps! Good luck.", None),  # more than the hope, and no offer: the point's
    ("They last.\n\nLet me know if you need further details!", "They last."),
    ("They last.\n\nI hope these tips help you plan your dream wedding on a budget!", "They last."),
    ("They last.\n\nWould you like some tips on recovering from burnout as well?", "They last."),
    ("They last.\n\nLet me know if you want a complete `sshd_config` example!", "They last."),
    ("They last.\n\nIf you'd like, I can share an example.", "They last."),
    ("They last.\n\nHave a wonderful trip!", "They last."),
    ("They last.\nGood luck!", "They last."),
    ("They last.\n\nLet me know if you need the other points too!", "They last."),  # (probe 183)
    ("They last.\n\nI can also expand point 3 if you'd like.", "They last."),
    ("They last.\n\nI hope this is helpful.", "They last."),
    ("They last.\n\nI can also expand the program to three more schools.", None),  # advice (review 184)
    ("They last.\n\nI can also expand on my research in the interview.", None),
    ("They last.\n\nI can elaborate on any of these if you like.", "They last."),
    ("They last.\n\nLet me know if you need to reschedule.", None),
    ("Duram mais.\nEspero que ajude!", "Duram mais."),
    ("They last.\nGood luck charms do not help.", None),  # a wish only alone on its line
    ("They last.\nHave a great trip planned? Pack light.", None),
    # a question to the reader or advice in an offer's first words, no more of the answer offered (probe 241)
    ("They last.\n\nDo you want more followers? Post at the same time every day.", None),
    ("They last.\n\nWould you like more reach? Reply to every comment within an hour.", None),
    ("They last.\n\nWould you like some privacy? Close the blinds.", None),
    ("They last.\n\nFeel free to ask if the salary range is negotiable.", None),
    ("They last.\n\nWould you like more context? Read the docs first.", None),
    ("They last.\n\nWould you like more examples?", "They last."),
    ("They last.\n\nDo you want more?", "They last."),
    ("They last.\n\nWould you like some more ideas for the menu?", "They last."),
    ("They last.\n\nWould you like any more?", "They last."),  # (review 244: the first list of objects missed them)
    ("They last.\n\nWould you like more detailed examples?", "They last."),
    ("They last.\n\nDo you want more specific advice? I can tailor it.", "They last."),
    ("They last.\n\nFeel free to ask if anything is unclear.", "They last."),
    ("They last.\n\nFeel free to ask if needed!", "They last."),
    ("They last.\n\nFeel free to ask if any discounts are available.", None),  # (review 245)
    # more of the offer after its question (review 245: kept, all through the answer)
    ("They last.\n\nWould you like more tips? 😊", "They last."),
    ("They last.\n\nWould you like more tips? Feel free to ask!", "They last."),
    ("They last.\n\nWould you like more tips? Hope this helps!", "They last."),
    ("They last.\n\nWould you like more tips? Good luck!", "They last."),
    ("They last.\n\nWould you like more tips? Happy coding!", "They last."),
    ("They last.\n\nWould you like more tips? If so, I can provide them.", "They last."),
    ("They last.\n\nWould you like more details on Node.js?", "They last."),
    ("They last.\n\nDo you want any more tips?", "They last."),
])
def test_a_last_line_is_dropped_only_as_an_offer_of_more_answer(raw, text, step):
    assert clean(raw, step=step)[0] == (raw if text is None else text)


def clean_in_both_modes(raw: str, step: int) -> str:
    """The text as an API point and as a small model's whole sentences give it: the same."""
    texts = set()
    for whole_sentences in (False, True):
        f = ExpansionFilter(2, "Use LED bulbs", strip_header=True, whole_sentences=whole_sentences)
        texts.add("".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish())
    assert len(texts) == 1, texts
    return texts.pop()


@pytest.mark.parametrize("step", [1, 2, 3, 5, 1000])
@pytest.mark.parametrize("raw, text", [
    # a hope that the answer helps, going on to the end of its one sentence, as a paragraph of its own
    ("Play longer games.\n\nI hope this helps you improve your chess skills!", "Play longer games."),
    ("Slow your breathing.\n\nI hope this helps you feel more confident on stage!", "Slow your breathing."),
    ("Label every box.\n\nHope this helps with your move. 🙂", "Label every box."),
    ("Paga primero las tarjetas.\n\n¡Espero que estos consejos te sean útiles!", "Paga primero las tarjetas."),
    ("Paga primero.\n\nEspero que estas ideas le ayuden a ahorrar.", "Paga primero."),  # the formal "you"
    ("Pague primeiro.\n\nEspero que essas dicas sejam úteis para você!", "Pague primeiro."),
    ("Payez d'abord.\n\nJ’espère que ces conseils vous seront utiles !", "Payez d'abord."),
    ("Payez d'abord.\n\nJ'espère que ces astuces t'aideront.", "Payez d'abord."),
    ("Zahle zuerst.\n\nIch hoffe, diese Tipps helfen Ihnen beim Sparen!", "Zahle zuerst."),
    ("Zahle zuerst.\n\nIch hoffe, die Tipps helfen dir weiter.", "Zahle zuerst."),
    ("Paga prima.\n\nSpero che questi consigli ti aiutino a risparmiare!", "Paga prima."),
    ("Paga prima.\n\nSpero che queste idee le siano utili.", "Paga prima."),
    ("先还高息贷款。\n\n希望这些建议能帮你早日还清债务！", "先还高息贷款。"),
    ("先还高息贷款。\n\n希望这些方法对您有用。", "先还高息贷款。"),
    ("書類を確認します。\n\nこれらのヒントがお役に立てば幸いです。", "書類を確認します。"),
    # the point's own words: a sample line (quoted, in emphasis, in a list, announced, in a code block), more than
    # one sentence, not the last line, under the line before it, or the point's only line
    ('End the email warmly.\n\n"I hope this helps you plan the rollout."', None),
    ("End the email warmly.\n\n*I hope this helps you plan the rollout.*", None),
    ("End the email warmly.\n\n> I hope this helps you plan the rollout.", None),
    ("A warm closing line:\n\nI hope this helps you plan the rollout.", None),
    ("Send this:\n\n```\nHi team,\n\nI hope this helps you plan the rollout.\n```", None),
    ("They last.\n\nI hope this helps you save money. Check the label too.", None),
    ("They last.\n\nI hope this helps you save 2.5 kWh a day.", None),  # a number's point is no sentence end
    ("They last.\n\nWill it pay? I hope this helps you decide whether it pays?", None),
    ("They last.\nI hope this helps you save on the bill.", None),
    ("Espero que estos consejos de ahorro funcionen en tu caso, porque la tasa sube.\n\nRevisa tu contrato.", None),
    ("Paga primero.\n\nEspero que estos consejos funcionen en tu caso. Además, revisa tu contrato.", None),
    ("¡Espero que estos consejos te sean útiles!", None),
    ("I hope this helps you improve your chess skills!", None),
    ("They last.\n\nGood luck charms do not help.", None),  # a wish goes only alone
    # a wish "Happy <doing>!" alone on the last line
    ("Go through your shots.\n\nHappy shooting!", "Go through your shots."),
    ("Taste as you go.\nHappy cooking! 🍳", "Taste as you go."),
    ("Read the docs.\n\n**Happy coding!**", "Read the docs."),
    ("Bring binoculars.\n\nHappy birding.", "Bring binoculars."),
    ("Happy gardening!", None),  # the point's only line
    ("Plan the evening.\n\nHappy hour starts at 5.", None),
    ("Share the work.\n\nHappy couples share chores.", None),
    ("Share the work.\n\nHappy cooking makes better food.", None),
    # found by blind set b5 (held out): a wish that goes on, an offer as a bare question, a German offer
    ("Budget for surprises.\n\nGood luck with your renovation!", "Budget for surprises."),
    ("Keep the vet's number handy.\n\nBest of luck with your new family member!", "Keep the vet's number handy."),
    ("Sign a written lease.\n\nWant me to sketch a checklist you can reuse for each tenancy?", "Sign a written lease."),
    # GPT-5's, found by blind set b11: an offer that asks first (review 125: not a line that only opens so)
    ("Budget for fees.\n\nIf you tell me which country you're leaning toward, I can outline its steps in order.",
     "Budget for fees."),
    ("Say this to your teen.\n\nIf you tell me the truth, you won't be punished.", None),
    ("Speak to them.\n\nIf you tell me the truth, I can help — say this to your teen and mean it.", None),
    ("Use this script.\n\nIf you let me know by Friday, I can book the room.", None),
    ("Budget.\n\nIf you tell me your budget, I can suggest three plans. Compare them with your bank's.", None),
    ("Vergleiche die Programme.\n\nWenn du willst, kann ich dir die wichtigsten kurz vergleichen.",
     "Vergleiche die Programme."),
    ("They last.\n\nGood luck with exams: sleep well the night before. Eat breakfast.", None),  # two sentences
    # wishes outside English, alone on the last line (blind set b7 I04: "Boa viagem!")
    ("Muitos museus têm entrada gratuita.\n\nBoa viagem!", "Muitos museus têm entrada gratuita."),
    ("Revisa el contrato.\n\n¡Mucha suerte!", "Revisa el contrato."),
    ("Vérifiez le contrat.\n\nBon courage !", "Vérifiez le contrat."),
    # found by blind set b9: a wish of a good time that goes on, a Spanish wish that does
    ("Book the ryokan early.\n\nHave a wonderful time exploring Kyoto!", "Book the ryokan early."),
    ("Repasa las fórmulas.\n\n¡Mucha suerte con el examen de mañana!", "Repasa las fórmulas."),
    ("Pack light.\n\nHave a wonderful time with fewer bags, as I said.", None),  # not one exclaimed sentence
    ("Pack water.\n\nHave a great time at the beach, but reapply sunscreen every two hours!", None),  # advice
    ("Repasa.\n\n¡Mucha suerte con el examen, y repasa las fórmulas la noche antes!", None),
    ("Charge it nightly.\n\nGood luck with your e-bike!", "Charge it nightly."),  # not "e" as "and" (review 104)
    ("Pack light.\n\nHave a wonderful time, then!", "Pack light."),
    # wishes joined by "and" are one closing (blind set b9: Portuguese and Italian)
    ("Pack light.\n\nSafe travels and good luck!", "Pack light."),
    ("Taste as you go.\n\nGood luck and happy cooking! 🍳", "Taste as you go."),
    ("Prova la salsa.\n\nBuon lavoro e buona fortuna!", "Prova la salsa."),
    ("Prove o molho.\n\nBoa sorte e bom apetite!", "Prove o molho."),
    ("Revisa el menú.\n\n¡Buen viaje y mucha suerte!", "Revisa el menú."),
    ("Pack light.\n\nGood luck and pack a spare charger!", None),  # advice joined to a wish
    # wishes that go on, in Portuguese, French, German and Italian (blind set b10: "Boa sorte na entrevista!")
    ("Chegue cedo.\n\nBoa sorte com a mudança!", "Chegue cedo."),
    ("Arrivez tôt.\n\nBonne chance pour votre examen !", "Arrivez tôt."),
    ("Komm früh.\n\nViel Erfolg bei der Prüfung!", "Komm früh."),
    ("Arriva presto.\n\nIn bocca al lupo per il colloquio!", "Arriva presto."),
    ("Chegue cedo.\n\nBoa sorte na prova, mas revise tudo antes!", None),  # advice joined
    ("Arrivez tôt.\n\nBonne chance pour l'examen, mais relisez vos notes !", None),
    ("Arrivez tôt.\n\nBonne chance pour ma soutenance !", "Arrivez tôt."),  # "ma": my (review 106)
    ("Arrivez tôt.\n\nBonne chance pour l'examen et révisez bien les formules !", None),  # advice (review 108)
    ("Komm früh.\n\nViel Erfolg bei der Prüfung und lerne die Formeln!", None),
    ("Write daily.\n\nGood luck with your MA thesis!", "Write daily."),
    ("Pack light.\n\nGood luck and safe travels and happy cooking!", "Pack light."),  # three wishes
    ("Komm früh.\n\nViel Glück und gute Reise!", "Komm früh."),
    ("Arrivez tôt.\n\nBonne chance et bon courage !", "Arrivez tôt."),
    ("Pack light.\n\nGood luck & safe travels!", "Pack light."),
    ("Komm früh.\n\nViel Glück mit dem Umzug, aber miete früh einen Transporter!", None),
    ("Pack light.\n\nSafe travels and good luck with the visa, but apply early!", None),
    # a line announced by a colon is the point's own, whatever white space ends the colon's line (review 102)
    ("They help.\nFor example:\r\nLet me know if you need more!", None),
    ("They help.\nFor example:\u00a0\n\nLet me know if you need more!", None),
    ("Prüfe den Vertrag.\n\nViel Erfolg!", "Prüfe den Vertrag."),
    ("Controlla il contratto.\n\nIn bocca al lupo!", "Controlla il contratto."),
    ("先检查合同。\n\n祝你好运！", "先检查合同。"),
    ("契約書を確認しましょう。\n\n頑張ってください！", "契約書を確認しましょう。"),
    ("Prüfe den Vertrag.\n\nViel Erfolg hängt von der Planung ab.", None),  # a sentence of the point's own
    ("Verifique o contrato.\n\nBoa sorte não basta: planeje cada etapa.", None),
    ("Boa viagem!", None),  # the point's only line
    # found by blind set b11 (held out): a sign-off joined to a wish, "Wishing you ...", a Swedish wish
    ("Speak to them.\n\nGood luck, and enjoy the celebration!", "Speak to them."),
    ("Speak to them.\n\nGood luck and have fun tonight!", "Speak to them."),
    ("Try a few shifts.\n\nWishing you a fulfilling retirement! 🌱", "Try a few shifts."),
    # a card's own line (review 127)
    ("Close the card with their next step.\n\nWishing you well in your new role at Acme!", None),
    ("End on their future together.\n\nWishing you both a lifetime of happiness!", None),
    ("Öva högt.\n\nLycka till med föredraget!", "Öva högt."),
    ("Öva högt.\n\nLycka till!", "Öva högt."),
    # found by blind set b12 (held out): a Russian wish that goes on, Polish
    ("Бегайте медленно.\n\nУдачи на первом полумарафоне! 🏃", "Бегайте медленно."),
    ("Koś trawę wysoko.\n\nMam nadzieję, że te wskazówki pomogą Ci cieszyć się pięknym trawnikiem!",
     "Koś trawę wysoko."),
    ("Koś trawę wysoko.\n\nPowodzenia!", "Koś trawę wysoko."),
    ("Koś trawę wysoko.\n\nTrzymam kciuki!", "Koś trawę wysoko."),
    ("Бегайте медленно.\n\nУдачи на забеге, но не забудьте попить воды!", None),
    # the point's own (review 128): advice joined to a wish, statements that open with a wish's words, offers' kin
    ("Бегайте медленно.\n\nУдачи на собеседовании, а главное выспитесь накануне!", None),
    ("Ganti lampu.\n\nSelamat berlibur di Bali, tapi matikan semua lampu sebelum pergi!", None),
    ("Ganti lampu.\n\nSelamat menikmati kopi Anda dan jangan lupa membersihkan mesinnya!", None),
    ("Wymień żarówki.\n\nPowodzenia w biznesie nie da się kupić!", None),
    ("Wymień żarówki.\n\nPowodzenia przy remoncie, a przede wszystkim zadbaj o wentylację!", None),
    ("Wymień żarówki.\n\nDaj znać, jeśli napotkasz problemy.", None),
    ("Wymień żarówki.\n\nChętnie pomogę sąsiadom — to buduje relacje.", None),
    ("Замените лампы.\n\nУспехов на работе добиваются те, кто планирует!", None),
    ("Switch to LEDs.\n\nGood luck with your renovation, I hope it goes well!", "Switch to LEDs."),
    ("Usa lampadine LED.\n\nBuona fortuna con i tuoi esami!", "Usa lampadine LED."),
    ("Switch to LEDs.\n\nHave a great time at the party, I suggest warm 2700K bulbs!", None),  # review 129
    ("Cambia las bombillas.\n\n¡Mucha suerte con las bombillas que dan más luz!", "Cambia las bombillas."),
    ("เปิดบัญชีแยก\n\nหวังว่าจะเป็นประโยชน์นะคะ! 😊", "เปิดบัญชีแยก"),
    ("เปิดบัญชีแยก\n\nขอให้โชคดีค่ะ!", "เปิดบัญชีแยก"),
    ("เปิดบัญชีแยก\n\nหากต้องการให้หลอดไฟใช้งานได้นาน ควรเลือกหลอด LED ที่มีคุณภาพ", None),  # advice (review 126)
    # (review 126: a cheer at a Korean or Japanese sentence's end, tried as a closing, dropped the point's own)
    ("LED를 씁니다.\n\n정부에서도 LED 전환을 적극적으로 응원합니다.", None),
    ("LED電球は長持ちします。\n\n地元の人々も選手を応援しています。", None),
    ("Speak to them.\n\nEnjoy the celebration!", None),  # alone, "Enjoy ..." may be the point's advice
    ("Speak to them.\n\nGood luck, and enjoy the cake, but cut it early!", None),  # advice joined
    ("Try a few shifts.\n\nWishing you were younger does not help.", None),  # a sentence of the point's own
    # review 125: "&" joins a sign-off too; "Wishing you were ...!" and Swedish advice joined to a wish are the point's
    ("They last.\n\nGood luck & have fun!", "They last."),
    ("They last.\n\nGood luck & enjoy the show!", "They last."),
    ("It passes.\n\nWishing you were back home is completely normal!", None),
    ("Sov mer.\n\nLycka till på provet, men glöm inte att äta frukost!", None),
    ("Sov mer.\n\nLycka till med provet och glöm inte att äta frukost!", None),
    ("Sov mer.\n\nLycka till med provet så länge du sover gott!", None),
    ("Sov mer.\n\nVill du att jag ska lita på dig, måste du säga sanningen.", None),
])
def test_a_last_line_that_only_hopes_it_helps_or_wishes_well_is_dropped(raw, text, step):
    assert clean_in_both_modes(raw, step) == (raw if text is None else text)


@pytest.mark.parametrize("raw, settled, final", [
    # held while it may still become a hope or a wish, released once it cannot; kept if the call ends before it is
    ("They last.\n\nI hope this helps you improve", "They last.", None),
    ("They last.\n\nI hope this helps you improve! And", None, None),
    ("They last.\n\nI hope this helps you save 2.", "They last.", "They last."),
    ("They last.\n\nI hope this helps you save 2.5", None, None),
    ("They last.\nI hope this helps you improve", None, None),
    ("They last.\n\n¡Espero que estos consejos te", "They last.", None),
    ("They last.\n\nHappy shoot", "They last.", None),
    ("They last.\n\nHappy hour s", None, None),
    ("They last.\n\nBuon viaggio e buon app", "They last.", None),
    ("They last.\n\nSafe travels an", "They last.", None),
    ("They last.\n\nViel Glück u", "They last.", None),
    ("They last.\n\nGood luck and pack", None, None),
    ("They last.\n\nGood luck, and enj", "They last.", None),
    ("They last.\n\nGood luck, and enjoy the celebr", "They last.", None),
    ("They last.\n\nGood luck and have f", "They last.", None),
    ("They last.\n\nGood luck & enj", "They last.", None),
    ("They last.\n\nIf you te", "They last.", None),
    ("They last.\n\nIf you tell me your budget, I can suggest", "They last.", None),
    ("They last.\n\nIf you tell me your budget, I can suggest plans. And", None, None),
])
def test_a_hope_or_a_wish_is_held_back_only_while_it_may_still_become_one(raw, settled, final):
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=True)
    assert f.feed(raw) == (raw if settled is None else settled)
    f.finish()
    assert f.released == (raw if final is None else final)


@pytest.mark.parametrize("step", [1, 2, 5, 1000])
def test_a_line_of_a_code_block_the_call_ended_in_is_no_offer(step):
    raw = "Run it:\n\n```\nmake\nLet me know if you'd like"
    assert clean(raw, step=step)[0] == raw + "\n```"


LANGUAGES = ["Python", "JavaScript", "Performance"]


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, text", [
    # lines that name another point's title are the point's own text: announced, a comparison, a plain line with a
    # one-word title or in a paragraph, a dash inside words
    ("V8 is faster.\nPython: slower, but fine.", None),
    ("They compare like this:\n**Python:** slower, but fine.", None),
    ("They compare like this:\n\nPython: slower.", None),
    ("V8 is faster.\n\n**Python:** slower.\n**JavaScript:** faster.", None),  # two in a row: a comparison
    ("V8 is faster.\n\n- Python: slower.\n- JavaScript: faster.", None),
    ("V8 wins.\nJavaScript—thanks to its JIT—beats CPython.", None),
    ("V8 wins.\n\nJavaScript—thanks to its JIT—beats CPython.", None),
    # another point's header: the reply ran on
    ("V8 is faster.\n\n**Python:** slower.\n\n**JavaScript:** faster.", "V8 is faster."),  # not in a row
    ("V8 is faster.\n**Python:** slower.\nIt has a GIL.", "V8 is faster."),
    ("V8 is faster.\n\nJavaScript\nIt is fast.", "V8 is faster."),  # a one-word title alone on its line
    ("V8 is faster.\n\n**JavaScript** — it is fast.", "V8 is faster."),
])
def test_a_line_that_names_another_point_ends_the_point_only_as_its_header(raw, text, step):
    assert clean(raw, step=step, index=3, title="Performance", others=LANGUAGES[:2]) == (
        (raw, False) if text is None else (text, True))


WORKOUT = ["Cardio sessions", "Strength training", "Progression"]


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, text", [
    ("A sample week looks like this.\n- Cardio sessions: Monday\n- Strength training: Tuesday", None),
    ("Mix it up.\n\n- Cardio sessions: Monday\n- Strength training: Tuesday", None),  # a comparison
    ("Whisk the batter.\nIngredients: 200 g flour, 2 eggs.", None),
    ("Add 5% a week.\n\n- Strength training: lift twice a week.\n\nIt builds muscle.", "Add 5% a week."),
    ("Add 5% a week.\n\nStrength training: lift twice a week.", "Add 5% a week."),
])
def test_the_points_own_list_under_other_titles_is_kept(raw, text, step):
    others = WORKOUT[:2] + ["Ingredients"]
    assert clean(raw, step=step, index=3, title="Progression", others=others) == (
        (raw, False) if text is None else (text, True))


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw", [
    "Fence the block with three backticks.\n~~~ works as well.",
    "Fence the block with three backticks.\n``` on its own line opens it.",
])
def test_a_prose_line_that_opens_with_a_fence_mark_is_no_code_block(raw, step):
    assert clean(raw, step=step) == (raw, False)


def test_a_code_block_with_its_language_is_closed_with_the_bare_fence():
    assert clean("Run:\n```python\nprint(1)")[0] == "Run:\n```python\nprint(1)\n```"


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, text", [
    ("Here is point 2 of the manifesto: working software over documentation.\nTeams ship.", None),
    ("Here's the detail on the point system:\n- 10 points per dollar\n- 5 at Residence Inn", None),
    ("Sure! Here's the elaboration on this point:\nThey last.", "They last."),
    ("I'll continue with point 2.\nThey last.", "They last."),
    ("Okay, here's point 2 expanded:\n\nThey last.", "They last."),  # Gemma's (blind set b5)
    ("Here's point 2 in more detail:\nThey last.", "They last."),
    ("Here's point 2 expanded upon by the committee:\nThey last.", None),
    # Gemma's and Llama's, found by blind set b9
    ("Okay, let's expand on point 2: Use LED bulbs.\n\nThey last.", "They last."),
    ("Okay, here's an expansion of point 2, focusing on running costs:\n\nThey last.", "They last."),
    ("Now, expanding on point 2:\n\n**Use LED Bulbs**\n\nThey last.", "They last."),
    ("Let's be honest: bulbs are cheap.\nThey last.", None),
    ("Now is the time to switch.\nThey last.", None),
    ("Expanding on that, LEDs run cool.\nThey last.", None),
    ("Let's compare this with point 1:\n\nThey last longer.", None),  # another point named (review 103)
    ("Let's go back to point 1: bulbs are cheap, but drafts cost more.", None),
    # found by blind set b11 (held out): Gemma's "kept short", a Malay and a Swedish opening
    ("Okay, here's the continuation of point 2, kept short:\n\nThey last.", "They last."),
    ("Berikut adalah sambungan untuk titik 2:\n\nMereka tahan lama.", "Mereka tahan lama."),
    ("Mari kita hitung jarak dari titik 1 ke titik 2.\n\nGunakan rumus Pythagoras.", None),  # review 125
    ("Mari kita lihat Perkara 153.\n\nPerkara ini menjamin hak istimewa.", None),
    ("Visst! Här är punkt 2 utvecklad:\n\nDe håller länge.", "De håller länge."),
    ("Oto kontynuacja punktu 2:\n\nŻarówki LED są trwałe.", "Żarówki LED są trwałe."),
    ("Porównajmy to z punktem 1, gdzie koszt był wyższy.\n\nŻarówki LED są trwałe.", None),
    ("แน่นอนค่ะ นี่คือส่วนขยายของข้อ 2:\n\nหลอดไฟ LED ใช้ได้นาน", "หลอดไฟ LED ใช้ได้นาน"),
    ("ข้อมูล 2 ชุดนี้สำคัญ:\n\nหลอดไฟ LED ใช้ได้นาน", None),  # "data", not "item"
    ("Here's point 2, kept short by the committee:\nThey last.", None),
    # other acknowledgements and labels (probe 183: each was kept in the answer)
    ("Sure thing! Here's point 2:\nThey last.", "They last."),
    ("No problem! Here is what I'd write for point 2:\nThey last.", "They last."),
    ("As requested, here's point 2:\nThey last.", "They last."),
    ("Good question!\nThey last.", "They last."),
    ("Continuing the routine matters most at this point.\n\nThey last.", None),  # (review 186)
    ("Here's point 2 continued:\n\nThey last.", "They last."),
    ('Here is point 2 of "Common Sense": independence is inevitable.', None),  # (review 184)
    ("No problem is too small for an electrician.\nThey last.", None),  # the words as a sentence's own
    ("Point 2 of the code says so.\nThey last.", None),
    ("Continuing education helps electricians.\nThey last.", None),
])
def test_a_first_line_is_talk_about_the_task_only_where_it_ends_naming_the_point(raw, text, step):
    assert clean(raw, step=step)[0] == (raw if text is None else text)


@pytest.mark.parametrize("word", ["Sure! ", "okay ", "Okay, okay, ", "Visst! ", "Sure!\n", "แน่นอนค่ะ!\n",
                                  "承知いたしました。\n"])
def test_a_model_stuck_on_an_acknowledgement_is_no_talk_past_a_talk_lines_length(word):
    # "Sure! Sure! ..." was read again from its start at every piece while it went on: seconds of the event loop for
    # 10,000 characters, a RecursionError on "Sure!\nSure!\n..." (reviews 125, 126); past a talk line's length it is
    # the point's text (at most a talk line's worth before it is taken for talk), the same at every piece size
    raw = word * (2000 // len(word))
    texts = {clean(raw, step=step)[0] for step in (1, 7, 100_000)}
    assert len(texts) == 1
    text = texts.pop()
    assert raw.rstrip().endswith(text) and len(text) > len(raw) - 160


@pytest.mark.parametrize("raw, settled", [
    ("Here's why: a fixed wake time", "Here's why: a fixed wake time"),  # text after a colon that names no point
    ("Sure, LEDs last", "Sure, LEDs last"),  # no talk about the task can start so
    ("OK so the", "OK so the"),
    ("Sure! Here", ""),  # may still be "Sure! Here's point 2:"
])
def test_a_one_line_point_is_streamed_once_its_start_cannot_be_talk_about_the_task(raw, settled):
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=True)
    assert f.feed(raw) == settled


@pytest.mark.parametrize("raw, text", [
    ("A planner shows the week.\nStep 3: Block out your calendar.", "A planner shows the week."),
    ("A planner shows the week.\n\n**3.** Time-blocking: Give every hour a job.", "A planner shows the week."),
    ("A planner shows the week.\n\nPoint 3: Time-blocking\nGive every hour a job.", "A planner shows the week."),
    ("A planner shows the week.\n- Point 4: Limit distractions\nSilence it.", "A planner shows the week."),
    ("A planner shows the week. _3. Limit distractions_: silence it.", "A planner shows the week."),
])
def test_a_run_on_is_cut_at_the_same_place_however_the_reply_is_split(raw, text):
    titles = ["Prioritize tasks", "Time-blocking", "Limit distractions"]
    for step in (1, 2, 3, 7, len(raw)):
        assert clean(raw, step=step, title="Use a planner", others=titles) == (text, True), step


@pytest.mark.parametrize("step", [1, 4, 100])
def test_a_condition_in_the_questions_words_is_kept(step):
    raw = "If you want to learn Python first, aim for data science roles."
    assert clean(raw, step=step, title="Career goals", question="Should I learn Python or JavaScript first?") == (
        raw, False)


def test_a_whole_sentence_is_judged_by_its_openings_of_whole_words_as_a_stream_is():
    # streamed, "Rest Use a planner" is released while "**3.**" is held (its last word taken as whole); judged whole,
    # the openings were read with their last word cut ("Rest Use a" as "Rest Use"), and the sentence was dropped
    titles = ["Prioritize tasks", "Use a planner", "Time-blocking", "Rest"]
    prompt = Templates().render("expand", question=RESTATED, context=None, point={"index": 2, "title": titles[1]},
                                points=[{"index": i, "title": t} for i, t in enumerate(titles, 1)])
    raw = "Rest Use a planner**3.** "
    for step in (1, len(raw)):
        f = ExpansionFilter(2, titles[1], strip_header=True, other_titles=[titles[0], *titles[2:]],
                            instructions=Instructions(f"{prompt.system or ''}\n{prompt.user}", (RESTATED, titles[1])))
        assert "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish() == raw.strip(), step


@pytest.mark.parametrize("raw, text", [
    # a block opened with a language the fence pattern did not take was not seen: a stray fence was added, and a
    # numbered line in it cut the point (probe 31)
    ("Wrap it:\n```c#\nusing var r = new StreamReader(p);\n```\nIt reads lines.",
     "Wrap it:\n```c#\nusing var r = new StreamReader(p);\n```\nIt reads lines."),
    ("Output:\n```c#\n// Output:\n3. done\n```\nThat is all.", "Output:\n```c#\n// Output:\n3. done\n```\nThat is all."),
    ('See:\n```python title="x.py"\nprint(1)\n```\nDone.', 'See:\n```python title="x.py"\nprint(1)\n```\nDone.'),
    ("See:\n``` python\nprint(1)\n```\nDone.", "See:\n``` python\nprint(1)\n```\nDone."),
    # "Point 3:" at a line's start is the next point, whatever follows it
    ("Use warm stock.\n\nPoint 3: Stir constantly to release starch.", "Use warm stock."),
])
def test_code_blocks_with_any_language_and_point_labels(raw, text):
    for step in (1, 5, len(raw)):
        f = ExpansionFilter(2, "Use LED bulbs", strip_header=True, other_titles=OTHER_POINTS)
        assert "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish() == text, step


def test_a_dash_aside_after_another_points_title_is_no_header():
    # "Settlement talks – often court-ordered mediation – can start ..." is a sentence, not point 3 (probe 31)
    raw = "Each side must disclose documents.\n\nSettlement talks – often court-ordered – can start at any time."
    for step in (1, 4, len(raw)):
        f = ExpansionFilter(2, "Discovery", strip_header=True, other_titles=["Settlement talks", "Trial"])
        assert "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish() == raw, step


@pytest.mark.parametrize("raw, text", [
    # chat habits the acceptance run (probe 32) found left in a point
    ("**Use LED bulbs.** They last.", "They last."),  # a bold header that ends in a full stop
    ("Of course! Continuing with point 2:\nThey last.", "They last."),
    ("They last.\n\nHope this helps!", "They last."),
    ("They last.\n\nLet me know if you want more tips!", "They last."),
    ("They last.\n\nIs there anything else you'd like to know?", "They last."),
    ("They last.\n\nHope this works for your budget.", "They last.\n\nHope this works for your budget."),  # no offer
])
def test_more_chat_habits_are_left_out(raw, text):
    for step in (1, 4, len(raw)):
        f = ExpansionFilter(2, "Use LED bulbs", strip_header=True, other_titles=OTHER_POINTS)
        assert "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish() == text, step


@pytest.mark.parametrize("step", [1, 4, 100])
@pytest.mark.parametrize("raw, text", [
    # habits a blind test of realistic replies found: an introduction the point's own header follows lost the point
    # (the header read as a run-on into it), an introduction of "the expanded point", an acknowledgement in the line
    ("Here is the expanded point:\n\n**2. Use LED bulbs**\n\nThey last.", "They last."),
    ("Here is what I wrote:\n\n2. Use LED bulbs: They last.", "They last."),
    ("Here is the expanded point:\n\nThey last.", "They last."),
    ("Sure! Here's a brief expansion:\n\nThey last.", "They last."),
    ("Certainly! They last ten years.", "They last ten years."),
    ("Certainly!\n\nHere's point 2:\nThey last.", "They last."),
    # the point's own words stay
    ("Here is what to buy:\n- LED bulbs\n- timers", "Here is what to buy:\n- LED bulbs\n- timers"),
    ("Here's our plan for expansion:\n- two stores", "Here's our plan for expansion:\n- two stores"),
    ("Absolutely! They pay off.", "Absolutely! They pay off."),  # a judgement, not an acknowledgement
    ("Certainly!", "Certainly!"),  # the whole reply
])
def test_an_introduction_before_the_points_own_header_is_talk(raw, text, step):
    assert clean(raw, step=step, others=OTHERS) == (text, False)


# -- chat talk in other languages (a blind test of realistic replies found it left in the point) ---------------------


@pytest.mark.parametrize("step", [1, 3, 1000])
@pytest.mark.parametrize("raw, text", [
    # Spanish
    ("¡Claro! Aquí tienes el punto 1:\n\nVisita el barrio de noche: el ruido no sale en el anuncio.",
     "Visita el barrio de noche: el ruido no sale en el anuncio."),
    ("Por supuesto. A continuación, desarrollo el punto 2 (Ahorro energético):\nLas bombillas LED gastan menos.",
     "Las bombillas LED gastan menos."),
    ("Claro, aquí tienes la continuación:\n\nLas bombillas LED gastan menos.", "Las bombillas LED gastan menos."),
    ("¡Claro! Aquí tienes el punto 2: las bombillas LED gastan menos.", "las bombillas LED gastan menos."),
    # Portuguese
    ("Claro! Aqui está o ponto 2 expandido:\n\nLâmpadas LED gastam menos.", "Lâmpadas LED gastam menos."),
    ("Com certeza! Vou continuar com o ponto 2.\nLâmpadas LED gastam menos.", "Lâmpadas LED gastam menos."),
    ("Segue a continuação:\n\nLâmpadas LED gastam menos.", "Lâmpadas LED gastam menos."),
    # French
    ("Bien sûr ! Voici le point 1 :\n\nLes ampoules LED consomment moins.", "Les ampoules LED consomment moins."),
    ("D'accord, je continue avec le point 2 (Budget) :\nLes ampoules LED consomment moins.",
     "Les ampoules LED consomment moins."),
    ("Voici la suite :\n\nLes ampoules LED consomment moins.", "Les ampoules LED consomment moins."),
    # German
    ("Gerne! Hier ist Punkt 2:\n\nLED-Lampen sparen Strom.", "LED-Lampen sparen Strom."),
    ("Natürlich. Ich fahre mit Punkt 2 fort.\n\nLED-Lampen sparen Strom.", "LED-Lampen sparen Strom."),
    ("Klar! Hier ist die Fortsetzung:\nLED-Lampen sparen Strom.", "LED-Lampen sparen Strom."),
    # Italian
    ("Certo! Ecco il punto 2:\n\nLe lampadine LED consumano meno.", "Le lampadine LED consumano meno."),
    ("Volentieri! Proseguo con il punto 2 in dettaglio.\nLe lampadine LED consumano meno.",
     "Le lampadine LED consumano meno."),
    ("Ecco la continuazione:\n\nLe lampadine LED consumano meno.", "Le lampadine LED consumano meno."),
    # Chinese
    ("好的，下面是第2点的内容：\n\n节能灯更省电。", "节能灯更省电。"),
    ("当然！以下是第二点的详细说明：\n节能灯更省电。", "节能灯更省电。"),
    ("好的，我来继续写第2点。\n\n节能灯更省电。", "节能灯更省电。"),
    ("好的，下面是第2点：节能灯更省电。", "节能灯更省电。"),  # the talk before a full-width colon
    # Japanese
    ("もちろんです。ポイント3について説明します。\n\nLED電球は電気代を抑えます。", "LED電球は電気代を抑えます。"),
    ("承知しました。以下は、ポイント2の詳細です。\nLED電球は電気代を抑えます。", "LED電球は電気代を抑えます。"),
    ("それでは、第2点について詳しく解説します。\n\nLED電球は電気代を抑えます。", "LED電球は電気代を抑えます。"),
    # found by a README audit (probe 40)
    ("はい、こちらがポイント2です：\n\nLED電球は電気代を抑えます。", "LED電球は電気代を抑えます。"),
    ("はい、ポイント2は次のとおりです：\nLED電球は電気代を抑えます。", "LED電球は電気代を抑えます。"),
    ("承知しました。以下は第2点です：\nLED電球は電気代を抑えます。", "LED電球は電気代を抑えます。"),
    ("かしこまりました。2番目のポイントです。\nLED電球は電気代を抑えます。", "LED電球は電気代を抑えます。"),
    ("ポイント2は照明です。\nLED電球は電気代を抑えます。", "ポイント2は照明です。\nLED電球は電気代を抑えます。"),  # its own
    ("ポイント2は次の三つです：暗さ、静けさ。", "ポイント2は次の三つです：暗さ、静けさ。"),
    # an acknowledgement before the point's own text
    ("¡Claro! Las bombillas LED gastan menos.", "Las bombillas LED gastan menos."),
    ("かしこまりました。LED電球は電気代を抑えます。", "LED電球は電気代を抑えます。"),
])
def test_a_first_line_of_talk_in_another_language_is_dropped(raw, text, step):
    assert clean(raw, step=step, others=OTHERS) == (text, False)


@pytest.mark.parametrize("step", [1, 3, 1000])
@pytest.mark.parametrize("last", [
    # Spanish
    "¿Quieres que te dé una lista de comprobación para la visita?",
    "Si quieres, puedo prepararte un presupuesto detallado.",
    "Espero que esto te ayude. ¿Quieres que profundice en alguno de los puntos?",
    # Portuguese
    "Quer que eu monte um cronograma de estudos?",
    "Espero ter ajudado!",
    # French
    "N'hésitez pas si vous voulez des idées de restaurants adaptés aux enfants !",
    "Voulez-vous que je vous propose un itinéraire sur trois jours ?",
    "J’espère que cela vous aide !",
    # German
    "Möchtest du, dass ich die Kosten für dein Haus grob durchrechne?",
    "Ich hoffe, das hilft dir weiter! Bei Fragen zu einzelnen Punkten melde dich gern.",
    "Soll ich dir eine Checkliste für die Besichtigung erstellen?",
    "Wenn du möchtest, kann ich dir einen Wochenplan schreiben.",
    # Italian
    "Vuoi che ti prepari un itinerario di tre giorni?",
    "Spero che ti sia utile!",
    "Fammi sapere se hai altre domande.",
    # Chinese
    "希望这些建议对你有帮助！",
    "如果你需要，我可以帮你列一个购物清单。",
    "希望对您有所帮助！如有其他问题，欢迎随时提问。",
    # Japanese
    "他にご不明な点があればお気軽にどうぞ。",
    "参考になれば幸いです。",
    "もっと詳しく説明しましょうか？",
    "**¿Quieres que te prepare un menú semanal?**",  # in emphasis
])
def test_a_last_line_of_talk_in_another_language_is_dropped(last, step):
    assert clean("LED bulbs last.\n\n" + last, step=step) == ("LED bulbs last.", False)


@pytest.mark.parametrize("step", [1, 3, 1000])
@pytest.mark.parametrize("raw", [
    # first lines that start as talk does but say something of the point's own
    "Aquí tienes un plan de desarrollo:\n- medir\n- cortar",
    "Por supuesto, el punto 2 del contrato es clave.\nLéelo dos veces.",
    "Segue uma lista do que levar:\n- água\n- protetor solar",
    "Claro que o ponto 2 do contrato importa.\nLeia duas vezes.",
    "Voici ce que dit le point 2 du contrat : rien sur le préavis.",
    "Voici pourquoi ce point compte.\nLe préavis est court.",
    "Hier ist der Haken: LED-Lampen kosten mehr.\nSie halten aber länger.",
    "Hier sind drei Punkte, die du beachten solltest:\n- Miete\n- Kaution",
    "Ecco perché il punto 2 conta: risparmi subito.",
    "Di seguito trovi una tabella:\n| lampadina | watt |",
    "以下是几个常见误区：\n- 只看价格",
    "这是第2点提到的预算表：\n房租 3000 元",
    "ポイント1：朝は同じ時間に起きる。\n夜更かしを避ける。",  # the point's own list
    "では、具体的な方法を見ていきましょう。\n照明をLEDに替えます。",
    "Natürlich hängt das vom Budget ab.\nRechne vorher.",  # no acknowledgement: no "!"
    "好的，节能灯更省电。\n也更耐用。",
    # last lines in the words of an offer or a hope that are the point's own advice
    "Compara precios.\nNo dudes en pedir un descuento.",
    "Compra en temporada baja.\n¿Quieres que te cueste menos? Compra al por mayor.",
    "Pesquise antes.\nFique à vontade para perguntar ao corretor sobre taxas.",
    "Troque as lâmpadas.\nEspero que isso ajude a reduzir a conta.",  # a sample line: more than the hope
    "Comparez les offres.\nN'hésitez pas à négocier.",
    "Restez ferme.\nN'hésitez pas si le vendeur insiste : partez.",
    "Kündige schriftlich.\nMelde dich beim Vermieter.",
    "Vergleiche Angebote.\nIch hoffe, das hilft dir beim Sparen.",
    "Confronta i prezzi.\nNon esitare a chiedere uno sconto.",
    "Scegli bene.\nVuoi che duri di più? Scegli lampadine LED.",
    "先看利率。\n如果你需要贷款，可以先问银行。",
    "搬家前打扫。\n希望你的新家温馨舒适！",
    "書類を確認します。\nご不明な点があれば、市役所の窓口に問い合わせましょう。",
    "無理をしないこと。\nお気軽に専門家に相談しましょう。",
])
def test_the_points_own_words_in_another_language_are_kept(raw, step):
    assert clean(raw, step=step, others=OTHERS) == (raw, False)


@pytest.mark.parametrize("raw, settled", [
    # held while it may still become talk, released as soon as it cannot
    ("Gerne! Hier", ""),
    ("Gerne, das", "Gerne, das"),
    ("¡Claro! Aquí", ""),
    ("¡Claro! Las", "Las"),
    ("好的，下面", ""),  # no spaces between the words
    ("好的，节能", "好的，节能"),
    ("ポイント3", ""),  # may be "ポイント3について説明します。"
    ("ポイント3は", ""),  # may be "ポイント3は次のとおりです："
    ("ポイント3は照", "ポイント3は照"),
    ("LED bulbs last.\nNo dudes en p", "LED bulbs last."),  # may be "No dudes en preguntarme"
    ("LED bulbs last.\nNo dudes en pe", "LED bulbs last.\nNo dudes en pe"),
    ("LED bulbs last.\nN'hésitez pas à ", "LED bulbs last."),
    ("LED bulbs last.\nN'hésitez pas à n", "LED bulbs last.\nN'hésitez pas à n"),
    ("LED bulbs last.\nIch hoffe, das hilft dir weiter! Bei Fragen zu", "LED bulbs last."),
    ("LED bulbs last.\nIch hoffe, das hilft dir weiter! Bei Fragen an",
     "LED bulbs last.\nIch hoffe, das hilft dir weiter! Bei Fragen an"),
    ("LED bulbs last.\n如果你需要", "LED bulbs last."),
    ("LED bulbs last.\n如果你需要贷", "LED bulbs last.\n如果你需要贷"),
])
def test_talk_in_another_language_is_held_back_only_while_it_may_still_become_talk(raw, settled):
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=True)
    assert f.feed(raw) == settled


# -- chat talk in Korean, Turkish, Russian, Indonesian and Vietnamese, and more Japanese (blind sets b5, b6) ----------


@pytest.mark.parametrize("step", [1, 2, 3, 5, 1000])
@pytest.mark.parametrize("raw, text", [
    # Japanese (b6 I07, Gemini): the point named mid-line, "is as follows"; acknowledgements one after another
    ("はい、承知いたしました。ポイント3の内容は以下の通りです。\n\n練習ノートを使って家庭での練習内容を共有しましょう。",
     "練習ノートを使って家庭での練習内容を共有しましょう。"),
    ("ポイント2の詳細は次のとおりです：\nLED電球は電気代を抑えます。", "LED電球は電気代を抑えます。"),
    ("はい、承知いたしました。LED電球は電気代を抑えます。", "LED電球は電気代を抑えます。"),
    ("はい、3つ目のポイントについて説明します。\n\nLED電球は電気代を抑えます。", "LED電球は電気代を抑えます。"),
    ("Okay, sure! They last.", "They last."),
    # Korean
    ("물론입니다! 2번 항목에 대해 자세히 설명드리겠습니다.\n\nLED 전구는 오래갑니다.", "LED 전구는 오래갑니다."),
    ("네, 알겠습니다. 포인트 2의 내용은 다음과 같습니다:\nLED 전구는 오래갑니다.", "LED 전구는 오래갑니다."),
    ("다음은 2번 항목입니다:\n\nLED 전구는 오래갑니다.", "LED 전구는 오래갑니다."),
    ("물론입니다! LED 전구는 오래갑니다.", "LED 전구는 오래갑니다."),
    # Turkish (b5 I10, GPT-4.1 mini)
    ("Tabii! İşte 3. madde:\n\nBaşlangıçta az sayıda kahve çeşidi ve birkaç tatlıyla yola çıkın.",
     "Başlangıçta az sayıda kahve çeşidi ve birkaç tatlıyla yola çıkın."),
    ("Elbette, işte 2. maddenin detaylı açıklaması:\nLED ampuller az yakar.", "LED ampuller az yakar."),
    ("Tabii ki, 2. maddeyi genişletiyorum:\n\nLED ampuller az yakar.", "LED ampuller az yakar."),
    ("Şimdi 2. maddeye geçelim:\nLED ampuller az yakar.", "LED ampuller az yakar."),
    ("İşte devamı:\n\nLED ampuller az yakar.", "LED ampuller az yakar."),
    ("Tabii! İşte 2. madde: LED ampuller az yakar.", "LED ampuller az yakar."),
    ("Elbette! LED ampuller az yakar.", "LED ampuller az yakar."),
    ("Tabii! İşte 2. madde:", ""),  # nothing else: the point is empty, and asked again
    # Russian
    ("Конечно! Вот пункт 2:\n\nLED-лампы служат дольше.", "LED-лампы служат дольше."),
    ("Хорошо, вот продолжение:\nLED-лампы служат дольше.", "LED-лампы служат дольше."),
    ("Давайте рассмотрим пункт 2 подробнее.\n\nLED-лампы служат дольше.", "LED-лампы служат дольше."),
    # Indonesian
    ("Tentu! Berikut poin 2:\n\nLampu LED lebih awet.", "Lampu LED lebih awet."),
    ("Baik, saya akan menjelaskan poin 2 secara lebih rinci.\nLampu LED lebih awet.", "Lampu LED lebih awet."),
    # Vietnamese
    ("Chắc chắn rồi! Dưới đây là điểm 2:\n\nĐèn LED bền hơn.", "Đèn LED bền hơn."),
    ("Tất nhiên! Tôi sẽ tiếp tục với điểm 2 một cách chi tiết.\nĐèn LED bền hơn.", "Đèn LED bền hơn."),
])
def test_a_first_line_of_talk_in_more_languages_is_dropped(raw, text, step):
    assert clean(raw, step=step, others=OTHERS) == (text, False)


@pytest.mark.parametrize("step", [1, 2, 3, 5, 1000])
@pytest.mark.parametrize("raw, text", [
    # Korean (b6 I09, GPT-5 mini), formal and informal
    ("합의한 내용을 간단히 기록해 공유하세요.\n\n도움이 되셨으면 좋겠습니다!", "합의한 내용을 간단히 기록해 공유하세요."),
    ("기록해 공유하세요.\n\n이 내용이 도움이 되길 바랍니다.", "기록해 공유하세요."),
    ("기록해 공유하세요.\n\n도움이 되었으면 좋겠어요 😊", "기록해 공유하세요."),
    ("기록해 공유하세요.\n\n더 궁금한 점이 있으시면 언제든지 물어보세요!", "기록해 공유하세요."),
    ("기록해 공유하세요.\n\n원하시면 제가 면담 질문 목록도 만들어 드릴게요.", "기록해 공유하세요."),
    ("기록해 공유하세요.\n\n도움이 되셨으면 좋겠습니다! 궁금한 점이 있으시면 언제든지 말씀해 주세요.", "기록해 공유하세요."),
    ("기록해 공유하세요.\n\n행운을 빕니다!", "기록해 공유하세요."),
    # Turkish
    ("Menüyü sade tutun.\n\nUmarım yardımcı olur!", "Menüyü sade tutun."),
    ("Menüyü sade tutun.\n\nUmarım bu ipuçları kafenizi açarken işinize yarar!", "Menüyü sade tutun."),
    ("Menüyü sade tutun.\n\nBaşka sorularınız olursa sormaktan çekinmeyin.", "Menüyü sade tutun."),
    ("Menüyü sade tutun.\n\nİyi şanslar! Başka sorunuz olursa bana yazabilirsiniz.", "Menüyü sade tutun."),
    ("Menüyü sade tutun.\n\nBaşarılar!", "Menüyü sade tutun."),
    # Russian
    ("LED-лампы служат дольше.\n\nНадеюсь, это поможет!", "LED-лампы служат дольше."),
    ("LED-лампы служат дольше.\n\nЕсли хотите, я могу составить список покупок.", "LED-лампы служат дольше."),
    ("LED-лампы служат дольше.\n\nУдачи в ремонте!", "LED-лампы служат дольше."),
    # Indonesian
    ("Lampu LED lebih awet.\n\nSemoga membantu!", "Lampu LED lebih awet."),
    ("Lampu LED lebih awet.\n\nSemoga informasi ini bermanfaat untuk Anda!", "Lampu LED lebih awet."),
    ("Lampu LED lebih awet.\n\nJika Anda ingin, saya bisa membuatkan daftar belanja.", "Lampu LED lebih awet."),
    ("Lampu LED lebih awet.\n\nSelamat mencoba!", "Lampu LED lebih awet."),
    # Vietnamese
    ("Đèn LED bền hơn.\n\nHy vọng những thông tin này hữu ích cho bạn!", "Đèn LED bền hơn."),
    ("Đèn LED bền hơn.\n\nBạn có muốn tôi lập danh sách mua sắm không?", "Đèn LED bền hơn."),
    ("Đèn LED bền hơn.\n\nChúc bạn thành công với ngôi nhà mới!", "Đèn LED bền hơn."),
])
def test_a_last_line_of_talk_in_more_languages_is_dropped(raw, text, step):
    assert clean_in_both_modes(raw, step) == text


@pytest.mark.parametrize("step", [1, 2, 3, 5, 1000])
@pytest.mark.parametrize("raw", [
    # Japanese: more on the line, quoted in a sentence, the whole reply, the point's own words after the name
    "ポイント3の内容は以下の通りです。まず、練習ノートを用意します。\n次に、保護者と共有します。",
    "資料には「ポイント3の内容は以下の通りです。」と書き、例を続けます。\n練習ノートを使いましょう。",
    "はい、承知いたしました。ポイント3の内容は以下の通りです。",
    "ポイント3の内容は以下の三つです：練習、記録、共有。",
    "はい、LED電球は電気代を抑えます。",  # "yes" alone acknowledges nothing
    "Okay, they last.",
    # Korean
    "기록하세요.\n\n도움이 되는 습관은 매일 짧게 기록하는 것입니다.",
    "기록하세요.\n궁금한 점이 있으면 팀원에게 먼저 물어보세요.",
    "기록하세요.\n\n도움이 되셨으면 좋겠습니다. 다음 면담에서 확인하세요.",  # more than the hope
    "도움이 되셨으면 좋겠습니다!",
    "포인트 3은 경청입니다.\n말을 줄이세요.",
    # a last paragraph that ends as a wish may, but is the point's own (review 116: dropped by a rule taken back)
    "먼저 경청하세요.\n\n끝까지 들어 주는 좋은 청취자가 되세요.",
    "시장에 가 보세요.\n\n주말에는 관광객으로 매우 붐빕니다.",
    "응원가를 배우세요.\n\n한국 야구 팬들은 노래로 선수를 응원합니다.",
    "最初は難しいです。\n\n多くの受験生が神社で合格を祈っています。",
    "물론 포인트 2는 중요합니다.\n기록하세요.",
    # Turkish
    "Tabii ki bütçenizi aşmamalısınız.\nKira en büyük giderdir.",
    "Tabii ki bütçenizi aşmamalısınız.",
    "İşte hikayenin devamı:\n- kafe açıldı\n- müşteri geldi",
    "İşte 3 madde:\n- kira\n- izin",
    "Menüyü sade tutun.\nBaşka sorularınız olursa muhasebecinize danışın.",
    "Menüyü sade tutun.\n\nUmarım bu ipuçları işe yarar. Ayrıca bütçeyi izleyin.",
    "Menüyü sade tutun.\n\nBol şans kapıyı çalmaz, çalışmak gerekir.",
    "Umarım yardımcı olur!",
    # Russian
    "Вот почему пункт 2 договора важен.\nЧитайте внимательно.",
    "Вот продолжение истории:\n- дом\n- сад",
    "LED-лампы служат дольше.\nХотите ярче? Берите лампы на 1000 люмен.",
    "LED-лампы служат дольше.\n\nУдачи бывают редко, готовьтесь заранее.",
    # Indonesian
    "Berikut beberapa poin penting:\n- harga\n- daya",
    "Lampu LED lebih awet.\nJangan ragu untuk bertanya kepada penjual.",
    'Akhiri email dengan ramah.\n\n"Semoga membantu!"',
    # Vietnamese
    "Đây là điểm 2 của hợp đồng: không có phí ẩn.",
    "Đèn LED bền hơn.\n\nHy vọng điều này không xảy ra với bạn, nhưng hãy cẩn thận.",
])
def test_the_points_own_words_in_more_languages_are_kept(raw, step):
    assert clean(raw, step=step, others=OTHERS) == (raw, False)


@pytest.mark.parametrize("raw, settled", [
    ("Tabii! İ", ""),  # may be "Tabii! İşte 3. madde:" ("İ" lower case is "i", no dot added)
    ("Tabii! Başlangıçta", "Başlangıçta"),
    ("はい、承知いたしました。ポ", ""),
    ("はい、承知いたしました。練習", "練習"),
    ("LED 전구는 오래갑니다.\n\n도움이 되", "LED 전구는 오래갑니다."),
    ("LED 전구는 오래갑니다.\n\n도움이 되는", "LED 전구는 오래갑니다.\n\n도움이 되는"),
    ("Kira yüksektir.\n\nİyi", "Kira yüksektir."),
    ("Kira yüksektir.\n\nİyi bir", "Kira yüksektir.\n\nİyi bir"),
])
def test_talk_in_more_languages_is_held_back_only_while_it_may_still_become_talk(raw, settled):
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=True)
    assert f.feed(raw) == settled


@pytest.mark.parametrize("step", [1, 2, 3, 5, 1000])
@pytest.mark.parametrize("raw, text", [
    # closings that stayed (probe 44): wishes alone on the last line, offers of more detail
    ("기록해 공유하세요.\n\n즐거운 여행 되세요!", "기록해 공유하세요."),
    ("기록해 공유하세요.\n\n더 자세한 내용이 필요하시면 말씀해 주세요.", "기록해 공유하세요."),
    ("Menüyü sade tutun.\n\nDaha fazla ayrıntı isterseniz bana bildirin.", "Menüyü sade tutun."),
    ("Menüyü sade tutun.\n\nDaha fazla bilgi isterseniz, bana yazabilirsiniz.", "Menüyü sade tutun."),
    ("Бронируйте билеты заранее.\n\nПриятного путешествия!", "Бронируйте билеты заранее."),
    ("Pesan tiket lebih awal.\n\nSelamat jalan!", "Pesan tiket lebih awal."),
    ("Nấu với lửa nhỏ.\n\nChúc bạn ngon miệng!", "Nấu với lửa nhỏ."),
    ("Đặt vé sớm.\n\nChúc bạn thượng lộ bình an!", "Đặt vé sớm."),
    ("先检查合同。\n\n如果需要更多细节，请告诉我。", "先检查合同。"),
    ("先检查合同。\n\n如果您需要更多信息，请随时告诉我！", "先检查合同。"),
    ("Keep the bedroom cool.\n\nSweet dreams!", "Keep the bedroom cool."),
    # the point's own sentences that start the same way
    ("기록해 공유하세요.\n\n더 자세한 내용이 필요하시면 공식 안내서를 참고하세요.", None),
    ("인사말을 고르세요.\n\n즐거운 여행 되세요 같은 인사로 엽서를 마무리하세요.", None),
    ("Menüyü sade tutun.\n\nDaha fazla ayrıntı isterseniz menü kartına alerjenleri yazın.", None),
    ("Menüyü sade tutun.\n\nDaha fazla bilgi isterseniz bankanıza danışın.", None),
    ("Бронируйте билеты заранее.\n\nПриятного путешествия не бывает без страховки.", None),
    ("Ucapkan salam perpisahan.\n\nSelamat jalan adalah ucapan yang sopan untuk tamu.", None),
    ("Mời khách dùng bữa.\n\nChúc bạn ngon miệng là câu chúc phổ biến trước bữa ăn.", None),
    ("先检查合同。\n\n如果需要更多细节，请咨询你的律师。", None),
    ("先检查合同。\n\n如果需要更多信息，请告诉我们的客服。", None),
    ("Keep the bedroom cool.\n\nSweet dreams come easier in a dark room.", None),
    # b8's: Claude's offer as a statement, and a Korean hope's contracted form
    ("Keep fees low.\n\nHappy to suggest a sample allocation if that would help!", "Keep fees low."),
    ("Keep fees low.\n\nI'd be happy to walk you through a sample portfolio.", "Keep fees low."),
    ("일찍 출발하세요.\n\n도움이 되셨길 바랍니다!", "일찍 출발하세요."),
])
def test_closings_in_the_newly_listed_languages_are_dropped(raw, text, step):
    assert clean_in_both_modes(raw, step) == (raw if text is None else text)


@pytest.mark.parametrize("step", [1, 2, 3, 5, 1000])
@pytest.mark.parametrize("raw, text", [
    # probe 84 F2: a point's own last line that opens with an offer's or a wish's words was dropped as a closing
    # ("我们" is "we", not "我", "I"; a phrase before 是/的/と is a subject, a modifier or a quotation; "欢迎同事提出":
    # someone else is welcome; "Успехов в изучении языка добиваются те, кто ...": a statement, not a wish)
    ("先在网上预约。\n您需要我们提供的材料只有身份证和户口本。", None),
    ("先在网上预约。\n随时告诉我们的窗口工作人员你的预约号。", None),
    ("先做重要的事。\n\n如果有任何问题，欢迎同事提出。", None),
    ("先做重要的事。\n\n欢迎随时提问是团队文化的一部分：鼓励同事之间互相提醒。", None),
    ("先做重要的事。\n\n欢迎继续提问的学生会得到更多反馈。", None),
    ("先做重要的事。\n\n是否需要我们提供发票，取决于公司规定。", None),
    ("先做重要的事。\n\n希望对你有帮助的人多交流。", None),
    ("重要なことを先にやる。\n\nお気軽にどうぞと書かれた看板を店先に置きましょう。", None),
    ("Ставьте маленькие цели.\n\nУспехов в изучении языка добиваются те, кто занимается каждый день.", None),
    ("Делайте важное первым.\n\nУдачи в делах часто добиваются организованные люди.", None),
    ("Pay first.\n\nGood luck with exams depends on sleep.", None),
    ("Делайте важное первым.\n\nНадеюсь, это поможет вам понять, что важно, — спросите себя об этом утром.", None),
    # the closings themselves
    ("先做重要的事。\n\n如果有任何问题，欢迎随时提问。", "先做重要的事。"),
    ("先做重要的事。\n\n如果有任何问题，请随时告诉我！", "先做重要的事。"),
    ("先做重要的事。\n\n欢迎随时提问！", "先做重要的事。"),
    ("先做重要的事。\n\n你需要我帮你列一个清单吗？", "先做重要的事。"),
    ("先做重要的事。\n\n你需要我的帮助吗？", "先做重要的事。"),
    ("Ставьте маленькие цели.\n\nУспехов в изучении языка!", "Ставьте маленькие цели."),
    ("Делайте важное первым.\n\nНадеюсь, это поможет вам!", "Делайте важное первым."),
    ("先做重要的事。\n\n如果有任何问题，欢迎在评论区留言。", "先做重要的事。"),
    # a hope that goes on past a colon, a semicolon or a dash with more closing words only (probe 86: kept after the
    # fix above)
    ("Pay first.\n\nI hope this helps — good luck!", "Pay first."),
    ("Pay first.\n\nHope this helps: feel free to ask more.", "Pay first."),
    ("Pay first.\n\nI hope this helps; feel free to ask.", "Pay first."),
    ("Pay first.\n\nHope this helps — happy cooking!", "Pay first."),
    ("Pay first.\n\nHope that helps — cheers!", "Pay first."),
    ("Pay first.\n\nI hope this helps you sleep better tonight — sweet dreams!", "Pay first."),
    ("Pay first.\n\nI hope this helps: start with the biggest bill and work down.", None),
    # ... a closing's words that go on with advice say more (probe 88)
    ("Pay first.\n\nI hope this helps: good luck, and remember to rebalance your portfolio every year!", None),
    ("Pay first.\n\nI hope this helps — feel free to use a spreadsheet to track every payment.", None),
    ("Pay first.\n\nI hope this helps — pay weekly!", None),
    ("Pay first.\n\nI hope this helps — take care to pay on time!", None),  # a sign-off's word, as advice (probe 89)
    ("Pay first.\n\nI hope this helps — feel free to sell the car!", None),
    # the answer's own tips, as hoped (a closing whatever followed: advice after a colon was lost)
    ("Pay first.\n\nI hope these tips help you plan your wedding!", "Pay first."),
    ("Pay first.\n\nI hope these tips help — good luck!", "Pay first."),
    ("Pay first.\n\nI hope these tips help: use cash!", None),
    ("Pay first.\n\nI hope these ideas help; keep receipts for a year.", None),
])
def test_a_last_line_in_the_words_of_an_offer_or_a_wish_is_dropped_only_as_one(raw, text, step):
    assert clean_in_both_modes(raw, step) == (raw if text is None else text)


@pytest.mark.parametrize("step", [1, 2, 3, 5, 1000])
@pytest.mark.parametrize("raw, text", [
    ("네, 1번 포인트를 작성하겠습니다:\n\nLED 전구는 오래갑니다.", "LED 전구는 오래갑니다."),  # probe 44
    ("네, 2번 항목을 작성할게요:\nLED 전구는 오래갑니다.", "LED 전구는 오래갑니다."),
    ("네, 2번 포인트를 작성하겠습니다: LED 전구는 오래갑니다.", "LED 전구는 오래갑니다."),
    # the point's own words: writing is its topic
    ("포인트 3을 작성할 때는 짧게 쓰세요.\n예시를 넣으세요.", None),
    ("네, 보고서를 작성하겠습니다.\n\n먼저 목차를 정하세요.", None),
])
def test_a_korean_first_line_that_only_says_it_writes_the_point_is_dropped(raw, text, step):
    assert clean(raw, step=step, others=OTHERS) == ((raw, False) if text is None else (text, False))


# -- a numbered line that can be no other point's (probe 42) -------------------------------------------------------

EGGS = {"index": 2, "title": "Eggs", "others": ["Mixing", "Baking"]}  # point 2 of "1. Mixing 2. Eggs 3. Baking"


@pytest.mark.parametrize("step", [1, 2, 3, 5, 1000])
@pytest.mark.parametrize("raw, text", [
    # a line that goes on with a sentence: its text in lower case, or the line before broke off mid-sentence
    ("Room-temperature eggs mix better, as a study published in\n2019. showed; take them out an hour early.", None),
    ("Eggs matter later too: see your step\n5. Frost only a cake whose eggs set, or the icing melts.", None),
    ("Whisk them until pale and thick,\n3) Then fold in the flour.", None),
    ("Crack them into a cup first.\n4. if a shell falls in, scoop it out with a half shell.", None),
    # the next point all the same: a sentence ended before it, another point's title, a list item or a header before
    ("Take them out an hour early.\n3. Bake at 180C until golden.", "Take them out an hour early."),
    ("Take them out an hour early.\n\n3. Bake at 180C until golden.", "Take them out an hour early."),
    ("Beat them well before adding them to the\n3. Baking: 180C for 30 minutes.",
     "Beat them well before adding them to the"),
    ("Take them out early.\n3. baking: 180C for 30 minutes.", "Take them out early."),
    ("Take them out early.\n- Crack them one by one\n3. Bake at 180C.",
     "Take them out early.\n- Crack them one by one"),
    ("Take them out early.\n### Why it matters\n3. Bake at 180C.", "Take them out early.\n### Why it matters"),
    ("Take them out early.\nStep 3: Bake at 180C.", "Take them out early."),
])
def test_a_numbered_line_that_goes_on_with_a_sentence_is_no_other_point(raw, text, step):
    assert clean(raw, step=step, **EGGS) == ((raw, False) if text is None else (text, True))


@pytest.mark.parametrize("step", [1, 2, 3, 5, 1000])
@pytest.mark.parametrize("most_points, raw, text", [
    # numbered above the most points the answer can have: a year, a step of the question's own list
    (3, "The advice changed:\n1998. Keep them in the fridge.\n2019. Warm them first.", None),
    (3, "Your recipe gets the end right:\n5. Cool\n6. Frost", None),
    (3, "It was tested.\nStep 5: Frost once cool.", None),
    # a number some point may have: the skeleton's 3, the next (the answer's list going on past the skeleton), or
    # another while it is still being written (max_points 10)
    (3, "Take them out early.\n3. Bake at 180C.", "Take them out early."),
    (3, "Take them out early.\n4. Another point.", "Take them out early."),
    (10, "Your recipe gets the end right:\n4. Cool\n5. Frost", "Your recipe gets the end right:"),
    (None, "The advice changed:\n1998. Keep them in the fridge.", "The advice changed:"),
])
def test_a_line_numbered_above_the_answers_points_is_no_other_point(most_points, raw, text, step):
    assert clean(raw, step=step, most_points=most_points, **EGGS) == ((raw, False) if text is None else (text, True))


@pytest.mark.parametrize("step", [1, 3, 1000])
def test_a_line_numbered_above_the_points_parsed_so_far_waits_for_the_skeletons_count(step):
    """The skeleton is still being written (its limit, 10, is all that is known): "5." may be a later point's or no
    point's. It waits; the count (3) then says it is no point's. Without the count by the end, it is judged so."""
    raw = "Take them out early.\n5. Avoid cold eggs."
    f = ExpansionFilter(2, "Eggs", strip_header=True, other_titles=["Mixing"], most_points=10)
    held = "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step))
    assert held == "Take them out early."
    f.set_most_points(3)
    assert held + f.feed("") + f.finish() == raw and not f.finished
    g = ExpansionFilter(2, "Eggs", strip_header=True, other_titles=["Mixing"], most_points=10)
    assert "".join(g.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + g.finish() == "Take them out early."


def test_a_looping_line_is_judged_in_linear_time():
    # a small model's "and so on and so on ..." cut by its budget made the quoted-tail pattern backtrack for hours,
    # on the event loop, where no deadline could end it (probe 60): checked in a process of its own, so that a
    # regression fails here instead of hanging the suite
    import subprocess
    import sys

    check = ("from sotkit.expansion import ExpansionFilter\n"
             "for line in ('Python ' + 'and so on ' * 40 + 'and so', 'etc. ' * 40 + 'and', 'etc… ' * 40 + 'x'):\n"
             "    f = ExpansionFilter(3, 'Verdict', strip_header=True, other_titles=['Python', 'Sleep well'])\n"
             "    assert f.feed(line) + f.finish() == line and not f.said_nothing\n")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("whole_sentences", [False, True])
@pytest.mark.parametrize("raw", ["③", "③.", "③。", "③——"])
def test_a_reply_that_is_only_a_circled_number_is_no_crash(raw, whole_sentences):
    # int("③") raised ValueError out of generate() where a model writes whole sentences (probe 86)
    f = ExpansionFilter(2, "Use LED bulbs", strip_header=True, whole_sentences=whole_sentences, other_titles=OTHERS)
    assert f.feed(raw) + f.finish() in ("", raw)


RICE = ["Rinse the rice", "Soak it", "Steam it", "Rest it"]


def rice_point(index: int, raw: str, step: int) -> tuple[str, bool]:
    """Point ``index`` of the four, the skeleton complete."""
    f = ExpansionFilter(index, RICE[index - 1], strip_header=True, most_points=4, count_known=True,
                        other_titles=[title for title in RICE if title != RICE[index - 1]])
    released = "".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish()
    assert released == f.released
    return released, f.finished


@pytest.mark.parametrize("step", [1, 3, 1000])
@pytest.mark.parametrize("raw", [
    "1. Rinse the rice\n2. Soak it\n3. Steam it\n4. Rest it\n\n2. Soak it\n\nSoaking softens the grains.",
    "Here is the plan we follow:\n\n1. Rinse the rice\n2. Soak it\n3. Steam it\n4. Rest it\n\n**2. Soak it**\n\n"
    "Soaking softens the grains.",
    "I'll keep to this outline:\n\n1. **Rinse the rice**\n2. **Soak it**\n3. **Steam it**\n4. **Rest it**\n\n"
    "Alright, moving on to point 2:\n\n### Soak It\n\nSoaking softens the grains.",
    "1) Rinse the rice\n2) Soak it\n3) Steam it\n\nSoaking softens the grains.",
    "Let's discuss point 2:\n\n**2. Soak it**\n\nSoaking softens the grains.",  # no outline (review 104)
])
def test_a_reply_that_writes_the_skeleton_again_first_keeps_what_follows_it(raw, step):
    """The point came back as nothing of its own, also when asked again, and the answer failed (blind set b9: the
    skeleton, then the point's header and its text)."""
    assert rice_point(2, raw, step) == ("Soaking softens the grains.", False)


@pytest.mark.parametrize("step", [1, 1000])
def test_a_reply_of_the_skeleton_alone_or_of_another_point_is_still_nothing_of_its_own(step):
    assert rice_point(2, "1. Rinse the rice\n2. Soak it\n3. Steam it\n4. Rest it", step) == ("", False)
    assert rice_point(2, "1. Rinse the rice\nRinse it three times.", step) == ("", True)  # another point's


@pytest.mark.parametrize("step", [1, 3, 1000])
@pytest.mark.parametrize("header", ["**{n}. {title}**", "## {title}", "**{title}**", "{title}:"])
def test_an_outline_followed_by_every_points_section_gives_only_the_points_own_or_nothing(step, header):
    """After the outline, the model answered all the points: point 3 was given point 1's section, and more (review
    103). Each point keeps its own section where it comes first, else nothing of its own, as before."""
    sections = "\n\n".join(header.format(n=n, title=title) + f"\nText of {n}." for n, title in enumerate(RICE, 1))
    raw = "1. Rinse the rice\n2. Soak it\n3. Steam it\n4. Rest it\n\n" + sections
    assert rice_point(1, raw, step) == ("Text of 1.", True)
    assert rice_point(3, raw, step) == ("", True)



@pytest.mark.parametrize("step", [1, 3, 1000])
def test_after_the_outline_and_the_points_own_header_another_points_title_is_its_own_text(step):
    """Once the point's own header came, a heading of an earlier point's title is a comparison's, and a sentence
    that is a title and a full stop is a sentence (review 104: both ended the point empty)."""
    raw = "1. Python\n2. Java\n3. Verdict\n\n**3. Verdict**\n\n**Python**\nEasier to learn than Java."
    assert clean(raw, step=step, index=3, title="Verdict", others=["Python", "Java"]) == (
        "**Python**\nEasier to learn than Java.", False)
    raw = "1. Rinse the rice\n2. Soak it\n3. Steam it\n4. Rest it\n\nSteam it.\n\nNo, soak it first."
    assert rice_point(2, raw, step) == ("Steam it.\n\nNo, soak it first.", False)


@pytest.mark.parametrize("step", [1, 2, 1000])
def test_an_outline_numbered_in_chinese_is_skipped_too(step):
    # the title was read from its second character on, so no such line was ever one, nor a reply opening with
    # another point's line (review 103)
    raw = "一、淘米\n二、浸泡\n三、蒸饭\n\n二、浸泡\n\n浸泡让米粒变软。"
    assert clean(raw, step=step, index=2, title="浸泡", others=["淘米", "蒸饭"]) == ("浸泡让米粒变软。", False)
    assert clean("一、淘米\n先淘三遍。", step=step, index=2, title="浸泡", others=["淘米", "蒸饭"]) == ("", True)


@pytest.mark.parametrize("step", [1, 3, 1000])
def test_a_recap_of_earlier_points_that_the_point_announces_is_its_own(step):
    """A last point that listed earlier points' titles at their numbers, with more said, was taken for the
    skeleton again: cut at its lead-in, it failed (blind set b9)."""
    recap = ("Do every step the same way each time, for example:\n\n1. Rinse the rice: three changes of water.\n"
             "2. Soak it: thirty minutes, no more.\n\nThe grains then cook evenly.")
    assert rice_point(4, recap, step) == (recap, False)
    outline = "Do every step the same way, in order:\n\n1. Rinse the rice\n2. Soak it\n\nThe grains cook evenly."
    assert rice_point(4, outline, step) == ("Do every step the same way, in order:", True)  # bare titles: the outline
    later = "Rinse until clear, then:\n\n2. Soak it: thirty minutes.\nDrain."
    assert rice_point(1, later, step) == ("Rinse until clear, then:", True)  # a later point's: a run-on
    # the last point's, also before the skeleton's count is known (review 104: it was cut then)
    f = ExpansionFilter(4, "Rest it", strip_header=True, other_titles=RICE[:3])
    assert "".join(f.feed(recap[i:i + step]) for i in range(0, len(recap), step)) + f.finish() == recap
    # not in a point before the last, which may be answering them all (review 103)
    everything = "Do it like this:\n\n1. Rinse the rice: wash.\n2. Soak it: thirty minutes.\n3. Steam it: twenty."
    assert rice_point(2, everything, step) == ("Do it like this:", True)


class _Counting:
    """A compiled pattern that counts the characters its searches cover."""

    searched = 0

    def __init__(self, pattern):
        self.pattern = pattern

    def search(self, text, pos=0, endpos=sys.maxsize):
        _Counting.searched += min(endpos, len(text)) - pos
        return self.pattern.search(text, pos, endpos)

    def finditer(self, text, pos=0, endpos=sys.maxsize):
        _Counting.searched += min(endpos, len(text)) - pos
        return self.pattern.finditer(text, pos, endpos)

    def __getattr__(self, name):  # match, sub, ...: on a line or a title, not the text
        return getattr(self.pattern, name)


def count_searches(monkeypatch, module, names=None) -> type[_Counting]:
    """Count what the module's patterns (``names``, or all) search from now on."""
    monkeypatch.setattr(_Counting, "searched", 0)
    for name, value in vars(module).copy().items():
        if isinstance(value, re.Pattern) and (names is None or name in names):
            monkeypatch.setattr(module, name, _Counting(value))
    return _Counting


def count_run_on_searches(monkeypatch) -> type[_Counting]:
    """Count what every pattern of ``sotkit.runon`` searches from now on."""
    import sotkit.runon

    return count_searches(monkeypatch, sotkit.runon)


@pytest.mark.parametrize("closing", ["", "\nLet me know if you need more!", "\n---"])
def test_a_long_reply_of_many_lines_is_searched_for_code_fences_once_not_at_every_piece(monkeypatch, closing):
    """A point of 2,000 lines of code was searched whole for fences at every piece (run-on and closing-line checks):
    7 s and the event loop held 0.4 s (probe 101). The text released is that of the whole reply fed at once."""
    counting = count_run_on_searches(monkeypatch)
    reply = ("Here is the code:\n```python\n" + "\n".join(f"x{i} = compute({i})  # step {i}" for i in range(1000))
             + "\n```\nRun it once a day." + closing)
    streamed = ExpansionFilter(2, "Automate it", strip_header=True, other_titles=["Back up", "Test restores"])
    out = "".join(streamed.feed(reply[i:i + 4]) for i in range(0, len(reply), 4)) + streamed.finish()
    whole = ExpansionFilter(2, "Automate it", strip_header=True, other_titles=["Back up", "Test restores"])
    assert out == whole.feed(reply) + whole.finish() == reply.removesuffix(closing)
    # each line a few times as it grows; 9,000 pieces over 35,000 characters searched 160 million before
    assert counting.searched < 20 * len(reply)


@pytest.mark.parametrize("whole_sentences", [False, True])
@pytest.mark.parametrize("raw", ["Go to bed early.\n" + " " * 18 + "- Keep the room cool.\n- Avoid screens.",
                                 "- Rinse it twice.\n" + " " * 18 + "- Drain it well.\n" + " " * 18 + "- Then cook.",
                                 "Swap every bulb." + " " * 20 + "2. Turn off lights: always."])
def test_text_after_a_long_indent_comes_out_the_same_whatever_the_pieces(raw, whole_sentences):
    # with white space read up to 16 characters, a bullet or an inline number after more was kept in small pieces and
    # cut when fed whole (review 103)
    outs = set()
    for step in (1, 4, 1000):
        f = ExpansionFilter(1, "Sleep early", strip_header=True, whole_sentences=whole_sentences,
                            other_titles=["Turn off lights", "Keep the room cool"])
        outs.add("".join(f.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + f.finish())
    assert len(outs) == 1, outs


@pytest.mark.parametrize("run", [" \t", "\u00a0", "   \n"])
def test_a_long_run_of_white_space_is_not_searched_again_at_every_piece(monkeypatch, run):
    """A line of 40,000 spaces and tabs held the loop about a second a piece, as it grew (review 102): each piece
    searched it whole for a numbered line, a title or an inline number to come."""
    counting = count_run_on_searches(monkeypatch)
    reply = "Start here." + run * 10_000 + " ".join(["then more words"] * 300)
    streamed = ExpansionFilter(2, "Automate it", strip_header=True, other_titles=["Back up", "Test restores"])
    out = "".join(streamed.feed(reply[i:i + 4]) for i in range(0, len(reply), 4)) + streamed.finish()
    assert out == reply.strip()
    assert counting.searched < 20 * len(reply)  # (each line a few times as it grows)


@pytest.mark.parametrize("step", [1, 4, 1000])
def test_an_opening_that_keeps_to_the_point_is_talk_about_the_task(step):
    # (blind set b13: "I'll focus on point 3 only.")
    assert clean("I'll focus on point 2 only.\n\nThey last.", step=step)[0] == "They last."


@pytest.mark.parametrize("step", [1, 4, 1000])
@pytest.mark.parametrize("last", [
    # a point's own bracketed or italic last paragraph that names its number, in the words of the notes on the task
    # models write ("(Note: I've only written point 2, as requested.)", left in: a rule for them was tried in session
    # 44 and dropped such lines of the point's own in four rounds of review)
    "(Point 3 covers the cost, only that.)",
    "(Согласно пункту 2 статьи 450 ГК РФ.)",
    "（依据《民法典》第2条。）",
    "(Only point 2.5 of the EU Ecodesign rules applies.)",
    "**Point 2 only, as asked.**",
    "(Point 2 of most leases caps the rise at 5%, so check yours.)",
    "(See point 2 of the lease: only the landlord may change the rent.)",
    "*Only point 2 of the warranty covers LEDs.*",
    "（ポイント2の補足：できるだけ早く交換しましょう。）",
    "(Lihat juga poin kedua di atas.)",
    "(Point 2 only applies to tenants in Scotland.)",
    "*Point 2 alone accounts for 40% of the savings.*",
    "(As you asked in point 2 of your letter, the deposit is refundable.)",
    "(구매 시 포인트 2만 점 적립.)",
    "（ポイント2だけでなく、ポイント3も重要です。）",
    "（ご要望の多かったポイント2倍デーを再開します。）",
    "(Gemäß Punkt 2 der Hausordnung dürfen Arbeiten nur von Fachfirmen ausgeführt werden.)",
    "(Hồ sơ nộp theo yêu cầu tại mục 2.)",
    "（第2点只写在合同附件里。）",
    "(Note: LED bulbs contain no mercury.)",
    "*Tip: buy them in packs.*",
    "* Point 2 of the label: the wattage",
    "(Note: point 2 " + "is long " * 20 + ")",
    "(I've written point 2 of my will myself.)",
    "（ポイント2倍の条件は、会員規約に記載しています。）",
    "(Я написал претензию со ссылкой на пункт 2 статьи 18 Закона.)",
])
def test_a_bracketed_or_italic_last_paragraph_naming_the_point_is_the_points_own(last, step):
    raw = "They last.\n\n" + last
    assert clean(raw, step=step)[0] == raw


@pytest.mark.parametrize("run", [" ", "\t ", "\n", " \n\n"])
def test_a_model_stuck_on_white_space_is_not_read_again_at_every_piece(monkeypatch, run):
    """"Sure!" and then 2,000 spaces, one a piece, held the event loop 9 s: the first line, which might still be
    talk, was read again whole at every piece (and its regular expressions backtracked over the spaces). White space
    settles nothing: it is read with what follows it, so the clean text is the same at any piece size."""
    import sotkit.expansion as expansion

    read = []
    real = expansion.talk_opening
    monkeypatch.setattr(expansion, "talk_opening", lambda body, *a, **k: read.append(len(body)) or real(body, *a, **k))
    reply = "Sure!" + run * 4000 + "Keep a regular schedule."
    outs = set()
    for step in (len(run), 1, len(reply)):
        f = ExpansionFilter(2, "Sleep schedule", strip_header=True)
        outs.add("".join(f.feed(reply[i:i + step]) for i in range(0, len(reply), step)) + f.finish())
    assert len(outs) == 1
    out = outs.pop()
    assert out.endswith("Keep a regular schedule.")
    if "\n" not in run:  # spaces after it make no acknowledgement longer than talk
        assert out == "Keep a regular schedule."
    assert sum(read) < 20 * len(reply)


@pytest.mark.parametrize("step", [1, 3, 7, 50])
def test_code_fences_found_piece_by_piece_are_those_of_the_whole_text(step):
    from sotkit.runon import FENCE, Fences

    text = "Intro:\n```python\nx = 1\n``` is prose\n  ~~~\ncode\n~~~\n```js\nrun()\n```\nDone\n```"
    fences = Fences()
    for end in range(0, len(text) + step, step):
        assert fences.of(text[:end]) == [m.start() for m in FENCE.finditer(text[:end])]
    other = "Another text\n```\n"  # not the same text grown: searched afresh
    assert fences.of(other) == [13]


@pytest.mark.parametrize("ending", ["", ". Then rest.", '." Then rest.'])
def test_a_long_unended_sentence_is_searched_for_its_end_once_not_at_every_piece(monkeypatch, ending):
    """A point of one line with no sentence end was searched whole at every piece: 16,000 words held the event loop
    for 1.3 s (probe 98). The text released is that of the whole reply fed at once."""
    import sotkit.expansion

    counting = count_searches(monkeypatch, sotkit.expansion, ["_SENTENCE_END"])
    words = ("calm quiet river stone walk " * 400).split() + [f"end{ending}"]
    streamed = echo_filter(Templates(), "Keep calm", whole_sentences=False)
    out = "".join(streamed.feed(word + " ") for word in words) + streamed.finish()
    whole = echo_filter(Templates(), "Keep calm", whole_sentences=False)
    assert out == whole.feed(" ".join(words) + " ") + whole.finish() and out.startswith("calm quiet river")
    assert counting.searched < 5 * len(out)  # 2,000 pieces over 11,000 characters searched 11 million before


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("raw, text", [
    # a title whose full stop ends an abbreviation keeps it (the skeleton's parser); restated with it or without it
    ("2. Water at 7 a.m.: Drink a glass first.", "Drink a glass first."),
    ("2. Water at 7 a.m: Drink a glass first.", "Drink a glass first."),
    ("**Water at 7 a.m.**: Drink a glass.", "Drink a glass."),
    ("**Water at 7 a.m**: Drink a glass.", "Drink a glass."),
    ("- Water at 7 a.m.: Drink.", "Drink."),
    ("### Water at 7 a.m.\n\nDrink a glass.", "Drink a glass."),
    ("**Water at 7 a.m.**", ""), ("Water at 7 a.m", ""),
    # its stop ends the header too where a sentence starts after it, as "2. Use LED bulbs. They last." does
    ("2. Water at 7 a.m. Drink a glass.", "Drink a glass."),
    ("2. Water at 7 a.m. is best.", "Water at 7 a.m. is best."),  # the sentence goes on: only the number goes
    ("Water at 7 a.m. is best for you.", "Water at 7 a.m. is best for you."),
    ("Water at 7 a.m.", "Water at 7 a.m."),  # only the title, as a sentence: kept
])
def test_a_title_ending_in_an_abbreviation_is_stripped_with_its_stop_or_without(raw, text, step):
    assert clean(raw, step=step, title="Water at 7 a.m.")[0] == text


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("raw, text", [
    # a heading's line that ends at its separator (or the title's stop) is the whole header: the lines after it,
    # blank lines between, are the point's own (review 121: the first was taken for the heading's gist and lost)
    ("### Water at 7 a.m.\n\nThey last a decade.\n\nMore text here.", "They last a decade.\n\nMore text here."),
    ("## 2. Water at 7 a.m.\n\nThey last.\n\nMore.", "They last.\n\nMore."),
    ("### Water at 7 a.m.:\n\nThey last a decade.\nMore text here.", "They last a decade.\nMore text here."),
    ("2. Water at 7 a.m. 250 ml is enough.", "250 ml is enough."),  # a digit starts a sentence too
    ("2. Water at 7 a.m.\tand then some.", "Water at 7 a.m.\tand then some."),  # lower case after a tab
])
def test_the_lines_after_a_header_with_an_abbreviations_stop_are_the_points(raw, text, step):
    assert clean(raw, step=step, title="Water at 7 a.m.")[0] == text


@pytest.mark.parametrize("step", [1, 3, 100])
def test_the_lines_after_a_heading_ended_by_its_colon_are_the_points(step):
    raw = "### Use LED bulbs:\n\nThey last a decade.\nMore text here."  # the first line was lost (review 121)
    assert clean(raw, step=step)[0] == "They last a decade.\nMore text here."


@pytest.mark.parametrize("raw", ["Drink water.\n3. Screens off by 9:30 p.m: Put it away.",
                                 "Drink water.\n3. Screens off by 9:30 p.m.: Put it away.",
                                 "Drink water.\n**Screens off by 9:30 p.m**\nPut it away.",
                                 "Drink water.\n\n**Screens off by 9:30 p.m.**\nPut it away.",
                                 "Drink water.\n\nScreens off by 9:30 p.m.:\nPut it away.",
                                 "Drink water.\n\n### Screens off by 9:30 p.m.\nPut it away."])
def test_running_on_into_a_title_ending_in_an_abbreviation_is_cut(raw):
    assert clean(raw, title="Hydrate", others=["Screens off by 9:30 p.m.", "Sleep well"]) == ("Drink water.", True)


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("raw, others", [
    ("1. Wake at 6 a.m.\n2. Use LED bulbs\n3. Screens off by 9:30 p.m.\n\nThey last.",
     ["Wake at 6 a.m.", "Screens off by 9:30 p.m."]),
    # the skeleton's lines as the model wrote them, full stops and all (the titles lost theirs when parsed)
    ("1. Wake early.\n2. Use LED bulbs.\n3. Screens off.\n\nThey last.", ["Wake early", "Screens off"]),
])
def test_the_skeleton_written_again_with_full_stops_is_skipped(raw, others, step):
    assert clean(raw, step=step, others=others) == ("They last.", False)


def test_earlier_points_sections_with_abbreviations_are_the_points_own():
    raw = "They differ.\n\n### Wake at 6 a.m\nEarly.\n\n### Water at 7 a.m\nLater."  # a comparison of earlier points
    f = ExpansionFilter(4, "Compare the two", strip_header=True, other_titles=["Wake at 6 a.m.", "Water at 7 a.m."],
                        earlier_titles=["Wake at 6 a.m.", "Water at 7 a.m."])
    assert f.feed(raw) + f.finish() == raw


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("raw, text", [
    # a stop that lower case follows ends no sentence: the opening is judged whole (review 121: "Watering at 7
    # a.m." was judged alone, as saying nothing new, and the answer read "is ideal. Plants drink.")
    ("Watering at 7 a.m. is ideal. Plants drink.", "Watering at 7 a.m. is ideal. Plants drink."),
    ("Watering at 7 a.m. Plants drink.", "Plants drink."),  # a sentence of the title's words alone still goes
])
def test_a_small_models_opening_is_judged_to_its_sentences_end_not_an_abbreviations(raw, text, step):
    assert clean(raw, step=step, title="Water at 7 a.m.", whole_sentences=True)[0] == text


@pytest.mark.parametrize("step", [1, 3, 100])
@pytest.mark.parametrize("title, raw, text", [
    # an opening that restates the question goes to its first stop, whatever follows it (review 122: the stretch
    # to a stop that lower case did not follow went, and with it "it saves money on bills.")
    ("Use LED bulbs", "Saving energy at home is important. it saves money on bills.", "it saves money on bills."),
    ("Upgrade heating", "Saving energy at home is important. eBay sells heat pumps.", "eBay sells heat pumps."),
    ("Monitor use", "Saving energy at home is important. iOS apps show it.\n\nCheck weekly.",
     "iOS apps show it.\n\nCheck weekly."),
])
def test_an_opening_that_restates_the_question_goes_to_its_first_stop_only(title, raw, text, step):
    asked = "How can I save energy at home?"
    assert clean(raw, step=step, title=title, whole_sentences=True, question=asked)[0] == text


@pytest.mark.parametrize("step", [1, 3, 100])
def test_a_bold_header_whose_gist_wraps_to_the_next_line_goes_whole(step):
    assert clean("**Use LED bulbs:\nThey last.**\n\nMore text here.", step=step)[0] == "More text here."
