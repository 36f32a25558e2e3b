"""Logic of the OpenAI-compatible backend against ``httpx.MockTransport`` (no network).

The real server is exercised in ``test_server_integration.py``.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from forage.core.budget import Budget
from forage.core.errors import AuthError, BadResponse, ConfigError, ConnectError, ServerError
from forage.llm import metered
from forage.llm.base import LLM, LLMRequest, Message
from forage.llm.openai_compat import (
    OpenAICompatLLM,
    api_key_from_env,
    backoff_delay,
    parse_retry_after,
    redact_url,
    snippet,
)

Handler = Callable[[httpx.Request], httpx.Response]


class Sleeps:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def completion_body(text: str = "Paris", *, usage: bool = True, **extra: object) -> dict:
    body: dict = {
        "id": "cmpl-1",
        "object": "text_completion",
        "model": "m",
        "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    body.update(extra)
    return body


def chat_body(text: str = "Paris", **extra: object) -> dict:
    body: dict = {
        "id": "chat-1",
        "object": "chat.completion",
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }
    body.update(extra)
    return body


def make_llm(handler: Handler, sleeps: Sleeps | None = None, **kwargs: object) -> OpenAICompatLLM:
    return OpenAICompatLLM(
        "http://test.invalid/v1",
        "m",
        transport=httpx.MockTransport(handler),
        sleep=sleeps if sleeps is not None else Sleeps(),
        **kwargs,  # type: ignore[arg-type]
    )


def scripted(*replies: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with ``replies`` in order (exceptions are raised as transport errors)."""
    queue = list(replies)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = queue.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    return handler, seen


PROMPT = LLMRequest(prompt="The capital of France is", max_tokens=4)


# -- request mapping ------------------------------------------------------------------------------


async def test_completion_request_maps_every_field_to_the_completions_endpoint() -> None:
    handler, seen = scripted(httpx.Response(200, json=completion_body()))
    llm = make_llm(handler, api_key="sk-test", supports_grammar=True)
    request = LLMRequest(
        prompt="Q:", max_tokens=5, temperature=0.7, top_p=0.9, stop=("\n",), seed=3,
        grammar='root ::= "a"',
    )
    response = await llm.complete(request)
    assert response.text == "Paris"
    assert response.usage.prompt_tokens == 7 and response.usage.completion_tokens == 2
    assert not response.usage.estimated
    (sent,) = seen
    assert sent.url == httpx.URL("http://test.invalid/v1/completions")
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert json.loads(sent.content) == {
        "model": "m", "prompt": "Q:", "max_tokens": 5, "temperature": 0.7, "top_p": 0.9,
        "stop": ["\n"], "seed": 3, "grammar": 'root ::= "a"',
    }


async def test_chat_request_goes_to_chat_endpoint_with_messages() -> None:
    handler, seen = scripted(httpx.Response(200, json=chat_body("Rome")))
    llm = make_llm(handler)
    request = LLMRequest(messages=(Message(role="user", content="Capital of Italy?"),))
    response = await llm.complete(request)
    assert response.text == "Rome"
    assert response.usage.prompt_tokens == 11
    body = json.loads(seen[0].content)
    assert seen[0].url.path == "/v1/chat/completions"
    assert body["messages"] == [{"role": "user", "content": "Capital of Italy?"}]
    assert "authorization" not in seen[0].headers
    assert "n" not in body and "seed" not in body and "logprobs" not in body


async def test_logprobs_are_requested_and_returned_per_token_in_both_modes() -> None:
    completion = completion_body(" a b")
    completion["choices"][0]["logprobs"] = {"tokens": [" a", " b"], "token_logprobs": [-0.5, -1.5]}
    chat = chat_body("a b")
    chat["choices"][0]["logprobs"] = {
        "content": [{"token": "a", "logprob": -0.25}, {"token": " b", "logprob": -0.75}]
    }
    handler, seen = scripted(httpx.Response(200, json=completion), httpx.Response(200, json=chat))
    llm = make_llm(handler)
    r1 = await llm.complete(LLMRequest(prompt="x", logprobs=True))
    chat_request = LLMRequest(messages=(Message(role="user", content="x"),), logprobs=True)
    r2 = await llm.complete(chat_request)
    assert r1.choices[0].token_logprobs == (-0.5, -1.5)
    assert r1.choices[0].logprob == pytest.approx(-2.0)
    assert r2.choices[0].token_logprobs == (-0.25, -0.75)
    assert json.loads(seen[0].content)["logprobs"] == 1
    assert json.loads(seen[1].content)["logprobs"] is True
    assert json.loads(seen[1].content)["top_logprobs"] == 0


