"""Recall@k of gold supporting titles: the arithmetic, and averaging over a scripted retriever."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from forage.core.errors import ConfigError
from forage.core.types import Document, Hit, Question
from forage.eval.recall import evaluate_recall, gold_coverage, recall_at_k


class ScriptedSearch:
    """Returns a fixed ranked list of titles per query, and records the k it was asked for."""

    name = "scripted"

    def __init__(self, ranking: dict[str, list[str]]) -> None:
        self.ranking = ranking
        self.asked: list[int] = []

    def search(self, query: str, k: int = 5) -> Sequence[Hit]:
        self.asked.append(k)
        titles = self.ranking[query][:k]
        return [Hit(Document(t.lower(), t, t), score=1.0 / (i + 1), rank=i) for i, t in enumerate(titles)]


def test_recall_at_k_hand_computed() -> None:
    ranked = ["A", "X", "B", "Y"]
    assert recall_at_k(ranked, ["A", "B"], 1) == 0.5
    assert recall_at_k(ranked, ["A", "B"], 2) == 0.5
    assert recall_at_k(ranked, ["A", "B"], 3) == 1.0
    assert recall_at_k(ranked, ["A", "B", "A"], 3) == 1.0  # gold titles count once
    assert recall_at_k(["A", "A"], ["A", "B"], 2) == 0.5  # a title retrieved twice counts once
    assert recall_at_k([], ["A"], 5) == 0.0


def test_recall_at_k_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        recall_at_k(["A"], ["A"], 0)
    with pytest.raises(ConfigError):
        recall_at_k(["A"], [], 1)


def test_evaluate_recall_averages_over_questions_with_gold_titles() -> None:
    questions = [
        Question("1", "q1", ("a",), supporting_titles=("A", "B")),
        Question("2", "q2", ("a",), supporting_titles=("C", "D", "E", "F")),
        Question("3", "q3", ("a",)),  # no gold titles: left out, and never searched
    ]
    tool = ScriptedSearch({"q1": ["B", "X", "A"], "q2": ["X", "C", "D", "Y", "E"]})
    report = evaluate_recall(tool, questions, [1, 2, 5])
    assert tool.asked == [5, 5]  # one search per question, at the deepest k
    assert report.questions == 2
    assert report.tool == "scripted"
    # q1: R@1 1/2, R@2 1/2, R@5 1 ; q2: R@1 0, R@2 1/4, R@5 3/4
    assert report.recall == {
        1: pytest.approx(0.25),
        2: pytest.approx(0.375),
        5: pytest.approx(0.875),
    }


def test_evaluate_recall_refuses_empty_or_bad_ks() -> None:
    with pytest.raises(ConfigError):
        evaluate_recall(ScriptedSearch({}), [], [])
    with pytest.raises(ConfigError):
        evaluate_recall(ScriptedSearch({}), [], [0, 5])


def test_gold_coverage_is_the_recall_ceiling() -> None:
    questions = [
        Question("1", "q1", ("a",), supporting_titles=("A", "B")),
        Question("2", "q2", ("a",), supporting_titles=("C",)),
        Question("3", "q3", ("a",)),
    ]
    assert gold_coverage(questions, ["A", "C", "Z"]) == pytest.approx((0.5 + 1.0) / 2)
