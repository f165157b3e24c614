"""End to end on a tiny Llama: learn a corpus, mark its units, train the [PAD] slots, decode faster, reload."""

import random

import pytest
import torch

from sotkit.engines.lexical_unit.decoding import generate, pad_token_id
from sotkit.engines.lexical_unit.testing import char_tokenizer, tiny_llama
from sotkit.engines.errors import ConfigError
from sotkit.engines.lexical_unit.train import TrainConfig, fine_tune, load_lud, mark_and_pack, save_lud

# After a word's first letter the rest of it is certain: those runs are the lexical units to learn.
WORDS = ["apple ", "berry ", "cherry ", "damson ", "elder "]


def corpus(tokenizer, n, seed):
    rng = random.Random(seed)
    return [tokenizer("".join(rng.choice(WORDS) for _ in range(8))).input_ids for _ in range(n)]


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    tokenizer = char_tokenizer()
    pad = pad_token_id(tokenizer)
    sequences = corpus(tokenizer, 32, seed=0)
    model = tiny_llama(len(tokenizer), seed=0)
    # Phase 1: an ordinary language model of the corpus (k = 0 means no slots at all).
    plain = mark_and_pack(model, sequences, alpha=0.8, k=0, pad_id=pad, bf16=False)
    assert all(e.n_slots == 0 for e in plain)
    fine_tune(model, plain, TrainConfig(steps=60, batch_size=8, lr=1e-2, train_top_layers=None, bf16=False), 0, log=_quiet)
    # Phase 2: that model's confident runs become [PAD]-slot targets.
    examples = mark_and_pack(model, sequences, alpha=0.8, k=3, pad_id=pad, bf16=False)
    config = TrainConfig(steps=60, batch_size=8, lr=5e-3, train_top_layers=None, bf16=False)
    report = fine_tune(model, examples, config, 0, log=_quiet)
    return model, tokenizer, examples, report


def _quiet(_):
    pass


def test_marked_units_cover_the_certain_letters(trained):
    _, _, examples, report = trained
    assert report.slot_targets > 0
    assert report.slot_loss[-1] < report.slot_loss[0]


def test_top_layer_training_leaves_the_rest_untouched():
    tokenizer = char_tokenizer()
    model = tiny_llama(len(tokenizer), seed=3)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    examples = mark_and_pack(model, corpus(tokenizer, 4, seed=1), alpha=0.0, k=2, pad_id=pad_token_id(tokenizer), bf16=False)
    report = fine_tune(model, examples, TrainConfig(steps=2, batch_size=2, train_top_layers=1, bf16=False), 0, log=_quiet)
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed and all(name.startswith(("model.layers.1.", "model.norm.")) for name in changed)
    assert report.trainable_parameters == sum(
        p.numel() for name, p in model.named_parameters() if name.startswith(("model.layers.1.", "model.norm."))
    )


def test_trained_slots_give_several_tokens_per_forward_and_verified_mode_stays_exact(trained):
    model, tokenizer, _, _ = trained
    prompt = tokenizer("cherry apple ").input_ids
    greedy = model.generate(torch.tensor([prompt]), max_new_tokens=40, do_sample=False, eos_token_id=None)[0, len(prompt) :]
    paper = generate(model, tokenizer, prompt, 40, alpha=0.5, k=3, eos_token_id=[])
    verified = generate(model, tokenizer, prompt, 40, alpha=0.5, k=3, verify=True, eos_token_id=[])
    assert verified.token_ids == greedy.tolist()
    assert verified.stats.tokens_per_forward > 1.5
    assert paper.stats.tokens_per_forward > 1.5
    # Unverified decoding may differ from greedy (that is the paper's trade-off), but not by much here.
    assert sum(a == b for a, b in zip(paper.token_ids, greedy.tolist())) >= 20


def test_saved_model_loads_back_and_decodes_the_same(trained, tmp_path):
    model, tokenizer, _, _ = trained
    save_lud(model, tokenizer, tmp_path / "lud", {"alpha": 0.8, "k": 3})
    loaded, loaded_tokenizer, config = load_lud(tmp_path / "lud")
    assert config == {"alpha": 0.8, "k": 3}
    # readable as its config is, by a service running as another user (probe 115: safetensors wrote 0600)
    modes = {path.name: path.stat().st_mode & 0o777 for path in (tmp_path / "lud").iterdir()}
    assert modes["model.safetensors"] == modes["config.json"] and modes["config.json"] & 0o044
    prompt = tokenizer("berry ").input_ids
    first = generate(model, tokenizer, prompt, 20, alpha=0.5, k=3, eos_token_id=[])
    again = generate(loaded, loaded_tokenizer, prompt, 20, alpha=0.5, k=3, eos_token_id=[])
    assert again.token_ids == first.token_ids


def test_load_lud_explains_a_wrong_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="sotkit engines lud train"):
        load_lud(tmp_path)


@pytest.mark.parametrize("top_layers, message", [(0, "got 0"), (3, "got 3"), (None, "no training examples")])
def test_bad_training_settings_are_config_errors_that_say_what_to_do(top_layers, message):
    tokenizer = char_tokenizer()
    model = tiny_llama(len(tokenizer), seed=0)  # two blocks
    examples = [] if top_layers is None else mark_and_pack(model, corpus(tokenizer, 2, seed=0), alpha=0.8, k=0,
                                                           pad_id=pad_token_id(tokenizer), bf16=False)
    config = TrainConfig(steps=1, train_top_layers=top_layers, bf16=False)
    with pytest.raises(ConfigError, match=message) as raised:
        fine_tune(model, examples, config, 0, log=_quiet)
    assert "--top-layers" in str(raised.value) or "lud prepare" in str(raised.value)
