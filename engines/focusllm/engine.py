"""``decoding="focusllm"`` (or ``focus_weights=`` alone): the request's context read in parallel chunks."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..base import Engine, GenerationRequest
from ..errors import ConfigError
from ..models import EMBEDDED, cache_dir, context_window, has_sliding_window, model_config
from ..streaming import Completion

#: a loaded model's FocusLLM wrapper and the weights file it holds, kept on the model (freed with it): wrapping swaps
#: the shared base model's projections in place (unchanged while the switch is off), so a model is wrapped once, and
#: a client with other weights loads its own into that wrapper (generations of one model run one at a time)
_WRAPPER = "_sotkit_focusllm"
#: the architectures FocusLLM's wrapper knows: Llama-style attention (q/k/v/o_proj) with a fixed RoPE
MODEL_TYPES = ("llama", "mistral", "qwen2")
#: RoPE variants whose frequencies depend on the sequence length cannot be re-positioned by a fixed rotation
UNSUPPORTED_ROPE = {"dynamic", "longrope"}


def default_weights_path(base: str) -> Path:
    """Where ``sotkit engines focus train`` writes and ``bench`` reads FocusLLM weights for ``base`` (by its
    folder's name: ``check_weights_fit`` tells another model's of the same name)."""
    return cache_dir() / "focusllm" / f"{Path(base).name}.safetensors"


def base_fingerprint(base: str) -> str | None:
    """What tells one base model's weights from another's, read in milliseconds, however they are sharded and
    wherever the folder is: a hash of every tensor's name, dtype and shape and of the first KiB of the first tensor's
    values (by name), from the safetensors headers of ``model*.safetensors``; of the first MiB of a
    ``pytorch_model*.bin``; None where it has neither (no check then)."""
    if base == EMBEDDED:
        return EMBEDDED
    try:
        return _fingerprint(Path(base).expanduser())
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):  # damaged: loading it says why
        return None


def _fingerprint(directory: Path) -> str | None:
    digest = hashlib.sha256()
    tensors: dict[str, tuple[Path, int, dict[str, Any]]] = {}
    for path in sorted(directory.glob("model*.safetensors")):
        header, start = _safetensors_header(path)
        tensors.update((name, (path, start, entry)) for name, entry in header.items() if name != "__metadata__")
    if tensors:
        digest.update(json.dumps(sorted((name, entry["dtype"], entry["shape"])
                                        for name, (_, _, entry) in tensors.items())).encode())
        path, start, entry = tensors[min(tensors)]
        begin, end = entry["data_offsets"]
        with path.open("rb") as file:
            file.seek(start + begin)
            digest.update(file.read(max(0, min(1024, end - begin))))
    elif bins := sorted(directory.glob("pytorch_model*.bin")):
        with bins[0].open("rb") as file:
            digest.update(file.read(1 << 20))
    else:
        return None
    return digest.hexdigest()[:16]


def check_weights_fit(path: Path, base: str) -> dict[str, Any]:
    """The chunking config of the FocusLLM weights at ``path``, or a ConfigError when they are no such weights or
    were trained for another base model than ``base`` (a folder of the same name, or another size: else another
    model's projections answer, or a raw size mismatch at the first call)."""
    chunking, trained_for, (size, end) = _metadata(path)
    if trained_for is not None and (this := base_fingerprint(base)) is not None and trained_for != this:
        raise ConfigError(f"focus_weights={str(path)!r} were trained for another base model than {base!r} (or for "
                          "it saved in another dtype or file format, .bin or .safetensors); train them for it with "
                          f"`sotkit engines focus train --base {base} --weights NEW.safetensors` and pass "
                          "focus_weights='NEW.safetensors'")
    if size < end:  # a copy or a save cut short: its tensors are not whole (checked after whose they are)
        raise CutShort(f"focus_weights={str(path)!r} is cut short ({size:,} of its {end:,} bytes): copy it again "
                       "whole, or train new weights with `sotkit engines focus train`")
    return chunking


def chunks_overfill(chunking: dict[str, Any], window: int | None) -> str | None:
    """Why chunks of ``chunking``'s size leave too little of a base model's context of ``window`` positions for the
    answer, or None where they leave half of it or more (or the window is not known): each chunk is read with its
    fragment, and every token of the answer takes a position after them (probe 339, review 343)."""
    size, fragment = chunking.get("chunk_size"), chunking.get("fragment_len", 0)
    if not (isinstance(size, int) and isinstance(fragment, int) and window) or size + fragment <= window // 2:
        return None
    most = window // 2 - fragment
    return (f"a chunk of {size} tokens and its fragment of {fragment} take more than half the model's context of "
            f"{window}, the answer's room: " + (f"chunks of at most {most} tokens leave it half" if most > 0 else
                                                 "the fragment (fragment_len) must be smaller too"))


class Focus(Engine):
    """FocusLLM over the loaded base model with trained candidate projections (``focus_weights``: a file, or
    ``True`` for where ``sotkit engines focus train`` writes them); it reads ``context`` itself."""

    name = "focusllm"
    reads_context = True
    command = "focus"
    cli_module = f"{__package__}.cli"

    def __init__(self, model: str, *, focus_weights: str | Path | bool = True) -> None:
        super().__init__(model)
        if focus_weights is False or focus_weights == "" or not isinstance(focus_weights, (str, os.PathLike, bool)):
            raise ConfigError(f"focus_weights={focus_weights!r}: pass True (the weights `sotkit engines focus train` "
                              "wrote for this model) or a path to weights; for no FocusLLM, leave decoding='focusllm' "
                              "out")
        path = Path(default_weights_path(model) if focus_weights is True else focus_weights)
        if not path.is_file():
            raise ConfigError(f"no FocusLLM weights at {str(path)!r}; train them with `sotkit engines focus train` "
                              "or pass focus_weights='path/to/weights.safetensors'")
        self.chunking = check_weights_fit(path, model)  # the config stored beside the weights: used at load
        self.weights = path
        if model != EMBEDDED:  # a Llama (its config.json is written at its first use)
            _check_architecture(model)
        if why := chunks_overfill(self.chunking, context_window(model)):
            raise ConfigError(f"focus_weights={str(path)!r} were trained for chunks too long for {model!r} ({why}); "
                              f"train weights for it with `sotkit engines focus train --base {model} --chunk-size N "
                              "--weights NEW.safetensors` and pass focus_weights='NEW.safetensors'")

    def generate_one(self, loaded: Any, request: GenerationRequest, on_text: Callable[[str], None],
                     should_stop: Callable[[], bool]) -> Completion:
        from ..generation import chat_token_ids
        from .model import FocusConfig, FocusLLM, focus_completion

        model, tokenizer = loaded
        if (wrapped := getattr(model, _WRAPPER, None)) is None:
            try:
                wrapped = (FocusLLM(model), None)
            except (TypeError, ValueError, AttributeError) as exc:  # a model that another engine's load gave
                raise ConfigError(f"FocusLLM cannot wrap {self.model!r}: {exc}; it needs a Llama-family model "
                                  "with a fixed RoPE and no sliding window") from exc
        focus, holds = wrapped
        if holds != self.weights:
            setattr(model, _WRAPPER, (focus, None))  # wrapped: whatever happens next, it is never wrapped again
            focus.config = FocusConfig(**self.chunking)
            try:
                focus.load_focus_weights(self.weights)
            except ValueError as exc:  # the weights of another base model, or damaged ones
                raise ConfigError(f"focus_weights={str(self.weights)!r} cannot serve {self.model!r} ({exc}); train "
                                  "weights for it with `sotkit engines focus train`") from exc
            setattr(model, _WRAPPER, (focus, self.weights))
        # the context is text, even where it quotes the chat markup
        context_ids = tokenizer(request.context or "", add_special_tokens=False, split_special_tokens=True)["input_ids"]
        return focus_completion(focus, tokenizer, context_ids, chat_token_ids(tokenizer, request.prompt),
                                request.max_tokens, on_text, stop=request.stop, should_stop=should_stop,
                                asked=request.prompt.user)


def _check_architecture(model: str) -> None:
    """A ConfigError, when the client is built, for a model FocusLLM cannot wrap (its config.json says)."""
    if (config := model_config(model)) is None:
        return  # no readable config: loading the model will say what is wrong
    model_type = config.get("model_type")
    if model_type not in MODEL_TYPES:
        raise ConfigError(f"decoding='focusllm' needs a Llama-family model (model_type {', '.join(MODEL_TYPES)}); "
                          f"{model!r} is model_type={model_type!r}: use decoding='greedy' for it")
    if model_type != "llama":  # transformers' own reading of the window (Mistral's is on unless set to null)
        from transformers import AutoConfig

        try:
            windowed = has_sliding_window(AutoConfig.from_pretrained(model))
        except Exception as exc:  # noqa: BLE001 -- transformers' checks of its fields raise errors of many kinds
            raise ConfigError(f"{model!r}'s config.json is not one transformers reads ({type(exc).__name__}: {exc}); "
                              "fix or replace it") from exc
        if windowed:
            raise ConfigError(f"decoding='focusllm' keeps the chunks' candidates at the start of the cache, which the "
                              f"sliding-window attention of {model!r} drops (its config.json's sliding_window); use "
                              "a model without one, or decoding='greedy'")
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    rope_type = rope.get("rope_type", rope.get("type", "default")) if isinstance(rope, dict) else "default"
    if rope_type in UNSUPPORTED_ROPE:
        raise ConfigError(f"decoding='focusllm' re-positions keys by a fixed rotation, which rope_type={rope_type!r} "
                          f"of {model!r} is not; use a model with a fixed RoPE, or decoding='greedy'")


def _safetensors_header(path: Path) -> tuple[Any, int]:
    """A safetensors file's header (its JSON, read without torch; ``{}`` where its stated size is none a header
    has) and where the tensors' data begins."""
    with path.open("rb") as file:
        size = int.from_bytes(file.read(8), "little")
        return (json.loads(file.read(size)) if 0 < size < 100_000_000 else {}), 8 + size


class CutShort(ConfigError):
    """A file of FocusLLM weights whose tensors are not whole (a copy or a save cut short): training may replace it."""


def _metadata(path: Path) -> tuple[dict[str, Any], str | None, tuple[int, int]]:
    """The chunking config of a safetensors file of FocusLLM weights, its base model's fingerprint (None in a file
    from before it was stored) and its size with the size its header says it has, the header read without torch;
    or a ConfigError saying what the file is not."""
    try:
        header, start = _safetensors_header(path)
        chunking = json.loads(header["__metadata__"]["focus_config"])
        end = start + max(entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__")
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        chunking = None
    if not isinstance(chunking, dict) or not any(".focus." in name for name in header):
        raise ConfigError(f"focus_weights={str(path)!r} is not a file of FocusLLM weights (a safetensors file "
                          "written by `sotkit engines focus train` or FocusLLM.save_focus_weights)")
    trained_for = header["__metadata__"].get("base_model")
    return chunking, trained_for if isinstance(trained_for, str) else None, (path.stat().st_size, end)


ENGINE = Focus
