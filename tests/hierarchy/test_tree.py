"""The hierarchical engine: planning, DAG execution, shares and refunds, re-planning, forgetting."""

from __future__ import annotations

import re

import pytest

from forage.core.budget import Budget
from forage.core.types import Document, Question
from forage.llm.base import Capabilities, LLMRequest
from forage.llm.testing import FunctionLLM
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.runtime.base import Context, Generate, Parallel, Search
from forage.runtime.driver import run
from forage.hierarchy.tree import Tree

DOCS = Corpus(
    [
        Document("1", "Lantern Society", "The Lantern Society was founded by Ada Prell in 1956."),
        Document("2", "Ada Prell", "Ada Prell was born in Harrowgate and taught school."),
        Document("3", "Harrowgate", "Harrowgate is a market town on the river Wex."),
        Document("4", "Morning Gull", "Morning Gull is a ferry built in 1931."),
        Document("5", "Evening Tern", "Evening Tern is a ferry built in 1948."),
    ]
)
QUESTION = "In which town was the founder of the Lantern Society born?"
FACTS = {
    "Who founded the Lantern Society?": "Ada Prell",
    "Where was Ada Prell born?": "Harrowgate",
    "When was Morning Gull built?": "1931",
    "When was Evening Tern built?": "1948",
}
COMPLETION = Capabilities(exact_token_count=True, prompt_profile="completion")


def last(label: str, prompt: str) -> str:
    return re.findall(rf"^{label}: (.*)$", prompt, re.M)[-1]


def model(plans: list[str], synth: str = "Harrowgate", unknown: set[str] = frozenset()):
    """A stand-in model: plans from a list, reads answers from FACTS, synthesises ``synth``."""
    plans = list(plans)

    def reply(request: LLMRequest) -> str:
        prompt = request.prompt or ""
        if prompt.startswith("Split each question"):
            return plans.pop(0) if plans else "\n"
        if prompt.startswith("Answer the main question"):
            return synth
        question = last("Question", prompt)
        return "unknown" if question in unknown else FACTS.get(question, "unknown")

    return FunctionLLM(reply, capabilities=COMPLETION)


def answer(strategy, llm, budget=None, question=QUESTION):
    import asyncio

    b = budget or Budget(10_000)
    return asyncio.run(run(strategy, question, llm=llm, tools=BM25Search(DOCS), budget=b)), b


def test_plans_executes_in_order_and_synthesises_from_conclusions():
    llm = model([" Who founded the Lantern Society?\n2. Where was #1 born?"])
    ans, budget = answer(Tree(direct_first=False, attempts=1), llm)
    assert ans.text == "Harrowgate"
    goals = [t.goal for t in ans.task.subtasks]
    assert goals == ["Who founded the Lantern Society?", "Where was Ada Prell born?"]
    synth = [r.prompt for r in llm.requests if r.prompt.startswith("Answer the main question")]
    assert synth and "Facts: Who founded the Lantern Society? Ada Prell." in synth[0]
    assert "Passage:" not in synth[0].split("Main question: " + QUESTION)[1]
    assert budget.spent <= budget.limit


def test_finished_subtask_internals_never_reach_a_later_prompt():
    llm = model([" Who founded the Lantern Society?\n2. Where was #1 born?"])
    ans, _ = answer(Tree(direct_first=False, attempts=1, buffer=0), llm)
    second_read = [r.prompt for r in llm.requests if "Question: Where was Ada Prell born?" in (r.prompt or "")]
    assert second_read
    assert "founded by Ada Prell in 1956" not in second_read[0]
    assert "Known: Who founded the Lantern Society? Ada Prell." in second_read[0]
    assert ans.task.subtasks[0].pruned


def test_with_buffer_all_the_internals_stay_verbatim():
    llm = model([" Who founded the Lantern Society?\n2. Where was #1 born?"])
    ans, _ = answer(Tree(direct_first=False, attempts=1, buffer=-1), llm)
    second_read = [r.prompt for r in llm.requests if "Question: Where was Ada Prell born?" in (r.prompt or "")]
    assert "founded by Ada Prell in 1956" in second_read[0]
    assert not ans.task.subtasks[0].pruned


def test_independent_subtasks_are_yielded_together():
    strategy = Tree(direct_first=False, attempts=1)
    budget = Budget(10_000)
    from forage.core.trace import Task

    root = Task("Which ferry is older, Morning Gull or Evening Tern?", budget=budget)
    ctx = Context(question=Question("q", root.goal), root=root, budget=budget,
                  capabilities=COMPLETION)
    gen = strategy.steps(ctx)
    step = next(gen)
    assert isinstance(step, Generate) and step.label == "plan"
    plan = FunctionLLM(lambda r: " When was Morning Gull built?\n2. When was Evening Tern built?")
    import asyncio

    response = asyncio.run(plan.complete(step.request))
    step = gen.send(response)
    assert isinstance(step, Parallel)
    assert [s.query for s in step.steps if isinstance(s, Search)] == [
        "When was Morning Gull built?", "When was Evening Tern built?"
    ]
    limits = [t.budget.limit for t in root.subtasks]
    assert limits[0] == pytest.approx(limits[1])


def test_unspent_share_flows_to_later_subtasks():
    llm = model([" Who founded the Lantern Society?\n2. Where was #1 born?"])
    ans, budget = answer(Tree(direct_first=False, attempts=1), llm, Budget(3000))
    first, second = ans.task.subtasks
    assert first.budget.spent < first.budget.limit
    assert second.budget.limit > first.budget.limit  # the refund enlarged the next share


