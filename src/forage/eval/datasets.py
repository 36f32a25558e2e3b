"""Turn a dataset argument into what a sweep needs: test questions, dev exemplars and a corpus.

``open_dataset(path, split=..., limit=..., hops=...)`` accepts

- a generated world folder (``dev.jsonl``, ``test.jsonl``, ``corpus.jsonl``), or one of its
  ``dev.jsonl``/``test.jsonl`` files: exemplars come from ``dev.jsonl``, the corpus is
  ``corpus.jsonl``;
- any other question file ``forage.data.loaders.load`` reads (the shared HotpotQA/2Wiki files, any
  FlashRAG-style JSONL): the first ``dev_size`` questions (50, as for the shared files) are the dev
  split, the rest the test split, and the corpus pools every question's context paragraphs.

``split`` chooses which questions are scored: ``test`` (default), ``dev`` or ``all``. Exemplars
always come from the dev split, so scoring ``dev`` or ``all`` scores questions whose siblings
serve as exemplars; the report says which split was scored.

Not here: running anything (``forage.eval.sweep``), reading file formats (``forage.data``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from forage.core.errors import ConfigError, DataError
from forage.core.types import Document, Question
from forage.data.loaders import DEV_SIZE, load, split
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
) -> SweepDataset:
    """Read the dataset at ``path`` (see the module docstring). Raises ``ConfigError`` for an
    unknown split or a path that is no dataset, ``DataError`` for unreadable data."""
    if split_name not in SPLITS:
        raise ConfigError(f"unknown split {split_name!r}: choose from {', '.join(SPLITS)}")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, not {limit}")
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"unknown dataset {str(path)!r}: no such file or folder")
    world = _world_folder(p)
    if world is not None:
        dev = load(world / "dev.jsonl").questions
        test = load(world / "test.jsonl").questions
        corpus = load_corpus(world / "corpus.jsonl")
        digest = file_digest(world / "dev.jsonl", world / "test.jsonl", world / "corpus.jsonl")
        name, kind = world.name, "world"
    elif p.is_dir():
        raise ConfigError(
            f"unknown dataset {str(path)!r}: a folder must be a generated world "
            "(dev.jsonl, test.jsonl, corpus.jsonl)"
        )
    else:
        data = load(p)
        dev, test = split(data.questions, dev_size)
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


__all__ = ["SPLITS", "SweepDataset", "open_dataset", "parse_hops", "select"]
