"""Unit marking and [PAD]-slot packing: partitions, the k cap, and logits identical to decoding-time feeds."""

import random

import pytest
import torch

from sotkit.engines.lexical_unit.decoding import pad_token_id
from sotkit.engines.lexical_unit.testing import char_tokenizer, tiny_llama
from sotkit.engines.lexical_unit.units import IGNORE, build_example, collate, mark_units, token_probabilities


@pytest.mark.parametrize("seed", range(20))
def test_units_partition_the_sequence_and_respect_k(seed):
    rng = random.Random(seed)
    n, k, alpha = rng.randint(1, 60), rng.randint(0, 5), rng.choice([0.0, 0.3, 0.7, 1.0])
    probs = [rng.random() for _ in range(n)]
    units = mark_units(probs, alpha, k)
    assert [t for s, e in units for t in range(s, e)] == list(range(n))
    for s, e in units:
        assert 1 <= e - s <= k + 1
        if e - s > 1:
            assert all(p >= alpha for p in probs[s:e])
        # Maximal: a confident unit shorter than the cap stops only at an unconfident token or the end.
        if probs[s] >= alpha and e - s < k + 1 and e < n:
            assert probs[e] < alpha


def test_mark_units_example():
    probs = [0.0, 0.95, 0.99, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1]
    assert mark_units(probs, 0.8, 2) == [(0, 1), (1, 3), (3, 4), (4, 7), (7, 9), (9, 10)]
    assert mark_units(probs, 0.8, 0) == [(t, t + 1) for t in range(10)]


@pytest.fixture(scope="module")
def tokenizer():
    return char_tokenizer()


@pytest.fixture(scope="module")
def model(tokenizer):
    return tiny_llama(len(tokenizer), seed=1)


def test_token_probabilities_match_a_plain_forward(model, tokenizer):
    ids = torch.tensor([tokenizer("for i in range(10):").input_ids])
    probs = token_probabilities(model, ids)
    logits = model(input_ids=ids).logits[0]
    expected = logits[:-1].softmax(-1).gather(-1, ids[0, 1:, None])[:, 0]
    torch.testing.assert_close(probs[0, 1:], expected)
    assert probs[0, 0] == 0


def test_packed_slots_see_exactly_what_decoding_feeds(model, tokenizer):
    """One packed forward gives, at every slot, the logits decoding would get from prefix + [PAD]s."""
    pad = pad_token_id(tokenizer)
    sequences = [tokenizer("while x < 10:\n    x += 1").input_ids, tokenizer("print(a, b)").input_ids]
    units = [[(0, 1), (1, 4), (4, 5), (5, 8), (8, 11), (11, len(sequences[0]))], [(0, 2), (2, 5), (5, 6), (6, 11)]]
    units = [[(s, e) for s, e in u if s < len(seq)] for u, seq in zip(units, sequences)]
    examples = [build_example(seq, u, pad) for seq, u in zip(sequences, units)]
    batch = collate(examples, filler_id=0)
    packed = model(
        input_ids=batch["input_ids"], position_ids=batch["position_ids"], attention_mask=batch["attention_mask"]
    ).logits
    for b, (seq, example) in enumerate(zip(sequences, examples)):
        torch.testing.assert_close(packed[b, : len(seq)], model(input_ids=torch.tensor([seq])).logits[0], atol=1e-5, rtol=1e-5)
        for s, e in units[b]:
            if s == 0 or e - s < 2:
                continue
            slots = [i for i, owner in enumerate(example.slot_of) if owner == s]
            assert len(slots) == e - s - 1
            assert [example.labels[i] for i in slots] == seq[s + 1 : e]
            fed = model(input_ids=torch.tensor([seq[:s] + [pad] * (e - s - 1)])).logits[0, s:]
            torch.testing.assert_close(packed[b, slots], fed, atol=1e-5, rtol=1e-5)
    # Real positions keep the ordinary next-token target; padding rows carry no target.
    assert examples[0].labels[: len(sequences[0]) - 1] == sequences[0][1:]
    assert (batch["labels"][1, len(examples[1].input_ids) :] == IGNORE).all()
