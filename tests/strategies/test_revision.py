"""Sequential revision: answer, critique, revise with a new search; stops early, within budget."""

from __future__ import annotations

import pytest
from answer_checks import assert_competent  # what any competent real-model run has

from forage.core.budget import Budget
from forage.core.errors import ConfigError
from forage.core.types import Document, Hit, Question
from forage.llm.base import LLMRequest
from forage.llm.testing import FunctionLLM
from forage.search.bm25 import BM25Search
from forage.search.testing import StaticSearch
from forage.runtime.driver import run
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.render import render
from forage.prompts.queries import clean_query, query_prompt, query_shots
from forage.strategies.revision import Revision, revise_prompt

FESTIVAL = Document("a", "Marrow Festival",
                    "The Marrow Festival is held every August at Skerry Point.")
LIGHTHOUSE = Document("b", "Skerry Point", "Skerry Point Lighthouse was designed by Odile Maren.")
Q = "Who designed the lighthouse at the place where the Marrow Festival is held?"


def kind(request: LLMRequest) -> str:
    text = request.text_for_counting().rstrip()
    for suffix, name in (("Supported:", "critique"), ("Search:", "query"), ("Answer:", "read")):
        if text.endswith(suffix):
            return name
    return "read"  # a chat reader prompt ends with the question


def scripted(**replies: list[str]):
    """Replies per prompt kind, in order; records the kinds asked for."""
    queues = {k: list(v) for k, v in replies.items()}
    asked: list[str] = []

    def fn(request: LLMRequest) -> str:
        k = kind(request)
        asked.append(k)
        return queues[k].pop(0)

    return fn, asked


async def _run(strategy, fn, *, search=None, budget=None, profile="completion"):
    llm = FunctionLLM(fn)
    budget = budget or Budget()
    search = search or StaticSearch([FESTIVAL, LIGHTHOUSE])
    ans = await run(strategy, Q, llm=llm, tools=search, budget=budget, profile=profile)
    return ans, llm, budget


async def test_an_accepted_first_answer_stops_after_one_critique():
    fn, asked = scripted(read=[" Odile Maren"], critique=[" Yes"])
    ans, _, budget = await _run(Revision(rounds=3), fn)
    assert ans.text == "Odile Maren" and ans.meta["accepted"] and ans.confidence == 1.0
    assert asked == ["read", "critique"]
    assert len(ans.task.subtasks) == 1 and budget.ledger.usage.search_calls == 1


async def test_a_rejected_answer_is_revised_from_a_new_search_of_an_unread_passage():
    fn, asked = scripted(
        read=[" Skerry Point", " Odile Maren"],
        critique=[" No", " Yes"],
        query=[" Who designed Skerry Point Lighthouse?"],
    )
    search = StaticSearch([FESTIVAL, LIGHTHOUSE])
    ans, llm, _ = await _run(Revision(rounds=3), fn, search=search)
    assert ans.text == "Odile Maren" and ans.meta["critiques"] == [0.0, 1.0]
    assert asked == ["read", "critique", "query", "read", "critique"]
    assert search.queries == [Q, "Who designed Skerry Point Lighthouse?"]
    # The revision read the passage it had not read yet, and only that one (completion profile).
    revise = [r for r in llm.requests if kind(r) == "read"][1]
    assert "designed by Odile Maren" in revise.prompt and "every August" not in revise.prompt
    round1 = ans.task.subtasks[0]
    assert [a.meta.get("label", a.kind) for a in round1.actions] == [
        "critique", "query", "search", "revise"]
    assert ans.sources == ("Marrow Festival", "Skerry Point")


async def test_when_rounds_run_out_the_last_revision_is_the_answer():
    docs = [Document(str(i), f"T{i}", f"Passage number {i}.") for i in range(5)]
    fn, asked = scripted(read=[" a1", " a2", " a3"], critique=[" No", " No"],
                         query=[" q1", " q2"])
    ans, _, budget = await _run(Revision(rounds=2), fn, search=StaticSearch(docs))
    assert ans.text == "a3" and not ans.meta["accepted"]
    assert asked == ["read", "critique", "query", "read", "critique", "query", "read"]
    assert budget.ledger.usage.search_calls == 3 and len(ans.task.subtasks) == 2


async def test_without_research_revisions_read_the_next_ranked_passages():
    fn, asked = scripted(read=[" Skerry Point", " Odile Maren"], critique=[" No", " Yes"])
    search = StaticSearch([FESTIVAL, LIGHTHOUSE])
    ans, _, budget = await _run(Revision(rounds=2, research=False), fn, search=search)
    assert ans.text == "Odile Maren"
    assert "query" not in asked and budget.ledger.usage.search_calls == 1
    assert search.queries == [Q]


