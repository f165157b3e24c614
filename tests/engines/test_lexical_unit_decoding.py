"""Lexical-unit decoding on a tiny random Llama: exactness against greedy, cache bookkeeping, stopping, streaming."""

import pytest
import torch

from sotkit.engines.lexical_unit.decoding import PAD_TOKEN, _lookup_draft, generate, pad_token_id
from sotkit.engines.lexical_unit.testing import char_tokenizer, tiny_llama

MAX_NEW = 24


@pytest.fixture(scope="module")
def tokenizer():
    return char_tokenizer()


@pytest.fixture(scope="module")
def model(tokenizer):
    return tiny_llama(len(tokenizer))


@pytest.fixture(scope="module")
def prompt(tokenizer):
    return tokenizer("def add(a, b):\n    return").input_ids


@pytest.fixture(scope="module")
def greedy(model, prompt):
    """transformers' own greedy decoding, the reference every exact mode must match."""
    out = model.generate(torch.tensor([prompt]), max_new_tokens=MAX_NEW, do_sample=False, eos_token_id=None)
    return out[0, len(prompt) :].tolist()


@pytest.mark.parametrize(("alpha", "k"), [(1.5, 3), (0.0, 0)])
def test_no_accepted_slots_is_greedy_with_one_forward_per_token(model, tokenizer, prompt, greedy, alpha, k):
    result = generate(model, tokenizer, prompt, MAX_NEW, alpha=alpha, k=k, eos_token_id=[])
    assert result.token_ids == greedy
    assert result.stats.forward_passes == MAX_NEW
    assert result.stats.histogram == {1: MAX_NEW}
    assert result.finish_reason == "length"


@pytest.mark.parametrize("alpha", [0.0, 1e-3, 0.05, 0.5, 1.0, 2.0])
def test_verified_mode_equals_greedy_at_every_alpha(model, tokenizer, prompt, greedy, alpha):
    result = generate(model, tokenizer, prompt, MAX_NEW, alpha=alpha, k=3, verify=True, eos_token_id=[])
    assert result.token_ids == greedy
    if alpha == 0.0:
        # Every slot token is drafted at alpha 0, and a random model's drafts are mostly wrong: the rollback ran.
        assert result.stats.proposed > 0 and result.stats.rejected > 0


def test_paper_mode_at_alpha_zero_takes_k_plus_one_tokens_per_forward(model, tokenizer, prompt):
    result = generate(model, tokenizer, prompt, 20, alpha=0.0, k=3, eos_token_id=[])
    assert len(result.token_ids) == 20
    assert result.stats.histogram == {4: 5}
    assert result.stats.forward_passes == 5


