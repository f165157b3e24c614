"""OpenTelemetry spans (sotkit/tracing.py), read with the SDK's in-memory exporter: the real openai and anthropic
SDKs against the loopback fake server."""

from __future__ import annotations

import json
import sys

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util._once import Once

import sotkit
from sotkit import quotes, tracing
from sotkit.providers import create_provider
from sotkit.providers.base import CallUsage
from sotkit.testing import Fault, FakeLLMServer, Latency, Reply
from tests.conftest import is_skeleton, point_of, sot_responder

pytestmark = pytest.mark.anyio

QUESTION = "How can I keep my zucchini plants healthy?"
SKELETON = "1. Water deeply\n2. Feed monthly\n3. Watch for mildew"
TEXTS = {1: "Soak the roots twice a week.", 2: "Use a balanced compost tea.", 3: "Prune crowded leaves early."}
FAST = Latency(ttft_s=0.0, tokens_per_s=5000)
QUICK_RETRY = sotkit.RetryPolicy(attempts=2, initial_wait_s=0.01)


def _reset_globals() -> None:
    """The global tracer provider back to the API's unset proxy (as opentelemetry's own tests do)."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    trace._PROXY_TRACER_PROVIDER = trace.ProxyTracerProvider()


@pytest.fixture
def spans():
    """An SDK tracer provider, set globally for one test, whose spans the test reads."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _reset_globals()
    trace.set_tracer_provider(provider)
    yield exporter
    provider.shutdown()
    _reset_globals()


def client(server: FakeLLMServer, provider: str, model: str = "test-model", **options) -> sotkit.SoT:
    base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    return sotkit.SoT(f"{provider}:{model}", base_url=base_url, api_key="test-key", **options)


def tree(exporter: InMemorySpanExporter) -> tuple[ReadableSpan, list[ReadableSpan], list[ReadableSpan]]:
    """The one request span, its call spans (by start), and the SDKs' own spans."""
    finished = exporter.get_finished_spans()
    [root] = [s for s in finished if s.name.startswith("sotkit ")]
    calls = sorted((s for s in finished if s.parent and s.parent.span_id == root.context.span_id),
                   key=lambda s: s.start_time)
    others = [s for s in finished if s is not root and s not in calls]
    assert all(s.context.trace_id == root.context.trace_id for s in finished)
    return root, calls, others


def everything_said(exporter: InMemorySpanExporter) -> str:
    """Every attribute value, event attribute value and status text of every span, as one string."""
    parts = []
    for span in exporter.get_finished_spans():
        parts += [span.name, str(span.status.description)]
        parts += [str(v) for v in span.attributes.values()]
        parts += [str(v) for event in span.events for v in event.attributes.values()]
    return "\n".join(parts)


def assert_no_text(exporter: InMemorySpanExporter, *texts: str) -> None:
    said = everything_said(exporter)
    for text in texts:
        assert text not in said


async def test_a_sot_answer_is_a_request_span_with_a_chat_span_per_call(spans, provider):
    with FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as server:
        async with client(server, provider, mode="sot") as sot:
            result = await sot.generate(QUESTION)
    root, calls, sdk_spans = tree(spans)
    assert root.name == "sotkit generate" and root.kind == SpanKind.INTERNAL and root.parent is None
    assert root.status.status_code == StatusCode.UNSET
    assert dict(root.attributes) == {
        "sotkit.model": f"{provider}:test-model", "sotkit.request.mode": "sot", "sotkit.mode": "sot",
        "sotkit.route.reason": "mode='sot' was requested", "sotkit.points": 3, "sotkit.points.failed": 0,
        "sotkit.skeleton_truncated": False, "sotkit.truncated": False,
        "sotkit.usage.input_tokens": result.usage.input_tokens,
        "sotkit.usage.output_tokens": result.usage.output_tokens, "sotkit.usage.calls": 4,
        "sotkit.usage.estimated_calls": 0}

    assert [s.name for s in calls] == ["chat test-model"] * 4
    assert all(s.kind == SpanKind.CLIENT for s in calls)
    # sotkit's tracer, with its version (probe 314: no test read it)
    assert {(s.instrumentation_scope.name, s.instrumentation_scope.version) for s in [root, *calls]} == {
        ("sotkit", sotkit.__version__)}
    assert [s.attributes["sotkit.call.role"] for s in calls] == ["skeleton", "point", "point", "point"]
    assert "sotkit.point.index" not in calls[0].attributes
    assert sorted(s.attributes["sotkit.point.index"] for s in calls[1:]) == [1, 2, 3]
    by_prompt = {point_of(r) if not is_skeleton(r) else 0: r for r in server.requests}
    for span in calls:
        request = by_prompt[span.attributes.get("sotkit.point.index", 0)]
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["gen_ai.provider.name"] == provider
        assert span.attributes["gen_ai.request.model"] == "test-model" == request.model
        assert span.attributes["gen_ai.request.max_tokens"] == 300 == request.max_tokens
        assert span.attributes["gen_ai.usage.input_tokens"] == request.usage.input_tokens
        assert span.attributes["gen_ai.usage.output_tokens"] == request.usage.output_tokens
        assert span.attributes["sotkit.call.model"] == f"{provider}:test-model"
        assert span.attributes["sotkit.call.attempts"] == 1 and not span.events
        assert span.status.status_code == StatusCode.UNSET
        assert span.start_time >= root.start_time and span.end_time <= root.end_time
    assert sum(s.attributes["gen_ai.usage.output_tokens"] for s in calls) == result.usage.output_tokens
    ended = "stop" if provider == "openai" else "end_turn"  # each API's own word
    assert all(s.attributes["gen_ai.response.finish_reasons"] == (ended,) for s in calls[1:])

    # the anthropic SDK traces each API call itself: its span is the child of sotkit's call span, not a sibling
    if provider == "anthropic":
        assert len(sdk_spans) == 4
        assert all(s.name == "anthropic.messages.create" for s in sdk_spans)
        assert sorted(s.parent.span_id for s in sdk_spans) == sorted(s.context.span_id for s in calls)
        # the trace context went out with each request (the SDK's propagation), from inside the call span
        traceparents = {r.headers.get("traceparent", "").split("-")[2] for r in server.requests}
        assert traceparents == {format(s.context.span_id, "016x") for s in sdk_spans}
    else:
        assert sdk_spans == []
    assert_no_text(spans, QUESTION, "zucchini", "Water deeply", *TEXTS.values(), "Continue")


