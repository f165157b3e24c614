"""The lexical-unit CLI registers prepare/train/bench and maps its flags onto the pipeline's settings."""

import argparse
from pathlib import Path

import pytest

from sotkit.engines.lexical_unit import cli


def parse(argv):
    parser = argparse.ArgumentParser()
    cli.add_subcommands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_subcommands_are_registered():
    assert parse(["prepare"]).func is cli._prepare
    assert parse(["train"]).func is cli._train
    assert parse(["bench"]).func is cli._bench


def test_train_flags_become_the_training_settings():
    config = cli.train_config(parse(["train", "--top-layers", "0", "--budget-s", "60", "--steps", "7", "--lr", "1e-3"]))
    assert config.train_top_layers is None  # 0 means every block, not none of them
    assert (config.time_budget_s, config.steps, config.lr) == (60, 7, 1e-3)
    assert cli.train_config(parse(["train", "--top-layers", "2"])).train_top_layers == 2
    defaults = cli.train_config(parse(["train"]))
    assert defaults.train_top_layers == 4 and defaults.time_budget_s is None


def test_bench_flags_become_the_benchmark_settings():
    config = cli.bench_config(parse(["bench", "--alphas", "0.6", "0.8", "--prompts", "2", "--lookup-alphas", "0.3"]))
    assert config.alphas == (0.6, 0.8) and config.prompts_per_domain == 2 and config.lookup_alphas == (0.3,)
    assert cli.bench_config(parse(["bench"])).verify_alphas == (0.5,)


def one_error_line(capsys) -> str:
    """What the command said on stderr, checked to be one `sotkit: error:` line (no traceback)."""
    err = capsys.readouterr().err
    assert err.startswith("sotkit: error: ") and err.count("\n") == 1, err
    return err


def test_train_without_prepared_data_says_what_to_run(tmp_path, capsys):
    assert cli.main(["train", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "model")]) == 2
    assert "run `prepare` first (sotkit engines lud prepare)" in one_error_line(capsys)


def test_bench_without_a_model_names_the_command_that_makes_one(tmp_path, capsys):
    (tmp_path / "corpus.json").write_text('{"answers": {}}')  # prepared data: the data is read first
    assert cli.main(["bench", "--model-dir", str(tmp_path / "nothing"), "--data", str(tmp_path),
                     "--results", str(tmp_path / "r")]) == 2
    assert "create one with `sotkit engines lud train`" in one_error_line(capsys)


def test_a_device_typo_is_refused_before_anything_is_written_or_loaded(tmp_path, capsys):
    assert cli.main(["prepare", "--device", "gpu", "--data", str(tmp_path / "data")]) == 2
    assert "device='gpu'" in one_error_line(capsys)
    assert not (tmp_path / "data").exists()  # prepare makes its folder before it loads the model


def test_a_model_that_is_not_there_is_refused_before_the_data_folder_is_made(tmp_path, capsys):
    # probe 115: an empty data folder was left behind; and the advice named 'local:smollm2', which --model is not
    assert cli.main(["prepare", "--model", str(tmp_path / "nope"), "--data", str(tmp_path / "data")]) == 2
    err = one_error_line(capsys)
    assert "is not a directory; use the embedded model (smollm2;" in err
    assert not (tmp_path / "data").exists()


def test_bench_results_default_to_a_name_of_their_own_not_the_repositorys():
    assert parse(["bench"]).results == Path("lud_bench")  # never benchmarks/results/lud, the committed results