def test_pad_slots_leave_real_position_logits_unchanged(model, tokenizer, prompt):
    pad = pad_token_id(tokenizer)
    plain = model(input_ids=torch.tensor([prompt])).logits[0]
    with_slots = model(input_ids=torch.tensor([prompt + [pad] * 4])).logits[0]
    torch.testing.assert_close(with_slots[: len(prompt)], plain, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("verify", [False, True])
def test_cache_holds_exactly_the_accepted_tokens(model, tokenizer, prompt, verify):
    result = generate(model, tokenizer, prompt, MAX_NEW, alpha=0.0, k=3, verify=verify, eos_token_id=[])
    steps = result.stats.committed_per_step
    committed = 0
    for n_new, cache_len in zip(steps, result.stats.cache_lengths):
        # Paper mode feeds this step's tokens with the next step's slots; verified mode feeds all but the last
        # committed token together with the drafts, which are cropped unless confirmed.
        expected = len(prompt) + committed if not verify else len(prompt) + committed + n_new - 1
        assert cache_len == expected
        committed += n_new
    # Each step's first token is what a cache-free forward over the committed prefix picks: the cropped cache
    # is indistinguishable from one that never saw a [PAD].
    boundary = 0
    for n_new in steps[:-1] if not verify else []:
        prefix = prompt + result.token_ids[:boundary]
        assert model(input_ids=torch.tensor([prefix])).logits[0, -1].argmax().item() == result.token_ids[boundary]
        boundary += n_new


@pytest.mark.parametrize("verify", [False, True])
def test_eos_ends_generation(model, tokenizer, prompt, greedy, verify):
    eos = greedy[6]
    first = greedy.index(eos)
    result = generate(model, tokenizer, prompt, MAX_NEW, alpha=2.0, k=2, verify=verify, eos_token_id=eos)
    assert result.finish_reason == "eos"
    assert result.token_ids == greedy[: first + 1]


def test_stop_sequence_cuts_text_and_tokens(model, tokenizer, prompt, greedy):
    full = tokenizer.decode(greedy)
    stop = full[8:11]
    pieces = []
    result = generate(
        model, tokenizer, prompt, MAX_NEW, alpha=0.0, k=3, verify=True, stop=[stop], eos_token_id=[], on_span=pieces.append
    )
    assert result.finish_reason == "stop"
    assert result.text == full[: full.index(stop)]
    assert tokenizer.decode(result.token_ids).endswith(stop)
    assert result.token_ids == greedy[: len(result.token_ids)]
    assert "".join(pieces) == result.text


def test_streamed_spans_join_to_the_text(model, tokenizer, prompt):
    pieces = []
    result = generate(model, tokenizer, prompt, MAX_NEW, alpha=0.0, k=3, eos_token_id=[], on_span=pieces.append)
    assert len(pieces) > 1
    assert "".join(pieces) == result.text == tokenizer.decode(result.token_ids)


def test_a_nan_alpha_is_refused(model, tokenizer, prompt):
    # every p < NaN is False: it kept every slot, as alpha=0 does (review 206)
    from sotkit.engines.errors import ConfigError

    with pytest.raises(ConfigError, match="alpha is a probability threshold and must be >= 0, got nan"):
        generate(model, tokenizer, prompt, 4, alpha=float("nan"), k=2)


def test_a_sliding_window_model_is_refused_before_it_decodes(tokenizer, prompt):
    # its cache is a ring: cropping it failed with transformers' RuntimeError once the window was full (review 206)
    from transformers import MistralConfig, MistralForCausalLM

    from sotkit.engines.errors import ConfigError

    model = MistralForCausalLM(MistralConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                                             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                             sliding_window=16)).eval()
    for verify in (False, True):
        with pytest.raises(ConfigError, match="MistralForCausalLM's sliding-window attention .* decoding='greedy'"):
            generate(model, tokenizer, prompt, 40, alpha=0.0, k=0, verify=verify, eos_token_id=[])


def test_add_pad_token_sets_a_spare_row_it_takes_to_the_mean_of_the_tokens_rows():
    # a model whose embeddings have rows past its tokenizer's tokens (Qwen2, Llama 3): [PAD] took a spare row, left
    # as it was, untrained (review 206)
    import string

    from sotkit.engines.lexical_unit.decoding import add_pad_token
    from sotkit.engines.testing import char_tokenizer as plain_tokenizer, tiny_llama as llama

    for spare in (8, 0):
        tokenizer = plain_tokenizer(["<unk>", "</s>"], string.ascii_lowercase + " ", eos_token="</s>")
        model = llama(len(tokenizer) + spare)
        pad = add_pad_token(model, tokenizer)
        rows = model.get_input_embeddings().weight
        assert pad == len(tokenizer) - 1 and rows.shape[0] == max(pad + 1, len(tokenizer) + spare - 1)
        assert torch.allclose(rows[pad], rows[:pad].mean(0), atol=1e-6), spare


def test_tokenizer_without_pad_token_gets_a_clear_error(model, tokenizer, prompt):
    with pytest.raises(ValueError, match="add_pad_token"):
        generate(model, _NoPad(tokenizer), prompt, 4, alpha=0.9, k=2)


