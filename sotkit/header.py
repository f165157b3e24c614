"""A point's own header, restated at the start of its expansion ("2. Title:", "**2. Title**:", "- Title:",
"Title:", "Point 2: Title", and in the forms of Chinese and Japanese lists: "（2）Title：", "二、Title", "第2点：Title",
"【Title】", "Title——"), and where the text after it begins. The title is compared in code: a pattern holding it
would be compiled for every point, ~0.4 ms of CPU each.
"""

from __future__ import annotations

import re

EMPHASIS = r"(?:\*{1,3}|_{1,3})"  # bold, italics or both: "**", "*", "***", and the underscore forms
#: a number in Chinese numerals, one to 99 ("二", "十二", "二十三")
CJK_NUMBER = "(?:[一二三四五六七八九]?十[一二三四五六七八九]?|[一二三四五六七八九])"
#: where a title begins with no space after a full-width list mark ("2、Python入门", "②LED照明", "（二）5G设备"): any
#: character but a digit after a digit's mark ("3、4月份", March and April; "３．５時間", 3.5 hours)
AFTER_FULL_WIDTH_MARK = r"(?<=[．）、①-⑳])(?!(?<=\d[．、])\d)(?=\S)"
ROMAN_NUMBER = "(?-i:(?=[IVX])X{0,2}(?:IX|IV|V?I{0,3}))"  # 1 to 29, upper case whatever the pattern's flags
_ROMAN = {"I": 1, "V": 5, "X": 10}
_CJK_DIGITS = "〇一二三四五六七八九"
#: marks that invisibly open or end a line (a byte-order mark, zero-width spaces, the marks that set the direction
#: of right-to-left text): no part of its title there, but inside it part of its spelling (a Persian word's
#: non-joiner, a family emoji's joiners, a long word's break hint)
INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060\u200e\u200f\u061c"
# "1957:" may start a title; "(2)" and "（二）" are numbers in brackets, "Step 2:" (as the skeleton may number its lines),
# "第2点：", "要点2：" and "ポイント2：" ("point 2:") labels, and "【" opens a title in the brackets Chinese and Japanese
# headers wear ("【Title】")
_LABEL = r"(?:(?:point|step|part)\s+|第\s*|要点\s*|ポイント\s*)"
_NUMBER = re.compile(rf"[\s{INVISIBLE}]*(?:#+\s*)?(?:[-*•]\s+|・\s*)?{EMPHASIS}?"
                     rf"(?:(?:(?:[(（](?=(?:\d{{1,4}}|{CJK_NUMBER})[)）]))?(?P<n>\d{{1,4}}|{CJK_NUMBER})[.)．）、]"
                     rf"|(?P<circled>[①-⑳])[.)．）、]?"
                     rf"|{_LABEL}(?P<label>\d{{1,4}}|{CJK_NUMBER})\s*(?:点|點|条|條|项|項)?\s*[:：.、])"
                     rf"[\s{INVISIBLE}]*{EMPHASIS}?[\s{INVISIBLE}]*)?【?", re.I)
# with the full-width forms of Chinese and Japanese ("、" lists: "饮食、咖啡因和酒精"); "." and "-" only before a space
# ("Express.js", "Sleep-deprived"), a dash (?P<dash>) only where no second one follows in the sentence ("Empathy —
# understanding what people need — builds trust."; Chinese writes it doubled, "——"); a title's closing "】"
# (French writes a no-break space before the colon: probe 346)
_SEPARATOR = re.compile(rf"[ \t]*(?:】[ \t]*)?{EMPHASIS}?[ \t\xa0\u202f]*(?:[:：．。]|[.\-](?=[*_]*(?:\s|\Z))"
                        rf"|(?P<dash>——|[–—]))|[ \t]*】(?:[ \t]*{EMPHASIS}?[ \t]*[:：])?")
#: what follows a title that heads a line rather than opening its sentence: a separator ("Dim the lights: ...",
#: "Dim the lights – ...")
TITLE_SEPARATOR = re.compile(r"[ \t\xa0\u202f]*(?:[:：]|[-–—][ \t])")
# the next character on the line (a title's own full stop ends its header only where no lower case follows)
_NEXT_ON_LINE = re.compile(r"[ \t\u00a0]*(\S)")
_SENTENCE_REST = re.compile(r"[^.!?。！？\n]*")
_SECOND_DASH = re.compile(r"—|\s[-–]\s")
# What follows a bare title (no number, no separator) that is a header: its line's end, after its emphasis closing.
_BARE_TITLE_END = re.compile(rf"{EMPHASIS}?[ \t]*(\n)?")
_CLOSE = re.compile(rf"{EMPHASIS}?\s*")
#: a header's full-width punctuation, as its ASCII forms (digits of any script are compared as int())
_FULL_WIDTH = str.maketrans("．）、：（", ".).:(")
_SQUEEZED = re.compile(rf"[\s*_\-•・#(【{INVISIBLE}]+")
_CJK_NUMERALS, _CIRCLED = re.compile(CJK_NUMBER), re.compile("[①-⑳]")
_NUMERAL_GROWING = re.compile(r"\s*(?:[(（]|第\s*)?[一二三四五六七八九]?十")
# "第2点", "要点2" and "ポイント2" are "2" (and what may still become one of them nothing)
_CJK_LABEL = re.compile(r"(?:第|要点?|ポ(?:イ(?:ン(?:ト)?)?)?)(?=\d|$)|(?<=\d)[点點条條项項]")
#: what a header's line opens with before its number or title: a Markdown heading's marks, a bullet
_OPENING = re.compile(r"\s*(?P<heading>#+\s*)?(?:[-*•]\s+|・\s*)?")
_EMPHASIS_RUN = re.compile(r"\*+|_+")
#: characters a header's line may hold after its separator at most: a gist, not a paragraph
HEADER_LINE = 200
UNDECIDED = -1
_DECIMAL_POINT = re.compile(r"\d[.,]\Z")


