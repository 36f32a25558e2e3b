"""Retrieval recall@k of gold supporting titles: how much of a question's evidence a search finds.

``recall_at_k`` is the pure arithmetic for one question: the fraction of its distinct gold titles
among the titles of the top ``k`` hits. ``evaluate_recall`` runs one search per question (asking
for the largest k once) and averages recall@k over the questions that have gold titles, reporting
``progress(done, total)`` after each question when given a callback.

Searches here are *not* metered: this measures a retriever, it spends no strategy's budget. Not here:
building indexes (``forage.search``), answer metrics (``forage.data.scoring``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from forage.core.errors import ConfigError
from forage.core.types import Hit, Question
from forage.search.base import SearchTool

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecallReport:
    """Mean recall@k for each k, over ``questions`` questions (those with gold titles)."""

    tool: str
    recall: dict[int, float]
    questions: int


def recall_at_k(retrieved_titles: Sequence[str], gold_titles: Collection[str], k: int) -> float:
    """The fraction of distinct ``gold_titles`` among the first ``k`` retrieved titles."""
    if k < 1:
        raise ConfigError(f"k must be at least 1, not {k}")
    gold = set(gold_titles)
    if not gold:
        raise ConfigError("recall@k needs at least one gold title")
    return len(gold.intersection(retrieved_titles[:k])) / len(gold)


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def evaluate_recall(
    tool: SearchTool,
    questions: Iterable[Question],
    ks: Sequence[int],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> RecallReport:
    """Mean recall@k of ``tool`` for each k in ``ks``, over questions with supporting titles."""
    if not ks or min(ks) < 1:
        raise ConfigError(f"recall needs k values of at least 1, got {list(ks)}")
    depth = max(ks)
    per_k: dict[int, list[float]] = {k: [] for k in ks}
    gold = [q for q in questions if q.supporting_titles]
    for done, question in enumerate(gold, start=1):
        hits: Sequence[Hit] = tool.search(question.text, depth)
        titles = [h.document.title for h in sorted(hits, key=lambda h: h.rank)]
        for k in ks:
            per_k[k].append(recall_at_k(titles, question.supporting_titles, k))
        if progress is not None:
            progress(done, len(gold))
    counted = len(per_k[ks[0]])
    if counted == 0:
        logger.warning("no question has gold supporting titles; recall is undefined")
    return RecallReport(tool=tool.name, recall={k: mean(v) for k, v in per_k.items()}, questions=counted)


def gold_coverage(questions: Iterable[Question], corpus_titles: Collection[str]) -> float:
    """The best recall any retriever could reach: the mean fraction of gold titles in the corpus."""
    titles = set(corpus_titles)
    return mean(
        len(titles.intersection(q.supporting_titles)) / len(set(q.supporting_titles))
        for q in questions
        if q.supporting_titles
    )
