"""``result.usage.cost``: the genai-prices library's price for the tokens the server recorded, the user's own
prices, None where the price is unknown, 0.0 for in-process models."""

import dataclasses
import json
import pickle
import warnings

import genai_prices
import pytest

import sotkit
from sotkit.pricing import Prices
from sotkit.testing import FakeLLMServer, Fault, Latency, Reply
from tests.conftest import point_of, sot_responder
from tests.test_coordinator import NO_USAGE

pytestmark = pytest.mark.anyio

SKELETON = "1. Sleep well\n2. Move daily\n3. Eat plants"
FAST = Latency(ttft_s=0.0, tokens_per_s=2000)
KNOWN = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-6"}


def library_usd_per_mtok(provider: str, model: str) -> tuple[float, float]:
    """The library's (input, output) price in USD per million tokens for a short call, read as it prices a
    thousand of each (long prompts may cost more a token: see the tier test below)."""
    def price(input_tokens: int, output_tokens: int) -> float:
        return float(genai_prices.calc_price(genai_prices.Usage(input_tokens=input_tokens,
                                                                output_tokens=output_tokens),
                                             model, provider_id=provider).total_price) * 1000
    return price(1000, 0), price(0, 1000)


async def test_a_known_models_cost_is_the_librarys_price_for_the_recorded_tokens(provider):
    model = KNOWN[provider]
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        async with sotkit.SoT(f"{provider}:{model}", base_url=base_url, api_key="k", mode="sot") as sot:
            result = await sot.generate("How can I be healthier?")
    input_tokens = sum(r.usage.input_tokens for r in server.requests)
    output_tokens = sum(r.usage.output_tokens for r in server.requests)
    usd_in, usd_out = library_usd_per_mtok(provider, model)
    assert usd_in > 0 and usd_out > usd_in  # a real price, output dearer, as for every API model
    assert len(server.requests) == 4 and not result.usage.estimated
    assert result.usage.cost == pytest.approx((input_tokens * usd_in + output_tokens * usd_out) / 1e6, rel=1e-9)


