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
