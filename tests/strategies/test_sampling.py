"""Self-consistency and best-of-N: voting, adaptive stopping, verifier scores, budget cuts."""

from __future__ import annotations

import math

import pytest
from answer_checks import assert_competent  # what any competent real-model run has

from forage.core.budget import Budget
from forage.core.errors import ConfigError
from forage.core.types import Document, Hit, Question
from forage.llm.base import Capabilities, LLMRequest, LLMResponse
from forage.llm.testing import FunctionLLM, ScriptedLLM
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.reader import flat_reader_prompt
from forage.prompts.render import render
from forage.prompts.verifier import verify_prompt, yes_score
from forage.runtime.driver import run
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.strategies.sampling import (
    BestOfN,
    SelfConsistency,
    adaptive_should_stop,
    best_index,
    beta_majority_probability,
    length_normalised_logprob,
    majority_vote,
)

DOCS = Corpus(
    [
        Document("1", "Skerry Point", "Skerry Point Lighthouse was designed by Odile Maren."),
        Document("2", "Brennock", "Brennock is a fishing port with a sea wall."),
    ]
)
Q = "Who designed Skerry Point Lighthouse?"


@pytest.fixture
def tool():
    return BM25Search(DOCS)


def _is_verify(request: LLMRequest) -> bool:
    return request.text_for_counting().rstrip().endswith("Supported:")


# -- pure functions ----------------------------------------------------------------------------


def test_vote_groups_answers_by_normalised_form_and_keeps_the_first_surface_form():
    vote = majority_vote(["Paris", "London", "paris.", "London", "the Paris"])
    assert (vote.answer, vote.count, vote.counts) == ("Paris", 3, (3, 2))


def test_vote_tie_goes_to_the_answer_sampled_first():
    assert majority_vote(["London", "Paris", "paris", "london"]).answer == "London"
    assert majority_vote(["Paris", "London", "london", "paris"]).answer == "Paris"


def test_empty_answers_do_not_vote():
    assert majority_vote(["", "  ", "a", "Oslo"]).answer == "Oslo"  # "a" normalises to nothing
    assert majority_vote(["", "the"]).count == 0


@pytest.mark.parametrize(
    ("top", "second", "expected"),
    [(0, 0, 0.5), (1, 0, 0.75), (1, 1, 0.5), (2, 1, 11 / 16), (3, 0, 15 / 16), (4, 0, 31 / 32)],
)
def test_beta_majority_probability_matches_hand_computed_values(top, second, expected):
    assert beta_majority_probability(top, second) == pytest.approx(expected)


def test_adaptive_stop_when_the_lead_cannot_be_overturned():
    assert adaptive_should_stop([2, 0], remaining=1)  # lead 2 > 1 left
    assert not adaptive_should_stop([2, 1], remaining=1)  # lead 1 = 1 left: could tie
    assert adaptive_should_stop([3, 1], remaining=1)


def test_adaptive_stop_on_the_beta_threshold():
    assert not adaptive_should_stop([3], remaining=10)  # 15/16 < 0.95
    assert adaptive_should_stop([4], remaining=10)  # 31/32 >= 0.95
    assert adaptive_should_stop([3], remaining=10, threshold=0.9)
    assert not adaptive_should_stop([4, 3], remaining=10)


def test_adaptive_stop_edge_cases():
    assert adaptive_should_stop([1, 1], remaining=0)
    assert not adaptive_should_stop([], remaining=3)


def test_length_normalisation_prefers_the_confident_long_answer_over_a_short_guess():
    long = [-0.5, -0.5, -0.5, -0.5]  # sum -2.0, mean -0.5
    short = [-1.5]  # sum -1.5, mean -1.5
    assert sum(short) > sum(long)  # raw sequence logprob would pick the short guess
    scores = [length_normalised_logprob(short), length_normalised_logprob(long)]
    assert scores == [-1.5, -0.5]
    assert best_index(scores) == 1
    assert length_normalised_logprob([]) == -math.inf
    assert length_normalised_logprob(None) == -math.inf


