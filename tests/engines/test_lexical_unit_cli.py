"""The lexical-unit CLI registers prepare/train/bench and maps its flags onto the pipeline's settings."""

import argparse

import pytest

from sotkit.engines.lexical_unit import cli


def parse(argv):
    parser = argparse.ArgumentParser()
    cli.add_subcommands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_subcommands_are_registered_with_their_defaults():
    assert parse(["prepare"]).func is cli._prepare
    train = parse(["train", "--top-layers", "0", "--budget-s", "60"])
    assert train.func is cli._train and train.top_layers == 0 and train.budget_s == 60
    bench = parse(["bench", "--alphas", "0.6", "0.8"])
    assert bench.func is cli._bench and bench.alphas == [0.6, 0.8]


def test_train_without_prepared_data_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare"):
        cli.main(["train", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "model")])
