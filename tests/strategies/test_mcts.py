"""MCTS over search/answer actions: UCT arithmetic, backprop, selection, budget cuts, prompts."""

from __future__ import annotations

import math

import pytest
from answer_checks import assert_competent  # what any competent real-model run has

from forage.core.budget import Budget
from forage.core.errors import ConfigError
from forage.core.types import Document, Question
from forage.llm.base import LLMRequest
from forage.llm.testing import FunctionLLM
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.runtime.driver import run
from forage.prompts.exemplars import ExemplarSet
from forage.strategies.mcts import (
    MCTS,
    Node,
    backpropagate,
    best_answer,
    select,
    select_child,
    ucb,
)

FESTIVAL = Document("a", "Marrow Festival",
                    "The Marrow Festival is held every August at Skerry Point.")
LIGHTHOUSE = Document("b", "Skerry Point", "Skerry Point Lighthouse was designed by Odile Maren.")
HARBOUR = Document("c", "Brennock", "Brennock is a fishing port with a sea wall and a harbour.")
Q = "Who designed the lighthouse at the place where the Marrow Festival is held?"


@pytest.fixture
def tool():
    return BM25Search(Corpus([FESTIVAL, LIGHTHOUSE, HARBOUR]))


# -- pure tree arithmetic ----------------------------------------------------------------------


def test_ucb_arithmetic():
    assert ucb(0.0, 0, 5, 1.0) == math.inf
    assert ucb(2.0, 4, 16, 1.0) == pytest.approx(0.5 + math.sqrt(math.log(16) / 4))  # 1.3326
    assert ucb(2.0, 4, 16, 1.0) == pytest.approx(1.33255, abs=1e-5)
    assert ucb(1.0, 1, 1, 2.0) == 1.0  # ln 1 = 0: no exploration bonus
    assert ucb(3.0, 4, 16, 0.0) == 0.75


def _tree():
    root = Node("root", expanded=True, visits=10, value_sum=7.0)
    a = root.add("search", query="a", visits=8, value_sum=6.0)
    b = root.add("search", query="b", visits=2, value_sum=1.0)
    return root, a, b


def test_select_child_trades_value_against_exploration():
    root, a, b = _tree()
    # a: 0.75 + sqrt(ln 10 / 8) = 1.2865; b: 0.5 + sqrt(ln 10 / 2) = 1.5730
    assert select_child(root, 1.0) is b
    # c = 0.1: a 0.8037, b 0.6073
    assert select_child(root, 0.1) is a
    c = root.add("search", query="c")
    assert select_child(root, 0.1) is c  # an unvisited child is tried first


def test_backpropagate_adds_a_visit_and_the_value_along_the_path():
    root = Node("root")
    s = root.add("search", query="q")
    leaf = s.add("answer", answer="x")
    backpropagate([root, s, leaf], 0.8)
    backpropagate([root, s], 0.2)
    assert (root.visits, root.value_sum) == (2, pytest.approx(1.0))
    assert (s.visits, s.mean) == (2, pytest.approx(0.5))
    assert (leaf.visits, leaf.mean) == (1, pytest.approx(0.8))


def test_select_stops_where_expansion_is_due_or_at_a_leaf():
    root = Node("root", expanded=True, visits=2, value_sum=1.0)
    s1 = root.add("search", query="q1", visits=1, value_sum=0.9)
    s1.add("answer", answer="x", visits=1, value_sum=0.9)
    root.add("search", query="q2", visits=1, value_sum=0.1)
    assert select(root, 1.0, max_depth=3) == [root, s1]  # s1 may still propose searches
    path = select(root, 1.0, max_depth=1)  # no deeper searches: descend to s1's answer leaf
    assert [n.kind for n in path] == ["root", "search", "answer"] and path[1] is s1
    fresh = Node("root")
    assert select(fresh, 1.0, max_depth=3) == [fresh]


