"""The SoT paper's prompting router (SoT-R): one short call to a model asks whether the answer is a list of
independent points. For API models it is usually the most accurate router; it costs one small call."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Literal

from ..errors import ConfigError
from ..providers.base import CallUsage, ChatRequest, Provider, SendAgain, cut_by, reasoning_advice
from .base import Decision, FallsBack, SyncRouter
from .rules import guard

if TYPE_CHECKING:
    from ..result import Mode
    from ..templates import Templates

Choice = Literal["A", "B", "C", "not A"]  # "not A": B or C, sequential either way

# "Answer: A", "the answer is (B)", "I choose C" -- a choice made beats letters elsewhere, and an option named
# ("Option C") letters elsewhere but not a choice made ("Option A doesn't fit; I'd choose C")
_CHOSEN = re.compile(r"\b(?i:answer(?: is)?|choose|pick|select|go with)\W{0,12}([ABC])(?![\w'])")
_OPTION = re.compile(r"\b(?i:option|choice)\W{0,12}([ABC])(?![\w'])|\b(?i:option|choice)\s*\(?([abc])(?![\w'])")
# "A. Organize ...", "B, because ..." -- a letter that opens the reply and is set off by punctuation
_LEADING = re.compile(r"^\W*([ABC])(?:[.,:;)]|\s*$)")
# a letter beside no other Latin letter (accented too: "Cómo", "Año") or digit: "选A", "答案是C。", "Aです" name it
_LATIN = "A-Za-z0-9_'\u00c0-\u024f\u1e00-\u1eff"
_LETTER = re.compile(rf"(?<![{_LATIN}])([ABC])(?![{_LATIN}])")
# "A single paragraph ...", "Sure! A list is ...": the article that opens a sentence, not choice A
_ARTICLE = re.compile(r"(^|[.!?:\n])([^\w\n]{0,8})A(?=[ \t]+[A-Za-z])")  # (bounded: "?" * 10**5 took 100 s)
# a letter alone, in the marks a model may wrap it in: "A", "**A**", "(A)", "A.", "「A」" (not "A?", "¬A", "~A")
_BARE = re.compile(r"[\s*_`\"'“”‘’(\[{<«「【]*([ABCabc])[\s*_`\"'“”‘’)\]}>»」】.,:;!。．、]*")
# a negation or a hedge anywhere in a reply that names A: the model is not sure of it (the prompt says "Choose A only
# when you are sure ... if unsure, choose C"): "I don't think A is right", "Option A would be wrong", "It might be A",
# "A?", "N/A", "不是A", "Aではありません", "vielleicht A"
_DOUBT = re.compile(r"\b(?:not|never|no|nope|none|neither|nor|wrong|incorrect|false|bad|instead|rather|cannot|without|"
                    r"but|yet|although|though|except|however|unless|if|provided|avoid|skip|partial\w*|mostly|"
                    r"somewhat|sort of|kind of|lean\w*|caveats?|second thought|depend\w*|interdepend\w*|rel(?:y|ies)|"
                    r"suppose|builds? (?:on|upon)|follows? from|in order|order matters|sequential|sequence|ish|half|"
                    r"questionabl\w*|certainty|confidence|percent|ehh?|hmm+|for now|"
                    r"unsure|uncertain|unclear|maybe|perhaps|possibly|probably|might|likely|unlikely|hardly|doubt\w*|"
                    r"guess|tentative\w*|hard to (?:say|tell)|N/A|"
                    r"nicht|kein\w*|falsch|vielleicht|pas|non|faux|fausse|peut-être|nein|não|nao|nunca|ni|quizás?|"
                    r"tal vez|incorrect[ao]|forse|sbagliat[ao]|niet|geen|nie|inte|ikke|tidak|bukan|değil|"
                    r"нет|не|ни|неверн\w*|возможно|может)\b|n['’]t\b|\bA\s*[?？]|[¬~❌✗✘]|!A"
                    r"|(?<!\d)(?:\d{1,2}(?:\.\d+)?|\.\d+)\s*%|\b50/50\b"  # a confidence short of 100 %
                    r"|[不没非無无错錯但]|也许|也許|可能|或许|或許|ない|ません|違|たぶん|多分|かも|아니|아닙|아님|않|틀|"
                    r"नहीं|शायद", re.I)
# the words that follow a chosen letter A ("A because ...", "Option A fits best"), where another word after it makes
# it an article ("Answer: A short essay."; probe 288)
_AFTER_A_CHOSEN = re.compile(r"[ \t]+(?:because|since|as|for|fits|works|is|seems|applies|here|suits|best|again)\b")
# a capital A, B or C written in Cyrillic or Greek, standing alone: the Latin letter
_LOOKALIKE = re.compile(r"(?<!\w)[АВСΑΒ](?!\w)")
_LATIN_OF = str.maketrans("АВСΑΒ", "ABCAB")
# words, for models that answer in prose; order matters ("independent" contains "dependent")
_WORDS: list[tuple[Choice, re.Pattern[str]]] = [
    ("C", re.compile(r"\b(?:not (?:a |as a )?list|no list|not organi[sz]e|without (?:a )?list|not in (?:a )?list|"
                     r"paragraph|prose|single answer)\b", re.IGNORECASE)),
    ("B", re.compile(r"\b(?:dependent|depend on|depends on|not independent|cannot be answered independently|"
                     r"refer(?:ring)? to (?:the )?previous|in order)\b", re.IGNORECASE)),
    ("A", re.compile(r"\b(?:independent(?:ly)?|list of (?:points|perspectives))\b", re.IGNORECASE)),
    # sotkit's own word for B and C alike ("Sequential answer here."), no list of dependent points
    ("not A", re.compile(r"\bsequential(?:ly)?\b", re.IGNORECASE)),
]


def _excerpt(reply: str) -> str:
    """A model's reply as an error quotes it: its first 80 characters, as it wrote them."""
    return reply if len(reply) <= 80 else reply[:79] + "…"


