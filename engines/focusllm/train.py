"""Training FocusLLM's candidate projections (the base model stays frozen).

Two losses, as in the paper, each predicting ``target_len`` tokens through :meth:`FocusLLM.forward_with_memory`
(every target token sees the candidates updated with the tokens before it, as in generation):

- continuation: memory, then the local context, then the target -- predict the text that follows;
- repetition: the local context is a span copied from the memory -- predict what followed it there.

The corpus is any long text; :func:`stdlib_corpus` concatenates the Python standard library's source and
documentation files found on this machine, so no download is needed.
"""

from __future__ import annotations

import os
import random
import sysconfig
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .model import FocusLLM

CORPUS_SUFFIXES = (".py", ".rst", ".txt")


@dataclass(frozen=True)
class TrainConfig:
    """Budget and sampling of a training run (sizes in tokens)."""

    steps: int = 200
    time_budget_s: float | None = None  # wall-clock cap; stops early when reached
    lr: float = 3e-4  # best of 3e-5, 1e-4, 3e-4 and 1e-3 in benchmarks/focusllm_copy_probe.py
    min_chunks: int = 2
    max_chunks: int = 4
    target_len: int = 8
    repetition_share: float = 0.5
    seed: int = 0
    log_every: int = 10


@dataclass(frozen=True)
class Example:
    kind: str  # "continuation" or "repetition"
    memory: torch.Tensor
    local: torch.Tensor
    target: torch.Tensor


def stdlib_files(root: str | Path | None = None) -> Iterator[Path]:
    """Source and documentation files of the standard library, in a fixed order (third-party excluded)."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "site-packages")
        for name in sorted(files):
            if name.endswith(CORPUS_SUFFIXES):
                yield Path(folder) / name


def stdlib_corpus(max_chars: int = 4_000_000, root: str | Path | None = None) -> str:
    """The standard library's files concatenated (up to ``max_chars``), each headed by its path."""
    parts, total = [], 0
    for path in stdlib_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        parts.append(f"# file: {path.name}\n{text}\n")
        total += len(parts[-1])
        if total >= max_chars:
            break
    if not parts:
        raise FileNotFoundError(f"no {CORPUS_SUFFIXES} files under {root or sysconfig.get_paths()['stdlib']}")
    return "".join(parts)[:max_chars]


def token_stream(tokenizer, text: str) -> torch.Tensor:
    """The whole text as one 1-D tensor of token ids."""
    return torch.tensor(tokenizer.encode(text, add_special_tokens=False), dtype=torch.long)


def sample_example(stream: torch.Tensor, model: FocusLLM, cfg: TrainConfig, rng: random.Random) -> Example:
    """One training example for either loss, drawn from a random place in ``stream``."""
    focus = model.config
    memory_len = rng.randint(cfg.min_chunks, cfg.max_chunks) * focus.chunk_size
    local_len, target_len = focus.local_window, cfg.target_len
    span = memory_len + local_len + target_len
    if stream.numel() <= span:
        raise ConfigError(f"the training text has {stream.numel()} tokens, and an example needs more than {span} "
                          "(its chunks, local window and target): give more text (--corpus-chars) or smaller examples "
                          "(--chunk-size, --max-chunks)")
    start = rng.randrange(stream.numel() - span)
    memory = stream[start : start + memory_len]
    if rng.random() < cfg.repetition_share:
        at = rng.randrange(memory_len - local_len - target_len + 1)
        return Example("repetition", memory, memory[at : at + local_len], memory[at + local_len : at + span - memory_len])
    tail = stream[start + memory_len : start + span]
    return Example("continuation", memory, tail[:local_len], tail[local_len:])


def example_loss(model: FocusLLM, example: Example, static: bool = False) -> torch.Tensor:
    """Mean cross-entropy of the target tokens given memory and local context."""
    target_len = example.target.shape[0]
    logits, _ = model.forward_with_memory(
        example.memory, example.local, example.target[:-1], static=static, logits_to_keep=target_len
    )
    return F.cross_entropy(logits.float(), example.target)


def examples(stream: torch.Tensor, model: FocusLLM, cfg: TrainConfig, seed: int) -> Iterator[Example]:
    rng = random.Random(seed)
    while True:
        yield sample_example(stream, model, cfg, rng)


def train(
    model: FocusLLM,
    stream: torch.Tensor,
    cfg: TrainConfig,
    log: Callable[[str], None] = print,
) -> dict:
    """Train the candidate projections with both losses; returns a summary (steps, time, losses)."""
    params = list(model.focus_parameters())
    if not params:
        raise ValueError("model has no FocusLLM parameters to train")
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    model.train()
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    history: dict[str, list[float]] = {"continuation": [], "repetition": []}
    steps = 0
    for steps, example in enumerate(examples(stream, model, cfg, cfg.seed), start=1):
        loss = example_loss(model, example)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        history[example.kind].append(loss.item())
        elapsed = time.perf_counter() - start_wall
        if steps % cfg.log_every == 0:
            recent = {k: sum(v[-cfg.log_every :]) / max(1, len(v[-cfg.log_every :])) for k, v in history.items()}
            log(f"step {steps} {elapsed:.0f}s loss " + " ".join(f"{k}={v:.3f}" for k, v in recent.items()))
        if steps >= cfg.steps or (cfg.time_budget_s is not None and elapsed >= cfg.time_budget_s):
            break
    model.eval()
    return {
        "steps": steps,
        "wall_s": time.perf_counter() - start_wall,
        "cpu_s": time.process_time() - start_cpu,
        "threads": torch.get_num_threads(),
        "history": history,
    }


@torch.no_grad()
def evaluate(model: FocusLLM, stream: torch.Tensor, cfg: TrainConfig, count: int, seed: int) -> dict[str, float]:
    """Mean target loss per kind on ``count`` fresh examples, with updated and with static candidates."""
    totals: dict[str, list[float]] = {}
    for example in _take(examples(stream, model, cfg, seed), count):
        for static in (False, True):
            key = f"{example.kind}{'_static' if static else ''}"
            totals.setdefault(key, []).append(example_loss(model, example, static=static).item())
    return {k: sum(v) / len(v) for k, v in sorted(totals.items())}


def _take(items: Iterator[Example], count: int) -> Iterator[Example]:
    for _, item in zip(range(count), items):
        yield item
