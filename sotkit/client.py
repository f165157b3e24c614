"""The public client: ``SoT`` and the module-level ``generate`` / ``stream``."""

from __future__ import annotations

import dataclasses
import functools
import os
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, Self, Unpack

import anyio

from .coordinator import Answer, CompleteKwargs, RequestKwargs, RequestOptions
from .runner import Backend
from .errors import ConfigError, sole
from .events import DoneEvent, Event
from .limits import Limits, ModelLimits
from .limits_redis import RedisConnection, RedisLimits, SharedModelLimits
from .per_loop import current_loop
from .options import check_names, check_number, check_question, check_type, shown_value, shows_anything
from .pricing import Prices
from .providers import available, create_provider, owners, provider_class, split_model
from .providers.base import Provider
from .redact import shown, shown_url
from .result import Result
from .router import Router, make_router
from .retry import RetryPolicy
from .templates import SAMPLE_VARIABLES, Templates, TemplateSource

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

REQUEST_FIELDS = frozenset(f.name for f in dataclasses.fields(RequestOptions))
NOT_COMPLETES = frozenset(("mode", "context"))  # the request options complete() takes not: it sends its template
#: the client's own options, besides the request options and the provider's
CLIENT_OPTIONS = frozenset({"model", "fallback", "router", "router_threshold", "max_concurrency", "rpm", "tpm",
                            "limits", "prices", "templates", "timeout", "retry"}) | REQUEST_FIELDS


def default_model() -> str:
    """``SOTKIT_MODEL``, else OpenAI or Anthropic when their key is set, else the embedded local model. A malformed
    ``SOTKIT_MODEL`` (or one of an unknown provider) is a ConfigError that names the variable: no model was typed;
    so is a base URL set in the environment with no key (a keyless server of one's own, whose model it cannot
    name), which the embedded model would answer in its place."""
    if model := os.environ.get("SOTKIT_MODEL"):
        try:
            split_model(model)
        except ConfigError as exc:
            raise ConfigError(f"$SOTKIT_MODEL={shown(model)}: {exc}") from None
        return model
    if os.environ.get("OPENAI_API_KEY"):
        return "openai:gpt-4o-mini"
    if os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"):  # (a gateway's token)
        return "anthropic:claude-sonnet-4-6"
    for provider, vendor in (("openai", "OpenAI"), ("anthropic", "Anthropic")):  # a keyless server of one's own
        if url := os.environ.get(variable := f"{provider.upper()}_BASE_URL"):  # (vLLM, Ollama): not the embedded model
            raise ConfigError(f"${variable} is set ({shown_url(url)}), but no key and no model: for a server of your "
                              f"own, name the model it serves ({provider}:NAME: --model in the CLI, model= in Python, "
                              f"or $SOTKIT_MODEL); for {vendor}'s own API, set {provider.upper()}_API_KEY; for the "
                              "embedded model, name local:smollm2")
    return "local:smollm2"


