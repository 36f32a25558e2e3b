"""The embedded llama.cpp backend: modes, stop strings, seeds, logprobs, grammars, prefix cache.

Reproducibility is asserted only between calls made from the same cache state. A call that follows
an identical prompt reuses its KV cells and re-runs just the last prompt token, while a cold call
evaluates the whole prompt in one batch; the two paths can round differently (see
``tests/hierarchy/test_thread.py``: up to ~1.0 in Gemma's logits on one build), which may change a
greedy token or a sample. So each compared call is preceded by a call with the same prompt.
"""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from forage.core.budget import Budget
from forage.core.errors import ContextOverflow, ModelLoadError
from forage.llm.base import LLMRequest, Message
from forage.llm.embedded import EmbeddedLLM
from forage.llm.metered import complete

PROMPT = "Q: What is the capital of France?\nA: Paris\nQ: What is the capital of Italy?\nA:"


async def test_completion_reports_exact_usage(gemma):
    resp = await gemma.complete(LLMRequest(prompt=PROMPT, max_tokens=5, stop=("\n",)))
    assert resp.usage.prompt_tokens == gemma.count_tokens(PROMPT)
    assert 1 <= resp.usage.completion_tokens <= 5
    assert not resp.usage.estimated
    assert "\n" not in resp.text


async def test_greedy_completion_is_deterministic_from_the_same_cache_state(smollm2):
    req = LLMRequest(prompt=PROMPT, max_tokens=8)
    await smollm2.complete(req)  # the cache now holds PROMPT: both calls below start from here
    a = await smollm2.complete(req)
    b = await smollm2.complete(req)
    assert a.text == b.text
    assert a.usage == b.usage


async def test_same_seed_same_sample_different_seed_differs(smollm2):
    prompt = "List three words that come to mind:"
    await smollm2.complete(LLMRequest(prompt=prompt, max_tokens=1))  # same cache state below
    texts = []
    for seed in (1, 1, 2, 3, 4, 5):
        r = await smollm2.complete(
            LLMRequest(prompt=prompt, max_tokens=12, temperature=1.0, seed=seed)
        )
        texts.append(r.text)
    assert texts[0] == texts[1]
    assert len(set(texts[1:])) > 1


async def test_n_samples_use_consecutive_seeds(smollm2):
    # Choice 1 is drawn right after choice 0 read the same prompt, as the single call below is.
    r = await smollm2.complete(
        LLMRequest(prompt="Once upon a time", max_tokens=8, temperature=1.0, seed=5, n=2)
    )
    single = await smollm2.complete(
        LLMRequest(prompt="Once upon a time", max_tokens=8, temperature=1.0, seed=6)
    )
    assert len(r.choices) == 2
    assert r.choices[1].text == single.text


async def test_logprobs_match_greedy_text_and_are_probabilities(gemma):
    await gemma.complete(LLMRequest(prompt=PROMPT, max_tokens=1))  # same cache state below
    plain = await gemma.complete(LLMRequest(prompt=PROMPT, max_tokens=4))
    scored = await gemma.complete(LLMRequest(prompt=PROMPT, max_tokens=4, logprobs=True))
    assert scored.text == plain.text
    lp = scored.choices[0].token_logprobs
    assert lp is not None and len(lp) == scored.usage.completion_tokens
    assert all(x <= 0 for x in lp)


async def test_grammar_constrains_the_output(smollm2):
    grammar = 'root ::= "yes" | "no"'
    r = await smollm2.complete(
        LLMRequest(prompt="Is the sky green? Answer:", max_tokens=4, grammar=grammar)
    )
    assert r.text in {"yes", "no"}


async def test_chat_mode_uses_the_model_template(smollm2):
    assert smollm2.capabilities.supports_chat
    r = await smollm2.complete(
        LLMRequest(messages=(Message(role="user", content="Say hello."),), max_tokens=8)
    )
    assert r.text.strip()
    assert r.usage.prompt_tokens > len("Say hello.".split())


async def test_shared_prefix_is_reported_as_cached(gemma):
    await gemma.complete(LLMRequest(prompt=PROMPT, max_tokens=1))
    r = await gemma.complete(LLMRequest(prompt=PROMPT + " Rome\nQ: And Spain?\nA:", max_tokens=1))
    assert r.usage.cached_prompt_tokens >= gemma.count_tokens(PROMPT) - 2


async def test_prompt_longer_than_context_is_refused(smollm2):
    with pytest.raises(ContextOverflow):
        await complete(smollm2, LLMRequest(prompt="word " * 1500, max_tokens=4), Budget())


async def test_concurrent_calls_count_their_wait_for_the_model_apart_from_model_time(smollm2):
    budget = Budget()
    t0 = time.perf_counter()
    await asyncio.gather(*(complete(smollm2, LLMRequest(prompt=f"{PROMPT} {i}", max_tokens=8),
                                    budget) for i in range(3)))
    wall = time.perf_counter() - t0
    usage = budget.ledger.usage
    # One model, one call at a time: its own time fits in the wall time; the rest was queueing.
    assert usage.llm_calls == 3 and 0 < usage.llm_seconds <= wall
    assert usage.llm_wait_seconds > 0
    assert max(e.usage.llm_wait_seconds for e in budget.ledger.entries) >= min(
        e.usage.llm_seconds for e in budget.ledger.entries)


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        EmbeddedLLM(str(tmp_path / "nope.gguf"))


def test_corrupt_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(ModelLoadError, match="cannot load"):
        EmbeddedLLM(str(bad))


def test_unknown_model_name_lists_the_registered_ones():
    with pytest.raises(ModelLoadError, match="gemma3-270m"):
        EmbeddedLLM("no-such-model")


async def test_top_logprobs_rank_alternatives_and_the_greedy_token_is_the_first(smollm2):
    r = await smollm2.complete(LLMRequest(prompt=PROMPT, max_tokens=4, logprobs=True,
                                          top_logprobs=5))
    choice = r.choices[0]
    assert choice.top_logprobs is not None and choice.token_logprobs is not None
    assert len(choice.top_logprobs) == len(choice.token_logprobs)
    for alts, sampled in zip(choice.top_logprobs, choice.token_logprobs, strict=True):
        assert len(alts) == 5
        values = [lp for _, lp in alts]
        assert values == sorted(values, reverse=True) and all(v <= 0 for v in values)
        assert sum(math.exp(v) for v in values) <= 1 + 1e-6
        assert values[0] == pytest.approx(sampled, abs=1e-6)  # greedy picks the most likely
    assert "".join(alts[0][0] for alts in choice.top_logprobs).startswith(choice.text[:1])
