"""`forage data` commands: look at a dataset file before spending compute on it.

``forage data stats FILE`` loads the file (``forage.data.loaders``), prints its counts, dev/test
split (``forage.eval.datasets``), question types, hop distribution and pooled corpus size, and the
recall@k of the gold supporting titles over the pooled corpus (``forage.eval.recall``): BM25 only
unless ``-r dense`` / ``-r hybrid`` ask for the embedding model, which takes minutes on a CPU.
Only argument parsing and printing live here; errors are ``ForageError``s that ``forage.cli.app``
turns into one line.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as ProgressBars
from rich.table import Table

from forage.core.errors import ConfigError
from forage.core.types import Document
from forage.data.loaders import DEV_SIZE, Dataset, load
from forage.data.records import FORMATS
from forage.eval.datasets import split_dataset
from forage.eval.recall import RecallReport, evaluate_recall, gold_coverage
from forage.search.base import SearchTool
from forage.search.progress import Progress

if TYPE_CHECKING:
    from forage.search.corpus import Corpus


class Retrievers:
    """Builds the retrievers one command asks for over one pooled corpus, each at most once
    (hybrid reuses the BM25 and dense indexes already built). ``progress(label)`` gives the
    callback an index build reports to (a progress bar in the terminal)."""

    def __init__(
        self,
        documents: list[Document],
        index_dir: Path | None,
        progress: Callable[[str], Progress] | None = None,
    ) -> None:
        self.documents = documents
        self.index_dir = index_dir
        self._progress = progress
        self._built: dict[str, SearchTool] = {}

    def progress(self, label: str) -> Progress | None:
        return self._progress(label) if self._progress is not None else None

    def get(self, name: str) -> SearchTool:
        if name not in self._built:
            self._built[name] = RETRIEVERS[name](self)
        return self._built[name]

    def index_path(self, name: str) -> Path | None:
        return self.index_dir / name if self.index_dir is not None else None

    @cached_property
    def corpus(self) -> Corpus:
        from forage.search.corpus import Corpus

        return Corpus(self.documents)


def _bm25(r: Retrievers) -> SearchTool:
    from forage.search.bm25 import BM25Search

    return BM25Search(r.corpus, index_dir=r.index_path("bm25"), progress=r.progress("BM25 index"))


def _dense(r: Retrievers) -> SearchTool:
    from forage.search.dense import DenseSearch, E5Embedder

    return DenseSearch(
        r.corpus,
        E5Embedder(),
        index_dir=r.index_path("dense"),
        progress=r.progress("embedding (e5)"),
    )


def _hybrid(r: Retrievers) -> SearchTool:
    from forage.search.hybrid import HybridSearch

    return HybridSearch([r.get("bm25"), r.get("dense")])


# Retrievers by name, each built over the pooled corpus (and saved under / reloaded from an index
# folder when one is given). Imported lazily: a retriever's index and its dependencies, such as the
# embedding model, are only built when asked for.
RETRIEVERS: dict[str, Callable[[Retrievers], SearchTool]] = {
    "bm25": _bm25,
    "dense": _dense,
    "hybrid": _hybrid,
}
# What ``data stats`` measures when no retriever is named: BM25 indexes thousands of paragraphs in
# about a second; dense and hybrid embed every paragraph first.
DEFAULT_RETRIEVERS: tuple[str, ...] = ("bm25",)


def parse_ks(text: str) -> list[int]:
    """'1,2,5,10' -> [1, 2, 5, 10] (sorted, unique, each at least 1)."""
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ConfigError(f"--k must be comma-separated integers, like 1,2,5,10; got {text!r}") from None
    if not ks or ks[0] < 1:
        raise ConfigError(f"--k values must be integers of at least 1; got {text!r}")
    return ks


def _summary_table(data: Dataset) -> Table:
    dev, test, how = split_dataset(data, DEV_SIZE)
    table = Table(title=f"{data.path.name} ({data.format})", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("questions", str(len(data.questions)))
    table.add_row(f"dev / test ({how})", f"{len(dev)} / {len(test)}")
    table.add_row("skipped records", str(len(data.skipped)))
    table.add_row("corpus documents", str(len(data.corpus)))
    with_gold = sum(1 for q in data.questions if q.supporting_titles)
    table.add_row("questions with gold titles", str(with_gold))
    table.add_row("questions with decompositions", str(sum(1 for q in data.questions if q.decomposition)))
    coverage = gold_coverage(data.questions, [d.title for d in data.corpus])
    table.add_row("gold titles in corpus (recall ceiling)", f"{coverage:.3f}")
    return table


def _counts_table(title: str, counts: Counter[str]) -> Table:
    table = Table(title=title)
    table.add_column(title.split()[0])
    table.add_column("questions", justify="right")
    for key, n in sorted(counts.items()):
        table.add_row(key, str(n))
    return table


def _recall_table(reports: list[RecallReport], ks: list[int]) -> Table:
    table = Table(title="recall@k of gold titles over the searched corpus")
    table.add_column("retriever")
    table.add_column("questions", justify="right")
    for k in ks:
        table.add_column(f"R@{k}", justify="right")
    for r in reports:
        table.add_row(r.tool, str(r.questions), *(f"{r.recall[k]:.3f}" for k in ks))
    return table


def stats(
    file: Annotated[str, typer.Argument(
        help="Dataset file: FlashRAG JSONL, IRCoT JSONL, HotpotQA, 2Wiki, MuSiQue, plain QA.")],
    k: Annotated[str, typer.Option("--k", help="Comma-separated k values for recall@k.")] = "1,2,5,10",
    strict: Annotated[bool, typer.Option("--strict", help="Fail on the first malformed record.")] = False,
    format: Annotated[
        str | None, typer.Option("--format", help=f"Dataset format: {', '.join(FORMATS)} (default: detect).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Read only the first N questions.")] = None,
    retriever: Annotated[
        list[str] | None,
        typer.Option("--retriever", "-r", help="Retrievers to measure: bm25, dense, hybrid "
                     "(repeatable; default bm25 only: dense embeds the whole corpus, minutes on a CPU)."),
    ] = None,
    index_dir: Annotated[
        Path | None,
        typer.Option("--index-dir", help="Save indexes here and reuse them while the corpus matches."),
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option("--corpus", help="Search this corpus (folder or JSONL of {id,title,text}) "
                     "instead of the pooled context paragraphs, e.g. a generated world's corpus.jsonl."),
    ] = None,
) -> None:
    """Counts, types, hops, corpus size and retrieval recall@k of a dataset file."""
    ks = parse_ks(k)
    names = retriever or list(DEFAULT_RETRIEVERS)
    unknown = [n for n in names if n not in RETRIEVERS]
    if unknown:
        raise ConfigError(f"unknown retriever {unknown[0]!r}; known: {', '.join(RETRIEVERS)}")
    data = load(file, format=format, strict=strict, limit=limit)
    if corpus is not None:
        from forage.search.corpus import load_corpus

        data = dataclasses.replace(data, corpus=tuple(load_corpus(corpus).documents))

    console = Console()
    console.print(_summary_table(data))
    dev, test, _ = split_dataset(data, DEV_SIZE)
    questions = dev + test  # with the types the registry knows for this file
    console.print(_counts_table("type", Counter(q.type or "-" for q in questions)))
    console.print(
        _counts_table("hops", Counter(str(q.hops) if q.hops else "-" for q in questions))
    )
    documents = list(data.corpus)
    if not documents:
        console.print("no context paragraphs: no corpus to measure retrieval on")
        return
    with ProgressBars(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    ) as bars:

        def bar(label: str) -> Progress:
            task = bars.add_task(label, total=None)
            return lambda done, total: bars.update(task, completed=done, total=total)

        retrievers = Retrievers(
            documents, index_dir / data.name if index_dir is not None else None, bar
        )
        reports = [
            evaluate_recall(retrievers.get(n), data.questions, ks, progress=bar(f"recall ({n})"))
            for n in names
        ]
    console.print(_recall_table(reports, ks))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    data_app = typer.Typer(help="Inspect dataset files.", no_args_is_help=True)
    data_app.command("stats")(stats)
    app.add_typer(data_app, name="data")
