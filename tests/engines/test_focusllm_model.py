"""Exactness of the FocusLLM wrapper on tiny random Llama models (no download)."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from sotkit.engines.focusllm import FocusConfig, FocusLLM, read_focus_config  # noqa: E402
from sotkit.engines.focusllm.model import ChunkBatch  # noqa: E402

VOCAB = 96
ATOL = 1e-5


def tiny_llama(seed: int = 0, **overrides) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        **overrides,
    )
    return LlamaForCausalLM(config).eval()


def perturb_focus(model: FocusLLM, seed: int = 1, scale: float = 0.05) -> None:
    """Make the candidate projections differ from the frozen ones, so the two paths are distinguishable."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.focus_parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))


def ids(n: int, seed: int = 3) -> torch.Tensor:
    return torch.randint(0, VOCAB, (n,), generator=torch.Generator().manual_seed(seed))


CFG = FocusConfig(chunk_size=16, local_window=8, fragment_len=4)


@pytest.fixture
def focus() -> FocusLLM:
    model = FocusLLM(tiny_llama(), CFG)
    perturb_focus(model)
    return model


def test_prompt_within_local_window_is_exactly_the_base_model():
    prompt = ids(CFG.local_window)
    reference = tiny_llama()
    with torch.no_grad():
        ref_logits = reference(prompt[None]).logits[0, -1]
    ref_tokens = reference.generate(
        prompt[None], max_new_tokens=6, do_sample=False, pad_token_id=0, attention_mask=torch.ones(1, len(prompt))
    )[0, len(prompt) :].tolist()

    model = FocusLLM(tiny_llama(), CFG)
    perturb_focus(model)  # must not matter: no memory, no candidates
    logits, _ = model.prefill(prompt)
    torch.testing.assert_close(logits, ref_logits, atol=1e-6, rtol=0)  # same ops; BLAS row blocking may differ
    assert model.generate(prompt, 6) == ref_tokens


def test_candidates_with_frozen_copies_equal_a_plain_forward_over_chunk_and_fragment():
    model = FocusLLM(tiny_llama(), CFG)  # projections start as exact copies of the frozen ones
    memory, fragment = ids(40), ids(CFG.fragment_len, seed=4)
    chunks = model.chunk_memory(memory)
    with torch.no_grad():
        encoding = model.encode_chunks(chunks, fragment)
        candidates = encoding.candidates(1)
        for row, piece in enumerate(torch.split(memory, CFG.chunk_size)):
            plain = model.base(torch.cat([piece, fragment])[None], use_cache=True).cache
            for layer, (keys, values) in enumerate(candidates):
                torch.testing.assert_close(keys[row, :, -1], plain.layers[layer].keys[0, :, -1], atol=ATOL, rtol=0)
                torch.testing.assert_close(values[row, :, -1], plain.layers[layer].values[0, :, -1], atol=ATOL, rtol=0)


@pytest.mark.parametrize("batch_tokens", [4096, 25])  # every chunk in one forward, or one chunk per forward
def test_batched_chunk_encoding_equals_chunk_by_chunk(focus, monkeypatch, batch_tokens):
    memory, appended = ids(45), ids(6, seed=5)  # 45 = 16 + 16 + 13: the last chunk is padded in the batch
    batch = focus.chunk_memory(memory)
    monkeypatch.setattr(focus, "encode_batch_tokens", batch_tokens)
    with torch.no_grad():
        batched = focus.encode_chunks(batch, appended)
        for row in range(batch.ids.shape[0]):
            real = batch.ids[row, batch.key_mask[row]]
            alone = focus.encode_chunks(ChunkBatch(real[None], torch.tensor([len(real)])), appended)
            cols = batched.key_mask[row]
            for mine, single in zip(batched.cache.layers, alone.cache.layers):
                torch.testing.assert_close(mine.keys[row][:, cols], single.keys[0], atol=ATOL, rtol=0)
                torch.testing.assert_close(mine.values[row][:, cols], single.values[0], atol=ATOL, rtol=0)
            assert int(batched.next_position[row]) == int(alone.next_position[0]) == len(real) + len(appended)


@pytest.mark.parametrize(
    "rope",
    [
        {"rope_type": "default", "rope_theta": 10000.0},
        {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 128},
    ],
)
def test_repositioned_keys_equal_keys_computed_at_the_target_position(rope):
    model = FocusLLM(tiny_llama(rope_parameters=rope), CFG)
    seq, offset = ids(12)[None], 37
    positions = torch.arange(12)[None]
    with torch.no_grad():
        here = model.base(seq, position_ids=positions, use_cache=True).cache
        there = model.base(seq, position_ids=positions + offset, use_cache=True).cache
        for a, b in zip(here.layers, there.layers):
            moved = model.reposition(a.keys, positions, positions + offset)
            torch.testing.assert_close(moved, b.keys, atol=1e-4, rtol=0)
            assert not torch.allclose(a.keys, b.keys, atol=1e-3)  # the move is not a no-op


