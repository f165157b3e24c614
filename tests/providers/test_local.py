"""The ``local:`` provider on a tiny random model directory: streaming, batching, cancellation, errors."""

import gc
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from contextlib import aclosing
from pathlib import Path

import anyio
import pytest

import sotkit

from sotkit.engines import registry
from sotkit.engines.base import Engine
from sotkit.engines.generation import stream_generate
from sotkit.engines.models import load_model
from sotkit.engines.streaming import Completion
from sotkit.engines.testing import save_tiny_chat_model
from sotkit.errors import ConfigError, ModelNotAvailableError
from sotkit.providers import create_provider
from sotkit.providers.base import HELD, CallUsage, ChatRequest, Prompt
from sotkit.providers.local import LocalProvider, _limiters
from sotkit.result import Result
from tests.conftest import is_skeleton, smollm2
from tests.test_limits import exit_status, fork, needs_fork

pytestmark = pytest.mark.anyio

REQUESTS = [
    ChatRequest(Prompt("Tell me about tea."), max_tokens=12),
    ChatRequest(Prompt("Why is the sky blue?", system="Be brief.", prefill="1. Light:"), max_tokens=20),
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return save_tiny_chat_model(tmp_path_factory.mktemp("tiny"), seed=1)


@pytest.fixture(scope="module")
def reference(tiny_dir):
    """What the engine writes for each request alone (float32: bfloat16 rounds differently per batch shape)."""
    model, tokenizer = load_model(tiny_dir, dtype="float32")
    return [stream_generate(model, tokenizer, [r.prompt], max_new_tokens=r.max_tokens)[0] for r in REQUESTS]


@pytest.fixture(scope="module")
def batch_reference(tiny_dir):
    """What the engine writes for the requests as the points of one answer (each steered off the other's phrases)."""
    model, tokenizer = load_model(tiny_dir, dtype="float32")
    return stream_generate(model, tokenizer, [r.prompt for r in REQUESTS],
                           max_new_tokens=[r.max_tokens for r in REQUESTS], distinct_rows=True)


@pytest.fixture
def provider(tiny_dir):
    return create_provider(f"local:{tiny_dir}", dtype="float32")


async def test_stream_yields_deltas_then_one_usage(provider, reference):
    chunks = [c async for c in provider.stream(REQUESTS[1])]
    *pieces, usage = chunks
    texts = [t for t in pieces if t is not HELD]  # (HELD: tokens came whose text is held back for now)
    assert all(isinstance(t, str) for t in texts) and len(texts) > 1
    assert "".join(texts) == reference[1].text  # continues the prefill, does not repeat it
    assert usage == CallUsage(reference[1].input_tokens, reference[1].output_tokens,
                              finish_reason=reference[1].finish_reason)
    assert isinstance(provider, LocalProvider) and provider.supports_prefill and provider.supports_batch
    assert provider.model == f"local:{provider._name}"


async def test_stream_batch_rows_are_the_points_of_one_answer(provider, reference, batch_reference):
    texts: dict[int, str] = {0: "", 1: ""}
    usages: dict[int, list[CallUsage]] = {0: [], 1: []}
    async for row, chunk in provider.stream_batch(REQUESTS):
        assert not usages[row], "a row's usage comes last"
        if isinstance(chunk, CallUsage):
            usages[row].append(chunk)
        elif chunk is not HELD:
            texts[row] += chunk
    assert [texts[0], texts[1]] == [r.text for r in batch_reference] != [r.text for r in reference]
    assert [u for u, in usages.values()] == [CallUsage(r.input_tokens, r.output_tokens, finish_reason=r.finish_reason)
                                             for r in batch_reference]


async def batch_texts(provider: LocalProvider) -> list[str]:
    texts = [""] * len(REQUESTS)
    async for row, chunk in provider.stream_batch(REQUESTS):
        texts[row] += chunk if isinstance(chunk, str) else ""
    return texts


async def test_points_decoded_as_if_alone_when_asked(tiny_dir, reference):
    alone = create_provider(f"local:{tiny_dir}", dtype="float32", distinct_points=False)
    assert await batch_texts(alone) == [r.text for r in reference]
    with pytest.raises(ConfigError, match="distinct_points='no': use True"):
        create_provider(f"local:{tiny_dir}", distinct_points="no")


async def test_fast_decode_streams_what_generate_streams(tiny_dir, batch_reference):
    fast = create_provider(f"local:{tiny_dir}", dtype="float32", fast_decode=True)
    assert await batch_texts(fast) == [r.text for r in batch_reference]


async def test_the_event_loop_keeps_running_while_the_model_generates(provider):
    ticks = 0
    seen_between_chunks = []

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(tick)
        async for chunk in provider.stream(ChatRequest(Prompt("Tell me about tea."), max_tokens=30)):
            seen_between_chunks.append(ticks)
        tg.cancel_scope.cancel()
    assert seen_between_chunks[-1] > seen_between_chunks[0]


def _count_forwards(tiny_dir) -> tuple[list[int], object]:
    """Counts the forwards of the very model the ``provider`` fixture generates with (same path, same dtype)."""
    model, _ = load_model(tiny_dir, dtype="float32")
    calls: list[int] = []
    handle = model.register_forward_hook(lambda *args: calls.append(1))
    return calls, handle


async def test_a_consumer_that_leaves_early_stops_the_generation(provider, tiny_dir):
    calls, handle = _count_forwards(tiny_dir)
    try:
        async with aclosing(provider.stream(ChatRequest(Prompt("Tell me about tea."), max_tokens=500))) as stream:
            async for _ in stream:
                break
        assert 1 <= len(calls) <= 3  # the generation ended at the next token instead of running 500 steps
    finally:
        handle.remove()


async def test_cancelling_the_consumer_stops_the_generation(provider, tiny_dir):
    calls, handle = _count_forwards(tiny_dir)
    try:
        with anyio.CancelScope() as scope:
            async for _ in provider.stream_batch(REQUESTS * 2 + [ChatRequest(Prompt("Go on."), max_tokens=500)]):
                scope.cancel()
        assert scope.cancelled_caught and 1 <= len(calls) <= 3
    finally:
        handle.remove()


async def test_generation_errors_arrive_as_themselves(provider):
    with pytest.raises(ValueError, match="at least 1"):
        async for _ in provider.stream(ChatRequest(Prompt("Hi"), max_tokens=0)):
            pass


class Twice(Engine):
    """A batching engine with a bug: it reports row 0 done a second time, with more text after it."""

    name = "toy_twice"
    batches = True

    def __init__(self, model: str) -> None:
        self.model = model

    def load(self, device, dtype):
        return None

    def generate(self, loaded, requests, on_text, on_done, should_stop):
        for row in range(len(requests)):
            on_text(row, "Tea.")
            on_done(row, Completion("Tea.", 1, 1, "stop"))
        on_text(0, " More.")
        on_done(0, Completion("Tea. More.", 1, 2, "stop"))


async def test_an_engine_that_reports_a_row_after_its_end_is_an_error_naming_it(monkeypatch):
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    registry.register(Twice)
    provider = LocalProvider("toy-twice", decoding="toy_twice")
    seen = []
    with pytest.raises(RuntimeError, match="engine 'toy_twice' reported row 0 after it ended"):
        async for item in provider.stream_batch(REQUESTS):
            seen.append(item)
    assert [row for row, chunk in seen if isinstance(chunk, CallUsage)] == [0, 1]  # each row counted once
    assert " More." not in [chunk for _, chunk in seen]


async def text_of(provider: LocalProvider) -> str:
    """The text of the provider's answer to the first request."""
    return "".join([c async for c in provider.stream(REQUESTS[0]) if isinstance(c, str)])


class Gate(Engine):
    """Loads for a moment and generates one word once let go; counts the loads and generations of each model that
    run at the same time."""

    name = "toy_gate"
    release = threading.Event()
    lock = threading.Lock()
    loading: Counter = Counter()
    running: Counter = Counter()
    most_loading: Counter = Counter()
    most_running: Counter = Counter()

    def __init__(self, model: str) -> None:
        self.model = model

    def _enter(self, now: Counter, most: Counter) -> None:
        with self.lock:
            now[self.model] += 1
            most[self.model] = max(most[self.model], now[self.model])

    def load(self, device, dtype):
        self._enter(self.loading, self.most_loading)
        time.sleep(0.2)  # long enough for a second load, were it let in, to overlap this one
        with self.lock:
            self.loading[self.model] -= 1

    def generate_one(self, loaded, request, on_text, should_stop):
        self._enter(self.running, self.most_running)
        self.release.wait(10)
        on_text("Tea.")
        with self.lock:
            self.running[self.model] -= 1
        return Completion("Tea.", 1, 1, "stop")


async def test_one_model_loads_and_generates_one_request_at_a_time_and_two_models_side_by_side(monkeypatch):
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    registry.register(Gate)
    # two clients of one model (in-process generations of it run one at a time) and a client of another model
    providers = [LocalProvider(model, decoding="toy_gate") for model in ("toy-a", "toy-a", "toy-b")]
    answers = []

    async def ask(provider):
        answers.append(await text_of(provider))

    async with anyio.create_task_group() as tg:
        for provider in providers:
            tg.start_soon(ask, provider)
        with anyio.fail_after(10):  # both models generate at once while toy-a's second request waits
            while Gate.running != Counter({"toy-a": 1, "toy-b": 1}):
                await anyio.sleep(0.01)
        Gate.release.set()
    assert answers == ["Tea."] * 3
    assert Gate.most_running == Gate.most_loading == Counter({"toy-a": 1, "toy-b": 1})


class Shared(Engine):
    """Generates one word once let go; counts the generations running at once, whatever model they are for, and
    those that ended (each subclass its own)."""

    name = "toy_shared"
    started = threading.Event()
    release = threading.Event()
    lock = threading.Lock()
    running = most = ended = 0

    def __init__(self, model: str) -> None:
        self.model = model

    def load(self, device, dtype):
        return None

    def generate_one(self, loaded, request, on_text, should_stop):
        counts = type(self)
        with counts.lock:
            counts.running += 1
            counts.most = max(counts.most, counts.running)
        counts.started.set()
        counts.release.wait(10)
        with counts.lock:
            counts.running -= 1
            counts.ended += 1
        on_text("Tea.")
        return Completion("Tea.", 1, 1, "stop")


def waiting_for_a_model() -> int:
    """Requests of this event loop waiting for their turn on a local model."""
    limiters = _limiters.get(anyio.lowlevel.current_token().native_token, {})
    return sum(limiter.statistics().tasks_waiting for limiter in limiters.values())


async def test_clients_of_one_model_spelt_differently_generate_in_turn(monkeypatch, tiny_dir):
    """``dir`` with dtype=None and ``dir/../dir`` with "float32" load one model (engines.models.load_model): they
    take turns on it like two clients of one spelling, or a FocusLLM generation would switch the projections of
    a greedy one running beside it."""
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    registry.register(Shared)
    providers = [LocalProvider(str(tiny_dir), decoding="toy_shared"),
                 LocalProvider(f"{tiny_dir}/../{tiny_dir.name}", decoding="toy_shared", dtype="float32")]
    answers = []

    async def ask(provider):
        answers.append(await text_of(provider))

    async with anyio.create_task_group() as tg:
        for provider in providers:
            tg.start_soon(ask, provider)
        with anyio.fail_after(10):  # one generates, the other waits its turn (apart, both would generate)
            while Shared.running + waiting_for_a_model() < 2:
                await anyio.sleep(0.01)
        Shared.release.set()
    assert answers == ["Tea."] * 2 and Shared.most == 1


class Prefill(Shared):
    """A forward pass that does not look at ``should_stop`` until it ends (a long prompt's prefill), once let go."""

    name = "toy_prefill"
    started = threading.Event()
    release = threading.Event()
    lock = threading.Lock()
    running = most = ended = 0


async def test_a_cancelled_request_returns_without_waiting_for_the_forward_pass_and_the_next_waits_for_it(
        monkeypatch):
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    registry.register(Prefill)
    provider = LocalProvider("toy-prefill", decoding="toy_prefill")
    answers = []

    async def ask():
        answers.append(await text_of(provider))

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask)
        with anyio.fail_after(10):
            while not Prefill.started.is_set():
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert Prefill.running == 1 and not Prefill.ended  # returned while the forward pass still runs
    async with anyio.create_task_group() as tg:
        tg.start_soon(ask)
        with anyio.fail_after(10):  # the next request's thread has started, and waits for the abandoned one
            while _limiters[anyio.lowlevel.current_token().native_token][provider._key].borrowed_tokens < 1:
                await anyio.sleep(0.01)
        Prefill.release.set()
    assert answers == ["Tea."] and Prefill.ended == 2 and Prefill.most == 1