class SoT:
    """A reusable Skeleton-of-Thought client. Its limits are shared by every request made through it.

    >>> async with sotkit.SoT("openai:gpt-4o-mini") as sot:   # doctest: +SKIP
    ...     result = await sot.generate("How can I sleep better?")

    ``model`` and ``fallback`` are ``provider:model`` strings (or ``Provider`` objects). ``base_url``,
    ``api_key``, ``client``, ``timeout`` and any other keyword not listed here configure the main model's
    provider (for ``local:`` models ``device``, ``dtype``, ``decoding`` and the engine's own options, such as
    ``alpha`` or ``focus_weights``: see ``sotkit.engines.registry``). Per-request settings (``mode``,
    ``max_points``, ``deadline``, ``on_point_error``, ...; see ``RequestOptions``) are defaults here and
    can be overridden on each call.

    ``router`` chooses how ``mode="auto"`` decides (see ``sotkit.router.make_router``): the default guards
    against code, computation, puzzles, one-piece writing and the like, then sends a question to SoT only when
    its calibrated P(sot) reaches ``router_threshold`` (0.65 unless given; higher is more precise, lower sends
    more questions to SoT). ``router="embedding:router.json"`` uses a router trained with ``sotkit router train``.

    ``max_concurrency``, ``rpm`` and ``tpm`` limit each model (the fallback gets ``max_concurrency`` only) over
    this client's requests, from every thread: share one client to share the limits (two clients, or one-off
    ``sotkit.generate`` calls, each keep their own). ``limits="redis://host:6379/0"`` (or a ``RedisLimits``) shares
    them with every client and process naming that Redis (see ``sotkit.limits_redis``). ``prices={"provider:model": (input, output)}``, in USD per million
    tokens, prices a model for ``result.usage.cost`` in place of the ``genai-prices`` library's price.
    """

    def __init__(self, model: str | Provider | None = None, *, fallback: str | Provider | None = None,
                 router: str | Router | None = None, router_threshold: float | None = None,
                 max_concurrency: int = 16, rpm: float | None = None,
                 tpm: float | None = None, limits: str | RedisLimits | None = None,
                 prices: Mapping[str, tuple[float, float]] | None = None, templates: TemplateSource = None,
                 timeout: float | None = 60.0, retry: RetryPolicy | int | None = None, **options: Any) -> None:
        request_options = {k: options.pop(k) for k in list(options) if k in REQUEST_FIELDS}
        if retry is not None:
            request_options["retry"] = retry
        check_number("max_concurrency", max_concurrency, above=None, at_least=1, whole=True, optional=False)
        check_number("rpm", rpm)
        check_number("tpm", tpm)
        check_number("timeout", timeout)
        self.prices = Prices(prices)
        if limits is not None and not isinstance(limits, RedisLimits):
            limits = RedisLimits(limits)
        self._shared: RedisConnection | None = limits.connect() if limits is not None else None
        self._owned: list[Provider] = []
        self._closed = False
        self._tpm = tpm
        self._answers: weakref.WeakSet[Answer] = weakref.WeakSet()  # to stop those still running at aclose()
        name = default_model() if model is None else model
        try:
            main = self._provider(name, {"timeout": timeout, **options})
        except ConfigError as exc:  # such as a key missing for it: the model came from the variable
            if model is None and os.environ.get("SOTKIT_MODEL"):
                raise ConfigError(f"$SOTKIT_MODEL={shown(os.environ['SOTKIT_MODEL'])}: {exc}") from exc
            if model is None:  # a deployment's unset variable, say: the error is about a model nobody named
                assert isinstance(name, str)  # (default_model()'s)
                why = ("$OPENAI_API_KEY is set" if name.startswith("openai:") else "$ANTHROPIC_API_KEY is set"
                       if name.startswith("anthropic:") else "none of $SOTKIT_MODEL, $OPENAI_API_KEY, "
                       "$ANTHROPIC_API_KEY is set")
                # the error first: a misspelt option or a key's stray newline is fixed there, not by another model
                raise ConfigError(f"{exc} (no model was given, so the default {name} was used: {why}; to use another, "
                                  "pass model='provider:model' or set $SOTKIT_MODEL)") from exc
            if isinstance(fallback, str) and isinstance(name, str) and (meant := _for_the_fallback(fallback, name,
                                                                                                   options)):
                raise ConfigError(f"{exc}; {meant}") from exc
            raise
        self.backends = [Backend(main, _templates(main, templates), self._limits(main, max_concurrency, rpm, tpm))]
        if isinstance(fallback, str) and isinstance(name, str) and fallback in (name, main.model) and not options:
            raise ConfigError(f"fallback={fallback!r} is the main model itself, configured the same way: its calls "
                              "would only be tried again on it, past its max_concurrency (a fallback has limits of "
                              "its own); raise retry= to try it more, or name another model")
        if fallback is not None:
            try:
                backup = self._provider(fallback, {"timeout": timeout})
            except ConfigError as exc:  # its own kind (a local folder's ModelNotAvailableError, say), said whose
                local = isinstance(fallback, str) and fallback.startswith("local:")
                configured = "" if local else f". {FALLBACK_OPTIONS}"
                exc.args = (f"fallback={shown(fallback)}: {exc}{configured}",)  # (not of a folder's problem)
                raise
            backup_limits = self._limits(backup, max_concurrency)
            first_text_s = timeout if main.in_process and not backup.in_process else None
            self.backends.append(Backend(backup, _templates(backup, templates), backup_limits,
                                         first_text_s=first_text_s))
        # a client= the user gave keeps its own read timeout, which would end the wait for a first text first (the SDK
        # clients sotkit makes read without one: ``network_timeout``)
        users_client = options.get("client")
        self._client_read_timeout = None if users_client is None or main.in_process else _read_timeout(users_client)
        waits = [seconds for seconds in (self._client_read_timeout, timeout) if seconds is not None]
        if waits and "first_token_timeout" not in main.request_defaults:  # the wait for a first text too
            request_options.setdefault("first_token_timeout", min(waits))
        self.options = RequestOptions(**{**main.request_defaults, **request_options})
        self.prices.check_models([backend.model for backend in self.backends])
        self._router = make_router(router, provider=main, templates=self.backends[0].templates,
                                   threshold=router_threshold)
        self._checked(self.options)

    @property
    def model(self) -> str:
        return self.backends[0].model

    def _checked(self, options: RequestOptions) -> RequestOptions:
        """``options``, refused where a backend cannot honour them (checked when they are given)."""
        asked = (options.max_tokens, options.skeleton_max_tokens, options.point_max_tokens)
        budget = max(map(self.backends[0].provider.sent_max_tokens, asked))
        if self._tpm is not None and budget > self._tpm:  # the API would refuse such a call as too large, too
            thinking = budget > max(asked)
            raise ConfigError(f"tpm={self._tpm:g} is less than a call's max_tokens (up to {budget} here"
                              f"{' with the thinking budget in extra_body' if thinking else ''}), while a call is "
                              "charged its prompt plus its max_tokens: one call would spend more than a minute's "
                              "budget; raise tpm to your provider's limit, or lower max_tokens, skeleton_max_tokens "
                              f"and point_max_tokens{' or the thinking budget' if thinking else ''}")
        first, limit = options.first_token_timeout, self._client_read_timeout
        if first is not None and limit is not None and first > limit:
            raise ConfigError(f"first_token_timeout={first:g} is more than {limit:g} s, the read timeout of the "
                              "client= you gave, which would end the call first; raise the client's "
                              "(client.with_options(timeout=...)) to at least first_token_timeout")
        for backend in self.backends:
            provider = backend.provider
            if options.temperature is not None and options.temperature > provider.max_temperature:
                raise ConfigError(f"temperature={options.temperature} is above {provider.max_temperature}, the most "
                                  f"{backend.model} takes; use 0 to {provider.max_temperature}")
            if options.context is not None:
                ignored = [name for name in ("skeleton", "expand", "sequential")
                           if not provider.supports_context and not backend.templates.uses(name, "context")]
                if ignored:
                    raise ConfigError(f"context= was given but the template(s) {', '.join(ignored)} never use "
                                      "{{ context }}, so it would be dropped; add it to those templates")
        return options

    def _limits(self, provider: Provider, max_concurrency: int, rpm: float | None = None,
                tpm: float | None = None) -> Limits:
        if self._shared is None:
            return ModelLimits(max_concurrency, rpm, tpm)
        return SharedModelLimits(self._shared, provider.model, max_concurrency, rpm, tpm)

    def _provider(self, model: str | Provider, options: dict[str, Any]) -> Provider:
        if isinstance(model, Provider):
            if not isinstance(getattr(model, "model", None), str) or not model.model:
                raise ConfigError(f"{type(model).__name__} has no model name: a Provider sets self.model, a "
                                  "'provider:model' string, in its __init__ (it names the model in results and errors)")
            check_names([k for k, v in options.items() if v is not None and k != "timeout"], [],
                        f"a Provider object ({model!r} is configured already)")
            return model
        if not isinstance(model, str):
            raise ConfigError(f"model must be a 'provider:model' string or a Provider, got {type(model).__name__}")
        if model.startswith("local:"):
            options.pop("timeout", None)  # in-process generation has no network timeout
        provider = create_provider(model, also=CLIENT_OPTIONS,
                                   **{k: v for k, v in options.items() if v is not None})
        self._owned.append(provider)
        return provider

    async def generate(self, question: str, **options: Unpack[RequestKwargs]) -> Result:
        """Answer one question; options override the client's request settings for this call."""
        return await self._answer(question, options).run()

    async def complete(self, template: str, variables: Mapping[str, Any],
                       **options: Unpack[CompleteKwargs]) -> Result:
        """Send one of this client's templates, rendered with ``variables``, as a single plain call: the same
        limits, retries, fallback and accounting as an answer, with no router and no skeleton. For prompts that
        are not a question to answer, such as ``sotkit eval``'s judges::

            verdict = await judge.complete("judge_pairwise", {"question": q, "answer_a": a, "answer_b": b})

        ``variables`` are the template's (``question`` always; the judges' are ``answer_a``, ``answer_b``, and for
        ``judge_aspect`` also ``aspect`` and ``criterion``); options are per-request settings (``max_tokens``, ...).
        """
        if not isinstance(template, str) or template not in SAMPLE_VARIABLES:
            raise ConfigError(f"unknown template {template!r}; templates are: {', '.join(SAMPLE_VARIABLES)}")
        for fixed in NOT_COMPLETES:
            if fixed in options:
                raise ConfigError(f"complete() takes no {fixed}=: it sends the template as it renders")
        if not isinstance(variables, Mapping):
            raise ConfigError(f"complete({template!r}, variables): variables must be a dict, "
                              f"not {type(variables).__name__}")
        needed = [name for name, sample in SAMPLE_VARIABLES[template].items() if sample is not None]
        if missing := [name for name in needed if name not in variables]:
            raise ConfigError(f"complete({template!r}, ...) needs the variables {', '.join(needed)}; "
                              f"missing: {', '.join(missing)}")
        # a blank context is none, as a request's context= (review 287), for any template (review 350)
        context = variables.get("context", "no context key")
        if context is None or isinstance(context, str) and not shows_anything(context):
            variables = {name: value for name, value in variables.items() if name != "context"}
        # a misspelt one (contxt=) would be dropped without a word: no template reads a variable not listed here
        known = SAMPLE_VARIABLES[template]
        if options_given := [name for name in variables if name in REQUEST_FIELDS and name not in known]:
            if options_given[0] in NOT_COMPLETES:  # (review 349: the advice sent it back here)
                raise ConfigError(f"complete({template!r}, ...) takes no {options_given[0]!r}: the {template!r} "
                                  f"template gets {', '.join(known)}")
            raise ConfigError(f"{options_given[0]!r} is no variable of a template but an option of the request: "
                              f"complete({template!r}, variables, {options_given[0]}=...)")
        check_names(map(str, variables), known, f"complete({template!r}, ...)", what="variable")
        variables = dict(variables)
        question = variables.pop("question")
        if not isinstance(question, str):
            raise ConfigError(f"complete({template!r}, ...) needs variables['question'] (a string)")
        for name, value in variables.items():  # as generate() checks context= (bytes went as their repr, a Path as
            sample = known[name]  # its name), each of the sample's kind (expand's points: a list of dicts)
            kind = (str, type(None)) if sample is None else type(sample)
            wanted = "a str or None" if sample is None else f"a {type(sample).__name__}" + (
                "" if isinstance(sample, str) else f" such as {sample!r}")
            check_type(f"complete({template!r}, ...): variables[{name!r}]", value, kind, wanted)
            if not _shaped(value, sample):  # (probe 260: titles alone went as "<built-in method title of str ...>")
                raise ConfigError(f"complete({template!r}, ...): variables[{name!r}] is {shown_value(value)}; give "
                                  f"{wanted}")
        if "context" in variables and (ignored := [b.model for b in self.backends if not b.provider.supports_context
                                                   and not b.templates.uses(template, "context")]):
            # as generate() refuses it (review 348: the prompt went without it)
            raise ConfigError(f"complete({template!r}, ...): variables['context'] was given but the {template!r} "
                              f"template of {ignored[0]} never uses {{{{ context }}}}, so it would be dropped; add it "
                              "to that template")
        return await self._answer(question, options, template=template, variables=variables).run()

    def stream(self, question: str, **options: Unpack[RequestKwargs]) -> EventStream:
        """Answer one question as a stream of events, read inside ``async with`` (see ``EventStream``)."""
        return EventStream(self._answer(question, options), client_closed=lambda: self._closed)

    def _answer(self, question: str, options: Mapping[str, Any], *, template: str | None = None,
                variables: Mapping[str, Any] | None = None) -> Answer:
        if self._closed:
            raise ConfigError(_CLIENT_CLOSED)
        question = check_question(question)
        # the options of the main model, where built here (from a string), are read only where a name is no request's
        # (a fallback named by a string takes none: SoT(...) would refuse them)
        if not_requests := set(options) - REQUEST_FIELDS:
            main = self.backends[0].provider
            configures = CLIENT_OPTIONS | (type(main).option_names() if main in self._owned else set())
            if client_only := sorted(not_requests & configures):
                raise ConfigError(f"{', '.join(f'{name}=' for name in client_only)} configures the client, not "
                                  "one request: pass it to sotkit.SoT(...), and share that client (sotkit.generate "
                                  "and sotkit.stream take it too, but each builds a client of its own for its one "
                                  "request, so limits such as rpm= then hold for that request alone)")
        check_names(options, REQUEST_FIELDS if template is None else REQUEST_FIELDS - NOT_COMPLETES,
                    "a request (per-request options)", owners=owners(not_requests, self.model.partition(":")[0]))
        if template is not None:  # complete()'s one call, of its variables alone (not the client's context)
            options = {**options, "mode": "sequential", "context": None}
        if "retry" in options and options["retry"] is None:  # as in SoT(retry=None): the client's policy
            options = {name: value for name, value in options.items() if name != "retry"}
        opts = self._checked(dataclasses.replace(self.options, **options)) if options else self.options
        answer = Answer(question, self.backends, opts, self._router, template=template, variables=variables,
                        prices=self.prices)
        self._answers.add(answer)
        return answer

    async def aclose(self) -> None:
        """Stop the requests still running on this client in this event loop (each raises ``PartialResultError``
        with what it wrote), then close the providers' SDK clients this client created for this loop; never ones
        passed in. The client is closed then, for every loop: a later request in any thread is a ``ConfigError``.
        Requests running in other threads' event loops go on, on SDK clients of their own, which close with their
        loop (a loop closed by hand without ``shutdown_asyncgens()`` would leave its connections open): a client
        shared by threads that each run a loop per request is closed once, when the app is done with it, not at
        each request's end."""
        self._closed = True
        for answer in list(self._answers):
            await answer.stop()
        for provider in self._owned:  # kept: another loop's aclose() closes that loop's clients
            await provider.aclose()
        if self._shared is not None:
            await self._shared.aclose()

    async def __aenter__(self) -> Self:
        if self._closed:
            raise ConfigError(_CLIENT_CLOSED)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"SoT(model={self.model!r}, fallback={self.backends[1].model if len(self.backends) > 1 else None!r})"

    def __reduce__(self) -> NoReturn:
        # pickle and copy failed deep inside ("Can't pickle local object 'sdk_clients.<locals>.build'")
        raise TypeError("a sotkit.SoT client holds connections, limits and the event loop it runs in, so it is not "
                        "pickled or copied: build one in each process (a task queue's worker, a process pool's "
                        "initializer) and share it there")


