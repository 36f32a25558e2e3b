"""Flat ReAct: thought/action/observation in order, Finish stops, caps and budgets bound it."""

from __future__ import annotations

import pytest
from answer_checks import assert_competent  # what any competent real-model run has
from lantern import EX, TOOL, Q  # the shared test corpus

from forage.core.budget import Budget
from forage.llm.testing import FunctionLLM, ScriptedLLM
from forage.search.bm25 import BM25Search
from forage.runtime.driver import run
from forage.prompts.exemplars import ExemplarSet
from forage.strategies.react import (
    Action,
    ReAct,
    exemplar_trajectory,
    parse_action,
    react_prompt,
    split_thought_action,
)
from forage.prompts.render import render


async def test_searches_observe_and_finish_in_order_with_the_transcript_in_context():
    llm = ScriptedLLM([
        " I need the founder.\nAction 1: Search[Lantern Society founder]",
        " So it is Ada Prell.\nAction 2: Search[Ada Prell born]",
        " So it is Harrowgate.\nAction 3: Finish[Harrowgate]",
    ])
    budget = Budget(10_000)
    ans = await run(ReAct(), Q, llm=llm, tools=TOOL, budget=budget, profile="completion")
    assert ans.text == "Harrowgate" and ans.meta["finished"]
    kinds = [a.kind for a in ans.task.actions]
    assert kinds == ["generate", "search", "generate", "search", "generate"]
    assert [a.input for a in ans.task.actions if a.kind == "search"] == [
        "Lantern Society founder", "Ada Prell born"]
    last = llm.requests[2].prompt
    assert "Observation 1: Lantern Society: The Lantern Society was founded by Ada Prell." in last
    assert "Observation 2: Ada Prell: Ada Prell was born in Harrowgate." in last
    assert last.endswith("Thought 3:")
    assert llm.requests[0].stop[0] == "\nObservation"
    assert ans.sources == ("Ada Prell",)
    assert budget.ledger.usage.llm_calls == 3  # no fallback read after Finish


async def test_a_reply_without_an_action_line_gets_a_second_call_for_the_action():
    llm = ScriptedLLM([" I need the founder of the Lantern Society.", " Finish[Ada Prell]"])
    ans = await run(ReAct(), Q, llm=llm, tools=TOOL, budget=Budget(10_000), profile="completion")
    assert ans.text == "Ada Prell"
    second = llm.requests[1]
    assert second.prompt.endswith(
        "Thought 1: I need the founder of the Lantern Society.\nAction 1:")
    assert second.stop == ("\n",) and second.max_tokens == 24


async def test_a_malformed_action_becomes_an_observation_and_the_run_goes_on():
    llm = ScriptedLLM([
        " hmm\nAction 1: Look around the harbour",
        " Try again.\nAction 2: Finish[Harrowgate]",
    ])
    ans = await run(ReAct(), Q, llm=llm, tools=TOOL, budget=Budget(10_000), profile="completion")
    assert ans.text == "Harrowgate"
    assert "Observation 1: Invalid action: Look around the harbour." in llm.requests[1].prompt
    assert [a.kind for a in ans.task.actions] == ["generate", "generate"]


async def test_the_iteration_cap_ends_with_one_reader_call_on_the_latest_evidence():
    llm = ScriptedLLM([
        " a\nAction 1: Search[Lantern Society]",
        " b\nAction 2: Search[Ada Prell]",
        " Harrowgate\n",  # the reader
    ])
    ans = await run(ReAct(max_iterations=2), Q, llm=llm, tools=TOOL, budget=Budget(10_000),
                    profile="completion")
    assert ans.text == "Harrowgate" and not ans.meta["finished"]
    reader = llm.requests[2].prompt
    assert reader.endswith(f"Question: {Q}\nAnswer:")
    assert "Passage: Ada Prell: Ada Prell was born in Harrowgate." in reader
    assert "Lantern Society was founded" not in reader.split("Passage: ")[-1]
    assert len(llm.requests) == 3


async def test_the_iteration_cap_without_evidence_answers_empty_without_another_call():
    llm = ScriptedLLM([" a\nAction 1: Ponder", " b\nAction 2: Ponder"])
    ans = await run(ReAct(max_iterations=2), Q, llm=llm, tools=TOOL, budget=Budget(10_000),
                    profile="completion")
    assert ans.text == "" and not ans.exhausted
    assert len(llm.requests) == 2


