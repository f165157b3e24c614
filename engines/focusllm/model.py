"""FocusLLM on a frozen Llama-family Hugging Face model (Li et al., arXiv 2408.11745).

A prompt is split into *memory* (everything but its last ``local_window`` tokens) and the *local context*.
The memory is cut into chunks of ``chunk_size`` tokens; every chunk gets the last ``fragment_len`` tokens of
the local context appended and all chunks are read as one batch by the frozen model. The last appended token
of each chunk is its *candidate*: only there every attention layer uses the new q/k/v/o projections (a
:class:`SplitLinear`, the only trained parameters). The candidates' key/value states are re-positioned to the
start (chunk ``i``'s candidate at position ``i``) and the main decoder reads the local context after them.

During generation every new token is appended to each chunk's own cache (one batched step), which yields a new
candidate per chunk that replaces the old one in the main decoder's memory slots. The *static* mode skips that
and keeps the prefill candidates. Decoding is greedy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import DynamicCache, PreTrainedModel
from transformers.models.llama.modeling_llama import rotate_half

from ..errors import ConfigError
from ..models import as_ordinary_file, context_length, context_room, has_sliding_window
from ..streaming import Completion, TextStream, eos_token_ids
from .engine import UNSUPPORTED_ROPE as _UNSUPPORTED_ROPE

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")


class Stopped(Exception):
    """``should_stop()`` turned true while the memory was being read (a deadline, a reader gone)."""


@dataclass(frozen=True)
class FocusConfig:
    """How a prompt is cut: chunk length, local window and the local fragment appended to each chunk."""

    chunk_size: int = 512
    local_window: int = 128
    fragment_len: int = 16

    def __post_init__(self) -> None:
        if self.chunk_size < 1 or self.local_window < 1 or self.fragment_len < 1:
            raise ValueError(f"FocusConfig sizes must be positive, got {self}")
        if self.fragment_len > self.local_window:
            raise ValueError(
                f"fragment_len ({self.fragment_len}) must not exceed local_window ({self.local_window}): "
                "the fragment is the tail of the local context"
            )


class _Switch:
    """Shared by all :class:`SplitLinear` layers: True while the forward runs on candidate positions."""

    candidates: bool = False


class SplitLinear(nn.Module):
    """A frozen linear layer with a trainable twin that is used only for candidate positions.

    The model never mixes the two in one forward: candidate columns are always appended to the chunks'
    caches by their own forward (see :meth:`FocusLLM.encode_chunks`), so one switch picks the weights.
    """

    def __init__(self, frozen: nn.Linear, switch: _Switch) -> None:
        super().__init__()
        self.frozen = frozen
        self.focus = nn.Linear(frozen.in_features, frozen.out_features, bias=frozen.bias is not None)
        self.focus.to(device=frozen.weight.device, dtype=frozen.weight.dtype)
        with torch.no_grad():
            self.focus.weight.copy_(frozen.weight)
            if frozen.bias is not None:
                self.focus.bias.copy_(frozen.bias)
        self._switch = switch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.focus(x) if self._switch.candidates else self.frozen(x)


@dataclass
class ChunkBatch:
    """Memory chunks as one left-padded batch: ``ids`` [n, width], ``lengths`` [n] real tokens per row."""

    ids: torch.Tensor
    lengths: torch.Tensor

    @property
    def width(self) -> int:
        return self.ids.shape[1]

    @property
    def key_mask(self) -> torch.Tensor:
        """[n, width] True where a column holds a real token."""
        cols = torch.arange(self.width, device=self.ids.device)
        return cols >= (self.width - self.lengths)[:, None]


@dataclass
class ChunkEncoding:
    """What reading the chunks (plus appended tokens) left behind."""

    cache: DynamicCache  # batch n, every chunk's own key/value states
    key_mask: torch.Tensor  # [n, columns] real (non-pad) columns
    next_position: torch.Tensor  # [n] chunk-local position of the next appended token

    def candidates(self, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, keys and values of the last ``count`` columns: [n, kv_heads, count, head_dim]."""
        return [(layer.keys[:, :, -count:], layer.values[:, :, -count:]) for layer in self.cache.layers]


@dataclass
class FocusState:
    """Generation state: the chunks' caches and the main decoder's cache (memory slots first)."""

    chunks: ChunkEncoding | None
    main: DynamicCache
    n_chunks: int
    next_position: int


