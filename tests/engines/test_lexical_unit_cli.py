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
    assert cli.main(["bench", "--model-dir", str(tmp_path / "nothing"), "--results", str(tmp_path / "r")]) == 2
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
