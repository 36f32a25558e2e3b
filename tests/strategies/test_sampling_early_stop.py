"""Adaptive-Consistency for the sampling strategies: when sampling stops, and what the answer says.

The arithmetic (``beta_majority_probability``, ``adaptive_should_stop``, ``sampling_stop``) is
pinned on small fixed counts; the strategies run on test-double models whose samples agree or
disagree, and must draw fewer samples in the first case and all N in the second.
"""

from __future__ import annotations

import pytest

from forage.core.budget import Budget
from forage.core.errors import ConfigError
from forage.core.types import Document
from forage.llm.base import LLMRequest
from forage.llm.testing import FunctionLLM, ScriptedLLM
from forage.runtime import registry
from forage.runtime.driver import run
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.strategies.sampling import (
    BestOfN,
    BestOfNLogprob,
    SelfConsistency,
    adaptive_should_stop,
    beta_majority_probability,
    sampling_stop,
)

DOCS = Corpus([
    Document("1", "Skerry Point", "Skerry Point Lighthouse was designed by Odile Maren."),
    Document("2", "Brennock", "Brennock is a fishing port with a sea wall."),
])
Q = "Who designed Skerry Point Lighthouse?"


@pytest.fixture
def tool():
    return BM25Search(DOCS)


def _is_verify(request: LLMRequest) -> bool:
    return request.text_for_counting().rstrip().endswith("Supported:")


def _samples(llm: FunctionLLM) -> list[LLMRequest]:
    return [r for r in llm.requests if not _is_verify(r)]


# -- the arithmetic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("top", "second", "expected", "crosses"),
    [
        (3, 0, 15 / 16, False),  # three agreeing samples are not enough at 0.95
        (4, 0, 31 / 32, True),  # four are
        (5, 1, 120 / 128, False),  # P(Bin(7, 1/2) <= 5) = 1 - 8/128
        (6, 1, 247 / 256, True),  # P(Bin(8, 1/2) <= 6) = 1 - 9/256
        (5, 2, 219 / 256, False),  # P(Bin(8, 1/2) <= 5) = 1 - 37/256
    ],
)
def test_beta_posterior_crosses_the_threshold_only_with_a_clear_enough_lead(
    top, second, expected, crosses
):
    assert beta_majority_probability(top, second) == pytest.approx(expected)
    # With many samples left, only the posterior can settle the vote.
    assert adaptive_should_stop([top, second], remaining=100, threshold=0.95) is crosses


def test_a_lead_the_remaining_samples_cannot_overturn_settles_below_the_threshold():
    assert beta_majority_probability(3, 0) < 0.95
    assert sampling_stop([3], drawn=3, cap=5, adaptive=True) == "settled"  # lead 3 > 2 left
    assert sampling_stop([3, 1], drawn=4, cap=5, adaptive=True) == "settled"  # lead 2 > 1 left
    assert sampling_stop([2, 1], drawn=3, cap=4, adaptive=True) is None  # 1 left could tie it


def test_sampling_stop_says_cap_when_all_were_drawn_and_never_settles_when_not_adaptive():
    assert sampling_stop([1, 1, 1], drawn=3, cap=3, adaptive=True) == "cap"
    assert sampling_stop([9], drawn=9, cap=9, adaptive=False) == "cap"
    assert sampling_stop([4], drawn=4, cap=9, adaptive=False) is None
    assert sampling_stop([4], drawn=4, cap=9, adaptive=True) == "settled"
    assert sampling_stop([4], drawn=4, cap=9, adaptive=True, threshold=0.99) is None
    assert sampling_stop([], drawn=2, cap=9, adaptive=True) is None  # only empty samples so far


@pytest.mark.parametrize("cls", [SelfConsistency, BestOfN])
@pytest.mark.parametrize("threshold", [0.5, 1.5])
def test_a_threshold_outside_one_half_to_one_is_refused(cls, threshold):
    with pytest.raises(ConfigError):
        cls(adaptive=True, threshold=threshold)


# -- adaptive_consistency ----------------------------------------------------------------------


def test_adaptive_consistency_is_registered_on_the_self_consistency_ladder():
    spec = registry.get("adaptive_consistency")
    assert spec.ladder == registry.get("self_consistency").ladder
    strategy = spec.build(9)
    assert isinstance(strategy, SelfConsistency)
    assert (strategy.adaptive, strategy.n, strategy.threshold) == (True, 9, 0.95)
    assert strategy.name == "adaptive_consistency"
    assert not registry.get("self_consistency").build(9).adaptive


async def test_agreeing_samples_stop_early_with_the_reason_and_the_count(tool):
    llm = FunctionLLM(lambda r: " Odile Maren")
    budget = Budget()
    ans = await run(registry.get("adaptive_consistency").build(9), Q, llm=llm, tools=tool,
                    budget=budget)
    assert ans.text == "Odile Maren" and ans.confidence == 1.0
    assert ans.meta["drawn"] == 4 and ans.meta["stopped"] == "settled"  # 31/32 >= 0.95
    assert len(llm.requests) == 4 < 9

    flat = FunctionLLM(lambda r: " Odile Maren")
    flat_budget = Budget()
    flat_ans = await run(registry.get("self_consistency").build(9), Q, llm=flat, tools=tool,
                         budget=flat_budget)
    assert flat_ans.meta["drawn"] == 9 and flat_ans.meta["stopped"] == "cap"
    assert budget.spent < flat_budget.spent  # the early stop saved compute, same answer
    assert flat_ans.text == ans.text