class EventStream:
    """The events of one request. ``async with sot.stream(q) as events: async for event in events: ...``

    Leaving the ``async with`` block early cancels every call in flight and closes its connection. ``aclose()``
    cancels them from any task (a disconnect handler, a "stop" button): the reader's loop then gets the text written
    so far that it has not had yet (a point that finished behind a slower one), so that its text events still join to
    ``result().text``, and ends without an error; the block's end waits for the calls to stop. Iterating without
    ``async with`` is refused (a ``ConfigError`` before any call): a loop left with ``break`` would leave the calls
    running, as nothing would close them. Any task may read the next event
    (``asyncio.wait_for(events.__anext__(), t)`` reads in a task of its own): the request starts as the block is
    entered and runs in a task group that the block holds, not in the reader (its events wait for a reader). Each
    event goes to one read; once one read has had the end, any further read is a ``ConfigError`` (a stream is one
    request), so tasks that share a stream should share its end too.
    """

    def __init__(self, answer: Answer, *, client_closed: Callable[[], bool] = lambda: False) -> None:
        self._answer = answer
        self._on_close: Callable[[], Awaitable[None]] | None = None  # sotkit.stream()'s one-off client's aclose
        self._client_closed = client_closed
        self._tasks: TaskGroup | None = None  # entered and left where the ``async with`` block starts and ends
        self._request: anyio.CancelScope | None = None  # the request's own: stopping it never cancels the block's
        # The events wait here for the reader; a read waits on ``_arrived``, so a read cancelled by the reader's
        # own timeout loses nothing (a memory stream can hand an item to a reader that is then cancelled).
        self._events: deque[Event] = deque()
        self._arrived: anyio.Event | None = None
        self._stopped = False  # the request ended, or aclose() stopped it
        self._error: Exception | None = None  # the request's failure, raised after the events before it
        self._halted = False  # aclose() ended the running request: its error is the reader's own doing
        self._entered = self._closed = False  # ``_closed``: the end was reported, or the block left
        self._loop: Any = None  # the event loop that entered the block, where the request runs

    def __aiter__(self) -> EventStream:
        return self

    def __iter__(self) -> NoReturn:
        raise ConfigError(_ASYNC_ONLY)

    def __enter__(self) -> NoReturn:
        raise ConfigError(_ASYNC_ONLY)

    def __exit__(self, *_: object) -> None:  # without it, `with` fails before __enter__, with Python's own TypeError
        """Never reached: ``__enter__`` refuses a plain ``with``."""

    async def __anext__(self) -> Event:
        if not self._entered:
            raise ConfigError("read a stream inside `async with`: `async with sotkit.stream(q) as events: "
                              "async for event in events: ...` (leaving the block closes every call)")
        self._in_its_loop()
        if self._closed:
            raise ConfigError(_STREAM_CLOSED)
        while not self._events:
            if self._stopped:  # the request ended (or aclose() stopped it) and every event was read
                self._closed = True
                error, self._error = self._error, None
                if error is not None:
                    raise error
                raise StopAsyncIteration
            if self._arrived is None or self._arrived.is_set():  # one event for every task waiting to read
                self._arrived = anyio.Event()
            await self._arrived.wait()
        return self._events.popleft()

    def _in_its_loop(self) -> None:
        """Refuse a read or an ``aclose()`` from another event loop (another thread's): the request's loop could not
        wake it, and it would wait for ever (probe 319: even under ``asyncio.wait_for``)."""
        if self._loop is not None and current_loop() is not self._loop:
            raise ConfigError("this stream is read in another event loop than the one that entered it (another "
                              "thread's?): read it and aclose() it in that loop; from another thread, hand the call "
                              "to it: anyio.from_thread.run(events.aclose, token=...), "
                              "asyncio.run_coroutine_threadsafe(...)")

    def _deliver(self, event: Event) -> None:
        self._events.append(event)
        if self._arrived is not None:
            self._arrived.set()

    async def _produce(self) -> None:
        assert self._request is not None
        with self._request:
            try:
                if self._client_closed():  # since the block was entered: aclose() found no request running yet
                    raise ConfigError(_CLIENT_CLOSED)
                self._deliver(DoneEvent(await self._answer.run(self._deliver)))
            except Exception as exc:  # re-raised to the reader, after the events before it
                self._error = None if self._halted else exc
            finally:
                self._stop()

    def _stop(self, drop: bool = False) -> None:
        self._stopped = True
        if self._request is not None:
            self._request.cancel()
        if drop:  # stopped by the caller: no more events for the reader
            self._events.clear()
        if self._arrived is not None:
            self._arrived.set()

    def result(self) -> Result:
        """The answer as it stands: whole after the ``done`` event, what was written so far before it (to keep
        when the reader stops early, as ``sotkit ask`` does on Ctrl-C), marked ``truncated`` until the request
        ends."""
        return self._answer.result()

    async def aclose(self) -> None:
        """Stop the request: cancel its calls in flight, from any task of its event loop (from another thread, hand
        it to that loop: ``anyio.from_thread.run(events.aclose, token=...)``, ``asyncio.run_coroutine_threadsafe``).
        The reader's loop gets what was written and not yet read, then ends. The ``async with`` block's end waits for
        the calls to stop."""
        self._in_its_loop()
        if self._stopped:  # over: its events wait for the reader as they are, the end last
            return
        if self._answer.halt():  # it settles what it wrote, as events, and ends
            self._halted = True
        else:  # its task not yet running (the block was only just entered): nothing to read
            self._stop(drop=True)

    async def __aenter__(self) -> Self:
        if self._closed or self._entered:
            raise ConfigError(_STREAM_CLOSED if self._closed else "this stream is open already: enter a stream once")
        if self._client_closed():
            raise ConfigError(_CLIENT_CLOSED)
        self._entered, self._loop = True, current_loop()
        self._request = anyio.CancelScope()  # made here: a scope needs the running event loop
        self._tasks = anyio.create_task_group()
        await self._tasks.__aenter__()
        self._tasks.start_soon(self._produce)  # with the block, as the SDKs' streams start, not at the first read
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closed = True
        self._stop()
        if self._tasks is None:
            return
        tasks, self._tasks = self._tasks, None
        try:
            await tasks.__aexit__(None, None, None)  # the block's own error, if any, goes on as it is
        except BaseExceptionGroup as group:  # the request's task raised it (trio's Ctrl-C): plain, as generate's
            error = sole(group)
            raise error from error.__cause__
        finally:
            if self._on_close is not None:
                on_close, self._on_close = self._on_close, None
                await on_close()


