"""Test doubles for the search layer, shipped so users can unit-test code that searches.

``HashingEmbedder`` is a deterministic ``Embedder``: a bag of lowercased words hashed (sha256, so
the same in every process) into a fixed number of signed buckets. Texts that share words get
similar vectors, which is enough to test ranking logic; it counts what it embedded.
``StaticSearch`` returns a fixed ranking for every query. Both are for logic, never for measuring
retrieval quality.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from forage.core.errors import ConfigError
from forage.core.types import Document, Hit
from forage.search.ranking import check_k

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Deterministic bag-of-words vectors of dimension ``dim``."""

    def __init__(self, dim: int = 256) -> None:
        if dim < 1:
            raise ConfigError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.texts_embedded = 0
        self.calls = 0

    @property
    def name(self) -> str:
        return f"hashing-{self.dim}"

    def _bucket(self, word: str) -> tuple[int, float]:
        digest = hashlib.sha256(word.encode("utf-8")).digest()
        index = int.from_bytes(digest[:8], "little") % self.dim
        return index, 1.0 if digest[8] & 1 else -1.0

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                index, sign = self._bucket(word)
                out[row, index] += sign
        return out


class StaticSearch:
    """A search tool that ranks the same documents, in the same order, for every query."""

    def __init__(self, documents: Sequence[Document], *, name: str = "static") -> None:
        self.documents = tuple(documents)
        self._name = name
        self.queries: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    def search(self, query: str, k: int = 5) -> list[Hit]:
        check_k(k)
        self.queries.append(query)
        n = len(self.documents)
        return [
            Hit(document=doc, score=float(n - i), rank=i)
            for i, doc in enumerate(self.documents[:k])
        ]


__all__ = ["HashingEmbedder", "StaticSearch"]
