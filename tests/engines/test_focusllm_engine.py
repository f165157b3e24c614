"""The FocusLLM engine (``decoding="focusllm"``) on a tiny model directory: what it refuses when the client is built,
and the wrapper it keeps on a loaded model."""

import gc
import json
import weakref

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

from sotkit.engines.errors import ConfigError
from sotkit.engines.focusllm import FocusConfig, FocusLLM
from sotkit.engines.focusllm.engine import Focus, base_fingerprint, chunks_overfill
from sotkit.engines.models import context_window
from sotkit.engines.testing import save_tiny_chat_model, tiny_chat_tokenizer, tiny_llama
from sotkit.providers.base import ChatRequest, Prompt


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny chat model directory and FocusLLM weights for it."""
    directory = save_tiny_chat_model(tmp_path_factory.mktemp("tiny"), seed=1)
    weights = FocusLLM(AutoModelForCausalLM.from_pretrained(directory), FocusConfig(16, 8, 4)).save_focus_weights(
        directory / "focus.safetensors")
    return directory, weights


def test_a_model_focusllm_cannot_wrap_is_refused_when_the_client_is_built(tiny, tmp_path):
    _, weights = tiny
    gpt2 = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(vocab_size=100, n_positions=64, n_embd=32, n_layer=1, n_head=2)).save_pretrained(gpt2)
    tiny_chat_tokenizer().save_pretrained(gpt2)
    with pytest.raises(ConfigError, match="needs a Llama-family model .* is model_type='gpt2'"):
        Focus(str(gpt2), focus_weights=weights)
    dynamic = tmp_path / "dynamic"
    save_tiny_chat_model(dynamic)
    config = json.loads((dynamic / "config.json").read_text())
    config["rope_parameters"] = {**(config.get("rope_parameters") or {}), "rope_type": "dynamic", "factor": 2.0}
    (dynamic / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="rope_type='dynamic'"):
        Focus(str(dynamic), focus_weights=weights)
    windowed = tmp_path / "windowed"  # review 206
    save_tiny_chat_model(windowed)
    config = json.loads((windowed / "config.json").read_text())
    qwen_window = {"sliding_window": 16, "use_sliding_window": True}  # on layers from max_window_layers (28) on
    for model_type, extra, refused in [("mistral", {"sliding_window": 16}, True), ("mistral", {}, True),  # (4096)
                                       ("mistral", {"sliding_window": None}, False), ("qwen2", {"sliding_window": 16},
                                       False), ("qwen2", qwen_window, False),
                                       ("qwen2", qwen_window | {"max_window_layers": 1}, True)]:
        (windowed / "config.json").write_text(json.dumps(config | {"model_type": model_type} | extra))
        if refused:
            with pytest.raises(ConfigError, match="sliding-window attention of .* drops"):
                Focus(str(windowed), focus_weights=weights)
        else:
            Focus(str(windowed), focus_weights=weights)
    # a config transformers refuses is a ConfigError, as the rest of this check's are (review 210)
    (windowed / "config.json").write_text(json.dumps(config | {"model_type": "mistral", "layer_types": ["nonsense"]}))
    with pytest.raises(ConfigError, match="config.json is not one transformers reads"):
        Focus(str(windowed), focus_weights=weights)


def test_weights_trained_for_another_model_are_refused_when_the_client_is_built(tmp_path, monkeypatch):
    # probe 115: focus_weights=True finds weights by the folder's name, and another model of that name used them
    base = save_tiny_chat_model(tmp_path / "a" / "model", seed=1)
    other = save_tiny_chat_model(tmp_path / "b" / "model", seed=2)
    weights = FocusLLM(AutoModelForCausalLM.from_pretrained(base), FocusConfig(16, 8, 4)).save_focus_weights(
        tmp_path / "focus.safetensors", base=base_fingerprint(str(base)))
    assert Focus(str(base), focus_weights=weights).chunking["chunk_size"] == 16
    with pytest.raises(ConfigError, match=r"were trained for another base model than '.*b/model' \(or for it saved "
                                          r"in another dtype or file format, \.bin or \.safetensors\); train them "
                                          r"for it with `sotkit engines focus train --base .*b/model"):
        Focus(str(other), focus_weights=weights)
    # the same weights, sharded, beside an adapter's file, and named from the home directory (review 116: refused)
    resharded = tmp_path / "c" / "model"
    AutoModelForCausalLM.from_pretrained(base).save_pretrained(resharded, max_shard_size="100KB")
    tiny_chat_tokenizer().save_pretrained(resharded)
    (resharded / "adapter_model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    assert not (resharded / "model.safetensors").exists()
    Focus(str(resharded), focus_weights=weights)
    # a damaged header gives no fingerprint (no verdict: loading it says what is wrong), not an AttributeError
    damaged = tmp_path / "d"
    damaged.mkdir()
    (damaged / "model.safetensors").write_bytes(len(b"[]").to_bytes(8, "little") + b"[]")
    assert base_fingerprint(str(damaged)) is None and base_fingerprint(str(tmp_path / "none")) is None
    monkeypatch.setenv("HOME", str(tmp_path))
    Focus("~/a/model", focus_weights=weights)
    with pytest.raises(ConfigError, match="were trained for another base model"):
        Focus("~/b/model", focus_weights=weights)


def test_weights_trained_for_chunks_longer_than_the_models_context_are_refused_when_the_client_is_built(tiny, tmp_path):
    # probe 339: chunks of 2,000 tokens for a model of 1,024 were taken, and every context longer than one chunk was
    # refused as "the prompt has 2015 tokens ...: shorten the question"
    # refused as "the prompt has 2015 tokens ...: shorten the question"; review 343: chunks that left a token or two
    # for the answer cut every answer there, and the embedded model's window was not checked
    directory, _ = tiny  # (a context of 1,024 positions)
    for chunk_size, refused in ((508, False), (509, True)):  # a chunk and its fragment of 4 take half of it at most
        weights = FocusLLM(AutoModelForCausalLM.from_pretrained(directory), FocusConfig(chunk_size, 8, 4)
                           ).save_focus_weights(tmp_path / f"{chunk_size}.safetensors")
        if refused:
            with pytest.raises(ConfigError, match=r"trained for chunks too long for .* \(a chunk of 509 tokens and its "
                               r"fragment of 4 take more than half the model's context of 1024, the answer's room: "
                               r"chunks of at most 508 tokens leave it half\); train weights for it with `sotkit "
                               r"engines focus train --base .* --chunk-size N"):
                Focus(str(directory), focus_weights=weights)
        else:
            assert Focus(str(directory), focus_weights=weights).chunking["chunk_size"] == 508
    assert chunks_overfill({"chunk_size": 4081, "fragment_len": 16}, context_window("smollm2")) is not None
    assert chunks_overfill({"chunk_size": 4080, "fragment_len": 16}, context_window("smollm2")) is None
    # review 344: a window the fragment alone half fills advised "chunks of at most -4 tokens"
    assert chunks_overfill({"chunk_size": 1, "fragment_len": 16}, 24).endswith("the fragment (fragment_len) must be "
                                                                                "smaller too")


def test_weights_of_another_size_without_a_fingerprint_fail_the_call_as_a_config_error(tiny, tmp_path):
    # probe 115: a raw RuntimeError ("The size of tensor a (32) must match ...") at the first call
    _, weights = tiny  # saved with no fingerprint, as before it was stored
    smaller = tmp_path / "smaller"
    tokenizer = tiny_chat_tokenizer()
    tiny_llama(len(tokenizer), hidden_size=32).save_pretrained(smaller)
    tokenizer.save_pretrained(smaller)
    engine = Focus(str(smaller), focus_weights=weights)
    model = AutoModelForCausalLM.from_pretrained(smaller, dtype=torch.float32).eval()
    request = ChatRequest(Prompt("Why is tea good?"), max_tokens=4, context="Tea is a leaf. " * 8)
    with pytest.raises(ConfigError, match=r"cannot serve .* does not fit this base model: .*focus.weight is "
                                          r"\(\d+, \d+\) there, \(\d+, \d+\) here"):
        engine.generate_one((model, AutoTokenizer.from_pretrained(smaller)), request, lambda text: None, lambda: False)


def test_the_wrapper_kept_for_a_loaded_model_is_freed_with_it(tiny):
    directory, weights = tiny
    engine = Focus(str(directory), focus_weights=weights)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    request = ChatRequest(Prompt("Why is tea good?"), max_tokens=4, context="Tea <|im_end|> is a leaf. " * 8)
    done = engine.generate_one((model, tokenizer), request, lambda text: None, lambda: False)
    assert done.output_tokens == 4
    again = engine.generate_one((model, tokenizer), request, lambda text: None, lambda: False)
    assert again == done  # the same wrapper, not the model wrapped twice
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


def test_a_context_too_long_for_focusllm_is_refused_in_its_own_numbers(tiny):
    # probe 115: "the prompt has 3000 tokens and the model's context holds 2048" of a 200,000-token context
    directory, weights = tiny
    engine = Focus(str(directory), focus_weights=weights)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    context = "Tea is a leaf. " * 6000
    request = ChatRequest(Prompt("Why is tea good?"), max_tokens=4, context=context)
    tokens = len(tokenizer(context, add_special_tokens=False)["input_ids"])
    with pytest.raises(ConfigError, match=r"FocusLLM reads the context's (\d+) tokens as \d+ chunks of 16, a position "
                                          r"each in the model's context of 1024 .* shorten the context to at most "
                                          r"about \d+ tokens") as caught:
        engine.generate_one((model, tokenizer), request, lambda text: None, lambda: False)
    assert tokens - 20 < int(caught.value.args[0].split("context's ")[1].split()[0]) <= tokens


def test_damaged_weights_are_refused_naming_the_file(tiny, tmp_path):
    # probe 139: a file cut short passed the client's construction and failed its first call with safetensors' own
    # error; one holding NaNs answered in special tokens, blamed on reasoning and on the context window
    directory, weights = tiny
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ConfigError, match=r"focus_weights='.*cut.safetensors' is cut short \([\d,]+ of its [\d,]+ "
                                          r"bytes\): copy it again whole"):
        Focus(str(directory), focus_weights=cut)
    with pytest.raises(ConfigError, match=r"focus_weights='': pass True"):
        Focus(str(directory), focus_weights="")
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(weights))
    name = sorted(tensors)[0]
    tensors[name][0, 0] = float("nan")
    nan = tmp_path / "nan.safetensors"
    save_file(tensors, str(nan), metadata={"focus_config": json.dumps({"chunk_size": 16, "local_window": 8,
                                                                         "fragment_len": 4})})
    engine = Focus(str(directory), focus_weights=nan)  # the header is whole: found as the weights load
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    request = ChatRequest(Prompt("Why is tea good?"), max_tokens=4, context="Tea is a leaf. " * 8)
    with pytest.raises(ConfigError, match=rf"nan.safetensors is damaged: {name} holds values that are not finite"):
        engine.generate_one((model, AutoTokenizer.from_pretrained(directory)), request, lambda text: None,
                            lambda: False)