class Slow(Engine):
    """Writes each request's answer after 0.3 s, one request at a time (it does not batch)."""

    name = "toy_slow"

    def __init__(self, model: str) -> None:
        self.model = model

    def load(self, device, dtype):
        return None

    def generate_one(self, loaded, request, on_text, should_stop):
        time.sleep(0.3)
        on_text("Rest well.")
        return Completion("Rest well.", 1, 2, "stop")


async def test_points_waiting_their_turn_on_a_local_model_are_no_stall_and_no_serial_server(monkeypatch):
    """Four points written in turn by an in-process model: waiting for the model is no stalled server (the
    fallback's points outlast the API's one-second first-text timeout), and no server is to be set up."""
    from sotkit.testing import Fault, FakeLLMServer, Reply

    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    registry.register(Slow)
    skeleton = "1. Sleep early\n2. Drink tea\n3. Walk daily\n4. Read books"

    def api(request):  # the skeleton, then every expansion fails: the local fallback writes them all
        if is_skeleton(request):
            return Reply(skeleton[len(request.prefill or ""):])
        return Reply("x", fault=Fault.status(500))

    with FakeLLMServer(api) as server:
        fallback = LocalProvider("toy-slow", decoding="toy_slow")
        async with sotkit.SoT("openai:m", api_key="k", base_url=server.openai_base_url, fallback=fallback,
                              timeout=1.0, retry=1, mode="sot") as sot:
            result = await sot.generate("How can I relax?")
    assert [p.model for p in result.points] == ["local:toy-slow"] * 4 and all(p.done for p in result.points)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a SerialServerWarning would fail the request here
        async with sotkit.SoT("local:toy-slow", decoding="toy_slow", mode="sot") as sot:
            result = await sot.generate("How can I relax?")
    assert "one at a time" not in result.route_reason


