"""Load a question-answering dataset file into questions plus the pooled corpus.

``load(path)`` reads a JSON list or a JSONL file, tells its format from the first record (or takes
``format=``), parses every record with ``forage.data.records``, and pools every question's context
paragraphs into one corpus of ``Document``s, de-duplicated by title, with ids that are slugs of the
titles. A malformed record is logged with its file and line and skipped, or, with ``strict=True``,
raised as ``DataError``. ``split`` cuts the dev/test split the shared data files use.

Not here: the per-format parsing (``forage.data.records``), scoring (``forage.data.scoring``),
searching the corpus (``forage.search``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forage.core.errors import DataError, describe_json_error
from forage.core.types import Document, Question
from forage.data.records import FORMATS, Format, MalformedRecord, Paragraph, detect_format

logger = logging.getLogger(__name__)

DEV_SIZE = 50


@dataclass(frozen=True)
class Skipped:
    """A record that was left out, and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class Dataset:
    """The questions of one file and the corpus pooled from all their context paragraphs."""

    path: Path
    format: str
    questions: tuple[Question, ...]
    corpus: tuple[Document, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def name(self) -> str:
        return self.path.stem

    def __len__(self) -> int:
        return len(self.questions)


def load(
    path: str | Path,
    *,
    format: str | None = None,
    strict: bool = False,
    limit: int | None = None,
) -> Dataset:
    """Read ``path`` into a ``Dataset``.

    ``format`` is one of ``FORMATS`` (auto-detected when None). ``limit`` keeps only the first
    ``limit`` questions, and the corpus is pooled from those questions alone. Raises ``DataError``
    for a missing or unreadable file, an unknown format, no questions, or (with ``strict``) the
    first malformed record.
    """
    path = Path(path)
    if limit is not None and limit < 1:
        raise DataError(f"limit must be at least 1, not {limit}")
    fmt = _format_named(format) if format is not None else None
    text = _read(path)

    parsed_questions: list[Question] = []
    paragraphs: list[Paragraph] = []
    skipped: list[Skipped] = []
    seen_ids: set[str] = set()

    def reject(line: int, reason: str) -> None:
        if strict:
            raise DataError(f"{path}:{line}: {reason}")
        logger.warning("%s:%d: skipped: %s", path, line, reason)
        skipped.append(Skipped(line, reason))

    for line, record in _records(path, text):
        if limit is not None and len(parsed_questions) >= limit:
            break
        if isinstance(record, _BadJson):
            reject(line, record.reason)
            continue
        if not isinstance(record, dict):
            reject(line, f"expected a JSON object, got {type(record).__name__}")
            continue
        if fmt is None:
            fmt = detect_format(record)
            if fmt is None:
                keys = ", ".join(sorted(record)[:8]) or "none"
                raise DataError(
                    f"{path}:{line}: cannot tell the dataset format from this record "
                    f"(keys: {keys}); pass a format, one of: {', '.join(FORMATS)}"
                )
            logger.info("%s: reading as %s", path, fmt.name)
        try:
            parsed = fmt.parse(record, line)
        except MalformedRecord as e:
            reject(line, f"not a valid {fmt.name} record: {e}")
            continue
        if parsed.question.id in seen_ids:
            reject(line, f"duplicate question id {parsed.question.id!r}")
            continue
        seen_ids.add(parsed.question.id)
        parsed_questions.append(parsed.question)
        paragraphs.extend(parsed.paragraphs)

    if not parsed_questions:
        why = f" ({len(skipped)} malformed records skipped)" if skipped else ""
        raise DataError(f"{path}: no questions{why}")
    assert fmt is not None  # set by the first parsed record
    corpus = pool_corpus(paragraphs, distinct_texts=fmt.distinct_paragraphs_per_title)
    logger.info(
        "%s: %d questions, %d documents, %d skipped",
        path,
        len(parsed_questions),
        len(corpus),
        len(skipped),
    )
    return Dataset(path, fmt.name, tuple(parsed_questions), corpus, tuple(skipped))


def split(
    questions: Sequence[Question], dev: int = DEV_SIZE
) -> tuple[tuple[Question, ...], tuple[Question, ...]]:
    """The first ``dev`` questions (for exemplars and tuning) and the rest (the test split)."""
    if dev < 0:
        raise DataError(f"dev size must not be negative, not {dev}")
    return tuple(questions[:dev]), tuple(questions[dev:])


def slugify(title: str) -> str:
    """A readable, stable id for a title: lowercase words joined by '-', unicode letters kept."""
    slug = re.sub(r"[\W_]+", "-", title.casefold()).strip("-")
    return slug or "doc-" + _short_hash(title)


def pool_corpus(
    paragraphs: Sequence[Paragraph], *, distinct_texts: bool = False
) -> tuple[Document, ...]:
    """One ``Document`` per title (the first text seen wins), in order of first appearance.

    With ``distinct_texts`` a title keeps every different text it comes with (ids ``slug``,
    ``slug-2``, ...). Ids are unique: a title whose slug is taken by a different, earlier title
    gets the slug plus a short hash of the title.
    """
    documents: list[Document] = []
    texts_by_title: dict[str, list[str]] = {}
    base_by_title: dict[str, str] = {}
    used: set[str] = set()
    for p in paragraphs:
        texts = texts_by_title.setdefault(p.title, [])
        if texts and (not distinct_texts or p.text in texts):
            continue
        base = base_by_title.get(p.title)
        if base is None:
            base = slugify(p.title)
            if base in used:
                base = f"{base}-{_short_hash(p.title)}"
            base_by_title[p.title] = base
        doc_id = base if not texts else f"{base}-{len(texts) + 1}"
        texts.append(p.text)
        used.add(doc_id)
        documents.append(Document(id=doc_id, title=p.title, text=p.text))
    return tuple(documents)


# -- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _BadJson:
    reason: str


def _format_named(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise DataError(
            f"unknown dataset format {name!r}; known: {', '.join(FORMATS)}"
        ) from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a dataset file") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None


def _records(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """(line, record) pairs: the elements of a JSON list, or the lines of a JSONL file."""
    if text.lstrip().startswith("["):
        return _json_list_records(path, text)
    return _jsonl_records(text)


def _jsonl_records(text: str) -> Iterator[tuple[int, Any]]:
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line)
        except json.JSONDecodeError as e:
            yield line_no, _BadJson(describe_json_error(e))


_WS = re.compile(r"\s*")


def _json_list_records(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """Decode a JSON list element by element, so each record knows the line it starts on.

    A syntax error leaves the rest of the list unreadable, so it is raised, not skipped.
    """
    decoder = json.JSONDecoder()
    pos = _WS.match(text, text.index("[") + 1).end()  # type: ignore[union-attr]
    line, counted = 1, 0
    if text.startswith("]", pos):
        return
    while True:
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: {describe_json_error(e)}") from None
        yield line, record
        pos = _WS.match(text, end).end()  # type: ignore[union-attr]
        if text.startswith(",", pos):
            pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
        elif text.startswith("]", pos):
            return
        else:
            lineno = text.count("\n", 0, pos) + 1
            raise DataError(f"{path}:{lineno}: invalid JSON (expected ',' or ']' in the list)")


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