@pytest.mark.parametrize("length", [1, 15, 16, 17, 48, 50])
def test_chunks_cover_the_memory_exactly_once(length):
    model = FocusLLM(tiny_llama(), CFG)
    memory = torch.arange(length)  # distinct ids, so any duplicate or gap shows
    batch = model.chunk_memory(memory)
    assert batch.ids.shape[0] == -(-length // CFG.chunk_size)
    assert batch.width <= CFG.chunk_size
    assert torch.equal(batch.ids[batch.key_mask], memory)
    assert int(batch.lengths.sum()) == length


def test_incremental_candidate_updates_equal_recomputing_from_scratch(focus):
    memory, local = ids(45), ids(CFG.local_window, seed=6)
    steps: list[torch.Tensor] = []
    logits, state = focus.prefill(local, memory)
    steps.append(logits)
    generated = []
    for _ in range(4):
        generated.append(int(logits.argmax()))
        logits = focus.step(state, generated[-1])
        steps.append(logits)

    with torch.no_grad():
        # Candidates: the chunks re-read from scratch with fragment + generated tokens appended.
        fragment = local[-CFG.fragment_len :]
        fresh = focus.encode_chunks(focus.chunk_memory(memory), torch.cat([fragment, torch.tensor(generated)]))
        for mine, ref in zip(state.chunks.candidates(1), fresh.candidates(1)):
            torch.testing.assert_close(mine[0], ref[0], atol=ATOL, rtol=0)
            torch.testing.assert_close(mine[1], ref[1], atol=ATOL, rtol=0)
        # Logits: the one-pass teacher-forced forward (the training path) with per-step candidates.
        full, _ = focus.forward_with_memory(memory, local, torch.tensor(generated))
    torch.testing.assert_close(torch.stack(steps), full[len(local) - 1 :], atol=1e-4, rtol=0)


def test_static_mode_keeps_prefill_candidates(focus):
    memory, local = ids(45), ids(CFG.local_window, seed=6)
    logits, state = focus.prefill(local, memory)
    prefill_keys = state.main.layers[0].keys[:, :, : state.n_chunks].clone()
    steps, generated = [logits], []
    for _ in range(4):
        generated.append(int(steps[-1].argmax()))
        steps.append(focus.step(state, generated[-1], static=True))
    assert torch.equal(state.main.layers[0].keys[:, :, : state.n_chunks], prefill_keys)
    with torch.no_grad():
        static, _ = focus.forward_with_memory(memory, local, torch.tensor(generated), static=True)
        live, _ = focus.forward_with_memory(memory, local, torch.tensor(generated))
    torch.testing.assert_close(torch.stack(steps), static[len(local) - 1 :], atol=1e-4, rtol=0)
    assert not torch.allclose(static[len(local) :], live[len(local) :], atol=1e-4)  # updates do change logits
    torch.testing.assert_close(static[: len(local)], live[: len(local)], atol=1e-5, rtol=0)


def test_a_static_prefill_keeps_only_candidates_and_generates_the_same(focus, monkeypatch):
    memory, local = ids(45), ids(CFG.local_window, seed=6)
    full_logits, full = focus.prefill(local, memory)
    monkeypatch.setattr(focus, "encode_batch_tokens", 25)  # one chunk per forward
    logits, state = focus.prefill(local, memory, static=True)
    assert state.chunks is None
    torch.testing.assert_close(logits, full_logits, atol=ATOL, rtol=0)
    for layer, reference in zip(state.main.layers, full.main.layers):
        torch.testing.assert_close(layer.keys, reference.keys, atol=ATOL, rtol=0)
    tokens, next_logits = [], full_logits  # static steps after a full prefill: the reference
    for _ in range(6):
        tokens.append(int(next_logits.argmax()))
        next_logits = focus.step(full, tokens[-1], static=True)
    assert focus.generate(local, 6, memory=memory, static=True) == tokens


def test_only_the_new_parameters_are_trainable_saved_and_loaded(focus, tmp_path):
    trainable = [n for n, p in focus.named_parameters() if p.requires_grad]
    assert trainable and all(".focus." in n for n in trainable)
    assert len(trainable) == 4 * focus.base.config.num_hidden_layers  # q, k, v, o per layer (no bias)

    path = focus.save_focus_weights(tmp_path / "focus.safetensors")
    assert read_focus_config(path) == CFG
    (tmp_path / "plain.txt").write_text("")  # safetensors wrote 0600 (probe 115): the mode a new file gets
    assert path.stat().st_mode & 0o777 == (tmp_path / "plain.txt").stat().st_mode & 0o777
    loaded = FocusLLM.from_pretrained(tiny_llama(), path)
    assert loaded.config == CFG
    for (name, a), b in zip(focus.focus_state_dict().items(), loaded.focus_state_dict().values()):
        assert torch.equal(a, b), name
    memory, local = ids(45), ids(CFG.local_window, seed=6)
    assert focus.generate(local, 3, memory=memory) == loaded.generate(local, 3, memory=memory)


def test_bad_input_is_rejected_early():
    with pytest.raises(ValueError, match="fragment_len"):
        FocusConfig(chunk_size=16, local_window=4, fragment_len=8)
    model = FocusLLM(tiny_llama(), CFG)
    with pytest.raises(ValueError, match="fewer than fragment_len"):
        model.prefill(ids(2), memory=ids(20))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        model.generate([], 3)
    with pytest.raises(ValueError, match="rope_type"):
        FocusLLM(tiny_llama(rope_parameters={"rope_type": "dynamic", "rope_theta": 1e4, "factor": 2.0}), CFG)


def test_a_sliding_window_model_is_refused():
    # its cache drops the oldest keys once the window is full: the candidates were written over the local context's
    # keys, and the answer was wrong with no error (review 206)
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    with pytest.raises(ValueError, match="sliding-window attention layer drops"):
        FocusLLM(MistralForCausalLM(MistralConfig(**config.to_dict() | {"sliding_window": 40})).eval(), CFG)
    config.sliding_window = None  # Mistral v0.2 on
    FocusLLM(MistralForCausalLM(config).eval(), CFG)


class CharTokenizer:
    eos_token_id = None

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(65 + i % 26) for i in ids)


