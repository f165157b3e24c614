"""FocusLLM measurements: prefill time and peak memory against the plain forward, passkey accuracy, and the
quality cost of static candidates. Used by ``benchmarks/focusllm.py`` and ``sotkit engines focus bench``.

On a GPU, peak memory is torch's peak allocated device memory over the run, and timings wait for the
device. On the CPU, peak memory is the process's peak resident set size (``VmHWM``), reset before each
measurement by writing ``5`` to ``/proc/self/clear_refs`` (Linux), minus the resident size just before: it
sees torch's CPU allocations, which ``tracemalloc`` does not. For it glibc is told to serve every allocation
over 128 KiB by mmap, so freed tensors leave the resident set at once and one measurement's heap growth
cannot hide in the next. That makes every large tensor fault its pages in afresh (about 400,000 page faults
for one 2K-token forward of SmolLM2), which would dominate the timings; so peaks are taken first, and then
times in separate runs with glibc keeping all freed memory (after one warm-up at the largest length, no run
faults in pages).
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from .model import FocusLLM
from .passkey import accuracy_table, as_dicts, run_passkey
from ..models import synchronize


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (peak memory needs Linux)")


def _set_malloc_thresholds(mmap_over: int, trim_over: int) -> None:
    """glibc serves allocations over ``mmap_over`` bytes by mmap (32 MiB at most) and gives freed heap top
    over ``trim_over`` bytes back to the OS; setting them also stops glibc from moving them itself."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, mmap_over)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, trim_over)  # M_TRIM_THRESHOLD


def timed(fn: Callable[[], object], device: torch.device = torch.device("cpu")) -> float:
    """Seconds one call of ``fn`` takes, including the work it queued on a GPU."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def measure(fn: Callable[[], object], device: torch.device = torch.device("cpu")) -> tuple[float, float]:
    """Run ``fn`` once; returns (seconds, peak extra memory in MiB: resident, or allocated on a GPU)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        seconds = timed(fn, device)
        return seconds, (torch.cuda.max_memory_allocated(device) - before) / 2**20
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status_kib("VmRSS")
    seconds = timed(fn)
    return seconds, (_status_kib("VmHWM") - before) / 1024


def growth_exponent(lengths: Sequence[int], seconds: Sequence[float]) -> float:
    """Least-squares slope of log(time) against log(length): 1 is linear, 2 quadratic."""
    xs, ys = [math.log(x) for x in lengths], [math.log(y) for y in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


@torch.no_grad()
def prefill_benchmark(
    model: FocusLLM,
    shared_lengths: Sequence[int],
    focus_only_lengths: Sequence[int],
    repeats: int = 2,
    log: Callable[[str], None] = print,
) -> dict:
    """Prefill (prompt to first-token logits) of the plain model and of FocusLLM (keeping the chunks' caches
    for candidate updates, and static: candidates only) on random tokens.

    At each length the methods run alternately in this process: once each for the peak memory, then
    ``repeats`` times each for the time (the fastest is kept).
    """
    vocab, device = model.base.config.vocab_size, model.base.device
    on_cpu = device.type == "cpu"
    gen = torch.Generator().manual_seed(0)

    def plain(ids: torch.Tensor) -> None:
        model.base(input_ids=ids[None], logits_to_keep=1)

    warmup = torch.randint(0, vocab, (2 * model.config.chunk_size,), generator=gen).to(device)
    model.prefill(warmup)  # first calls pay one-off allocations (thread pools, kernels) for either method
    plain(warmup)
    lengths = [*shared_lengths, *focus_only_lengths]
    inputs = {length: torch.randint(0, vocab, (length,), generator=gen).to(device) for length in lengths}

    def runners(length: int) -> dict[str, Callable[[], object]]:
        ids = inputs[length]
        focus = {"focusllm": lambda: model.prefill(ids), "focusllm_static": lambda: model.prefill(ids, static=True)}
        return {**focus, "plain": lambda: plain(ids)} if length in shared_lengths else focus

    if on_cpu:
        _set_malloc_thresholds(128 * 1024, 128 * 1024)
    peaks: dict[tuple[str, int], float] = {}
    for length in lengths:
        for name, fn in runners(length).items():
            _, peaks[name, length] = measure(fn, device)
            log(f"prefill {name} {length}: +{peaks[name, length]:.0f} MiB")
    if on_cpu:
        _set_malloc_thresholds(32 << 20, 1 << 40)
    for length in {max(lengths), max(shared_lengths, default=0)} - {0}:  # the heap grows once, untimed
        for fn in runners(length).values():
            fn()
    runs: list[dict] = []
    best: dict[tuple[str, int], dict] = {}
    for length in lengths:
        for _ in range(repeats if length in shared_lengths else 1):
            for name, fn in runners(length).items():
                seconds = timed(fn, device)
                runs.append({"method": name, "length": length, "seconds": seconds})
                log(f"prefill {name} {length}: {seconds:.2f}s")
                if (name, length) not in best or seconds < best[name, length]["seconds"]:
                    best[name, length] = {"method": name, "length": length, "seconds": seconds,
                                          "peak_mib": peaks[name, length]}
    if on_cpu:
        _set_malloc_thresholds(128 * 1024, 128 * 1024)  # memory goes back to the OS again
    summary = sorted(best.values(), key=lambda r: (r["method"], r["length"]))
    exponents = {}
    for method in ("plain", "focusllm", "focusllm_static"):
        pts = [(r["length"], r["seconds"]) for r in summary if r["method"] == method]
        if len(pts) >= 2:
            exponents[method] = growth_exponent(*zip(*pts))
    return {"runs": runs, "best": summary, "growth_exponent": exponents}


def plain_generate(model: FocusLLM) -> Callable[[list[int], int], list[int]]:
    """Greedy generation with the frozen base model alone (the baseline)."""

    def generate(ids: list[int], max_new_tokens: int) -> list[int]:
        x = torch.tensor([ids], device=model.base.device)
        out = model.base.generate(
            x, attention_mask=torch.ones_like(x), max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=0
        )
        return out[0, len(ids) :].tolist()

    return generate


def passkey_benchmark(
    model: FocusLLM,
    tokenizer,
    plan: Sequence[tuple[str, Sequence[int]]],
    depths: Sequence[float],
    trials_per_cell: int,
    log: Callable[[str], None] = print,
) -> dict:
    """Passkey accuracy for each (method, lengths) in ``plan``; methods: plain, focusllm, focusllm_static."""
    runners = {
        "plain": plain_generate(model),
        "focusllm": lambda ids, k: model.generate(ids, k),
        "focusllm_static": lambda ids, k: model.generate(ids, k, static=True),
    }
    report = {}
    for method, lengths in plan:
        start = time.perf_counter()
        results = run_passkey(
            runners[method],
            tokenizer,
            lengths,
            depths,
            trials_per_cell,
            on_result=lambda r: log(f"passkey {method} {r.length} depth {r.depth}: {r.correct} ({r.answer!r})"),
        )
        report[method] = {
            "accuracy": accuracy_table(results),
            "trials": as_dicts(results),
            "seconds": time.perf_counter() - start,
        }
    return report
