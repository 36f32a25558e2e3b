"""Every call goes through the budget; the cache replays at the original compute."""

from __future__ import annotations

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
    resp = await complete(llm, LLMRequest(prompt="one two three four", max_tokens=10), budget)
    assert resp.text == "Paris is the answer"
    (entry,) = budget.ledger.entries
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


async def test_prompt_longer_than_the_context_window_is_refused_before_running():
    llm = FunctionLLM(lambda r: "x", capabilities=Capabilities(context_window=4))
    with pytest.raises(ContextOverflow):
        await complete(llm, LLMRequest(prompt="a b c d e", max_tokens=5), Budget())
    assert llm.requests == []


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
    resp = await complete(llm, req, b2, cache=cache)  # the script is empty: must come from cache
    assert resp.text == "first reply here"
    assert b2.ledger.entries[0].replayed and not b1.ledger.entries[0].replayed
    assert b2.spent == pytest.approx(b1.spent)


async def test_cache_key_includes_the_seed(tmp_path):
    cache = CallCache(tmp_path / "calls.sqlite", mode="record")
    llm = ScriptedLLM(["a", "b"])
    r1 = await complete(llm, LLMRequest(prompt="x", seed=1), Budget(), cache=cache)
    r2 = await complete(llm, LLMRequest(prompt="x", seed=2), Budget(), cache=cache)
    assert (r1.text, r2.text) == ("a", "b")
    assert len(cache) == 2


async def test_replay_mode_never_calls_the_backend(tmp_path):
    path = tmp_path / "calls.sqlite"
    CallCache(path, mode="record").put(
        "scripted", LLMRequest(prompt="x"), (await ScriptedLLM(["y"]).complete(LLMRequest(prompt="x")))
    )
    replay = CallCache(path, mode="replay")
    llm = ScriptedLLM([])
    assert (await complete(llm, LLMRequest(prompt="x"), Budget(), cache=replay)).text == "y"
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