def test_focus_generate_streams_text_and_keeps_the_prompt_local(focus):
    from sotkit.engines.focusllm import focus_generate

    context, prompt = ids(45).tolist(), ids(12, seed=7).tolist()  # prompt longer than local_window (8)
    pieces: list[str] = []
    text = focus_generate(focus, CharTokenizer(), context, prompt, 5, on_text=pieces.append)
    expected = focus.generate(prompt, 5, memory=context)  # the whole prompt stays in the local context
    assert text == CharTokenizer().decode(expected) == "".join(pieces)


def test_without_a_context_the_prompt_is_read_whole_by_the_base_model(focus):
    """No context: nothing goes into memory, not even the part of a long prompt past the local window."""
    from sotkit.engines.focusllm import focus_generate

    prompt = ids(30, seed=7).tolist()  # longer than local_window (8): split, it would be cut into memory chunks
    reference = tiny_llama()
    plain = reference.generate(torch.tensor([prompt]), max_new_tokens=5, do_sample=False, pad_token_id=0,
                               attention_mask=torch.ones(1, len(prompt)))[0, len(prompt):].tolist()
    text = focus_generate(focus, CharTokenizer(), [], prompt, 5)
    assert text == CharTokenizer().decode(plain)


def test_a_stop_while_the_memory_is_read_ends_before_the_next_batch_of_chunks(focus):
    """A deadline during a long context's reading: no further chunk batch runs, and nothing is generated."""
    focus.encode_batch_tokens = 1  # one chunk a batch: 13 batches for this memory
    forwards: list[int] = []
    handle = focus.base.get_decoder().register_forward_hook(lambda *args: forwards.append(1))
    asked = iter([False, False, True])  # stop after two batches
    tokens = focus.generate(ids(20, seed=5), 5, memory=ids(200), should_stop=lambda: next(asked))
    handle.remove()
    assert tokens == [] and len(forwards) == 2


def test_generation_stops_at_the_context_and_a_question_that_fills_it_is_refused():
    from sotkit.engines.errors import ConfigError
    from sotkit.engines.focusllm import focus_completion

    base = tiny_llama(eos_token_id=None)
    base.config.max_position_embeddings = 40
    focus = FocusLLM(base, CFG)
    context = ids(64).tolist()  # 4 chunks: the main decoder reads 4 slots, then the 20-token question
    done = focus_completion(focus, CharTokenizer(), context, ids(20, seed=7).tolist(), 100)
    assert done.output_tokens == 40 - 4 - 20 and done.finish_reason == "model_context_window_exceeded"
    with pytest.raises(ConfigError, match="the prompt has 44 tokens and the model's context holds 40"):
        focus_completion(focus, CharTokenizer(), [], ids(44, seed=7).tolist(), 5)