def test_bad_options_are_refused_when_the_provider_is_built(tiny_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"device='tpu': use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'"):
        LocalProvider(str(tiny_dir), device="tpu")
    for device, dtype in ((0, None), ("cpu", 5)):  # a raw AttributeError; a dtype only transformers refused, late
        with pytest.raises(ConfigError, match="use 'cpu'|or a floating-point torch.dtype"):
            LocalProvider(str(tiny_dir), device=device, dtype=dtype)
    LocalProvider(str(tiny_dir), device="mps", dtype="float64")  # devices and dtypes the loader takes: not refused
    with pytest.raises(ConfigError, match="dtype='float33'"):
        LocalProvider(str(tiny_dir), dtype="float33")
    with pytest.raises(ConfigError, match="focus_weights=False: pass True"):  # a raw TypeError
        LocalProvider(str(tiny_dir), decoding="focusllm", focus_weights=False)
    with pytest.raises(ConfigError, match="unknown option.*api_key"):
        LocalProvider(str(tiny_dir), api_key="sk-...")
    with pytest.raises(ConfigError, match="fast_decode= is an option of decoding='greedy'"):
        LocalProvider(str(tiny_dir), fast_decode=True, decoding="lexical_unit")
    with pytest.raises(ModelNotAvailableError, match="is not a directory"):
        create_provider(f"local:{tmp_path / 'missing'}")


