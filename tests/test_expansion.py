import pytest

from sotkit.expansion import ExpansionFilter


def clean(raw: str, *, step: int = 1, index: int = 2, title: str = "Use LED bulbs") -> tuple[str, bool]:
    """Stream the raw text through the filter piece by piece; what it released must be the final text."""
    f = ExpansionFilter(index, title, strip_header=True)
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
])
def test_restated_headers_are_stripped_and_text_kept(raw, text, step):
    assert clean(raw, step=step) == (text, False)


@pytest.mark.parametrize("step", [1, 5])
def test_running_on_into_the_next_point_is_cut(step):
    assert clean("They use less energy.\n3. Unplug devices: always", step=step) == ("They use less energy.", True)
    assert clean("Short.\n**3. Unplug**", step=step) == ("Short.", True)


def sentences(raw: str, *, step: int, cut: bool, others=(), title: str = "Use LED bulbs") -> tuple[str, list[str], bool]:
    """Stream through a whole-sentence filter; returns the final text, what each delta released, finished."""
    f = ExpansionFilter(2, title, strip_header=True, whole_sentences=True, other_titles=others)
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
