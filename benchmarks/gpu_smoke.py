"""Seconds-long check of the engines' device code paths on tiny random models (no weights needed).

    python benchmarks/gpu_smoke.py [cuda|cpu]

Run first on a lent GPU, before spending minutes on training: lexical-unit decoding (verified = greedy),
one LUD and one FocusLLM training step, FocusLLM generation and its prefill measurement (device timers and
peak memory).
"""

from __future__ import annotations

import sys

import torch

from sotkit.engines.focusllm.bench import prefill_benchmark
from sotkit.engines.focusllm.model import FocusConfig, FocusLLM
from sotkit.engines.focusllm.train import TrainConfig as FocusTrainConfig
from sotkit.engines.focusllm.train import train as focus_train
from sotkit.engines.lexical_unit.decoding import add_pad_token, generate
from sotkit.engines.lexical_unit.train import TrainConfig, fine_tune, mark_and_pack
from sotkit.engines.testing import tiny_chat_tokenizer, tiny_llama


def main(device: str) -> None:
    tokenizer = tiny_chat_tokenizer()
    model = tiny_llama(len(tokenizer)).to(device)
    pad = add_pad_token(model, tokenizer)
    prompt = tokenizer("def main():\n    return").input_ids
    greedy = generate(model, tokenizer, prompt, 24, alpha=2.0, k=3)
    verified = generate(model, tokenizer, prompt, 24, alpha=0.05, k=3, verify=True)
    assert verified.token_ids == greedy.token_ids, "verified LUD differs from greedy"
    examples = mark_and_pack(model, [prompt * 4], alpha=0.1, k=3, pad_id=pad)
    config = TrainConfig(steps=2, batch_size=2, train_top_layers=None, device=device)
    report = fine_tune(model, examples, config, filler_id=1, log=print)
    print("lud ok:", greedy.stats.forward_passes, "forwards;", report.steps, "training steps")

    focus = FocusLLM(tiny_llama(len(tokenizer)).to(device), FocusConfig(chunk_size=32, local_window=16, fragment_len=4))
    stream = torch.randint(3, len(tokenizer), (4096,), device=device)
    focus_train(focus, stream, FocusTrainConfig(steps=2, min_chunks=2, max_chunks=4), log=print)
    tokens = focus.generate(torch.randint(3, len(tokenizer), (300,)).tolist(), 8)
    best = prefill_benchmark(focus, [256], [512], repeats=1, log=lambda _: None)["best"]
    print("focusllm ok:", len(tokens), "tokens;", [(r["method"], r["length"], round(r["peak_mib"], 2)) for r in best])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cuda")