def test_depth_evidence_and_queries_follow_the_path():
    root = Node("root")
    s1 = root.add("search", query="q1")
    s2 = s1.add("search", query="q2")
    s1.add("search", query="q3")
    assert (root.depth, s1.depth, s2.depth) == (0, 1, 2)
    assert set(s1.queries()) == {"q1", "q2", "q3"} and set(s2.queries()) == {"q1", "q2"}


def test_best_answer_by_mean_then_visits_then_order():
    leaves = [
        Node("answer", answer="a", visits=2, value_sum=1.0),
        Node("answer", answer="b", visits=1, value_sum=0.9),
        Node("answer", answer="c", visits=3, value_sum=2.7),
        Node("answer", answer="the", visits=1, value_sum=1.0),  # empty after normalisation
        Node("answer", answer="d", visits=0),
    ]
    assert best_answer(leaves).answer == "c"
    tie = [leaves[1], Node("answer", answer="e", visits=1, value_sum=0.9)]
    assert best_answer(tie).answer == "b"
    assert best_answer(leaves[3:]) is None


# -- the strategy with a test double -----------------------------------------------------------


def kind(request: LLMRequest) -> str:
    text = request.text_for_counting().rstrip()
    if text.endswith("Supported:"):
        return "value"
    if text.endswith("Search:") or "Known:" in text.splitlines()[-1]:
        return "propose"
    return "read"


def world_model(asked: list[str] | None = None):
    """Proposes the hop-2 query, reads what the newest passage says, accepts only Odile Maren."""

    def fn(request: LLMRequest) -> str:
        k = kind(request)
        if asked is not None:
            asked.append(k)
        text = request.text_for_counting()
        if k == "propose":
            return " Who designed Skerry Point Lighthouse?"
        if k == "value":
            return " Yes" if text.rstrip().splitlines()[-2].endswith("Odile Maren") else " No"
        last_passage = [line for line in text.splitlines() if line.startswith("Passage:")][-1]
        return " Odile Maren" if "designed by" in last_passage else " Skerry Point"

    return fn


async def test_mcts_finds_the_answer_the_verifier_values_most(tool):
    asked: list[str] = []
    llm = FunctionLLM(world_model(asked))
    ans = await run(MCTS(simulations=4), Q, llm=llm, tools=tool, budget=Budget(),
                    profile="completion")
    assert ans.text == "Odile Maren"
    assert ans.confidence == pytest.approx(math.exp(-0.1))  # P(yes) from the verdict's logprob
    assert len(ans.task.subtasks) == 4 and all(t.status == "done" for t in ans.task.subtasks)
    assert not ans.task.actions  # every call belongs to a simulation
    first = [a.meta.get("label", a.kind) for a in ans.task.subtasks[0].actions]
    assert first == ["propose", "search", "answer", "value"]
    # simulation 2 evaluates the root's second search action; nothing is proposed before it ran
    second = [a.meta.get("label", a.kind) for a in ans.task.subtasks[1].actions]
    assert second == ["search", "answer", "value"]
    assert ans.task.subtasks[1].conclusion.startswith("search('Who designed Skerry Point")
    assert all(r.n == 2 and r.temperature > 0 for r in llm.requests if kind(r) == "propose")
    assert all(r.stop == ("\n",) for r in llm.requests)
    assert "Skerry Point" in [leaf[0] for leaf in ans.meta["leaves"]]


async def test_revisiting_a_valued_leaf_costs_nothing(tool):
    asked: list[str] = []
    llm = FunctionLLM(world_model(asked))
    budget = Budget()
    ans = await run(MCTS(simulations=3, branching=0, max_depth=1), Q, llm=llm, tools=tool,
                    budget=budget, profile="completion")
    assert asked == ["read", "value"]  # simulation 1 only; 2 and 3 revisit the answer leaf
    assert budget.ledger.usage.search_calls == 1
    assert ans.meta["leaves"][0][2] == 3  # the leaf was visited three times
    assert len(ans.task.subtasks) == 3


