"""`forage data stats`: printed counts and recall, and exit codes for bad input."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from forage.cli import data as data_cli
from forage.core.errors import ConfigError, DataError
from forage.core.types import Hit

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"
HOTPOT = Path(__file__).resolve().parents[2] / "data" / "hotpotqa_dev_distractor_500.jsonl"


def make_app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None: ...

    data_cli.register(app)
    return app


def run(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(make_app(), ["data", "stats", *args], env={"COLUMNS": "120"})
    return result.exit_code, result.output, result.exception


def row(output: str, label: str) -> list[str]:
    """The cells of the table row that starts with ``label``."""
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        if cells and cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no row {label!r} in:\n{output}")


class FirstTitles:
    """A retriever that returns the corpus in order: its recall is easy to compute by hand."""

    name = "in-order"

    def __init__(self, retrievers: data_cli.Retrievers) -> None:
        self.documents = retrievers.documents

    def search(self, query: str, k: int = 5) -> Sequence[Hit]:
        return [Hit(d, 1.0, i) for i, d in enumerate(self.documents[:k])]


def test_stats_prints_counts_types_hops_and_recall(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(data_cli.RETRIEVERS, "in-order", FirstTitles)
    code, out, exc = run(str(FIXTURES / "2wiki_official.json"), "--k", "1,4", "-r", "in-order")
    assert (code, exc) == (0, None)
    assert row(out, "questions") == ["2"]
    assert row(out, "corpus documents") == ["7"]
    assert row(out, "compositional") == ["1"]
    assert row(out, "bridge_comparison") == ["1"]
    assert row(out, "2") == ["1"]  # hops 2: one question
    assert row(out, "4") == ["1"]
    # corpus order: Polish-Russian War, Xawery, Maheen, Falcon, Mountain Cry, Mimica, Yang.
    # q1 gold {Polish-Russian War, Xawery}: R@1 1/2, R@4 1. q2 gold {Falcon, Mountain Cry,
    # Mimica, Yang}: R@1 0, R@4 1/4. Means: R@1 0.25, R@4 0.625.
    assert row(out, "in-order") == ["2", "0.250", "0.625"]


class ReversedTitles(FirstTitles):
    name = "reversed"

    def search(self, query: str, k: int = 5) -> Sequence[Hit]:
        return [Hit(d, 1.0, i) for i, d in enumerate(self.documents[::-1][:k])]


def test_stats_hybrid_fuses_the_bm25_and_dense_it_already_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []

    def builder(cls: type[FirstTitles]):  # type: ignore[no-untyped-def]
        def build(r: data_cli.Retrievers) -> FirstTitles:
            built.append(cls.name)
            return cls(r)

        return build

    monkeypatch.setitem(data_cli.RETRIEVERS, "bm25", builder(FirstTitles))
    monkeypatch.setitem(data_cli.RETRIEVERS, "dense", builder(ReversedTitles))
    code, out, exc = run(
        str(FIXTURES / "2wiki_official.json"), "--k", "1,4",
        "-r", "bm25", "-r", "dense", "-r", "hybrid",
    )
    assert (code, exc) == (0, None)
    assert built == ["in-order", "reversed"]
    assert row(out, "in-order") == ["2", "0.250", "0.625"]
    # reversed top 4: Yang, Mimica, Mountain Cry, Falcon -> q1 0, 0; q2 1/4, 1
    assert row(out, "reversed") == ["2", "0.125", "0.500"]
    # RRF of the two orders favours both ends: Polish-Russian War, Yang, Xawery, Mimica, ...
    # q1: R@1 1/2, R@4 1; q2: R@1 0, R@4 2/4 -> means 0.25, 0.75
    assert row(out, "hybrid") == ["2", "0.250", "0.750"]


def test_stats_measures_only_bm25_unless_dense_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []

    def builder(name: str):  # type: ignore[no-untyped-def]
        def build(r: data_cli.Retrievers) -> FirstTitles:
            built.append(name)
            return FirstTitles(r)

        return build

    for name in ("bm25", "dense", "hybrid"):
        monkeypatch.setitem(data_cli.RETRIEVERS, name, builder(name))
    code, out, exc = run(str(FIXTURES / "2wiki_official.json"), "--k", "1")
    assert (code, exc) == (0, None)
    assert built == ["bm25"]
    assert "hybrid" not in out


def test_stats_on_the_shared_hotpotqa_file_uses_its_split_and_types() -> None:
    code, out, exc = run(str(HOTPOT), "--limit", "260", "--k", "2,10")
    assert (code, exc) == (0, None)
    assert row(out, "questions") == ["260"]
    # every 10th line from line 0 is dev: 0, 10, ..., 250
    assert row(out, "dev / test (every 10th from 0 = dev)") == ["26 / 234"]
    assert row(out, "bridge") == ["250"]  # the file has no type field; the registry knows
    assert row(out, "comparison") == ["10"]
    assert row(out, "gold titles in corpus (recall ceiling)") == ["1.000"]
    bm25 = row(out, "bm25")
    assert bm25[0] == "260"
    r2, r10 = float(bm25[1]), float(bm25[2])
    assert 0.0 < r2 <= r10 <= 1.0


def test_stats_on_a_missing_file_fails_with_a_data_error(tmp_path: Path) -> None:
    code, _, exc = run(str(tmp_path / "missing.jsonl"))
    assert code == 1
    assert isinstance(exc, DataError)
    assert str(exc).endswith("missing.jsonl: no such file")


def test_stats_skips_malformed_lines_and_counts_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(data_cli.RETRIEVERS, "in-order", FirstTitles)
    code, out, exc = run(str(FIXTURES / "flashrag_malformed.jsonl"), "-r", "in-order", "--k", "1")
    assert (code, exc) == (0, None)
    assert row(out, "questions") == ["2"]
    assert row(out, "skipped records") == ["3"]


def test_stats_strict_fails_on_the_first_malformed_line() -> None:
    path = FIXTURES / "flashrag_malformed.jsonl"
    code, _, exc = run(str(path), "--strict")
    assert code == 1
    assert isinstance(exc, DataError)
    assert str(exc).startswith(f"{path}:2: invalid JSON")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--k", "1,x"), "--k must be comma-separated integers"),
        (("--k", "0,5"), "--k values must be integers of at least 1"),
        (("-r", "tfidf"), "unknown retriever 'tfidf'"),
    ],
)
def test_stats_rejects_bad_options_as_config_errors(args: tuple[str, ...], message: str) -> None:
    code, _, exc = run(str(FIXTURES / "qa_plain.jsonl"), *args)
    assert code == 1
    assert isinstance(exc, ConfigError)
    assert message in str(exc)


def test_stats_without_context_prints_no_recall() -> None:
    code, out, exc = run(str(FIXTURES / "qa_plain.jsonl"))
    assert (code, exc) == (0, None)
    assert row(out, "corpus documents") == ["0"]
    assert "no context paragraphs" in out


def test_parse_ks_sorts_and_deduplicates() -> None:
    assert data_cli.parse_ks("10, 1,5,1") == [1, 5, 10]


def test_stats_searches_a_given_corpus_instead_of_the_pooled_contexts(small_world) -> None:
    code, out, exc = run(
        str(small_world.path / "test.jsonl"), "--corpus", str(small_world.path / "corpus.jsonl"),
        "-r", "bm25", "--k", "1,5",
    )
    assert (code, exc) == (0, None)
    assert row(out, "corpus documents") == [str(len(small_world.corpus))]
    assert row(out, "gold titles in corpus (recall ceiling)") == ["1.000"]
    r1, r5 = (float(x) for x in row(out, "bm25")[1:])
    assert 0 < r1 <= r5 <= 1


def test_retrievers_hand_each_index_build_a_progress_callback() -> None:
    from forage.data.loaders import load

    documents = list(load(FIXTURES / "2wiki_official.json").corpus)
    seen: dict[str, list[tuple[int, int]]] = {}

    def factory(label: str):  # type: ignore[no-untyped-def]
        calls = seen.setdefault(label, [])
        return lambda done, total: calls.append((done, total))

    data_cli.Retrievers(documents, None, factory).get("bm25")
    assert seen == {"BM25 index": [(len(documents), len(documents))]}
