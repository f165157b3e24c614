"""The static-cache decoding loop writes what ``generate()`` writes: texts, token counts, finish reasons, deltas."""

import contextlib

import pytest
import torch

from sotkit.engines import fast_decode
from sotkit.engines.errors import ConfigError
from sotkit.engines.generation import _left_padded, chat_token_ids, stream_generate
from sotkit.engines.testing import tiny_chat_tokenizer, tiny_llama
from sotkit.providers.base import Prompt

PROMPTS = [
    Prompt("Name three rivers of Europe.", system="Answer in a list."),
    Prompt("How do tides work? Say it simply, for a child.", system="Answer in a list."),
    Prompt("Plan a picnic.", system="Answer in a list.", prefill="1. Food:"),
]


@pytest.fixture(scope="module")
def tokenizer():
    tok = tiny_chat_tokenizer(pad_token="<unk>")  # a pad token of its own (not EOS, as generation tests use)
    tok.padding_side = "left"
    return tok


def both(model, tokenizer, prompts=PROMPTS, **options):
    """The completions and streamed deltas of the plain path and of the fast path, for the same call."""
    runs = []
    for fast in (False, True):
        deltas: list[tuple[int, str]] = []
        done = stream_generate(model, tokenizer, prompts, fast_decode=fast,
                               on_text=lambda row, text: deltas.append((row, text)), **options)
        runs.append((done, deltas))
    return runs


@pytest.mark.parametrize("seed", [0, 1])
def test_rows_of_different_lengths_budgets_and_ends_match_generate(tokenizer, seed):
    # seed 0: row 1 writes EOS early; seed 1: every row runs to its budget
    model = tiny_llama(len(tokenizer), seed=seed)
    (plain, plain_deltas), (fast, fast_deltas) = both(model, tokenizer, max_new_tokens=[40, 25, 33])
    assert fast == plain
    assert fast_deltas == plain_deltas
    reasons = {c.finish_reason for c in plain}
    assert reasons == ({"length", "eos"} if seed == 0 else {"length"})


def test_stop_strings_and_line_limits_match_generate(tokenizer):
    model = tiny_llama(len(tokenizer), seed=1)
    free = stream_generate(model, tokenizer, PROMPTS, max_new_tokens=40)
    stops = [(run.text[12:14],) for run in free]  # each row stops at its own step
    (plain, _), (fast, _) = both(model, tokenizer, max_new_tokens=40, stop=stops, max_line_tokens=[6, None, 4])
    assert fast == plain
    assert "stop" in {c.finish_reason for c in plain}
    unlimited = stream_generate(model, tokenizer, PROMPTS, max_new_tokens=40, stop=stops, fast_decode=True)
    assert [c.text for c in unlimited] != [c.text for c in fast]  # the line limits did act


def test_cancelling_ends_every_row_at_the_next_token(tokenizer):
    model = tiny_llama(len(tokenizer), seed=1)
    steps = []

    def should_stop():
        steps.append(1)
        return len(steps) >= 5

    done = stream_generate(model, tokenizer, PROMPTS, max_new_tokens=40, fast_decode=True, should_stop=should_stop)
    assert [c.finish_reason for c in done] == ["cancelled"] * 3
    assert [c.output_tokens for c in done] == [5, 5, 5]


def test_one_row_and_a_one_token_budget(tokenizer):
    model = tiny_llama(len(tokenizer), seed=1)
    (plain, _), (fast, _) = both(model, tokenizer, PROMPTS[:1], max_new_tokens=1)
    assert fast == plain and plain[0].output_tokens == 1


def test_the_returned_tokens_are_generates_tokens(tokenizer):
    model = tiny_llama(len(tokenizer), seed=1)
    inputs = _left_padded(tokenizer, [chat_token_ids(tokenizer, p) for p in PROMPTS])
    never = lambda ids, scores: torch.zeros(ids.shape[0], dtype=torch.bool)  # noqa: E731
    expected = model.generate(**inputs, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                              stopping_criteria=[never])
    tokens = fast_decode.greedy(model, **inputs, max_new_tokens=12, pad_token_id=tokenizer.pad_token_id,
                                stopping_criteria=never)
    assert torch.equal(tokens, expected)


