"""IRCoT: retrieve with the question, then alternate a reasoning sentence and a retrieval."""

from __future__ import annotations

import pytest
from answer_checks import assert_competent  # what any competent real-model run has
from lantern import EX, TOOL, Q  # the shared test corpus

from forage.core.budget import Budget
from forage.core.types import Document, Hit
from forage.llm.testing import FunctionLLM, ScriptedLLM
from forage.search.bm25 import BM25Search
from forage.runtime.driver import run
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.render import render
from forage.strategies.ircot import IRCoT, add_new, first_sentence, ircot_prompt


def _hit(i: str) -> Hit:
    return Hit(Document(i, f"T{i}", f"text {i}"), 1.0, 0)


async def test_retrieves_with_each_sentence_and_stops_on_the_answer_line():
    llm = ScriptedLLM([
        " The Lantern Society was founded by Ada Prell. Ada Prell was born in",
        " Ada Prell was born in Harrowgate.",
        " So the answer is: Harrowgate.",
    ])
    budget = Budget(10_000)
    ans = await run(IRCoT(), Q, llm=llm, tools=TOOL, budget=budget, profile="completion")
    assert ans.text == "Harrowgate"
    kinds = [a.kind for a in ans.task.actions]
    assert kinds == ["search", "generate", "search", "generate", "search", "generate"]
    queries = [a.input for a in ans.task.actions if a.kind == "search"]
    # Only the first sentence of a reply is kept, and it is the next query.
    assert queries == [
        Q, "The Lantern Society was founded by Ada Prell.", "Ada Prell was born in Harrowgate."]
    third = llm.requests[2].prompt
    assert third.endswith(
        "A: The Lantern Society was founded by Ada Prell. Ada Prell was born in Harrowgate."
    )
    assert "Passage: Ada Prell: Ada Prell was born in Harrowgate." in third
    assert ans.meta["sentences"][-1] == "So the answer is: Harrowgate."


async def test_the_step_cap_ends_with_one_short_answer_call():
    llm = ScriptedLLM([" Ada Prell founded it.", " She was born in Harrowgate.", " Harrowgate.\n"])
    ans = await run(IRCoT(max_steps=2), Q, llm=llm, tools=TOOL, budget=Budget(10_000),
                    profile="completion")
    assert ans.text == "Harrowgate"
    last = llm.requests[-1]
    assert last.prompt.endswith(
        "A: Ada Prell founded it. She was born in Harrowgate. So the answer is:")
    assert last.max_tokens == 16 and len(llm.requests) == 3


async def test_an_empty_sentence_ends_the_loop_instead_of_repeating_the_prompt():
    llm = ScriptedLLM(["\n", " Harrowgate"])
    ans = await run(IRCoT(max_steps=6), Q, llm=llm, tools=TOOL, budget=Budget(10_000),
                    profile="completion")
    assert ans.text == "Harrowgate"
    assert [a.kind for a in ans.task.actions] == ["search", "generate", "generate"]


async def test_the_prompt_shows_at_most_max_passages_the_latest_ones():
    replies = iter([" Ada Prell founded it.", " Brennock is a port.", " So the answer is: x"])
    llm = FunctionLLM(lambda r: next(replies))
    await run(IRCoT(max_passages=1), Q, llm=llm, tools=TOOL, budget=Budget(10_000),
              profile="completion")
    last = llm.requests[-1].prompt.split("\n\n")[-1]
    assert last.count("Passage: ") == 1 and "Passage: Brennock:" in last


async def test_an_answer_line_without_an_answer_asks_for_it_once():
    llm = ScriptedLLM([" Ada Prell founded it.", " So the answer is:", " Harrowgate"])
    ans = await run(IRCoT(max_steps=6), Q, llm=llm, tools=TOOL, budget=Budget(10_000),
                    profile="completion")
    assert ans.text == "Harrowgate"
    assert llm.requests[-1].prompt.endswith("A: Ada Prell founded it. So the answer is:")
    assert [a.kind for a in ans.task.actions].count("search") == 2


def test_add_new_skips_seen_passages_and_keeps_the_latest():
    a, b, c = _hit("a"), _hit("b"), _hit("c")
    assert [h.document.id for h in add_new([a], [a, b, c], 1, 5)] == ["a", "b"]
    assert [h.document.id for h in add_new([a, b], [c], 1, 2)] == ["b", "c"]
    assert add_new([a], [a], 1, 3) == [a]


def test_first_sentence_keeps_only_the_first():
    assert first_sentence(" Ada Prell (born 1921) is a teacher. She lives here.\nQ: x") == (
        "Ada Prell (born 1921) is a teacher.")
    assert first_sentence("So the answer is: Harrowgate.") == "So the answer is: Harrowgate."
    assert first_sentence("   \n") == ""


@pytest.mark.parametrize("profile", ["completion", "chat"])
def test_prompts_snapshot(snapshot, profile):
    hits = TOOL.search("Lantern Society founder", 2)
    sentences = ["The Lantern Society was founded by Ada Prell."]
    step = render(ircot_prompt(Q, hits, sentences, EX.multi_hop), profile)
    final = render(ircot_prompt(Q, hits, sentences, EX.multi_hop, final=True), profile)
    snapshot(f"ircot_step_{profile}", step.text_for_counting())
    snapshot(f"ircot_final_{profile}", final.text_for_counting())


async def test_embedded_ircot_stays_in_budget_with_the_expected_actions(gemma, small_world):
    exemplars = ExemplarSet.from_dev(small_world.dev)
    tool = BM25Search(small_world.corpus)
    q = next(q for q in small_world.test if (q.hops or 0) >= 2)
    budget = Budget(2500)
    strategy = IRCoT(max_steps=2, max_passages=2, max_words=40, sentence_tokens=32,
                     exemplars=exemplars)
    ans = await run(strategy, q, llm=gemma, tools=tool, budget=budget)
    kinds = [a.kind for a in ans.task.actions]
    assert kinds[:2] == ["search", "generate"]  # retrieves with the question, then reasons
    assert set(kinds) <= {"search", "generate", "refused"}
    assert kinds.count("generate") <= 3  # max_steps=2 sentences + at most one answer call
    # retrievals: the question's, then one per reasoning sentence, each right after it
    assert kinds.count("search") <= 3
    assert all(kinds[i - 1] == "generate" for i, k in enumerate(kinds) if k == "search" and i)
    assert_competent(ans, budget, q.text)