class _NoPad:
    """A tokenizer view whose vocabulary lacks [PAD], as most pretrained tokenizers do."""

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer
        self.unk_token_id = tokenizer.unk_token_id

    def convert_tokens_to_ids(self, token):
        return self.unk_token_id if token == PAD_TOKEN else self._tokenizer.convert_tokens_to_ids(token)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"k": -1}, "k "),
        ({"alpha": -0.5}, "alpha"),
        ({"lookup": -1}, "lookup"),
        ({"lookup": 3}, "verify=True"),
    ],
)
def test_bad_arguments_are_rejected_early(model, tokenizer, prompt, kwargs, message):
    args = {"max_new_tokens": 4, "alpha": 0.9, "k": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        generate(model, tokenizer, prompt, **args)
    with pytest.raises(ValueError, match="empty"):
        generate(model, tokenizer, [], 4)


def test_lookup_draft_copies_what_followed_the_latest_match():
    assert _lookup_draft([1, 2, 3, 4, 1, 2], 2) == [3, 4]
    assert _lookup_draft([1, 2, 9, 1, 2, 7, 5, 1, 2], 2) == [7, 5]  # the latest earlier occurrence wins
    assert _lookup_draft([5, 1, 2, 8, 6, 2], 3) == [8, 6, 2]  # no match of 3 or 2 tokens: the last one alone
    assert _lookup_draft([7, 7, 7, 7], 2) == [7, 7]  # in a loop, the latest match that has a full draft after it
    assert _lookup_draft([1, 2, 3], 4) == []


@pytest.mark.parametrize(("alpha", "k"), [(0.0, 3), (0.5, 3), (2.0, 3), (2.0, 0)])
def test_lookup_drafts_keep_verified_mode_equal_to_greedy(model, tokenizer, prompt, greedy, alpha, k):
    result = generate(model, tokenizer, prompt, MAX_NEW, alpha=alpha, k=k, verify=True, lookup=4, eos_token_id=[])
    assert result.token_ids == greedy
    assert result.stats.looked_up > 0  # drafted (a random model rejects them, so the rollback ran too)


def test_lookup_drafts_are_accepted_when_the_output_repeats(tokenizer, prompt):
    # Every block's output zeroed: the next token depends on the current one only, so greedy decoding falls
    # into a loop, which lookup then drafts correctly.
    looping = tiny_llama(len(tokenizer))
    with torch.no_grad():
        for layer in looping.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
    reference = looping.generate(torch.tensor([prompt]), max_new_tokens=MAX_NEW, do_sample=False, eos_token_id=None)
    result = generate(looping, tokenizer, prompt, MAX_NEW, alpha=2.0, k=0, verify=True, lookup=4, eos_token_id=[])
    assert result.token_ids == reference[0, len(prompt) :].tolist()
    assert result.stats.forward_passes < MAX_NEW / 2


@pytest.mark.parametrize("verify", [False, True])
def test_decoding_stops_at_the_models_context_and_no_slot_goes_past_it(tokenizer, prompt, verify):
    from sotkit.engines.errors import ConfigError

    most = len(prompt) + 10
    model = tiny_llama(len(tokenizer))
    model.config.max_position_embeddings = most
    positions: list[int] = []  # the last position each forward reads
    handle = model.register_forward_pre_hook(lambda module, args, kwargs: positions.append(
        kwargs["cache"].get_seq_length() + kwargs["input_ids"].shape[1] - 1), with_kwargs=True)
    result = generate(model, tokenizer, prompt, 50, alpha=0.0, k=3, verify=verify, eos_token_id=[])
    handle.remove()
    assert len(result.token_ids) == 10 and result.finish_reason == "model_context_window_exceeded"
    assert max(positions) < most
    with pytest.raises(ConfigError, match=f"the prompt has {len(prompt)} tokens and the model's context holds 8"):
        model.config.max_position_embeddings = 8
        generate(model, tokenizer, prompt, 5)