def test_a_budget_past_the_models_positions_stops_there_instead_of_allocating_it(tokenizer):
    model = tiny_llama(len(tokenizer), seed=1)
    inputs = _left_padded(tokenizer, [chat_token_ids(tokenizer, PROMPTS[0])])
    never = lambda ids, scores: torch.zeros(ids.shape[0], dtype=torch.bool)  # noqa: E731
    tokens = fast_decode.greedy(model, **inputs, max_new_tokens=10**12, pad_token_id=tokenizer.pad_token_id,
                                stopping_criteria=never)  # a static cache that long would need terabytes
    assert tokens.shape[1] == model.config.max_position_embeddings


def test_the_decoding_step_traces_as_one_graph(tokenizer):
    """No host sync or data-dependent branch inside a step: what a CUDA graph capture needs (checked here with
    dynamo's full-graph tracing, which fails at the first graph break)."""
    model = tiny_llama(len(tokenizer), seed=1)
    inputs = _left_padded(tokenizer, [chat_token_ids(tokenizer, p) for p in PROMPTS[:2]])
    width = inputs["input_ids"].shape[1]
    with torch.inference_mode():
        step = fast_decode._Workspace(model, 2, width + 4, use_graph=False)
        step.start(inputs["input_ids"], inputs["attention_mask"])
        eager = step._forward
        step._forward = torch.compile(eager, backend="eager", fullgraph=True)
        logits = step(torch.tensor([5, 6]), width)
    assert logits.shape == (2, 1, len(tokenizer))


def test_sampling_and_unapplied_generation_settings_are_refused(tokenizer):
    model = tiny_llama(len(tokenizer), seed=1)
    with pytest.raises(ValueError, match="greedily"):
        fast_decode.greedy(model, input_ids=torch.tensor([[5]]), attention_mask=torch.tensor([[1]]),
                           max_new_tokens=2, pad_token_id=1, stopping_criteria=None, do_sample=True)
    model.generation_config.repetition_penalty = 1.3
    with pytest.raises(ValueError, match="repetition_penalty"):
        stream_generate(model, tokenizer, PROMPTS[:1], max_new_tokens=4, fast_decode=True)
    # generate() applies it, and the fast loop did not, silently: 30 tokens where generate() ended after 6 (review 206)
    model.generation_config.repetition_penalty = 1.0
    model.generation_config.exponential_decay_length_penalty = (2, 3.0)
    with pytest.raises(ValueError, match="sets exponential_decay_length_penalty, which fast_decode does not apply"):
        stream_generate(model, tokenizer, PROMPTS[:1], max_new_tokens=4, fast_decode=True)
    model.generation_config.exponential_decay_length_penalty = None
    model.generation_config.encoder_repetition_penalty = 1.5  # applied to the prompt's tokens (review 209)
    with pytest.raises(ValueError, match="sets encoder_repetition_penalty"):
        stream_generate(model, tokenizer, PROMPTS[:1], max_new_tokens=4, fast_decode=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")
def test_cuda_graph_replay_writes_the_eager_steps_tokens(tokenizer):
    model = tiny_llama(len(tokenizer), seed=1).cuda()
    inputs = _left_padded(tokenizer, [chat_token_ids(tokenizer, p) for p in PROMPTS])
    never = lambda ids, scores: torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)  # noqa: E731
    runs = [fast_decode.greedy(model, **inputs, max_new_tokens=30, pad_token_id=tokenizer.pad_token_id,
                               stopping_criteria=never, cuda_graph=graph) for graph in (False, True)]
    assert torch.equal(runs[0], runs[1])


# A call's cache and step are kept for the next call of as many rows (fast_decode.KEEP_BYTES): what the next call
# decodes must not depend on what the one before left in them.
OTHERS = [
    Prompt("Hi."),
    Prompt("Tell me a long story about a dragon, a knight, a river and a castle, with a happy ending please."),
    Prompt("Why is the sea salty?", prefill="Because"),
]


def never(ids, scores):
    return torch.zeros(ids.shape[0], dtype=torch.bool)


def decode(model, tokenizer, prompts, max_new_tokens=12, fast=True, **options):
    inputs = _left_padded(tokenizer, [chat_token_ids(tokenizer, p) for p in prompts])
    if not fast:
        return model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                              pad_token_id=tokenizer.pad_token_id, stopping_criteria=[never])
    return fast_decode.greedy(model, **inputs, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                              stopping_criteria=options.pop("stopping_criteria", never), **options)


def kept(model):
    return list(fast_decode._kept.get(model, {}).values())


@pytest.fixture
def keep_on_cpu(monkeypatch):
    """Workspaces kept on the CPU too (by default only a GPU's are: the CPU has no graph to keep)."""
    monkeypatch.setattr(fast_decode, "KEEP_BYTES", {"cpu": 2 << 30})