def test_building_a_local_provider_imports_neither_torch_nor_transformers(tiny_dir):
    code = (
        "import sys, sotkit; from sotkit.providers import create_provider; "
        f"p = create_provider({f'local:{tiny_dir}'!r}); "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'; print(p)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "LocalProvider" in out.stdout


async def test_a_reader_that_stops_early_closes_the_generation_cleanly(provider):
    async with aclosing(provider.stream(REQUESTS[0])) as chunks:
        async for chunk in chunks:
            break  # the coordinator does this when a skeleton or point needs no more text
    gc.collect()  # an inner generator left unclosed would now be finalized in another task, and fail there
    await anyio.sleep(0.2)
    assert isinstance(chunk, str)


async def test_a_request_line_limit_reaches_the_engine(provider, tiny_dir):
    _, tokenizer = load_model(tiny_dir, dtype="float32")
    request = ChatRequest(Prompt("Tell me about tea."), max_tokens=30, max_line_tokens=3)
    texts = [c async for c in provider.stream(request) if isinstance(c, str)]
    lines = "".join(texts).split("\n")
    assert len(lines) >= 5 and all(len(tokenizer(line, add_special_tokens=False)["input_ids"]) <= 3 for line in lines)


# The local expand prompt before issue 24: SmolLM2 answered "How can I sleep better?" with its sentences.
ECHOED_EXPAND = """{% block system %}You are a helpful assistant. You answer in one paragraph of plain sentences, \
without lists.{% endblock %}
{% block user %}Question: {{ question }}

One part of the answer is "{{ point.title }}". Explain only this part, in a paragraph of four sentences.{% endblock %}
{% block stop %}\\n\\n{% endblock %}"""


async def sot_on_smollm2(question: str, templates: dict[str, str] | None = None, **options) -> Result:
    """SoT on the embedded model; asserts that no point shows a sentence of its expand prompt."""
    import sotkit
    from sotkit.quality import sentences

    async with sotkit.SoT("local:smollm2", templates=templates, mode="sot", max_points=4, point_max_tokens=64,
                          stall_timeout=None, **options) as sot:
        result = await sot.generate(question)
        assert result.mode == "sot" and len(result.points) >= 2
        outline = [{"index": p.index, "title": p.title} for p in result.points]
        for point in result.points:
            prompt = sot.backends[0].templates.render("expand", question=question, points=outline,
                                                      point={"index": point.index, "title": point.title})
            own = [s for s in sentences(prompt.user) if question not in s and len(s.split()) >= 4]
            assert own, prompt.user
            text = " ".join(point.text.casefold().split())
            assert not any(" ".join(s.casefold().split()).rstrip(".") in text for s in own), (point.title, text)
    return result


@smollm2
async def test_smollm2_answers_with_sot_end_to_end():
    # the question of the README's library example, on sotkit's own prompts: every point written (a point that
    # failed would raise), none echoing its prompt
    result = await sot_on_smollm2("How can I sleep better?")
    assert all(p.text.strip() for p in result.points)
    assert result.usage.output_tokens > 0


@smollm2
async def test_smollm2_points_never_show_an_expand_prompt_that_gets_echoed():
    result = await sot_on_smollm2("How can I sleep better?", {"expand": ECHOED_EXPAND}, on_point_error="skip")
    written = [p for p in result.points if p.text.strip()]
    assert len(written) >= 2  # the echoes were retried into real text, not just removed


def test_a_model_directory_without_weights_is_refused_when_the_provider_is_built(tiny_dir, tmp_path):
    # else a raw OSError from transformers at the first call
    (tmp_path / "config.json").write_bytes((tiny_dir / "config.json").read_bytes())
    (tmp_path / "tokenizer.json").write_bytes((tiny_dir / "tokenizer.json").read_bytes())
    with pytest.raises(ModelNotAvailableError, match="has no weights"):
        create_provider(f"local:{tmp_path}")


async def test_a_model_that_fails_to_load_is_a_model_error_and_the_fallback_answers(tiny_dir, tmp_path):
    import shutil

    damaged = Path(shutil.copytree(tiny_dir, tmp_path / "damaged"))
    (damaged / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelNotAvailableError, match="could not be loaded"):
        await sotkit.generate("Why?", model=f"local:{damaged}", mode="sequential", max_tokens=4)
    result = await sotkit.generate("Why?", model=f"local:{damaged}", fallback=f"local:{tiny_dir}", mode="sequential",
                                   max_tokens=4)
    assert result.written_by == f"local:{tiny_dir}" and result.text


@pytest.mark.parametrize("opening", ["", "{% if messages[0]['role'] == 'system' %}"
                                     "{{ raise_exception('System role not supported') }}{% endif %}"])
async def test_a_tokenizer_with_tokens_the_model_cannot_embed_is_a_model_error_naming_the_folder(tmp_path, opening):
    # tokens added to a tokenizer, the model not resized: every call failed with torch's bare IndexError, which no
    # message tied to the folder (probe 282); also where the chat template takes no system message (review 309)
    from sotkit.engines.testing import CHATML, tiny_chat_tokenizer, tiny_llama

    tokenizer = tiny_chat_tokenizer()
    tokenizer.chat_template = opening + CHATML
    tokenizer.save_pretrained(tmp_path)
    tiny_llama(40).save_pretrained(tmp_path)
    with pytest.raises(ModelNotAvailableError, match=rf"the tokenizer in '{tmp_path}' has tokens the model has no "
                                                     rf"embedding for, .* the tokenizer has {len(tokenizer)} tokens, "
                                                     r"the model embeds 40\): .*resize_token_embeddings"):
        await sotkit.generate("Why?", model=f"local:{tmp_path}", mode="sequential", max_tokens=4)


async def test_markup_a_template_writes_only_in_a_prefilled_turn_is_checked_against_the_model_too(tmp_path):
    # review 310: "<think>" added to the tokenizer, the model not resized, written (as Qwen3's template does) only
    # where the assistant's turn is prefilled: the model loaded, and SoT's calls died with torch's bare IndexError
    from sotkit.engines.testing import tiny_chat_tokenizer, tiny_llama

    tokenizer = tiny_chat_tokenizer()
    rows = len(tokenizer)
    tokenizer.add_tokens(["<think>"], special_tokens=True)
    tokenizer.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['role'] == 'assistant' %}"
                               "<think>{% endif %}{{ m['content'] }}<|im_end|>\n{% endfor %}"
                               "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    tokenizer.save_pretrained(tmp_path)
    tiny_llama(rows).save_pretrained(tmp_path)
    with pytest.raises(ModelNotAvailableError, match=rf"the tokenizer in '{tmp_path}' has tokens the model has no "
                                                     rf"embedding for, .*token id {rows}\b"):
        await sotkit.generate("Why?", model=f"local:{tmp_path}", mode="sequential", max_tokens=4)


