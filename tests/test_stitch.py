from sotkit.stitch import Stitcher


def texts(events) -> str:
    return "".join(e.text for e in events)


def test_later_points_wait_for_earlier_ones():
    s = Stitcher()
    assert texts(s.add_point(1, "A")) == "1. A: "
    assert texts(s.add_point(2, "B")) == ""
    assert texts(s.add_text(2, "bee")) == ""  # buffered: point 1 is still being written
    assert texts(s.add_text(1, "ay")) == "ay"  # the head point streams live
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
