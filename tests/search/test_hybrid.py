"""Reciprocal-rank fusion: the arithmetic on hand-computed ranks, ties, and fusing real tools."""

from __future__ import annotations

import pytest

from forage.core.errors import ConfigError
from forage.core.types import Document
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.search.dense import DenseSearch
from forage.search.hybrid import HybridSearch, rrf_scores
from forage.search.testing import HashingEmbedder, StaticSearch

D = {name: Document(name, name.upper(), f"text of {name}") for name in ("d1", "d2", "d3", "d4")}


def test_rrf_scores_match_hand_computation() -> None:
    scores = rrf_scores([["d1", "d2", "d3"], ["d3", "d1"]], k_rrf=60)
    # d1: ranks 0 and 1; d2: rank 1 in the first list only; d3: ranks 2 and 0.
    assert scores == pytest.approx({"d1": 1 / 61 + 1 / 62, "d2": 1 / 62, "d3": 1 / 63 + 1 / 61})


def test_rrf_weights_and_k_rrf_zero() -> None:
    scores = rrf_scores([["a", "b"], ["b"]], k_rrf=0, weights=[2.0, 0.5])
    assert scores == pytest.approx({"a": 2.0, "b": 2.0 / 2 + 0.5})


def test_rrf_counts_a_repeated_id_once_at_its_best_rank() -> None:
    assert rrf_scores([["a", "b", "a"]], k_rrf=1) == pytest.approx({"a": 1 / 2, "b": 1 / 3})


def test_hybrid_orders_by_fused_score() -> None:
    first = StaticSearch([D["d1"], D["d2"], D["d3"]], name="first")
    second = StaticSearch([D["d3"], D["d1"]], name="second")
    hits = HybridSearch([first, second], k_rrf=60).search("q", k=3)
    assert [h.document.id for h in hits] == ["d1", "d3", "d2"]
    assert [h.rank for h in hits] == [0, 1, 2]
    assert hits[0].score == pytest.approx(1 / 61 + 1 / 62)
    assert hits[1].score == pytest.approx(1 / 61 + 1 / 63)
    assert hits[2].score == pytest.approx(1 / 62)
    assert first.queries == ["q"] and second.queries == ["q"]


def test_weights_can_flip_the_order() -> None:
    first = StaticSearch([D["d1"], D["d2"]])
    second = StaticSearch([D["d2"], D["d1"]])
    assert HybridSearch([first, second], weights=[1, 2]).search("q", k=1)[0].document.id == "d2"
    assert HybridSearch([first, second], weights=[2, 1]).search("q", k=1)[0].document.id == "d1"


def test_ties_go_to_the_earlier_tool_then_k_truncates() -> None:
    first = StaticSearch([D["d1"], D["d2"]])
    second = StaticSearch([D["d2"], D["d1"]])
    hits = HybridSearch([first, second]).search("q", k=1)
    assert [h.document.id for h in hits] == ["d1"]


def test_documents_found_by_one_tool_only_are_kept() -> None:
    hits = HybridSearch([StaticSearch([D["d1"]]), StaticSearch([D["d4"]])]).search("q", k=5)
    assert {h.document.id for h in hits} == {"d1", "d4"}


def test_invalid_configuration() -> None:
    with pytest.raises(ConfigError):
        HybridSearch([])
    with pytest.raises(ConfigError):
        HybridSearch([StaticSearch([])], k_rrf=-1)
    with pytest.raises(ConfigError):
        HybridSearch([StaticSearch([])], weights=[1.0, 1.0])


def test_hybrid_of_bm25_and_dense_ranks_the_relevant_document_first(facts: Corpus) -> None:
    tools = [BM25Search(facts), DenseSearch(facts, HashingEmbedder())]
    hits = HybridSearch(tools).search("Eiffel Tower in the capital of France", k=3)
    assert hits[0].document.id == "paris"
    assert len({h.document.id for h in hits}) == 3