async def test_the_reserve_stops_iterating_and_leaves_room_for_the_reader():
    def reply(request):
        if request.prompt.endswith("Answer:"):
            return "Harrowgate"
        return " go\nAction 1: Search[Ada Prell]"

    llm = FunctionLLM(reply)
    words = len(render(react_prompt(Q, "", 1, EX.multi_hop), "completion").prompt.split())
    # One thought (its prompt + 64 reserved tokens) and one search fit; then less than the
    # reserve (150) is left, so no second thought starts, and the short reader call still fits.
    budget = Budget(words * 0.25 + 64 + 50 + 20)
    ans = await run(ReAct(max_iterations=8), Q, llm=llm, tools=TOOL, budget=budget,
                    profile="completion")
    assert ans.text == "Harrowgate"
    assert [a.kind for a in ans.task.actions] == ["generate", "search", "generate"]
    assert budget.spent <= budget.limit


async def test_the_transcript_cap_stops_the_loop():
    llm = FunctionLLM(lambda r: "x " * 30 + "\nAction 1: Search[Ada Prell]"
                      if not r.prompt.endswith("Answer:") else "Harrowgate")
    ans = await run(ReAct(max_iterations=8, max_transcript_chars=200), Q, llm=llm, tools=TOOL,
                    budget=Budget(100_000), profile="completion")
    searches = [a for a in ans.task.actions if a.kind == "search"]
    assert 1 <= len(searches) < 8
    assert ans.text == "Harrowgate"


def test_parse_action_is_tolerant_and_bounded():
    assert parse_action("Search[Ada Prell]") == Action("search", "Ada Prell")
    assert parse_action("  search [Ada Prell") == Action("search", "Ada Prell")
    assert parse_action("Action 3: FINISH[Harrowgate]\nThought 4: x") == Action(
        "finish", "Harrowgate")
    assert parse_action("Search[]").kind == "invalid"
    assert parse_action("I will look it up") == Action("invalid", "I will look it up")


def test_split_thought_action_reads_both_lines_or_just_one():
    assert split_thought_action(" t\nAction 1: Search[x]\nObservation 1: y") == ("t", "Search[x]")
    assert split_thought_action(" just thinking") == ("just thinking", None)
    assert split_thought_action(" Finish[Harrowgate]") == ("", "Finish[Harrowgate]")


def test_exemplar_trajectory_searches_each_resolved_step_then_finishes():
    text = exemplar_trajectory(EX.multi_hop[0])
    assert "Action 2: Search[In which town was Ada Prell born?]" in text
    assert text.endswith("Action 3: Finish[Harrowgate]")
    assert "#1" not in text


@pytest.mark.parametrize("profile", ["completion", "chat"])
def test_prompts_snapshot(snapshot, profile):
    transcript = (
        "Thought 1: I need to find out: Who founded the Lantern Society?\n"
        "Action 1: Search[Who founded the Lantern Society?]\n"
        "Observation 1: Lantern Society: The Lantern Society was founded by Ada Prell.\n"
    )
    first = render(react_prompt(Q, "", 1, EX.multi_hop), profile)
    later = render(react_prompt(Q, transcript, 2, EX.multi_hop), profile)
    action = render(react_prompt(Q, transcript, 2, EX.multi_hop, thought="So it is Ada Prell."),
                    profile)
    snapshot(f"react_first_{profile}", first.text_for_counting())
    snapshot(f"react_later_{profile}", later.text_for_counting())
    snapshot(f"react_action_{profile}", action.text_for_counting())


async def test_embedded_react_stays_in_budget_with_the_expected_actions(gemma, small_world):
    exemplars = ExemplarSet.from_dev(small_world.dev)
    tool = BM25Search(small_world.corpus)
    q = next(q for q in small_world.test if (q.hops or 0) >= 2)
    budget = Budget(2500)
    strategy = ReAct(max_iterations=2, max_words=40, step_tokens=40, exemplars=exemplars)
    ans = await run(strategy, q, llm=gemma, tools=tool, budget=budget)
    kinds = [a.kind for a in ans.task.actions]
    assert kinds[0] == "generate"
    assert set(kinds) <= {"generate", "search", "refused"}
    assert kinds.count("search") <= 2  # max_iterations=2
    # At the iteration cap without evidence ReAct answers empty, by design.
    assert_competent(ans, budget, q.text, may_be_empty=not ans.meta["finished"])