def test_help_shows_defaults_as_plain_text(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "``" not in capsys.readouterr().out
    pages = {}
    for command in ("prepare", "train", "bench"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        pages[command] = " ".join(capsys.readouterr().out.split())  # unwrapped
    assert f"--data DATA the folder `prepare` wrote (default: {cli.DEFAULT_DIR / 'data'})" in pages["train"]
    assert f"(default: {cli.DEFAULT_DIR / 'model'})" in pages["train"]
    assert "--steps STEPS optimizer steps (default: 200)" in pages["train"]
    assert "--budget-s BUDGET_S stop training after this many seconds --seed" in pages["train"]  # no "default: None"
    assert "(default: lud_bench)" in pages["bench"]
    assert "--overwrite replace result files that exist --prompts" in pages["bench"]
    assert "--device DEVICE cpu or cuda (default: cpu)" in pages["prepare"]


@pytest.fixture(scope="module")
def lud_folders(tmp_path_factory):
    """A tiny base model, the examples `prepare` made with it and the model `train` fine-tuned from them."""
    from sotkit.engines.testing import save_tiny_chat_model

    root = tmp_path_factory.mktemp("lud")
    base = save_tiny_chat_model(root / "tiny_base")
    assert cli.main(["prepare", "--model", str(base), "--data", str(root / "data"), "--code-sequences", "2",
                     "--answer-tokens", "2", "--seq-len", "16"]) == 0
    assert cli.main(["train", "--data", str(root / "data"), "--out", str(root / "model"), "--steps", "1",
                     "--batch-size", "2", "--warmup-steps", "1", "--top-layers", "0"]) == 0
    return root


def test_bench_says_where_it_wrote_and_keeps_results_that_exist(lud_folders, tmp_path, capsys):
    results = tmp_path / "lud"
    bench = ["bench", "--model-dir", str(lud_folders / "model"), "--data", str(lud_folders / "data"),
             "--results", str(results), "--prompts", "1", "--max-new-tokens", "2", "--alphas", "0.9",
             "--verify-alphas", "0.9", "--lookup-alphas", "0.9"]
    capsys.readouterr()
    assert cli.main(bench) == 0
    assert f"wrote {results}.json and {results}.md" in capsys.readouterr().out
    written = (tmp_path / "lud.md").read_text()
    assert written.startswith("# Lexical-unit decoding on tiny_base (")  # the model benchmarked, not SmolLM2

    (tmp_path / "lud.json").write_text("kept")
    assert cli.main(bench) == 2  # refused before the benchmark runs
    assert "--overwrite" in one_error_line(capsys)
    assert (tmp_path / "lud.json").read_text() == "kept" and (tmp_path / "lud.md").read_text() == written
    assert cli.main([*bench, "--overwrite"]) == 0
    assert (tmp_path / "lud.json").read_text() != "kept"


def test_results_of_the_embedded_model_are_titled_with_its_name(tmp_path):
    from sotkit.engines.lexical_unit.bench import write_results

    results = {"base_model": "smollm2", "domains": {}, "perplexity": {}, "training": {}, "machine": {"device": "CPU"}}
    write_results(results, tmp_path / "r")
    assert (tmp_path / "r.md").read_text().startswith("# Lexical-unit decoding on SmolLM2-135M-Instruct (CPU)")


@pytest.mark.parametrize("arguments, message", [
    (["prepare", "--k", "-3"], "argument --k: '-3': give a whole number, at least 1 and at most 64"),
    # probe 270: a k over the engine's 64 trained a model that no client would then take
    (["prepare", "--k", "100"], "argument --k: '100': give a whole number, at least 1 and at most 64"),
    (["bench", "--k", "65"], "argument --k: '65': give a whole number, at least 1 and at most 64"),
    (["prepare", "--alpha", "-1"], "argument --alpha: '-1': give a number at least 0 and at most 1"),
    (["prepare", "--seq-len", "0"], "argument --seq-len: '0': give a whole number, at least 2"),
    (["train", "--batch-size", "0"], "argument --batch-size: '0': give a whole number, at least 1"),
    (["train", "--lr", "-1"], "argument --lr: '-1': give a number above 0"),
    (["train", "--steps", "0"], "argument --steps: '0': give a whole number, at least 1"),
    (["train", "--top-layers", "-1"], "argument --top-layers: '-1': give a whole number, at least 0"),
    (["bench", "--prompts", "0"], "argument --prompts: '0': give a whole number, at least 1"),
    (["bench", "--threads", "0"], "argument --threads: '0': give a whole number, at least 1"),
])
def test_numbers_out_of_range_are_refused_as_the_command_line_is_read(capsys, arguments, message):
    # probe 139: each ended in a traceback (--k -3 after 334 s of self-distillation, --prompts 0 a
    # ZeroDivisionError), or was taken without a word (--steps 0 saved an untrained model)
    with pytest.raises(SystemExit) as exit:
        cli.main(arguments)
    assert exit.value.code == 2 and message in capsys.readouterr().err


def test_train_refuses_an_out_folder_it_would_write_over_before_training(lud_folders, tmp_path, capsys):
    # probe 139: --out naming the base model's own folder replaced its weights and tokenizer, and bench then
    # compared the fine-tuned model with itself; an --out file or a damaged examples.pt failed after training
    base = lud_folders / "tiny_base"
    before = {path.name: path.read_bytes() for path in base.iterdir()}
    train = ["train", "--data", str(lud_folders / "data"), "--steps", "1", "--batch-size", "2", "--top-layers", "0"]
    capsys.readouterr()
    assert cli.main([*train, "--out", str(base)]) == 2
    assert "holds files but no lud_config.json (a model of its own?)" in one_error_line(capsys)
    assert {path.name: path.read_bytes() for path in base.iterdir()} == before
    (afile := tmp_path / "afile").write_text("x")
    assert cli.main([*train, "--out", str(afile)]) == 2
    assert "is a file; give a folder for the model" in one_error_line(capsys)
    assert cli.main([*train, "--out", "/proc/lud_model"]) == 2
    assert "the output folder /proc/lud_model cannot be written" in one_error_line(capsys)
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "corpus.json").write_bytes((lud_folders / "data" / "corpus.json").read_bytes())
    (cut / "examples.pt").write_bytes((lud_folders / "data" / "examples.pt").read_bytes()[:300])
    assert cli.main(["train", "--data", str(cut), "--out", str(tmp_path / "model")]) == 2
    assert "examples.pt is damaged (" in one_error_line(capsys) and not (tmp_path / "model").exists()
    assert cli.main([*train, "--out", str(lud_folders / "model")]) == 0  # a model train wrote before: replaced
    (hidden := tmp_path / "hidden").mkdir()
    (hidden / ".gitkeep").write_text("")  # review 138: a folder of hidden files alone was refused
    assert cli.main([*train, "--out", str(hidden)]) == 0 and (hidden / "lud_config.json").exists()


def test_a_stopped_save_is_refused_as_a_model_and_replaced_by_the_next(lud_folders, monkeypatch, capsys, tmp_path):
    # review 138: a save stopped after the weights left a folder with no lud_config.json, which the next training
    # then refused as a model of its own; review 139: the folder is written in place (a user's files in it stay)
    import sotkit
    from sotkit.engines.lexical_unit import train as train_module

    model = tmp_path / "model"
    train = ["train", "--data", str(lud_folders / "data"), "--out", str(model), "--steps", "1", "--batch-size", "2",
             "--top-layers", "0"]
    assert cli.main(train) == 0
    (model / "NOTES.md").write_text("mine")

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module.AutoTokenizer, "save_pretrained", stopped, raising=False)
    monkeypatch.setattr(type(train_module.AutoTokenizer.from_pretrained(model)), "save_pretrained", stopped)
    assert cli.main(train) == 130
    monkeypatch.undo()
    with pytest.raises(sotkit.ConfigError, match="the save that wrote it was stopped before its end"):
        sotkit.SoT(f"local:{model}", decoding="lexical_unit")
    assert cli.main(train) == 0 and (model / "NOTES.md").read_text() == "mine"
    sotkit.SoT(f"local:{model}", decoding="lexical_unit")


