"""The tree's executors stop reading by the marginal-value rule, and a finished subtask's refund
goes to the least confident sibling still running."""

from __future__ import annotations

import asyncio
import re

import pytest

from forage.core.budget import Budget
from forage.core.types import Document
from forage.hierarchy.tree import Tree
from forage.llm.base import Capabilities, LLMRequest
from forage.llm.testing import FunctionLLM
from forage.runtime.driver import run
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus

DOCS = Corpus([
    Document("1", "Lantern Society", "The Lantern Society was founded by Ada Prell in 1956."),
    Document("2", "Ada Prell", "Ada Prell was born in Harrowgate and taught school."),
    Document("3", "Harrowgate", "Harrowgate is a market town on the river Wex."),
    Document("4", "Morning Gull", "Morning Gull is a ferry built in 1931."),
    Document("5", "Evening Tern", "Evening Tern is a ferry built in 1948."),
    Document("6", "Evening Tern (song)", "Evening Tern is a song about the ferry of 1948."),
])
TERN = "When was Evening Tern built?"
COMPLETION = Capabilities(supports_logprobs=True, exact_token_count=True,
                          prompt_profile="completion")


def _last(label: str, prompt: str) -> str:
    return re.findall(rf"^{label}: (.*)$", prompt, re.M)[-1]


def model(plan: str, answers: dict[tuple[str, str], str]) -> FunctionLLM:
    """Plans ``plan``; reads ``answers[(question, passage title)]``, else "unknown"."""

    def reply(request: LLMRequest) -> str:
        prompt = request.prompt or ""
        if prompt.startswith("Split each question"):
            return plan
        if prompt.startswith("Answer the main question"):
            return "Harrowgate"
        title = _last("Passage", prompt).split(":")[0]
        return answers.get((_last("Question", prompt), title), "unknown")

    return FunctionLLM(reply, capabilities=COMPLETION)


def reads(llm: FunctionLLM, question: str) -> int:
    return sum((r.prompt or "").endswith(f"\nQuestion: {question}\nAnswer:") for r in llm.requests)


def answer(strategy: Tree, llm: FunctionLLM, question: str, budget: Budget | None = None):
    b = budget or Budget(10_000)
    return asyncio.run(run(strategy, question, llm=llm, tools=BM25Search(DOCS), budget=b)), b


TWO_HOPS = " Who founded the Lantern Society?\n2. Where was #1 born?"
SECOND = "Where was Ada Prell born?"


@pytest.mark.parametrize(("marginal_stop", "expected_reads"), [(True, 1), (False, 2)])
def test_a_sub_question_whose_passage_gains_nothing_stops_reading_after_a_rich_one(
    marginal_stop, expected_reads
):
    # Step 1 is answered confidently from its first passage; step 2's passages all say "unknown":
    # its first passage gained nothing, below the run's average rate, so the rule leaves it.
    llm = model(TWO_HOPS, {("Who founded the Lantern Society?", "Lantern Society"): "Ada Prell"})
    strategy = Tree(direct_first=False, attempts=2, max_depth=1, max_replans=0,
                    marginal_stop=marginal_stop)
    _, budget = answer(strategy, llm, "In which town was the founder of the Lantern Society born?")
    assert reads(llm, "Who founded the Lantern Society?") == 1  # confident: stops anyway
    assert reads(llm, SECOND) == expected_reads
    assert budget.spent <= budget.limit


def test_a_run_that_has_gained_nothing_yet_reads_every_passage_it_may():
    llm = model("\n", {})  # an unusable plan: the question is the one step; every read "unknown"
    answer(Tree(direct_first=False, attempts=2, max_depth=1, max_replans=0), llm, SECOND)
    assert reads(llm, SECOND) == 2  # after a rich step, the same passages stopped after one


def _tern_ranks() -> list[str]:
    return [h.document.title for h in BM25Search(DOCS).search(TERN, k=3)]


@pytest.mark.parametrize(
    ("second_answer", "marginal_stop", "expected_reads"),
    [
        ("1948", True, 3),  # 0.45 then 0.90: the second passage gained as much as the first
        ("unknown", True, 2),  # the second passage gained nothing: leave
        ("unknown", False, 3),  # the rule off: read up to ``attempts``
    ],
)
def test_a_passage_that_gains_at_least_the_average_rate_is_followed_by_another(
    second_answer, marginal_stop, expected_reads
):
    first, second, third = _tern_ranks()
    assert "1948" in {d.title: d.text for d in DOCS.documents}[second]  # "1948" is supported
    answers = {(TERN, first): "1948 Wex", (TERN, second): second_answer, (TERN, third): "1931"}
    llm = model("\n", answers)
    strategy = Tree(direct_first=False, attempts=3, max_depth=1, max_replans=0, threshold=0.95,
                    marginal_stop=marginal_stop)
    answer(strategy, llm, TERN)
    assert reads(llm, TERN) == expected_reads


def test_a_refund_goes_to_the_least_confident_sibling_still_running():
    # Three independent steps run together. "Evening Tern" reads a half-supported answer first
    # (confidence ~0.45), "Ada Prell" reads "unknown" (0), "Morning Gull" is answered confidently
    # and finishes first: its refund goes to the Ada Prell step, the least confident one.
    plan = (" When was Evening Tern built?\n2. Where was Ada Prell born?\n"
            "3. When was Morning Gull built?")
    answers = {
        ("When was Evening Tern built?", "Evening Tern"): "1948 Harrowgate",
        ("When was Morning Gull built?", "Morning Gull"): "1931",
    }
    llm = model(plan, answers)
    strategy = Tree(direct_first=False, attempts=2, max_depth=1, max_replans=0,
                    marginal_stop=False)
    ans, budget = answer(strategy, llm, "Which was built first, and where was Ada Prell born?",
                         Budget(3000))
    tern, prell, gull = ans.task.subtasks
    assert [t.goal for t in (tern, prell, gull)] == [
        "When was Evening Tern built?", SECOND, "When was Morning Gull built?"]
    assert 0 < tern.confidence < 0.5 and prell.confidence == 0 and gull.confidence > 0.5
    share = gull.budget.limit  # every step started with this share; gull received nothing
    assert tern.budget.limit == pytest.approx(share)
    refunds = (gull.budget.limit - gull.budget.spent) + (tern.budget.limit - tern.budget.spent)
    assert prell.budget.limit == pytest.approx(share + refunds)  # gull's, then tern's refund
    assert budget.spent <= budget.limit


def test_without_an_open_sibling_the_refund_flows_to_later_steps():
    llm = model(TWO_HOPS, {("Who founded the Lantern Society?", "Lantern Society"): "Ada Prell",
                           (SECOND, "Ada Prell"): "Harrowgate"})
    ans, budget = answer(Tree(direct_first=False, attempts=1), llm,
                         "In which town was the founder of the Lantern Society born?", Budget(3000))
    first, second = ans.task.subtasks
    assert first.budget.spent < first.budget.limit
    assert second.budget.limit > first.budget.limit
    assert ans.text == "Harrowgate"
