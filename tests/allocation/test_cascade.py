"""The cascade on a scripted model: rungs reuse what lower rungs read, easy questions stop early,
hard ones climb, the batch stays within its budget, and a rerun replays stored steps for free."""

from __future__ import annotations

import asyncio

from forage.allocation.cascade import (
    DEFAULT_SETTINGS,
    MemoryStepStore,
    ladder_of,
    run_batch,
    run_rung,
)
from forage.core.budget import Budget
from forage.core.types import Question
from forage.hierarchy.tree import Prior, Tree
from forage.prompts.exemplars import ExemplarSet
from forage.runtime.driver import run
from forage.search.bm25 import BM25Search

from tests.hierarchy.test_tree import DOCS, QUESTION, model

EASY = Question(id="easy", text="Who founded the Lantern Society?", answers=("Ada Prell",))
HARD = Question(id="hard", text=QUESTION, answers=("Harrowgate",))
PLAN = " Who founded the Lantern Society?\n2. Where was #1 born?"


def test_a_read_only_rung_never_plans_and_says_what_it_read():
    llm = model([PLAN])
    ans = asyncio.run(run(Tree(attempts=1, plan=False), HARD, llm=llm, tools=BM25Search(DOCS),
                          budget=Budget(10_000)))
    assert ans.meta["direct"] and ans.text == ""
    assert not any((r.prompt or "").startswith("Split each question") for r in llm.requests)
    assert len(ans.meta["carried"]["read"]) == 1


def test_a_tree_started_from_a_prior_reads_nothing_twice_and_reuses_conclusions():
    llm = model([PLAN])
    first = asyncio.run(run(Tree(attempts=1, plan=False), HARD, llm=llm, tools=BM25Search(DOCS),
                            budget=Budget(10_000)))
    prior = Prior.from_meta(first.text, first.confidence or 0.0, first.meta)
    calls_before = len(llm.requests)
    ans = asyncio.run(run(Tree(attempts=1, prior=prior), HARD, llm=llm, tools=BM25Search(DOCS),
                          budget=Budget(10_000)))
    new = llm.requests[calls_before:]
    assert ans.text == "Harrowgate"
    # the whole question's passage is not read again: the first new call is the planner's
    assert (new[0].prompt or "").startswith("Split each question")
    # conclusions carry over: a third run with them reads no sub-question again
    memo_prior = Prior.from_meta(ans.text, 0.0, ans.meta)
    assert {q for q, _, _ in memo_prior.memo} >= {"who founded the lantern society?"}
    llm2 = model([PLAN, PLAN])
    again = asyncio.run(run(Tree(attempts=1, prior=Prior(read=memo_prior.read, memo=memo_prior.memo)),
                            HARD, llm=llm2, tools=BM25Search(DOCS), budget=Budget(10_000)))
    read_questions = [r.prompt.split("Question: ")[-1].split("\n")[0] for r in llm2.requests
                      if "Passage" in (r.prompt or "") and not r.prompt.startswith("Split")]
    assert "Who founded the Lantern Society?" not in read_questions
    assert again.text == "Harrowgate"


def batch(llm, store, mean=800.0, questions=(EASY, HARD), settings=DEFAULT_SETTINGS):
    return asyncio.run(run_batch(list(questions), mean_budget=mean, llm=llm,
                                 tools=BM25Search(DOCS), exemplars=ExemplarSet.generic(),
                                 settings=settings, store=store, dataset="d"))


def test_easy_questions_stop_at_the_first_reading_and_hard_ones_climb():
    llm = model([PLAN])
    results = batch(llm, MemoryStepStore())
    easy, hard = results
    assert (easy.prediction, easy.rung, len(easy.trace["rungs"])) == ("Ada Prell", "read", 1)
    assert hard.prediction == "Harrowgate" and hard.em == 1.0
    assert [r["rung"] for r in hard.trace["rungs"]][:1] == ["read"]
    assert hard.rung in ("tree", "replan")
    assert all(r.allocation == "adaptive" and r.strategy == "adaptive" for r in results)
    assert all(r.compute <= r.given + 1e-9 for r in results)
    assert sum(r.compute for r in results) <= 800.0 * 2 + 1e-9


def test_a_small_batch_budget_leaves_hard_questions_at_the_first_reading():
    llm = model([PLAN])
    results = batch(llm, MemoryStepStore(), mean=120.0)
    assert sum(r.compute for r in results) <= 240.0 + 1e-9
    hard = results[1]
    assert hard.prediction == "" and hard.exhausted


def test_a_rerun_replays_stored_steps_without_calling_the_model():
    store = MemoryStepStore()
    first = batch(model([PLAN]), store)
    llm = model([PLAN])
    second = batch(llm, store)
    assert llm.requests == []
    assert [r.to_dict() | {"seconds": 0} for r in first] == \
        [r.to_dict() | {"seconds": 0} for r in second]


def test_a_ladder_of_named_rungs_and_unknown_names():
    import pytest

    from forage.core.errors import ConfigError

    s = ladder_of(["read", "tree"], threshold=0.7)
    assert [r.name for r in s.ladder] == ["read", "tree"] and s.threshold == 0.7
    with pytest.raises(ConfigError, match="unknown rung 'rag'"):
        ladder_of(["read", "rag"])


def test_run_rung_spends_at_most_its_grant():
    rec = asyncio.run(run_rung("tree", HARD, None, 150.0, llm=model([PLAN]),
                               tools=BM25Search(DOCS), exemplars=ExemplarSet.generic(), seed=0,
                               cache=None, cost_model=None))
    assert 0 < rec.spent <= 150.0 and rec.grant == 150.0


def test_a_question_without_gold_answers_is_answered_and_left_unscored():
    asked = Question(id="asked", text="Who founded the Lantern Society?")
    [result] = batch(model([PLAN]), MemoryStepStore(), questions=(asked,))
    assert (result.prediction, result.rung, result.em) == ("Ada Prell", "read", 0.0)


def test_a_rung_settles_at_the_cascades_threshold_not_the_trees_default():
    # A reading at 0.7 is settled for a cascade at 0.5 (the rung returns it for free) but not for
    # one at 0.9: there the tree rung must plan and pay for it.
    prior = Prior("Ada Prell", 0.7, read=("Lantern Society",))

    def rung(threshold):
        return asyncio.run(run_rung("tree", HARD, prior, 1500.0, llm=model([PLAN]),
                                    tools=BM25Search(DOCS), exemplars=ExemplarSet.generic(),
                                    seed=0, cache=None, cost_model=None, threshold=threshold))

    assert rung(0.5).spent == 0
    strict = rung(0.9)
    assert strict.spent > 0 and strict.answer == "Harrowgate"