def test_nothing_is_kept_on_a_cpu_by_default(tokenizer):
    model = tiny_llama(len(tokenizer), seed=1)
    decode(model, tokenizer, PROMPTS)
    assert kept(model) == []


def test_the_next_call_of_as_many_rows_reuses_the_kept_cache_and_writes_generates_tokens(tokenizer, keep_on_cpu):
    model = tiny_llama(len(tokenizer), seed=1)
    first = decode(model, tokenizer, PROMPTS, max_new_tokens=30)
    assert torch.equal(first, decode(model, tokenizer, PROMPTS, max_new_tokens=30, fast=False))
    [space] = kept(model)
    # other prompts, shorter and longer, padded otherwise, a budget of its own: same rows, same cache length
    for prompts, budget in ((OTHERS, 9), (PROMPTS[::-1], 21), (OTHERS[::-1], 30)):
        tokens = decode(model, tokenizer, prompts, max_new_tokens=budget)
        assert kept(model) == [space]
        assert torch.equal(tokens, decode(model, tokenizer, prompts, max_new_tokens=budget, fast=False))


def test_other_shapes_get_workspaces_of_their_own_and_the_least_recently_used_goes_first(tokenizer, monkeypatch,
                                                                                       keep_on_cpu):
    model = tiny_llama(len(tokenizer), seed=1)
    decode(model, tokenizer, PROMPTS[:1])
    decode(model, tokenizer, PROMPTS[:2])
    one_row, two_rows = kept(model)
    decode(model, tokenizer, PROMPTS[:1])  # used again: now the most recent
    assert kept(model) == [two_rows, one_row]
    monkeypatch.setattr(fast_decode, "KEEP_BYTES", {"cpu": one_row.nbytes + two_rows.nbytes})
    decode(model, tokenizer, PROMPTS, max_new_tokens=fast_decode.LENGTH_STEP)  # a third shape: longer, three rows
    assert one_row not in kept(model) and two_rows not in kept(model)
    monkeypatch.setattr(fast_decode, "KEEP_BYTES", {"cpu": 0})
    decode(model, tokenizer, PROMPTS[:1])
    assert kept(model) == []


def test_a_call_broken_off_leaves_no_workspace_behind_and_the_next_call_is_right(tokenizer, keep_on_cpu):
    model = tiny_llama(len(tokenizer), seed=1)
    decode(model, tokenizer, PROMPTS)
    [space] = kept(model)

    def broken(ids, scores):
        if ids.shape[1] > 60:
            raise KeyboardInterrupt
        return never(ids, scores)

    with pytest.raises(KeyboardInterrupt):
        decode(model, tokenizer, PROMPTS, max_new_tokens=30, stopping_criteria=broken)
    assert space not in kept(model)
    assert torch.equal(decode(model, tokenizer, OTHERS), decode(model, tokenizer, OTHERS, fast=False))