class OwnHeader:
    """The header of point ``index``, titled ``title``, as its expansion may restate it. ``continues``: the prefill
    the reply goes on from; one that ends in the title ("2. Sleep") leaves the header's separator to the reply (":
    Keep a schedule."), which then goes as a restated header would."""

    def __init__(self, index: int, title: str, continues: str = "") -> None:
        # a title's own full stop ends an abbreviation ("Water at 7 a.m."): a restatement may leave it out
        self._index, self._titles = index, sorted({title.lower(), title.lower().removesuffix(".")}, key=len)[::-1]
        self.after_title = continues.rstrip(" *").lower().endswith(tuple(self._titles))
        # the forms a restated header takes, squeezed as _squeeze does (compared with the reply's start)
        self._forms = tuple(_squeeze(form) for title in self._titles for form in (
            f"{index}. {title}:", f"{title}:", *(f"{label} {index}. {title}:" for label in ("point", "step", "part"))))

    def may_grow(self, text: str) -> bool:
        """Could the text so far still grow into a restated header?"""
        if _NUMERAL_GROWING.fullmatch(text):
            return True  # "十" may still be "十一、", whose value is no prefix's
        seen = _squeeze(text)
        return any(len(seen) < len(full) and full.startswith(seen) for full in self._forms)

    def end(self, text: str, final: bool) -> int | None:
        """Where the text after a restated header begins (``None``: the text does not start with one; ``UNDECIDED``
        while its sentence has still to show whether its dash is the header's, or its line where it ends)."""
        number = _NUMBER.match(text)
        assert number is not None  # every part of it is optional
        n = number["n"] or number["label"] or number["circled"]
        if n is not None and number_value(n) != self._index:  # "٣.", "３.", "三、" and "③" are 3 too
            return None
        start = number.end()
        title = next((t for t in self._titles if text[start:start + len(t)].lower() == t), None)
        if title is None:
            return None
        end = title_end = start + len(title)
        separator = _SEPARATOR.match(text, end)
        if separator is None and title.endswith(".") and (after := _NEXT_ON_LINE.match(text, end)) \
                and not after[1].islower():
            separator = _SEPARATOR.match(text, end - 1)  # "2. Water at 7 a.m. Drink ...": the stop ends both
        if separator:
            end = separator.end()
            if separator["dash"] or text[end - 1] == "-":  # "Title — text." or "Title — an aside — text."
                if (aside := dash_aside(text, end, final)) is None:
                    return UNDECIDED
                if aside:
                    return None
            return _line_end(text, start, title_end, _close_end(text, end), final)
        close = _BARE_TITLE_END.match(text, end)
        assert close is not None  # every part of it is optional
        if n is None and not close[1]:
            # a bare title is a header only on a line of its own ("### Title", "**Title**"): "Use LED bulbs to save
            # money." restates nothing, nor does "**Docker** Compose starts ..."
            return None
        if close.end() == len(text) and not final:
            return UNDECIDED  # its line's end, or more of its sentence, may follow
        if close[1] or close.end() == len(text) or close[0].strip() and not text[close.end()].islower():
            return _close_end(text, end)  # "2. Title\n", "**2. Title** Text."
        return self._runs_on(text, start, end, final)

    @staticmethod
    def _runs_on(text: str, start: int, end: int, final: bool) -> int | None:
        """Where a numbered title that runs on into its sentence begins ("2. Budget time for review.", "2. **Budget**
        time ..."): it is the sentence's own, so only the number goes, with emphasis opened before the title unless
        its line closes it. Where the number is inside that emphasis, a header closed with the title ("**2. Title**
        goes on") goes whole, as one with a separator would; one closed later keeps the text whole (``None``)."""
        runs = _EMPHASIS_RUN.findall(text, 0, start)
        if len(runs) % 2 == 0:
            return start  # "**2.** Budget time ..."
        line_end = text.find("\n", start)
        if line_end < 0 and not final:
            return UNDECIDED
        if runs[-1] not in text[start:line_end if line_end >= 0 else len(text)]:
            return start  # never closed ("2. *Budget time ..."): it goes with the number
        head = text[:start].rstrip(" \t")
        if head.endswith(runs[-1]):  # "2. **Budget** time ...": the emphasis stays with the title
            return len(head) - len(runs[-1])
        return _close_end(text, end) if text.startswith(runs[-1], end) else None


