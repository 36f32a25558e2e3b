"""Every call goes through the budget; the cache replays at the original compute."""

from __future__ import annotations

import asyncio
import time

import pytest

from forage.core.budget import Budget, Caps
from forage.core.errors import BudgetExhausted, ConfigError, ContextOverflow
from forage.llm.base import Capabilities, LLMRequest, Message
from forage.llm.cache import CacheMiss, CallCache
from forage.llm.metered import complete
from forage.llm.testing import FunctionLLM, ScriptedLLM


async def test_call_is_charged_to_the_ledger():
    llm = ScriptedLLM(["Paris is the answer"])
    budget = Budget(1000)
    resp, returned = await complete(
        llm, LLMRequest(prompt="one two three four", max_tokens=10), budget
    )
    assert resp.text == "Paris is the answer"
    (entry,) = budget.ledger.entries
    assert returned is entry
    assert entry.kind == "llm"
    assert entry.usage.prompt_tokens == 4 and entry.usage.completion_tokens == 4
    assert budget.spent == pytest.approx(4 * 0.25 + 4 * 1.0)


async def test_max_tokens_reaching_the_backend_is_clipped_by_the_budget():
    llm = FunctionLLM(lambda r: "w " * 100)
    budget = Budget(5 * 0.25 + 7)  # pays for the 5-token prompt and 7 completion tokens
    await complete(llm, LLMRequest(prompt="a b c d e", max_tokens=50), budget)
    assert llm.requests[0].max_tokens == 7
    assert budget.spent <= budget.limit


async def test_refused_call_never_reaches_the_backend():
    llm = ScriptedLLM(["never"])
    budget = Budget(1)
    with pytest.raises(BudgetExhausted):
        await complete(llm, LLMRequest(prompt="a b c d e f g h", max_tokens=5), budget)
    assert llm.requests == []
    assert budget.ledger.refused_calls == 1


async def test_prompt_longer_than_the_context_window_is_refused_before_running_and_recorded():
    llm = FunctionLLM(lambda r: "x", capabilities=Capabilities(context_window=4))
    budget = Budget()
    with pytest.raises(ContextOverflow):
        await complete(llm, LLMRequest(prompt="a b c d e", max_tokens=5), budget)
    assert llm.requests == []
    assert budget.ledger.refused_calls == 1 and budget.spent == 0


async def test_an_overflow_found_by_the_backend_is_recorded_as_refused_and_costs_nothing():
    def overflow(request):
        raise ContextOverflow(5000, 4096)  # e.g. a chat template longer than counted

    budget = Budget(1000)
    with pytest.raises(ContextOverflow):
        await complete(FunctionLLM(overflow), LLMRequest(prompt="a b", max_tokens=5), budget)
    assert budget.ledger.refused_calls == 1
    assert budget.spent == 0 and budget.available == pytest.approx(1000)


async def test_prefix_reuse_reported_by_the_backend_is_charged_as_fresh_prompt():
    """A backend's prefix cache holds whatever ran before (other questions, strategies, an
    interrupted sweep): charging it would make a call's cost depend on history."""
    from forage.llm.base import Choice, LLMResponse, TokenUsage

    class Reusing:
        model_id = "reusing"
        capabilities = Capabilities(exact_token_count=True)

        def __init__(self, cached: int) -> None:
            self.cached = cached

        def count_tokens(self, text: str) -> int:
            return len(text.split())

        async def complete(self, request):
            return LLMResponse(
                choices=(Choice(text="ok"),),
                usage=TokenUsage(prompt_tokens=8, completion_tokens=1,
                                 cached_prompt_tokens=self.cached),
                model="reusing",
            )

    req = LLMRequest(prompt="a b c d e f g h", max_tokens=4)
    cold, warm = Budget(100), Budget(100)
    _, e_cold = await complete(Reusing(0), req, cold)
    _, e_warm = await complete(Reusing(7), req, warm)
    assert e_warm.usage.cached_prompt_tokens == e_cold.usage.cached_prompt_tokens == 0
    assert e_warm.cost == e_cold.cost == pytest.approx(8 * 0.25 + 1)
    assert warm.available == cold.available


async def test_completion_is_clipped_to_the_context_window():
    llm = FunctionLLM(lambda r: "x", capabilities=Capabilities(context_window=8, exact_token_count=True))
    await complete(llm, LLMRequest(prompt="a b c d e", max_tokens=50), Budget())
    assert llm.requests[0].max_tokens == 3


async def test_undeclared_capability_is_a_config_error():
    llm = FunctionLLM(lambda r: "x", capabilities=Capabilities(supports_grammar=False))
    with pytest.raises(ConfigError):
        await complete(llm, LLMRequest(prompt="a", grammar='root ::= "x"'), Budget())


async def test_backend_failure_releases_the_reservation():
    def boom(request):
        raise RuntimeError("backend down")

    budget = Budget(100)
    with pytest.raises(RuntimeError):
        await complete(FunctionLLM(boom), LLMRequest(prompt="a", max_tokens=10), budget)
    assert budget.available == pytest.approx(100)


