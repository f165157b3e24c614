"""The lexical-unit CLI registers prepare/train/bench and maps its flags onto the pipeline's settings."""

import argparse

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


def test_train_without_prepared_data_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare"):
        cli.main(["train", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "model")])
