"""Train the embedding router's classifier on sotkit's own hand-labelled questions.

    HF_HUB_OFFLINE=1 python benchmarks/router_train.py            # writes sotkit/router_data/embedding_classifier.json

Logistic regression (L2-regularised, full-batch L-BFGS in torch) on all-MiniLM-L6-v2 embeddings of
``sotkit/router_data/questions.tsv``; reports accuracy on that set and on ``heldout.tsv``, which it never trains on.
The Vicuna benchmark questions are evaluation-only and are not read here. Runs in about ten seconds on CPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from sotkit.router import DEFAULT_CLASSIFIER, LinearClassifier, SentenceEncoder

DATA = Path(__file__).resolve().parents[1] / "sotkit" / "router_data"


def read_labelled(path: Path) -> tuple[list[str], list[int]]:
    """``(questions, labels)`` from a ``label<TAB>kind<TAB>question`` file; label 1 means SoT suits it."""
    questions, labels = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        label, _kind, question = line.split("\t")
        if label not in ("sot", "seq"):
            raise ValueError(f"{path}:{number}: label must be 'sot' or 'seq', not {label!r}")
        questions.append(question)
        labels.append(int(label == "sot"))
    return questions, labels


def fit(x: torch.Tensor, y: torch.Tensor, l2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and bias minimising mean logistic loss + ``l2`` * |w|^2."""
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return w.detach(), b.detach()


def accuracy(classifier: LinearClassifier, x: torch.Tensor, labels: list[int]) -> float:
    hits = sum((classifier.probability(row.tolist()) >= 0.5) == bool(label) for row, label in zip(x, labels))
    return hits / len(labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--l2", type=float, default=1e-3, help="L2 penalty on the weights (default 1e-3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_CLASSIFIER)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    encoder = SentenceEncoder()
    train_q, train_y = read_labelled(DATA / "questions.tsv")
    held_q, held_y = read_labelled(DATA / "heldout.tsv")
    x_train, x_held = encoder.encode(train_q), encoder.encode(held_q)
    w, b = fit(x_train, torch.tensor(train_y, dtype=torch.float32), args.l2)
    classifier = LinearClassifier(tuple(w.tolist()), float(b))
    train_acc, held_acc = accuracy(classifier, x_train, train_y), accuracy(classifier, x_held, held_y)
    classifier.save(args.out, l2=args.l2, trained_on="sotkit/router_data/questions.tsv", n_train=len(train_q),
                    train_accuracy=round(train_acc, 4), heldout_accuracy=round(held_acc, 4))
    print(f"trained on {len(train_q)} questions: train accuracy {train_acc:.3f}, "
          f"held-out accuracy {held_acc:.3f} ({len(held_q)} questions) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
