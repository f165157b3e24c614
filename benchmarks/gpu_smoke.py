"""Seconds-long check of the engines' device code paths on tiny random models (no weights needed).

    python benchmarks/gpu_smoke.py [cuda|cpu] [--out smoke.json]

Run first on a lent GPU, before spending minutes on training: the fast greedy loop against ``generate()``
(and, on CUDA, its graph replay against eager steps), lexical-unit decoding (verified = greedy), one LUD and
one FocusLLM training step, FocusLLM generation and its prefill measurement (device timers and peak memory).
``--out`` records the fast loop's checks, which ``gpu_run.py`` reads to decide whether later phases use it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from sotkit.engines import fast_decode
from sotkit.engines.focusllm.bench import prefill_benchmark
from sotkit.engines.focusllm.model import FocusConfig, FocusLLM
from sotkit.engines.focusllm.train import TrainConfig as FocusTrainConfig
from sotkit.engines.focusllm.train import train as focus_train
from sotkit.engines.generation import _left_padded, chat_token_ids, stream_generate
from sotkit.engines.lexical_unit.decoding import add_pad_token, generate
from sotkit.engines.lexical_unit.train import TrainConfig, fine_tune, mark_and_pack
from sotkit.engines.testing import tiny_chat_tokenizer, tiny_llama
from sotkit.providers.base import Prompt

PROMPTS = [Prompt("Tell me about tea.", system="Be brief."), Prompt("Why is the sky blue? Explain it well."),
           Prompt("Name three rivers.", prefill="1.")]
OTHERS = [Prompt("Hi."), Prompt("Tell me a long story about a dragon, a knight and a castle, with a happy ending."),
          Prompt("Why is the sea salty?", prefill="Because")]


def check_fast_decode(device: str) -> dict:
    """The fast loop writes generate()'s texts (float32, rows of different lengths and budgets); on CUDA its
    graph replay writes the eager steps' tokens, also replayed again for other prompts (the kept graph), and it
    runs in bfloat16."""
    tokenizer = tiny_chat_tokenizer(pad_token="<unk>")
    tokenizer.padding_side = "left"
    model = tiny_llama(len(tokenizer), seed=1).to(device)
    plain, fast = (stream_generate(model, tokenizer, PROMPTS, max_new_tokens=[40, 17, 29], fast_decode=f)
                   for f in (False, True))
    checks: dict = {"device": device, "fast_decode_equals_generate": plain == fast, "cuda_graph_equals_eager": None}
    if device.startswith("cuda"):
        inputs = _left_padded(tokenizer, [chat_token_ids(tokenizer, p) for p in PROMPTS])
        never = lambda ids, scores: torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)  # noqa: E731
        eager, graph = (fast_decode.greedy(model, **inputs, max_new_tokens=30, pad_token_id=tokenizer.pad_token_id,
                                           stopping_criteria=never, cuda_graph=g) for g in (False, True))
        captured = next(space for key, space in fast_decode._kept[model].items() if key[2])
        starts, start = [], captured.start
        captured.start = lambda *args: starts.append(1) or start(*args)  # type: ignore[method-assign]
        others = _left_padded(tokenizer, [chat_token_ids(tokenizer, p) for p in OTHERS])
        eager_others, graph_others = (fast_decode.greedy(model, **others, max_new_tokens=25, stopping_criteria=never,
                                                         pad_token_id=tokenizer.pad_token_id, cuda_graph=g)
                                      for g in (False, True))
        checks["kept_graph_replayed"] = starts == [1] and captured.graph is not None
        checks["cuda_graph_equals_eager"] = torch.equal(eager, graph) and torch.equal(eager_others, graph_others)
        stream_generate(model.to(torch.bfloat16), tokenizer, PROMPTS, max_new_tokens=20, fast_decode=True)
    checks["ok"] = (checks["fast_decode_equals_generate"] and checks["cuda_graph_equals_eager"] is not False
                    and checks.get("kept_graph_replayed") is not False)
    return checks


def main(device: str, out: Path | None = None) -> None:
    try:
        checks = check_fast_decode(device)
    except Exception as exc:  # recorded, so later phases decode without the fast loop
        checks = {"device": device, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print("fast decode:", checks, flush=True)
    if out is not None:
        out.write_text(json.dumps(checks, indent=1))
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("device", nargs="?", default="cuda")
    parser.add_argument("--out", type=Path, help="write the fast loop's checks here (JSON)")
    args = parser.parse_args()
    main(args.device, args.out)