async def test_a_sequential_stream_is_one_call_span(spans, provider):
    with FakeLLMServer(sot_responder(SKELETON, sequential="Plant them in full sun."), latency=FAST) as server:
        async with client(server, provider, mode="sequential", temperature=0.3) as sot, \
                sot.stream(QUESTION) as events:
            result = [e async for e in events][-1].result
    root, calls, _ = tree(spans)
    assert root.name == "sotkit stream"
    assert root.attributes["sotkit.mode"] == "sequential" and root.attributes["sotkit.points"] == 0
    [call] = calls
    assert call.attributes["sotkit.call.role"] == "sequential"
    assert call.attributes["gen_ai.request.max_tokens"] == 1024
    assert call.attributes["gen_ai.request.temperature"] == 0.3
    assert call.attributes["gen_ai.usage.output_tokens"] == result.usage.output_tokens
    assert_no_text(spans, QUESTION, "full sun")


async def test_a_calls_prompt_cache_tokens_are_its_spans_usage_attributes(spans, provider):
    writes = 100 if provider == "anthropic" else 0  # OpenAI reports no cache writes
    counted = CallUsage(900, 20, cache_read_tokens=700, cache_write_tokens=writes)
    with FakeLLMServer(Reply("Plant them in full sun.", usage=counted), latency=FAST) as server:
        async with client(server, provider, mode="sequential") as sot:
            await sot.generate(QUESTION)
    _, [call], _ = tree(spans)
    assert call.attributes["gen_ai.usage.input_tokens"] == 900  # the cache's tokens included, as the conventions say
    assert call.attributes["gen_ai.usage.cache_read.input_tokens"] == 700
    assert call.attributes["gen_ai.usage.cache_creation.input_tokens"] == writes


async def test_a_raised_reasoning_budget_is_the_spans_requested_max_tokens(spans, provider):
    # the call that spent its 1,024 tokens reasoning went again with eight times as many: the span said 1,024
    with FakeLLMServer(Reply("Keep a schedule.", reasoning_tokens=2000), latency=FAST) as server:
        async with client(server, provider, mode="sequential") as sot:
            with pytest.warns(UserWarning, match="before any text"):
                await sot.generate(QUESTION)
    [call] = tree(spans)[1]
    assert [r.max_tokens for r in server.requests] == [1024, 8192]
    assert call.attributes["gen_ai.request.max_tokens"] == 8192 and call.attributes["sotkit.call.attempts"] == 2


async def test_a_retried_call_has_a_retry_event(spans, provider):
    base = sot_responder(SKELETON, TEXTS)

    def point_2_fails_once(request):
        reply = base(request)
        if point_of(request) == 2 and request.attempt == 1:
            return Reply(reply.text, fault=Fault.status(503))
        return reply

    with FakeLLMServer(point_2_fails_once, latency=FAST) as server:
        async with client(server, provider, mode="sot", retry=QUICK_RETRY) as sot:
            result = await sot.generate(QUESTION)
    assert result.points[1].attempts == 2
    root, calls, sdk_spans = tree(spans)
    [retried] = [s for s in calls if s.attributes.get("sotkit.point.index") == 2]
    [event] = retried.events
    assert event.name == "sotkit.retry"
    assert event.attributes["sotkit.attempt"] == 1 and event.attributes["http.response.status_code"] == 503
    assert event.attributes["error.type"].endswith("Error") and 0 <= event.attributes["sotkit.retry.wait_s"] <= 1
    # the API's message, on both wires (on anthropic's it was the SDK's dict of quoted strings, each elided: probe 55)
    assert event.attributes["sotkit.error.message"].endswith("Service unavailable (injected by FakeLLMServer)")
    assert retried.attributes["sotkit.call.attempts"] == 2
    assert retried.status.status_code == StatusCode.UNSET  # the call succeeded in the end
    if provider == "anthropic":  # one SDK span per attempt, both under the one call span
        attempts = [s for s in sdk_spans if s.parent.span_id == retried.context.span_id]
        assert sorted(s.attributes["http.response.status_code"] for s in attempts) == [200, 503]


@pytest.mark.parametrize(("fault", "error_type", "retried_as"), [
    (Fault.cut(after_tokens=2), "StreamError", 502),  # the status sotkit retries it as
    (Fault.drop(after_tokens=2), "APIConnectionError", None),  # probe 117: this one's event had no status at all
    (Fault.stall(after_tokens=2, seconds=5, then="close"), "StreamStalled", None),  # probe 249: nor had this one
])
async def test_a_stream_broken_after_its_200_is_retried_as_a_200(spans, provider, fault, error_type, retried_as):
    base = sot_responder(SKELETON, TEXTS)

    def point_2_broken_once(request):
        reply = base(request)
        return Reply(reply.text, fault=fault) if point_of(request) == 2 and request.attempt == 1 else reply

    with FakeLLMServer(point_2_broken_once, latency=FAST) as server:
        async with client(server, provider, mode="sot", retry=QUICK_RETRY, stall_timeout=1.0) as sot:
            await sot.generate(QUESTION)
    _, calls, _ = tree(spans)
    [retried] = [s for s in calls if s.attributes.get("sotkit.point.index") == 2]
    [event] = retried.events
    assert event.attributes["error.type"] == error_type
    assert event.attributes["http.response.status_code"] == 200  # what the server sent: no gateway error
    assert event.attributes.get("sotkit.error.status_code") == retried_as