def parse_router_answer(text: str) -> tuple[Choice, str] | None:
    """Read the prompting router's answer: ``("A"|"B"|"C"|"not A", how it was read)``, or ``None`` if unreadable.

    Accepts a bare letter, a letter with chatter ("Answer: A.", "I would choose (B) because ..."), or words
    ("independent points", "not a list"). The article that opens a sentence ("A single paragraph is best") is not a
    letter. SoT by mistake is the costly error, and the prompt says to choose A only when sure: a reply that names A
    (but for a bare letter) counts as A only where it is a plain A, else it is ``"not A"`` (B or C: sequential either
    way): with a negation or a hedge anywhere ("I would not choose A", "A is wrong", "It might be A", "不是A") or
    beside another letter ("A or C", "Answer: A. Correction: C."); as is a reply that names B and C but no choice. A
    chosen B or C is read as it is: a wrong one costs only speed. A reply that names no letter and says nothing of a
    list is unreadable (None).
    """
    stripped = unicodedata.normalize("NFKC", text).strip()  # a full-width "Ａ" is an A
    stripped = _LOOKALIKE.sub(lambda m: m[0].translate(_LATIN_OF), stripped)  # "Не А" (Cyrillic А)
    parsed = _parsed(stripped)
    if parsed is not None and (parsed[0] != "A" or parsed[1] == "bare letter"):
        return parsed
    letters, doubted = set(_LETTER.findall(stripped)), _DOUBT.search(stripped)  # the article's A too: "A is wrong"
    if parsed is None and not (letters and (doubted or letters - {"A"})):
        return None  # (a lone article A, "A single paragraph is best", says nothing)
    others = set(_LETTER.findall(_ARTICLE.sub(r"\1\2", stripped))) - {"A"}
    if parsed is None or others or doubted:
        return "not A", parsed[1] if parsed else "letters in doubt"
    return parsed


def _parsed(stripped: str) -> tuple[Choice, str] | None:
    if match := _BARE.fullmatch(stripped):
        return match.group(1).upper(), "bare letter"  # type: ignore[return-value]
    for pattern, how in ((_CHOSEN, "marked letter"), (_OPTION, "named option")):
        if match := pattern.search(stripped):
            letter = next(group for group in match.groups() if group).upper()
            # "My answer: A single paragraph, not a list.": the article, where the words say what the answer is
            article = letter == "A" and re.match(r"[ \t]+[a-z]", stripped[match.end():])
            if not article:
                return letter, how  # type: ignore[return-value]
            if worded := _worded(stripped):
                return worded, "wording"
            # "A because ...", "Option A fits best.": the letter; "Answer: A short essay.": an article, no sure A
            chosen = letter if _AFTER_A_CHOSEN.match(stripped, match.end()) else "not A"
            return chosen, how  # type: ignore[return-value]
    if match := _LEADING.match(stripped):
        return match.group(1), "leading letter"  # type: ignore[return-value]
    letters = set(_LETTER.findall(stripped))
    if len(letters) > 1:  # "A or B"; also "A good fit is B", where the article may as well be the choice
        return None
    if match := _LETTER.search(_ARTICLE.sub(r"\1\2", stripped)):
        return match.group(1), "only letter"  # type: ignore[return-value]
    return (choice, "wording") if (choice := _worded(stripped)) else None


def _worded(text: str) -> Choice | None:
    """The choice a reply's words make ("independent points", "not a list"), if any."""
    return next((choice for choice, pattern in _WORDS if pattern.search(text)), None)