async def test_budget_exhausted_mid_search_answers_with_the_best_leaf_so_far(tool):
    probe = Budget()
    await run(MCTS(simulations=2), Q, llm=FunctionLLM(world_model()), tools=tool, budget=probe,
              profile="completion")
    first_sim = sum(e.cost for e in probe.ledger.entries[:4])  # propose, search, read, value
    budget = Budget(first_sim + 60)  # simulation 2 is cut part-way
    ans = await run(MCTS(simulations=8), Q, llm=FunctionLLM(world_model()), tools=tool,
                    budget=budget, profile="completion")
    assert budget.spent <= budget.limit
    assert ans.exhausted and ans.text
    assert ans.task.subtasks[0].status == "done" and ans.task.subtasks[-1].status == "exhausted"
    assert len(ans.task.subtasks) < 8


async def test_an_answer_read_but_not_valued_is_the_fallback(tool):
    probe = Budget()
    await run(MCTS(simulations=1), Q, llm=FunctionLLM(world_model()), tools=tool, budget=probe,
              profile="completion")
    upto_read = sum(e.cost for e in probe.ledger.entries[:3])
    budget = Budget(upto_read + 2)
    ans = await run(MCTS(simulations=4), Q, llm=FunctionLLM(world_model()), tools=tool,
                    budget=budget, profile="completion")
    assert ans.exhausted and ans.text in ("Skerry Point", "Odile Maren")
    assert budget.spent <= budget.limit


async def test_no_budget_at_all_answers_empty(tool):
    ans = await run(MCTS(), Q, llm=FunctionLLM(world_model()), tools=tool, budget=Budget(5))
    assert ans.text == "" and ans.exhausted


async def test_malformed_outputs_do_not_crash_and_the_search_stays_bounded(tool):
    llm = FunctionLLM(lambda r: "\n\n???")
    ans = await run(MCTS(simulations=6), Q, llm=llm, tools=tool, budget=Budget(),
                    profile="completion")
    assert ans.text == ""  # nothing was ever read
    assert len(ans.task.subtasks) == 6
    # Empty proposals add no actions; the question's own search is the only child of the root.
    assert sum(1 for r in llm.requests if kind(r) == "read") == 1


def test_settings_are_checked():
    with pytest.raises(ConfigError):
        MCTS(simulations=0)


@pytest.mark.parametrize("profile", ["completion", "chat"])
async def test_rendered_mcts_prompts(profile, tool, snapshot):
    llm = FunctionLLM(world_model())
    await run(MCTS(simulations=3, branching=1), Q, llm=llm, tools=tool, budget=Budget(),
              profile=profile)
    # the last of each: simulation 3 proposes from a passage, reads and values after two searches
    texts = {kind(r): r.text_for_counting() for r in llm.requests}
    snapshot(f"mcts_propose_{profile}", texts["propose"])
    snapshot(f"mcts_read_{profile}", texts["read"])
    snapshot(f"mcts_value_{profile}", texts["value"])


async def test_mcts_end_to_end_with_gemma(gemma, small_world):
    question: Question = next(q for q in small_world.test if q.hops == 2)
    strategy = MCTS(simulations=2, branching=1, max_tokens=12,
                    exemplars=ExemplarSet.from_dev(small_world.dev))
    budget = Budget(3_000)
    ans = await run(strategy, question, llm=gemma, tools=BM25Search(small_world.corpus),
                    budget=budget, seed=1)
    # One subtask per simulation (simulations=2); the first expands the root (proposes queries)
    # and evaluates a search node; every answer read is valued at most once.
    assert 1 <= len(ans.task.subtasks) <= 2
    labels = [a.meta.get("label", a.kind) for a in ans.task.walk() for a in a.actions]
    first = [a.meta.get("label", a.kind) for a in ans.task.subtasks[0].actions]
    assert first[:2] == ["propose", "search"]
    assert set(labels) <= {"propose", "search", "answer", "value", "refused"}
    assert labels.count("value") <= labels.count("answer") <= labels.count("search")
    assert_competent(ans, budget, question.text)