async def test_a_call_that_waited_for_its_models_concurrency_slot_says_so(spans):
    # probe 249: a point's span read as the API's latency, though most of it was waiting for a slot
    slow = Latency(ttft_s=0.3, tokens_per_s=None)
    with FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=slow) as server:
        async with client(server, "openai", mode="sot", max_concurrency=1, eager=False) as sot:
            await sot.generate(QUESTION)
    _, calls, _ = tree(spans)
    waits = [e.attributes["sotkit.queued_s"] for s in calls for e in s.events if e.name == "sotkit.queued"]
    assert len(waits) >= len(TEXTS) - 1 and max(waits) >= 0.3  # (the points after the first waited a call or more)
    assert all(e.name == "sotkit.queued" for s in calls for e in s.events)


async def test_a_fallback_ends_the_call_span_and_goes_on_in_a_span_of_the_next_model(spans, provider):
    """Each span's model and usage belong together, so a trace can be priced span by span."""
    base = sot_responder(SKELETON, TEXTS)

    def main_fails_point_3(request):
        reply = base(request)
        if request.model == "main" and point_of(request) == 3:
            return Reply(reply.text, fault=Fault.status(500))
        return reply

    with FakeLLMServer(main_fails_point_3, latency=FAST) as server:
        base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        backup = create_provider(f"{provider}:backup", api_key="k", base_url=base_url)
        async with client(server, provider, model="main", mode="sot", fallback=backup, retry=QUICK_RETRY) as sot:
            result = await sot.generate(QUESTION)
        await backup.aclose()
    assert result.points[2].model == f"{provider}:backup"
    root, calls, _ = tree(spans)
    failed, fell_back = [s for s in calls if s.attributes.get("sotkit.point.index") == 3]
    assert failed.name == "chat main" and failed.attributes["gen_ai.request.model"] == "main"
    assert [e.name for e in failed.events] == ["sotkit.retry", "sotkit.fallback", "exception"]
    fallback = failed.events[1]
    assert fallback.attributes["sotkit.fallback.model"] == f"{provider}:backup"
    assert fallback.attributes["http.response.status_code"] == 500
    assert failed.attributes["sotkit.call.attempts"] == 2 and failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["gen_ai.usage.output_tokens"] == 0  # refused: nothing of the backup's counted here
    assert fell_back.name == "chat backup" and fell_back.attributes["gen_ai.request.model"] == "backup"
    assert fell_back.attributes["sotkit.call.fallback_from"] == f"{provider}:main"
    assert fell_back.attributes["sotkit.call.model"] == f"{provider}:backup"
    assert fell_back.attributes["sotkit.call.attempts"] == 1 and fell_back.status.status_code == StatusCode.UNSET
    [backup_request] = [r for r in server.requests if r.model == "backup"]
    assert fell_back.attributes["gen_ai.usage.output_tokens"] == backup_request.usage.output_tokens
    assert sum(c.attributes["gen_ai.usage.output_tokens"] for c in calls) == result.usage.output_tokens
    assert root.attributes["sotkit.points.failed"] == 0


async def test_an_answer_without_text_falls_back_to_a_span_of_the_next_model(spans, provider):
    with FakeLLMServer(sot_responder(SKELETON, sequential="  \n"), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, sequential="From the backup."), latency=FAST) as backup_server:
        backup = create_provider("openai:backup", api_key="k", base_url=backup_server.openai_base_url)
        async with client(server, provider, model="main", mode="sequential", fallback=backup) as sot:
            result = await sot.generate(QUESTION)
        await backup.aclose()
    assert result.text == "From the backup." and not result.truncated
    root, [empty, call], _ = tree(spans)
    assert [e.name for e in empty.events] == ["sotkit.fallback", "exception"]
    assert empty.events[0].attributes["error.type"] == "EmptyAnswer" and empty.attributes["sotkit.call.attempts"] == 1
    assert call.attributes["sotkit.call.model"] == "openai:backup" and call.attributes["sotkit.call.attempts"] == 1
    assert call.attributes["gen_ai.provider.name"] == "openai" and call.attributes["gen_ai.request.model"] == "backup"
    assert call.status.status_code == StatusCode.UNSET and root.attributes["sotkit.truncated"] is False


@pytest.mark.parametrize("backup_writes", [True, False])
async def test_a_point_left_empty_falls_back_in_its_calls_span_and_fails_in_one(spans, backup_writes):
    # probe 272: the stream had its FallbackEvent, but no span said the fallback (no sotkit.fallback event, no
    # sotkit.call.fallback_from) and a point empty on both models left every span UNSET
    with FakeLLMServer(sot_responder(SKELETON, {**TEXTS, 2: ""}), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, TEXTS if backup_writes else {**TEXTS, 2: ""}), latency=FAST) as other:
        backup = create_provider("openai:backup", api_key="k", base_url=other.openai_base_url)
        async with client(server, "openai", model="main", mode="sot", fallback=backup, on_point_error="skip") as sot:
            result = await sot.generate(QUESTION)
        await backup.aclose()
    assert result.points[1].failed is not backup_writes
    assert result.points[1].model == "openai:backup"  # (review 273: None where it failed on both)
    _, calls, _ = tree(spans)
    point_2 = [s for s in calls if s.attributes.get("sotkit.point.index") == 2]
    asked, asked_again, fell_back, *again = point_2  # the main model asked twice, then the fallback (and again)
    assert asked.status.status_code == StatusCode.UNSET and not asked.events  # asked again: a call of its own
    assert [e.name for e in asked_again.events] == ["sotkit.fallback", "exception"]
    assert asked_again.events[0].attributes["error.type"] == "EmptyPoint"
    assert asked_again.status.status_code == StatusCode.ERROR
    assert (fell_back.name, fell_back.attributes["sotkit.call.fallback_from"]) == ("chat backup", "openai:main")
    if backup_writes:
        assert not again and fell_back.status.status_code == StatusCode.UNSET
        assert result.points[1].model == "openai:backup"
    else:  # the fallback asked again too, which fails the point
        [last] = again
        assert last.status.status_code == StatusCode.ERROR and last.attributes["error.type"] == "EmptyPoint"
        assert result.points[1].error.startswith("EmptyPoint: point 2")


