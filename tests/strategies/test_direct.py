"""Closed-book baselines: Direct answers in one call; CoT reasons, then reads the answer line."""

from __future__ import annotations

import pytest
from answer_checks import assert_competent  # what any competent real-model run has

from forage.core.budget import Budget
from forage.core.types import Document
from forage.llm.testing import ScriptedLLM
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.strategies.direct import (
    CoT,
    Direct,
    answer_after,
    cot_prompt,
    direct_prompt,
    reasoning_sentences,
)
from forage.prompts.render import render
from forage.runtime.driver import run
from forage.prompts.exemplars import DevExample, DevStep, ExemplarSet

Q = "Where was the founder of the Lantern Society born?"
TOOL = BM25Search(Corpus([Document("1", "Lantern Society", "Founded by Ada Prell.")]))
EX = ExemplarSet.generic()


async def test_direct_answers_in_one_call_without_searching():
    llm = ScriptedLLM([" Harrowgate.\n"])
    ans = await run(Direct(), Q, llm=llm, tools=TOOL, budget=Budget(5000), profile="completion")
    assert ans.text == "Harrowgate"
    assert [a.kind for a in ans.task.actions] == ["generate"]
    prompt = llm.requests[0].prompt
    assert prompt.endswith(f"Question: {Q}\nAnswer:")
    assert "Answer: Harrowgate" in prompt  # the exemplar's answer, few-shot
    assert llm.requests[0].stop == ("\n",)


async def test_direct_refused_is_an_empty_exhausted_answer():
    budget = Budget(5)
    ans = await run(Direct(), Q, llm=ScriptedLLM([]), tools=TOOL, budget=budget,
                    profile="completion")
    assert ans.exhausted and ans.text == ""
    assert budget.spent == 0


async def test_cot_reads_the_answer_line_and_makes_no_extraction_call():
    llm = ScriptedLLM(
        [" Ada Prell founded it. Ada Prell was born in Harrowgate. So the answer is: Harrowgate."]
    )
    ans = await run(CoT(), Q, llm=llm, tools=TOOL, budget=Budget(5000), profile="completion")
    assert ans.text == "Harrowgate"
    assert len(llm.requests) == 1
    assert ans.task.thought.startswith("Ada Prell founded it.")
    assert llm.requests[0].max_tokens == 96


async def test_cot_without_an_answer_line_extracts_it_with_one_short_call():
    llm = ScriptedLLM([" Ada Prell founded it. She was born in", " Harrowgate.\n"])
    ans = await run(CoT(max_tokens=48), Q, llm=llm, tools=TOOL, budget=Budget(5000),
                    profile="completion")
    assert ans.text == "Harrowgate"
    second = llm.requests[1]
    assert second.prompt.endswith("Answer: Ada Prell founded it. She was born in So the answer is:")
    assert second.max_tokens == 16
    assert llm.requests[0].max_tokens == 48


async def test_cot_refused_extraction_is_exhausted_and_within_budget():
    llm = ScriptedLLM([" Ada Prell founded it and" * 24])  # 96 words, no answer line
    first = render(cot_prompt(Q, EX.multi_hop), "completion")
    words = len(first.prompt.split())
    # The reasoning call (prompt + 96 tokens) fits; the extraction call (longer prompt + 16) not.
    budget = Budget(words * 0.25 + 96 + 5)
    ans = await run(CoT(), Q, llm=llm, tools=TOOL, budget=budget, profile="completion")
    assert ans.exhausted and ans.text == ""
    assert [a.kind for a in ans.task.actions] == ["generate", "refused"]
    assert budget.spent <= budget.limit


def test_answer_after_takes_the_last_marker_and_cleans_it():
    assert answer_after("A. So the answer is: Tifin.") == "Tifin"
    assert answer_after("so the final answer is Pise College") == "Pise College"
    assert answer_after("So the answer is: x. So the answer is: y.") == "y"
    assert answer_after("Lekenia Kidik is a chemist.") is None


def test_reasoning_sentences_name_their_subject():
    ex = DevExample(
        "What is the occupation of the founder of Restless River Records?", "chemist",
        steps=(
            DevStep("Who founded Restless River Records?", "Lekenia Kidik",
                    "The label was founded by Lekenia Kidik.", "Restless River Records"),
            DevStep("What is the occupation of #1?", "chemist", "Lekenia Kidik is a chemist.",
                    "Lekenia Kidik"),
        ),
    )
    assert reasoning_sentences(ex) == (
        "Restless River Records: The label was founded by Lekenia Kidik.",
        "Lekenia Kidik is a chemist.",
    )


@pytest.mark.parametrize("profile", ["completion", "chat"])
def test_prompts_snapshot(snapshot, profile):
    d = render(direct_prompt(Q, EX.multi_hop), profile)
    c = render(cot_prompt(Q, EX.multi_hop), profile)
    x = render(cot_prompt(Q, EX.multi_hop, reasoning="Ada Prell founded it."), profile)
    snapshot(f"direct_{profile}", d.text_for_counting())
    snapshot(f"cot_{profile}", c.text_for_counting())
    snapshot(f"cot_extract_{profile}", x.text_for_counting())


async def test_embedded_direct_and_cot_stay_in_budget(gemma, small_world):
    exemplars = ExemplarSet.from_dev(small_world.dev)
    tool = BM25Search(small_world.corpus)
    q = next(q for q in small_world.test if (q.hops or 0) >= 2)
    for strategy, calls in ((Direct(exemplars=exemplars), (1,)),
                            (CoT(max_tokens=48, exemplars=exemplars), (1, 2))):
        budget = Budget(1500)
        ans = await run(strategy, q, llm=gemma, tools=tool, budget=budget)
        kinds = [a.kind for a in ans.task.actions]
        assert set(kinds) == {"generate"}  # closed-book: never searches; 1500 pays for each call
        assert len(kinds) in calls  # Direct: one call; CoT: reasoning (+ one extraction call)
        assert_competent(ans, budget, q.text)