def test_a_template_that_refuses_more_than_the_system_message_says_what_else_it_refuses():
    # review 310: it said "System role not supported", the one refusal sotkit works around
    from types import SimpleNamespace

    import jinja2

    from sotkit.engines.generation import chat_token_ids
    from sotkit.engines.testing import CHATML, tiny_chat_tokenizer

    tokenizer = tiny_chat_tokenizer()
    tokenizer.chat_template = ("{% if messages[0]['role'] == 'system' %}"
                               "{{ raise_exception('System role not supported') }}"
                               "{% endif %}{% if messages[-1]['role'] == 'assistant' %}"
                               "{{ raise_exception('the last message must be the user\\'s') }}{% endif %}" + CHATML)
    assert chat_token_ids(tokenizer, SimpleNamespace(system="Be brief.", user="Why?", prefill=None))
    with pytest.raises(jinja2.TemplateError, match="the last message must be the user's") as raised:
        chat_token_ids(tokenizer, SimpleNamespace(system="Be brief.", user="Why?", prefill="1."))
    assert raised.value.__suppress_context__


async def test_a_chat_template_that_insists_on_a_system_message_is_no_vocabulary_mismatch(tiny_dir, tmp_path):
    # review 283: the check rendered a chat of a user's message alone, which such a template refuses (a jinja2
    # TemplateError, no sotkit error) though sotkit's prompts all carry a system message
    strict = with_chat_template(tiny_dir, tmp_path / "strict", "{% if messages[0]['role'] != 'system' %}"
                                "{{ raise_exception('a system message is required') }}{% endif %}")
    result = await sotkit.generate("Why?", model=f"local:{strict}", mode="sequential", max_tokens=4)
    assert result.text and result.usage.output_tokens == 4


