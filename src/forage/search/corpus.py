"""Corpora: an ordered, immutable collection of ``Document``s, and loading one from disk.

A corpus is read from a folder of ``.txt``/``.md`` files (title = file stem, id = path relative to
the folder, POSIX style) or from a JSONL file of ``{"id", "title", "text"}`` objects (``title`` may
be omitted). Documents can optionally be cut into overlapping passages of at most ``max_words``
words (``ChunkSettings``); by default they are kept whole. ``Corpus.fingerprint()`` identifies the
documents and the chunking settings, so an index saved on disk can tell whether it still matches.

Not here: any search index (``bm25``, ``dense``), nor reading question datasets (``forage.data``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from forage.core.errors import ConfigError, DataError, describe_json_error
from forage.core.types import Document

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIXES = (".jsonl",)


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut into passages. ``max_words=None`` keeps documents whole.

    A document longer than ``max_words`` words becomes passages ``<id>#0``, ``<id>#1``, ... of
    ``max_words`` words each, consecutive passages sharing ``overlap`` words; every passage keeps
    the document's title. Words are whitespace-separated and re-joined with single spaces.
    """

    max_words: int | None = None
    overlap: int = 0

    def __post_init__(self) -> None:
        if self.max_words is not None and self.max_words < 1:
            raise ConfigError(f"chunking max_words must be >= 1, got {self.max_words}")
        if self.overlap < 0:
            raise ConfigError(f"chunking overlap must be >= 0, got {self.overlap}")
        if self.max_words is not None and self.overlap >= self.max_words:
            raise ConfigError(
                f"chunking overlap ({self.overlap}) must be smaller than max_words "
                f"({self.max_words})"
            )

    def to_dict(self) -> dict[str, int | None]:
        return asdict(self)


def chunk_document(document: Document, settings: ChunkSettings) -> list[Document]:
    """Cut one document into passages (see ``ChunkSettings``); a short one is returned as is."""
    if settings.max_words is None:
        return [document]
    words = document.text.split()
    if len(words) <= settings.max_words:
        return [document]
    stride = settings.max_words - settings.overlap
    passages: list[Document] = []
    start = 0
    while True:
        window = words[start : start + settings.max_words]
        passages.append(
            Document(
                id=f"{document.id}#{len(passages)}", title=document.title, text=" ".join(window)
            )
        )
        if start + settings.max_words >= len(words):
            return passages
        start += stride


class Corpus:
    """An ordered, immutable collection of documents with unique ids.

    ``Corpus(documents, chunking=...)`` cuts the documents into passages first when ``chunking``
    sets ``max_words``. Position ``i`` in ``corpus.documents`` is what indexes refer to.
    """

    def __init__(
        self, documents: Iterable[Document], *, chunking: ChunkSettings | None = None
    ) -> None:
        self.chunking = chunking or ChunkSettings()
        passages: list[Document] = []
        for doc in documents:
            passages.extend(chunk_document(doc, self.chunking))
        if not passages:
            raise DataError("corpus has no documents")
        by_id: dict[str, int] = {}
        by_title: dict[str, list[int]] = {}
        for i, doc in enumerate(passages):
            if doc.id in by_id:
                raise DataError(f"duplicate document id {doc.id!r}")
            by_id[doc.id] = i
            by_title.setdefault(doc.title, []).append(i)
        self._documents = tuple(passages)
        self._by_id = by_id
        self._by_title = {t: tuple(ix) for t, ix in by_title.items()}
        self._fingerprint: str | None = None

    @property
    def documents(self) -> tuple[Document, ...]:
        return self._documents

    def __len__(self) -> int:
        return len(self._documents)

    def __iter__(self) -> Iterator[Document]:
        return iter(self._documents)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._by_id

    def get(self, doc_id: str) -> Document:
        """The document with id ``doc_id``; ``KeyError`` if there is none."""
        return self._documents[self._by_id[doc_id]]

    def position(self, doc_id: str) -> int:
        """Where the document with id ``doc_id`` sits in ``documents``; ``KeyError`` if absent."""
        return self._by_id[doc_id]

    def by_title(self, title: str) -> tuple[Document, ...]:
        """Every document (or passage) with this exact title, in corpus order; may be empty."""
        return tuple(self._documents[i] for i in self._by_title.get(title, ()))

    @property
    def titles(self) -> tuple[str, ...]:
        """Distinct titles, in order of first appearance."""
        return tuple(self._by_title)

    def fingerprint(self) -> str:
        """sha256 (hex) of the chunking settings and every document's id, title and text, in order."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(json.dumps(self.chunking.to_dict(), sort_keys=True).encode())
            for doc in self._documents:
                for part in (doc.id, doc.title, doc.text):
                    data = part.encode("utf-8")
                    h.update(len(data).to_bytes(8, "little"))
                    h.update(data)
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def __repr__(self) -> str:
        return f"Corpus({len(self)} documents, chunking={self.chunking})"


def load_corpus(path: str | Path, *, chunking: ChunkSettings | None = None) -> Corpus:
    """Read a corpus from a folder of ``.txt``/``.md`` files or from a ``.jsonl`` file.

    Raises ``DataError`` (one line, naming the file and, for JSONL, the line number) when the path
    is missing, unreadable, malformed, or holds no documents.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"corpus path {path} does not exist")
    if path.is_dir():
        documents = _read_folder(path)
    elif path.suffix.lower() in JSONL_SUFFIXES:
        documents = _read_jsonl(path)
    else:
        raise DataError(
            f"corpus path {path} is neither a folder of .txt/.md files nor a .jsonl file"
        )
    if not documents:
        raise DataError(f"corpus {path} has no documents")
    try:
        corpus = Corpus(documents, chunking=chunking)
    except DataError as e:
        raise DataError(f"corpus {path}: {e}") from None
    logger.info("loaded %d passages from %d documents in %s", len(corpus), len(documents), path)
    return corpus


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _read_folder(folder: Path) -> list[Document]:
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in TEXT_SUFFIXES
        and not _is_hidden(p.relative_to(folder))
    )
    documents = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{file}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
        except OSError as e:
            raise DataError(f"{file}: cannot read ({e.strerror})") from None
        rel = file.relative_to(folder).as_posix()
        documents.append(Document(id=rel, title=file.stem, text=text.strip()))
    return documents


def _read_jsonl(file: Path) -> list[Document]:
    documents = []
    first_line: dict[str, int] = {}
    try:
        with file.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                doc = _parse_line(line, file, lineno)
                if doc.id in first_line:
                    raise DataError(
                        f"{file}:{lineno}: duplicate id {doc.id!r} (first on line "
                        f"{first_line[doc.id]})"
                    )
                first_line[doc.id] = lineno
                documents.append(doc)
    except UnicodeDecodeError as e:
        raise DataError(f"{file}: not valid UTF-8 ({e.reason})") from None
    except OSError as e:
        raise DataError(f"{file}: cannot read ({e.strerror})") from None
    return documents


def _parse_line(line: str, file: Path, lineno: int) -> Document:
    where = f"{file}:{lineno}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"{where}: {describe_json_error(e)}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key in ("id", "text"):
        if key not in obj:
            raise DataError(f"{where}: missing field {key!r}")
    doc_id, title, text = obj["id"], obj.get("title", ""), obj["text"]
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    for key, value in (("id", doc_id), ("title", title), ("text", text)):
        if not isinstance(value, str):
            raise DataError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    if not doc_id:
        raise DataError(f"{where}: field 'id' is empty")
    return Document(id=doc_id, title=title, text=text)


__all__ = ["ChunkSettings", "Corpus", "chunk_document", "load_corpus"]