def _for_the_fallback(fallback: str, main: str, options: Mapping[str, Any]) -> str | None:
    """Where the options the main model refused are the string fallback's kind's (``device=`` beside a local
    fallback of an API model), how to give them to it; else None."""
    prefix, main_prefix = fallback.partition(":")[0], main.partition(":")[0]
    if main_prefix not in available():  # the model string itself was refused
        return None
    refused = set(options) - provider_class(main_prefix).option_names() - set(CLIENT_OPTIONS)
    theirs = [option for option, whose in owners(refused, main_prefix).items() if f"{prefix}:" in whose]
    if not theirs:
        return None
    given = ", ".join(f"{option}=..." for option in sorted(theirs))
    return (f"a fallback named by a string gets none of the client's options: to give them to {fallback!r}, pass "
            f"fallback=sotkit.providers.create_provider({fallback!r}, {given})")


#: how a fallback named by a string is configured (the CLI says it in its own words)
FALLBACK_OPTIONS = ("A fallback named by a string gets none of the main model's options (api_key=, base_url=, ...); "
                    "to configure it, pass a Provider: fallback=sotkit.providers.create_provider('provider:model', "
                    "api_key=..., base_url=...)")
_CLIENT_CLOSED = ("this SoT client is closed (aclose() was called, or its `async with` block ended); make a new "
                  "sotkit.SoT(...) for more requests")
