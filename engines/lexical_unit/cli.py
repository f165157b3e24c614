"""``sotkit engines lud prepare|train|bench``: the lexical-unit engine's offline steps and its benchmark.

``python -m sotkit.engines.lexical_unit.cli`` runs the same commands; ``add_subcommands`` is how the ``sotkit`` CLI
mounts them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from ..commands import HelpFormatter, can_make, failed, interrupted, number, whole
from ..errors import ConfigError, SotkitError
from ..models import cache_dir, check_device
from .engine import MAX_K

DEFAULT_DIR = cache_dir() / "lud"


def _prepare(args: argparse.Namespace) -> None:
    from .pipeline import PrepareConfig, prepare

    can_make(args.data, f"--data {args.data} (the output folder)")
    prepare(
        args.data,
        PrepareConfig(
            model=args.model, alpha=args.alpha, k=args.k, seq_len=args.seq_len,
            code_sequences=args.code_sequences, answer_tokens=args.answer_tokens, device=args.device,
        ),
    )


def _train(args: argparse.Namespace) -> None:
    from .pipeline import train

    train(args.data, args.out, train_config(args))


def train_config(args: argparse.Namespace):  # -> TrainConfig (imported lazily: it needs torch)
    """The training settings the ``train`` flags stand for (``--top-layers 0`` trains every block)."""
    from .train import TrainConfig

    top = None if args.top_layers <= 0 else args.top_layers
    return TrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, train_top_layers=top,
        time_budget_s=args.budget_s, seed=args.seed, warmup_steps=args.warmup_steps, device=args.device,
    )


def _bench(args: argparse.Namespace) -> None:
    from .bench import run_benchmark, write_results

    paths = [args.results.with_suffix(suffix) for suffix in (".json", ".md")]
    if not args.overwrite and (taken := [str(path) for path in paths if path.exists()]):  # before the long run
        raise ConfigError(f"results exist at {', '.join(taken)}: pass --overwrite to replace them, or choose "
                          "another --results")
    can_make(paths[0], f"--results {args.results}")
    results = run_benchmark(args.model_dir, args.data, bench_config(args))
    write_results(results, args.results)
    print(f"wrote {paths[0]} and {paths[1]}")


def bench_config(args: argparse.Namespace):  # -> BenchConfig (imported lazily: it needs torch)
    """The benchmark settings the ``bench`` flags stand for."""
    from .bench import BenchConfig

    return BenchConfig(
        prompts_per_domain=args.prompts, max_new_tokens=args.max_new_tokens,
        alphas=tuple(args.alphas), verify_alphas=tuple(args.verify_alphas), lookup_alphas=tuple(args.lookup_alphas),
        k=args.k, device=args.device, threads=args.threads,
    )


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``prepare``, ``train`` and ``bench`` on an argparse subparsers object."""
    p = subparsers.add_parser("prepare", help="build corpora and mark lexical units with the base model",
                              formatter_class=HelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DIR / "data", help="output folder for the examples")
    p.add_argument("--model", default="smollm2", help="base model: 'smollm2' or a local HF directory")
    p.add_argument("--alpha", type=number(at_least=0, at_most=1), default=0.8,
                   help="unit-marking probability threshold")
    p.add_argument("--k", type=whole(1, MAX_K), default=3,  # (a model of more slots would be refused at its use)
                   help="[PAD] slots per step (units are at most k+1 tokens)")
    p.add_argument("--seq-len", type=whole(2), default=96, help="tokens per code window")
    p.add_argument("--code-sequences", type=whole(0), default=160, help="number of stdlib code windows")
    p.add_argument("--answer-tokens", type=whole(1), default=96, help="max tokens per self-distilled answer")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.set_defaults(func=_prepare)

    t = subparsers.add_parser("train", help="fine-tune the base model's [PAD] slots on prepared examples",
                              formatter_class=HelpFormatter)
    t.add_argument("--data", type=Path, default=DEFAULT_DIR / "data", help="the folder `prepare` wrote")
    t.add_argument("--out", type=Path, default=DEFAULT_DIR / "model", help="where the fine-tuned model is saved")
    t.add_argument("--steps", type=whole(1), default=200, help="optimizer steps")
    t.add_argument("--batch-size", type=whole(1), default=4, help="examples per step")
    t.add_argument("--lr", type=number(above=0), default=2e-4, help="peak learning rate")
    t.add_argument("--top-layers", type=whole(0), default=4, help="train the top N blocks; 0 = full fine-tuning")
    t.add_argument("--budget-s", type=number(above=0), default=None, help="stop training after this many seconds")
    t.add_argument("--seed", type=int, default=0, help="random seed")
    t.add_argument("--warmup-steps", type=whole(0), default=10, help="learning-rate warm-up steps")
    t.add_argument("--device", default="cpu", help="cpu or cuda")
    t.set_defaults(func=_train)

    b = subparsers.add_parser("bench", help="greedy vs prompt lookup vs LUD on held-out code and instructions",
                              formatter_class=HelpFormatter)
    b.add_argument("--model-dir", type=Path, default=DEFAULT_DIR / "model", help="the folder `train` wrote")
    b.add_argument("--data", type=Path, default=DEFAULT_DIR / "data", help="the folder `prepare` wrote")
    # a name of its own in the current directory: never the repository's committed benchmarks/results/lud
    b.add_argument("--results", type=Path, default=Path("lud_bench"), help="writes <path>.json and <path>.md")
    b.add_argument("--overwrite", action="store_true", help="replace result files that exist")
    b.add_argument("--prompts", type=whole(1), default=4, help="prompts per domain (code, instructions)")
    b.add_argument("--max-new-tokens", type=whole(1), default=48, help="tokens per answer")
    b.add_argument("--alphas", type=number(at_least=0), nargs="+", default=[0.5, 0.7, 0.9],
                   help="alphas of unverified LUD")
    b.add_argument("--verify-alphas", type=number(at_least=0), nargs="+", default=[0.5], help="alphas of verified LUD")
    b.add_argument("--lookup-alphas", type=number(at_least=0), nargs="+", default=[0.5],
                   help="alphas of verified LUD that also drafts by prompt lookup")
    b.add_argument("--k", type=whole(1, MAX_K), default=3, help="[PAD] slots per step")
    b.add_argument("--device", default="cpu", help="cpu or cuda")
    b.add_argument("--threads", type=whole(1), default=1, help="torch threads (one keeps a shared CPU's timings fair)")
    b.set_defaults(func=_bench)


def main(argv: Sequence[str] | None = None) -> int:
    description = (__doc__ or "").partition("\n")[0].replace("``", "")  # no docstrings under python -OO
    parser = argparse.ArgumentParser(prog="sotkit engines lud", description=description)
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        check_device(args.device, present=True)  # refused now, not after the data or a model has loaded
        args.func(args)
    except (SotkitError, FileNotFoundError) as exc:
        return failed(exc)
    except KeyboardInterrupt:
        return interrupted(args.command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