# A gateway's 401 that repeated the key it was sent ("Incorrect API key provided: sk-...") was copied word for word
# into the spans, the log lines and Point.error (and from there into eval's files and the web example's page).
async def test_a_key_the_server_repeats_is_replaced_in_spans_logs_and_point_errors(spans, provider, caplog):
    caplog.set_level("INFO", logger="sotkit")
    key = "sk-proj-LEAKME0123456789"
    base = sot_responder(SKELETON, TEXTS)
    body = {"error": {"type": "authentication_error", "message": f"Incorrect API key provided: {key}."}}

    def refused(request):  # point 1, and the sequential answer
        return Reply("", fault=Fault.status(401, body=body)) if not is_skeleton(request) \
            and point_of(request) in (1, None) else base(request)

    with FakeLLMServer(refused, latency=FAST) as server:
        base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        backup = create_provider(f"{provider}:backup", base_url=base_url, api_key="backup-key-0123")
        async with sotkit.SoT(f"{provider}:m", base_url=base_url, api_key=key, retry=QUICK_RETRY,
                              on_point_error="skip", fallback=backup) as sot:
            result = await sot.generate(QUESTION, mode="sot")
            with pytest.raises(Exception) as caught:
                await sot.generate(QUESTION, mode="sequential", trace_content=True)  # unelided messages: the same
        await backup.aclose()
    assert result.points[0].failed and "Incorrect API key provided: ***." in result.points[0].error
    assert key in str(caught.value)  # the SDK's own exception reaches the caller as it was
    assert_no_text(spans, key)
    logged = [r.getMessage() for r in caplog.records if r.name == "sotkit"]
    assert any("Incorrect API key provided: ***.); falling back" in line for line in logged)
    assert not any(key in line for line in logged)


async def test_a_fallback_models_key_is_replaced_before_its_first_call(spans, caplog):
    # probe 117: a gateway's error that repeated the fallback's key, in the main model's first retry, was logged as it
    # came: the fallback's key was held from its client's first call only
    caplog.set_level("INFO", logger="sotkit")
    backup_key = "sk-ant-BACKUPKEY0123456789"
    base = sot_responder(SKELETON, TEXTS)
    message = f"Upstream refused the keys sk-main-0123456789 / {backup_key}"
    body = {"error": {"type": "server_error", "message": message}}

    def refused(request):
        return Reply("", fault=Fault.status(503, body=body)) if request.attempt == 1 else base(request)

    with FakeLLMServer(refused, latency=FAST) as server:
        backup = create_provider("anthropic:backup", base_url=server.anthropic_base_url, api_key=backup_key)
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="sk-main-0123456789",
                              retry=QUICK_RETRY, fallback=backup) as sot:
            result = await sot.generate(QUESTION, mode="sequential")
        await backup.aclose()
    assert result.model == "openai:m"  # the main model answered on its retry: the backup was never called
    logged = [r.getMessage() for r in caplog.records if r.name == "sotkit"]
    assert any("Upstream refused the keys *** / ***" in line for line in logged), logged
    assert_no_text(spans, backup_key)


async def test_an_error_body_of_several_lines_is_one_line_in_logs_events_and_point_errors(spans, caplog):
    # probe 117: "line one\nline two\r\nline three" went into the log as it came: a server could write log lines
    caplog.set_level("INFO", logger="sotkit")
    base = sot_responder(SKELETON, TEXTS)
    body = {"error": {"type": "server_error", "message": "line one\nline two\r\nFAKE sotkit: all good\x1b[2K\u202e"}}

    def refused(request):
        return Reply("", fault=Fault.status(500, body=body)) if point_of(request) == 1 else base(request)

    with FakeLLMServer(refused, latency=FAST) as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", retry=QUICK_RETRY,
                              on_point_error="skip") as sot:
            result = await sot.generate(QUESTION, mode="sot")
    logged = [r.getMessage() for r in caplog.records if r.name == "sotkit"]
    assert any("line one line two FAKE sotkit: all good" in line for line in logged), logged
    assert not any("\n" in line or "\r" in line for line in logged)
    # nor a terminal's escape or a text-direction mark (review 118): written out, not obeyed
    assert any("all good\\x1b[2K\\u202e" in line for line in logged) and not any("\x1b" in line for line in logged)
    error = result.points[0].error
    assert result.points[0].failed and "\n" not in error and "line one line two" in error
    # and the point left out is logged (probe 117: the last line was a retry's, nothing said the point was dropped)
    assert logged[-1].startswith("point 1 failed on openai:m (InternalServerError: ") and \
        logged[-1].endswith("; it is missing from the answer")
    events = [e for span in spans.get_finished_spans() for e in span.events]
    assert events and not any("\n" in str(value) for e in events for name, value in e.attributes.items()
                              if name != "exception.stacktrace")  # OpenTelemetry's traceback, of many lines


async def test_an_azure_ad_token_the_server_repeats_is_replaced_too(spans):
    # only api_key and auth_token were held: an AsyncAzureOpenAI's azure_ad_token (and a Vertex client's
    # access_token) reached Point.error and spans (probe 87)
    import openai

    token = "aad-SECRET-token-0123456789"
    base = sot_responder(SKELETON, TEXTS)
    body = {"error": {"code": "401", "message": f"Access denied: Bearer {token} is not valid."}}

    def refused(request):
        return Reply("", fault=Fault.status(401, body=body)) if point_of(request) == 1 else base(request)

    with FakeLLMServer(refused, latency=FAST) as server:
        azure = openai.AsyncAzureOpenAI(azure_endpoint=server.base_url, azure_ad_token=token, api_version="2024-10-21")
        async with sotkit.SoT("openai:my-gpt4o", client=azure, retry=QUICK_RETRY, on_point_error="skip") as sot:
            result = await sot.generate(QUESTION, mode="sot")
        await azure.close()
    assert result.points[0].failed and "Bearer *** is not valid" in result.points[0].error
    assert_no_text(spans, token)
    # the platform the client reaches, as the GenAI conventions name it (it was "openai"; probe 87)
    calls = [s for s in spans.get_finished_spans() if s.name == "chat my-gpt4o"]
    assert len(calls) == 4 and {s.attributes["gen_ai.provider.name"] for s in calls} == {"azure.ai.openai"}