def test_bench_refuses_answers_longer_than_the_models_context(lud_folders, tmp_path, capsys):
    # probe 139: greedy decoded past the window and LUD stopped at it, so verified LUD (greedy's tokens exactly)
    # showed as 76% agreement
    assert cli.main(["bench", "--model-dir", str(lud_folders / "model"), "--data", str(lud_folders / "data"),
                     "--results", str(tmp_path / "r"), "--prompts", "1", "--max-new-tokens", "5000"]) == 2
    assert "--max-new-tokens 5000 does not fit the model's context of 1024 tokens" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_a_damaged_lud_config_is_refused_when_the_client_is_built(lud_folders, tmp_path):
    import shutil

    import sotkit

    model = shutil.copytree(lud_folders / "model", tmp_path / "model")
    (model / "lud_config.json").write_text('{"alpha": 0.5,')
    with pytest.raises(sotkit.ConfigError, match=r"lud_config.json' is damaged \(.*\); train the model again"):
        sotkit.SoT(f"local:{model}", decoding="lexical_unit")


def test_k_past_the_trained_slots_is_refused_unless_verified(lud_folders):
    import json

    import sotkit

    # probe 177: k=9 on a model trained with 3 slots answered junk ("Positive number number number") as a success
    model = lud_folders / "model"
    trained = json.loads((model / "lud_config.json").read_text())["k"]
    with pytest.raises(sotkit.ConfigError, match=rf"k={trained + 1}: .* was trained to fill {trained} \[PAD\] slots"):
        sotkit.SoT(f"local:{model}", decoding="lexical_unit", k=trained + 1)
    sotkit.SoT(f"local:{model}", decoding="lexical_unit", k=trained + 1, verify=True)  # exactly greedy: allowed
    sotkit.SoT(f"local:{model}", decoding="lexical_unit", k=trained - 1)