async def test_missing_logprobs_when_requested_is_a_bad_response() -> None:
    handler, _ = scripted(httpx.Response(200, json=completion_body()))
    with pytest.raises(BadResponse, match="logprobs"):
        await make_llm(handler).complete(LLMRequest(prompt="x", logprobs=True))


async def test_grammar_is_refused_unless_declared() -> None:
    handler, seen = scripted()
    llm = make_llm(handler)
    assert not llm.capabilities.supports_grammar
    with pytest.raises(ConfigError, match="grammar"):
        await llm.complete(LLMRequest(prompt="x", grammar='root ::= "a"'))
    assert seen == []


def test_capabilities_are_declared_from_constructor_arguments() -> None:
    llm = OpenAICompatLLM("http://h:1", "m", supports_n=True, context_window=2048)
    caps = llm.capabilities
    assert caps.supports_n and caps.context_window == 2048
    assert not caps.supports_kv_edit and not caps.exact_token_count
    assert isinstance(llm, LLM)
    assert llm.model_id == "m"
    assert llm.base_url == "http://h:1"


def test_count_tokens_uses_the_given_tokenizer_or_the_estimate() -> None:
    assert OpenAICompatLLM("http://h", "m").count_tokens("abcdefgh") == 2
    assert OpenAICompatLLM("http://h", "m", tokenizer=lambda t: len(t.split())).count_tokens(
        "one two three"
    ) == 3


def test_api_key_from_env_reads_only_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGE_TEST_KEY", "sk-abc")
    monkeypatch.setenv("FORAGE_EMPTY_KEY", "")
    monkeypatch.delenv("FORAGE_UNSET_KEY", raising=False)
    assert api_key_from_env("FORAGE_TEST_KEY") == "sk-abc"
    assert api_key_from_env("FORAGE_EMPTY_KEY") is None
    assert api_key_from_env("FORAGE_UNSET_KEY") is None


# -- retries --------------------------------------------------------------------------------------


async def test_429_retry_after_seconds_is_honoured() -> None:
    handler, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"message": "slow down"}}),
        httpx.Response(200, json=completion_body()),
    )
    sleeps = Sleeps()
    response = await make_llm(handler, sleeps).complete(PROMPT)
    assert response.text == "Paris"
    assert sleeps.delays == [7.0]
    assert len(seen) == 2