def test_best_index_breaks_ties_by_tiebreak_then_order():
    assert best_index([0.5, 0.9, 0.9]) == 1
    assert best_index([0.5, 0.9, 0.9], [3, 1, 2]) == 2
    with pytest.raises(ValueError):
        best_index([])


def test_yes_score_reads_verdicts_and_their_probability():
    assert yes_score(" Yes") == 1.0 and yes_score("no.") == 0.0 and yes_score("maybe") == 0.5
    assert yes_score("") == 0.5
    assert yes_score(" Yes", [math.log(0.8)]) == pytest.approx(0.8)
    assert yes_score(" No", [math.log(0.8)]) == pytest.approx(0.2)


# -- self-consistency --------------------------------------------------------------------------


async def test_self_consistency_samples_n_at_temperature_in_one_call_and_votes(tool):
    llm = ScriptedLLM([" Oslo", " Paris", " oslo.", " Rome", " Oslo"])
    budget = Budget(10_000)
    ans = await run(SelfConsistency(n=5), Q, llm=llm, tools=tool, budget=budget, seed=3,
                    profile="completion")
    assert ans.text == "Oslo" and ans.confidence == pytest.approx(3 / 5)
    assert len(llm.requests) == 1
    request = llm.requests[0]
    assert request.prompt is not None and request.prompt.endswith("Answer:")
    assert request.n == 5 and request.temperature > 0 and request.seed == 3
    assert request.stop == ("\n",) and request.max_tokens <= 24
    assert [a.kind for a in ans.task.actions] == ["search", "generate"]
    assert not ans.exhausted


async def test_adaptive_self_consistency_stops_once_the_vote_settles(tool):
    llm = FunctionLLM(lambda r: " Oslo")
    ans = await run(SelfConsistency(n=9, adaptive=True), Q, llm=llm, tools=tool, budget=Budget(),
                    seed=10)
    assert ans.text == "Oslo"
    # 1, 2, 3 agreeing samples: P = 3/4, 7/8, 15/16 < 0.95; after 4: 31/32 -> stop.
    assert [r.seed for r in llm.requests] == [10, 11, 12, 13]
    assert all(r.n == 1 for r in llm.requests)
    assert ans.meta["samples"] == ["Oslo"] * 4


async def test_adaptive_self_consistency_stops_when_the_lead_is_safe(tool):
    llm = ScriptedLLM([" Oslo", " Oslo"])
    ans = await run(SelfConsistency(n=3, adaptive=True), Q, llm=llm, tools=tool, budget=Budget())
    assert ans.text == "Oslo" and len(llm.requests) == 2


async def test_a_refused_batch_is_retried_smaller_and_never_overspends(tool):
    probe_llm = FunctionLLM(lambda r: " Oslo")
    probe = Budget()
    await run(SelfConsistency(n=1), Q, llm=probe_llm, tools=tool, budget=probe)
    prompt = probe.ledger.usage.prompt_tokens  # one sample's prompt
    # Room for the search and two samples' prompts (plus a few answer tokens), not five.
    limit = 50 + 0.25 * prompt * 2 + 2 * 24
    llm = FunctionLLM(lambda r: " Oslo")
    budget = Budget(limit)
    ans = await run(SelfConsistency(n=5), Q, llm=llm, tools=tool, budget=budget)
    assert ans.text == "Oslo" and ans.exhausted and ans.meta["budget_cut"]
    assert [r.n for r in llm.requests] == [2]  # 5 refused, then 2 ran
    assert [a.kind for a in ans.task.actions] == ["search", "refused", "generate"]
    assert budget.spent <= budget.limit


async def test_self_consistency_with_no_budget_for_the_search_answers_empty(tool):
    ans = await run(SelfConsistency(n=3), Q, llm=ScriptedLLM([]), tools=tool, budget=Budget(10))
    assert ans.text == "" and ans.exhausted