def test_calls_at_once_in_two_threads_each_decode_their_own_prompts(tokenizer, keep_on_cpu):
    import threading

    model = tiny_llama(len(tokenizer), seed=1)
    decode(model, tokenizer, PROMPTS)  # one workspace kept: one thread takes it, the other makes its own
    both_inside = threading.Barrier(2, timeout=30)  # each call waits at its third step for the other's
    results = {}

    def run(name, prompts):
        steps = []

        def meet(ids, scores):
            steps.append(1)
            if len(steps) == 3:
                both_inside.wait()
            return never(ids, scores)

        results[name] = decode(model, tokenizer, prompts, max_new_tokens=20, stopping_criteria=meet)

    threads = [threading.Thread(target=run, args=(name, prompts)) for name, prompts in (("a", PROMPTS), ("b", OTHERS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert torch.equal(results["a"], decode(model, tokenizer, PROMPTS, max_new_tokens=20, fast=False))
    assert torch.equal(results["b"], decode(model, tokenizer, OTHERS, max_new_tokens=20, fast=False))


def test_weights_moved_or_recast_are_never_read_through_a_kept_workspace(tokenizer, keep_on_cpu):
    model = tiny_llama(len(tokenizer), seed=1)
    decode(model, tokenizer, PROMPTS)
    [old] = kept(model)
    model.to(torch.float64)  # new tensors: a graph captured before would read the freed float32 ones
    tokens = decode(model, tokenizer, PROMPTS)
    assert old not in kept(model) and len(kept(model)) == 1
    assert torch.equal(tokens, decode(model, tokenizer, PROMPTS, fast=False))


@pytest.mark.parametrize("change", ["parameter assigned", "buffer recast", "training", "autocast"])
def test_a_model_changed_where_a_captured_step_would_not_see_it_gets_a_new_workspace(tokenizer, keep_on_cpu, change):
    model = tiny_llama(len(tokenizer), seed=1)
    decode(model, tokenizer, PROMPTS)
    [old] = kept(model)
    if change == "parameter assigned":  # same values and dtype at a new address: a graph would read the freed one
        model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone())
    elif change == "buffer recast":  # the rotary frequencies, which model.to(dtype) leaves in float32
        model.model.rotary_emb.inv_freq = model.model.rotary_emb.inv_freq.double()
    elif change == "training":
        model.train()
    context = torch.autocast("cpu", dtype=torch.bfloat16) if change == "autocast" else contextlib.nullcontext()
    with context:
        tokens = decode(model, tokenizer, PROMPTS)
        expected = decode(model, tokenizer, PROMPTS, fast=False)
    assert old not in kept(model) and len(kept(model)) == 1
    assert torch.equal(tokens, expected)
    model.eval()
    decode(model, tokenizer, PROMPTS)  # and back: another workspace again, not an error (autocast's cache dtype)


def test_release_frees_what_is_kept_for_a_model(tokenizer, keep_on_cpu):
    model = tiny_llama(len(tokenizer), seed=1)
    decode(model, tokenizer, PROMPTS)
    fast_decode.release(model)
    assert kept(model) == []
    fast_decode.release(model)  # nothing kept: nothing to do


def test_a_first_call_broken_off_raises_its_own_error(tokenizer, keep_on_cpu):
    model = tiny_llama(len(tokenizer), seed=1)

    def broken(ids, scores):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        decode(model, tokenizer, PROMPTS, stopping_criteria=broken)
    assert kept(model) == []


def test_kept_workspaces_do_not_keep_their_model_alive(tokenizer, keep_on_cpu):
    import gc
    import weakref

    model = tiny_llama(len(tokenizer), seed=1)
    decode(model, tokenizer, PROMPTS)
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


@pytest.mark.parametrize(("length", "most", "cache"), [(100, None, 256), (256, None, 256), (257, None, 512),
                                                        (280, 300, 300), (301, 300, 301), (40, 8192, 256)])
def test_cache_lengths_are_rounded_up_within_the_models_positions(length, most, cache):
    assert fast_decode._cache_length(length, most) == cache


def tiny(architecture, vocab_size, **extra):
    """A 2-layer random model of another architecture, sized and seeded as ``tiny_llama``."""
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(1)
    if architecture == "gpt2":
        config = AutoConfig.for_model("gpt2", vocab_size=vocab_size, n_embd=64, n_layer=2, n_head=4, n_positions=1024,
                                      eos_token_id=1, bos_token_id=None, initializer_range=0.2)
    else:
        config = AutoConfig.for_model(architecture, vocab_size=vocab_size, hidden_size=64, intermediate_size=128,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                      max_position_embeddings=1024, eos_token_id=1, bos_token_id=None,
                                      pad_token_id=None, initializer_range=0.2, **extra)
    return AutoModelForCausalLM.from_config(config).eval()


@pytest.mark.parametrize(("architecture", "extra"), [("gpt2", {}), ("qwen2", {}), ("qwen3", {}),
                                                     ("mistral", {"sliding_window": None})])  # Mistral v0.2 on
def test_other_architectures_decode_generates_tokens(tokenizer, architecture, extra):
    model = tiny(architecture, len(tokenizer), **extra)
    for _ in range(2):  # the second call on the kept workspace
        (plain, _), (fast, _) = both(model, tokenizer, max_new_tokens=[40, 25, 33])
        assert fast == plain


@pytest.mark.parametrize(("architecture", "extra"), [
    ("mistral", {"sliding_window": 16}),
    ("qwen2", {"use_sliding_window": True, "sliding_window": 16, "max_window_layers": 1}),
    ("gemma2", {"sliding_window": 16, "query_pre_attn_scalar": 16}),
])
def test_sliding_window_attention_is_refused_saying_what_to_do(tokenizer, architecture, extra):
    model = tiny(architecture, len(tokenizer), **extra)
    with pytest.raises(ConfigError, match="sliding-window attention .* decode without fast_decode"):
        stream_generate(model, tokenizer, PROMPTS, max_new_tokens=40, fast_decode=True)