async def test_a_key_the_server_repeats_is_replaced_in_the_route_reason_and_in_sotkits_notes(spans):
    # the skeleton's error went into route_reason by repr(), and the main model's error into the note sotkit adds to
    # the fallback's exception by str(): both unredacted (probe 88)
    key, backup_key = "sk-proj-SKELKEY0123456789", "sk-proj-BACKUPKEY987654"
    base = sot_responder(SKELETON, TEXTS)

    def respond(request):
        said = {"error": {"message": f"key {request.api_key} over quota", "type": "insufficient_quota"}}
        if is_skeleton(request):
            return Reply("1. Sleep well\n2. Eat less sugar\n3. Move", fault=Fault.garbage(8, json.dumps(said)))
        if point_of(request) == 1 or point_of(request) is None:
            return Reply("", fault=Fault.status(401, body=said))
        return base(request)

    with FakeLLMServer(respond, latency=FAST) as server:
        backup = create_provider("openai:backup", base_url=server.openai_base_url, api_key=backup_key)
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key=key, fallback=backup,
                              retry=sotkit.RetryPolicy(attempts=1), on_point_error="skip") as sot:
            result = await sot.generate(QUESTION, mode="sot")
            with pytest.raises(Exception) as caught:
                await sot.generate(QUESTION, mode="sequential")
        await backup.aclose()
    assert "the skeleton call failed after 2 point(s)" in result.route_reason and key not in result.route_reason
    assert "key *** over quota" in result.route_reason
    assert key not in "".join(caught.value.__notes__) and "key *** over quota" in "".join(caught.value.__notes__)


async def test_a_placeholder_key_blanks_no_part_of_a_word(spans):
    # a local server's placeholder key ("balanced") blanked "unbalanced" in error messages (probe 88)
    body = {"error": {"message": "unbalanced brackets in the tool schema; key balanced is fine", "type": "x"}}
    base = sot_responder(SKELETON, TEXTS)

    def respond(request):
        return base(request) if is_skeleton(request) else Reply("", fault=Fault.status(400, body=body))

    with FakeLLMServer(respond, latency=FAST) as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="balanced") as sot:
            with pytest.raises(sotkit.PartialResultError) as caught:
                await sot.generate(QUESTION, mode="sot")
    assert "unbalanced brackets in the tool schema; key *** is fine" in caught.value.partial.points[0].error


async def test_a_failed_call_is_recorded_without_the_text_it_quotes(spans, provider):
    """The stream's garbage event holds answer text; the error quotes it (openai), and the span elides it."""
    base = sot_responder(SKELETON, TEXTS)

    def point_1_garbage(request):
        reply = base(request)
        if point_of(request) == 1:
            return Reply(reply.text, fault=Fault.garbage(1, "secret-answer-text"))
        return reply

    with FakeLLMServer(point_1_garbage, latency=FAST) as server:
        async with client(server, provider, mode="sot", retry=QUICK_RETRY) as sot:
            with pytest.raises(sotkit.PartialResultError) as caught:
                await sot.generate(QUESTION)
    if provider == "openai":  # the anthropic stream skips an event it does not know, and then is cut
        assert "secret-answer-text" in str(caught.value.__cause__)
    root, calls, _ = tree(spans)
    [failed] = [s for s in calls if s.attributes.get("sotkit.point.index") == 1]
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "StreamError"
    exception = failed.events[-1]
    assert exception.name == "exception" and exception.attributes["exception.type"] == "sotkit.errors.StreamError"
    if provider == "openai":
        assert "not the API's: '…' (request_id: " in exception.attributes["exception.message"]  # (with its note)
    assert "runner.py" in exception.attributes["exception.stacktrace"]  # frames, no messages
    assert [e.name for e in failed.events] == ["sotkit.retry", "exception"]
    assert root.status.status_code == StatusCode.ERROR and root.attributes["error.type"] == "PartialResultError"
    assert root.attributes["sotkit.points.failed"] == 1
    assert_no_text(spans, "secret-answer-text", QUESTION, *TEXTS.values())


async def test_the_route_reason_keeps_no_excerpt_of_the_question(spans):
    question = "Write a Python function that reverses a linked list."
    with FakeLLMServer("def reverse(head): ...", latency=FAST) as server:
        async with client(server, "openai") as sot:
            result = await sot.generate(question)
            assert "'Write a Python function'" in result.route_reason
            [quiet] = [s for s in spans.get_finished_spans() if s.name == "sotkit generate"]
            assert quiet.attributes["sotkit.route.reason"] == "guard: asks for code ('…')"
            assert_no_text(spans, "Python", "reverse")
            spans.clear()
            await sot.generate(question, trace_content=True)
    [told] = [s for s in spans.get_finished_spans() if s.name == "sotkit generate"]
    assert told.attributes["sotkit.route.reason"] == result.route_reason


async def test_text_goes_into_spans_only_with_trace_content(spans, provider):
    with FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as server:
        async with client(server, provider, mode="sot", trace_content=True) as sot:
            result = await sot.generate(QUESTION)
    root, calls, _ = tree(spans)
    assert root.attributes["sotkit.question"] == QUESTION and root.attributes["sotkit.answer"] == result.text
    skeleton = calls[0]
    [message] = json.loads(skeleton.attributes["gen_ai.input.messages"])[:1]
    assert message["role"] == "user" and QUESTION in message["parts"][0]["content"]
    by_index = {s.attributes.get("sotkit.point.index"): s for s in calls}
    for index, text in TEXTS.items():
        [output] = json.loads(by_index[index].attributes["gen_ai.output.messages"])
        # in the conventions' message format, the part's type too (probe 314: no test read it)
        assert output == {"role": "assistant", "parts": [{"type": "text", "content": output["parts"][0]["content"]}],
                          "finish_reason": "stop"}  # (probe 249: required by the conventions' schema, and missing)
        assert text in output["parts"][0]["content"]
    [request] = [r for r in server.requests if is_skeleton(r)]
    sent = [m["role"] for m in json.loads(skeleton.attributes["gen_ai.input.messages"])]
    assert sent == ["user"] + (["assistant"] if request.prefill is not None else [])  # what was sent, no more
    if request.system:
        assert json.loads(skeleton.attributes["gen_ai.system_instructions"]) == [
            {"type": "text", "content": request.system}]