async def test_no_unread_passage_ends_the_revision_with_the_current_answer():
    fn, asked = scripted(read=[" Skerry Point"], critique=[" No"], query=[" anything"])
    ans, _, _ = await _run(Revision(rounds=3), fn, search=StaticSearch([FESTIVAL]))
    assert ans.text == "Skerry Point" and asked == ["read", "critique", "query"]
    assert ans.task.subtasks[0].status == "failed"


async def test_undecided_critique_accepts_and_an_empty_revision_keeps_the_answer():
    fn, _ = scripted(read=[" Odile Maren"], critique=[" perhaps"])
    ans, _, _ = await _run(Revision(rounds=2), fn)
    assert ans.text == "Odile Maren" and ans.meta["accepted"]

    fn, _ = scripted(read=[" Skerry Point", "\n"], critique=[" No"], query=["\n"])
    ans, _, _ = await _run(Revision(rounds=1), fn)
    assert ans.text == "Skerry Point"  # the empty reply did not replace it; empty query -> question


async def test_budget_exhausted_mid_round_answers_with_what_it_has():
    fn, _ = scripted(read=[" Skerry Point", " Odile Maren"], critique=[" No", " Yes"],
                     query=[" Who designed Skerry Point Lighthouse?"])
    _, _, probe = await _run(Revision(rounds=2), fn)
    upto_critique = sum(e.cost for e in probe.ledger.entries[:3])  # search, read, critique
    for limit in (upto_critique + 3, upto_critique + 60):  # query refused / revision refused
        fn, _ = scripted(read=[" Skerry Point", " Odile Maren"], critique=[" No", " Yes"],
                         query=[" Who designed Skerry Point Lighthouse?"])
        ans, _, budget = await _run(Revision(rounds=2), fn, budget=Budget(limit))
        assert ans.text == "Skerry Point" and ans.exhausted
        assert ans.task.subtasks[0].status == "exhausted"
        assert budget.spent <= budget.limit
        assert any(a.kind == "refused" for a in ans.task.subtasks[0].actions)


def test_settings_are_checked():
    with pytest.raises(ConfigError):
        Revision(rounds=-1)


def test_clean_query_reads_one_line():
    reply = " Search: Where was Ada Prell born?\nQuestion: x"
    assert clean_query(reply) == "Where was Ada Prell born?"
    assert clean_query("   \n") == ""


def test_query_shots_come_from_dev_decompositions():
    shots = query_shots(ExemplarSet.generic())
    assert shots[0] == ("In which town was the founder of the Lantern Society born?", "nothing yet",
                        "Who founded the Lantern Society?")
    assert shots[1][2] == "In which town was Ada Prell born?"  # the placeholder resolved


@pytest.mark.parametrize("profile", ["completion", "chat"])
def test_query_and_revise_prompts(profile, snapshot):
    ex = ExemplarSet.generic()
    hits = [Hit(FESTIVAL, 2.0, 0), Hit(LIGHTHOUSE, 1.0, 1)]
    known = "Marrow Festival: The Marrow Festival is held every August at Skerry Point."
    query = render(query_prompt(Q, known, exemplars=ex), profile)
    revise = render(revise_prompt(Q, hits, ["Skerry Point"], exemplars=ex), profile)
    snapshot(f"queries_{profile}", query.text_for_counting())
    snapshot(f"revision_revise_{profile}", revise.text_for_counting())


async def test_revision_end_to_end_with_gemma(gemma, small_world):
    question: Question = next(q for q in small_world.test if q.hops == 2)
    strategy = Revision(rounds=1, max_tokens=12, exemplars=ExemplarSet.from_dev(small_world.dev))
    budget = Budget(3_000)
    ans = await run(strategy, question, llm=gemma, tools=BM25Search(small_world.corpus),
                    budget=budget, seed=1)
    # The structure the strategy promises, whatever the model wrote: search and read, then one
    # round (rounds=1) that critiques and, unless the answer is accepted, looks again and revises.
    assert [a.kind for a in ans.task.actions] == ["search", "generate"]
    assert len(ans.task.subtasks) == 1
    labels = [a.meta.get("label", a.kind) for a in ans.task.subtasks[0].actions]
    assert labels == ["critique", "query", "search", "revise"][: len(labels)] and labels
    if ans.meta.get("accepted"):
        assert labels == ["critique"]
    assert_competent(ans, budget, question.text)
