"""BM25 ranking, tokenisation and reuse of an index saved on disk."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from forage.core.errors import ConfigError
from forage.core.types import Document
from forage.search import bm25
from forage.search.bm25 import BM25Search, BM25Settings
from forage.search.corpus import ChunkSettings, Corpus


def test_obviously_relevant_document_ranks_first(facts: Corpus) -> None:
    hits = BM25Search(facts).search("Who created the Python programming language?", k=3)
    assert hits[0].document.id == "python"
    assert [h.rank for h in hits] == list(range(len(hits)))
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_title_is_searchable(facts: Corpus) -> None:
    # "mount" appears only in the title "Mount Everest", never in any text.
    assert BM25Search(facts).search("mount", k=1)[0].document.id == "everest"


def test_stemming_matches_inflections_and_plain_tokens_do_not() -> None:
    corpus = Corpus(
        [Document("b", "", "Bananas are yellow"), Document("c", "", "cherries are red")]
    )
    assert BM25Search(corpus, settings=BM25Settings(stemmer=None)).search("banana", k=2) == []
    assert BM25Search(corpus).search("banana", k=2)[0].document.id == "b"


def test_documents_sharing_no_term_are_not_returned(facts: Corpus) -> None:
    hits = BM25Search(facts).search("yellow potassium", k=5)
    assert [h.document.id for h in hits] == ["banana"]
    assert BM25Search(facts).search("the of and", k=5) == []  # only stopwords
    assert BM25Search(facts).search("zyzzyva", k=5) == []  # unknown word


def test_k_larger_than_corpus_and_invalid_k(facts: Corpus) -> None:
    search = BM25Search(facts)
    assert len(search.search("ocean mountain language instrument fruits capital", k=100)) == 6
    with pytest.raises(ConfigError):
        search.search("ocean", k=0)


def test_chunked_corpus_finds_the_right_passage() -> None:
    text = " ".join(["filler"] * 30 + ["lighthouse", "keeper"] + ["filler"] * 30)
    corpus = Corpus([Document("long", "Story", text)], chunking=ChunkSettings(max_words=20))
    hits = BM25Search(corpus).search("lighthouse keeper", k=1)
    assert hits[0].document.id == "long#1"
    assert "lighthouse keeper" in hits[0].document.text


def test_invalid_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        BM25Settings(method="nope")
    with pytest.raises(ConfigError):
        BM25Settings(b=2.0)
    with pytest.raises(ConfigError, match="unknown stemmer language"):
        BM25Search(Corpus([Document("a", "", "x")]), settings=BM25Settings(stemmer="klingon"))


# -- index reuse --------------------------------------------------------------------------------


@pytest.fixture
def count_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of ``bm25.build_index`` (still building for real)."""
    calls: list[int] = []
    real = bm25.build_index

    def counting(texts, settings, stemmer, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return real(texts, settings, stemmer, **kwargs)

    monkeypatch.setattr(bm25, "build_index", counting)
    return calls


def test_matching_manifest_reloads_instead_of_rebuilding(
    facts: Corpus, tmp_path: Path, count_builds: list[int]
) -> None:
    first = BM25Search(facts, index_dir=tmp_path)
    assert first.built and count_builds == [6]
    manifest = json.loads((tmp_path / bm25.MANIFEST_NAME).read_text())
    assert manifest["corpus"] == facts.fingerprint()

    second = BM25Search(Corpus(list(facts)), index_dir=tmp_path)
    assert not second.built
    assert count_builds == [6]
    query = "largest ocean on Earth"
    assert second.search(query, k=6) == first.search(query, k=6)


def test_changed_corpus_rebuilds_and_rewrites_the_manifest(
    facts: Corpus, tmp_path: Path, count_builds: list[int]
) -> None:
    BM25Search(facts, index_dir=tmp_path)
    changed = Corpus([*facts, Document("moon", "Moon", "The Moon orbits the Earth.")])
    rebuilt = BM25Search(changed, index_dir=tmp_path)
    assert rebuilt.built and count_builds == [6, 7]
    assert rebuilt.search("moon orbits", k=1)[0].document.id == "moon"
    manifest = json.loads((tmp_path / bm25.MANIFEST_NAME).read_text())
    assert manifest["corpus"] == changed.fingerprint()
    assert not BM25Search(changed, index_dir=tmp_path).built


def test_changed_settings_rebuild(facts: Corpus, tmp_path: Path, count_builds: list[int]) -> None:
    BM25Search(facts, index_dir=tmp_path)
    assert BM25Search(facts, index_dir=tmp_path, settings=BM25Settings(k1=1.2)).built
    assert count_builds == [6, 6]


def test_corrupt_index_is_rebuilt(facts: Corpus, tmp_path: Path, count_builds: list[int]) -> None:
    BM25Search(facts, index_dir=tmp_path)
    for f in (tmp_path / bm25.INDEX_SUBDIR).glob("*.json"):
        f.write_text("{not json", encoding="utf-8")
    again = BM25Search(facts, index_dir=tmp_path)
    assert again.built and count_builds == [6, 6]
    assert again.search("violin bow", k=1)[0].document.id == "violin"


def test_unreadable_manifest_is_rebuilt(
    facts: Corpus, tmp_path: Path, count_builds: list[int]
) -> None:
    BM25Search(facts, index_dir=tmp_path)
    (tmp_path / bm25.MANIFEST_NAME).write_text("garbage", encoding="utf-8")
    assert BM25Search(facts, index_dir=tmp_path).built
    assert count_builds == [6, 6]