_CHOICE_MEANS = {"A": "a list of independent points", "B": "a list of dependent points", "C": "not a list",
                 "not A": "not a list of independent points"}


class LLMRouter(FallsBack):
    """The SoT paper's prompting router: one short call to a (cheap) model with the ``router`` template.

    Only "a list of independent points" goes to SoT. Unreadable replies, errors and calls slower than
    ``timeout`` seconds fall back to the default router (inside a request, the call's wait for a concurrency slot
    and the rate limits counts too: a client whose slots are all busy routes by the default router rather than
    hold the answer up). Inside a request the coordinator makes the call itself,
    through the runner every call takes (slot, rate limits, retries, usage), while the skeleton call is
    already streaming: ``request`` and ``read`` are its two halves. ``decide`` makes the call directly.
    """

    name = "llm"

    def __init__(self, provider: Provider, templates: Templates | None = None, *, max_tokens: int = 16,
                 timeout: float = 20.0, guards: bool = True, fallback: SyncRouter | None = None) -> None:
        super().__init__(fallback)
        if not isinstance(provider, Provider):
            raise ConfigError(f"LLMRouter needs a sotkit Provider, not {type(provider).__name__}")
        if max_tokens < 1 or timeout <= 0:
            raise ConfigError(f"LLMRouter needs max_tokens >= 1 and timeout > 0 (got {max_tokens}, {timeout})")
        if templates is None:
            from ..templates import Templates
            templates = Templates()
        self.provider, self.templates = provider, templates
        self.max_tokens, self.timeout, self.guards = max_tokens, timeout, guards

    def settled(self, question: str) -> Decision | None:
        """The guards' decision (code, a computation, one piece of writing, ... go sequential), which needs no call:
        the model is asked only what they leave open, as every router is (``guards=False``: everything)."""
        return guard(question) if self.guards else None

    def request(self, question: str) -> ChatRequest:
        """The router call for ``question``: the ``router`` template, a few tokens, greedy."""
        return ChatRequest(self.templates.render("router", question=question), max_tokens=self.max_tokens,
                           temperature=0.0)

    def read(self, request: ChatRequest, text: str, usage: CallUsage | None = None) -> Decision:
        """The decision in the model's reply to ``request`` (``usage``: how its call ended); ``ValueError`` if it
        names no choice. A reply cut off (at ``max_tokens``, by a filter) counts where it opens with its letter, or
        where it names B or C (which cost only speed) by a marker ("Answer: C because the"): elsewhere the choice may
        be still to come ("Option B says ..., option A says"), or the words after an A doubt it (review 290, 291)."""
        prefill = request.prompt.prefill if self.provider.supports_prefill else None
        reply = (prefill or "") + text
        cut = usage is not None and usage.cut_off(self.max_tokens)
        # (no number: the runner raises the budget of a model that reasons first)
        by = cut_by(usage.finish_reason, "the LLM router's max_tokens") if cut and usage else ""
        if cut and not text.strip():
            advice = reasoning_advice(usage.finish_reason if usage else None, "LLMRouter(max_tokens=...)")
            raise ValueError(f"the answer was cut off {by} before any text{advice}")
        parsed = parse_router_answer(reply)
        # (a cut reply is said to be cut, not "unreadable": probe 288)
        if cut and not (parsed is not None and (parsed[1] in ("bare letter", "leading letter")
                                                or parsed[0] in ("B", "C") and parsed[1] == "marked letter")):
            raise ValueError(f"the answer was cut off {by} before it named a choice: {_excerpt(reply)!r}")
        if parsed is None:
            raise ValueError(f"unreadable answer {_excerpt(reply)!r}")
        choice, how = parsed
        mode: Mode = "sot" if choice == "A" else "sequential"
        return Decision(mode, f"llm ({self.provider.model}): {choice}, {_CHOICE_MEANS[choice]} ({how})",
                        0.8 if how != "wording" else 0.6)

    async def _decide(self, question: str) -> Decision:
        import anyio

        if (decision := self.settled(question)) is not None:
            return decision
        request = self.request(question)
        try:
            with anyio.fail_after(self.timeout):
                try:
                    chunks = [chunk async for chunk in self.provider.stream(request)]
                except SendAgain:  # the provider stopped sending what its server refused (a temperature): once more
                    chunks = [chunk async for chunk in self.provider.stream(request)]
        except TimeoutError as exc:  # (it said "TimeoutError" alone: probe 308)
            raise TimeoutError(f"no verdict within {self.timeout:g} s (LLMRouter(timeout=...))") from exc
        text = "".join(c for c in chunks if isinstance(c, str))  # not a signal (STARTED, a reasoning model's THINKING)
        usage = next((c for c in chunks if isinstance(c, CallUsage) and not c.partial), None)
        return self.read(request, text, usage)
