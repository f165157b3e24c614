"""Side-by-side benchmark: greedy, prompt-lookup decoding, LUD at several alphas and verified LUD (alone,
with prompt-lookup drafts, and this engine's loop with lookup drafts only).

Every method decodes the same held-out prompts with the same fine-tuned model in one process, interleaved
prompt by prompt so background load hits all of them alike. Forward passes are counted by a hook on the
model, so transformers' own ``generate`` is measured the same way as ours. Quality is agreement with the
fine-tuned model's greedy output, and held-out perplexity of the fine-tuned model against the base model.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from ..errors import ConfigError
from . import data
from .decoding import eos_token_ids, generate
from .pipeline import load_answers
from .train import load_lud


@dataclass
class BenchConfig:
    prompts_per_domain: int = 4
    max_new_tokens: int = 48
    alphas: tuple[float, ...] = (0.5, 0.7, 0.9)
    verify_alphas: tuple[float, ...] = (0.5,)
    lookup_alphas: tuple[float, ...] = (0.5,)  # verified LUD that also drafts by prompt lookup
    k: int = 3
    prompt_lookup_tokens: int = 3  # the same look-ahead budget per step as k = 3 slots
    perplexity_sequences: int = 12
    seq_len: int = 96
    # One thread: on an oversubscribed CPU a 2-thread matmul stalls on its preempted half, and multi-token
    # forwards (which every method but greedy runs) suffer most; one thread keeps the comparison fair.
    threads: int = 1
    device: str = "cpu"  # "cuda" on a GPU; timings then synchronise with the device


class _ForwardCounter:
    def __init__(self, model: torch.nn.Module):
        self.count = 0
        model.register_forward_pre_hook(self._hook)

    def _hook(self, *_):
        self.count += 1


def _methods(model, tokenizer, config: BenchConfig) -> dict[str, Callable[[list[int]], list[int]]]:
    eos = eos_token_ids(model, tokenizer)
    hf_kwargs = {"max_new_tokens": config.max_new_tokens, "do_sample": False, "pad_token_id": tokenizer.pad_token_id}

    def hf(extra: dict) -> Callable[[list[int]], list[int]]:
        def run(prompt: list[int]) -> list[int]:
            ids = torch.tensor([prompt], device=model.device)
            out = model.generate(ids, attention_mask=torch.ones_like(ids), **hf_kwargs, **extra)
            return out[0, len(prompt) :].tolist()

        return run

    def lud(alpha: float, verify: bool, k: int = config.k, lookup: int = 0) -> Callable[[list[int]], list[int]]:
        return lambda prompt: generate(model, tokenizer, prompt, config.max_new_tokens, alpha, k, verify,
                                       lookup=lookup, eos_token_id=eos).token_ids

    methods = {"greedy": hf({}), "prompt_lookup": hf({"prompt_lookup_num_tokens": config.prompt_lookup_tokens})}
    methods |= {f"lud a={a}": lud(a, False) for a in config.alphas}
    methods |= {f"lud-verified a={a}": lud(a, True) for a in config.verify_alphas}
    methods |= {f"lud-verified+lookup a={a}": lud(a, True, lookup=config.prompt_lookup_tokens)
                for a in config.lookup_alphas}
    methods["lookup only (this engine, k=0)"] = lud(2.0, True, k=0, lookup=config.prompt_lookup_tokens)
    return methods


def _agreement(tokens: list[int], reference: list[int]) -> float:
    """Share of the reference's positions where ``tokens`` has the same token."""
    return sum(a == b for a, b in zip(tokens, reference)) / max(1, len(reference))


@torch.inference_mode()
def _perplexity(model, sequences: list[list[int]], starts: list[int]) -> float:
    nll, count = 0.0, 0
    for ids, start in zip(sequences, starts):
        logits = model(input_ids=torch.tensor([ids], device=model.device)).logits[0, :-1].float()
        targets = torch.tensor(ids[1:], device=model.device)
        losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")[max(0, start - 1) :]
        nll += losses.sum().item()
        count += losses.numel()
    return math.exp(nll / count)


def _prompts(tokenizer, config: BenchConfig) -> dict[str, list[list[int]]]:
    code = [tokenizer(p).input_ids for p in data.code_prompts(tokenizer, config.prompts_per_domain)]
    chats = [data.chat_prompt_ids(tokenizer, q) for q in data.instructions("heldout")[: config.prompts_per_domain]]
    return {"code": code, "instructions": chats}


