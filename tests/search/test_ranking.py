"""Top-k selection shared by the indexes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forage.core.errors import ConfigError
from forage.core.types import Document
from forage.search.ranking import check_k, hits_from_scores, top_k_indices


def test_top_k_is_best_first_and_ties_keep_corpus_order() -> None:
    scores = np.array([0.5, 2.0, 0.5, 1.0, 0.5], dtype=np.float32)
    assert top_k_indices(scores, 2).tolist() == [1, 3]
    assert top_k_indices(scores, 3).tolist() == [1, 3, 0]
    assert top_k_indices(scores, 4).tolist() == [1, 3, 0, 2]
    assert top_k_indices(scores, 10).tolist() == [1, 3, 0, 2, 4]


@given(st.lists(st.integers(-3, 3), min_size=1, max_size=40), st.integers(1, 45))
def test_top_k_equals_a_stable_full_sort(values: list[int], k: int) -> None:
    scores = np.array(values, dtype=np.float32)
    expected = sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]
    assert top_k_indices(scores, k).tolist() == expected


def test_hits_drop_scores_at_or_below_the_minimum() -> None:
    docs = tuple(Document(str(i), "", "") for i in range(4))
    hits = hits_from_scores(docs, np.array([0.0, 3.0, -1.0, 1.0]), 4, min_score=0.0)
    assert [(h.document.id, h.score, h.rank) for h in hits] == [("1", 3.0, 0), ("3", 1.0, 1)]


def test_k_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        check_k(0)
