"""Turn a dataset argument into what a sweep needs: test questions, dev exemplars and a corpus.

``open_dataset(path, split=..., limit=..., hops=...)`` accepts

- a generated world folder (``dev.jsonl``, ``test.jsonl``, ``corpus.jsonl``), or one of its
  ``dev.jsonl``/``test.jsonl`` files: exemplars come from ``dev.jsonl``, the corpus is
  ``corpus.jsonl``;
- any other question file ``forage.data.loaders.load`` reads (the shared HotpotQA/2Wiki files, any
  FlashRAG-style or IRCoT-style JSONL): the corpus pools every question's context paragraphs. A
  file the registry ``KNOWN_DATASETS`` knows by its name is split by its own rule (HotpotQA-500:
  every 10th line is dev; 2Wiki-200: the first 50 lines), and questions its file leaves untyped get
  the type the registry records for their line. Any other file: the first ``dev_size`` questions
  are the dev split, the rest the test split.

``split`` chooses which questions are scored: ``test`` (default), ``dev`` or ``all``. Exemplars
always come from the dev split, so scoring ``dev`` or ``all`` scores questions whose siblings
serve as exemplars; the report says which split was scored.

Not here: running anything (``forage.eval.sweep``), reading file formats (``forage.data``): the
loaders parse any file of a format, this registry holds what is true of one particular file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Protocol

from forage.core.errors import ConfigError, DataError
from forage.core.types import Document, Question
from forage.data.loaders import DEV_SIZE, Dataset, load
from forage.eval.journal import file_digest
from forage.search.corpus import Corpus, load_corpus

logger = logging.getLogger(__name__)

Split = Literal["test", "dev", "all"]
SPLITS: tuple[str, ...] = ("test", "dev", "all")


@dataclass(frozen=True)
class SweepDataset:
    """One dataset of a sweep."""

    name: str
    kind: str  # "world" or the file format
    questions: tuple[Question, ...]  # the questions that are scored
    dev: tuple[Question, ...]  # exemplars come from these only
    corpus: Corpus
    digest: str  # sha256 of the files read
    split: str = "test"


class DevRule(Protocol):
    """Which questions of a file (by 0-based position) belong to its dev split."""

    def is_dev(self, index: int) -> bool: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class FirstLines:
    """Dev = the first ``n`` questions."""

    n: int

    def is_dev(self, index: int) -> bool:
        return index < self.n

    def describe(self) -> str:
        return f"first {self.n} = dev"


@dataclass(frozen=True)
class EveryNthLine:
    """Dev = the questions whose 0-based position is divisible by ``n``."""

    n: int

    def is_dev(self, index: int) -> bool:
        return index % self.n == 0

    def describe(self) -> str:
        return f"every {self.n}th from 0 = dev"


@dataclass(frozen=True)
class KnownDataset:
    """What forage knows about one published file beyond what its records say.

    ``types`` are ``(first index, type)`` boundaries, in order: the question at position ``i`` has
    the type of the last boundary at or before ``i`` (used only where the record gives no type).
    """

    name: str
    file: str
    questions: int
    dev: DevRule
    types: tuple[tuple[int, str], ...] = ()

    def type_at(self, index: int) -> str | None:
        found = None
        for start, kind in self.types:
            if index >= start:
                found = kind
        return found


# The shipped samples (data/README.md), recognised by file name.
KNOWN_DATASETS: dict[str, KnownDataset] = {
    d.file: d
    for d in (
        KnownDataset(
            "hotpotqa",
            "hotpotqa_dev_distractor_500.jsonl",
            500,
            EveryNthLine(10),
            types=((0, "bridge"), (250, "comparison")),
        ),
        KnownDataset("2wiki", "2wikimultihopqa_dev_200.jsonl", 200, FirstLines(DEV_SIZE)),
    )
}


def known_dataset(path: str | Path) -> KnownDataset | None:
    """The registry entry for the file at ``path`` (by its name), or None."""
    return KNOWN_DATASETS.get(Path(path).name)


def split_dataset(
    data: Dataset, dev_size: int = DEV_SIZE
) -> tuple[tuple[Question, ...], tuple[Question, ...], str]:
    """(dev, test, how it was split) for a loaded file: by the registry's rule when it knows the
    file, else the first ``dev_size`` questions are dev. Registry types fill untyped questions.

    Raises ``DataError`` when a known file lost records to malformed lines (positions would shift)
    or ``dev_size`` is negative.
    """
    known = known_dataset(data.path)
    questions = data.questions
    if known is None:
        if dev_size < 0:
            raise DataError(f"dev size must not be negative, not {dev_size}")
        rule: DevRule = FirstLines(dev_size)
    else:
        if data.skipped:
            raise DataError(
                f"{data.path}: {len(data.skipped)} malformed records were skipped, so the split "
                f"of {known.name} by position would be wrong"
            )
        if len(questions) != known.questions:
            logger.warning(
                "%s: %d questions where %s has %d; splitting the first ones by its rule",
                data.path, len(questions), known.name, known.questions,
            )
        rule = known.dev
        questions = tuple(
            replace(q, type=known.type_at(i)) if q.type is None and known.type_at(i) else q
            for i, q in enumerate(questions)
        )
    dev = tuple(q for i, q in enumerate(questions) if rule.is_dev(i))
    test = tuple(q for i, q in enumerate(questions) if not rule.is_dev(i))
    return dev, test, rule.describe()


def parse_hops(text: str | None) -> tuple[int, int] | None:
    """``"2-4"`` -> (2, 4), ``"3"`` -> (3, 3), None/"" -> None."""
    if not text:
        return None
    lo, _, hi = text.partition("-")
    try:
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise ConfigError(f"hops must look like 3 or 2-4, not {text!r}") from None
    if a < 1 or b < a:
        raise ConfigError(f"hops range {text!r} is empty or below 1")
    return a, b


def select(
    questions: Sequence[Question], *, hops: tuple[int, int] | None = None, limit: int | None = None
) -> tuple[Question, ...]:
    """Questions whose known hop count is in ``hops`` (unknown counts are kept), the first
    ``limit`` of them."""
    out = [q for q in questions if hops is None or q.hops is None or hops[0] <= q.hops <= hops[1]]
    return tuple(out[:limit] if limit is not None else out)


def _world_folder(path: Path) -> Path | None:
    folder = path if path.is_dir() else path.parent
    if all((folder / f).is_file() for f in ("dev.jsonl", "test.jsonl", "corpus.jsonl")):
        if path.is_dir() or path.name in ("dev.jsonl", "test.jsonl"):
            return folder
    return None


def open_dataset(
    path: str | Path,
    *,
    split_name: str = "test",
    limit: int | None = None,
    hops: tuple[int, int] | None = None,
    dev_size: int = DEV_SIZE,
    strict: bool = False,
) -> SweepDataset:
    """Read the dataset at ``path`` (see the module docstring). ``dev_size`` applies only to files
    the registry does not know. Raises ``ConfigError`` for an unknown split or a path that is no
    dataset, ``DataError`` for unreadable data (with ``strict``, for the first malformed record
    too, instead of skipping it)."""
    if split_name not in SPLITS:
        raise ConfigError(f"unknown split {split_name!r}: choose from {', '.join(SPLITS)}")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, not {limit}")
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"unknown dataset {str(path)!r}: no such file or folder")
    world = _world_folder(p)
    if world is not None:
        dev = load(world / "dev.jsonl", strict=strict).questions
        test = load(world / "test.jsonl", strict=strict).questions
        corpus = load_corpus(world / "corpus.jsonl")
        digest = file_digest(world / "dev.jsonl", world / "test.jsonl", world / "corpus.jsonl")
        name, kind = world.name, "world"
    elif p.is_dir():
        raise ConfigError(
            f"unknown dataset {str(path)!r}: a folder must be a generated world "
            "(dev.jsonl, test.jsonl, corpus.jsonl)"
        )
    else:
        data = load(p, strict=strict)
        dev, test, _ = split_dataset(data, dev_size)
        corpus = _corpus(data.corpus, p)
        digest = file_digest(p)
        name, kind = data.name, data.format
    scored = {"test": test, "dev": dev, "all": tuple(dev) + tuple(test)}[split_name]
    questions = select(scored, hops=hops, limit=limit)
    if not questions:
        raise DataError(f"dataset {name}: no {split_name} questions left to score "
                        f"(hops filter {hops}, {len(scored)} before filtering)")
    if not dev:
        logger.warning("dataset %s has no dev split: generic exemplars will be used", name)
    return SweepDataset(name, kind, questions, tuple(dev), corpus, digest, split_name)


def _corpus(documents: Sequence[Document], path: Path) -> Corpus:
    if not documents:
        raise DataError(f"{path}: the questions carry no context paragraphs to search")
    return Corpus(documents)


__all__ = [
    "KNOWN_DATASETS",
    "SPLITS",
    "EveryNthLine",
    "FirstLines",
    "KnownDataset",
    "SweepDataset",
    "known_dataset",
    "open_dataset",
    "parse_hops",
    "select",
    "split_dataset",
]