def test_replans_when_a_step_stays_uncertain_and_keeps_earlier_conclusions():
    llm = model(
        [
            " Who built the society?\n2. Where was #1 born?",  # step 1 cannot be answered
            " Who founded the Lantern Society?\n2. Where was #1 born?",
        ],
        unknown={"Who built the society?"},
    )
    ans, budget = answer(Tree(direct_first=False, attempts=1, max_depth=1, max_replans=1), llm)
    assert len(ans.meta["plans"]) == 2
    assert ans.text == "Harrowgate"
    assert budget.spent <= budget.limit


def test_a_subtask_whose_budget_runs_out_concludes_with_what_it_has():
    llm = model([" Who founded the Lantern Society?\n2. Where was #1 born?"])
    # Enough for the plan and about one search: the readers get refused.
    ans, budget = answer(Tree(direct_first=False, attempts=1, max_replans=0, synth_reserve=0), llm, Budget(150))
    assert budget.spent <= budget.limit
    assert any(t.status == "failed" for t in ans.task.subtasks)
    assert any(a.kind == "refused" for t in ans.task.walk() for a in t.actions)


def test_an_unusable_plan_answers_the_question_as_one_step():
    llm = model(["\n"])  # the model wrote no step at all
    ans, _ = answer(Tree(direct_first=False, attempts=1, max_replans=0), llm,
                    question="Who founded the Lantern Society?")
    assert [t.goal for t in ans.task.subtasks] == ["Who founded the Lantern Society?"]
    assert ans.text == "Ada Prell"


def test_peak_context_is_recorded():
    llm = model([" Who founded the Lantern Society?\n2. Where was #1 born?"])
    ans, _ = answer(Tree(direct_first=False, attempts=1), llm)
    assert ans.meta["peak_context_tokens"] > 0


def stepwise_model():
    def reply(request: LLMRequest) -> str:
        prompt = request.prompt or ""
        if prompt.startswith("Decide the next simple question"):
            known = last("Known", prompt)
            if known == "nothing yet":
                return " Who founded the Lantern Society?"
            if "Harrowgate" not in known:
                return " Where was Ada Prell born?"
            return " none"
        if prompt.startswith("Answer the main question"):
            return "Harrowgate"
        return FACTS.get(last("Question", prompt), "unknown")

    return FunctionLLM(reply, capabilities=COMPLETION)


def test_stepwise_planning_conditions_each_step_on_the_conclusions_so_far():
    llm = stepwise_model()
    ans, budget = answer(Tree(direct_first=False, attempts=1, planning="stepwise"), llm)
    assert [t.goal for t in ans.task.subtasks] == [
        "Who founded the Lantern Society?", "Where was Ada Prell born?"
    ]
    assert ans.text == "Harrowgate"
    assert ans.meta["plans"] == [["Who founded the Lantern Society?", "Where was Ada Prell born?"]]
    planner_prompts = [r.prompt for r in llm.requests if r.prompt.startswith("Decide")]
    assert len(planner_prompts) == 3  # two steps, then "none"
    assert "founded by Ada Prell in 1956" not in planner_prompts[-1]  # internals were forgotten
    assert budget.spent <= budget.limit


def test_registry_builds_the_stepwise_variant():
    from forage.runtime import registry

    strategy = registry.get("tree_stepwise").build(2)
    assert strategy.planning == "stepwise" and strategy.attempts == 2
    assert strategy.name == "tree_stepwise"


def test_no_conclusion_at_all_gives_an_empty_answer_not_a_crash():
    llm = model([" Who built the society?\n2. Where was #1 born?"], unknown=set(FACTS) | {"Who built the society?"})
    ans, budget = answer(Tree(direct_first=False, attempts=1, max_depth=1, max_replans=0), llm)
    assert ans.text == "" and budget.spent <= budget.limit


def test_oracle_ablation_executes_the_gold_decomposition_without_a_planner_call():
    import asyncio

    llm = model([])
    q = Question("q", QUESTION, answers=("Harrowgate",),
                 decomposition=("Who founded the Lantern Society?", "Where was #1 born?"))
    ans = asyncio.run(run(Tree(direct_first=False, attempts=1, planning="oracle"), q, llm=llm,
                          tools=BM25Search(DOCS), budget=Budget(10_000)))
    assert ans.text == "Harrowgate"
    assert not any((r.prompt or "").startswith("Split each question") for r in llm.requests)


def test_a_confident_direct_reading_answers_without_planning():
    llm = model([" never used"])
    ans, budget = answer(Tree(attempts=1), llm, question="Who founded the Lantern Society?")
    assert ans.text == "Ada Prell" and ans.meta["direct"]
    assert not any((r.prompt or "").startswith("Split each question") for r in llm.requests)
    assert budget.ledger.usage.llm_calls == 1


def test_an_unconfident_direct_reading_falls_through_to_the_plan():
    llm = model([" Who founded the Lantern Society?\n2. Where was #1 born?"])
    ans, _ = answer(Tree(attempts=1), llm)
    assert not ans.meta["direct"]
    assert ans.text == "Harrowgate"
    first = ans.task.subtasks[0]
    assert first.goal == QUESTION and first.status == "failed" and first.pruned
