"""`sotkit engines focus`: bad input is one `sotkit: error:` line (exit 2), found before any model loads."""

import re

import pytest

pytest.importorskip("transformers")

from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

from sotkit.engines.focusllm import cli  # noqa: E402
from sotkit.engines.testing import save_tiny_chat_model, tiny_chat_tokenizer  # noqa: E402


@pytest.fixture
def no_loading(monkeypatch):
    """Loading a model fails the test: these errors must come first."""
    monkeypatch.setattr(cli, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("sotkit: error: ") and err.count("\n") == 1, err
    return err


def test_device_and_dtype_typos_are_refused_before_loading(no_loading, tmp_path, capsys):
    base = str(save_tiny_chat_model(tmp_path / "tiny"))
    capsys.readouterr()  # transformers' progress bars
    assert cli.main(["train", "--base", base, "--device", "gpu"]) == 2
    assert "device='gpu'" in one_error_line(capsys)
    assert cli.main(["bench", "--base", base, "--untrained", "--dtype", "fp16"]) == 2
    assert "dtype='fp16'" in one_error_line(capsys)


def test_a_model_that_cannot_be_loaded_is_one_line(tmp_path, capsys):
    base = str(save_tiny_chat_model(tmp_path / "tiny"))
    capsys.readouterr()
    assert cli.main(["train", "--base", str(tmp_path / "nothing"), "--steps", "1"]) == 2
    assert "is not a directory" in one_error_line(capsys)
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        assert cli.main(["train", "--base", base, "--device", "cuda", "--steps", "1"]) == 2
        assert "sees no CUDA GPU" in one_error_line(capsys)


def test_a_model_focusllm_cannot_wrap_is_refused_before_loading(no_loading, tmp_path, capsys):
    gpt2 = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(vocab_size=100, n_positions=64, n_embd=32, n_layer=1, n_head=2)).save_pretrained(gpt2)
    tiny_chat_tokenizer().save_pretrained(gpt2)
    capsys.readouterr()
    assert cli.main(["train", "--base", str(gpt2), "--steps", "1", "--weights", str(tmp_path / "w.safetensors")]) == 2
    assert "needs a Llama-family model" in one_error_line(capsys)
    assert cli.main(["bench", "--base", str(gpt2), "--untrained", "--skip-prefill"]) == 2
    assert "is model_type='gpt2'" in one_error_line(capsys)


def test_missing_weights_are_one_error_line_and_exit_2_as_bad_input(tmp_path, capsys):
    assert cli.main(["bench", "--weights", str(tmp_path / "missing.safetensors")]) == 2
    assert re.search("error: no FocusLLM weights at .*sotkit engines focus train", one_error_line(capsys))