@pytest.mark.parametrize("reason, word", [("stop", "stop"), ("end_turn", "stop"), ("stop_sequence", "stop"),
                                          ("length", "length"), ("max_tokens", "length"),
                                          ("model_context_window_exceeded", "length"), ("refusal", "content_filter"),
                                          ("tool_use", "tool_call"), ("pause_turn", "pause_turn")])
def test_an_output_messages_finish_reason_is_in_the_conventions_words(reason, word):
    assert tracing._conventions_reason(reason) == word


@pytest.mark.parametrize("output_tokens, reason", [(100, "length"), (40, "stop")])
def test_an_output_message_with_no_reason_from_the_server_says_whether_its_budget_ended_it(spans, output_tokens,
                                                                                              reason):
    # review 252: one whose counted output reached its budget, which sotkit reads as cut, was traced as "stop"
    from sotkit.providers.base import CallUsage, ChatRequest, Prompt

    request_span = tracing.start_request("generate", "openai:m", "sequential", QUESTION, True, lambda: None)
    call = request_span.call("sequential", "openai:m")
    call.request(ChatRequest(Prompt(user=QUESTION), max_tokens=100))
    call.usage(CallUsage(10, output_tokens))  # (no finish_reason)
    call.finished("openai:m", ["Sleep well."])
    [message] = json.loads(call.span.attributes["gen_ai.output.messages"])
    assert message["finish_reason"] == reason
    call.span.end()
    request_span.span.end()


async def test_no_tracer_provider_means_no_spans_and_no_trace(spans):
    _reset_globals()  # the API's default: a proxy with nothing behind it
    assert tracing.start_request("generate", "openai:m", "auto", QUESTION, False, lambda: None) is tracing.NO_TRACE
    with FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as server:
        async with client(server, "anthropic", mode="sot") as sot:
            await sot.generate(QUESTION)
    assert spans.get_finished_spans() == ()
    trace.set_tracer_provider(trace.NoOpTracerProvider())
    assert tracing.start_request("generate", "openai:m", "auto", QUESTION, False, lambda: None) is tracing.NO_TRACE


async def test_trace_content_must_be_a_bool():
    with pytest.raises(sotkit.ConfigError, match="trace_content='yes': must be True or False"):
        sotkit.SoT("openai:m", api_key="k", trace_content="yes")


async def test_a_broken_batch_is_one_failed_span_and_each_unfinished_row_a_call_of_its_own(spans):
    from tests.test_error_paths import QUICK_RETRY as RETRY
    from tests.test_error_paths import BatchThatBreaks

    async with sotkit.SoT(BatchThatBreaks(), mode="sot", retry=RETRY) as sot:
        with pytest.raises(sotkit.PartialResultError):
            await sot.generate(QUESTION)
    root, calls, _ = tree(spans)
    assert [s.attributes["sotkit.call.role"] for s in calls] == ["skeleton", "points", "point", "point"]
    batch = calls[1]
    assert batch.attributes["sotkit.batch.rows"] == 3 and "sotkit.call.attempts" not in batch.attributes
    assert batch.attributes["gen_ai.usage.output_tokens"] == 6  # the row it finished
    assert "gen_ai.response.finish_reasons" not in batch.attributes  # the test provider gives none
    assert batch.status.status_code == StatusCode.ERROR and batch.attributes["error.type"] == "ConnectionError"
    for row in calls[2:]:  # one attempt alone: the batch was each row's first of the two the policy allows
        assert row.attributes["sotkit.call.attempts"] == 1
        assert [e.name for e in row.events] == ["exception"]
        assert row.status.status_code == StatusCode.ERROR
    assert sorted(s.attributes["sotkit.point.index"] for s in calls[2:]) == [2, 3]
    assert root.attributes["sotkit.points.failed"] == 2


async def test_a_deadline_cancels_the_calls_and_fails_the_request(spans):
    slow = Latency(ttft_s=0.0, tokens_per_s=5)
    with FakeLLMServer(sot_responder(SKELETON, TEXTS, point_latency={i: slow for i in TEXTS}), latency=FAST) as server:
        async with client(server, "openai", mode="sot", deadline=0.5) as sot:
            with pytest.raises(sotkit.DeadlineExceeded):
                await sot.generate(QUESTION)
    root, calls, _ = tree(spans)
    assert root.status.status_code == StatusCode.ERROR and root.attributes["error.type"] == "DeadlineExceeded"
    points = [s for s in calls if s.attributes["sotkit.call.role"] == "point"]
    assert len(points) == 3
    assert all(s.attributes["sotkit.cancelled"] and s.status.status_code == StatusCode.UNSET for s in points)


@pytest.mark.parametrize("mode", ["sot", "sequential"])
async def test_a_stream_the_reader_stops_is_cancelled_not_failed(spans, mode):
    # a stop button (aclose()) ends the reader's loop without an error, but its span was an ERROR,
    # PartialResultError (probe 55): every stop on an error-rate dashboard
    slow = Latency(ttft_s=0.0, tokens_per_s=5)
    responder = sot_responder(SKELETON, TEXTS, point_latency={i: slow for i in TEXTS}) if mode == "sot" \
        else Reply("A plain answer that goes on for a while.", latency=slow)
    with FakeLLMServer(responder, latency=FAST) as server:
        async with client(server, "openai", mode=mode) as sot, sot.stream(QUESTION) as events:
            async for event in events:
                if event.type == "text":
                    await events.aclose()
    root, calls, _ = tree(spans)
    assert root.attributes["sotkit.cancelled"] and root.status.status_code == StatusCode.UNSET
    assert not root.events and any(s.attributes.get("sotkit.cancelled") for s in calls)