async def test_malformed_samples_do_not_crash_and_do_not_vote(tool):
    llm = ScriptedLLM(["\n\n", " Answer: Oslo.", "   "])
    ans = await run(SelfConsistency(n=3), Q, llm=llm, tools=tool, budget=Budget())
    assert ans.text == "Oslo" and ans.meta["votes"] == [1]


# -- best-of-N ---------------------------------------------------------------------------------


class LogprobLLM(ScriptedLLM):
    """Scripted replies with chosen per-token logprobs."""

    def __init__(self, replies, logprobs):
        super().__init__(replies)
        self.table = logprobs

    async def complete(self, request: LLMRequest) -> LLMResponse:
        response = await super().complete(request)
        choices = tuple(
            c.model_copy(update={"token_logprobs": tuple(self.table[c.text.strip()])})
            for c in response.choices
        )
        return response.model_copy(update={"choices": choices})


async def test_best_of_n_logprob_picks_the_highest_mean_token_logprob(tool):
    llm = LogprobLLM(
        [" Odile Maren lighthouse", " Paris", " Rome"],
        {"Odile Maren lighthouse": [-0.2] * 3, "Paris": [-0.5], "Rome": [-0.9]},
    )
    ans = await run(BestOfN(n=3, verifier="logprob"), Q, llm=llm, tools=tool, budget=Budget())
    assert ans.text == "Odile Maren lighthouse"  # sum -0.6 < -0.5, but mean -0.2 > -0.5
    assert ans.confidence == pytest.approx(math.exp(-0.2))
    assert llm.requests[0].logprobs and llm.requests[0].n == 3
    assert len(llm.requests) == 1  # no verifier calls


@pytest.mark.parametrize("verifier", ["self_eval", "logprob"])
async def test_best_of_n_with_only_empty_samples_is_unanswered_not_exhausted(tool, verifier):
    budget = Budget(10_000)
    ans = await run(BestOfN(n=3, verifier=verifier), Q, llm=ScriptedLLM(["\n"] * 3), tools=tool,
                    budget=budget)
    assert ans.text == "" and not ans.exhausted  # the budget had room; the model said nothing
    assert budget.ledger.refused_calls == 0


async def test_best_of_n_logprob_needs_a_backend_with_logprobs(tool):
    llm = ScriptedLLM([" x"], capabilities=Capabilities(supports_logprobs=False))
    with pytest.raises(ConfigError):
        await run(BestOfN(n=1, verifier="logprob"), Q, llm=llm, tools=tool, budget=Budget())


def _reader_then_verifier(samples, supported):
    """Reader replies from ``samples`` in order; verifier says Yes for answers in ``supported``."""
    queue = list(samples)

    def fn(request: LLMRequest) -> str:
        if _is_verify(request):
            lines = request.text_for_counting().rstrip().splitlines()
            candidate = lines[-2].removeprefix("Answer: ")
            return " Yes" if candidate in supported else " No"
        return queue.pop(0)

    return fn


async def test_best_of_n_self_eval_verifies_each_distinct_candidate_once(tool):
    llm = FunctionLLM(_reader_then_verifier([" Paris", " Oslo", " paris"], {"Oslo"}))
    ans = await run(BestOfN(n=3), Q, llm=llm, tools=tool, budget=Budget())
    assert ans.text == "Oslo"  # the minority answer the verifier accepts beats the majority
    verify = [r for r in llm.requests if _is_verify(r)]
    assert len(verify) == 2 and all(r.logprobs and r.temperature == 0 for r in verify)
    assert ans.confidence == pytest.approx(math.exp(-0.1))  # FunctionLLM: -0.1 per token
    assert [a.meta["label"] for a in ans.task.actions if a.kind == "generate"] == [
        "sample", "verify", "verify"]


