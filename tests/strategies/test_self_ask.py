"""Self-Ask with search: follow-ups answered by search + reader flow into the next step."""

from __future__ import annotations

import pytest
from answer_checks import assert_competent  # what any competent real-model run has
from lantern import EX, TOOL, Q  # the shared test corpus

from forage.core.budget import Budget
from forage.llm.testing import ScriptedLLM
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.reader import flat_reader_prompt
from forage.prompts.render import render
from forage.runtime.driver import run
from forage.search.bm25 import BM25Search
from forage.strategies.self_ask import (
    FINAL,
    FOLLOW_UP,
    SelfAsk,
    Step,
    exemplar_chain,
    parse_continuation,
    self_ask_prompt,
)


async def test_follow_ups_are_searched_read_and_their_answers_flow_into_the_next_prompt():
    llm = ScriptedLLM([
        " Yes.\nFollow up: Who founded the Lantern Society?\n",
        " Ada Prell.",  # reader
        "Follow up: Where was Ada Prell born?\n",
        " Harrowgate",  # reader
        "So the final answer is: Harrowgate",
    ])
    budget = Budget(10_000)
    ans = await run(SelfAsk(), Q, llm=llm, tools=TOOL, budget=budget, profile="completion")
    assert ans.text == "Harrowgate"
    kinds = [a.kind for a in ans.task.actions]
    assert kinds == ["generate", "search", "generate", "generate", "search", "generate", "generate"]
    queries = [a.input for a in ans.task.actions if a.kind == "search"]
    assert queries == ["Who founded the Lantern Society?", "Where was Ada Prell born?"]
    reader = llm.requests[1].prompt
    assert "Passage: Lantern Society: The Lantern Society was founded by Ada Prell." in reader
    assert reader.endswith("Question: Who founded the Lantern Society?\nAnswer:")
    third = llm.requests[2].prompt
    assert third.endswith(
        f"Question: {Q}\nAre follow up questions needed here: Yes.\n"
        "Follow up: Who founded the Lantern Society?\nIntermediate answer: Ada Prell\n"
    )
    assert llm.requests[0].stop[0] == "Intermediate answer:"
    assert ans.sources == ("Lantern Society", "Ada Prell")


async def test_a_direct_final_answer_needs_no_search():
    llm = ScriptedLLM([" No.\nSo the final answer is: Harrowgate"])
    ans = await run(SelfAsk(), Q, llm=llm, tools=TOOL, budget=Budget(10_000), profile="completion")
    assert ans.text == "Harrowgate"
    assert [a.kind for a in ans.task.actions] == ["generate"]
    assert ans.meta["transcript"].startswith("Are follow up questions needed here: No.")


async def test_a_malformed_reply_is_recovered_with_the_follow_up_label():
    llm = ScriptedLLM([
        " Yes.\nThe society is old.\n",
        " Who founded the Lantern Society?",
        " Ada Prell",  # reader
        "So the final answer is: Ada Prell",
    ])
    ans = await run(SelfAsk(), Q, llm=llm, tools=TOOL, budget=Budget(10_000), profile="completion")
    assert ans.text == "Ada Prell"
    recover = llm.requests[1]
    assert recover.prompt.endswith("Are follow up questions needed here: Yes.\nFollow up:")
    assert recover.stop == ("\n",)
    searches = [a.input for a in ans.task.actions if a.kind == "search"]
    assert searches == ["Who founded the Lantern Society?"]


async def test_the_follow_up_cap_ends_with_one_final_answer_call():
    llm = ScriptedLLM([
        " Yes.\nFollow up: Who founded the Lantern Society?",
        " Ada Prell",
        " Harrowgate",
    ])
    ans = await run(SelfAsk(max_follow_ups=1), Q, llm=llm, tools=TOOL, budget=Budget(10_000),
                    profile="completion")
    assert ans.text == "Harrowgate"
    last = llm.requests[-1]
    assert last.prompt.endswith("Intermediate answer: Ada Prell\nSo the final answer is:")
    assert len(llm.requests) == 3


async def test_exhaustion_answers_with_the_latest_intermediate_answer():
    first = render(self_ask_prompt(Q, "", EX.multi_hop), "completion")
    words = len(first.prompt.split())
    follow_up = "Who founded the Lantern Society?"
    reader = render(flat_reader_prompt(follow_up, TOOL.search(follow_up, 1), exemplars=EX.reader),
                    "completion")
    reader_words = len(reader.prompt.split())
    llm = ScriptedLLM([" Yes.\nFollow up: Who founded the Lantern Society?", " Ada Prell"])
    # The first step (its prompt + 7 words), the search and the reader (its prompt + 2 words)
    # fit; neither a second step nor the final call (each a longer prompt) does.
    budget = Budget(words * 0.25 + 7 + 50 + reader_words * 0.25 + 2 + 5)
    ans = await run(SelfAsk(reserve=0), Q, llm=llm, tools=TOOL, budget=budget, profile="completion")
    assert ans.exhausted and ans.text == "Ada Prell"
    kinds = [a.kind for a in ans.task.actions]
    assert kinds[:3] == ["generate", "search", "generate"] and kinds[-1] == "refused"
    assert budget.spent <= budget.limit


def test_parse_continuation_reads_the_first_usable_line():
    assert parse_continuation(" Yes.\nFollow up: Who founded X?\n") == Step(
        follow_up="Who founded X?", needed="Yes")
    assert parse_continuation(" No. So the final answer is: Y") == Step(final="Y", needed="No")
    assert parse_continuation("follow up:   Where   is X?") == Step(follow_up="Where is X?")
    assert parse_continuation("Follow up:\nnothing here") == Step()
    assert parse_continuation("So the final answer is: A\nFollow up: B") == Step(final="A")


def test_exemplar_chain_has_resolved_follow_ups_and_the_final_answer():
    text = exemplar_chain(EX.multi_hop[0])
    assert f"{FOLLOW_UP} In which town was Ada Prell born?" in text
    assert text.endswith(f"{FINAL} Harrowgate")


@pytest.mark.parametrize("profile", ["completion", "chat"])
def test_prompts_snapshot(snapshot, profile):
    transcript = (
        " Yes.\nFollow up: Who founded the Lantern Society?\nIntermediate answer: Ada Prell\n"
    )
    first = render(self_ask_prompt(Q, "", EX.multi_hop), profile)
    later = render(self_ask_prompt(Q, transcript, EX.multi_hop), profile)
    final = render(self_ask_prompt(Q, transcript, EX.multi_hop, label=FINAL), profile)
    snapshot(f"self_ask_first_{profile}", first.text_for_counting())
    snapshot(f"self_ask_later_{profile}", later.text_for_counting())
    snapshot(f"self_ask_final_{profile}", final.text_for_counting())


async def test_embedded_self_ask_stays_in_budget_with_the_expected_actions(gemma, small_world):
    exemplars = ExemplarSet.from_dev(small_world.dev)
    tool = BM25Search(small_world.corpus)
    q = next(q for q in small_world.test if (q.hops or 0) >= 2)
    budget = Budget(2500)
    ans = await run(SelfAsk(max_follow_ups=2, step_tokens=32, exemplars=exemplars), q,
                    llm=gemma, tools=tool, budget=budget)
    kinds = [a.kind for a in ans.task.actions]
    assert kinds[0] == "generate"
    assert kinds.count("search") <= 2  # max_follow_ups=2
    # every search is followed by a reader call (or a refusal)
    for i, k in enumerate(kinds):
        if k == "search":
            assert kinds[i + 1] in ("generate", "refused")
    assert_competent(ans, budget, q.text)
