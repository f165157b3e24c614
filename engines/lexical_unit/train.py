"""Fine-tuning a causal LM so its ``[PAD]`` slots predict lexical units, and saving/loading the result.

The loss is the ordinary next-token loss on every real position (so the model's own predictions do not
drift) plus the cross-entropy of every ``[PAD]`` slot against its unit token.

Which weights train: by default the top ``train_top_layers`` transformer blocks and the final norm, with
everything below (and the tied embedding / output matrix) frozen. No new dependency is needed (peft is not
installed), the frozen lower stack runs without building an autograd graph, and on a 2-core CPU that is what
makes a few hundred steps fit in minutes. The ``[PAD]`` embedding stays at its mean initialisation: the
slot's lower-layer states still gather the prefix by attention, and the trained top blocks learn to read
the look-ahead from them (as Medusa heads do). ``train_top_layers=None`` fine-tunes everything, [PAD] included.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ..errors import ConfigError
from ..models import as_ordinary_file
from .decoding import pad_token_id
from .engine import CONFIG_FILE, SAVING, read_config
from .units import SlotExample, build_example, collate, mark_units, token_probabilities


@dataclass
class TrainConfig:
    """How units are marked and how the model is fine-tuned."""

    alpha: float = 0.8  # unit-marking threshold on the base model's teacher-forced probabilities
    k: int = 3  # [PAD] slots per step, so units are at most k + 1 tokens
    steps: int = 200
    batch_size: int = 4
    lr: float = 2e-4
    warmup_steps: int = 10
    train_top_layers: int | None = 4  # None = full fine-tuning
    slot_loss_weight: float = 1.0
    seed: int = 0
    time_budget_s: float | None = None  # wall-clock cap; the learning-rate schedule is fitted to it (see fine_tune)
    bf16: bool = True  # bfloat16 autocast for the matmuls (weights and optimizer state stay float32)
    device: str = "cpu"  # where the base model is loaded to train ("cuda" on a GPU)


@dataclass
class TrainReport:
    steps: int = 0
    seconds: float = 0.0  # wall clock
    cpu_seconds: float = 0.0  # process CPU time (all threads): the budget figure on a shared machine
    examples: int = 0
    slot_targets: int = 0
    trainable_parameters: int = 0
    lm_loss: list[float] = field(default_factory=list)
    slot_loss: list[float] = field(default_factory=list)


def mark_and_pack(
    base_model: PreTrainedModel,
    sequences: Sequence[Sequence[int]],
    alpha: float,
    k: int,
    pad_id: int,
    first_marked: Sequence[int] | None = None,
    batch_size: int = 8,
    bf16: bool = True,
) -> list[SlotExample]:
    """Mark units with ``base_model`` under teacher forcing and pack each sequence with its ``[PAD]`` slots.

    ``first_marked[i]`` (default 0) is the first position of sequence ``i`` allowed to start a unit, e.g. the
    start of an answer after its prompt; earlier tokens keep only the ordinary next-token loss.
    """
    examples = []
    for i in range(0, len(sequences), batch_size):
        chunk = [list(s) for s in sequences[i : i + batch_size]]
        width = max(map(len, chunk))
        ids = torch.tensor([s + [s[-1]] * (width - len(s)) for s in chunk])
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in chunk])
        with _autocast(base_model, bf16):
            probs = token_probabilities(base_model, ids.to(base_model.device), mask.to(base_model.device)).cpu()
        for j, s in enumerate(chunk):
            p = probs[j, : len(s)].tolist()
            start = first_marked[i + j] if first_marked is not None else 0
            p[:start] = [0.0] * start
            examples.append(build_example(s, mark_units(p, alpha, k), pad_id, k))
    return examples


def _autocast(model: PreTrainedModel, enabled: bool) -> torch.autocast:
    return torch.autocast(device_type=model.device.type, dtype=torch.bfloat16, enabled=enabled)


def check_top_layers(top_layers: int | None, blocks: int) -> None:
    """``train_top_layers`` against the model's number of blocks."""
    if top_layers is not None and not 1 <= top_layers <= blocks:
        raise ConfigError(f"train_top_layers (--top-layers) must be between 1 and {blocks}, the model's blocks, or "
                          f"None (0 on the command line) to train them all; got {top_layers}")