def run_benchmark(model_dir: str | Path, data_dir: str | Path, config: BenchConfig, log: Callable[[str], None] = print) -> dict:
    """Decode held-out prompts with every method and return speeds, ratios and quality (see module doc)."""
    from ..models import EMBEDDED, check_available, device_name, load_model, synchronize

    torch.set_num_threads(config.threads)
    answers = load_answers(data_dir)  # read first: a wrong --data is found before the timed runs, not after
    model, tokenizer, lud_config = load_lud(model_dir, config.device)
    base_model = lud_config.get("base_model", EMBEDDED)
    check_available(base_model)  # read for the perplexity after the timed runs: moved since, say (probe 307)
    counter = _ForwardCounter(model)
    methods = _methods(model, tokenizer, config)
    prompts = _prompts(tokenizer, config)
    longest = max(len(prompt) for domain in prompts.values() for prompt in domain)
    window = getattr(model.config, "max_position_embeddings", None)
    if window is not None and longest + config.max_new_tokens > window:  # transformers' generate would decode on
        raise ConfigError(f"--max-new-tokens {config.max_new_tokens} does not fit the model's context of {window} "
                          f"tokens after the longest prompt ({longest}): give at most {max(window - longest, 0)}, or "
                          "every method's answers would differ in length, not in what they decode")
    load_before = os.getloadavg()
    for run in methods.values():  # warm-up: first-call allocations must not count against one method
        run(prompts["code"][0][:16])

    results: dict = {"domains": {}}
    for domain, domain_prompts in prompts.items():
        rows = {name: {"tokens": 0, "forwards": 0, "seconds": 0.0, "agreement": []} for name in methods}
        for i, prompt in enumerate(domain_prompts):
            outputs = {}
            for name, run in methods.items():
                counter.count = 0
                synchronize(model.device)
                start = time.perf_counter()
                outputs[name] = run(prompt)
                synchronize(model.device)
                rows[name]["seconds"] += time.perf_counter() - start
                rows[name]["tokens"] += len(outputs[name])
                rows[name]["forwards"] += counter.count
            for name in methods:
                rows[name]["agreement"].append(_agreement(outputs[name], outputs["greedy"]))
            log(f"{domain} prompt {i + 1}/{len(domain_prompts)} done")
            if i == 0:
                rows["greedy"]["sample"] = tokenizer.decode(outputs["greedy"])
        base_speed = rows["greedy"]["tokens"] / rows["greedy"]["seconds"]
        for name, row in rows.items():
            row["tokens_per_forward"] = round(row["tokens"] / row["forwards"], 3)
            row["tokens_per_second"] = round(row["tokens"] / row["seconds"], 2)
            row["speedup_vs_greedy"] = round(row["tokens_per_second"] / base_speed, 3)
            row["agreement"] = round(sum(row["agreement"]) / len(row["agreement"]), 4)
            row["seconds"] = round(row["seconds"], 2)
        results["domains"][domain] = rows

    log("held-out perplexity: base vs fine-tuned")
    results["base_model"] = base_model
    base, base_tokenizer = load_model(results["base_model"], device=config.device, dtype="float32")
    code = data.code_sequences(base_tokenizer, "heldout", config.seq_len, config.perplexity_sequences)
    chats, starts = [], []
    for question in data.instructions("heldout"):
        prompt = data.chat_prompt_ids(base_tokenizer, question)
        chats.append(prompt + answers[question])
        starts.append(len(prompt))
    results["perplexity"] = {
        "code": {"base": _perplexity(base, code, [0] * len(code)), "fine_tuned": _perplexity(model, code, [0] * len(code))},
        "instructions": {"base": _perplexity(base, chats, starts), "fine_tuned": _perplexity(model, chats, starts)},
    }
    for row in results["perplexity"].values():
        row["change"] = round(row["fine_tuned"] / row["base"] - 1, 4)
        row["base"], row["fine_tuned"] = round(row["base"], 3), round(row["fine_tuned"], 3)
    results["config"] = asdict(config)
    results["training"] = {key: lud_config.get(key) for key in ("train", "prepare", "torch_threads")}
    report = lud_config.get("report", {})
    results["training"]["report"] = {key: report.get(key) for key in ("steps", "seconds", "cpu_seconds", "examples", "slot_targets", "trainable_parameters")}
    results["training"]["report"]["first_last_slot_loss"] = [report.get("slot_loss", [None])[0], report.get("slot_loss", [None])[-1]]
    results["training"]["report"]["first_last_lm_loss"] = [report.get("lm_loss", [None])[0], report.get("lm_loss", [None])[-1]]
    results["machine"] = {
        "cpu": platform.processor() or platform.machine(),
        "device": device_name(model.device),
        "torch_threads": torch.get_num_threads(),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "torch": torch.__version__,
    }
    return results


def write_results(results: dict, stem: str | Path) -> None:
    """Write ``<stem>.json`` and a readable ``<stem>.md`` table."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2))
    base = results.get("base_model", "smollm2")  # the model that was fine-tuned: the embedded one, or a directory
    model = "SmolLM2-135M-Instruct" if base == "smollm2" else Path(base).name
    lines = [f"# Lexical-unit decoding on {model} ({results['machine']['device']})", ""]
    for domain, rows in results["domains"].items():
        lines += [f"## {domain}", "", "| method | tokens/forward | tokens/s | speed-up vs greedy | agreement with greedy |", "|---|---|---|---|---|"]
        for name, row in rows.items():
            lines.append(
                f"| {name} | {row['tokens_per_forward']} | {row['tokens_per_second']} | {row['speedup_vs_greedy']}x | {row['agreement']:.1%} |"
            )
        lines.append("")
    lines += ["## held-out perplexity", "", "| corpus | base | fine-tuned | change |", "|---|---|---|---|"]
    for corpus, row in results["perplexity"].items():
        lines.append(f"| {corpus} | {row['base']} | {row['fine_tuned']} | {row['change']:+.1%} |")
    lines += ["", "## training budget", "", "```json", json.dumps(results["training"], indent=2), "```", ""]
    lines += ["## machine", "", "```json", json.dumps(results["machine"], indent=2), "```", ""]
    stem.with_suffix(".md").write_text("\n".join(lines))