async def test_replayed_call_is_marked_and_carries_its_original_compute(tmp_path):
    cache = CallCache(tmp_path / "calls.sqlite", mode="record")
    llm = ScriptedLLM(["first reply here"])
    req = LLMRequest(prompt="q w e r", max_tokens=10, seed=3)
    b1 = Budget(1000)
    await complete(llm, req, b1, cache=cache)
    b2 = Budget(1000)
    resp, entry = await complete(llm, req, b2, cache=cache)  # the script is empty: from cache
    assert resp.text == "first reply here" and entry.replayed
    assert b2.ledger.entries[0].replayed and not b1.ledger.entries[0].replayed
    assert b2.spent == pytest.approx(b1.spent)


async def test_cache_key_includes_the_seed(tmp_path):
    cache = CallCache(tmp_path / "calls.sqlite", mode="record")
    llm = ScriptedLLM(["a", "b"])
    r1, _ = await complete(llm, LLMRequest(prompt="x", seed=1), Budget(), cache=cache)
    r2, _ = await complete(llm, LLMRequest(prompt="x", seed=2), Budget(), cache=cache)
    assert (r1.text, r2.text) == ("a", "b")
    assert len(cache) == 2


async def test_replay_mode_never_calls_the_backend(tmp_path):
    path = tmp_path / "calls.sqlite"
    CallCache(path, mode="record").put(
        "scripted", LLMRequest(prompt="x"), (await ScriptedLLM(["y"]).complete(LLMRequest(prompt="x")))
    )
    replay = CallCache(path, mode="replay")
    llm = ScriptedLLM([])
    assert (await complete(llm, LLMRequest(prompt="x"), Budget(), cache=replay))[0].text == "y"
    with pytest.raises(CacheMiss):
        await complete(llm, LLMRequest(prompt="other"), Budget(), cache=replay)
    assert llm.requests == []


async def test_chat_requests_are_counted_with_role_overhead():
    llm = ScriptedLLM(["ok"])
    budget = Budget(caps=Caps(prompt_tokens=40))
    msgs = (Message(role="user", content="one two three"),)
    with pytest.raises(BudgetExhausted):  # 32 + 3 words + 8 per message > 40
        await complete(llm, LLMRequest(messages=msgs), budget)


def test_request_needs_exactly_one_of_prompt_or_messages():
    with pytest.raises(ValueError):
        LLMRequest()
    with pytest.raises(ValueError):
        LLMRequest(prompt="a", messages=(Message(role="user", content="b"),))


async def test_estimated_token_counts_are_reserved_with_headroom():
    caps = Capabilities(exact_token_count=False)
    llm = FunctionLLM(lambda r: "x", capabilities=caps)
    budget = Budget(caps=Caps(prompt_tokens=20))
    with pytest.raises(BudgetExhausted):  # 10 words -> 13 + 8 reserved > 20
        await complete(llm, LLMRequest(prompt=" ".join(["w"] * 10), max_tokens=1), budget)


class _OneAtATime:
    """A backend that, like the embedded one, runs one call at a time behind a lock and reports
    the time a call held the model as its own ``seconds``."""

    def __init__(self, hold_s: float) -> None:
        self._inner = FunctionLLM(lambda r: "ok")
        self._lock = asyncio.Lock()
        self.hold_s = hold_s

    model_id = "one-at-a-time"
    capabilities = Capabilities(exact_token_count=True)

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)

    async def complete(self, request: LLMRequest):  # type: ignore[no-untyped-def]
        async with self._lock:
            t0 = time.perf_counter()
            await asyncio.sleep(self.hold_s)
            response = await self._inner.complete(request)
            return response.model_copy(update={"seconds": time.perf_counter() - t0})


async def test_waiting_for_a_busy_model_is_recorded_apart_from_the_models_own_time():
    llm, budget = _OneAtATime(hold_s=0.1), Budget()
    t0 = time.perf_counter()
    await asyncio.gather(*(complete(llm, LLMRequest(prompt=f"q{i}", max_tokens=2), budget)
                           for i in range(3)))
    wall = time.perf_counter() - t0
    entries = budget.ledger.entries
    own = [e.usage.llm_seconds for e in entries]
    waits = sorted(e.usage.llm_wait_seconds for e in entries)
    # The model ran one call at a time: its own time cannot add up to more than the wall time.
    assert sum(own) <= wall and all(s >= 0.1 for s in own)
    # The second call waited for one call to finish, the third for two.
    assert waits[0] < 0.05 and waits[1] >= 0.09 and waits[2] >= 0.19
    assert budget.ledger.usage.llm_wait_seconds == pytest.approx(sum(waits))


async def test_a_backend_that_reports_no_time_has_the_whole_call_counted_as_its_own():
    budget = Budget()
    await complete(FunctionLLM(lambda r: "ok"), LLMRequest(prompt="q", max_tokens=2), budget)
    (entry,) = budget.ledger.entries
    assert entry.usage.llm_seconds > 0 and entry.usage.llm_wait_seconds == 0
