"""Incremental skeleton parsing: a point is emitted the moment its line is complete.

Accepts the shapes real models write: ``1.`` / ``1)`` / ``(1)`` / ``Step 1:`` / ``I.`` / bullets, bold or heading
markdown, trailing colons, a preamble before the list and blank lines, and the marks of Chinese and Japanese
lists (``1、``, ``１．``, ``（1）``, ``一、``, ``（一）``, ``①``, ``・``). The first list marker decides the
list's kind; lines of another kind (sub-bullets, prose) are continuation lines and are ignored, as are
repeated or decreasing numbers and repeated titles.

Small and mid-size models often write the list inline, on one line or in a sentence (``Ways to cope are:
1. Exercise; 2. Sleep; and 3. Talk``, ``(1) A, (2) B``, ``1) A 2) B``): there an item ends where the next
number starts, or at the end of the line. An inline list starts only at a ``1`` that a ``2`` of the same
style follows, and a number only marks an item after punctuation, ``and``/``or``/``then`` or a bold ``**``
(``n)`` and ``(n)`` after any space): ordinary text with numbers in it stays one line ("in 2. quarter",
"version 3.1", "$2.50", "Python 3.12"). Only a list spaced by nothing else (``1. Build a kit 2. Make a plan
3. Stay informed``) has a ``2.`` after a word: its ``1.`` opens the line or ends a preamble, and a ``3.`` comes
next, each item with a letter ("1. Read chapter 2. of the book" stays whole); its first two items come when the
``3.`` starts. A lead-in line that ends in a list's first item (``Skeleton: 1. Relax``) has it where the
next line is that list's ``2``.

A title is the head that opens the line, in bold or before a colon or a spaced dash (``1. **Sleep**: 8 hours``,
``1. Sleep — 8 hours`` -> ``Sleep``), else the whole line; after the colon or dash of a plain line, a short
subtitle in Title Case stays with its name (``The Legend of Zelda: Tears of the Kingdom``; ``Exercise: regular
activity improves sleep`` -> ``Exercise``). A head that only labels the line keeps the rest with it: a number,
in digits or words, with words of a sequence or a time (``Day 1: Colosseum``, ``Step one: Gather data``, ``1957:
Sputnik launch``, ``Weeks 1-4: Base``, ``9:00 AM - 9:30 AM: Keynote``) or a head a list opens its lines with
(``Pro: No commute``, ``Monday: Legs``, ``Breakfast: Oatmeal``). A word bolded further on (``Keep a **cool**
room``) is no head.

Two kinds of lines are no points, because every expansion would restate them: a line that repeats an earlier point
(its title again, most of its words with only stop words added, or that line cut shorter, where it has three words
or more: ``Java`` after ``JavaScript`` is a point), and a title of two words or more that is only a phrase of the
question (``Social media platforms`` for "How do social media platforms influence ...", ``Quantum computers`` for
"... the basics of quantum computing?"); but one that the question lists beside another thing, with "and" / "or" /
"vs" or a list's separator (a comma, a semicolon, a list number, a line break), is one of the things it asks about
(``Monetary policy`` for "... fiscal and monetary policies ...", ``New York City`` for "... in New York City, San
Francisco Bay Area, or ..."), or that it compares ("a Roth IRA and a traditional IRA", "healthier than black
coffee", "compare X with Y"). Nor is a line that offers the user more of the answer (``Would you like me to
elaborate ...?``), or a title made only of the skeleton prompt's own words in a sentence (``The answer is``: a
reply to the prompt, not a point of the answer). Words compare by their first five letters, so that ``computing``
and ``computers`` are one word, except in an API model's titles, whose plans run parallel (``Pros of remote work
for employees``, ``... for employers``). With ``drop_subsumed`` (small models, which loop with small changes),
neither is a title whose content words an earlier title holds (``His legacy`` after ``His artistic legacy``), and
any words added to most of an earlier line's make a repeat; an API model's plan may well open with ``Overview of
fiscal and monetary policy`` and go on with ``Fiscal policy``. A small model's titles of the prompt's words alone
are no points either (``The final answer``), and its 3+-word phrases of the question count as repeats, as it loops
on the question too; for an API model a phrase of the question is only skipped, never a sign of a loop.

Once ``max_points`` are read the parser reads on to the next line: where the list goes on, ``ended_early`` says
so (the skeleton was cut there). A line that may yet be an offer to the user (``4. Would you ...``) is read to its
end first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .header import AFTER_FULL_WIDTH_MARK, CJK_NUMBER, INVISIBLE, ROMAN_NUMBER, TITLE_SEPARATOR, number_value
from .quality import NO_SPACES, STOP_WORDS

_NO_SPACES = re.compile(f"[{NO_SPACES}]")  # a script written without spaces: one "word" of it is a whole phrase
#: ``1.``, ``1)``, ``(1)``, ``Step 1:``, Roman ``IV.`` (upper case: "i." and "v." open sentences), and the forms of
#: Chinese and Japanese lists (``１．``, ``1、``, ``（1）``, ``一、``, ``（一）``, ``①``), where the title may follow
#: without a space: after an ASCII mark, a character of such a script; after a full-width mark, any
#: (``AFTER_FULL_WIDTH_MARK``: "1、Python入门", "２．「LED」照明")
_NUMBERED = re.compile(rf"^(?:(?:step|point|part)\s+(\d{{1,4}})\s*[:.)\-–]|[(（](\d{{1,4}}|{CJK_NUMBER})[)）]"
                       rf"|(\d{{1,4}}(?=[.)．）、])|{CJK_NUMBER}(?=、)|[①-⑳]|{ROMAN_NUMBER}(?=\.))[.)．）、]?)"
                       rf"(?:{AFTER_FULL_WIDTH_MARK}|(?=\s|$|[{NO_SPACES}]))\s*(.*)$", re.I)
_COUNTED = ("numbered", "roman")  # the kinds of list whose items count up
_BULLET = re.compile(r"^(?:[-*•+]\s+|・\s*)(.*)$")  # Japanese's "・" needs no space after it
#: emphasis marks, which a lead-in's label may wear (``**Skeleton:** 1. Relax``)
_EMPHASIS = re.compile(r"[*_]+")
#: the number of a bulleted item that is numbered too (``* 1. Plan``), or a numbered one numbered twice (``1. 3.
#: Snacks``); a year stays (``- 1969. Apollo 11``)
_NUMBER_MORE = re.compile(r"\d{1,2}[.)]\s+(.*)$")
#: a list number inside a line: ``1.``, ``1)``, ``(1)``, maybe bold, before a space; never part of a decimal,
#: a price or a version (``3.1.``, ``$2.``, ``v2.``). Three digits: an inline list may run past 99 items
_MARKER = re.compile(r"(?<![\w.,$€£(*])(\*\*)?(?:\((\d{1,3})\)|(\d{1,3})([.)]))(?=(?:\*\*)?\s)")
#: a ``1.`` glued to the text before it, a word or a sentence's end ("advice.1. Relax", "(briefly).1.", "2024.1.";
#: not "11."; a section's "§1.1. below" too, whose junk item is rarer than a lead-in's lost one)
_GLUED_ONE = re.compile(r"(?<=[^\s\d])(?:\((1)\)|1([.)]))\s+(?=\S)")
#: what may stand before an inline ``n.``: the end of a clause (in full-width forms too: "方法有：1. ...；2. ..."), a
#: conjunction
_ITEM_BEFORE = re.compile(r"(?:^|[:;,.!?)\-–—：；，。！？、]|\b(?:and|or|then))\s*$", re.I)
#: the separator left at the end of an inline item (``A; and``, ``A；``)
_ITEM_TAIL = re.compile(r"(?:[\s;,]*\b(?:and|or|then))?[\s;,；，、]*$", re.I)
#: bold text; a star just before its closing ``**`` is the text's (``**Avoid SELECT ***``)
_BOLD = re.compile(r"\*\*(.+?)\*\*(?!\*)|__(.+?)__")
#: words that label a line with a number, as a sequence or a time, and name no point ("Days 1-3", "Weeks 1-4",
#: "July 14, 1789", "3200 BC", "5th century", "9:00 AM - 9:30 AM", "Q1 2025", "Tag 1", "Día 3", "День 2"); others
#: name a thing ("B12", "Python 3", "PEP 695"). In English and the other languages whose lead-ins ``sotkit.talk``
#: knows (Chinese, Japanese and Korean are ``_CJK_LABEL``'s)
_SEQUENCE = frozenset("""day week month year hour minute min second sec age decade century centuries quarter q no
number step phase part stage chapter section point lesson module unit round level session option idea reason rule
item slide episode season am pm bc bce ad ce early late mid pre post circa
january february march april may june july august september october november december jan feb mar apr jun jul aug
sep sept oct nov dec
día dia semana mes año paso fase parte etapa capítulo sección lección nivel opción
mês ano passo capítulo seção lição opção
jour semaine mois année étape phase partie chapitre leçon niveau
tag woche monat jahr schritt teil stufe kapitel abschnitt lektion
giorno settimana mese anno passo fase parte tappa capitolo sezione lezione livello
gün hafta ay yıl adım aşama bölüm ders seviye
день дня дней неделя недели месяц год шаг этап часть глава раздел урок уровень
hari minggu bulan tahun langkah tahap bagian bab pelajaran
ngày tuần tháng năm bước giai đoạn phần chương bài""".split())
#: heads that label a line with no number: the kind of line a list repeats ("Pro: No commute", "Q: ...", "Monday:
#: Legs", "Breakfast: Oatmeal", "Late morning: The Louvre", "Lunes: piernas", "Vorteil: ..."), where the point is
#: the whole line; in the plural they name a section ("**Pros**: low carbon, reliable"). A word English heads use
#: ("Café", "MIDI", "Sore") counts only in its phrase (``_HEAD_PHRASES``: "café da manhã")
_HEADS = frozenset("""pro con advantage disadvantage tip myth fact q a note monday tuesday wednesday thursday friday
saturday sunday weekend weekday breakfast brunch lunch dinner supper snack morning afternoon evening night noon
midday midnight
ventaja desventaja contra lunes martes miércoles jueves viernes sábado domingo desayuno almuerzo comida cena
merienda mañana tarde noche consejo
vantagem desvantagem segunda terça quarta quinta sexta manhã almoço jantar lanche noite dica
avantage inconvénient lundi mardi mercredi jeudi vendredi samedi dimanche déjeuner dîner goûter matin soir conseil
vorteil nachteil montag dienstag mittwoch donnerstag freitag samstag sonntag frühstück mittagessen abendessen
morgen vormittag nachmittag abend tipp
vantaggio svantaggio lunedì martedì mercoledì giovedì venerdì sabato domenica colazione pranzo mattina pomeriggio
sera consiglio
avantaj dezavantaj artı eksi pazartesi salı çarşamba perşembe cuma cumartesi pazar kahvaltı öğle akşam sabah ipucu
плюс минус преимущество недостаток понедельник вторник среда четверг пятница суббота воскресенье завтрак обед
ужин утро вечер ночь совет
kelebihan kekurangan keuntungan kerugian senin selasa rabu kamis jumat sabtu sarapan siang malam pagi
sáng trưa tối chiều mẹo""".split())
_HEAD_PHRASES = frozenset("""café da manhã|petit déjeuner|après midi|segunda feira|terça feira|quarta feira|quinta
feira|sexta feira|öğle yemeği|akşam yemeği|makan pagi|makan siang|makan malam|ưu điểm|nhược điểm|bữa
sáng|bữa trưa|bữa tối|buổi sáng|buổi chiều|buổi tối|thứ hai|thứ ba|thứ tư|thứ năm|thứ sáu|thứ bảy|chủ
nhật""".replace("\n", " ").split("|"))
_LABEL_WORDS = _SEQUENCE | _HEADS
#: numbers written as words, which label a line as digits do ("Step one: Gather data", "Phase two: ...", "First:
#: ...", "Final step: ..."; a head of these alone was the title, and every point was asked to expand "Step one"
#: without its sight). English and the other languages of ``_SEQUENCE``; no word that is also an article ("un")
_NUMBER_WORDS = frozenset("""one two three four five six seven eight nine ten eleven twelve first second third fourth
fifth sixth seventh eighth ninth tenth eleventh twelfth final last next
dos tres cuatro cinco seis siete ocho nueve diez primero primera segundo segunda tercero tercera cuarto cuarta quinto
quinta último última
dois três quatro cinco primeiro primeira terceiro terceira
deux trois quatre cinq six sept huit neuf dix premier première deuxième troisième quatrième cinquième dernier
dernière
zwei drei vier fünf sechs sieben acht neun zehn erste erster erstes zweite zweiter dritte dritter vierte
fünfte letzte
due tre quattro cinque sei sette otto nove dieci primo prima terzo terza quarta ultimo ultima""".split())
_COUNT = r"[0-9０-９一二三四五六七八九十百两零〇]+"  # digits of either width, or Chinese numerals
#: a Chinese, Japanese or Korean head that labels its line: a day, week or step of a sequence ("第一天", "第2周",
#: "1日目", "1일차", "第三步"), a weekday ("周一", "月曜日", "월요일"), a meal or a time of day ("早餐", "朝食",
#: "아침"), a pro or a con ("优点", "メリット", "장점"), a number after it or not ("优点1")
_CJK_LABEL = re.compile(rf"""(?:
    第{_COUNT}(?:天|日|周|週|个?月|か月|ヶ月|年|步|章|节|節|部分|阶段|段階|课|課|讲|回|周目|週目)
    |{_COUNT}\s*(?:天|日目|日|周目|週目|ヶ月目|か月目|年目|일차|일째|주차|개월차|단계|일|주)
    |(?:周|星期|礼拜|禮拜)[一二三四五六日天] | [月火水木金土日]曜日? | [월화수목금토일]요일
    |早餐|午餐|晚餐|早饭|午饭|晚饭|加餐|宵夜|早上|上午|中午|下午|傍晚|晚上|夜间|朝食|昼食|夕食|間食|朝|昼|夜|午前|午後|夕方
    |아침|점심|저녁|간식|오전|오후|밤
    |优点|缺点|优势|劣势|好处|坏处|弊端|長所|短所|利点|欠点|メリット|デメリット|장점|단점
    |(?:步骤|ステップ|단계)\s*{_COUNT}
    )(?:{_COUNT})?""", re.VERBOSE)
_LABEL_TOKEN = re.compile(r"\d+(?:st|nd|rd|th|s)?(?![^\W\d_])|\d+|[^\W\d_]+")
#: what opens a line that speaks to the user (after a "please")
_OFFERS = ("would you like", "do you want me to", "shall i", "let me know", "feel free", "is there anything else",
           "if you'd like me to", "if you would like me to", "if you want me to", "i hope")
#: a line that offers the user more of the answer (a closing offer written as one more list line) is no point of
#: it: its words point at the answer. A phrase to someone that offers anything else ("Would you like help with
#: your luggage?", "Let me know if you need any further information") may well be one.
_ADDRESS = re.compile(r"[*_\s]*(?:please\s+)?(?:"
                      + "|".join(re.escape(o).replace(r"\ ", r"\s+").replace("'", "['’]") for o in _OFFERS) + r")\b"
                      r".*?\b(?:elaborat|expand(?:ing)?\s+(?:on|upon)\b|any of (?:these|them|those|the above)"
                      r"|more (?:detail|information|info|examples|tips|ideas)|(?:ask|for) more\b|in more depth"
                      r"|(?:this|that|these|it) (?:helps|is helpful)\b)", re.I)
#: what ends a line's head: a colon (a full-width one needs no space after it: ``饮食：均衡营养``), or a spaced em or
#: en dash after no number (``Heart health — lowers blood pressure``, ``Build a base — 3–4 weeks``; ``Ages 3 – 5``
#: and ``Check-in 3pm – 11pm`` are ranges, ``Day 1 – Arrival`` a label; ``Wake at 6am — beat the crowds`` ends there)
_HEAD_END = re.compile(r": |：|(?<!\d)(?<!\d[apAP][mM])(?<!\d [apAP][mM]) [—–] |(?<=[\d ][apAP][mM]) [—–] (?!\d)")
#: words in a subtitle after a head at most (``_is_subtitle``)
SUBTITLE_WORDS = 6
#: punctuation that ends a sentence or a clause, which no subtitle has ("3.12" is a number)
_SENTENCE_END = re.compile(r"[.!?;](?!\w)|[:：]")
#: characters in one line past which it cannot be a skeleton point
MAX_LINE = 300
#: tokens a skeleton line may take where the provider can end lines itself (local models). The paper asks for
#: 3-5 words a point; small models go on to explain each one, which costs time and adds nothing to the title.
LINE_TOKENS = 16
#: list lines in a row that repeat an earlier point, after which the model is taken to be looping
MAX_REPEATS = 2
#: a line that stutters its own number (``1. 1. 1.``): a small model stuck in a loop
_STUTTER = re.compile(r"^\s*(\d+)[.)]\s+\1[.)]\s+\1[.)]")
#: share of a line's words found in an earlier point's line that makes it a repeat of that point
REPEAT_WORDS = 0.8
#: words an API model's repeat may add to an earlier line's: no others ("before" / "after", "not" make points)
_FILLERS = frozenset("a an the each every any some all your my our their his her its this that these those".split())
_WORD = re.compile(r"[\w'’-]+[#+]*")  # C, C# and C++ are three words
_LETTER = re.compile(r"[^\W\d_]")
#: what separates the things a question lists: a comma or semicolon, a spaced slash or ampersand, a line break,
#: a list number or bullet ("tea, coffee and wine", "1. Time management 2. Healthy eating")
_QUESTION_TOKEN = re.compile(r"(?P<sep>[,;](?=\s)|\s[/&](?=\s)|\n|(?m:^[ \t]*[-*•+](?=\s))"
                             rf"|(?<![\w.])\(?\d{{1,2}}[.)](?=\s))|{_WORD.pattern}")
#: words (by stem) of the skeleton prompt that a small model writes as titles ("The answer is", "The skeleton is");
#: not "point": "Point 1" is a placeholder that tests script. A title of these words alone is no point only when it
#: names the answer or the skeleton: "Questions" (for an interview) or "Outline" (for a paper) may well be points.
_PROMPT_WORDS = frozenset(("answe", "quest", "skele", "respo", "final", "last", "title", "outli"))
_ECHOED = frozenset(("answe", "skele"))
#: a title that is a sentence ("The answer is"): any model's reply to the prompt, where "The final answer" may be
#: an API model's point
_SENTENCE = re.compile(r"\b(?:is|are|was|were)\b", re.I)
#: the stems that join a phrase of the question to another thing it names (``,``: a list's separator)
_JOINS = frozenset(("and", "or", "v", "versu", ","))
#: the stems that join the other thing in a comparison ("compare X with / to / against Y", "X compared to Y")
_COMPARED_TO = frozenset(("with", "to", "again"))


@dataclass(frozen=True)
class SkeletonPoint:
    index: int
    title: str


class SkeletonParser:
    """Feed it the skeleton stream; it returns each point as soon as its line ends, the first with the second (a
    head the second repeats makes the first's title its whole line).

    >>> p = SkeletonParser()
    >>> p.feed("1. Plan ahead\\n2. Sle"), p.feed("ep well\\n3. Exer"), p.finish()
    ([], [SkeletonPoint(index=1, title='Plan ahead'), SkeletonPoint(index=2, title='Sleep well')], \
[SkeletonPoint(index=3, title='Exer')])
    """

    def __init__(self, max_points: int = 10, *, question: str = "", drop_subsumed: bool = False) -> None:
        self.max_points = max_points
        self._drop_subsumed = drop_subsumed
        self.points: list[SkeletonPoint] = []
        self._question = _question_stems(question)
        self._lines: list[str] = []  # the body of each point's line, for spotting repeats
        # the points' titles, by stems for a small model (a head repeated in other forms of its words is no new
        # point), else by words less a plural's s: "Pros for employers" after "Pros for employees" is a point
        self._title_key = _stems if drop_subsumed else _words
        self._titles: set[tuple[str, ...]] = set()
        self._topics: list[frozenset[str]] = []  # the stems of each point's content words
        self._buffer = ""
        self._spaced = False  # the buffer's line holds a spaced inline list (``_next_item``)
        self._kind: str | None = None  # "numbered", "roman" or "bullet", fixed by the first point
        self._indent = 0  # the first point's indentation: a line indented deeper is a sub-item of a point
        self._last_number = 0
        self._repeats = 0  # list lines in a row that repeated an earlier point (or, a small model's, the question)
        self._repeated: set[str] = set()  # what those lines repeated, for ended_early to say
        self._went_on: bool | None = None  # once full: did a further line of the list start (None: not yet known)
        self._lead_in: tuple[str, str] | None = None  # style and text of a ``1.`` item that ended a lead-in line
        # a Roman list's first line and the lines under it, held until a list line shows whether it opens a Roman
        # list ("II. ...") or heads another ("I. Overview" above "1. Plan ahead"); where the stream ends first, the
        # list indented under it is the skeleton ("I. Overview\n   1. Plan ahead\n   2. ..."), or the line alone
        self._roman: list[str] | None = None
        self._first_out = False  # the first point was returned (``_settled``)
        self.first_number: int | None = None
        """A numbered list's first point's number."""
        self._not_points: set[int] = set()  # numbers of list lines before the first point judged no point
        self._numbers: set[int] = set()  # the numbers of every counted list line, point or not
        # a list line numbered 1 came after the points: another list (the answer's), begun "after a break" (a blank
        # line or prose) or "in the list" (a stray line: a line numbered on from the points after it is said)
        self._restarted: str | None = None
        self._broken = False  # a blank line or prose came since the last point
        self._after_stray = 0  # list lines numbered on from the points after a stray "1." (all left out)
        self._lazy = False  # every point so far is numbered 1: a Markdown list's lazy numbering ("1.\n1.\n1.")
        self.left_out: list[str] = []
        """The titles of list lines that wrote a number again or out of order ("1.\n2.\n2.\n3.", "1.\n3.\n2."), left
        out: the answer may lack the points they were."""

    @property
    def full(self) -> bool:
        return len(self.points) >= self.max_points

    @property
    def holding(self) -> bool:
        """Are whole lines held back (a Roman heading's), which ``finish`` or ``release`` will read?"""
        return self._roman is not None

    @property
    def done(self) -> bool:
        """Nothing more can come of the stream: the skeleton is full and the next line has shown whether the list
        went on, or it ended early (``ended_early``)."""
        return (self.full and self._went_on is not None) or self.ended_early is not None

    @property
    def ended_early(self) -> str | None:
        """Why sotkit ends the stream before the model ends its skeleton, if it does: the line being written is
        far too long to be a point (a model answering instead) or stutters (``1. 1. 1. ...``), the last list
        lines only repeated earlier points (or the question), or the list went on past ``max_points``."""
        if self.full:
            return f"the list went on past max_points={self.max_points}" if self._went_on else None
        if len(self._buffer) > MAX_LINE:
            return f"a line ran past {MAX_LINE} characters (an answer, not a list)"
        if self._repeats >= MAX_REPEATS:
            return f"its last {MAX_REPEATS} list lines repeated {' and '.join(sorted(self._repeated))}"
        if _STUTTER.match(self._buffer):
            return "a line stuttered its number (1. 1. 1.)"
        return None

    def feed(self, text: str) -> list[SkeletonPoint]:
        """Add streamed text; return the points whose lines (or inline items) it completed, the first with the
        second (``_settled``)."""
        if not text.strip(" \t") and self._buffer.endswith((" ", "\t")):
            # more spaces after a space end no item that the first did not (a model stuck on spaces was read again
            # whole at every piece); a line grown past its length still shows whether a full list goes on
            self._buffer += text
            if self.full and self._went_on is None and len(self._buffer) > MAX_LINE:
                self._look_past_full(self._buffer, ended=True)
            return []
        *lines, self._buffer = (self._buffer + text).split("\n")
        points = []
        for line in lines:  # the first goes on the buffer's line, and its list
            items, _ = _items(line, self._spaced)
            self._spaced = False
            points += [p for item in items for p in self._parse(item)]
        (*items, self._buffer), self._spaced = _items(self._buffer, self._spaced)
        points += [p for item in items for p in self._parse(item)]
        if self.full and self._went_on is None:  # the line being written may show already that the list goes on
            self._look_past_full(self._buffer, ended=len(self._buffer) > MAX_LINE)
        return self._settled(points)

    def finish(self) -> list[SkeletonPoint]:
        """The stream ended: parse the last, unterminated line, then ``release`` what was held back."""
        line, self._buffer, self._spaced = self._buffer, "", False
        return self._settled(self._parse(line) + self._release_roman(), ended=True)

    def release(self) -> list[SkeletonPoint]:
        """The points held back, where the stream ended (or broke off): a first point alone, and whole lines of a
        Roman heading, before a list line showed what the heading is: the list under it, else the heading alone."""
        return self._settled(self._release_roman(), ended=True)

    def _release_roman(self) -> list[SkeletonPoint]:
        if self._roman is None:
            return []
        (head, *under), self._roman = self._roman, None
        points = [p for held in under for p in self._parse(held)]
        return points or [p for p in [self._parse_line(head)] if p]

    def _settled(self, points: list[SkeletonPoint], ended: bool = False) -> list[SkeletonPoint]:
        """The points whose titles are settled: the first waits for the second (or the stream's end), whose head,
        where it repeats the first's title, makes both titles their whole lines ("Time: mornings", "Time: noon")."""
        if self._first_out:
            return points
        if len(self.points) < 2 and not (ended and self.points):
            return []
        self._first_out = True
        return [self.points[0], *(p for p in points if p.index != 1)]

    def _look_past_full(self, line: str, *, ended: bool) -> None:
        """Once the skeleton is full, does the list go on? A further item of it says so; a line of anything but
        a list (a closing remark; an ``ended`` one) says not; sub-items and blank lines say nothing yet."""
        kind, number, title, body = _classify(line)
        if kind is None or _ADDRESS.match(body):
            if ended and _LETTER.search(line):
                self._went_on = False
        elif not ended and _may_offer(body):
            return  # "4. Would you ..." may yet become an offer to the user, which is no further point
        elif kind == self._kind and _LETTER.search(title) and self._indent_of(line) < self._indent + 2:
            self._went_on = kind == "bullet" or number > self._last_number or number == 1 and self._lazy

    def _parse(self, line: str) -> list[SkeletonPoint]:
        """The points of a line (or an inline item). A ``1.`` that ends a lead-in line (``Skeleton: 1. Relax``,
        ``Sure! 1. Relax``) is item 1 when the next list line is its ``2.``; alone, it may be any number in a
        sentence."""
        points = []
        if not self.points and _LETTER.search(line):
            kind = _classify(line, titled=False)[0]
            if self._roman is not None:
                head, *under = self._roman
                if kind is None or kind != "roman" and self._indent_of(line) >= self._indent_of(head) + 2:
                    self._roman.append(line)  # prose or an item under it: nothing shown yet
                    return []
                self._roman = None
                if kind == "roman":  # "II.": a Roman list, whose first section it is (what came under it details it)
                    points.append(self._parse_line(head))
                else:  # a list line beside it: it headed a list, read as if it were not there
                    return [p for held in [*under, line] for p in self._parse(held)]
            elif kind == "roman":
                self._roman = [line]
                return []
            lead_in, self._lead_in = self._lead_in, None
            if lead_in and (style := _own_style(line)) and style[:2] == (lead_in[0], 2):
                points.append(self._parse_line(lead_in[1]))
            elif kind is None:
                self._lead_in = _lead_in(line)
        points.append(self._parse_line(line))
        return [p for p in points if p]

    def _parse_line(self, line: str) -> SkeletonPoint | None:
        if self.full:
            if self._went_on is None:
                self._look_past_full(line, ended=True)
            return None
        kind, number, title, body = _classify(line)
        self._broken = self._broken or kind is None  # (a blank line or prose since the last point)
        if kind is None and self._lazy and _LETTER.search(line) and self._indent_of(line) <= self._indent \
                and line.rstrip(" *_").endswith((":", "：")):
            # a lead-in ends a Markdown list: a "1." after it begins another ("In short:"); a line under an item,
            # a blank line before it or not, goes on with it ("1. Plan ahead\nMake a weekly schedule.\n1. Dim ...")
            self._lazy = False
        if kind is None or (self._kind is not None and kind != self._kind):
            return None  # no list item
        indent = self._indent_of(line)
        nested = bool(self.points) and indent >= self._indent + 2  # Markdown nests from two spaces in; one is a slip
        if kind in _COUNTED and not nested:  # (a nested list's numbers are not the points')
            self._numbers.add(number)
        if not _names(title, number):
            self._no_point(kind, number)  # one that names nothing (``1. 1. 2. 3.``, ``2. 50%``)
            return None
        if _ADDRESS.match(body):
            self._no_point(kind, number)  # "Would you like me to elaborate on any of these?": an offer
            return None
        if nested:
            return None  # "   2. Cool room" under "1. Sleep hygiene" details that point; it is none of its own
        head = title
        head_repeated = self._title_key(title) in self._titles
        if head_repeated:  # small models repeat a head ("Topic: ..."); the whole line may differ
            title = _clean(body)
            # "Head: 3. more text" under a repeated head is the model restarting its list inside a line
            if not title or self._title_key(title) in self._titles or _NUMBERED.match(_at_head_end(body)[2]):
                self._repeat("earlier points")
                return None  # a point is written once
        if self._restarted and kind in _COUNTED:
            # a list begun again after the points ("In short:\n1. ...\n2. ..."): none of its items, but the next
            # number may be a point after a stray line ("2. Dim the lights\n1. Stretch\n3. Walk"): said
            if self._restarted == "in the list" and number == self._last_number + 1 + self._after_stray \
                    and not self._expands_a_point(title):
                self.left_out.append(title)
                self._after_stray += 1
            return None
        if kind in _COUNTED and number <= self._last_number and not (number == 1 and self._lazy):
            # a nested or restarted list, or a number written again: a point rewritten ("2. Sleep well" and "2.
            # Sleep well again"), or another, left out and said (``left_out``) where it repeats no point
            if number == 1 and kind == "numbered":  # ("I." may be a pronoun)
                self._restarted = "after a break" if self._broken else "in the list"
            if not (self._restarted or title[:1].islower() or self._repeats_a_point(title, body, loose=True)
                    or self._expands_a_point(title)):
                self.left_out.append(title)
            return None
        if self._repeats_a_point(title, body, loose=head_repeated or self._drop_subsumed):
            self._repeat("earlier points")
            return None
        # a phrase of the question is its topic (one word may well be a point), unless the question lists it
        # beside other things ("green tea, black coffee and red wine"): then it is one of the things asked about
        stems = _stems(title)
        if len(stems) >= 2 and _contains(self._question, stems) and not _joined_in(self._question, stems):
            if self._drop_subsumed and len(stems) >= 3:
                self._repeat("the question")  # a small model that loops writes the question again and again
            self._no_point(kind, number)  # the question's topic ("Quantum computing"): every point's
            return None
        topic = _content_stems(title)
        if (words := {t for t in topic if not t.isdigit()}) and words <= _PROMPT_WORDS and words & _ECHOED \
                and (self._drop_subsumed or _SENTENCE.search(title)):
            self._no_point(kind, number)  # "The answer is": the prompt's words, nothing to expand
            return None
        if self._drop_subsumed and self._rewrites_a_title(topic):
            return None
        if head_repeated and len(self.points) == 1 and self._title_key(self.points[0].title) == self._title_key(head):
            self._retitle_first()  # a list that heads its lines alike ("Time: mornings", "Time: noon")
        self._kind, self._repeats, self._broken = kind, 0, False
        self._repeated.clear()
        if kind in _COUNTED:
            self._last_number = number  # a line judged no point leaves its number to the next ("1. <topic>")
            self._lazy = number == 1 and (self._lazy or not self.points)
        if not self.points:
            self._indent = indent
            self.first_number = number if kind in _COUNTED else None
        point = SkeletonPoint(index=len(self.points) + 1, title=title)
        self.points.append(point)
        self._titles.add(self._title_key(title))
        self._topics.append(topic)
        self._lines.append(body)
        return point

    def _retitle_first(self) -> None:
        """The first point is its whole line, as the second is, whose head repeats its title: it was "Time" beside
        "Time: noon", and its call never saw what it was to write (it is held back until then: ``_settled``)."""
        title = _clean(self._lines[0])
        self.points[0] = SkeletonPoint(index=1, title=title)
        self._titles.add(self._title_key(title))
        self._topics[0] = _content_stems(title)

    def _expands_a_point(self, title: str) -> bool:
        """Does a list line's title open with a point's title as its header ("Dim the lights: use warm bulbs"; not
        "Diet pills" after "Diet")?"""
        title = title.casefold()
        return any(title.startswith(point := p.title.casefold()) and TITLE_SEPARATOR.match(title, len(point))
                   for p in self.points)

    def _no_point(self, kind: str, number: int) -> None:
        """A list line judged no point; before the first point, its number is no missing point's."""
        if kind in _COUNTED and not self.points:
            self._not_points.add(number)

    @property
    def began_late(self) -> bool:
        """Did the numbered list begin past 1, with a point before it missing (not a line judged no point: "1. <the
        question's topic>")? "Tips 1. Keep a schedule\n2. ...": a 1 after a word may be a number in a sentence."""
        first = self.first_number or 1
        return first > 1 and not set(range(1, first)) <= self._not_points

    @property
    def skipped(self) -> list[int]:
        """The numbers the numbered list skipped between its points, on no line at all ("1.\n2.\n4."): the points
        they were may be missing."""
        if self.first_number is None:
            return []
        return [n for n in range(self.first_number + 1, self._last_number) if n not in self._numbers]

    def _repeat(self, what: str) -> None:
        self._repeats += 1
        self._repeated.add(what)

    @staticmethod
    def _indent_of(line: str) -> int:
        expanded = line.expandtabs(4)
        return len(expanded) - len(expanded.lstrip())

    def _rewrites_a_title(self, topic: frozenset[str]) -> bool:
        """Is a title with these content words a small model's loop over one earlier title? "Quantum bit" after
        "Quantum bits (qubits)" covers nothing new; "Relevance to the topic" after "Relevance" is that title with
        words added. One that joins two earlier titles ("Fiscal and monetary policy together") is a point."""
        extended = [earlier for earlier in self._topics if earlier and earlier <= topic]
        return bool(topic) and (len(extended) == 1 or any(topic <= earlier for earlier in self._topics))

    def _repeats_a_point(self, title: str, body: str, loose: bool) -> bool:
        """Does the line say again what an earlier point's line said? Small models loop with small changes,
        and the line limit cuts a repeated line shorter (``... in 1886``, then ``... in 188``). Lines and titles
        of one or two words are only compared whole: a short title may well be a word of another point's line, or
        the start of one ("Java" after "JavaScript", "SQL" after "SQL databases").
        Most words (``REPEAT_WORDS``) of an earlier line make a repeat where the words added are articles and the
        like (``_FILLERS``: "before every meal", "before each meal"), or, ``loose``, any (a small model's, or
        under a repeated head); otherwise a plan's parallel titles would go ("Pros of remote work", "Cons of
        remote work"; "Life before the war", "Life after the war")."""
        line, words = body.casefold(), set(_WORD.findall(title.casefold()))
        cut = _WORD.findall(line)
        for earlier in map(str.casefold, self._lines):
            earlier_words = _WORD.findall(earlier)
            if earlier == line or _cut_from(cut, earlier_words):
                return True
            shared = words & set(earlier_words)
            if len(words) >= 3 and len(shared) >= REPEAT_WORDS * len(words) and (loose or words - shared <= _FILLERS):
                return True
        return False


def _cut_from(words: list[str], earlier: list[str]) -> bool:
    """Are the words (three or more) those that open the earlier line's, the last maybe cut off mid-word?"""
    n = len(words)
    return n >= 3 and len(earlier) >= n and words[:-1] == earlier[:n - 1] and earlier[n - 1].startswith(words[-1])


def _may_offer(body: str) -> bool:
    """Could this unfinished line still become an offer to the user (``_ADDRESS``)? It opens with one, or with
    the start of one ("Would yo")."""
    text = " ".join(body.strip(" *_").casefold().replace("’", "'").split())
    text = text.removeprefix("please ")
    return any(offer.startswith(text) or text.startswith(offer) for offer in ("please", *_OFFERS))


def _items(line: str, spaced: bool = False) -> tuple[list[str], bool]:
    """A line cut where inline list items start (in an unfinished line, the last piece may still grow), and
    whether the list in it is a spaced one (``_next_item``), which the last piece goes on."""
    items = []
    while (cut := _next_item(line, spaced)) is not None:
        start, spaced = cut
        items.append(_ITEM_TAIL.sub("", line[:start]))
        line = line[start:]
    return items + [line], spaced


def _next_item(line: str, spaced: bool = False) -> tuple[int, bool] | None:
    """Where the next inline item starts in a line: the next number after a numbered line's own, or the ``1``
    of a list that a ``2`` confirms after a preamble (``The ways are: 1. ... 2. ...``); and whether the list is
    ``spaced``: one whose ``1.`` a spaced ``2.`` (after a word, as in "in 2. quarter") follows, then a ``3.``, each
    after an item with a letter (``1. Build a kit 2. Make a plan 3. Stay informed``). Only such a run of three
    makes a spaced number an item, and from then on each next number is one however it is written; as the ``3.``
    decides, the first two items come when it starts."""
    kind, number, _, _ = _classify(line, titled=False)
    if kind in ("bullet", "roman"):  # (inline lists are numbered in digits)
        return None
    markers = [(m.start(), *style) for m in _MARKER.finditer(line, 1) if (style := _item_style(line, m))]
    if kind == "numbered":
        own = _own_style(line)
        mark = own[0] if own else "."  # ``Step 1:`` continues with ``2.``
        following = [(start, n, loose) for start, s, n, loose in markers if s == mark]
        if spaced:
            return next(((start, True) for start, n, _ in following if n == number + 1), None)
        if number == 1 and (two := _spaced_two(line, following)) is not None:
            return two, True
        return next(((start, False) for start, n, loose in following if n == number + 1 and not loose), None)
    for start, _, n, loose in markers:
        if n == 1 and not loose and _next_item(line[start:]) is not None:
            return start, False
    return None


def _own_style(line: str) -> tuple[str, int, bool] | None:
    """``_item_style`` of the number that opens the line (after a heading's ``#``), if one does."""
    head = _trim(line).lstrip("#").strip()
    return _item_style(head, _MARKER.match(head))


def _lead_in(line: str) -> tuple[str, str] | None:
    """The style and text of the ``1.`` item that ends a line which is no list item (``Skeleton: 1. Relax``,
    ``**Skeleton:** 1. Relax``; or glued on, as where a Claude turn's text blocks are joined: ``advice.1. Relax``).
    Not a ``1.`` after a word and a space ("version 1. It is fast"), which may be a number in a sentence."""
    line = _EMPHASIS.sub("", line)
    for marker in _MARKER.finditer(line, 1):
        if (style := _item_style(line, marker)) and style[1:] == (1, False):
            return style[0], line[marker.start():]
    if glued := _GLUED_ONE.search(line):
        return "()" if glued[1] else glued[2], line[glued.start():]
    return None


def _spaced_two(line: str, following: list[tuple[int, int, bool]]) -> int | None:
    """Where the spaced ``2`` starts that, with a ``3`` right after it, opens a spaced list after a line's ``1.``
    (``following``: start, number, spaced of the next numbers), each after an item with a letter; None: none does.
    ``1. 2. 3.`` is a stutter, "1. Read chapter 2. of the book" one stray number, and "1. Sales in 2. quarter; 2.
    Costs" a list whose ``2`` follows punctuation. A number above 3 between them is a count or a price, not an item
    ("1. Read the top 100. list 2. Plan 3. Act")."""
    run = [marker for marker in following if marker[1] <= 3][:2]
    if [n for _, n, _ in run] != [2, 3] or not run[0][2]:
        return None
    (two, _, _), (three, _, _) = run
    return two if _LETTER.search(line, 0, two) and _LETTER.search(line, two, three) else None


def _item_style(line: str, marker: re.Match[str] | None) -> tuple[str, int, bool] | None:
    """``(style, number, spaced)`` of a list number that can start an item here, else None. ``spaced``: an ``n.``
    after a word and a space alone ("in 2. quarter"), which starts an item only in a spaced list (``_next_item``)."""
    if marker is None:
        return None
    style = "()" if marker.group(2) else marker.group(4)
    spaced = style == "." and not marker.group(1) and not _ITEM_BEFORE.search(line, 0, marker.start())
    return style, int(marker.group(2) or marker.group(3)), spaced


#: invisible marks around a line's number's mark ("2\u200b.", "2.\u200f" in right-to-left text) are no part of it
#: (probe 346: the line was no point)
_INVISIBLE_IN_NUMBER = re.compile(rf"^(\d+)[{INVISIBLE}]*([.)．）、])[{INVISIBLE}]*")


def _classify(line: str, *, titled: bool = True) -> tuple[str | None, int, str, str]:
    """``(kind, number, title, body)`` of a line, or ``(None, 0, "", "")`` when it is not a list item. Not
    ``titled``, the title is left empty (finding it costs most, and the line of each streamed piece needs none)."""
    text = _INVISIBLE_IN_NUMBER.sub(r"\1\2", _trim(_trim(line).lstrip("#")), count=1)
    plain = text.replace("**", "").replace("__", "").strip()
    if m := _NUMBERED.match(plain):
        number_text = next(g for g in m.groups()[:3] if g)
        # Roman numbers are a list of their own kind: an outline's sections, whose lines numbered 1, 2 detail them
        kind = "roman" if number_text.isascii() and number_text.isalpha() else "numbered"
        number, body = number_value(number_text), m.group(4)
    elif m := _BULLET.match(plain):
        kind, number, body = "bullet", 0, m.group(1)
    else:
        return None, 0, "", ""
    if (n := _NUMBER_MORE.match(body)) and _LETTER.search(n.group(1)):
        body = n.group(1)  # ``* 1. Plan``, ``1. 3. Snacks``: a number more, no part of the title
    return kind, number, _title(text, body) if titled else "", body


def _title(text: str, body: str) -> str:
    """The head that opens the line, in bold (``1. **Sleep**: 8 hours`` -> ``Sleep``) or before a colon or dash, else
    the whole line: a word bolded further on is only stressed (``Keep a **cool** room``), and a head that only
    labels the line (``Day 1: Colosseum``, ``1957: Sputnik launch``) names no point without the rest."""
    head = next((span for bold in _BOLD.finditer(text) if (span := _bold_head(bold, body))), None)
    if head is None:
        before, sep, tail = _at_head_end(body)
        head = before if sep and before.strip() and tail.strip() and not _is_subtitle(tail) else None
    return _clean(body if head is None or not _LETTER.search(head) or _is_label(head) else head)


def _at_head_end(body: str) -> tuple[str, str, str]:
    """``body.partition(": ")``, or at a full-width colon or a spaced dash (``_HEAD_END``)."""
    end = _HEAD_END.search(body)
    return (body[:end.start()], end.group(), body[end.end():]) if end else (body, "", "")


def _is_subtitle(tail: str) -> bool:
    """Is what follows a plain line's colon or dash the subtitle of a name (``The Legend of Zelda: Tears of the
    Kingdom``), which the title keeps, rather than its gist (``Exercise: regular activity improves sleep``)? A
    subtitle is short (``SUBTITLE_WORDS``), no sentence nor list ("HttpOnly, Secure, SameSite" is a gist), and in
    Title Case: its first word and every word of four letters or more have a capital ("iPhone", "C++", "PEP") or are
    a number. The bold head of ``**Exercise:** More Sleep`` stays
    the title: bold marks it as the head."""
    tail = _clean(tail)
    words = tail.split()
    ended = _SENTENCE_END.search(tail.removesuffix(".") if _ABBREVIATION_END.search(tail) else tail)  # "5 P.M."
    if not words or len(words) > SUBTITLE_WORDS or ended or "," in tail:
        return False
    return all(not _LETTER.search(word) or any(c.isupper() for c in word)
               for i, word in enumerate(words) if i == 0 or len(_LETTER.findall(word)) >= 4)


def _is_label(head: str) -> bool:
    """Does the head only label its line: a number (in digits or words) with words of a sequence or a time
    (``_SEQUENCE``: "Day 1", "1957", "Weeks 1-4", "6:00 AM", "Step one"), or a head that a list opens its lines
    with (``_HEADS``: "Pro", "Monday")?"""
    if _CJK_LABEL.fullmatch(head.strip()):
        return True
    tokens = _LABEL_TOKEN.findall(head.replace(".", "").casefold())  # "a.m." is "am"
    if " ".join(tokens) in _HEAD_PHRASES:
        return True
    # a sequence's words may be plural ("Days 1-3"); a head in the plural names a section ("Pros")
    numbers = [t for t in tokens if t[0].isdigit() or t in _NUMBER_WORDS]
    words = {w.removesuffix("s") if w.removesuffix("s") in _SEQUENCE else w for w in tokens if w not in numbers}
    return words <= _LABEL_WORDS and (bool(numbers) or bool(words & _HEADS))


def _names(title: str, number: int) -> bool:
    """Does the title name something: a word, or a number of 2-4 digits (a year, "1984") that is not the line's
    own number again (``1. 1. 2. 3.`` and ``2. 50%`` name nothing)?"""
    return bool(_LETTER.search(title) or re.fullmatch("[0-9]{2,4}", title) and int(title) != number)


def _bold_head(bold: re.Match[str], body: str) -> str | None:
    """The bold span's text if it is the head of the line's body (``**Sleep**: 8 hours``, ``**1. Sleep**``): it
    opens the body, and no word goes on from it."""
    span = (bold.group(1) or bold.group(2)).strip()
    span = _unpunctuated((m.group(4) if (m := _NUMBERED.match(span)) else span).strip()).strip()
    if span and body.startswith(span) and not re.match(r"\s*\w", body[len(span):]):
        return span
    return None


def _stems(text: str) -> tuple[str, ...]:
    """The text's words by their first five letters (less a plural's s), so that forms of one word compare
    equal: computing, computers, computation; policy, policies; bit, bits. A "word" of a script written without
    spaces is a whole phrase, and phrases that share their first five characters (保持良好的睡眠, 保持良好的饮食) differ."""
    return tuple(_stem(word) for word in _WORD.findall(text.casefold()))


def _stem(word: str) -> str:
    return word if _NO_SPACES.search(word) else word.removesuffix("s")[:5]  # a phrase there: kept whole


#: words that may stand between a join and the thing it joins ("or a Dell XPS 13", "with the Han Dynasty")
_DETERMINERS = frozenset(map(_stem, "a an the this that these those my your our their his her its".split()))


def _question_stems(question: str) -> tuple[str, ...]:
    """The question's stems, with a ``,`` where it separates the things it lists (``_QUESTION_TOKEN``)."""
    return tuple("," if m.lastgroup == "sep" else _stem(m.group())
                 for m in _QUESTION_TOKEN.finditer(question.casefold()))


def _words(text: str) -> tuple[str, ...]:
    """The text's words, less a plural's s."""
    return tuple(word.removesuffix("s") for word in _WORD.findall(text.casefold()))


def _content_stems(text: str) -> frozenset[str]:
    return frozenset(stem for word, stem in zip(_WORD.findall(text.casefold()), _stems(text))
                     if word not in STOP_WORDS)


def _starts(words: tuple[str, ...], phrase: tuple[str, ...]) -> list[int]:
    """Where the phrase stands in the words."""
    return [i for i in range(len(words) - len(phrase) + 1) if words[i:i + len(phrase)] == phrase]


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    return bool(_starts(words, phrase))


def _joined_in(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """Do the words name the phrase beside another thing, with "and", "or", "vs" or a list's separator (a comma,
    a list number, ...: ``_question_stems``'s ``,``) just before or after it, or as a side of a comparison? An
    article may stand before it ("a Roth IRA and a traditional IRA")."""
    n = len(phrase)
    for i in _starts(words, phrase):
        start = i
        while start and words[start - 1] in _DETERMINERS:
            start -= 1
        before, after = words[start - 1] if start else "", words[i + n] if i + n < len(words) else ""
        if before in _JOINS or after in _JOINS or before in ("betwe", "than") or "than" in words[i + n:i + n + 3]:
            return True  # "X and Y", "between X and Y", "than Y", "X (is healthier) than Y"
        if after == "compa" or before in _COMPARED_TO and "compa" in words[:start] \
                or before == "compa" and after in _COMPARED_TO:
            return True  # "X compared to Y", "compare X with Y"
    return False


# a full stop that ends an abbreviation is the title's own ("Screens off by 9:30 p.m.", "Made in the U.S.")
_ABBREVIATION_END = re.compile(r"(?:\b[^\W\d_]\.){2,}$|\b(?:etc|Inc|Ltd|Co|Corp|Jr|Sr|vs)\.$")


def _clean(title: str) -> str:
    # a star after a space closes no emphasis: it is the text's ("Avoid SELECT *")
    return _trim(_unpunctuated(re.sub(r"(?<!\s)[*_]+$", "", _trim(title).lstrip("*_")).strip()))


def _unpunctuated(title: str) -> str:
    """The title without its closing colons and full stops, but for a full stop that ends an abbreviation."""
    cleaned = title.rstrip(":.：。।")  # (Hindi's danda ends a sentence: probe 324)
    if title[len(cleaned):len(cleaned) + 1] == "." and _ABBREVIATION_END.search(cleaned + "."):
        cleaned += "."
    return cleaned


def _trim(text: str) -> str:
    """``text`` without the white space and invisible marks (``INVISIBLE``) at its ends."""
    while (trimmed := text.strip().strip(INVISIBLE)) != text:
        text = trimmed
    return text