def test_retry_after_http_date_is_seconds_until_then() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_retry_after_as_http_date_reaches_the_sleep() -> None:
    handler, _ = scripted(
        httpx.Response(503, headers={"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}),
        httpx.Response(200, json=completion_body()),
    )
    sleeps = Sleeps()
    await make_llm(handler, sleeps).complete(PROMPT)
    assert sleeps.delays == [0.0]  # a date in the past: retry at once


async def test_a_retry_after_beyond_the_limit_is_raised_not_waited() -> None:
    handler, seen = scripted(httpx.Response(429, headers={"Retry-After": "3600"}))
    sleeps = Sleeps()
    with pytest.raises(ServerError) as info:
        await make_llm(handler, sleeps, max_retry_after=60).complete(PROMPT)
    assert info.value.status == 429 and info.value.retry_after == 3600.0
    assert sleeps.delays == [] and len(seen) == 1


async def test_backoff_grows_exponentially_within_jitter_bounds() -> None:
    handler, seen = scripted(*[httpx.Response(500, text="boom")] * 4,
                             httpx.Response(200, json=completion_body()))
    sleeps = Sleeps()
    llm = make_llm(handler, sleeps, backoff_base=1.0, backoff_max=5.0, jitter=0.5, max_retries=4)
    await llm.complete(PROMPT)
    assert len(seen) == 5
    steps = [1.0, 2.0, 4.0, 5.0]  # doubling, capped at backoff_max
    assert len(sleeps.delays) == 4
    for delay, step in zip(sleeps.delays, steps, strict=True):
        assert step <= delay <= step * 1.5
    assert len(set(sleeps.delays)) == 4


async def test_jitter_is_deterministic_for_a_seed() -> None:
    async def delays(seed: int) -> list[float]:
        handler, _ = scripted(
            *[httpx.Response(502)] * 3, httpx.Response(200, json=completion_body())
        )
        sleeps = Sleeps()
        await make_llm(handler, sleeps, seed=seed).complete(PROMPT)
        return sleeps.delays

    assert await delays(1) == await delays(1)
    assert await delays(1) != await delays(2)


def test_backoff_delay_bounds() -> None:
    rng = random.Random(0)
    for attempt in range(8):
        d = backoff_delay(attempt, rng, base=0.5, cap=4.0, jitter=0.25)
        step = min(4.0, 0.5 * 2**attempt)
        assert step <= d <= step * 1.25


async def test_5xx_then_success() -> None:
    handler, seen = scripted(httpx.Response(503, text="unavailable"),
                             httpx.Response(200, json=completion_body("ok")))
    sleeps = Sleeps()
    assert (await make_llm(handler, sleeps).complete(PROMPT)).text == "ok"
    assert len(seen) == 2 and len(sleeps.delays) == 1


async def test_connection_error_then_success() -> None:
    handler, seen = scripted(httpx.ConnectError("connection refused"),
                             httpx.ReadTimeout("timed out"),
                             httpx.Response(200, json=completion_body("ok")))
    sleeps = Sleeps()
    assert (await make_llm(handler, sleeps).complete(PROMPT)).text == "ok"
    assert len(seen) == 3 and len(sleeps.delays) == 2


async def test_exhausted_retries_raise_the_last_error() -> None:
    handler, seen = scripted(httpx.Response(500, text="first"), httpx.Response(502, text="second"),
                             httpx.Response(503, text="third"))
    sleeps = Sleeps()
    with pytest.raises(ServerError, match="third") as info:
        await make_llm(handler, sleeps, max_retries=2).complete(PROMPT)
    assert info.value.status == 503
    assert len(seen) == 3 and len(sleeps.delays) == 2


async def test_unreachable_server_is_a_connect_error_naming_the_url() -> None:
    handler, seen = scripted(*[httpx.ConnectError("[Errno 111] Connection refused")] * 2)
    with pytest.raises(ConnectError, match=r"http://test\.invalid/v1/completions"):
        await make_llm(handler, max_retries=1).complete(PROMPT)
    assert len(seen) == 2


async def test_401_is_an_auth_error_without_retry() -> None:
    handler, seen = scripted(httpx.Response(401, json={"error": {"message": "bad key"}}))
    sleeps = Sleeps()
    with pytest.raises(AuthError, match="bad key") as info:
        await make_llm(handler, sleeps).complete(PROMPT)
    assert info.value.status == 401
    assert len(seen) == 1 and sleeps.delays == []


async def test_other_4xx_is_a_server_error_without_retry() -> None:
    handler, seen = scripted(httpx.Response(400, json={"error": {"message": "max_tokens too big"}}))
    with pytest.raises(ServerError, match="max_tokens too big") as info:
        await make_llm(handler).complete(PROMPT)
    assert info.value.status == 400 and not info.value.is_retryable()
    assert type(info.value) is ServerError and len(seen) == 1


async def test_non_json_body_is_a_bad_response_with_a_short_message() -> None:
    html = "<html><head><title>502</title></head><body>" + "<p>gateway</p>" * 200 + "</body></html>"
    handler, seen = scripted(httpx.Response(200, text=html))
    with pytest.raises(BadResponse) as info:
        await make_llm(handler).complete(PROMPT)
    message = str(info.value)
    assert "\n" not in message and "<" not in message and len(message) < 300
    assert len(seen) == 1


async def test_truncated_json_is_a_bad_response() -> None:
    text = json.dumps(completion_body())[:40]
    handler, _ = scripted(httpx.Response(200, text=text))
    with pytest.raises(BadResponse, match="not valid JSON"):
        await make_llm(handler).complete(PROMPT)


async def test_reply_without_choices_is_a_bad_response() -> None:
    handler, _ = scripted(httpx.Response(200, json={"error": "model not loaded"}))
    with pytest.raises(BadResponse, match="no choices"):
        await make_llm(handler).complete(PROMPT)


def test_snippet_keeps_one_short_line() -> None:
    assert snippet('{"error": {"message": "quota exceeded"}}') == "quota exceeded"
    assert snippet("<h1>Bad\n  Gateway</h1>") == "Bad Gateway"
    long = snippet("x" * 1000)
    assert len(long) == 200 and long.endswith("...")


# -- usage ----------------------------------------------------------------------------------------


async def test_missing_usage_is_estimated_with_the_tokenizer() -> None:
    handler, _ = scripted(httpx.Response(200, json=completion_body("one two", usage=False)))
    llm = make_llm(handler, tokenizer=lambda t: len(t.split()))
    response = await llm.complete(LLMRequest(prompt="a b c d e"))
    assert response.usage.estimated
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (5, 2)


async def test_cached_prompt_tokens_are_read_from_usage_details() -> None:
    body = completion_body()
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": 5}
    handler, _ = scripted(httpx.Response(200, json=body))
    usage = (await make_llm(handler).complete(PROMPT)).usage
    assert usage.cached_prompt_tokens == 5 and usage.prompt_tokens == 7 and not usage.estimated


# -- n and concurrency ----------------------------------------------------------------------------


async def test_n_without_server_support_fans_out_with_consecutive_seeds() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert "n" not in body
        return httpx.Response(200, json=completion_body(f"seed {body['seed']}"))

    llm = make_llm(handler)
    response = await llm.complete(LLMRequest(prompt="x", n=3, seed=10, temperature=0.8))
    assert [c.text for c in response.choices] == ["seed 10", "seed 11", "seed 12"]
    assert response.usage.prompt_tokens == 21 and response.usage.completion_tokens == 6
    assert not response.usage.estimated


async def test_fan_out_marks_usage_estimated_when_any_part_was() -> None:
    replies = iter([completion_body("a"), completion_body("b", usage=False)])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(replies))

    response = await make_llm(handler, concurrency=1).complete(LLMRequest(prompt="x", n=2))
    assert response.usage.estimated
    assert len(response.choices) == 2


async def test_n_with_server_support_is_one_call() -> None:
    body = completion_body()
    body["choices"] = [
        {"index": 1, "text": "second", "finish_reason": "stop"},
        {"index": 0, "text": "first", "finish_reason": "length"},
    ]
    handler, seen = scripted(httpx.Response(200, json=body))
    llm = make_llm(handler, supports_n=True)
    response = await llm.complete(LLMRequest(prompt="x", n=2, seed=4))
    assert len(seen) == 1 and json.loads(seen[0].content)["n"] == 2
    assert [c.text for c in response.choices] == ["first", "second"]
    assert response.choices[0].finish_reason == "length"


async def test_a_failing_fan_out_call_raises_its_own_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["seed"] == 1:
            return httpx.Response(401, text="nope")
        return httpx.Response(200, json=completion_body())

    with pytest.raises(AuthError):
        await make_llm(handler).complete(LLMRequest(prompt="x", n=3, seed=0))


async def test_concurrency_limit_is_never_exceeded() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return httpx.Response(200, json=completion_body())

    llm = make_llm(handler, concurrency=3)  # type: ignore[arg-type]
    requests = [LLMRequest(prompt=f"q{i}", n=2, seed=i) for i in range(6)]
    responses = await asyncio.gather(*(llm.complete(r) for r in requests))
    assert len(responses) == 6 and all(len(r.choices) == 2 for r in responses)
    assert peak == 3  # reached, never exceeded
    await llm.aclose()


def test_one_backend_serves_several_event_loops() -> None:
    handler, seen = scripted(httpx.Response(200, json=completion_body("a")),
                             httpx.Response(200, json=completion_body("b")))
    llm = make_llm(handler, concurrency=1)
    assert asyncio.run(llm.complete(PROMPT)).text == "a"
    assert asyncio.run(llm.complete(PROMPT)).text == "b"
    assert len(seen) == 2


# -- through the meter ----------------------------------------------------------------------------


async def test_metered_call_records_server_usage_in_the_ledger() -> None:
    handler, _ = scripted(httpx.Response(200, json=completion_body()))
    budget = Budget(1000)
    response, returned = await metered.complete(make_llm(handler), PROMPT, budget, label="probe")
    assert response.text == "Paris"
    (entry,) = budget.ledger.entries
    assert returned is entry
    assert entry.kind == "llm" and entry.label == "probe" and not entry.estimated
    assert (entry.usage.prompt_tokens, entry.usage.completion_tokens) == (7, 2)
    assert budget.ledger.usage.llm_calls == 1
    assert budget.spent == pytest.approx(7 * 0.25 + 2 * 1.0)


async def test_metered_call_propagates_the_estimated_flag() -> None:
    handler, _ = scripted(httpx.Response(200, json=completion_body("one two", usage=False)))
    budget = Budget(1000)
    await metered.complete(make_llm(handler, tokenizer=lambda t: len(t.split())),
                           LLMRequest(prompt="a b c"), budget)
    (entry,) = budget.ledger.entries
    assert entry.estimated
    assert (entry.usage.prompt_tokens, entry.usage.completion_tokens) == (3, 2)


async def test_metered_call_releases_the_reservation_when_the_server_fails() -> None:
    handler, _ = scripted(httpx.Response(401, text="no"))
    budget = Budget(1000)
    with pytest.raises(AuthError):
        await metered.complete(make_llm(handler), PROMPT, budget)
    assert budget.available == pytest.approx(1000) and budget.ledger.entries == []


async def test_a_server_that_ignores_native_n_is_a_bad_response() -> None:
    handler, _ = scripted(httpx.Response(200, json=completion_body()))
    with pytest.raises(BadResponse, match="supports_n=False"):
        await make_llm(handler, supports_n=True).complete(LLMRequest(prompt="x", n=2))


# -- failures a user meets ------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["127.0.0.1:8000/v1", "localhost:8000", "ftp://host/v1",
                                 "http://", "not a url", "file:///tmp/x"])
