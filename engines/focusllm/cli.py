"""``train`` and ``bench`` commands for FocusLLM (wired as ``sotkit engines focus ...``).

Run directly with ``python -m sotkit.engines.focusllm.cli train|bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from ..commands import HelpFormatter, failed, interrupted, number, whole, writable_file
from ..errors import ConfigError, SotkitError
from ..models import EMBEDDED, check_device, check_dtype, context_window, device_name, load_model
from .engine import (CutShort, _check_architecture, base_fingerprint, check_weights_fit, chunks_overfill,
                     default_weights_path)


def _ints(text: str) -> list[int]:
    """Prompt lengths in tokens, ``2048,4096``."""
    try:
        lengths = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        lengths = []
    if not lengths or min(lengths) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give lengths in tokens, such as 2048,4096")
    return lengths


def _depths(text: str) -> list[float]:
    """Where passkeys sit, as fractions of the prompt: checked here, not after the model has loaded."""
    try:
        depths = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        depths = []
    if not depths or not all(0 <= depth <= 1 for depth in depths):
        raise argparse.ArgumentTypeError(f"{text!r}: give fractions from 0 to 1, such as 0.1,0.5,0.9")
    return depths


def _plan(text: str) -> list[tuple[str, list[int]]]:
    """``plain:2048,4096;focusllm:4096,16384`` -> [(method, lengths), ...]."""
    plan = []
    for part in filter(None, text.split(";")):
        method, _, lengths = part.partition(":")
        if method not in {"plain", "focusllm", "focusllm_static"} or not lengths:
            raise argparse.ArgumentTypeError(f"bad passkey plan entry {part!r}; expected e.g. focusllm:4096,16384")
        plan.append((method, _ints(lengths)))
    return plan


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train`` and ``bench`` on an argparse subparsers object."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--base", default="smollm2", help="base model: 'smollm2' or a local HF directory")
    common.add_argument("--weights", type=Path, help="FocusLLM weights file (default: in sotkit's cache)")
    common.add_argument("--threads", type=whole(0), help="torch CPU threads (0: torch's default)")
    common.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    common.add_argument("--encode-batch-tokens", type=whole(1),
                        help="tokens per chunk-encoding forward (raise on a GPU)")

    train = subparsers.add_parser("train", parents=[common], help="train the candidate projections",
                                  formatter_class=HelpFormatter)
    train.add_argument("--chunk-size", type=whole(1), default=256, help="tokens per memory chunk")
    train.add_argument("--local-window", type=whole(1), default=64, help="tokens of local context")
    train.add_argument("--fragment-len", type=whole(1), default=16, help="tokens per fragment")
    train.add_argument("--steps", type=whole(1), default=200, help="optimizer steps")
    train.add_argument("--time-budget", type=number(above=0), help="stop after this many wall-clock seconds")
    train.add_argument("--lr", type=number(above=0), default=3e-4, help="learning rate")
    train.add_argument("--target-len", type=whole(1), default=8, help="tokens predicted per example")
    train.add_argument("--min-chunks", type=whole(1), default=2, help="fewest memory chunks per example")
    train.add_argument("--max-chunks", type=whole(1), default=3, help="most memory chunks per example")
    train.add_argument("--repetition-share", type=number(at_least=0, at_most=1), default=0.5,
                       help="share of repetition examples")
    train.add_argument("--corpus-chars", type=whole(1), default=2_000_000, help="characters of stdlib text to train on")
    train.add_argument("--eval-examples", type=whole(1), default=8, help="held-out examples scored before and after")
    train.add_argument("--seed", type=int, default=0, help="random seed")
    train.add_argument("--report", type=Path, help="write the training summary as JSON here")
    train.add_argument("--resume", type=Path, help="start from these FocusLLM weights (their chunking config wins)")
    train.set_defaults(handler=_train)

    bench = subparsers.add_parser("bench", parents=[common], help="prefill speed/memory and passkey accuracy",
                                  formatter_class=HelpFormatter)
    bench.add_argument("--untrained", action="store_true", help="run without weights (projections = frozen copies)")
    bench.add_argument("--chunk-size", type=whole(1), help="override the chunk size stored with the weights")
    # string defaults: argparse parses them with `type`, and --help shows them as they are typed
    bench.add_argument("--prefill-lengths", type=_ints, default="2048,4096,8192", help="prompt lengths, all methods")
    bench.add_argument("--focus-only-lengths", type=_ints, default="16384,32768", help="prompt lengths, FocusLLM only")
    bench.add_argument("--repeats", type=whole(1), default=2, help="timed runs per method and length")
    bench.add_argument("--passkey", type=_plan, default="plain:4096,8192;focusllm:4096,8192,16384",
                       help="method:lengths;... to score on passkey retrieval")
    bench.add_argument("--depths", type=_depths, default="0.1,0.5,0.9", help="where the passkey sits (0 to 1)")
    bench.add_argument("--trials", type=whole(1), default=1, help="trials per (length, depth) cell")
    bench.add_argument("--skip-prefill", action="store_true", help="score passkeys only")
    bench.add_argument("--dtype", help="model dtype (default: what local models load in on this machine)")
    bench.add_argument("--out", type=Path, help="write the results as JSON here")
    bench.set_defaults(handler=_bench)


def _load(args: argparse.Namespace, config=None, weights: Path | None = None, dtype: str | None = "float32"):
    import torch

    from .model import FocusLLM

    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    base, tokenizer = load_model(args.base, device=args.device, dtype=dtype)  # float32 to train the projections
    model = FocusLLM.from_pretrained(base, weights, config)
    if args.encode_batch_tokens:
        model.encode_batch_tokens = args.encode_batch_tokens
    return model, tokenizer


def _train(args: argparse.Namespace) -> dict:
    from .model import FocusConfig
    from .train import TrainConfig, evaluate, stdlib_corpus, token_stream, train

    config = FocusConfig(args.chunk_size, args.local_window, args.fragment_len)
    model, tokenizer = _load(args, None if args.resume else config, args.resume)
    config = model.config
    stream = token_stream(tokenizer, stdlib_corpus(args.corpus_chars)).to(model.base.device)
    held_out, stream = stream[: stream.numel() // 10], stream[stream.numel() // 10 :]
    cfg = TrainConfig(
        steps=args.steps,
        time_budget_s=args.time_budget,
        lr=args.lr,
        min_chunks=args.min_chunks,
        max_chunks=args.max_chunks,
        target_len=args.target_len,
        repetition_share=args.repetition_share,
        seed=args.seed,
    )
    before = evaluate(model, held_out, cfg, args.eval_examples, seed=1234)
    print(f"held-out loss before: {before}", flush=True)
    summary = train(model, stream, cfg, log=lambda line: print(line, flush=True))
    after = evaluate(model, held_out, cfg, args.eval_examples, seed=1234)
    print(f"held-out loss after: {after}", flush=True)
    path = model.save_focus_weights(args.weights or default_weights_path(args.base),
                                    base=base_fingerprint(args.base))
    print(f"saved {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    report = {
        "base": args.base,
        "focus_config": vars(config),
        "train_config": vars(cfg) | {"corpus_chars": args.corpus_chars, "corpus_tokens": stream.numel()},
        "held_out_loss_before": before,
        "held_out_loss_after": after,
        "weights": str(path),
        "resumed_from": str(args.resume) if args.resume else None,
        "device": device_name(model.base.device),
    } | {k: v for k, v in summary.items() if k != "history"}
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report | {"history": summary["history"]}, indent=2))
    return report


def _bench(args: argparse.Namespace) -> dict:
    from .bench import passkey_benchmark, prefill_benchmark
    from .model import FocusConfig, read_focus_config
    from .passkey import build_trial

    weights = None if args.untrained else (args.weights or default_weights_path(args.base))
    if weights is not None and not weights.exists():
        raise ConfigError(f"no FocusLLM weights at {weights}; run `train` first (sotkit engines focus train), pass "
                          "--weights, or use --untrained")
    if weights is not None:
        check_weights_fit(weights, args.base)
    config = read_focus_config(weights) if weights else FocusConfig(chunk_size=256, local_window=64)
    if args.chunk_size:
        config = replace(config, chunk_size=args.chunk_size)
    _check_chunks(asdict(config), args.base, "pass a smaller --chunk-size")
    model, tokenizer = _load(args, config, weights, args.dtype)
    window = model.base.config.max_position_embeddings
    for method, lengths in args.passkey:  # before the prefill runs: a plan it cannot score is refused now
        for length in lengths:
            build_trial(tokenizer, length, 0.5, "00000")
            if method == "plain" and length > window:
                raise ConfigError(f"--passkey plain:{length} is longer than the model's context ({window} tokens), "
                                  "which plain decoding cannot read; score it with focusllm: lengths")
    import torch

    report = {"base": args.base, "weights": str(weights), "focus_config": asdict(config), "threads": torch.get_num_threads(),
              "dtype": str(model.base.dtype).removeprefix("torch."), "device": device_name(model.base.device),
              "encode_batch_tokens": model.encode_batch_tokens}
    if not args.skip_prefill:
        report["prefill"] = prefill_benchmark(model, args.prefill_lengths, args.focus_only_lengths, args.repeats)
        _write(args.out, report)
    report["passkey"] = passkey_benchmark(model, tokenizer, args.passkey, args.depths, args.trials)
    report["passkey_settings"] = {"depths": args.depths, "trials_per_cell": args.trials}
    _write(args.out, report)
    return report


def _check_chunks(chunking: dict, base: str, fix: str) -> None:
    """Chunks that leave the answer too little of the model's context, refused before it loads (probe 339), with
    the ``fix``."""
    if why := chunks_overfill(chunking, context_window(base)):
        raise ConfigError(f"{base}: {why}; {fix}")


def _write(path: Path | None, report: dict) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sotkit engines focus", description=(__doc__ or "").replace("``", ""))
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        # typos and a model FocusLLM cannot wrap are refused now, not after the model has loaded
        check_device(args.device, present=True)
        check_dtype(getattr(args, "dtype", None))  # bench only: train keeps float32
        if args.base != EMBEDDED:
            _check_architecture(args.base)
        if args.command == "train":
            if args.min_chunks > args.max_chunks:
                raise ConfigError(f"--min-chunks {args.min_chunks} is more than --max-chunks {args.max_chunks}")
            if args.resume is None:
                _check_chunks(vars(args), args.base, "pass a smaller --chunk-size")
            else:  # (their chunks are the weights' own: review 344)
                _check_chunks(check_weights_fit(args.resume, args.base), args.base, "train new weights, without "
                              "--resume")
            writable_file(weights := args.weights or default_weights_path(args.base), "--weights")
            if weights.exists() and weights.stat().st_size and weights != args.resume:
                try:  # replaced only by weights of the same model, not another's (nor a file of another kind)
                    check_weights_fit(weights, args.base)
                except CutShort:
                    pass  # left so by a save that was stopped: this training's weights replace them
        for option in ("report", "out"):  # the results of a long run: checked before it
            if (path := getattr(args, option, None)) is not None:
                writable_file(path, f"--{option}")
        args.handler(args)
    except (SotkitError, FileNotFoundError) as exc:
        return failed(exc)
    except KeyboardInterrupt:
        return interrupted(args.command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
