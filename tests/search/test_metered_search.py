"""``metered_search``: every search is charged to the budget, and refused before it runs."""

from __future__ import annotations

import pytest

from forage.core.budget import Budget, Caps
from forage.core.errors import BudgetExhausted
from forage.core.types import Document, Hit
from forage.search.base import SearchTool, metered_search
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.search.testing import StaticSearch

DOCS = [Document("a", "Alpha", "one two three four"), Document("b", "Beta", "five six")]


def words(text: str) -> int:
    return len(text.split())


def test_tools_satisfy_the_search_protocol(facts: Corpus) -> None:
    assert isinstance(BM25Search(facts), SearchTool)
    assert isinstance(StaticSearch(DOCS), SearchTool)


def test_charges_one_search_call_and_the_returned_tokens() -> None:
    budget = Budget(1000)
    hits, returned = metered_search(
        StaticSearch(DOCS, name="static"), "q", budget, k=2, count_tokens=words
    )
    assert [h.document.id for h in hits] == ["a", "b"]
    assert budget.usage.search_calls == 1
    assert budget.usage.tool_tokens == 5 + 3  # "Alpha\none two three four", "Beta\nfive six"
    assert budget.spent == pytest.approx(50.0)  # default cost: 50 per search, 0 per tool token
    (entry,) = budget.ledger.entries
    assert entry.kind == "search" and entry.label == "static"
    assert returned is entry


def test_refused_without_running_when_the_budget_cannot_pay() -> None:
    tool = StaticSearch(DOCS)
    budget = Budget(49.0)
    with pytest.raises(BudgetExhausted):
        metered_search(tool, "q", budget)
    assert tool.queries == []
    assert budget.usage.search_calls == 0
    assert budget.ledger.refused_calls == 1


def test_search_call_cap_refuses_the_second_search() -> None:
    tool = StaticSearch(DOCS)
    budget = Budget(caps=Caps(search_calls=1))
    metered_search(tool, "first", budget)
    with pytest.raises(BudgetExhausted) as info:
        metered_search(tool, "second", budget)
    assert info.value.counter == "search_calls"
    assert tool.queries == ["first"]


def test_a_failing_search_gives_its_reservation_back() -> None:
    class Failing:
        name = "failing"

        def search(self, query: str, k: int = 5) -> list[Hit]:
            raise RuntimeError("index on fire")

    budget = Budget(100)
    with pytest.raises(RuntimeError):
        metered_search(Failing(), "q", budget)
    assert budget.available == pytest.approx(100)
    assert budget.usage.search_calls == 0


def test_child_budget_charges_reach_the_root(facts: Corpus) -> None:
    root = Budget(1000)
    child = root.split(200, name="executor")
    metered_search(BM25Search(facts), "violin", child, k=1, count_tokens=words)
    assert root.usage.search_calls == 1
    assert root.usage.tool_tokens == words(facts.get("violin").content)