def test_a_saved_alpha_out_of_range_is_refused_when_the_client_is_built(lud_folders, tmp_path):
    import json
    import shutil

    import sotkit

    # probe 177: alpha -1.0 in lud_config.json failed at the first call, naming neither the folder nor the file
    model = shutil.copytree(lud_folders / "model", tmp_path / "model")
    config = json.loads((model / "lud_config.json").read_text())
    (model / "lud_config.json").write_text(json.dumps(config | {"alpha": -1.0}))
    with pytest.raises(sotkit.ConfigError, match=r"lud_config.json' is damaged \(alpha=-1.0: must be a finite "
                                                  r"number >= 0"):
        sotkit.SoT(f"local:{model}", decoding="lexical_unit")


def test_bench_checks_its_data_and_results_paths_before_any_decoding(lud_folders, tmp_path, capsys):
    # probe 177: a wrong --data or an unwritable --results failed after every prompt was decoded (minutes)
    bench = ["bench", "--model-dir", str(lud_folders / "model"), "--prompts", "1", "--max-new-tokens", "2"]
    capsys.readouterr()
    assert cli.main([*bench, "--data", str(tmp_path / "nowhere"), "--results", str(tmp_path / "r")]) == 2
    out, err = capsys.readouterr()
    assert "corpus.json not found: run `prepare` first" in err and "prompt 1/1 done" not in out
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cli.main([*bench, "--data", str(lud_folders / "data"), "--results", str(blocker / "r")]) == 2
    out, err = capsys.readouterr()
    assert f"--results {blocker / 'r'} cannot be written" in err and "prompt 1/1 done" not in out


def test_bench_refuses_a_damaged_lud_config_as_the_client_does(lud_folders, tmp_path, capsys):
    import shutil

    # load_lud read lud_config.json on its own, unchecked: a damaged one was a JSONDecodeError's traceback
    model = shutil.copytree(lud_folders / "model", tmp_path / "model")
    (model / "lud_config.json").write_text('{"alpha": 0.5,')
    assert cli.main(["bench", "--model-dir", str(model), "--data", str(lud_folders / "data"),
                     "--results", str(tmp_path / "r"), "--prompts", "1"]) == 2
    assert "lud_config.json' is damaged (" in capsys.readouterr().err


def test_ctrl_c_is_one_line_and_the_shells_status(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_train", interrupted)
    assert cli.main(["train"]) == 130
    assert capsys.readouterr().err == ("sotkit: interrupted (Ctrl-C): train did not finish (to stop a training early "
                                       "and keep it, give it a time budget)\n")


def test_prepare_keeps_the_base_model_as_a_path_that_train_and_bench_find_from_any_folder(tmp_path, monkeypatch):
    # probe 307: `--model models/tiny` was kept as typed, and `lud train` or `lud bench` run from another folder
    # looked for it there ("'/tmp/models/tiny' is not a directory"; bench only after all its timed runs)
    from sotkit.engines.lexical_unit import pipeline
    from sotkit.engines.testing import save_tiny_chat_model

    save_tiny_chat_model(tmp_path / "models" / "tiny")
    monkeypatch.chdir(tmp_path)
    summary = pipeline.prepare("data", pipeline.PrepareConfig(model="models/tiny", code_sequences=2, answer_tokens=4,
                                                              seq_len=16), log=lambda _: None)
    assert summary["config"]["model"] == str(tmp_path / "models" / "tiny")
    # and --top-layers past the model's blocks is refused before the model loads and is copied (probe 307)
    monkeypatch.setattr(pipeline, "_load_base", lambda *_: pytest.fail("the base model was loaded"))
    with pytest.raises(pipeline.ConfigError, match=r"must be between 1 and 2, the model's blocks, .* got 4"):
        pipeline.train("data", "model", cli.train_config(parse(["train", "--top-layers", "4"])), log=lambda _: None)
