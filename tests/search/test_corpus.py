"""Corpus construction, loading from folders and JSONL, errors, chunking and fingerprints."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forage.core.errors import ConfigError, DataError
from forage.core.types import Document
from forage.search.corpus import ChunkSettings, Corpus, chunk_document, load_corpus


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


# -- construction and lookup -------------------------------------------------------------------


def test_corpus_keeps_order_and_supports_len_iter_and_lookup() -> None:
    docs = [Document("b", "Beta", "two"), Document("a", "Alpha", "one"), Document("c", "Beta", "3")]
    corpus = Corpus(docs)
    assert len(corpus) == 3
    assert list(corpus) == docs
    assert corpus.get("a") == docs[1]
    assert corpus.position("c") == 2
    assert "a" in corpus and "zzz" not in corpus
    assert corpus.by_title("Beta") == (docs[0], docs[2])
    assert corpus.by_title("Gamma") == ()
    assert corpus.titles == ("Beta", "Alpha")
    with pytest.raises(KeyError):
        corpus.get("zzz")


def test_empty_corpus_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no documents"):
        Corpus([])


def test_duplicate_ids_are_a_data_error() -> None:
    with pytest.raises(DataError, match="duplicate document id 'x'"):
        Corpus([Document("x", "A", "one"), Document("x", "B", "two")])


# -- folders ------------------------------------------------------------------------------------


def test_folder_reads_txt_and_md_recursively_with_relative_ids(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.txt").write_text("  Bravo text\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# Alpha\nbody", encoding="utf-8")
    (tmp_path / "sub" / "c.txt").write_text("Charlie", encoding="utf-8")
    (tmp_path / "notes.json").write_text("{}", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "d.txt").write_text("hidden", encoding="utf-8")

    corpus = load_corpus(tmp_path)

    assert [d.id for d in corpus] == ["a.md", "b.txt", "sub/c.txt"]
    assert [d.title for d in corpus] == ["a", "b", "c"]
    assert corpus.get("b.txt").text == "Bravo text"
    assert corpus.get("a.md").text == "# Alpha\nbody"


def test_empty_folder_is_a_data_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "readme.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match=f"corpus {tmp_path} has no documents"):
        load_corpus(tmp_path)


def test_missing_path_is_a_data_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match=f"{missing} does not exist"):
        load_corpus(missing)


def test_undecodable_file_is_a_data_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 \xff")
    with pytest.raises(DataError, match=r"bad\.txt: not valid UTF-8"):
        load_corpus(tmp_path)


def test_unsupported_file_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "corpus.csv"
    path.write_text("id,text\n", encoding="utf-8")
    with pytest.raises(DataError, match="neither a folder"):
        load_corpus(path)


# -- JSONL --------------------------------------------------------------------------------------


def test_jsonl_reads_documents_skipping_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(
        json.dumps({"id": "1", "title": "One", "text": "first"})
        + "\n\n"
        + json.dumps({"id": 2, "text": "second, untitled"})
        + "\n",
        encoding="utf-8",
    )
    corpus = load_corpus(path)
    assert list(corpus) == [Document("1", "One", "first"), Document("2", "", "second, untitled")]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "x", "text": ', "invalid JSON"),
        ('["id", "text"]', "expected a JSON object, got list"),
        ('{"id": "x"}', "missing field 'text'"),
        ('{"text": "no id"}', "missing field 'id'"),
        ('{"id": "x", "title": 3, "text": "t"}', "field 'title' must be a string, got int"),
        ('{"id": "", "text": "t"}', "field 'id' is empty"),
    ],
)
def test_malformed_jsonl_line_names_file_and_line(
    tmp_path: Path, bad_line: str, message: str
) -> None:
    path = tmp_path / "corpus.jsonl"
    good = json.dumps({"id": "ok", "title": "T", "text": "fine"})
    path.write_text(f"{good}\n\n{bad_line}\n{good.replace('ok', 'ok2')}\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_corpus(path)
    assert str(info.value).startswith(f"{path}:3: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_duplicate_jsonl_id_names_both_lines(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [{"id": "a", "text": "1"}, {"id": "b", "text": "2"}, {"id": "a", "text": "3"}],
    )
    with pytest.raises(DataError, match=r"d\.jsonl:3: duplicate id 'a' \(first on line 1\)"):
        load_corpus(path)


def test_jsonl_of_blank_lines_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="has no documents"):
        load_corpus(path)


# -- chunking -----------------------------------------------------------------------------------


def test_chunking_cuts_overlapping_windows_keeping_the_title() -> None:
    doc = Document("d", "Title", "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9")
    passages = chunk_document(doc, ChunkSettings(max_words=4, overlap=1))
    assert [p.id for p in passages] == ["d#0", "d#1", "d#2"]
    assert [p.text for p in passages] == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9"]
    assert {p.title for p in passages} == {"Title"}


def test_short_documents_and_default_settings_are_not_chunked() -> None:
    doc = Document("d", "T", "one two three")
    assert chunk_document(doc, ChunkSettings(max_words=3)) == [doc]
    assert chunk_document(doc, ChunkSettings()) == [doc]


def test_load_corpus_applies_chunking(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "c.jsonl", [{"id": "long", "text": "a b c d e"}, {"id": "s", "text": "x"}]
    )
    corpus = load_corpus(path, chunking=ChunkSettings(max_words=2))
    assert [(d.id, d.text) for d in corpus] == [
        ("long#0", "a b"),
        ("long#1", "c d"),
        ("long#2", "e"),
        ("s", "x"),
    ]
    assert corpus.chunking == ChunkSettings(max_words=2)


@pytest.mark.parametrize(("max_words", "overlap"), [(0, 0), (3, 3), (3, -1), (2, 5)])
def test_invalid_chunk_settings_are_config_errors(max_words: int, overlap: int) -> None:
    with pytest.raises(ConfigError):
        ChunkSettings(max_words=max_words, overlap=overlap)


@given(
    n_words=st.integers(min_value=0, max_value=60),
    max_words=st.integers(min_value=1, max_value=12),
    data=st.data(),
)
def test_chunks_cover_the_words_in_order_with_exact_overlap(
    n_words: int, max_words: int, data: st.DataObject
) -> None:
    overlap = data.draw(st.integers(min_value=0, max_value=max_words - 1))
    words = [f"w{i}" for i in range(n_words)]
    passages = chunk_document(
        Document("d", "T", " ".join(words)), ChunkSettings(max_words, overlap)
    )
    pieces = [p.text.split() for p in passages]
    assert all(len(p) <= max_words for p in pieces)
    if len(passages) > 1:
        if overlap:
            for prev, nxt in itertools.pairwise(pieces):
                assert prev[-overlap:] == nxt[:overlap]
        rebuilt = pieces[0] + [w for p in pieces[1:] for w in p[overlap:]]
        assert rebuilt == words
    else:
        assert pieces[0] == words


# -- fingerprints -------------------------------------------------------------------------------


def test_fingerprint_is_stable_and_sensitive_to_documents_and_settings() -> None:
    docs = [Document("a", "T", "one two three"), Document("b", "U", "four")]
    base = Corpus(docs).fingerprint()
    assert Corpus(list(docs)).fingerprint() == base
    assert len(base) == 64
    assert Corpus([docs[0], Document("b", "U", "four!")]).fingerprint() != base
    assert Corpus(docs[::-1]).fingerprint() != base
    assert Corpus(docs, chunking=ChunkSettings(max_words=10)).fingerprint() != base


def test_fingerprint_does_not_confuse_field_boundaries() -> None:
    left = Corpus([Document("ab", "c", "d")])
    right = Corpus([Document("a", "bc", "d")])
    assert left.fingerprint() != right.fingerprint()
