"""Search: corpora, the ``SearchTool`` protocol and its indexes (BM25, dense, hybrid fusion).

Every search a strategy makes goes through ``metered_search``, which charges it to a ``Budget``.
"""

from forage.search.base import SearchTool, metered_search
from forage.search.bm25 import BM25Search, BM25Settings
from forage.search.corpus import ChunkSettings, Corpus, chunk_document, load_corpus
from forage.search.dense import DenseSearch, E5Embedder, Embedder
from forage.search.hybrid import HybridSearch, fuse, rrf_scores

__all__ = [
    "BM25Search",
    "BM25Settings",
    "ChunkSettings",
    "Corpus",
    "DenseSearch",
    "E5Embedder",
    "Embedder",
    "HybridSearch",
    "SearchTool",
    "chunk_document",
    "fuse",
    "load_corpus",
    "metered_search",
    "rrf_scores",
]
