"""FocusLLM training, passkey prompts and CLI on tiny random Llama models (no download)."""

import random

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from sotkit.engines.focusllm import FocusConfig, FocusLLM  # noqa: E402
from sotkit.engines.focusllm.bench import growth_exponent  # noqa: E402
from sotkit.engines.focusllm.cli import _plan, main  # noqa: E402
from sotkit.engines.focusllm.passkey import build_trial, run_passkey  # noqa: E402
from sotkit.engines.focusllm.train import (  # noqa: E402
    TrainConfig,
    example_loss,
    sample_example,
    stdlib_corpus,
    stdlib_files,
    train,
)

CFG = FocusConfig(chunk_size=16, local_window=8, fragment_len=4)


def tiny_focus() -> FocusLLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
    )
    return FocusLLM(LlamaForCausalLM(config).eval(), CFG)


def test_examples_of_both_kinds_have_the_promised_shape():
    model = tiny_focus()
    stream = torch.arange(1000)  # distinct ids show where every piece came from
    cfg = TrainConfig(target_len=5, min_chunks=2, max_chunks=3)
    rng = random.Random(0)
    kinds = set()
    for _ in range(40):
        ex = sample_example(stream, model, cfg, rng)
        kinds.add(ex.kind)
        assert ex.memory.numel() in (32, 48) and ex.local.numel() == CFG.local_window and ex.target.numel() == 5
        if ex.kind == "repetition":  # the local context is copied from the memory; the target followed it there
            at = int(ex.local[0] - ex.memory[0])
            assert torch.equal(ex.memory[at : at + 8], ex.local) and torch.equal(ex.memory[at + 8 : at + 13], ex.target)
        else:  # memory, local context and target are consecutive text
            assert torch.equal(torch.cat([ex.memory, ex.local, ex.target]), torch.arange(ex.memory[0], ex.target[-1] + 1))
    assert kinds == {"continuation", "repetition"}


def test_training_moves_only_the_new_parameters_and_lowers_the_loss():
    model = tiny_focus()
    frozen = {n: p.clone() for n, p in model.base.named_parameters() if ".focus." not in n}
    stream = torch.randint(0, 64, (400,), generator=torch.Generator().manual_seed(1))
    cfg = TrainConfig(steps=12, lr=1e-2, target_len=4, repetition_share=1.0, log_every=1000)
    fixed = sample_example(stream, model, cfg, random.Random(5))
    with torch.no_grad():
        before = example_loss(model, fixed).item()
    summary = train(model, fixed.memory.repeat(4), cfg, log=lambda _: None)  # repetitions over a short stream
    with torch.no_grad():
        after = example_loss(model, fixed).item()
    assert summary["steps"] == 12 and summary["history"]["repetition"]
    assert after < before
    for name, p in model.base.named_parameters():
        if ".focus." not in name:
            assert torch.equal(p, frozen[name]), name


def test_stdlib_corpus_is_found_and_bounded():
    assert any(p.suffix == ".py" for p in stdlib_files())
    text = stdlib_corpus(max_chars=5000)
    assert len(text) == 5000 and text.startswith("# file: ")


class DigitTokenizer:
    """Character-level tokenizer: enough to check prompt lengths and answer scoring without a download."""

    def encode(self, text, add_special_tokens=False):
        return [ord(c) % 256 for c in text]

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids)


@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
def test_passkey_prompt_has_the_exact_length_and_the_key_at_its_depth(depth):
    tok = DigitTokenizer()
    trial = build_trial(tok, 2000, depth, "12345")
    text = tok.decode(trial.ids)
    assert len(trial.ids) == 2000 and text.endswith("The pass key is")
    where = text.index("The pass key is 12345") / len(text)
    assert abs(where - depth) < 0.1


def test_passkey_scoring_uses_the_answer_digits():
    tok = DigitTokenizer()
    oracle = lambda ids, k: tok.encode(" " + tok.decode(ids).split("The pass key is ")[1][:5] + ".")  # noqa: E731
    wrong = lambda ids, k: tok.encode(" 00000")  # noqa: E731
    assert all(r.correct for r in run_passkey(oracle, tok, [600], [0.2, 0.8], 2))
    assert not any(r.correct for r in run_passkey(wrong, tok, [600], [0.5], 2))
    with pytest.raises(ValueError, match="too short"):
        build_trial(tok, 100, 0.5, "12345")


def test_growth_exponent_recovers_power_laws():
    assert growth_exponent([1, 2, 4, 8], [3, 6, 12, 24]) == pytest.approx(1.0)
    assert growth_exponent([1, 2, 4], [1, 4, 16]) == pytest.approx(2.0)


def test_cli_rejects_bad_passkey_plans_and_missing_weights(tmp_path):
    assert _plan("plain:1,2;focusllm:3") == [("plain", [1, 2]), ("focusllm", [3])]
    with pytest.raises(Exception, match="bad passkey plan"):
        _plan("nonsense:1")
    assert main(["bench", "--weights", str(tmp_path / "missing.safetensors")]) == 2  # "run `train` first"


def test_the_prefill_benchmark_times_and_sizes_every_method_and_length():
    from sotkit.engines.focusllm.bench import prefill_benchmark
    from sotkit.engines.testing import tiny_llama

    model = FocusLLM(tiny_llama(64, seed=0), FocusConfig(chunk_size=16, local_window=8, fragment_len=4))
    report = prefill_benchmark(model, [64, 128], [256], repeats=2, log=lambda line: None)
    assert [(r["method"], r["length"]) for r in report["best"]] == [
        ("focusllm", 64), ("focusllm", 128), ("focusllm", 256), ("focusllm_static", 64), ("focusllm_static", 128),
        ("focusllm_static", 256), ("plain", 64), ("plain", 128)]
    for row in report["best"]:  # the fastest of the timed runs, and a peak from its own run
        timed = [r["seconds"] for r in report["runs"] if (r["method"], r["length"]) == (row["method"], row["length"])]
        assert row["seconds"] == min(timed) > 0 and "peak_mib" in row
    assert len(report["runs"]) == 2 * 2 * 3 + 2
    assert set(report["growth_exponent"]) == {"plain", "focusllm", "focusllm_static"}