@pytest.mark.parametrize("template", ["judge_pairwise", "sequential"])
async def test_a_call_through_complete_names_its_template(spans, template):
    with FakeLLMServer("[[A]]", latency=FAST) as server:
        async with client(server, "openai") as sot:
            await sot.complete(template, {"question": QUESTION, "answer_a": "x", "answer_b": "y"}
                               if template.startswith("judge") else {"question": QUESTION})
    root, [call], _ = tree(spans)
    # review 262: complete("sequential") was traced as a "sotkit generate" of mode sequential
    assert root.name == "sotkit complete" and root.attributes["sotkit.mode"] == "sequential"
    assert call.attributes["sotkit.call.role"] == template
    # probe 249: it claimed a mode complete() takes none of ("mode='sequential' was requested")
    assert "sotkit.request.mode" not in root.attributes
    assert root.attributes["sotkit.route.reason"] == f"complete() answers the {template} template in one call"


async def test_a_runaway_stream_cut_at_max_tokens_finishes_as_length(spans):
    runaway = Reply("and on ", fault=Fault.runaway(tokens=200_000))
    with FakeLLMServer(runaway, latency=Latency(ttft_s=0.0, tokens_per_s=None)) as server:
        async with client(server, "openai", mode="sequential", max_tokens=50) as sot:
            result = await sot.generate(QUESTION)
        await server.wait_idle_async(10)
    root, [call], _ = tree(spans)
    assert result.truncated and root.attributes["sotkit.truncated"]
    assert call.attributes["gen_ai.response.finish_reasons"] == ("length",)
    # charged what it sent past its budget, as the result is
    assert call.attributes["gen_ai.usage.output_tokens"] == result.usage.output_tokens > 50
    assert call.attributes["sotkit.usage.estimated"]


def test_quoted_text_past_a_cut_is_elided_in_log_lines_and_spans():
    # a quote that a cut left open (describe()'s 300 characters, a provider's own [:300]) kept the model's text in
    # log lines and, for a message cut by the provider, in spans (probe 82)
    from sotkit.errors import StreamError

    excerpt = "secret-answer-text " * 40
    long = StreamError(f"the server sent an event that is not the API's: {excerpt!r}")
    cut = StreamError(f"the server ended the stream with finish_reason 'error': {str({'content': excerpt})[:300]!r}")
    for error in (long, cut):
        assert "secret" not in tracing.without_text(error) and "secret" not in tracing._message(error, False)
    assert tracing.without_text(long) == "StreamError: the server sent an event that is not the API's: '…'"
    # sotkit's own note is kept wherever the cut falls (it was elided with an opening quote the cut left, probe 83)
    for pad in range(270, 300):
        padded = StreamError("x" * pad + f" {excerpt!r}")
        padded.add_note("(attempt 1 of 4; not retried: the wait of 0.4 s would end past the deadline)")
        line = tracing.without_text(padded)
        assert "secret" not in line and line.endswith(" (attempt 1 of 4; not retried: the wait of 0.4 s would end "
                                                      "past the deadline)"), line
    # a lone apostrophe elides nothing (a quote a cut left open is elided only where the line was cut)
    assert quotes.elide("model (all-MiniLM)'s cache is stale") == "model (all-MiniLM)'s cache is stale"
    # nor sotkit's advice, an option's value (probe 117: "pass on_point_error='…' to accept it"); a server's is
    assert quotes.elide("pass on_point_error='skip' to accept it; with on_outage='closed' no call goes out") == \
        "pass on_point_error='skip' to accept it; with on_outage='closed' no call goes out"
    # probe 339: a FallbackWarning said "device='…' but this torch build sees no CUDA GPU; use device='…'"
    said = "device='cuda' but this torch build sees no CUDA GPU; use device='cpu' or device='auto'; dtype='fp16'"
    assert quotes.elide(said) == said
    assert quotes.elide("rejected content='SECRET answer' and name='x'") == "rejected content='…' and name='…'"
    # review 118: any name_x= kept what followed, and a gateway's validation error quotes the question so
    assert quotes.elide("[type=int_parsing, input_value='My SSN is 123-45-6789', input_type=str]") == \
        "[type=int_parsing, input_value='…', input_type=str]"


@pytest.mark.parametrize("retry_after", ["90", "20"])  # over max_wait_s; within it, but past the deadline
async def test_a_429_whose_wait_is_not_taken_is_in_the_failed_spans_exception(spans, retry_after):
    # probe 249: a Retry-After over max_wait_s (RetryAfterTooLong) left no 429 in the trace, and the note of a wait
    # past the deadline ("not retried: ...") was on the exception but not in the span
    too_many = Reply("x", fault=Fault.status(429, {"retry-after": retry_after}))
    with FakeLLMServer(too_many, latency=FAST) as server:
        async with client(server, "openai", mode="sequential", retry=sotkit.RetryPolicy(max_wait_s=60)) as sot:
            with pytest.raises(Exception):
                await sot.generate(QUESTION, deadline=5.0)
    _, [call], _ = tree(spans)
    [exception] = [e for e in call.events if e.name == "exception"]
    assert exception.attributes["http.response.status_code"] == 429
    if retry_after == "20":
        assert "not retried: the wait of" in exception.attributes["exception.message"]


def test_a_note_whose_cut_leaves_a_quote_open_is_elided_in_spans():
    # review 252: a span's message gained sotkit's notes, and a note cut in a quoted passage ("(the server said:
    # {'detail': 'What ...)", a fallback's "failed first: ... 'SECRET ...") showed it whole
    from sotkit.errors import StreamError

    error = StreamError("Error code: 422")
    error.add_note("(the server said: {'detail': [{'input': 'How do I hide SECRET from my boss and")
    error.add_note("(openai:main failed first: StreamError: the server sent: 'SECRET SECRET)")
    said = tracing._message(error, False)
    assert "SECRET" not in said and said.startswith("Error code: 422 (the server said: {'…'"), said
    assert said.endswith(" (openai:main failed first: StreamError: the server sent: '…'"), said


def cut(text: str) -> str:
    """``text`` quoted as sotkit's errors quote a model's event (repr), and cut as ``describe`` cuts it."""
    from sotkit.errors import describe
    from sotkit.providers._sse import malformed

    return describe(malformed(text))


