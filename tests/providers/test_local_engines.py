"""The self-hosted engines behind ``local:``: lexical-unit decoding and FocusLLM, end to end through sotkit."""

from pathlib import Path

import pytest

import sotkit
from sotkit.engines.focusllm import FocusConfig, FocusLLM, focus_generate
from sotkit.engines.generation import chat_token_ids, stream_generate
from sotkit.engines.lexical_unit import add_pad_token, save_lud
from sotkit.engines.models import load_model
from sotkit.engines.testing import save_tiny_chat_model

pytestmark = pytest.mark.anyio

QUESTION = "Why is tea good?"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return save_tiny_chat_model(tmp_path_factory.mktemp("tiny"), seed=3)


@pytest.fixture(scope="module")
def lud_dir(tmp_path_factory, tiny_dir) -> Path:
    """The tiny model with a [PAD] slot, saved as a lexical-unit model (untrained: verify keeps it exact)."""
    model, tokenizer = load_model(tiny_dir)
    model, tokenizer = type(model).from_pretrained(tiny_dir), type(tokenizer).from_pretrained(tiny_dir)
    add_pad_token(model, tokenizer)
    return save_lud(model, tokenizer, tmp_path_factory.mktemp("lud"), {"alpha": 0.0, "k": 3})


@pytest.mark.parametrize("lookup", [0, 3])
async def test_verified_lexical_unit_decoding_answers_exactly_like_greedy(lud_dir, lookup):
    # float32: bfloat16 rounds a several-token forward differently from a one-token one
    greedy = await sotkit.generate(QUESTION, model=f"local:{lud_dir}", mode="sequential", max_tokens=24,
                                   dtype="float32")
    lud = await sotkit.generate(QUESTION, model=f"local:{lud_dir}", mode="sequential", max_tokens=24,
                                decoding="lexical_unit", verify=True, lookup=lookup, dtype="float32")
    assert lud.text == greedy.text and lud.text
    assert lud.usage.output_tokens == greedy.usage.output_tokens


def test_lexical_unit_decoding_needs_a_lexical_unit_model(tiny_dir):
    with pytest.raises(sotkit.ConfigError, match="no lud_config.json"):
        sotkit.SoT(f"local:{tiny_dir}", decoding="lexical_unit")
    with pytest.raises(sotkit.ConfigError, match="decoding='beam'"):
        sotkit.SoT(f"local:{tiny_dir}", decoding="beam")
    with pytest.raises(sotkit.ConfigError, match="verify=True"):
        sotkit.SoT(f"local:{tiny_dir}", decoding="lexical_unit", lookup=3)


@pytest.mark.parametrize("options, says", [
    ({"alpha": "0.9"}, "alpha='0.9': must be a finite number >= 0"),
    ({"alpha": float("nan")}, "alpha=nan"),
    ({"alpha": float("inf")}, "alpha=inf: must be a finite number"),  # (probe 339: "a number >= 0" for inf)
    ({"k": 1.5}, "k=1.5: must be a whole number from 0 to 64"),
    ({"k": 10**6}, "k=1000000: must be a whole number from 0 to 64"),  # a forward a million slots wide
    ({"verify": "yes"}, "verify='yes': use True"),
    ({"lookup": 2.5, "verify": True}, "lookup=2.5: must be a whole number from 0"),
])
def test_lexical_unit_options_are_checked_when_the_client_is_built(lud_dir, options, says):
    with pytest.raises(sotkit.ConfigError, match=says):
        sotkit.SoT(f"local:{lud_dir}", decoding="lexical_unit", **options)


def test_a_lexical_unit_model_without_its_pad_token_is_refused_when_the_client_is_built(tiny_dir, tmp_path):
    (tmp_path / "lud_config.json").write_text('{"alpha": 0.9, "k": 3}')
    for file in tiny_dir.iterdir():
        (tmp_path / file.name).symlink_to(file)
    with pytest.raises(sotkit.ConfigError, match=r"no \[PAD\] token in its tokenizer.*lud prepare"):
        sotkit.SoT(f"local:{tmp_path}", decoding="lexical_unit")


async def test_focusllm_reads_the_context_itself(tmp_path, tiny_dir):
    cached, tokenizer = load_model(tiny_dir, dtype="float32")
    model = type(cached).from_pretrained(tiny_dir)  # our own copy: wrapping changes a model in place
    focus = FocusLLM(model, FocusConfig(chunk_size=16, local_window=8, fragment_len=4))
    weights = focus.save_focus_weights(tmp_path / "focus.safetensors")
    context = "Tea leaves are dried. " * 12
    result = await sotkit.generate(QUESTION, model=f"local:{tiny_dir}", focus_weights=weights, context=context,
                                   mode="sequential", max_tokens=16, dtype="float32")
    prompt = sotkit.Templates(local=True).render("sequential", question=QUESTION)
    assert "Tea leaves" not in prompt.user  # the context was not pasted into the prompt...
    direct = focus_generate(focus, tokenizer,
                            tokenizer(context, add_special_tokens=False)["input_ids"],
                            chat_token_ids(tokenizer, prompt), 16)
    assert result.text == direct  # ...FocusLLM read it in chunks
    plain = stream_generate(cached, tokenizer, [prompt], max_new_tokens=16)[0].text
    assert result.text != plain
    with pytest.raises(sotkit.ConfigError, match="no FocusLLM weights"):
        sotkit.SoT(f"local:{tiny_dir}", focus_weights=tmp_path / "missing.safetensors")


async def test_focusllm_weights_are_checked_and_one_model_takes_several_weights_files(tmp_path, tiny_dir):
    import json

    import torch
    from safetensors.torch import save_file

    junk = tmp_path / "junk.safetensors"
    junk.write_text("not safetensors")
    with pytest.raises(sotkit.ConfigError, match="is not a file of FocusLLM weights"):
        sotkit.SoT(f"local:{tiny_dir}", focus_weights=junk)
    config = json.dumps({"chunk_size": 16, "local_window": 8, "fragment_len": 4})
    other = tmp_path / "other.safetensors"  # FocusLLM weights of a deeper model
    save_file({"model.layers.99.self_attn.q_proj.focus.weight": torch.zeros(2, 2)}, str(other),
              metadata={"focus_config": config})
    cls = type(load_model(tiny_dir)[0])  # our own copies: wrapping changes a model in place
    first, second = (FocusLLM(cls.from_pretrained(tiny_dir), FocusConfig(chunk_size=16, local_window=8,
                                                                         fragment_len=4)) for _ in "ab")
    for focus, name in ((first, "a"), (second, "b")):
        for parameter in focus.focus_parameters():  # two different trainings of the same model
            torch.nn.init.normal_(parameter, std=0.05, generator=torch.Generator().manual_seed(ord(name)))
    files = [focus.save_focus_weights(tmp_path / f"{name}.safetensors")
             for focus, name in ((first, "a"), (second, "b"))]
    context, answers = "Tea leaves are dried. " * 12, []
    for weights in (other, files[0], files[1], files[0]):
        async with sotkit.SoT(f"local:{tiny_dir}", focus_weights=weights, mode="sequential", max_tokens=12,
                              dtype="float32") as sot:
            if weights == other:  # found at the first call (the header alone cannot say which model)
                with pytest.raises(sotkit.ConfigError, match="cannot serve .* does not fit this base model"):
                    await sot.generate(QUESTION, context=context)
                continue
            answers.append((await sot.generate(QUESTION, context=context)).text)
    assert answers[0] == answers[2] != answers[1]  # each client reads with its own weights, the model still usable