def test_a_malformed_base_url_is_a_config_error_before_any_call(url: str) -> None:
    with pytest.raises(ConfigError, match="base URL"):
        OpenAICompatLLM(url, "m")


@pytest.mark.parametrize("kwargs,needle", [({"max_retries": -1}, "retries"),
                                           ({"timeout": 0}, "timeout"),
                                           ({"timeout": float("nan")}, "timeout"),
                                           ({"concurrency": 0}, "concurrency")])
def test_bad_constructor_settings_are_config_errors(kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        OpenAICompatLLM("http://127.0.0.1:8000/v1", "m", **kwargs)


def test_redact_url_hides_credentials_and_query_values() -> None:
    shown = redact_url("https://alice:s3cret@api.example.com:8443/v1?api_key=abc&x=1")
    assert "alice" not in shown and "s3cret" not in shown and "abc" not in shown
    assert shown.startswith("https://***@api.example.com:8443/v1?") and "api_key=***" in shown


async def test_errors_and_retry_logs_never_show_credentials(caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    handler, seen = scripted(httpx.Response(500, text="boom"), httpx.Response(500, text="boom"))
    llm = OpenAICompatLLM("http://alice:s3cret@test.invalid/v1?key=k3y", "m",
                          transport=httpx.MockTransport(handler), sleep=Sleeps(), max_retries=1)
    with caplog.at_level("WARNING", logger="forage.llm.openai_compat"):
        with pytest.raises(ServerError) as info:
            await llm.complete(PROMPT)
    text = str(info.value) + " ".join(r.getMessage() for r in caplog.records) + repr(llm)
    assert "test.invalid" in text
    assert "s3cret" not in text and "alice" not in text and "k3y" not in text
    assert seen[0].headers["authorization"].startswith("Basic ")  # the credentials are still used


async def test_each_retry_is_logged_as_a_warning_and_the_error_says_attempts_and_time(
        caplog: pytest.LogCaptureFixture) -> None:
    handler, seen = scripted(*[httpx.ReadTimeout("timed out")] * 3)
    with caplog.at_level("WARNING", logger="forage.llm.openai_compat"):
        with pytest.raises(ConnectError) as info:
            await make_llm(handler, max_retries=2, timeout=5).complete(PROMPT)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2
    assert "attempt 1 of 3" in warnings[0] and "attempt 2 of 3" in warnings[1]
    assert "retrying in" in warnings[0]
    assert "within 5s" in str(info.value)
    assert "gave up after 3 attempts over" in str(info.value)
    assert info.value.status is None and len(seen) == 3


async def test_an_error_without_retries_says_nothing_about_attempts() -> None:
    handler, _ = scripted(httpx.Response(400, text="bad request"))
    with pytest.raises(ServerError) as info:
        await make_llm(handler).complete(PROMPT)
    assert "attempts" not in str(info.value) and info.value.status == 400
