"""Turning a score per document into ranked ``Hit``s: the top-k selection every index shares.

Pure functions over numpy arrays; no index, no I/O.
"""

from __future__ import annotations

import numpy as np

from forage.core.errors import ConfigError
from forage.core.types import Document, Hit


def check_k(k: int) -> None:
    """Refuse a nonsensical number of hits."""
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest scores, best first; ties keep corpus order."""
    n = scores.shape[0]
    if k >= n:
        candidates = np.arange(n)
    else:
        candidates = np.argpartition(-scores, k - 1)[:k]
        # argpartition picks an arbitrary subset among scores tied with the k-th one; widen the
        # candidate set to every tied position so the stable sort below decides by corpus order.
        kth = scores[candidates].min()
        candidates = np.union1d(candidates, np.flatnonzero(scores == kth))
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order][:k]


def hits_from_scores(
    documents: tuple[Document, ...], scores: np.ndarray, k: int, *, min_score: float | None = None
) -> list[Hit]:
    """The top ``k`` documents as ``Hit``s (rank 0 = best), dropping scores <= ``min_score``."""
    if min_score is None:
        chosen = top_k_indices(scores, k)
    else:
        kept = np.flatnonzero(scores > min_score)
        chosen = kept[top_k_indices(scores[kept], k)]
    return [
        Hit(document=documents[int(idx)], score=float(scores[idx]), rank=rank)
        for rank, idx in enumerate(chosen)
    ]


__all__ = ["check_k", "hits_from_scores", "top_k_indices"]