async def test_disagreeing_samples_draw_all_n(tool):
    llm = ScriptedLLM([" Oslo", " Paris", " Rome", " Oslo", " Paris"])
    ans = await run(registry.get("adaptive_consistency").build(5), Q, llm=llm, tools=tool,
                    budget=Budget())
    assert len(llm.requests) == 5
    assert ans.meta["drawn"] == 5 and ans.meta["stopped"] == "cap"
    assert ans.text == "Oslo" and ans.meta["votes"] == [2, 2, 1]


async def test_a_refused_sample_stops_adaptive_sampling_for_the_budget(tool):
    probe = Budget()
    await run(SelfConsistency(n=1), Q, llm=FunctionLLM(lambda r: " Oslo"), tools=tool,
              budget=probe)
    one = probe.spent - 50  # one sample, the search excluded
    llm = FunctionLLM(lambda r: " Oslo")
    budget = Budget(50 + 2.5 * one)  # the search and two samples, not a third
    ans = await run(SelfConsistency(n=9, adaptive=True), Q, llm=llm, tools=tool, budget=budget)
    assert ans.meta["stopped"] == "budget" and ans.meta["drawn"] == 2
    assert ans.exhausted and ans.text == "Oslo"
    assert budget.spent <= budget.limit


async def test_batched_adaptive_sampling_checks_the_vote_between_batches(tool):
    llm = FunctionLLM(lambda r: " Oslo")
    ans = await run(SelfConsistency(n=9, adaptive=True, batch=3), Q, llm=llm, tools=tool,
                    budget=Budget(), seed=4)
    assert [(r.n, r.seed) for r in llm.requests] == [(3, 4), (3, 7)]  # 3 < 4 needed, 6 settle
    assert ans.meta["drawn"] == 6 and ans.meta["stopped"] == "settled"


# -- best-of-N ---------------------------------------------------------------------------------


def _reader_then_verifier(samples, supported):
    """Reader replies from ``samples`` in order; the verifier says Yes to ``supported``."""
    queue = list(samples)

    def fn(request: LLMRequest) -> str:
        if _is_verify(request):
            candidate = request.text_for_counting().rstrip().splitlines()[-2]
            return " Yes" if candidate.removeprefix("Answer: ") in supported else " No"
        return queue.pop(0)

    return fn


async def test_adaptive_best_of_n_stops_sampling_on_agreement_then_verifies_what_it_drew(tool):
    llm = FunctionLLM(_reader_then_verifier([" Odile Maren"] * 9, {"Odile Maren"}))
    ans = await run(registry.get("best_of_n_adaptive").build(9), Q, llm=llm, tools=tool,
                    budget=Budget())
    assert ans.text == "Odile Maren"
    assert ans.meta["drawn"] == 4 and ans.meta["stopped"] == "settled"
    assert len(_samples(llm)) == 4
    assert len([r for r in llm.requests if _is_verify(r)]) == 1  # one distinct candidate
    labels = [a.meta["label"] for a in ans.task.actions if a.kind == "generate"]
    assert labels == ["sample"] * 4 + ["verify"]


async def test_adaptive_best_of_n_draws_all_n_when_samples_disagree(tool):
    samples = [" Paris", " Oslo", " Rome", " Paris", " Oslo"]
    llm = FunctionLLM(_reader_then_verifier(samples, {"Rome"}))
    ans = await run(BestOfN(n=5, adaptive=True), Q, llm=llm, tools=tool, budget=Budget())
    assert len(_samples(llm)) == 5
    assert ans.meta["drawn"] == 5 and ans.meta["stopped"] == "cap"
    assert len([r for r in llm.requests if _is_verify(r)]) == 3  # every distinct one drawn
    assert ans.text == "Rome"  # the verifier still picks, not the vote


async def test_best_of_n_without_adaptive_draws_all_n_in_one_call(tool):
    llm = FunctionLLM(_reader_then_verifier([" Odile Maren"] * 5, {"Odile Maren"}))
    ans = await run(BestOfN(n=5), Q, llm=llm, tools=tool, budget=Budget())
    assert [r.n for r in _samples(llm)] == [5]
    assert ans.meta["drawn"] == 5 and ans.meta["stopped"] == "cap"


async def test_adaptive_best_of_n_logprob_stops_early_and_verifies_nothing(tool):
    spec = registry.get("best_of_n_logprob_adaptive")
    strategy = spec.build(9)
    assert isinstance(strategy, BestOfNLogprob) and strategy.adaptive
    llm = FunctionLLM(lambda r: " Odile Maren")
    ans = await run(strategy, Q, llm=llm, tools=tool, budget=Budget())
    assert ans.text == "Odile Maren"
    assert len(llm.requests) == 4 and all(r.logprobs for r in llm.requests)
    assert ans.meta["drawn"] == 4 and ans.meta["stopped"] == "settled"
