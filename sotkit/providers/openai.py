"""OpenAI chat completions, and any OpenAI-compatible server (vLLM, SGLang, Ollama, llama.cpp, ...)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import openai

from ..errors import ConfigError
from ._clients import ClientPool, sdk_clients
from ._sse import sse_events
from .base import CallUsage, ChatRequest, Chunk, Provider, StreamError

#: OpenAI accepts at most four stop sequences
MAX_STOP = 4


class OpenAIProvider(Provider):
    supports_prefill = False  # the chat completions API has no assistant prefill
    # failures without an HTTP status worth retrying: refused or dropped connections, timeouts, cut streams
    transient_errors = (openai.APIConnectionError,)

    def __init__(self, model_name: str, *, api_key: str | None = None, base_url: str | None = None,
                 client: openai.AsyncOpenAI | None = None, timeout: float | None = None,
                 extra_body: dict[str, Any] | None = None, http: str | None = None) -> None:
        self.model = f"openai:{model_name}"
        self._name = model_name
        self._extra_body = extra_body
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        # OpenAI itself wants max_completion_tokens; compatible servers widely support only max_tokens.
        self._max_tokens_field = "max_tokens" if base_url else "max_completion_tokens"
        if client is not None:
            self._clients = ClientPool(client=client)
            return
        api_key = api_key or os.environ.get("OPENAI_API_KEY")
        if not api_key:
            if not base_url:
                raise ConfigError("no OpenAI API key: set OPENAI_API_KEY or pass api_key=... "
                                  "(for an OpenAI-compatible server, pass base_url=...)")
            api_key = "unused"  # self-hosted compatible servers usually ignore the key
        # max_retries=0: sotkit's retry policy is the only retry layer.
        self._clients = sdk_clients(openai, http, lambda http_client: openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout, http_client=http_client,
        ))

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        prompt = request.prompt
        messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
        messages.append({"role": "user", "content": prompt.user})
        body: dict[str, Any] = {self._max_tokens_field: request.max_tokens, "stream_options": {"include_usage": True}}
        if request.stop:
            body["stop"] = list(request.stop[:MAX_STOP])
        if request.temperature is not None:
            body["temperature"] = request.temperature
        usage, written = None, 0
        # The body travels in extra_body, which the SDK sends as given: its type-driven transform of the
        # parameters costs ~0.5 ms of CPU a call, a fifth of the client's cost per expansion when hundreds
        # stream at once (benchmarks/overhead.py). A user's extra_body overrides any field but the messages.
        async with self._clients.client() as client, client.chat.completions.with_streaming_response.create(
            model=self._name, messages=[], stream=True,
            extra_body={**body, **(self._extra_body or {}), "messages": messages},
        ) as response:
            async for _, data in sse_events(response, openai):
                if data == "[DONE]":
                    continue  # read on to the end of the body, so the connection goes back to the pool
                if isinstance(data, dict) and "error" in data:  # an error reported mid-stream
                    raise StreamError(str(data["error"].get("message", data["error"])), status_code=500)
                if choices := data.get("choices"):
                    if text := (choices[0].get("delta") or {}).get("content"):
                        written += len(text)
                        yield text
                if (counts := data.get("usage")) and isinstance(counts.get("prompt_tokens"), int) \
                        and isinstance(counts.get("completion_tokens"), int):
                    usage = CallUsage(counts["prompt_tokens"], counts["completion_tokens"])
        # Servers that ignore stream_options (llama.cpp's) send no counts: estimate them, and say so.
        yield usage or CallUsage.estimate(sum(len(m["content"]) for m in messages), written)

    async def aclose(self) -> None:
        await self._clients.aclose()


PROVIDER = OpenAIProvider
