"""The seam between the SDK and the engines: what an engine is, and the requests it is handed.

An engine is a way to decode an in-process model (greedy, lexical units, FocusLLM, ...). It subclasses
``Engine``, declares its ``name``, its options (keyword-only ``__init__`` parameters, checked when a ``local:``
client is built), whether it ``batches``, and streams each request's text through ``streaming.TextStream``.
``registry.register`` makes it answer ``local:`` models built with ``decoding=<name>``.

Requests are the SDK's ``ChatRequest`` objects, seen here only through the ``GenerationRequest`` shape below, so
that nothing in ``engines/`` imports the SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

from .streaming import Completion


class Prompt(Protocol):
    """A rendered chat prompt: system text, user text and an assistant prefill the model continues."""

    @property
    def user(self) -> str: ...
    @property
    def system(self) -> str | None: ...
    @property
    def prefill(self) -> str | None: ...


class GenerationRequest(Protocol):
    """One generation: the prompt, its token budget, stop strings, an optional long context (for engines that
    ``read_context``) and a line limit (a skeleton's points need no more than their titles; only the greedy engine
    applies it)."""

    @property
    def prompt(self) -> Prompt: ...
    @property
    def max_tokens(self) -> int: ...
    @property
    def stop(self) -> Sequence[str]: ...
    @property
    def context(self) -> str | None: ...
    @property
    def max_line_tokens(self) -> int | None: ...


OnText = Callable[[int, str], None]
"""Receives ``(row, text)``: a request's next piece of final text; an empty one where the tokens of a step are all held
back (``TextStream`` sends it), which keeps a stall timer from taking a held-back repeat for a stall."""
OnDone = Callable[[int, Completion], None]
"""Receives ``(row, completion)`` the moment a request's generation ends."""


class Engine:
    """A decoding engine for in-process models; one instance per ``local:`` client.

    A subclass takes the model name and its own options as keyword-only parameters (an unknown option is a
    ``ConfigError`` naming them) and checks them in ``__init__``: a bad option fails when the client is built,
    not mid-request. ``load`` runs in a worker thread at the first call; ``generate`` runs there too and must
    return soon after ``should_stop()`` turns true.
    """

    #: the value of ``decoding=`` that selects this engine
    name: ClassVar[str]
    #: answers several requests as one batch (a SoT client then expands every point in one generation)
    batches: ClassVar[bool] = False
    #: reads ``GenerationRequest.context`` itself; otherwise the SDK puts the context in the prompt
    reads_context: ClassVar[bool] = False
    #: ``sotkit engines <command> ...`` runs ``main(argv)`` of the module ``cli_module`` (training, benchmarks)
    command: ClassVar[str | None] = None
    cli_module: ClassVar[str | None] = None

    def __init__(self, model: str) -> None:
        from .models import check_available

        check_available(model)  # a missing package or directory is reported now, not mid-request
        self.model = model

    def load(self, device: str, dtype: Any) -> Any:
        """What ``generate`` runs on, by default ``(model, tokenizer)``: called in a worker thread at a client's first
        call and kept by that client (the default's weights are also cached per process, for every client)."""
        from .models import load_model

        return load_model(self.model, device=device, dtype=dtype)

    def generate(self, loaded: Any, requests: Sequence[GenerationRequest], on_text: OnText, on_done: OnDone,
                 should_stop: Callable[[], bool]) -> None:
        """Answer every request, calling ``on_done`` once per row; several requests in one call are the points of
        one answer. Engines that batch override this; the others answer one request at a time through
        ``generate_one``."""
        for row, request in enumerate(requests):
            if should_stop():
                return
            on_done(row, self.generate_one(loaded, request, lambda text, row=row: on_text(row, text), should_stop))

    def generate_one(self, loaded: Any, request: GenerationRequest, on_text: Callable[[str], None],
                     should_stop: Callable[[], bool]) -> Completion:
        """Answer one request, streaming its text to ``on_text`` (through a ``TextStream``)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither generate nor generate_one")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r})"
