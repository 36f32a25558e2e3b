"""Index builds report their progress: to a callback as they go, and to the log now and then."""

from __future__ import annotations

import logging

import pytest

from forage.core.types import Document
from forage.search import bm25 as bm25_module
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.search.dense import DenseSearch
from forage.search.progress import ProgressReport
from forage.search.testing import HashingEmbedder


def many_documents(n: int) -> Corpus:
    return Corpus(
        Document(f"d{i}", f"Title {i}", f"word{i} shared text number {i}") for i in range(n)
    )


def test_report_forwards_every_step_and_logs_only_at_the_interval_and_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    calls: list[tuple[int, int]] = []
    report = ProgressReport("embedding", 100, lambda d, t: calls.append((d, t)),
                            interval=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="forage.search.progress"):
        now[0] = 5.0
        report.advance(10)  # 5 s since the start: no log line yet
        now[0] = 20.0
        report.advance(40)  # 20 s: logged, 2.0/s, 30 s left
        now[0] = 25.0
        report.advance(50)  # 5 s since the last line: quiet
        now[0] = 26.0
        report.advance(100)  # the end is always logged
    assert calls == [(10, 100), (40, 100), (50, 100), (100, 100)]
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "embedding: 40/100 documents, 2.0/s, 30 s left",
        "embedding: 100/100 documents, 3.8/s, 0 s left",
    ]


def test_bm25_build_reports_chunks_then_the_total(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm25_module, "TOKENIZE_CHUNK", 4)
    calls: list[tuple[int, int]] = []
    corpus = many_documents(10)
    search = BM25Search(corpus, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(4, 10), (8, 10), (10, 10)]
    # chunked tokenising indexes the same thing as one pass
    whole = BM25Search(corpus)
    assert [h.document.id for h in search.search("word7 text", 3)] == [
        h.document.id for h in whole.search("word7 text", 3)
    ]
    assert search.search("word7", 1)[0].document.id == "d7"


def test_bm25_loaded_from_disk_reports_nothing(tmp_path) -> None:
    corpus = many_documents(5)
    BM25Search(corpus, index_dir=tmp_path)
    calls: list[tuple[int, int]] = []
    loaded = BM25Search(corpus, index_dir=tmp_path, progress=lambda d, t: calls.append((d, t)))
    assert not loaded.built and calls == []


def test_dense_build_reports_after_each_batch() -> None:
    calls: list[tuple[int, int]] = []
    DenseSearch(many_documents(7), HashingEmbedder(), batch_size=3,
                progress=lambda d, t: calls.append((d, t)))
    assert calls == [(3, 7), (6, 7), (7, 7)]
