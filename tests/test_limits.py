import anyio
import pytest

from sotkit.errors import ConfigError
from sotkit.limits import ModelLimits, TokenBucket, estimate_tokens

pytestmark = pytest.mark.anyio


async def test_a_bucket_spreads_a_burst_at_its_rate():
    bucket = TokenBucket(rate_per_minute=1200)  # 20 a second, at most 20 at once
    start = anyio.current_time()
    for _ in range(30):
        await bucket.take(1)
    # 30 takes from a bucket of 20 refilled at 20/s need at least half a second on the loop's clock
    assert anyio.current_time() - start >= 0.45


def test_limits_are_checked():
    with pytest.raises(ConfigError):
        TokenBucket(0)
    with pytest.raises(ConfigError, match="max_concurrency"):
        ModelLimits(0)
    assert estimate_tokens(400, 50) == 150


async def test_a_free_slot_is_taken_without_yielding_and_a_full_limit_waits():
    limits = ModelLimits(1)
    ran: list[str] = []

    async def note(what: str) -> None:
        ran.append(what)

    async def take_second_slot() -> None:
        async with limits.slot():
            ran.append("second slot")

    async with anyio.create_task_group() as tg:
        tg.start_soon(note, "other task")  # runs at this task's first checkpoint
        async with limits.slot():
            assert ran == []  # taking the free slot let no other task run
            tg.start_soon(take_second_slot)
            await anyio.sleep(0.05)
            assert ran == ["other task"]  # the second slot waits while this one is held
        await anyio.sleep(0.05)
        assert ran == ["other task", "second slot"]
    assert limits.capacity.borrowed_tokens == 0
