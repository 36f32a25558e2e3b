"""BM25 keyword search over a ``Corpus``, backed by the ``bm25s`` library.

Each document is indexed as its title followed by its text. Text is lowercased, split into words of
two or more characters, English stopwords are dropped and, by default, words are stemmed with
PyStemmer's Snowball stemmer (``BM25Settings(stemmer=None)`` turns stemming off). Documents that
share no term with the query are never returned, so a search may return fewer than ``k`` hits.

With ``index_dir``, the index is saved there with a manifest (corpus fingerprint, settings, format)
and later reloaded instead of rebuilt when the manifest matches; a mismatch rebuilds and overwrites.
A build reports its progress (documents tokenised) to an optional ``progress(done, total)``
callback and to the log (``forage.search.progress``).

Not here: budgets (``base.metered_search``), fusion with other tools (``hybrid``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from forage.core.errors import ConfigError
from forage.core.types import Hit
from forage.search.corpus import Corpus
from forage.search.manifest import FORMAT_VERSION, read_manifest, remove_manifest, write_manifest
from forage.search.progress import Progress, ProgressReport
from forage.search.ranking import check_k, hits_from_scores

logger = logging.getLogger(__name__)

MANIFEST_NAME = "bm25-manifest.json"
TOKENIZE_CHUNK = 2000  # documents tokenised between two progress reports
INDEX_SUBDIR = "bm25"
METHODS = ("robertson", "lucene", "atire", "bm25l", "bm25+")


@dataclass(frozen=True)
class BM25Settings:
    """BM25 parameters and text analysis. ``stemmer`` is a Snowball language name or ``None``."""

    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"
    stopwords: str | None = "en"
    stemmer: str | None = "english"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(
                f"BM25 method must be one of {', '.join(METHODS)}, got {self.method!r}"
            )
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ConfigError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={self.k1}, b={self.b}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_stemmer(language: str | None) -> Callable[[list[str]], list[str]] | None:
    """A word-list stemmer for ``language`` (PyStemmer), or ``None`` for no stemming."""
    if language is None:
        return None
    try:
        import Stemmer  # PyStemmer
    except ImportError:
        raise ConfigError(
            "BM25 stemming needs the PyStemmer package (pip install PyStemmer), "
            "or use BM25Settings(stemmer=None)"
        ) from None
    try:
        stemmer = Stemmer.Stemmer(language)
    except KeyError:
        raise ConfigError(f"unknown stemmer language {language!r}") from None
    return stemmer.stemWords  # type: ignore[no-any-return]


def tokenize(
    texts: list[str], settings: BM25Settings, stemmer: Callable[[list[str]], list[str]] | None
) -> list[list[str]]:
    """Lowercased, stopword-filtered, optionally stemmed word lists, one per text."""
    tokens = bm25s.tokenize(
        texts,
        stopwords=settings.stopwords or [],
        stemmer=stemmer,
        return_ids=False,
        show_progress=False,
    )
    return [list(t) for t in tokens]


def build_index(
    texts: list[str],
    settings: BM25Settings,
    stemmer: Callable[[list[str]], list[str]] | None,
    *,
    progress: Progress | None = None,
) -> bm25s.BM25:
    """A fresh bm25s index over ``texts`` (position i = document i). Tokenising is most of the
    work; it runs in chunks, reporting ``progress(done, total)`` after each."""
    report = ProgressReport("BM25 index", len(texts), progress)
    tokens: list[list[str]] = []
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        tokens.extend(tokenize(texts[start : start + TOKENIZE_CHUNK], settings, stemmer))
        if len(tokens) < len(texts):
            report.advance(len(tokens))
    retriever = bm25s.BM25(k1=settings.k1, b=settings.b, method=settings.method)
    retriever.index(tokens, show_progress=False)
    report.advance(len(texts))
    return retriever


class BM25Search:
    """BM25 over a corpus. ``search`` returns up to ``k`` hits with a positive score, best first.

    ``built`` tells whether this instance built its index (``True``) or loaded it from
    ``index_dir`` (``False``). ``progress(done, total)`` is called while a build runs.
    """

    def __init__(
        self,
        corpus: Corpus,
        *,
        settings: BM25Settings | None = None,
        index_dir: str | Path | None = None,
        name: str = "bm25",
        progress: Progress | None = None,
    ) -> None:
        self.corpus = corpus
        self.settings = settings or BM25Settings()
        self._name = name
        self._stemmer = make_stemmer(self.settings.stemmer)
        self.index_dir = Path(index_dir) if index_dir is not None else None
        self.built = False
        loaded = self._load() if self.index_dir is not None else None
        if loaded is None:
            loaded = build_index(
                [d.content for d in corpus], self.settings, self._stemmer, progress=progress
            )
            self.built = True
            logger.info("built BM25 index over %d documents", len(corpus))
            if self.index_dir is not None:
                self._save(loaded)
        self._retriever = loaded

    @property
    def name(self) -> str:
        return self._name

    def manifest(self) -> dict[str, Any]:
        """What a saved index must have been built from to be reused."""
        return {
            "kind": "bm25",
            "format": FORMAT_VERSION,
            "bm25s": bm25s.__version__,
            "corpus": self.corpus.fingerprint(),
            "documents": len(self.corpus),
            "settings": self.settings.to_dict(),
        }

    def _load(self) -> bm25s.BM25 | None:
        assert self.index_dir is not None
        found = read_manifest(self.index_dir / MANIFEST_NAME)
        if found != self.manifest():
            if found is not None:
                logger.info("BM25 index in %s is stale; rebuilding", self.index_dir)
            return None
        try:
            retriever = bm25s.BM25.load(
                str(self.index_dir / INDEX_SUBDIR), show_progress=False, verbosity=0
            )
        except (OSError, ValueError, KeyError) as e:
            logger.warning("BM25 index in %s is unreadable (%s); rebuilding", self.index_dir, e)
            return None
        logger.info("loaded BM25 index from %s", self.index_dir)
        return retriever

    def _save(self, retriever: bm25s.BM25) -> None:
        assert self.index_dir is not None
        manifest_path = self.index_dir / MANIFEST_NAME
        remove_manifest(manifest_path)
        retriever.save(str(self.index_dir / INDEX_SUBDIR), show_progress=False)
        write_manifest(manifest_path, self.manifest())
        logger.info("saved BM25 index to %s", self.index_dir)

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every document for ``query`` (zeros when no query term is known)."""
        words = tokenize([query], self.settings, self._stemmer)[0]
        ids = self._retriever.get_tokens_ids([w for w in words if w])
        if not ids:
            return np.zeros(len(self.corpus), dtype=np.float32)
        return np.asarray(self._retriever.get_scores_from_ids(ids))

    def search(self, query: str, k: int = 5) -> list[Hit]:
        check_k(k)
        return hits_from_scores(self.corpus.documents, self.scores(query), k, min_score=0.0)


__all__ = ["BM25Search", "BM25Settings", "build_index", "make_stemmer", "tokenize"]