async def test_best_of_n_self_eval_without_logprobs_scores_the_sampled_verdict(tool):
    caps = Capabilities(supports_logprobs=False, exact_token_count=True)
    llm = FunctionLLM(_reader_then_verifier([" Paris", " Oslo"], {"Oslo"}), capabilities=caps)
    ans = await run(BestOfN(n=2), Q, llm=llm, tools=tool, budget=Budget())
    assert ans.text == "Oslo" and ans.confidence == 1.0
    assert not any(r.logprobs for r in llm.requests)


async def test_undecided_verdicts_fall_back_to_the_most_frequent_answer(tool):
    def fn(request):
        return " maybe so" if _is_verify(request) else next(replies)

    replies = iter([" Paris", " Oslo", " Oslo"])
    ans = await run(BestOfN(n=3), Q, llm=FunctionLLM(fn), tools=tool, budget=Budget())
    assert ans.text == "Oslo" and ans.confidence == 0.5


async def test_best_of_n_out_of_budget_for_verification_answers_by_vote(tool):
    probe = Budget()
    await run(BestOfN(n=3), Q, tools=tool, budget=probe, profile="completion",
              llm=FunctionLLM(_reader_then_verifier([" Paris", " Oslo", " Oslo"], {"Paris"})))
    sample_cost = probe.ledger.entries[1].cost
    budget = Budget(50 + sample_cost + 5)  # the samples fit; no verification does
    llm = FunctionLLM(_reader_then_verifier([" Paris", " Oslo", " Oslo"], {"Paris"}))
    ans = await run(BestOfN(n=3), Q, llm=llm, tools=tool, budget=budget, profile="completion")
    assert ans.text == "Oslo" and ans.exhausted
    assert [a.kind for a in ans.task.actions] == ["search", "generate", "refused", "refused"]
    assert budget.spent <= budget.limit


# -- prompts -----------------------------------------------------------------------------------

def _hits():
    return [Hit(DOCS.documents[0], 1.0, 0)]


@pytest.mark.parametrize("profile", ["completion", "chat"])
def test_sample_and_verify_prompts(profile, snapshot):
    ex = ExemplarSet.generic()
    sample = render(flat_reader_prompt(Q, _hits(), exemplars=ex.reader, temperature=0.7), profile)
    passage = "Skerry Point: Skerry Point Lighthouse was designed by Odile Maren."
    verify = render(verify_prompt(Q, passage, "Odile Maren", exemplars=ex), profile)
    snapshot(f"sampling_sample_{profile}", sample.text_for_counting())
    snapshot(f"verifier_{profile}", verify.text_for_counting())


# -- end to end --------------------------------------------------------------------------------


def _two_hop(world) -> Question:
    return next(q for q in world.test if q.hops == 2)


@pytest.mark.parametrize("cls", [SelfConsistency, BestOfN])
async def test_sampling_end_to_end_with_gemma(gemma, small_world, cls):
    strategy = cls(n=3, max_tokens=12, exemplars=ExemplarSet.from_dev(small_world.dev))
    budget = Budget(3_000)
    question = _two_hop(small_world)
    ans = await run(strategy, question, llm=gemma,
                    tools=BM25Search(small_world.corpus), budget=budget, seed=1)
    kinds = [a.kind for a in ans.task.actions]
    assert kinds[:2] == ["search", "generate"]
    assert ans.task.actions[1].meta["label"] == "sample"  # all n samples in one call
    samples = ans.meta["samples"]
    assert len(samples) == 3
    if isinstance(strategy, BestOfN):
        verified = ans.task.actions[2:]
        assert all(a.meta["label"] == "verify" for a in verified)
        assert len(verified) <= len({s for s in samples if s})  # each distinct candidate once
    if ans.text:
        assert ans.text in samples  # the vote or the verifier picks one of the samples
    # Best-of-N's verify calls run concurrently: each action still carries its own entry's cost.
    assert_competent(ans, budget, question.text, outputs=samples)