async def test_prompt_cache_reads_and_writes_are_priced_at_the_librarys_cache_prices(provider):
    """OpenAI reports its cache's reads in ``prompt_tokens_details.cached_tokens`` (within ``prompt_tokens``);
    Anthropic reports reads and writes beside an ``input_tokens`` that excludes both. Either way they are parts of
    ``usage.input_tokens``, priced at the model's cache prices (a half or a tenth of its input price)."""
    model = KNOWN[provider]
    writes = 300 if provider == "anthropic" else 0  # OpenAI bills no cache writes
    counted = sotkit.providers.base.CallUsage(2000, 40, cache_read_tokens=1500, cache_write_tokens=writes)

    def cached(request):
        return dataclasses.replace(sot_responder(SKELETON)(request), usage=counted)

    with FakeLLMServer(cached, latency=FAST) as server:
        base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        async with sotkit.SoT(f"{provider}:{model}", base_url=base_url, api_key="k", mode="sot") as sot:
            result = await sot.generate("How can I be healthier?")
    price = genai_prices.calc_price(genai_prices.Usage(), model, provider_id=provider).model_price
    usd = {name: float(getattr(price, f"{name}_mtok") or 0)
           for name in ("input", "cache_read", "cache_write", "output")}
    assert usd["cache_read"] < usd["input"]  # a real discount, or the test could not tell
    uncached = 2000 - 1500 - writes
    per_call = (uncached * usd["input"] + 1500 * usd["cache_read"] + writes * usd["cache_write"]
                + 40 * usd["output"]) / 1e6
    usage = result.usage
    assert (usage.calls, usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (
        4, 8000, 6000, 4 * writes)
    assert usage.cost == pytest.approx(4 * per_call, rel=1e-9)
    assert Prices({f"{provider}:{model}": (1.0, 1.0)}).cost(f"{provider}:{model}", 2000, 40, 1500, writes) == \
        pytest.approx(2040 / 1e6)  # an override has no cache prices: its input price for every input token


async def test_anthropic_cache_writes_that_stay_an_hour_are_priced_at_their_own_price():
    # probe 251: writes with "ttl": "1h" (twice the input price) were priced as the five-minute ones (1.25 times)
    counted = sotkit.providers.base.CallUsage(100_000, 10, cache_write_tokens=100_000, cache_write_1h_tokens=40_000)
    with FakeLLMServer(Reply("Sleep more.", usage=counted), latency=FAST) as server:
        async with sotkit.SoT("anthropic:claude-sonnet-4-6", base_url=server.anthropic_base_url, api_key="k",
                              mode="sequential") as sot:
            result = await sot.generate("How can I be healthier?")
    price = genai_prices.calc_price(genai_prices.Usage(), "claude-sonnet-4-6", provider_id="anthropic").model_price
    assert float(price.cache_write_1h_mtok) > float(price.cache_write_mtok)  # or the test could not tell
    expected = (40_000 * float(price.cache_write_1h_mtok) + 60_000 * float(price.cache_write_mtok)
                + 10 * float(price.output_mtok)) / 1e6
    assert result.usage.cost == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("ended_by", ["deadline", "stopping a runaway", "a stall before any text"])
async def test_a_call_the_client_ends_keeps_the_prompt_counts_anthropic_sent_ahead(ended_by):
    # message_start counts the prompt, cache reads too: a call the client ended (a deadline, a runaway stopped)
    # was charged a character estimate instead, the cache's share lost (a cost 2.2 times the truth; probe 95)
    counted = sotkit.providers.base.CallUsage(5000, 40, cache_read_tokens=4500)
    slow = Latency(ttft_s=0.0, tokens_per_s=4)

    def respond(request):
        if point_of(request) == 2:  # slow, or on past its budget
            if ended_by == "deadline":
                return Reply("Rest well. " * 10, latency=slow, usage=counted)
            if ended_by == "a stall before any text":  # message_start came, then nothing (review 96)
                return Reply("Rest well.", usage=counted, fault=Fault.stall(after_tokens=0, seconds=5))
            return Reply("Rest well.", usage=counted, fault=Fault.runaway(tokens=2000))
        return dataclasses.replace(sot_responder(SKELETON)(request), usage=counted)

    with FakeLLMServer(respond, latency=FAST) as server:
        async with sotkit.SoT("anthropic:claude-sonnet-4-6", base_url=server.anthropic_base_url, api_key="k",
                              mode="sot", point_max_tokens=20, retry=sotkit.RetryPolicy(attempts=1),
                              first_token_timeout=1.0, on_point_error="skip") as sot:
            if ended_by == "deadline":
                with pytest.raises(sotkit.DeadlineExceeded) as raised:
                    await sot.generate("How can I be healthier?", deadline=1.0)
                result = raised.value.partial
            else:  # the server ignores point_max_tokens: sotkit ends the call
                result = await sot.generate("How can I be healthier?")
    point = result.points[1]
    assert (point.failed if ended_by == "a stall before any text" else point.truncated)
    assert result.usage.estimated_calls == 1
    assert (result.usage.calls, result.usage.input_tokens, result.usage.cache_read_tokens) == (4, 20000, 18000)


async def test_an_unknown_model_costs_none_and_a_given_price_overrides():
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        async with sotkit.SoT("openai:my-finetune", base_url=server.openai_base_url, api_key="k", mode="sot") as sot:
            unknown = await sot.generate("How can I be healthier?")
        tokens = [(r.usage.input_tokens, r.usage.output_tokens) for r in server.requests]
        server.reset()
        prices = {"openai:my-finetune": (2.0, 8.0), "openai:gpt-4o-mini": (100.0, 100.0)}
        async with sotkit.SoT("openai:my-finetune", base_url=server.openai_base_url, api_key="k", mode="sot",
                              prices=prices) as sot:
            priced = await sot.generate("How can I be healthier?")
        async with sotkit.SoT("openai:gpt-4o-mini", base_url=server.openai_base_url, api_key="k", mode="sequential",
                              prices=prices) as sot:
            overridden = await sot.generate("How can I be healthier?")
    assert unknown.usage.cost is None and unknown.usage.calls == 4  # unknown, never a 0 that reads as free
    assert priced.usage.cost == pytest.approx(sum(i * 2.0 + o * 8.0 for i, o in tokens) / 1e6)
    last = server.requests[-1].usage
    assert overridden.usage.cost == pytest.approx((last.input_tokens + last.output_tokens) * 100.0 / 1e6)
    # the prices travel with a result that is copied or pickled, and stay out of its plain data
    assert pickle.loads(pickle.dumps(priced)).usage.cost == priced.usage.cost
    assert json.loads(json.dumps(dataclasses.asdict(priced)))["usage"]["calls"] == 4
    # an app's HTTP response: asdict() leaves out what is derived (the cost, the titles, which points are whole)
    data = json.loads(json.dumps(priced.to_dict()))
    assert data["usage"]["cost"] == pytest.approx(priced.usage.cost) and data["usage"]["estimated"] is False
    assert data["skeleton"] == priced.skeleton == ["Sleep well", "Move daily", "Eat plants"]
    assert [p["done"] for p in data["points"]] == [True] * 3 and data["text"] == priced.text
    assert "priced_calls" not in data["usage"]


async def test_a_fallback_without_a_price_makes_the_cost_unknown_and_with_one_adds_it():
    def point_2_fails(request):
        reply = sot_responder(SKELETON)(request)
        return Reply(reply.text, fault=Fault.status(400)) if point_of(request) == 2 else reply

    costs = {}
    for fallback_price in (None, (1.0, 1.0)):
        prices = {"openai:main": (1.0, 1.0)} | ({"openai:backup": fallback_price} if fallback_price else {})
        with FakeLLMServer(point_2_fails, latency=FAST) as server, \
                FakeLLMServer(sot_responder(SKELETON), latency=FAST) as backup:
            fallback = sotkit.providers.create_provider("openai:backup", api_key="k", base_url=backup.openai_base_url)
            async with sotkit.SoT("openai:main", base_url=server.openai_base_url, api_key="k", mode="sot",
                                  fallback=fallback, prices=prices) as sot:
                result = await sot.generate("How can I be healthier?")
            await fallback.aclose()
        assert result.points[1].model == "openai:backup"
        recorded = [r.usage for r in server.requests + backup.requests if r.usage and r.fault is None]
        costs[fallback_price] = (result.usage.cost, sum(u.input_tokens + u.output_tokens for u in recorded) / 1e6)
    assert costs[None][0] is None
    assert costs[(1.0, 1.0)][0] == pytest.approx(costs[(1.0, 1.0)][1])


async def test_estimated_usage_gives_an_estimated_cost():
    with FakeLLMServer(Reply("A plain answer, forty characters long."), latency=FAST) as server:
        async with sotkit.SoT("openai:gpt-4o-mini", base_url=server.openai_base_url, api_key="k",
                              mode="sequential", extra_body=NO_USAGE) as sot:
            result = await sot.generate("How can I be healthier?")
    usd_in, usd_out = library_usd_per_mtok("openai", "gpt-4o-mini")
    assert result.usage.estimated  # the flag that covers the tokens covers the cost computed from them
    assert result.usage.cost == pytest.approx((result.usage.input_tokens * usd_in + 10 * usd_out) / 1e6)


def test_local_models_cost_nothing_and_other_providers_are_unknown():
    prices = Prices()
    assert prices.cost("local:smollm2", 1000, 1000) == 0.0
    assert prices.cost("local:/models/my-model", 1000, 1000) == 0.0
    # a path with a colon of its own (probe 314: a mutant reading the provider after the last colon survived)
    assert prices.cost("local:C:\\models\\smollm2", 1000, 1000) == prices.cost("local:/runs/lud:2024-06", 1, 1) == 0.0
    assert prices.cost("someday:model", 1000, 1000) is None
    assert prices.cost("openai:gpt-4o-mini", 0, 0) == 0.0
    assert Prices({"local:smollm2": (1.0, 3.0)}).cost("local:smollm2", 10, 10) == pytest.approx(4e-5)


def test_a_long_prompts_tier_is_priced_per_call():
    """claude-sonnet-4-5 charges 3 USD per million input tokens, 6 for a prompt over 200k tokens: each call is
    priced on its own tokens, never on a request's total."""
    prices = Prices()
    short, long = (100_000, 0), (300_000, 0)
    assert prices.cost("anthropic:claude-sonnet-4-5", *short) == pytest.approx(0.3)
    assert prices.cost("anthropic:claude-sonnet-4-5", *long) == pytest.approx(1.8)


def test_usage_sums_cost_and_unknown_is_sticky():
    prices = Prices({"openai:a": (1.0, 1.0), "openai:b": (2.0, 2.0)})
    total = sotkit.Usage(prices=prices)
    assert total.cost == 0.0
    total.add(sotkit.Usage(1, 1, 1, priced_calls=[("openai:a", 100_000, 150_000)]))
    total.add(sotkit.Usage(1, 1, 1, priced_calls=[("openai:b", 0, 250_000)]))
    assert total.cost == pytest.approx(0.75)
    total.add(sotkit.Usage(1, 1, 1, priced_calls=[("openai:unknown-model", 1, 1)]))
    total.add(sotkit.Usage(1, 1, 1, priced_calls=[("openai:a", 1, 1)]))
    assert total.cost is None


def test_a_sum_of_requests_usage_is_priced_with_their_clients_prices():
    # a sum started empty priced them at the library's price (47 times less), or not at all (probe 55)
    ours = Prices({"openai:gpt-4o-mini": (10.0, 20.0), "openai:in-house": (1.0, 2.0)})
    first = sotkit.Usage(priced_calls=[("openai:gpt-4o-mini", 1_000, 500)], prices=ours)
    second = sotkit.Usage(priced_calls=[("openai:in-house", 1_000, 500)],
                          prices=Prices({"openai:in-house": (1.0, 2.0)}))
    total = sotkit.Usage()
    total.add(first)
    total.add(second)
    assert total.cost == pytest.approx(first.cost + second.cost) == pytest.approx(0.02 + 0.002)
    # one model priced apart by two clients, or by one client and the library (probe 58: 6.0 for 3.5, 0.0 for 0.15)
    cheap, dear = (Prices({"openai:llama-3-70b": price}) for price in ((0.5, 0.5), (3.0, 3.0)))
    total = sotkit.Usage()
    for prices in (cheap, dear):
        total.add(sotkit.Usage(priced_calls=[("openai:llama-3-70b", 1_000_000, 0)], prices=prices))
    assert total.cost == pytest.approx(3.5)
    listed = sotkit.Usage(priced_calls=[("openai:gpt-4o-mini", 1_000_000, 0)], prices=Prices())
    free = sotkit.Usage(priced_calls=[("openai:gpt-4o-mini", 1_000_000, 0)],
                        prices=Prices({"openai:gpt-4o-mini": (0, 0)}))
    listed.add(free)
    listed.add(sotkit.Usage(priced_calls=[("openai:gpt-4o-mini", 1_000_000, 0)]))  # no prices: the sum's own
    assert listed.cost == pytest.approx(2 * Prices().cost("openai:gpt-4o-mini", 1_000_000, 0))
    total.add(total)  # twice itself (it never returned: probe 59)
    assert total.cost == pytest.approx(7.0)


def test_the_price_table_is_loaded_only_when_a_cost_is_read():
    import subprocess
    import sys

    code = ("import sys, sotkit; u = sotkit.Usage(priced_calls=[('openai:gpt-4o-mini', 10, 10)]); "
            "before = 'genai_prices' in sys.modules; cost = u.cost; print(before, 'genai_prices' in sys.modules, "
            "cost > 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "True"]


def test_prices_never_come_from_the_network():
    Prices().cost("openai:gpt-4o-mini", 10, 10)
    snapshot = genai_prices.data_snapshot.get_snapshot()
    assert snapshot.from_auto_update is False  # the bundled table: UpdatePrices (a GitHub fetch) never started


@pytest.mark.parametrize(("prices", "message"), [
    ([("openai:m", (1, 2))], r"prices=\[.*must be a dict of model string to \(input, output\) USD per million"),
    ({"gpt-4o-mini": (1, 2)}, r"the key 'gpt-4o-mini' must be a 'provider:model' string"),
    ({" openai:m": (1, 2)}, r"the key ' openai:m' must be a 'provider:model' string, as passed to SoT \(no white"),
    ({"openai:m\n": (1, 2)}, r"the key 'openai:m\\n' must be"),  # a line end kept from a file: priced nothing
    ({"openai: m": (1, 2)}, r"the key 'openai: m' must be"),
    ({"openai:m": 1.5}, r"prices\['openai:m'\]=1.5: must be \(input, output\) USD per million tokens"),
    ({"openai:m": (1, 2, 3)}, r"must be \(input, output\)"),
    ({"openai:m": (-1, 2)}, r"prices\['openai:m'\] input USD per million tokens=-1: must be a number >= 0"),
    ({"openai:m": (1, float("nan"))}, r"output USD per million tokens=nan: must be a finite number >= 0"),
    ({"openai:m": ("1", 2)}, r"input USD per million tokens='1': must be a number >= 0"),
])
def test_bad_prices_are_refused_with_what_to_pass(prices, message):
    with pytest.raises(sotkit.ConfigError, match=message):
        sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k", prices=prices)


async def test_a_prices_key_with_a_typo_of_the_models_name_is_warned_of_once_when_the_cost_is_unknown():
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        with pytest.warns(UserWarning, match="prices= has 'openai:my-fintune' but not 'openai:my-finetune'"):
            sot = sotkit.SoT("openai:my-finetune", base_url=server.openai_base_url, api_key="k", mode="sot",
                             prices={"openai:my-fintune": (0.3, 1.2)})
        async with sot:
            result = await sot.generate("How can I be healthier?")
    with pytest.warns(UserWarning) as caught:
        assert result.usage.cost is None
        assert result.usage.cost is None  # read again: warned once
    [warning] = [w for w in caught if issubclass(w.category, UserWarning)]  # not another test's ResourceWarning
    assert str(warning.message) == ("no price is known for 'openai:my-finetune', so its cost is None; prices= has "
                                    "'openai:my-fintune': a typo of 'openai:my-finetune'?")
    assert warning.filename == __file__  # the line that read the cost


@pytest.mark.parametrize(("model", "key"), [
    ("openai:my-finetune", "anthropic:my-finetune"),  # its name under the other provider
    ("openai:gpt-4o", "anthropic:GPT-4o"),  # so also for a model the library prices: the key would go unused
])
def test_a_prices_key_for_the_models_name_under_another_provider_is_warned_of_where_the_client_is_built(model, key):
    with pytest.warns(UserWarning, match=f"prices= has {key!r} but not {model!r}, a model of this client: a typo?"):
        sotkit.SoT(model, base_url="http://127.0.0.1:9/v1", api_key="k", prices={key: (0.3, 1.2)})


@pytest.mark.parametrize(("model", "prices"), [
    ("openai:my-finetune", {"openai:gpt-4o-mini": (1.0, 1.0)}),  # a table for other clients' models too
    ("openai:my-finetune", {"openai:my-finetune": (1.0, 1.0), "openai:my-finetune-v2": (2.0, 2.0)}),  # priced
    ("anthropic:claude-sonnet-4-6", {"anthropic:claude-sonnet-4-5": (3.0, 15.0)}),  # a sibling the library prices
    ("local:smollm2", {"local:smollm3": (1.0, 1.0)}),  # free: nothing unknown
    ("openai:ft-alpha", {"openai:ft-omega": (1.0, 1.0)}),  # unknown, but no key looks like its name
    ("openai:llama-3", {"local:llama-3": (0.1, 0.1)}),  # one model run two ways, one of them in-process
    ("local:llama-3", {"openai:llama-3": (0.1, 0.1)}),
])
def test_prices_for_other_models_are_no_error_and_no_warning(model, prices, recwarn):
    table = Prices(prices)
    table.cost(model, 10, 10)
    assert not recwarn.list


def test_a_call_that_spent_no_tokens_costs_nothing_even_at_an_unknown_price():
    # the API model refused every attempt before it started (a closed port) and the local fallback answered: the
    # request cost 0, not "unknown"
    usage = sotkit.Usage(10, 5, 4, priced_calls=[("openai:my-model", 0, 0)] * 3 + [("local:smollm2", 10, 5)])
    assert usage.cost == 0.0
    usage.priced_calls.append(("openai:my-model", 1, 0))  # one token there: its price is needed, and unknown
    assert usage.cost is None


@pytest.mark.parametrize("price", [(3e-7, 1.2e-6), (0.00015, 0.0006), (0.0003, 0.0012)])  # per token, per 1K
def test_prices_that_look_given_per_token_are_warned_of_where_the_client_is_built(price):
    # (0.0003, 0.0012), OpenAI's per-1K way of writing 0.30 and 1.20, was not: only where both were below 0.001
    with pytest.warns(UserWarning, match=r"look like prices per token or per thousand \(multiply by 1e6 or 1e3\)") \
            as caught:
        sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k", prices={"openai:m": price})
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a free model, and a cheap real price, are no mistake
        sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k", prices={"openai:m": (0.0, 0.02)})


@pytest.mark.parametrize("key", ["openai:gpt-4o-mni", "OpenAI:gpt-4o-mini", "openai:GPT-4o-mini"])
def test_a_prices_key_one_slip_from_a_priced_model_of_the_client_is_warned_of_where_the_client_is_built(key,
                                                                                                     monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k")  # the fallback's
    # the library prices gpt-4o-mini, so its cost was never unknown and the override was lost without a word
    with pytest.warns(UserWarning, match=f"prices= has '{key}' but not 'openai:gpt-4o-mini', a model of this client: "
                                         "a typo") as caught:
        sotkit.SoT("openai:gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="k", prices={key: (0.3, 1.2)})
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a sibling the library prices: a table for several clients, no typo
        sotkit.SoT("openai:gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="k",
                   prices={"openai:gpt-4o": (2.5, 10.0)}, fallback="openai:gpt-4.1-mini")
        # a key for the client's other model (its fallback), a sibling's name: no typo (probe 73)
        sotkit.SoT("openai:my-model-v2", base_url="http://127.0.0.1:9/v1", api_key="k",
                   prices={"openai:my-model-v1": (1.0, 2.0)}, fallback="openai:my-model-v1")
    with pytest.warns(UserWarning, match="prices= has 'openai:my-modle' but not 'openai:my-model'"):
        # the fallback's key, closer still, hid the typo beside it (probe 75)
        sotkit.SoT("openai:my-model", base_url="http://127.0.0.1:9/v1", api_key="k", fallback="openai:my-model2",
                   prices={"openai:my-modle": (1.0, 2.0), "openai:my-model2": (1.0, 2.0)})
    with pytest.warns(UserWarning, match="prices= has 'openai:gtp-4o-mnii' but not 'openai:gpt-4o-mini'"):
        # and so did a closer key the library prices (probe 76)
        sotkit.SoT("openai:gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="k",
                   prices={"openai:gtp-4o-mnii": (1.0, 2.0), "openai:gpt-4o-mini-tts": (1.0, 2.0)})
    sot = sotkit.SoT("openai:my-model", base_url="http://127.0.0.1:9/v1", api_key="k", fallback="openai:my-model2",
                     prices={"openai:my-model2": (1.0, 2.0)})
    usage = sotkit.Usage(10, 10, 1, priced_calls=[("openai:my-model", 10, 10)], prices=sot.prices)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the main model is unknown; the fallback's key is no typo of its name
        assert usage.cost is None


async def test_a_service_tier_is_priced_at_its_rates():
    # probe 140: a call the server served at OpenAI's priority tier (every chunk says so) was priced at the standard
    # rates, half its price; one at the flex tier at twice it
    def library(tier: str | None, input_tokens: int, output_tokens: int) -> float:
        return float(genai_prices.calc_price(genai_prices.Usage(input_tokens=input_tokens, output_tokens=output_tokens),
                                             "gpt-5", provider_id="openai",
                                             price_context={"service_tier": tier} if tier else None).total_price)

    assert library("priority", 1000, 1000) > library(None, 1000, 1000) > library("flex", 1000, 1000)
    costs = {}
    with FakeLLMServer("A plain answer of a few words.", latency=FAST) as server:
        for tier in ("priority", "flex", None):
            async with sotkit.SoT("openai:gpt-5", base_url=server.openai_base_url, api_key="k", mode="sequential",
                                  extra_body={"service_tier": tier} if tier else None) as sot:
                usage = (await sot.generate("Why?")).usage
            assert not usage.estimated and usage.priced_calls[0][5] == (tier or "default")
            costs[tier] = (usage.cost, library(tier, usage.input_tokens, usage.output_tokens))
    assert all(cost == pytest.approx(expected) for cost, expected in costs.values())
    assert costs["priority"][0] > costs[None][0] > costs["flex"][0]


def test_a_call_is_priced_at_the_prices_of_its_day():
    # probe 140: a result's cost was priced at the prices of the day it was read, so the same result (kept, or
    # pickled) read after a price change said another cost
    import datetime

    then = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)

    def library(at: datetime.datetime | None) -> float:
        return float(genai_prices.calc_price(genai_prices.Usage(input_tokens=10**6, output_tokens=10**6),
                                             "claude-sonnet-4-6", provider_id="anthropic",
                                             genai_request_timestamp=at).total_price)

    call = ("anthropic:claude-sonnet-4-6", 10**6, 10**6, 0, 0, None, then.timestamp())
    assert sotkit.Usage(priced_calls=[call]).cost == pytest.approx(library(then))
    if library(then) == library(None):
        pytest.skip("this genai-prices lists no change of this model's price since 2026-03-01")
    assert sotkit.Usage(priced_calls=[call]).cost != pytest.approx(library(None))


def test_tokens_no_call_priced_have_an_unknown_cost_not_a_free_one():
    # probe 144: a Usage built by hand (or from to_dict()'s token fields) with a million tokens cost 0.0
    assert sotkit.Usage(input_tokens=1_000_000, output_tokens=1_000_000, calls=1).cost is None
    total = sotkit.Usage()
    total.add(sotkit.Usage(10, 5, 1))
    assert total.cost is None
    assert sotkit.Usage().cost == 0.0  # no tokens: nothing spent
    priced = sotkit.Usage(10, 5, 1, priced_calls=[("local:smollm2", 10, 5)])
    assert priced.cost == 0.0  # every token in a call of its own: priced


@pytest.mark.parametrize(("model", "key"), [
    ("openai:gpt-4o-mini-2024-07-18", "openai:gpt-4o-mini"), ("openai:gpt-4o-mini", "openai:gpt-4o-mini-2024-07-18"),
    ("anthropic:claude-haiku-4-5", "anthropic:claude-haiku-4.5"),
])
def test_a_prices_key_naming_the_model_otherwise_is_warned_of_when_the_cost_is_read(model, key):
    # probe 144: a key the library takes for the same model (a dated snapshot, another spelling) was ignored without
    # a word, the model priced at the library's price. Not applied (review 145): the library gives one name to some
    # models that are not the same (gpt-5-chat-latest and gpt-5), whose prices would then be taken for each other
    table = Prices({key: (30.0, 30.0)})
    table.check_models([model])  # no warning yet: the cost is read below
    with pytest.warns(UserWarning, match=f"'{model}' is priced at genai-prices' price: prices= has '{key}', which "
                                         "the library takes for the same model") as caught:
        cost = table.cost(model, 1_000_000, 1_000_000)
        table.cost(model, 1, 1)  # warned once
    assert cost != 60.0 and len([w for w in caught if issubclass(w.category, UserWarning)]) == 1
    assert Prices({model: (1.0, 1.0), key: (30.0, 30.0)}).cost(model, 1_000_000, 0) == 1.0  # its own key prices it
