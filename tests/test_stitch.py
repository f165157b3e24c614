from sotkit.stitch import Stitcher


def texts(events) -> str:
    return "".join(e.text for e in events)


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
    s.finish_point(2, skipped=True)
    assert s.text == "1. A: a"
