"""The plain data every layer shares: questions, documents, search hits.

Only data lives here: no I/O, no parsing of files (``forage.data``), no search (``forage.search``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Document:
    """One retrievable passage. ``id`` is unique within its corpus."""

    id: str
    title: str
    text: str

    @property
    def content(self) -> str:
        """What a reader sees: the title, then the text."""
        return f"{self.title}\n{self.text}" if self.title else self.text

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    """A document returned by a search, with its score and rank (0 = best)."""

    document: Document
    score: float
    rank: int


@dataclass(frozen=True)
class Question:
    """A question with its gold answers and whatever the dataset knows about it."""

    id: str
    text: str
    answers: tuple[str, ...] = ()
    type: str | None = None
    hops: int | None = None
    supporting_titles: tuple[str, ...] = ()
    decomposition: tuple[str, ...] = ()
    metadata: dict[str, object] = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