_ASYNC_ONLY = ("a stream is read asynchronously, inside an async function: `async with sotkit.stream(q) as events: "
               "async for event in events: ...` (from sync code, run that function with asyncio.run; in a "
               "notebook, whose event loop runs already, write `async with` and `await` in the cell itself)")
_STREAM_CLOSED = ("this stream was read to its end or closed (a stream is one request): call sot.stream(...) "
                  "again for another")


def _read_timeout(client: Any) -> float | None:
    """The seconds a user's SDK client waits for the network to send more (an ``httpx.Timeout``'s read, the
    SDKs' default 600), which ends a call that waits for its first text longer."""
    timeout = getattr(client, "timeout", None)
    timeout = getattr(timeout, "read", timeout)
    return float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) else None


def _templates(provider: Provider, overrides: TemplateSource) -> Templates:
    local = provider.model.startswith("local:")
    templates = _default_templates(local) if overrides is None else Templates(overrides, local=local)
    templates.check_stop_limit(provider)  # the API would refuse each call that carries more
    return templates


@functools.cache
def _default_templates(local: bool) -> Templates:
    """The default prompts, compiled once per process (25 ms each time a client is made otherwise)."""
    return Templates(None, local=local)


def _split(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    request = {k: v for k, v in options.items() if k in REQUEST_FIELDS}
    client = {k: v for k, v in options.items() if k not in REQUEST_FIELDS}
    return client, request


async def generate(question: str, *, model: str | Provider | None = None, **options: Any) -> Result:
    """Answer ``question`` with a one-off ``SoT`` client; see ``SoT`` for the options."""
    client_options, request_options = _split(options)
    async with SoT(model, **client_options) as sot:
        return await sot.generate(question, **request_options)


def stream(question: str, *, model: str | Provider | None = None, **options: Any) -> EventStream:
    """Stream the answer to ``question`` with a one-off ``SoT`` client, closed when the stream is."""
    client_options, request_options = _split(options)
    sot = SoT(model, **client_options)
    events = sot.stream(question, **request_options)
    events._on_close = sot.aclose
    return events


def _shaped(value: object, sample: object) -> bool:
    """Is ``value`` of ``sample``'s shape: a dict with its keys (others too), each of its value's type (no bool for
    an int), a list of its first item's shape?"""
    if isinstance(sample, dict):
        return isinstance(value, Mapping) and sample.keys() <= value.keys() and all(
            isinstance(value[k], type(v)) and not isinstance(value[k], bool) for k, v in sample.items())
    if isinstance(sample, list):
        return isinstance(value, list) and all(_shaped(item, sample[0]) for item in value)
    return True