def _copy_rows(part: DynamicCache, whole: DynamicCache, start: int, rows: int) -> None:
    """Copy a batch part's key/value states into rows ``start:`` of ``whole`` (allocated on first use with
    ``rows`` rows), layer by layer, freeing the part as it goes."""
    for index, layer in enumerate(part.layers):
        keys, values = layer.keys, layer.values
        if start == 0:
            whole.update(keys.new_empty(rows, *keys.shape[1:]), values.new_empty(rows, *values.shape[1:]), index)
        whole.layers[index].keys[start : start + keys.shape[0]] = keys
        whole.layers[index].values[start : start + values.shape[0]] = values
        layer.keys = layer.values = None


def _additive(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Boolean attention pattern to the additive float mask both eager and SDPA attention accept."""
    mask = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return mask.masked_fill_(~allowed, torch.finfo(dtype).min)


class FocusLLM(nn.Module):
    """A frozen causal LM plus FocusLLM's candidate projections; see the module docstring."""

    #: tokens read per forward when encoding chunks: the chunks go in batches of this many tokens, so the
    #: activations of a long memory never exceed those of a short one, and a batch's cache, held while it is
    #: copied into the whole, stays small: at 8K on the CPU, 1024 gave a peak of 247 MiB against 339 with 4096
    #: (the plain forward: 292), and 2.71x the plain forward's speed against 2.55x (raise it on a GPU)
    encode_batch_tokens: int = 1024

    def __init__(self, base: PreTrainedModel, config: FocusConfig | None = None) -> None:
        super().__init__()
        rope_type = (getattr(base.config, "rope_parameters", None) or {}).get("rope_type", "default")
        if rope_type in _UNSUPPORTED_ROPE:
            raise ValueError(f"FocusLLM cannot re-position keys for rope_type={rope_type!r}; use a fixed RoPE model")
        if has_sliding_window(base.config):  # it wrote the candidates over the local context's keys, silently
            raise ValueError("FocusLLM keeps the chunks' candidates at the start of the cache, which a sliding-window "
                             "attention layer drops once its window is full; use a model without one")
        self.base = base
        self.config = config or FocusConfig()
        self._switch = _Switch()
        base.requires_grad_(False)
        layers = base.get_decoder().layers
        for layer in layers:
            attn = layer.self_attn
            for name in PROJECTIONS:
                if not isinstance(getattr(attn, name), nn.Linear):
                    raise TypeError(f"expected a Llama-family attention with nn.Linear {name}, got {type(attn)}")
                setattr(attn, name, SplitLinear(getattr(attn, name), self._switch))
        self._rotary = base.get_decoder().rotary_emb

    # ----------------------------------------------------------------- parameters, saving, loading
    def focus_parameters(self) -> Iterator[nn.Parameter]:
        """The trainable parameters: the candidate projections of every layer."""
        return (p for name, p in self.named_parameters() if ".focus." in name)

    def focus_state_dict(self) -> dict[str, torch.Tensor]:
        """Only the new parameters, keyed by their name inside the base model."""
        return {
            name.removeprefix("base."): p.detach().contiguous()
            for name, p in self.named_parameters()
            if ".focus." in name
        }

    def save_focus_weights(self, path: str | Path, base: str | None = None) -> Path:
        """Write the new parameters and the chunking config to one small safetensors file, with ``base``, the base
        model's fingerprint (``engine.base_fingerprint``), where given: the engine then refuses another model's."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {"focus_config": json.dumps(asdict(self.config)), **({"base_model": base} if base else {})}
        save_file(self.focus_state_dict(), str(path), metadata=metadata)
        as_ordinary_file(path)
        return path

    def load_focus_weights(self, path: str | Path) -> None:
        """Load weights written by :meth:`save_focus_weights` (the names must match this base model)."""
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            tensors = {key: f.get_tensor(key) for key in f.keys()}
        expected = self.focus_state_dict()
        if set(tensors) != set(expected):
            missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
            raise ValueError(f"{path} does not fit this base model: missing {missing[:3]}, unexpected {extra[:3]}")
        params = dict(self.base.named_parameters())
        if misfit := next((key for key, value in tensors.items() if value.shape != params[key].shape), None):
            raise ValueError(f"{path} does not fit this base model: {misfit} is {tuple(tensors[misfit].shape)} "
                             f"there, {tuple(params[misfit].shape)} here")
        if damaged := next((key for key, value in tensors.items() if not torch.isfinite(value).all()), None):
            raise ValueError(f"{path} is damaged: {damaged} holds values that are not finite (NaN or infinity), "
                             "with which every answer would be special tokens")
        with torch.no_grad():
            for key, value in tensors.items():
                params[key].copy_(value)

    @classmethod
    def from_pretrained(
        cls,
        base_model: PreTrainedModel | str,
        weights_path: str | Path | None = None,
        config: FocusConfig | None = None,
    ) -> FocusLLM:
        """Wrap ``base_model`` (a model or a name for ``sotkit.engines.models.load_model``).

        With ``weights_path`` the trained projections and their chunking config are loaded; ``config``
        overrides the stored config.
        """
        if isinstance(base_model, str):
            from ..models import load_model

            base_model, _ = load_model(base_model)
        if weights_path is not None and config is None:
            config = read_focus_config(weights_path)
        model = cls(base_model, config)
        if weights_path is not None:
            model.load_focus_weights(weights_path)
        return model.eval()

    # ----------------------------------------------------------------- building blocks
    @contextmanager
    def candidate_positions(self) -> Iterator[None]:
        """Within the block, every forward uses the candidate projections."""
        previous, self._switch.candidates = self._switch.candidates, True
        try:
            yield
        finally:
            self._switch.candidates = previous

    def split_prompt(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """1-D prompt -> (memory, local context); the memory is empty when the prompt fits the window."""
        cut = max(0, ids.shape[0] - self.config.local_window)
        return ids[:cut], ids[cut:]

    def chunk_memory(self, memory: torch.Tensor) -> ChunkBatch:
        """Cut a 1-D memory into ``chunk_size`` pieces (the last may be shorter and is left-padded)."""
        if memory.ndim != 1 or memory.numel() == 0:
            raise ValueError("chunk_memory expects a non-empty 1-D tensor of token ids")
        size = self.config.chunk_size
        pieces = list(torch.split(memory, size))
        width = pieces[0].shape[0]
        ids = memory.new_zeros(len(pieces), width)
        for row, piece in enumerate(pieces):
            ids[row, width - piece.shape[0] :] = piece
        lengths = torch.tensor([p.shape[0] for p in pieces], device=memory.device)
        return ChunkBatch(ids, lengths)

    def encode_chunks(self, chunks: ChunkBatch, appended: torch.Tensor, keep_chunks: bool = True,
                      should_stop: Callable[[], bool] | None = None) -> ChunkEncoding:
        """Read every chunk with ``appended`` (1-D) after it, all chunks batched.

        Candidate columns are the last ``len(appended) - fragment_len + 1`` ones: the fragment's last token
        and everything appended after it (tokens generated so far, or a training continuation). The frozen
        prefix runs without autograd, so training back-propagates through the candidate columns only. Without
        ``keep_chunks`` (static candidates need nothing else) each batch of chunks keeps only its candidate
        columns, so the chunks' caches never exist all at once. ``should_stop()``, asked between batches of chunks
        (a long context takes many), ends the reading with ``Stopped``.
        """
        n, width = chunks.ids.shape
        extra = appended.shape[0]
        if extra < self.config.fragment_len:
            raise ValueError(f"appended has {extra} tokens, fewer than fragment_len={self.config.fragment_len}")
        prefix_len = self.config.fragment_len - 1
        ids = torch.cat([chunks.ids, appended[:prefix_len].expand(n, prefix_len)], dim=1)
        key_mask = torch.cat([chunks.key_mask, chunks.key_mask.new_ones(n, prefix_len)], dim=1)
        # Real tokens start at position 0 in every row; pads sit at negative positions nobody attends to.
        positions = torch.arange(ids.shape[1], device=ids.device) - (width - chunks.lengths)[:, None]
        causal = torch.ones(ids.shape[1], ids.shape[1], dtype=torch.bool, device=ids.device).tril()
        allowed = causal & key_mask[:, None, :]
        allowed |= torch.eye(ids.shape[1], dtype=torch.bool, device=ids.device)  # pad rows: no empty softmax
        cache, candidates = DynamicCache(config=self.base.config), appended[prefix_len:]
        count = candidates.shape[0]
        rows = max(1, self.encode_batch_tokens // ids.shape[1])
        kept: list[tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]] = []  # candidate columns, positions
        for start in range(0, n, rows):
            if should_stop is not None and should_stop():
                raise Stopped
            part = slice(start, start + rows)
            part_cache = DynamicCache(config=self.base.config)
            with torch.no_grad():
                self.base.get_decoder()(
                    input_ids=ids[part],
                    attention_mask=_additive(allowed[part, None], self.base.dtype),
                    position_ids=positions[part].clamp(min=0),
                    cache=part_cache,
                    use_cache=True,
                )
            if keep_chunks:
                _copy_rows(part_cache, cache, start, n)
            else:
                encoding = ChunkEncoding(part_cache, key_mask[part], positions[part, -1] + 1)
                self._append_candidates(encoding, candidates)
                # copies of the candidate columns, so that this part's cache is freed right away
                columns = [(k.clone(), v.clone()) for k, v in encoding.candidates(count)]
                kept.append((columns, encoding.next_position))
        if keep_chunks:
            encoding = ChunkEncoding(cache, key_mask, positions[:, -1] + 1)
            self._append_candidates(encoding, candidates)
            return encoding
        for index, layer in enumerate(zip(*(columns for columns, _ in kept))):
            cache.update(torch.cat([k for k, _ in layer]), torch.cat([v for _, v in layer]), index)
        return ChunkEncoding(cache, key_mask.new_ones(n, count), torch.cat([p for _, p in kept]))

    def _append_candidates(self, encoding: ChunkEncoding, tokens: torch.Tensor) -> None:
        """Append 1-D ``tokens`` to every chunk's cache as candidate columns (one batched forward)."""
        n, count = encoding.key_mask.shape[0], tokens.shape[0]
        past = encoding.key_mask
        encoding.key_mask = torch.cat([past, past.new_ones(n, count)], dim=1)
        causal = torch.ones(count, count, dtype=torch.bool, device=past.device).tril()
        allowed = torch.cat([past[:, None, :].expand(n, count, -1), causal.expand(n, count, count)], dim=2)
        with self.candidate_positions():
            self.base.get_decoder()(
                input_ids=tokens.expand(n, count),
                attention_mask=_additive(allowed[:, None], self.base.dtype),
                position_ids=encoding.next_position[:, None] + torch.arange(count, device=past.device),
                cache=encoding.cache,
                use_cache=True,
            )
        encoding.next_position = encoding.next_position + count

    def reposition(self, keys: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Move RoPE-embedded keys [b, heads, t, d] from ``source`` to ``target`` positions ([b, t] each).

        RoPE is a rotation by angle ``position * freq``, so rotating by ``target - source`` is exact.
        """
        delta = (target - source).to(keys.device)
        cos, sin = self._rotary(keys, delta)
        scale = self._rotary.attention_scaling  # already applied once to the stored key
        cos, sin = (cos / scale).unsqueeze(1), (sin / scale).unsqueeze(1)
        return keys * cos + rotate_half(keys) * sin

    def _memory_from(self, encoding: ChunkEncoding, steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Candidates of the last ``steps`` columns, re-positioned to slot ``i`` and laid out step-major.

        Returns per layer keys/values of shape [1, kv_heads, steps * n, head_dim].
        """
        n = encoding.key_mask.shape[0]
        source = encoding.next_position[:, None] - steps + torch.arange(steps, device=encoding.key_mask.device)
        target = torch.arange(n, device=source.device)[:, None].expand(n, steps)
        memory = []
        for keys, values in encoding.candidates(steps):
            keys = self.reposition(keys, source, target)
            # [n, h, steps, d] -> [1, h, steps * n, d] with step s, chunk i at index s * n + i
            memory.append(tuple(t.permute(1, 2, 0, 3).flatten(1, 2).unsqueeze(0) for t in (keys, values)))
        return memory

    def forward_with_memory(
        self,
        memory: torch.Tensor,
        local: torch.Tensor,
        continuation: torch.Tensor | None = None,
        static: bool = False,
        logits_to_keep: int = 0,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[torch.Tensor, FocusState]:
        """Teacher-forced FocusLLM pass: logits [len(local) + len(continuation), vocab] for 1-D inputs.

        Continuation token ``t`` (0-based) sees the candidates the chunks produce once that token has been
        appended to them, exactly as incremental generation would; local tokens see the prefill candidates
        (with ``static``, every token does). This is the training forward and, with no continuation, the
        generation prefill. ``logits_to_keep`` > 0 returns only that many last positions.
        """
        continuation = local.new_zeros(0) if continuation is None else continuation
        steps = 1 if static else continuation.shape[0] + 1
        if local.shape[0] < self.config.fragment_len:
            raise ValueError(f"local context has {local.shape[0]} tokens, fewer than fragment_len")
        chunks = self.chunk_memory(memory)
        n = chunks.ids.shape[0]
        fragment = local[-self.config.fragment_len :]
        encoding = self.encode_chunks(chunks, fragment if static else torch.cat([fragment, continuation]),
                                      keep_chunks=not static, should_stop=should_stop)
        cache = DynamicCache(config=self.base.config)
        for layer_idx, (keys, values) in enumerate(self._memory_from(encoding, steps)):
            cache.update(keys, values, layer_idx)
        queries = torch.cat([local, continuation])
        q_len, slots = queries.shape[0], steps * n
        # Query q uses memory step max(0, q - len(local) + 1); then causal attention over the local tokens.
        step_of_query = (torch.arange(q_len, device=local.device) - local.shape[0] + 1).clamp(0, steps - 1)
        step_of_slot = torch.arange(slots, device=local.device) // n
        causal = torch.ones(q_len, q_len, dtype=torch.bool, device=local.device).tril()
        allowed = torch.cat([step_of_query[:, None] == step_of_slot[None], causal], dim=1)
        out = self.base(
            input_ids=queries[None],
            attention_mask=_additive(allowed[None, None], self.base.dtype),
            position_ids=(n + torch.arange(q_len, device=local.device))[None],
            cache=cache,
            use_cache=True,
            logits_to_keep=logits_to_keep,
        )
        state = FocusState(encoding, cache, n, n + q_len)
        return out.logits[0], state

    # ----------------------------------------------------------------- generation
    @torch.no_grad()
    def prefill(self, prompt_ids: torch.Tensor, memory: torch.Tensor | None = None,
                static: bool = False, should_stop: Callable[[], bool] | None = None) -> tuple[torch.Tensor, FocusState]:
        """Read a prompt; returns the last position's logits [vocab] and the generation state.

        With ``memory`` given, ``prompt_ids`` is the whole local context; otherwise the prompt is split by
        ``local_window``. A prompt that fits the local window runs through the plain base model. A ``static``
        prefill keeps no chunk caches (its steps cannot update candidates) and needs far less memory.
        """
        if memory is None:
            memory, prompt_ids = self.split_prompt(prompt_ids)
        if memory.numel() == 0:
            cache = DynamicCache(config=self.base.config)
            out = self.base(input_ids=prompt_ids[None], cache=cache, use_cache=True, logits_to_keep=1)
            return out.logits[0, -1], FocusState(None, cache, 0, prompt_ids.shape[0])
        logits, state = self.forward_with_memory(memory, prompt_ids, static=static, logits_to_keep=1,
                                                 should_stop=should_stop)
        if static:
            state.chunks = None
        # The main cache holds prefill memory (n slots) first; generation overwrites those slots in place.
        return logits[-1], state

    @torch.no_grad()
    def step(self, state: FocusState, token: int, static: bool = False) -> torch.Tensor:
        """Append one token; updates the candidates (unless ``static``) and returns the next logits [vocab]."""
        device = state.main.layers[0].keys.device
        if state.chunks is not None and not static:
            self._update_candidates(state, token)
        out = self.base(
            input_ids=torch.tensor([[token]], device=device),
            position_ids=torch.tensor([[state.next_position]], device=device),
            cache=state.main,
            use_cache=True,
        )
        state.next_position += 1
        return out.logits[0, -1]

    def _update_candidates(self, state: FocusState, token: int) -> None:
        """Append ``token`` to every chunk (one batched step) and swap the new candidates into memory."""
        n = state.n_chunks
        self._append_candidates(state.chunks, torch.tensor([token], device=state.chunks.key_mask.device))
        for layer, (keys, values) in zip(state.main.layers, self._memory_from(state.chunks, 1)):
            layer.keys[:, :, :n] = keys
            layer.values[:, :, :n] = values

    @torch.no_grad()
    def generate(
        self,
        prompt_ids: Sequence[int] | torch.Tensor,
        max_new_tokens: int,
        *,
        memory: Sequence[int] | torch.Tensor | None = None,
        static: bool = False,
        eos_token_id: int | Sequence[int] | None = None,
        on_token: Callable[[int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[int]:
        """Greedy generation; returns the new token ids (stopping after an EOS id, which is included, or
        as soon as ``should_stop()`` is true after a token, or between batches of memory chunks)."""
        if max_new_tokens < 1:
            raise ConfigError("max_new_tokens must be at least 1")
        device = self.base.device
        prompt = torch.as_tensor(prompt_ids, dtype=torch.long, device=device)
        mem = None if memory is None else torch.as_tensor(memory, dtype=torch.long, device=device)
        if prompt.ndim != 1 or prompt.numel() == 0:
            raise ConfigError("prompt_ids must be a non-empty 1-D sequence of token ids")
        stop = {eos_token_id} if isinstance(eos_token_id, int) else set(eos_token_id or ())
        try:
            logits, state = self.prefill(prompt, mem, static=static, should_stop=should_stop)
        except Stopped:  # stopped while reading the memory: nothing generated
            return []
        tokens: list[int] = []
        while True:
            token = int(logits.argmax())
            tokens.append(token)
            if on_token is not None:
                on_token(token)
            if token in stop or len(tokens) == max_new_tokens or (should_stop is not None and should_stop()):
                return tokens
            logits = self.step(state, token, static=static)


def read_focus_config(path: str | Path) -> FocusConfig:
    """The chunking config stored beside the weights by :meth:`FocusLLM.save_focus_weights`."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if "focus_config" not in meta:
        raise ValueError(f"{path} has no focus_config metadata; was it written by save_focus_weights?")
    return FocusConfig(**json.loads(meta["focus_config"]))


def save_focus_weights(model: FocusLLM, path: str | Path) -> Path:
    """Write only the new parameters of ``model`` (see :meth:`FocusLLM.save_focus_weights`)."""
    return model.save_focus_weights(path)


def focus_generate(*args: Any, **kwargs: Any) -> str:
    """The text of ``focus_completion`` (same arguments)."""
    return focus_completion(*args, **kwargs).text


def focus_completion(
    model: FocusLLM,
    tokenizer,
    context_ids: Sequence[int],
    prompt_ids: Sequence[int],
    max_new_tokens: int,
    on_text: Callable[[str], None] | None = None,
    *,
    stop: Sequence[str] = (),
    should_stop: Callable[[], bool] | None = None,
    asked: str = "",
) -> Completion:
    """Answer ``prompt_ids`` over a long ``context_ids`` (the context goes first): the new text, its token counts
    and why it ended. ``asked``: the user's text (a loop of it at the answer's start may have been asked for:
    ``TextStream``).

    The local window is at least the whole prompt, so the question is never cut into the memory.
    ``on_text`` receives each newly decoded piece of text as it is generated; generation ends at EOS, at the
    first of the ``stop`` strings (not included), at ``max_new_tokens``, where the base model's context is full, or
    when ``should_stop()`` turns true.
    """
    ids = list(context_ids) + list(prompt_ids)
    local_len = max(model.config.local_window, len(prompt_ids))
    memory, local = ids[:-local_len], ids[-local_len:]
    # Positions in use: the main decoder's (a slot per chunk, then the local context) and, with a memory, each
    # chunk's (its tokens, the fragment); both grow by one a token.
    chunks = -(-len(memory) // model.config.chunk_size)
    used = max(chunks + len(local), min(len(memory), model.config.chunk_size) + model.config.fragment_len - 1)
    if (most := context_length(model.base)) is not None and len(local) < most <= chunks + len(local):
        # said in the context's own numbers: "the prompt has 3000 tokens" of a 200,000-token context misleads
        fits = max(0, (most - len(local) - 1) * model.config.chunk_size)
        raise ConfigError(f"FocusLLM reads the context's {len(memory)} tokens as {chunks} chunks of "
                          f"{model.config.chunk_size}, a position each in the model's context of {most} beside the "
                          f"question's last {len(local)} tokens, so no answer fits; shorten the context to at most "
                          f"about {fits} tokens")
    stream = TextStream(tokenizer, stop, on_text, eos_ids=eos_token_ids(model.base, tokenizer),
                        max_tokens=max_new_tokens, context_room=context_room(model.base, used), input_tokens=len(ids),
                        asked=asked)
    model.generate(
        local, stream.max_tokens, memory=memory, eos_token_id=stream.eos_ids, on_token=lambda t: stream.push([t]),
        should_stop=lambda: stream.finish_reason is not None or bool(should_stop and should_stop()),
    )
    return stream.finish("cancelled")