def _line_end(text: str, start: int, title_end: int, end: int, final: bool) -> int:
    """Where a header that goes on past its separator ends: a Markdown heading's line, or a header in emphasis that
    closes only at its line's end ("**Exercise: regular activity improves sleep**"), is the header whole, the
    skeleton line's gist with it. ``end`` (after the separator) for any other header, or a line too long for one."""
    opening = _OPENING.match(text)
    assert opening is not None  # every part of it is optional
    runs = _EMPHASIS_RUN.findall(text, opening.end(), start)
    unclosed = runs[0] if len(runs) % 2 and runs[0] not in text[title_end:end] else ""
    if not (opening["heading"] or unclosed) or not unclosed and "\n" in text[title_end:end]:
        return end  # (a heading whose line ended at its separator: the lines after it are the point's own)
    line_end = text.find("\n", end)
    if line_end < 0:
        return end if final or len(text) - end > HEADER_LINE else UNDECIDED
    line = text[end:line_end].rstrip(" \t:")
    if line_end - end > HEADER_LINE or unclosed and (not line.endswith(unclosed)
                                                     or _EMPHASIS_RUN.search(line[:-len(unclosed)])):
        return end
    return _close_end(text, line_end)


def _close_end(text: str, at: int) -> int:
    """Where the emphasis closing at ``at`` and the spaces after it end."""
    close = _CLOSE.match(text, at)
    assert close is not None  # every part of it is optional
    return close.end()


def goes_on(text: str, after: str) -> bool:
    """Does ``after``, the character that follows ``text``, go on with its last word or number ("Sure" + "ly",
    "Energy" + "-saving", "1." + "5", "1." + "e4"), rather than after it ("1." + " Sleep", "[[" + "A", "1." + "充":
    a Chinese list writes no space after its number)?"""
    return bool(after) and (text[-1:].isalnum() and (after.isalnum() or after in "-'’")
                            or bool(_DECIMAL_POINT.search(text)) and after.isascii() and after.isalnum())


def separator_end(text: str) -> int | None:
    """Where the text after a header's separator begins (``None``: the text does not start with one)."""
    separator = _SEPARATOR.match(text)
    return _close_end(text, separator.end()) if separator else None


def header_number(text: str) -> str | None:
    """The number of the header the text opens with ("2" of "**2. Title**", of "Point 2: Title"), if any."""
    number = _NUMBER.match(text)
    assert number is not None  # every part of it is optional
    return number["n"] or number["label"] or number["circled"]


def dash_aside(text: str, at: int, final: bool) -> bool | None:
    """Does the dash before ``at`` open an aside ("Empathy — understanding what people need — builds trust."): does
    a second dash follow in its sentence? None while the sentence may still show one."""
    sentence = _SENTENCE_REST.match(text, at)
    assert sentence is not None  # it matches the empty string too
    if _SECOND_DASH.search(sentence[0]):
        return True
    return None if sentence.end() == len(text) and not final else False


def number_value(n: str) -> int:
    """A list number's value: its digits in any script ("٣", "３"), a circled digit ("②"), Chinese numerals ("二",
    "十二") or Roman ones ("IV")."""
    if n.isdecimal():
        return int(n)
    if "①" <= n <= "⑳":
        return ord(n) - ord("①") + 1
    if n.isascii():  # Roman: a digit before a larger one is taken away ("IV")
        values = [_ROMAN[c] for c in n]
        return sum(-v if v < after else v for v, after in zip(values, [*values[1:], 0]))
    tens, ten, ones = n.rpartition("十")
    return (_CJK_DIGITS.index(tens or "一") * 10 if ten else 0) + (_CJK_DIGITS.index(ones) if ones else 0)


def _squeeze(text: str) -> str:
    """The text less case, spaces, emphasis and a heading's marks, its digits as ASCII and its list number's
    form (``2.``, ``2)``, ``(2)``, ``2、``, ``二、``, ``②``, ``第2点：``, ``Point 2:``, ``【Title】``) as one."""
    if not text.isascii():
        text = re.sub(r"\d", lambda m: str(int(m[0])), text.translate(_FULL_WIDTH))
        text = _CJK_LABEL.sub("", _CJK_NUMERALS.sub(lambda m: str(number_value(m[0])), text)).replace("】", ".")
        text = _CIRCLED.sub(lambda m: f"{number_value(m[0])}.", text)
    return _SQUEEZED.sub("", text).replace(")", ".").replace(":", ".").lower()
