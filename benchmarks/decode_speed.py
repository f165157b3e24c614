"""Greedy tokens per second at batch 1, generate() against the fast path, beside the memory-bandwidth bound.

At batch 1 every decoding step reads all of the model's weights once, so no loop can beat
``bandwidth / weight bytes`` steps a second. Both loops write the same answer to the same prompt
(``stream_generate`` with and without ``fast_decode``), alternating which goes first, in one process.
The bandwidth is measured (a large device-to-device copy, bytes read plus written) and also looked up
by device name in the vendors' datasheets. The fast loop's step is also timed alone (``fast_step_ms``): what is
left between it and the loop's time per token is host work (``host_share``); what is left between it and the
bound is the step's own kernels (HF's eager Llama launches some 35 small kernels a layer).

    .venv/bin/python benchmarks/decode_speed.py --device cuda --dtype bfloat16 --out speed.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

# datasheet memory bandwidth, bytes/s, by a substring of torch.cuda.get_device_name()
DATASHEET_BANDWIDTH = {"H200": 4.8e12, "H100": 3.35e12, "A100": 2.0e12, "L40S": 0.864e12, "A10": 0.6e12,
                       "L4": 0.3e12, "T4": 0.32e12}
PROMPT = "Write a detailed, step-by-step guide to planning a two-week trip through Japan."


def weight_bytes(model) -> int:
    """Bytes of every parameter, a tied embedding counted once: what one batch-1 step reads."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def copy_bandwidth(device, megabytes: int = 1024, repeats: int = 5) -> float:
    """Bytes/s of a device-to-device copy (each copy reads and writes the buffer once)."""
    import torch

    from sotkit.engines.models import synchronize

    source = torch.empty(megabytes << 20, dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    target.copy_(source)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        target.copy_(source)
    synchronize(device)
    return 2 * source.numel() * repeats / (time.perf_counter() - start)


def datasheet_bandwidth(name: str) -> float | None:
    return next((bw for key, bw in DATASHEET_BANDWIDTH.items() if key in name), None)


def greedy_speed(model, tokenizer, *, tokens: int = 256, repeats: int = 3, prompt: str = PROMPT) -> dict:
    """Tokens/s of one greedy answer at batch 1, plain and fast, alternating; medians over ``repeats``."""
    from sotkit.engines.generation import stream_generate
    from sotkit.providers.base import Prompt

    def once(fast: bool) -> tuple[float, int, str]:
        start = time.perf_counter()
        [done] = stream_generate(model, tokenizer, [Prompt(prompt)], max_new_tokens=tokens, fast_decode=fast)
        return time.perf_counter() - start, done.output_tokens, done.text

    once(False), once(True)  # warm-up: kernels, allocator, tokenizer
    runs: dict[str, list[tuple[float, int, str]]] = {"plain": [], "fast": []}
    for repeat in range(repeats):
        for mode in (("plain", "fast") if repeat % 2 == 0 else ("fast", "plain")):
            runs[mode].append(once(mode == "fast"))
    result = {mode: {"tokens_per_s": statistics.median(n / s for s, n, _ in r),
                     "seconds": [round(s, 4) for s, _, _ in r], "output_tokens": [n for _, n, _ in r]}
              for mode, r in runs.items()}
    result["fast_over_plain"] = result["fast"]["tokens_per_s"] / result["plain"]["tokens_per_s"]
    result["same_text"] = runs["plain"][0][2] == runs["fast"][0][2]
    return result


def step_seconds(model, tokenizer, steps: int = 100, prompt: str = PROMPT) -> float:
    """Seconds of one batch-1 decoding step of the fast loop alone (a CUDA graph replay on a GPU), without the
    loop's per-token host work (reading the token, stop strings, streaming): the loop's floor on this device."""
    import torch

    from sotkit.engines.fast_decode import _Workspace
    from sotkit.engines.models import synchronize

    ids = tokenizer(prompt, return_tensors="pt").input_ids.to(model.device)
    mask, width = torch.ones_like(ids), ids.shape[1]
    with torch.inference_mode():
        step = _Workspace(model, 1, width + steps + 2, use_graph=model.device.type == "cuda")
        step.start(ids, mask)
        token = ids[:, -1]
        step(token, width), step(token, width + 1)  # the eager warm-up, then the capture
        synchronize(model.device)
        start = time.perf_counter()
        for slot in range(width + 2, width + 2 + steps):
            step(token, slot)
        synchronize(model.device)
    return (time.perf_counter() - start) / steps


def measure(model, tokenizer, *, tokens: int = 256, repeats: int = 3, copy_megabytes: int = 1024) -> dict:
    from sotkit.engines.models import device_name

    name = device_name(model.device)
    speed = greedy_speed(model, tokenizer, tokens=tokens, repeats=repeats)
    step = step_seconds(model, tokenizer)
    loop = 1 / speed["fast"]["tokens_per_s"]
    measured = copy_bandwidth(model.device, copy_megabytes)
    sheet = datasheet_bandwidth(name)
    weights = weight_bytes(model)
    bound = {"measured_copy": measured / weights, **({"datasheet": sheet / weights} if sheet else {})}
    return {
        "device": name, "dtype": str(model.dtype).removeprefix("torch."), "weight_bytes": weights,
        "bandwidth_bytes_per_s": {"measured_copy": measured, "datasheet": sheet},
        "bound_tokens_per_s": bound, **speed,
        # where the fast loop's time goes: the step itself, and the host's work around it per token
        "fast_step_ms": step * 1000, "fast_loop_ms_per_token": loop * 1000, "host_share": max(0.0, 1 - step / loop),
        "fast_share_of_bound": speed["fast"]["tokens_per_s"] / bound.get("datasheet", bound["measured_copy"]),
    }


def main(argv: list[str] | None = None) -> dict:
    from sotkit.engines.models import load_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2", help="'smollm2' or a local Hugging Face model directory")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--tokens", type=int, default=256, help="token budget of the answer")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--copy-megabytes", type=int, default=1024, help="size of the bandwidth copy")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    model, tokenizer = load_model(args.model, device=args.device, dtype=args.dtype)
    report = measure(model, tokenizer, tokens=args.tokens, repeats=args.repeats, copy_megabytes=args.copy_megabytes)
    report["command"] = "benchmarks/decode_speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k not in ("plain", "fast")}, indent=1))
    return report


if __name__ == "__main__":
    main()