def _select_trainable(model: PreTrainedModel, top_layers: int | None) -> int:
    if top_layers is None:
        for p in model.parameters():
            p.requires_grad_(True)
    else:
        decoder = model.get_decoder()
        check_top_layers(top_layers, len(decoder.layers))
        for p in model.parameters():
            p.requires_grad_(False)
        for module in [*decoder.layers[-top_layers:], decoder.norm]:
            for p in module.parameters():
                p.requires_grad_(True)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def fine_tune(
    model: PreTrainedModel,
    examples: Sequence[SlotExample],
    config: TrainConfig,
    filler_id: int,
    log: Callable[[str], None] = print,
) -> TrainReport:
    """Train ``model`` in place on packed examples (cycled in a seeded shuffled order) and report losses.

    The learning rate warms up, then follows a cosine to zero at the last step. With a time budget, the
    last step is re-estimated once from the speed of steps 5-20, so the cosine ends when the budget does
    rather than being cut off at a high rate.
    """
    if not examples:
        raise ConfigError("no training examples: prepare a corpus first (sotkit engines lud prepare)")
    report = TrainReport(examples=len(examples), slot_targets=sum(e.n_slots for e in examples))
    report.trainable_parameters = _select_trainable(model, config.train_top_layers)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)

    last_step = config.steps

    def lr_at(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        done = (step - config.warmup_steps) / max(1, last_step - config.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(config.seed)).tolist()
    model.train()
    start, cpu_start = time.perf_counter(), time.process_time()
    step = 0
    while step < last_step:
        picks = [examples[order[(step * config.batch_size + b) % len(order)]] for b in range(config.batch_size)]
        batch = collate(picks, filler_id, model.device)
        with _autocast(model, config.bf16):
            logits = model(
                input_ids=batch["input_ids"], position_ids=batch["position_ids"], attention_mask=batch["attention_mask"]
            ).logits.float()
        labels, is_slot = batch["labels"], batch["is_slot"]
        lm_loss = torch.nn.functional.cross_entropy(logits[~is_slot], labels[~is_slot], ignore_index=-100)
        slot_loss = (
            torch.nn.functional.cross_entropy(logits[is_slot], labels[is_slot]) if is_slot.any() else logits.sum() * 0
        )
        loss = lm_loss + config.slot_loss_weight * slot_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        report.lm_loss.append(round(lm_loss.item(), 4))
        report.slot_loss.append(round(slot_loss.item(), 4))
        step += 1
        report.steps = step
        report.seconds = time.perf_counter() - start
        report.cpu_seconds = time.process_time() - cpu_start
        if config.time_budget_s is not None:
            if step == 5:
                seconds_at_5 = report.seconds
            elif step == 20:
                per_step = (report.seconds - seconds_at_5) / 15
                last_step = min(config.steps, step + int((config.time_budget_s - report.seconds) / per_step))
                log(f"{per_step * 1000:.0f} ms a step: the schedule ends at step {last_step}")
        if step % 10 == 1 or step == last_step:
            log(
                f"step {step}/{last_step}  lm {lm_loss.item():.3f}  slot {slot_loss.item():.3f}  "
                f"{report.seconds:.0f}s wall, {report.cpu_seconds:.0f}s CPU"
            )
        if config.time_budget_s is not None and report.seconds >= config.time_budget_s:
            log(f"time budget of {config.time_budget_s:.0f}s reached after {step} steps")
            break
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return report


def check_replaceable(path: Path) -> None:
    """Refuse a model folder that is a file, or holds files but no ``lud_config.json`` (a model of its own, say the
    base model's, which ``save_lud`` would write over); an empty one, or one ``save_lud`` wrote, is written into."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"the output folder {path} is a file; give a folder for the model")
    if path.is_dir() and any(not p.name.startswith(".") for p in path.iterdir()) and not (path / CONFIG_FILE).exists():
        raise ConfigError(f"the output folder {path} holds files but no {CONFIG_FILE} (a model of its own?), which "
                          "the trained model would replace; give a new or empty folder")


def save_lud(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, path: str | Path, config: dict | None = None
) -> Path:
    """Save a fine-tuned model, its tokenizer (with ``[PAD]``) and the LUD settings to one directory. Its
    ``lud_config.json`` is written first as a mark of a save under way and last whole: a save that is stopped leaves
    a folder that the next save may replace and that ``load_lud`` refuses."""
    pad_token_id(tokenizer)  # refuse to save something load_lud could not decode with
    path = Path(path)
    check_replaceable(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / CONFIG_FILE).write_text(json.dumps({SAVING: True}))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    for weights in path.glob("*.safetensors"):
        as_ordinary_file(weights)
    (path / CONFIG_FILE).write_text(json.dumps(config or {}, indent=2, default=_jsonable))
    return path


def _jsonable(value: object) -> object:
    return asdict(value) if hasattr(value, "__dataclass_fields__") else str(value)


def load_lud(path: str | Path, device: str = "cpu") -> tuple[PreTrainedModel, PreTrainedTokenizerBase, dict]:
    """Load what ``save_lud`` wrote: ``(model, tokenizer, config)``, the model in eval mode."""
    path = Path(path)
    if not (path / CONFIG_FILE).exists():
        raise FileNotFoundError(
            f"{path} is not a lexical-unit model directory (no {CONFIG_FILE}); create one with "
            "`sotkit engines lud train`"
        )
    config = read_config(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    pad_token_id(tokenizer)
    return model, tokenizer, config