async def test_a_chat_template_that_takes_no_system_message_gets_it_at_the_head_of_the_users(tiny_dir, tmp_path):
    # probe 307: Gemma's and older Mistral's templates raise "System role not supported": every call failed with
    # jinja2's own TemplateError (no sotkit error, and named as sotkit's TemplateError about --templates)
    from transformers import AutoTokenizer

    from sotkit.engines.generation import chat_token_ids
    from sotkit.providers.base import Prompt

    plain = with_chat_template(tiny_dir, tmp_path / "plain", "")
    no_system = with_chat_template(tiny_dir, tmp_path / "no-system", "{% if messages[0]['role'] == 'system' %}"
                                   "{{ raise_exception('System role not supported') }}{% endif %}")
    answers = [await sotkit.generate("Why?", model=f"local:{folder}", mode="sequential", max_tokens=6,
                                     templates={"sequential": "{% block system %}Be brief.{% endblock %}"
                                                              "{% block user %}{{ question }}{% endblock %}"})
               for folder in (no_system, plain)]
    assert answers[0].text and answers[0].usage.output_tokens == 6
    # what it was sent: the plain template's chat of the user's message alone, the system prompt at its head
    tokenizer = AutoTokenizer.from_pretrained(plain)
    assert answers[0].usage.input_tokens == len(chat_token_ids(tokenizer, Prompt("Be brief.\n\nWhy?")))
    assert answers[0].usage.input_tokens != answers[1].usage.input_tokens


