"""Corpora that need no download: the standard library's own source, and self-distilled instruction answers.

Code is split into train and held-out sets by top-level module (a stable hash of the module name), so a
benchmark on held-out prompts never sees a file the model was fine-tuned on. Instructions are written here
and split the same way; their answers are written by the base model itself (self-distillation), so the
fine-tune teaches the ``[PAD]`` slots the base model's own phrasing rather than a new style.
"""

from __future__ import annotations

import random
import sysconfig
import zlib
from pathlib import Path
from typing import Literal, Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

Split = Literal["train", "heldout"]

# Not ordinary library code: tests, demos, vendored or generated files.
_SKIP = {
    "site-packages", "test", "tests", "idlelib", "turtledemo", "lib2to3", "ensurepip", "pydoc_data", "__pycache__",
    "encodings",  # generated codec tables
}
_HELDOUT_EVERY = 5  # one module in five is held out
_FILES_PER_BATCH = 32


def _split_of(name: str) -> Split:
    return "heldout" if zlib.crc32(name.encode()) % _HELDOUT_EVERY == 0 else "train"


def stdlib_files(split: Split, root: Path | None = None) -> list[Path]:
    """The ``.py`` files of the standard-library modules in ``split``, sorted.

    A package's files all go with the package's top-level name, so ``json/decoder.py`` and
    ``json/encoder.py`` are never on opposite sides of the split.
    """
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    root = Path(root or sysconfig.get_paths()["stdlib"])
    files = []
    for entry in sorted(root.iterdir()):
        name = entry.name.removesuffix(".py")
        if name in _SKIP or name.startswith((".", "_")) or _split_of(name) != split:
            continue
        if entry.is_file() and entry.suffix == ".py":
            files.append(entry)
        elif entry.is_dir() and (entry / "__init__.py").exists():
            files.extend(p for p in sorted(entry.rglob("*.py")) if not _SKIP & set(p.relative_to(root).parts))
    return files


def code_sequences(
    tokenizer: PreTrainedTokenizerBase, split: Split, seq_len: int, limit: int, seed: int = 0
) -> list[list[int]]:
    """Up to ``limit`` token windows of exactly ``seq_len`` tokens, cut from ``split``'s files, shuffled.

    Files are read in a seeded random order, a batch at a time (the tokenizer encodes a batch on all
    cores), until there are twice as many windows as asked for: tokenizing the whole split takes minutes.
    """
    files = stdlib_files(split)
    random.Random(seed).shuffle(files)
    windows: list[list[int]] = []
    for start in range(0, len(files), _FILES_PER_BATCH):
        if len(windows) >= 2 * limit:
            break
        texts = [path.read_text(encoding="utf-8", errors="replace") for path in files[start : start + _FILES_PER_BATCH]]
        for ids in tokenizer(texts).input_ids:
            windows.extend(ids[i : i + seq_len] for i in range(0, len(ids) - seq_len + 1, seq_len))
    random.Random(seed).shuffle(windows)
    return windows[:limit]


def code_prompts(tokenizer: PreTrainedTokenizerBase, n: int, context_lines: int = 6, seed: int = 0) -> list[str]:
    """``n`` held-out code prompts: a function's ``def`` line with the lines before it, one per file."""
    prompts = []
    files = stdlib_files("heldout")
    random.Random(seed).shuffle(files)
    for path in files:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        defs = [i for i, line in enumerate(lines) if line.lstrip().startswith("def ") and line.rstrip().endswith(":")]
        if len(defs) < 2:
            continue
        i = defs[len(defs) // 2]  # a function from the middle of the file, past the imports
        prompts.append("".join(lines[max(0, i - context_lines) : i + 1]))
        if len(prompts) == n:
            break
    return prompts


INSTRUCTIONS = [
    "Give three tips for staying healthy.",
    "Explain what a hash table is.",
    "Describe the water cycle in simple terms.",
    "What are the benefits of regular exercise?",
    "Explain the difference between weather and climate.",
    "How do I make a cup of tea?",
    "List some ways to save money on groceries.",
    "What is photosynthesis?",
    "Explain how a bicycle works.",
    "Give advice for a job interview.",
    "What causes the seasons on Earth?",
    "Describe a good morning routine.",
    "Explain what an operating system does.",
    "How can I improve my sleep?",
    "What is the purpose of a resume?",
    "Explain recursion to a beginner.",
    "List the planets of the solar system.",
    "How do vaccines work?",
    "Give tips for learning a new language.",
    "What is the difference between a virus and a bacterium?",
    "Explain why the sky is blue.",
    "How should I prepare for an exam?",
    "What are the main parts of a computer?",
    "Describe how to plant a tree.",
    "Explain what inflation is.",
    "What are some good habits for writing code?",
    "How do airplanes stay in the air?",
    "Give tips for public speaking.",
    "Explain what a database is used for.",
    "What is the greenhouse effect?",
    "How can I reduce stress at work?",
    "Describe the rules of chess briefly.",
    "What is machine learning?",
    "Explain how to write a good email.",
    "What are the benefits of reading books?",
    "How does the internet work?",
    "Give some ideas for a rainy day.",
    "Explain what a budget is and why it helps.",
    "What is the role of the heart in the body?",
    "How do I start running as a beginner?",
    "Explain the difference between a list and a tuple in Python.",
    "What makes a good team leader?",
    "Describe how recycling helps the environment.",
    "Explain what an API is.",
    "What are healthy snacks for children?",
    "How do solar panels produce electricity?",
    "Give advice for staying focused while studying.",
    "What is the purpose of a version control system?",
    "Explain how to boil an egg.",
    "What are the causes of air pollution?",
    "Describe the life cycle of a butterfly.",
    "How can I be more productive in the morning?",
    "Explain what a noun and a verb are.",
    "What should I pack for a camping trip?",
    "Explain how credit cards work.",
    "Why is drinking water important?",
    "Describe the main features of a democracy.",
    "What is the difference between RAM and storage?",
    "Give tips for keeping a house clean.",
    "Explain what gravity is.",
]


def instructions(split: Split) -> list[str]:
    """The written instructions in ``split`` (every fifth one is held out)."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    return [q for i, q in enumerate(INSTRUCTIONS) if (i % _HELDOUT_EVERY == 0) == (split == "heldout")]


def chat_prompt_ids(tokenizer: PreTrainedTokenizerBase, instruction: str) -> list[int]:
    """The chat-template tokens that ask ``instruction`` and open the assistant's turn."""
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": instruction}], add_generation_prompt=True, return_dict=False
    )
    return list(ids)


@torch.inference_mode()
def distill_answers(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    questions: Sequence[str],
    max_new_tokens: int,
    batch_size: int = 16,
) -> list[list[int]]:
    """The base model's own greedy answers (token ids, EOS included when reached), batched with left padding."""
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer needs a pad token for batched generation (e.g. tokenizer.pad_token = tokenizer.eos_token)")
    eos = model.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [eos])
    answers = []
    for i in range(0, len(questions), batch_size):
        prompts = [chat_prompt_ids(tokenizer, q) for q in questions[i : i + batch_size]]
        width = max(map(len, prompts))
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        out = model.generate(
            input_ids=input_ids.to(model.device), attention_mask=mask.to(model.device),
            max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad,
        )
        for row in out[:, width:].tolist():
            end = next((j for j, t in enumerate(row) if t in eos), None)
            answers.append(row if end is None else row[: end + 1])
    return answers