@pytest.mark.parametrize("message", [
    "Invalid content: 'Tell me SECRET about the '90s music' refused",  # review 254: a nested quote stopped it
    "curly ‘Tell me SECRET about the ’90s music’ refused",
    # a passage cut by describe(), mid-message, in single or double quotes (a repr of text with an apostrophe), cut
    # after a backslash (a repr's "\\n"); the passage after it (reviews 254, 256, 257)
    f"point 2 failed ({cut('How do I hide SECRET from my boss? ' * 20)}); the partial result holds the others (pass "
    "on_point_error='skip' to accept it) refused",
    f"point 2 failed ({cut('What' + chr(39) + 's SECRET? ' * 40)}); the partial result holds the others (pass "
    f"on_point_error='skip' to accept it; the last error: X: refused: \"SECRET plan\") refused",
    f"point 2 failed ({cut('My SECRET plan, step one: hide the money' + 'x' * 196 + chr(10) + 'and more' * 20)}); "
    "the text it wrote is in .partial refused",
    "the server sent: b'SECRET data' refused",
    "('As a SECRET …; pirate captain, what would you say?') refused",  # review 257: the user's own "…" is no cut
])
def test_a_quoted_passage_a_cut_or_a_nested_quote_interrupts_is_elided(message):
    said = quotes.elide(message)
    assert "SECRET" not in said and said.endswith(" refused"), said
    assert "on_point_error='skip'" in said or "on_point_error" not in message  # sotkit's advice stays


def test_a_cut_closes_a_passage_it_left_open_and_no_other():
    # review 258: a closed passage's mark after punctuation ('Hello!', "stop.") was taken for an open one, and the
    # stray mark added at the cut paired with the next passage in a longer message, which then showed
    assert quotes.clipped("the model said 'Hello!' and then went on and on", 40) == \
        "the model said 'Hello!' and then went o…"
    assert quotes.clipped("the server sent: 'How do I hide SECRET from my boss", 40) == \
        "the server sent: 'How do I hide SECRET …'"
    from sotkit.errors import PartialResultError, describe, renote

    def server_error(question: str) -> Exception:
        error = Exception("Error code: 422")
        renote(error, f"(the server said: {quotes.clipped(repr(question), 300)})", "the server said")
        error.add_note("(attempt 2 of 4; not retried: the wait of 0.4 s would end past the deadline)")
        return error

    first, last = server_error('Reply "stop." when done. ' + "My SECRET question " * 13), server_error("SECRET?")
    error = PartialResultError(f"point(s) 2 failed (point 2: {describe(first)}); the partial result holds the others "
                               f"(pass on_point_error='skip' to accept it; the last error: {describe(last)})", None)
    for said in (tracing._message(error, False), tracing.without_text(error)):
        assert "SECRET" not in said and "on_point_error='skip'" in said, said


def test_elision_reads_a_long_message_only_so_far():
    # review 256: every quote that did not close was read to the text's end: a server's 50,000-character echo of a
    # question took half a minute of the event loop
    long = "Invalid content: " + " 'a" * 20_000
    assert len(quotes.elide(long)) <= quotes.ELIDED_MOST + 1 and quotes.elide(long).startswith("Invalid content: ")


def test_elision_stops_at_the_quote_and_keeps_the_text_after_it():
    # review 252: a plural's apostrophe went on to the next quote's end, and sotkit's advice between went with it
    assert quotes.elide("Error code: 400 - 'tools' is not supported (pass on_point_error='skip' to accept it)") == \
        "Error code: 400 - '…' is not supported (pass on_point_error='skip' to accept it)"
    assert quotes.elide("Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                          "'max_completion_tokens' instead.") == \
        "Unsupported parameter: '…' is not supported with this model. Use '…' instead."


def test_a_status_a_server_sent_is_not_taken_for_a_broken_stream_by_its_words():
    # review 118: a 503 whose body relayed another hop's "... after its 200" was traced as a 200
    from sotkit.providers._sse import BROKE_OFF

    class Relayed(Exception):
        status_code = 503

    assert tracing._error_attributes(Relayed(f"upstream: {BROKE_OFF}"), False)["http.response.status_code"] == 503


@pytest.mark.parametrize("message", ["guardrail: 'What's the best way to hide SECRET from my boss?' refused",
                                     "title 'Don't hide SECRET' refused", "code `SECRET` refused",
                                     "curly “SECRET text” refused", "curly ‘it’s SECRET’ refused",
                                     # probe 249: a plural's apostrophe ended the quote, and the rest was shown
                                     "prompt 'What are my dogs' favourite SECRET toys?' refused",
                                     "curly ‘my cats’ favourite SECRET toys’ refused"])
def test_quoted_text_holding_an_apostrophe_or_in_backticks_or_curly_quotes_is_elided(message):
    # the apostrophe of "What's" was taken for the closing quote, and the rest shown; backticks and curly quotes
    # were no quotes at all (probe 85)
    from sotkit.errors import StreamError

    error = StreamError(message)
    for said in (tracing.without_text(error), tracing._message(error, False)):
        assert "SECRET" not in said and said.endswith("'…' refused"), said
    cut = StreamError("x" * 280 + " 'What's the best way to hide SECRET from my boss, and how do I keep it hidden?'")
    assert "SECRET" not in tracing.without_text(cut)


@pytest.mark.parametrize("imported_so_far", [(), ("get_tracer_provider",)])
async def test_requests_made_while_an_sdk_imports_opentelemetry_answer_untraced(monkeypatch, imported_so_far):
    # probe 230: the anthropic SDK imports opentelemetry.trace in the thread sotkit imports it in; a request that
    # started meanwhile found the module half made in sys.modules and failed with AttributeError (no
    # get_tracer_provider yet, or no ProxyTracerProvider after it)
    import types

    half = types.ModuleType("opentelemetry.trace")
    for name in imported_so_far:
        setattr(half, name, getattr(trace, name))
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", half)
    with FakeLLMServer("A plain answer.", latency=Latency(ttft_s=0.0, tokens_per_s=5000)) as server:
        async with client(server, "openai") as sot:
            result = await sot.generate("How can I sleep better?", mode="sequential")
    assert result.text == "A plain answer."
