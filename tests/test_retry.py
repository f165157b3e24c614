import email.utils
import re
import time

import pytest

from sotkit.errors import ConfigError
from sotkit.retry import RetryAfterTooLong, RetryPolicy, is_retryable, retry_after_s


class Response:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


class StatusError(Exception):
    """Shaped like the SDKs' APIStatusError: a status code and the response."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.response = Response(headers or {})


@pytest.mark.parametrize("status, retried", [(408, True), (409, True), (429, True), (500, True), (503, True),
                                             (529, True), (400, False), (401, False), (403, False),
                                             (404, False), (422, False)])
def test_which_statuses_are_retried(status, retried):
    assert is_retryable(StatusError(status)) is retried


def test_transport_failures_are_retried_and_bugs_are_not():
    assert is_retryable(TimeoutError()) and is_retryable(ConnectionResetError())
    assert is_retryable(KeyError("x"), transient=(KeyError,))
    assert not is_retryable(ValueError("a bug"))


def test_retry_after_in_every_form():
    assert retry_after_s(StatusError(429, {"retry-after-ms": "250"})) == 0.25
    assert retry_after_s(StatusError(429, {"retry-after": "3"})) == 3.0
    future = email.utils.formatdate(time.time() + 3600, usegmt=True)  # an hour away: the test's own pace is noise
    assert 3500 <= retry_after_s(StatusError(429, {"retry-after": future})) <= 3600
    assert retry_after_s(StatusError(429, {"retry-after": "soon"})) is None
    assert retry_after_s(StatusError(429, {"retry-after": "1, 30"})) == 1.0  # sent twice, joined: the first counts
    assert retry_after_s(StatusError(429)) is None and retry_after_s(ValueError()) is None


def test_the_wait_is_the_larger_of_backoff_and_the_server_demand():
    policy = RetryPolicy(initial_wait_s=1.0, max_wait_s=60)
    for attempt in (1, 2, 3):
        assert 2 ** (attempt - 1) * 0.5 <= policy.wait_s(attempt, ValueError()) <= 2 ** (attempt - 1)
    assert policy.wait_s(1, StatusError(429, {"retry-after": "7"})) == 7.0
    assert policy.wait_s(10, ValueError()) <= 60  # backoff is capped too


def test_a_demand_over_the_cap_fails_fast():
    error = StatusError(429, {"retry-after": "600"})
    with pytest.raises(RetryAfterTooLong, match=re.escape("600 s, over max_wait_s=60 s; raise RetryPolicy(max_wait_s=")) \
            as caught:
        RetryPolicy(max_wait_s=60).wait_s(1, error)
    assert caught.value.__cause__ is error
    with pytest.raises(RetryAfterTooLong, match=re.escape("over max_wait_s=0.4 s;")):  # it said 0 s (probe 98)
        RetryPolicy(max_wait_s=0.4).wait_s(1, error)
    with pytest.raises(RetryAfterTooLong, match=re.escape("retry after 0.5 s, over")):  # it said 0 s (review 100)
        RetryPolicy(max_wait_s=0.4).wait_s(1, StatusError(429, {"retry-after": "0.5"}))


def test_a_demand_of_exactly_the_cap_is_waited_for():
    assert RetryPolicy(initial_wait_s=0.01, max_wait_s=7).wait_s(1, StatusError(429, {"retry-after": "7"})) == 7.0


def test_a_demand_of_zero_or_in_the_past_means_no_wait():
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    assert retry_after_s(StatusError(429, {"retry-after": "0"})) == 0.0
    assert retry_after_s(StatusError(429, {"retry-after": past})) == 0.0


@pytest.mark.parametrize("bad, message", [
    ({"attempts": 0}, "RetryPolicy attempts=0: must be a whole number >= 1"),
    ({"attempts": "3"}, "RetryPolicy attempts='3': must be a whole number >= 1"),  # was a raw TypeError
    ({"attempts": 2.5}, "RetryPolicy attempts=2.5: must be a whole number >= 1"),
    ({"initial_wait_s": -1}, "RetryPolicy initial_wait_s=-1: must be a number >= 0"),
    ({"max_wait_s": 0}, "RetryPolicy max_wait_s=0: must be a number > 0"),
    ({"max_wait_s": "60"}, "RetryPolicy max_wait_s='60': must be a number > 0"),
])
def test_policy_bounds(bad, message):
    RetryPolicy(attempts=1, initial_wait_s=0)  # one try, no backoff: both allowed
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        RetryPolicy(**bad)


@pytest.mark.parametrize("field, code, retried", [("code", "insufficient_quota", False),
                                                  ("error_code", "enforced_spend_limit_reached", False),
                                                  ("error_code", "ramp_limit_exceeded", True),  # ramping up: a rate
                                                  ("code", "rate_limit_exceeded", True), ("code", 429, True),
                                                  ("code", {"kind": "quota"}, True), ("code", None, True)])
def test_a_429_is_retried_unless_its_code_says_the_quota_ran_out(field, code, retried):
    # review 210: another library's error with a 429 and an unhashable code raised TypeError in the check
    error = StatusError(429)
    setattr(error, field, code)
    assert is_retryable(error) is retried


def test_a_status_that_is_not_a_number_is_ignored():
    class OddTimeout(TimeoutError):
        status_code = "504"  # not an HTTP status an SDK would set: judged by its type instead

    assert is_retryable(OddTimeout())


@pytest.mark.anyio
@pytest.mark.parametrize("api", ["openai", "anthropic"])
@pytest.mark.parametrize("status, said, requests", [(503, "false", 1), (400, "true", 2), (503, "maybe", 2)])
async def test_the_servers_x_should_retry_overrules_the_status(api, status, said, requests):
    """The official SDKs obey ``x-should-retry`` before the status; sotkit turns their retries off, so it must too:
    a 503 the server says not to retry failed only after every attempt, a 400 it says to retry failed at once."""
    import sotkit
    from sotkit.testing import FakeLLMServer, Fault, Reply

    replies = [Reply("", fault=Fault.status(status, {"x-should-retry": said})), Reply("Keep it dark.")]
    with FakeLLMServer(replies) as server:
        url = server.openai_base_url if api == "openai" else server.anthropic_base_url
        async with sotkit.SoT(f"{api}:m", base_url=url, api_key="k", mode="sequential",
                              retry=RetryPolicy(attempts=3, initial_wait_s=0.01)) as sot:
            if requests == 1:
                with pytest.raises(Exception) as caught:
                    await sot.generate("Why is the sky dark at night?")
                assert getattr(caught.value, "status_code", None) == status
            else:
                assert (await sot.generate("Why is the sky dark at night?")).text == "Keep it dark."
    assert len(server.requests) == requests
