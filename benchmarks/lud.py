"""Lexical-unit decoding on SmolLM2-135M-Instruct: prepare, fine-tune (bounded), then benchmark side by side.

    HF_HUB_OFFLINE=1 python benchmarks/lud.py                # reuses a cached data/model folder if present
    HF_HUB_OFFLINE=1 python benchmarks/lud.py --retrain      # re-creates the examples and the fine-tune

The fine-tuned weights live outside the repository (``$SOTKIT_CACHE/lud``, default ``~/.cache/sotkit/lud``);
results go to ``benchmarks/results/lud.json`` and ``lud.md``. The training budget used here is 12 wall-clock
minutes of fine-tuning on the 2-core CPU (``--budget-s 720``), after about as long again preparing data.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from sotkit.engines.lexical_unit.bench import BenchConfig, run_benchmark, write_results
from sotkit.engines.lexical_unit.cli import DEFAULT_DIR
from sotkit.engines.lexical_unit.pipeline import PrepareConfig, prepare, train
from sotkit.engines.lexical_unit.train import CONFIG_FILE, TrainConfig

PREPARE = PrepareConfig(alpha=0.8, k=3, seq_len=96, code_sequences=128, answer_tokens=96)
TRAIN = TrainConfig(alpha=0.8, k=3, steps=200, batch_size=4, lr=3e-4, train_top_layers=4, time_budget_s=720)
BENCH = BenchConfig(prompts_per_domain=4, max_new_tokens=48, alphas=(0.5, 0.7, 0.9), verify_alphas=(0.5,), k=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--retrain", action="store_true", help="re-create the examples and the fine-tuned model")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results" / "lud")
    args = parser.parse_args()
    data_dir, model_dir = args.workdir / "data", args.workdir / "model"
    if args.retrain:
        shutil.rmtree(args.workdir, ignore_errors=True)
    if not (data_dir / "examples.pt").exists():
        prepare(data_dir, PREPARE)
    if not (model_dir / CONFIG_FILE).exists():
        train(data_dir, model_dir, TRAIN)
    results = run_benchmark(model_dir, data_dir, BENCH)
    write_results(results, args.results)
    print(f"wrote {args.results.with_suffix('.json')} and .md")


if __name__ == "__main__":
    main()