def test_help_is_plain_text_with_the_defaults_as_typed(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "``" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    train = " ".join(capsys.readouterr().out.split())
    assert "--steps STEPS optimizer steps (default: 200)" in train
    assert "--report REPORT write the training summary as JSON here --resume" in train  # no "(default: None)"
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    bench = " ".join(capsys.readouterr().out.split())
    assert "(default: plain:4096,8192;focusllm:4096,8192,16384)" in bench and "(default: 0.1,0.5,0.9)" in bench
    # the defaults, given as text, still parse to what the benchmark takes
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench"])
    assert args.passkey == [("plain", [4096, 8192]), ("focusllm", [4096, 8192, 16384])]
    assert (args.prefill_lengths, args.focus_only_lengths, args.depths) == ([2048, 4096, 8192], [16384, 32768],
                                                                            [0.1, 0.5, 0.9])


@pytest.mark.parametrize("option, value, message", [
    ("--depths", "2", "give fractions from 0 to 1"), ("--depths", "0.1,x", "give fractions from 0 to 1"),
    ("--trials", "0", "give a whole number, at least 1"), ("--repeats", "0", "give a whole number, at least 1")])
def test_bench_numbers_out_of_range_are_refused_before_loading(no_loading, capsys, option, value, message):
    # --depths 2 loaded the model, then failed in a traceback; --trials 0 wrote a benchmark of nothing, exit 0
    with pytest.raises(SystemExit) as exit:
        cli.main(["bench", "--untrained", f"{option}={value}"])
    assert exit.value.code == 2 and f"argument {option}: '{value}': {message}" in capsys.readouterr().err


@pytest.mark.parametrize("arguments, message", [
    (["train", "--lr", "-1"], "argument --lr: '-1': give a number above 0"),
    (["train", "--chunk-size", "0"], "argument --chunk-size: '0': give a whole number, at least 1"),
    (["train", "--steps", "0"], "argument --steps: '0': give a whole number, at least 1"),
    (["train", "--repetition-share", "2"], "argument --repetition-share: '2': give a number at least 0 and at most 1"),
    (["train", "--threads", "-1"], "argument --threads: '-1': give a whole number, at least 0"),  # 0: torch's
    (["bench", "--untrained", "--chunk-size", "-5"], "argument --chunk-size: '-5': give a whole number, at least 1"),
    (["bench", "--untrained", "--passkey", "focusllm:0"], "give lengths in tokens, such as 2048,4096"),
])
def test_numbers_out_of_range_are_refused_as_the_command_line_is_read(no_loading, capsys, arguments, message):
    # probe 139: each ended in a traceback after loading (or training), or trained and saved without a word
    with pytest.raises(SystemExit) as exit:
        cli.main(arguments)
    assert exit.value.code == 2 and message in capsys.readouterr().err


def test_where_results_go_is_checked_before_the_work(no_loading, tmp_path, capsys):
    # probe 139: --weights or --out naming a folder failed with a traceback after the training or every
    # measurement (91 CPU-minutes for the README's run), the results lost
    base = str(save_tiny_chat_model(tmp_path / "tiny"))
    capsys.readouterr()
    assert cli.main(["train", "--base", base, "--weights", str(tmp_path)]) == 2
    assert f"--weights {tmp_path} is a directory" in one_error_line(capsys)
    assert cli.main(["train", "--base", base, "--weights", "/proc/w.safetensors"]) == 2
    assert "--weights /proc/w.safetensors cannot be written" in one_error_line(capsys)
    assert cli.main(["train", "--base", base, "--min-chunks", "5", "--max-chunks", "2"]) == 2
    assert "--min-chunks 5 is more than --max-chunks 2" in one_error_line(capsys)
    assert cli.main(["bench", "--base", base, "--untrained", "--out", str(tmp_path)]) == 2
    assert f"--out {tmp_path} is a directory" in one_error_line(capsys)


def test_chunks_longer_than_the_models_context_are_refused_before_loading(no_loading, tmp_path, capsys):
    # probe 339: --chunk-size 2000 for a model of 1,024 positions trained, and the weights served no long context
    base = str(save_tiny_chat_model(tmp_path / "tiny"))
    capsys.readouterr()
    assert cli.main(["train", "--base", base, "--chunk-size", "502", "--fragment-len", "11"]) == 2
    assert one_error_line(capsys).endswith(": a chunk of 502 tokens and its fragment of 11 take more than half the "
                                           "model's context of 1024, the answer's room: chunks of at most 501 tokens "
                                           "leave it half; pass a smaller --chunk-size\n")
    # review 344: weights to resume from are refused by their own chunks, which no --chunk-size changes
    from transformers import AutoModelForCausalLM

    from sotkit.engines.focusllm import FocusConfig, FocusLLM
    from sotkit.engines.focusllm.engine import base_fingerprint

    resumed = FocusLLM(AutoModelForCausalLM.from_pretrained(base), FocusConfig(600, 8, 4)).save_focus_weights(
        tmp_path / "600.safetensors", base=base_fingerprint(base))
    capsys.readouterr()
    assert cli.main(["train", "--base", base, "--resume", str(resumed), "--weights", str(tmp_path / "w.st")]) == 2
    assert one_error_line(capsys).endswith("chunks of at most 508 tokens leave it half; train new weights, without "
                                           "--resume\n")
    for command in (["train", "--base", "smollm2"], ["bench", "--base", "smollm2", "--untrained"]):  # (review 343)
        assert cli.main([*command, "--chunk-size", "5000"]) == 2
        assert "of 5000 tokens and its fragment of 16 take more than half the model's context of 8192" in \
            one_error_line(capsys)


def test_training_does_not_replace_another_models_weights(no_loading, tmp_path, capsys):
    # probe 139: the default weights file is named after the model's folder, and training another model of that
    # folder name replaced the first one's weights without a word
    from transformers import AutoModelForCausalLM

    from sotkit.engines.focusllm import FocusConfig, FocusLLM
    from sotkit.engines.focusllm.engine import base_fingerprint

    first, second = (save_tiny_chat_model(tmp_path / name / "model", seed=seed) for name, seed in (("a", 1), ("b", 2)))
    weights = FocusLLM(AutoModelForCausalLM.from_pretrained(first), FocusConfig(16, 8, 4)).save_focus_weights(
        tmp_path / "model.safetensors", base=base_fingerprint(str(first)))
    kept = weights.read_bytes()
    capsys.readouterr()
    assert cli.main(["train", "--base", str(second), "--weights", str(weights)]) == 2
    assert "were trained for another base model" in one_error_line(capsys) and weights.read_bytes() == kept
    weights.write_bytes(kept[:-1000])  # review 139: cut short, another model's were replaced as a stopped save's
    assert cli.main(["train", "--base", str(second), "--weights", str(weights)]) == 2
    assert "were trained for another base model" in one_error_line(capsys)


def test_training_replaces_weights_that_a_stopped_save_cut_short(no_loading, tmp_path, capsys, monkeypatch):
    # review 138: weights cut short were refused as --weights of a new training, with the advice to train them
    from transformers import AutoModelForCausalLM

    from sotkit.engines.focusllm import FocusConfig, FocusLLM
    from sotkit.engines.focusllm.engine import base_fingerprint

    base = save_tiny_chat_model(tmp_path / "model")
    weights = FocusLLM(AutoModelForCausalLM.from_pretrained(base), FocusConfig(16, 8, 4)).save_focus_weights(
        tmp_path / "w.safetensors", base=base_fingerprint(str(base)))
    weights.write_bytes(weights.read_bytes()[:-100])
    monkeypatch.setattr(cli, "_train", lambda args: print("trained"))
    capsys.readouterr()
    assert cli.main(["train", "--base", str(base), "--weights", str(weights)]) == 0
    assert capsys.readouterr().out == "trained\n"
