"""The two offline steps behind ``sotkit engines lud prepare|train``, with everything they write in one folder.

``prepare`` builds the corpora (standard-library code windows; the base model's own answers to the written
instructions), marks lexical units with the base model and stores the packed examples. ``train`` adds
``[PAD]`` to a fresh copy of the base model, fine-tunes it on those examples and saves it with ``save_lud``.
"""

from __future__ import annotations

import copy
import json
import pickle
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from ..commands import can_make
from ..errors import ConfigError
from ..models import EMBEDDED, model_config
from . import data
from .decoding import PAD_TOKEN, add_pad_token, pad_token_id
from .engine import CONFIG_FILE
from .train import TrainConfig, check_replaceable, check_top_layers, fine_tune, mark_and_pack, save_lud
from .units import SlotExample

EXAMPLES_FILE = "examples.pt"
CORPUS_FILE = "corpus.json"


@dataclass
class PrepareConfig:
    model: str = "smollm2"
    alpha: float = 0.8
    k: int = 3
    seq_len: int = 96
    code_sequences: int = 160
    answer_tokens: int = 96
    device: str = "cpu"  # where the base model runs to distill answers and mark units


def _load_base(name: str, device: str):
    from ..models import load_model

    # float32 master weights to fine-tune (bfloat16 runs under autocast)
    return load_model(name, device=device, dtype="float32")


def _blocks(model: str) -> int | None:
    """The base model's number of blocks, from its config.json (None where it cannot be read before it loads: the
    embedded model is converted as it loads)."""
    config = model_config(model) or {}
    blocks = config.get("num_hidden_layers", config.get("n_layer"))
    return blocks if isinstance(blocks, int) else None


def prepare(out_dir: str | Path, config: PrepareConfig, log: Callable[[str], None] = print) -> dict:
    """Write the corpora and the packed ``[PAD]``-slot examples to ``out_dir``; return a summary."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"the data folder {out} is a file; give a folder for the examples")
    base, tokenizer = _load_base(config.model, config.device)  # first: a wrong --model leaves no empty folder
    if config.model != EMBEDDED:  # as typed, train and bench would read it from the folder they run in (probe 307)
        config = replace(config, model=str(Path(config.model).expanduser().resolve()))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    log(f"self-distilling answers to {len(data.INSTRUCTIONS)} instructions ({config.answer_tokens} tokens max)")
    answers = data.distill_answers(base, tokenizer, data.INSTRUCTIONS, config.answer_tokens)
    by_question = dict(zip(data.INSTRUCTIONS, answers))
    code = data.code_sequences(tokenizer, "train", config.seq_len, config.code_sequences)
    chats, answer_starts = [], []
    for question in data.instructions("train"):
        prompt = data.chat_prompt_ids(tokenizer, question)
        chats.append(prompt + by_question[question])
        answer_starts.append(len(prompt))

    # The slot examples need the [PAD] id that the fine-tuned copy's tokenizer will have.
    with_pad = copy.deepcopy(tokenizer)
    with_pad.add_tokens([PAD_TOKEN], special_tokens=True)
    pad_id = pad_token_id(with_pad)
    log(f"marking lexical units (alpha={config.alpha}, k={config.k}) in {len(code)} code and {len(chats)} chat sequences")
    examples = mark_and_pack(base, code, config.alpha, config.k, pad_id)
    examples += mark_and_pack(base, chats, config.alpha, config.k, pad_id, first_marked=answer_starts)
    torch.save([asdict(e) for e in examples], out / EXAMPLES_FILE)
    summary = {
        "config": asdict(config),
        "seconds": round(time.perf_counter() - started, 1),
        "examples": len(examples),
        "code_sequences": len(code),
        "chat_sequences": len(chats),
        "slot_targets": sum(e.n_slots for e in examples),
        "real_tokens": sum(len(e.input_ids) - e.n_slots for e in examples),
    }
    corpus = {"answers": {q: a for q, a in by_question.items()}, "summary": summary}
    (out / CORPUS_FILE).write_text(json.dumps(corpus))
    log(f"prepared {summary}")
    return summary


def _prepared(data_dir: str | Path, name: str) -> Path:
    path = Path(data_dir) / name
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `prepare` first (sotkit engines lud prepare)")
    return path


def load_examples(data_dir: str | Path) -> list[SlotExample]:
    """The packed examples ``prepare`` wrote."""
    path = _prepared(data_dir, EXAMPLES_FILE)
    try:
        return [SlotExample(**e) for e in torch.load(path)]
    except (OSError, RuntimeError, EOFError, TypeError, pickle.UnpicklingError) as exc:  # a copy cut short
        raise ConfigError(f"{path} is damaged ({exc}); run `prepare` again (sotkit engines lud prepare)") from None


def _load_corpus(data_dir: str | Path) -> dict:
    return json.loads(_prepared(data_dir, CORPUS_FILE).read_text())


def load_answers(data_dir: str | Path) -> dict[str, list[int]]:
    """The base model's self-distilled answers (token ids) from ``prepare``, by instruction."""
    return _load_corpus(data_dir)["answers"]


def check_out_dir(out_dir: str | Path) -> None:
    """Refuse, before any training, a folder the model could not be saved to, or would be saved over something
    else in (the base model's own folder: its weights and tokenizer replaced); one ``train`` wrote before is
    replaced."""
    out = Path(out_dir)
    check_replaceable(out)
    can_make(out / CONFIG_FILE, f"the output folder {out}")


def train(data_dir: str | Path, out_dir: str | Path, config: TrainConfig, log: Callable[[str], None] = print) -> dict:
    """Fine-tune a copy of the base model on ``prepare``'s examples and save it to ``out_dir``."""
    check_out_dir(out_dir)
    corpus = _load_corpus(data_dir)
    prepared = corpus["summary"]["config"]
    if (prepared["alpha"], prepared["k"]) != (config.alpha, config.k):
        log(f"note: examples were marked with alpha={prepared['alpha']}, k={prepared['k']}; those values are used")
        config = TrainConfig(**{**asdict(config), "alpha": prepared["alpha"], "k": prepared["k"]})
    examples = load_examples(data_dir)
    if config.train_top_layers is not None and (blocks := _blocks(prepared["model"])) is not None:
        check_top_layers(config.train_top_layers, blocks)  # before the model loads and is copied (probe 307)
    base, tokenizer = _load_base(prepared["model"], config.device)
    model, tokenizer = copy.deepcopy(base), copy.deepcopy(tokenizer)
    add_pad_token(model, tokenizer)
    report = fine_tune(model, examples, config, filler_id=tokenizer.eos_token_id, log=log)
    settings = {
        "base_model": prepared["model"],
        "alpha": config.alpha,
        "k": config.k,
        "train": asdict(config),
        "prepare": corpus["summary"],
        "report": asdict(report),
        "torch_threads": torch.get_num_threads(),
    }
    save_lud(model, tokenizer, out_dir, settings)
    log(f"saved to {out_dir}: {report.steps} steps in {report.seconds:.0f}s")
    return settings