def with_chat_template(tiny_dir: Path, folder: Path, opening: str) -> Path:
    """A copy of the tiny model in ``folder`` whose chat template is ChatML after ``opening``."""
    import json
    import shutil

    from sotkit.engines.testing import CHATML

    shutil.copytree(tiny_dir, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": opening + CHATML}))
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    return folder


async def test_an_answer_the_context_window_cut_says_so_and_not_that_its_budget_did(tiny_dir, tmp_path):
    # "length" had messages say "raise max_tokens", which changes nothing
    import json
    import shutil

    budget = await sotkit.generate("Why?", model=f"local:{tiny_dir}", mode="sequential", max_tokens=8)
    assert (budget.finish_reason, budget.truncated, budget.usage.output_tokens) == ("length", True, 8)
    small = Path(shutil.copytree(tiny_dir, tmp_path / "small"))
    config = json.loads((small / "config.json").read_text())
    (small / "config.json").write_text(json.dumps({**config, "max_position_embeddings": budget.usage.input_tokens + 5}))
    window = await sotkit.generate("Why?", model=f"local:{small}", mode="sequential", max_tokens=8)
    assert (window.finish_reason, window.truncated, window.usage.output_tokens) == ("model_context_window_exceeded",
                                                                                  True, 5)


async def test_auto_answers_sequentially_where_only_the_skeletons_prompt_overfills_the_window(tiny_dir, tmp_path):
    # probe 270: a context that left room for a sequential answer but not the skeleton's longer prompt failed with
    # "no answer fits" under mode="auto" (the default)
    import json
    import re
    import shutil

    question, context = "What are some ways to sleep better?", "Sleep is rest for body and mind. " * 8
    options = {"model": f"local:{tiny_dir}", "context": context, "max_tokens": 4}
    sequential = await sotkit.generate(question, mode="sequential", **options)
    small = Path(shutil.copytree(tiny_dir, tmp_path / "small"))
    config = json.loads((small / "config.json").read_text())
    window = sequential.usage.input_tokens + 8
    (small / "config.json").write_text(json.dumps({**config, "max_position_embeddings": window}))
    options["model"] = f"local:{small}"
    with pytest.raises(sotkit.PromptTooLong, match=f"and the model's context holds {window}, so no answer fits"):
        await sotkit.generate(question, mode="sot", **options)
    auto = await sotkit.generate(question, router="rules", **options)
    assert auto.mode == "sequential" and auto.text == sequential.text
    assert re.search(rf"\(its prompt of \d+ tokens does not fit the model's context of {window}\)$", auto.route_reason)


async def test_auto_answers_sequentially_where_every_points_prompt_overfills_the_window(tiny_dir, tmp_path):
    # the skeleton's prompt fitted, the points' longer ones did not: every point failed, and so the answer, under
    # mode="auto" too, where the sequential prompt fits (a skeleton in the template's prefill: a random model's own
    # lines are no list)
    import json
    import shutil

    small = Path(shutil.copytree(tiny_dir, tmp_path / "small"))
    config = json.loads((small / "config.json").read_text())
    (small / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 200}))
    templates = {"skeleton": "{% block user %}Outline: {{ question }}{% endblock %}"
                             "{% block prefill %}1. Sleep well\n2. Eat less sugar\n3.{% endblock %}",
                 "expand": "{% block user %}" + "Write one point of the answer, shortly. " * 6 +
                           "{{ question }} {{ point.title }}{% endblock %}"}
    question = "What are some ways to sleep better?"
    options = {"model": f"local:{small}", "templates": templates, "skeleton_max_tokens": 6, "max_tokens": 4}
    with pytest.raises(sotkit.PartialResultError, match="every point of the skeleton .2. failed .point 1: "
                                                        "PromptTooLong: the prompt has 305 tokens"):
        await sotkit.generate(question, mode="sot", **options)
    sequential = await sotkit.generate(question, mode="sequential", **options)
    async with sotkit.SoT(router="rules", **options) as sot, sot.stream(question) as events:
        shown = "".join([event.text async for event in events if isinstance(event, sotkit.TextEvent)])
        auto = events.result()
    assert auto.mode == "sequential" and auto.text == shown == sequential.text and not auto.points
    # the skeleton is no part of the answer (review 283: it was still said cut off, with a first point's time)
    assert not auto.skeleton_truncated and auto.timings.first_point_at is None
    assert auto.route_reason == ("the points' prompts of 305 tokens or more do not fit the model's context of 200, "
                                 "so the answer is sequential")


