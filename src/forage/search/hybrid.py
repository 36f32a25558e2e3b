"""Hybrid search: reciprocal-rank fusion (RRF) of the rankings of several ``SearchTool``s.

A document's fused score is the sum, over the tools that returned it, of
``weight / (k_rrf + rank + 1)`` with ``rank`` 0-based (so the best hit of one tool with the usual
``k_rrf=60`` scores 1/61). Only ranks matter, never the tools' own score scales. Documents are
matched by ``Document.id``, so the tools should search the same corpus. Each tool is asked for
``max(k, depth)`` hits.

Not here: budgets — a hybrid search is one search call to ``metered_search``, however many tools
it fuses.
"""

from __future__ import annotations

from collections.abc import Sequence

from forage.core.errors import ConfigError
from forage.core.types import Document, Hit
from forage.search.base import SearchTool
from forage.search.ranking import check_k


def rrf_scores(
    rankings: Sequence[Sequence[str]],
    *,
    k_rrf: float = 60.0,
    weights: Sequence[float] | None = None,
) -> dict[str, float]:
    """Fused score per id: sum over rankings of ``weight / (k_rrf + rank + 1)`` (rank 0-based).

    An id that appears more than once in one ranking counts at its best rank there.
    """
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ConfigError(f"{len(weights)} weights for {len(rankings)} rankings")
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[str] = set()
        for rank, doc_id in enumerate(ranking):
            if doc_id in seen:
                continue
            seen.add(doc_id)
            fused[doc_id] = fused.get(doc_id, 0.0) + weight / (k_rrf + rank + 1)
    return fused


def fuse(
    results: Sequence[Sequence[Hit]],
    k: int,
    *,
    k_rrf: float = 60.0,
    weights: Sequence[float] | None = None,
) -> list[Hit]:
    """The top ``k`` of several hit lists by RRF. Ties go to the better best rank, then to the
    earlier tool's order."""
    rankings = [[h.document.id for h in hits] for hits in results]
    scores = rrf_scores(rankings, k_rrf=k_rrf, weights=weights)
    documents: dict[str, Document] = {}
    best_rank: dict[str, tuple[int, int]] = {}
    for tool_index, hits in enumerate(results):
        for position, hit in enumerate(hits):
            doc_id = hit.document.id
            documents.setdefault(doc_id, hit.document)
            key = (position, tool_index)
            if doc_id not in best_rank or key < best_rank[doc_id]:
                best_rank[doc_id] = key
    order = sorted(scores, key=lambda d: (-scores[d], best_rank[d]))
    return [
        Hit(document=documents[doc_id], score=scores[doc_id], rank=rank)
        for rank, doc_id in enumerate(order[:k])
    ]


class HybridSearch:
    """RRF over ``tools``; ``weights`` (default all 1) scale each tool's contribution."""

    def __init__(
        self,
        tools: Sequence[SearchTool],
        *,
        k_rrf: float = 60.0,
        depth: int = 50,
        weights: Sequence[float] | None = None,
        name: str = "hybrid",
    ) -> None:
        if not tools:
            raise ConfigError("hybrid search needs at least one tool")
        if k_rrf < 0:
            raise ConfigError(f"k_rrf must be >= 0, got {k_rrf}")
        if depth < 1:
            raise ConfigError(f"depth must be >= 1, got {depth}")
        if weights is not None and (len(weights) != len(tools) or any(w < 0 for w in weights)):
            raise ConfigError("hybrid weights must be one non-negative number per tool")
        self.tools = tuple(tools)
        self.k_rrf = k_rrf
        self.depth = depth
        self.weights = tuple(weights) if weights is not None else None
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def search(self, query: str, k: int = 5) -> list[Hit]:
        check_k(k)
        depth = max(k, self.depth)
        results = [list(tool.search(query, depth)) for tool in self.tools]
        return fuse(results, k, k_rrf=self.k_rrf, weights=self.weights)


__all__ = ["HybridSearch", "fuse", "rrf_scores"]
