"""Can FocusLLM's candidates learn to carry memory at all? A minutes-long probe on random tokens.

Repetition examples (the local context is a span copied from the memory; predict the tokens that followed it
there) drawn from random token ids, so nothing but retrieval helps. On the same held-out examples it reports
the target loss of the plain model reading everything (what retrieval can reach), of the plain model reading
only the local context (no memory), and of FocusLLM before and after a short training at each learning rate.
Small chunks keep it cheap on a CPU; use it to choose a training setup before spending GPU minutes.

    .venv/bin/python benchmarks/focusllm_copy_probe.py --steps 150 --lrs 1e-3,1e-4   # ~8 min on 2 CPU cores
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from sotkit.engines.focusllm.model import FocusConfig, FocusLLM
from sotkit.engines.focusllm.train import Example, TrainConfig, example_loss, sample_example, train
from sotkit.engines.models import load_model

RESULTS = Path(__file__).parent / "results"
FOCUS = FocusConfig(chunk_size=64, local_window=32, fragment_len=16)
TASK = TrainConfig(min_chunks=2, max_chunks=4, target_len=4, repetition_share=1.0, log_every=25)


@torch.no_grad()
def plain_loss(base, examples: list[Example], with_memory: bool) -> float:
    losses = []
    for ex in examples:
        ids = torch.cat([ex.memory, ex.local, ex.target] if with_memory else [ex.local, ex.target])
        logits = base(input_ids=ids[None]).logits[0, -ex.target.shape[0] - 1 : -1]
        losses.append(F.cross_entropy(logits.float(), ex.target).item())
    return sum(losses) / len(losses)


@torch.no_grad()
def focus_loss(model: FocusLLM, examples: list[Example]) -> float:
    return sum(example_loss(model, ex).item() for ex in examples) / len(examples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lrs", default="1e-3,1e-4", help="comma-separated learning rates, one fresh run each")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "focusllm_copy_probe.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base, _ = load_model("smollm2", device=args.device, dtype="float32")  # stays plain: each run wraps a copy
    stream = torch.randint(1000, 30000, (200_000,), generator=torch.Generator().manual_seed(0)).to(base.device)
    rng = random.Random(1234)
    shape = FocusLLM(copy.deepcopy(base), FOCUS)  # sample_example reads the chunking from a model
    held_out = [sample_example(stream, shape, TASK, rng) for _ in range(16)]
    del shape
    report = {"focus_config": vars(FOCUS), "task": vars(TASK), "steps": args.steps, "device": args.device,
              "plain_full_attention": plain_loss(base, held_out, True), "plain_local_only": plain_loss(base, held_out, False),
              "runs": []}
    print({k: v for k, v in report.items() if k.startswith("plain")})
    for lr in (float(x) for x in args.lrs.split(",")):
        model = FocusLLM(copy.deepcopy(base), FOCUS)
        before = focus_loss(model, held_out)
        start = time.perf_counter()
        summary = train(model, stream, TrainConfig(**{**vars(TASK), "steps": args.steps, "lr": lr}), log=print)
        run = {"lr": lr, "before": before, "after": focus_loss(model, held_out),
               "train_first_25": sum(summary["history"]["repetition"][:25]) / 25,
               "train_last_25": sum(summary["history"]["repetition"][-25:]) / 25,
               "seconds": time.perf_counter() - start}
        print(run)
        report["runs"].append(run)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