async def test_mps_without_mps_fails_the_first_call_with_what_to_do(tiny_dir):
    import torch

    if torch.backends.mps.is_available():
        pytest.skip("needs a machine without MPS")
    # whether MPS is there is known once torch is imported: not where the client is built (it may fork after)
    provider = LocalProvider(str(tiny_dir), device="mps")
    with pytest.raises(ModelNotAvailableError, match="no MPS.*use device='cpu' or device='auto'"):
        async for _ in provider.stream(REQUESTS[0]):
            pass


async def test_clients_asking_auto_and_the_default_dtype_share_one_loaded_model(tiny_dir):
    providers = [create_provider(f"local:{tiny_dir}", dtype=dtype) for dtype in ("auto", None)]
    for provider in providers:
        assert await text_of(provider)
    assert providers[0]._key == providers[1]._key and providers[0]._loaded is providers[1]._loaded


@needs_fork
def test_a_child_forked_while_the_parent_generates_can_generate(tiny_dir):
    # the model's generation lock, held by the parent's thread at the fork, stayed held in the child: its calls
    # waited for ever (probe 68)
    from sotkit.providers import local

    sot = sotkit.SoT(f"local:{tiny_dir}", mode="sequential", max_tokens=8)
    assert anyio.run(sot.generate, "Why?").text
    lock = local._generating[sot.backends[0].provider._key]

    async def ask() -> None:
        with anyio.fail_after(20):
            assert (await sot.generate("Why again?")).text

    with lock:  # a generation of another thread in flight at the fork
        child = fork(lambda: anyio.run(ask))
    assert exit_status(child, timeout=60) == 0
