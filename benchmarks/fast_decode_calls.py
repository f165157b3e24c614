"""What one call of the fast greedy loop costs before its steps: the fixed part against the per-step part.

A SoT answer makes two calls of the loop (the skeleton, then every point as the rows of one batch), and each call
allocates a static KV cache, prefills eagerly, warms a step up and captures a CUDA graph before its steps replay
it. This times whole calls of ``fast_decode.greedy`` at two lengths for a skeleton-like call (1 row) and an
expansion-like one (6 rows), and splits each into ``fixed_ms`` (prefill, warm-up, capture, allocation) and
``step_ms``: step = (t(long) - t(short)) / (long - short), fixed = t(short) - short x step. No row stops early.
Side by side in one process: the cache and graph kept from the call before (``fast_decode.KEEP_BYTES``, here for
the model's device whatever it is) and made anew at every call (``KEEP_BYTES = {}``, as before they were kept); on a
GPU also eager steps.

The model is SmolLM2-135M's shape with random weights (``--random``, the default: the time of a step does not
depend on the weights, and nothing needs carrying to a GPU machine) or the embedded model itself (``--embedded``).

    python benchmarks/fast_decode_calls.py --device cuda --dtype bfloat16 --out calls.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

# SmolLM2-135M-Instruct's config.json, the sizes that set a step's cost
SMOLLM2_SHAPE = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                     num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                     rope_theta=100000.0, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2)
CASES = {"skeleton": dict(rows=1, width=120), "expansion": dict(rows=6, width=260)}


def random_model(device: str, dtype: str):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(**SMOLLM2_SHAPE)).to(device=device, dtype=getattr(torch, dtype)).eval()


def time_call(model, rows: int, width: int, new_tokens: int, cuda_graph: bool | None = None) -> float:
    """Seconds of one greedy() call writing exactly ``new_tokens`` tokens in each of ``rows`` rows."""
    import torch
    from transformers import StoppingCriteriaList

    from sotkit.engines import fast_decode
    from sotkit.engines.models import synchronize

    never = StoppingCriteriaList([lambda ids, scores, **kw: torch.zeros(ids.shape[0], dtype=torch.bool,
                                                                        device=ids.device)])
    input_ids = torch.randint(3, model.config.vocab_size, (rows, width))
    attention_mask = torch.ones(rows, width, dtype=torch.long)
    synchronize(model.device)
    start = time.perf_counter()
    out = fast_decode.greedy(model, input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=new_tokens,
                             pad_token_id=0, stopping_criteria=never, cuda_graph=cuda_graph)
    synchronize(model.device)
    assert out.shape == (rows, width + new_tokens), out.shape
    return time.perf_counter() - start


def measure(model, *, short: int, long: int, repeats: int, cuda_graph: bool | None = None, keep: bool = True) -> dict:
    from sotkit.engines import fast_decode

    kept_bytes = fast_decode.KEEP_BYTES
    fast_decode.KEEP_BYTES = {model.device.type: 2 << 30} if keep else {}
    try:
        return _measure(model, short=short, long=long, repeats=repeats, cuda_graph=cuda_graph)
    finally:
        fast_decode.KEEP_BYTES = kept_bytes


def _measure(model, *, short: int, long: int, repeats: int, cuda_graph: bool | None) -> dict:
    report = {}
    for name, case in CASES.items():
        call = lambda n: time_call(model, case["rows"], case["width"], n, cuda_graph)  # noqa: E731
        call(short)  # warm-up: the kernels' first use, the allocator's pool
        times = {n: statistics.median(call(n) for _ in range(repeats)) for n in (short, long)}
        step = (times[long] - times[short]) / (long - short)
        fixed = times[short] - short * step
        report[name] = {**case, "seconds": {str(n): round(t, 4) for n, t in times.items()},
                        "step_ms": round(step * 1e3, 3), "fixed_ms": round(fixed * 1e3, 2),
                        "fixed_in_steps": round(fixed / step, 1)}
    return report


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--embedded", action="store_true", help="the embedded SmolLM2 (default: its shape, random)")
    parser.add_argument("--short", type=int, default=8)
    parser.add_argument("--long", type=int, default=72)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--eager", action="store_true", help="on a GPU, eager steps too (minutes)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.embedded:
        from sotkit.engines.models import load_model

        model, _ = load_model("smollm2", device=args.device, dtype=args.dtype)
    else:
        model = random_model(args.device, args.dtype)
    report = {"device": str(model.device), "dtype": args.dtype, "model": "smollm2" if args.embedded else
              "SmolLM2-135M's shape, random weights", "repeats": args.repeats,
              "kept": measure(model, short=args.short, long=args.long, repeats=args.repeats),
              "made_per_call": measure(model, short=args.short, long=args.long, repeats=args.repeats, keep=False)}
    if model.device.type == "cuda":  # eager steps beside: their fixed part has no warm-up step and no capture
        import torch

        report["device"] = torch.cuda.get_device_name(model.device)
        if args.eager:
            report["eager"] = measure(model, short=args.short, long=args.long, repeats=1, cuda_graph=False)
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
