"""Dataset records: how each dataset format's records become a ``Question`` and its paragraphs.

One parser per format, each a pure function from one decoded JSON record to a ``Parsed`` value, and
one ``detect`` predicate per format that recognises a record by its keys. The parsers raise
``MalformedRecord`` with a short reason; the loader (``forage.data.loaders``) adds the file and line,
and decides whether to skip or raise. Not here: reading files, pooling paragraphs into a corpus,
splitting, scoring.

Formats (the names are the keys of ``FORMATS``):

- ``flashrag``: JSONL of ``{id, question, golden_answers, metadata: {type, level, supporting_facts
  {title[], sent_id[]}, context {title[], sentences[][]}}}``; 2WikiMultiHopQA spells ``sentences``
  as ``content``.
- ``hotpotqa``: the official JSON list of ``{_id, question, answer, type, level, supporting_facts
  [[title, sent_id]], context [[title, [sentence]]]}``.
- ``2wiki``: the official 2WikiMultiHopQA JSON list: the HotpotQA shape plus ``evidences``.
- ``musique``: the official JSONL of ``{id, question, answer, answer_aliases, paragraphs [{idx, title,
  paragraph_text, is_supporting}], question_decomposition [{id, question, answer,
  paragraph_support_idx}]}``.
- ``ircot``: the processed JSONL that IRCoT and Adaptive-RAG publish for HotpotQA, 2Wiki, MuSiQue
  and IIRC: ``{question_id, question_text, answers_objects [{number, date {day, month, year},
  spans[]}], contexts [{id or idx, title, paragraph_text, is_supporting}]}``, optionally ``type``,
  ``level`` and ``pinned_contexts`` (same shape as ``contexts``). Gold answers are every span (and
  any non-empty number or date) of every answer object; supporting titles are the contexts marked
  ``is_supporting``. Facts about one file (which lines are dev, which type a line has when the file
  does not say) belong to the dataset registry (``forage.eval.datasets``), not here.
- ``qa``: plain JSONL of ``{question, answers}`` (or ``answer``), ``id`` and ``type`` optional.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from forage.core.types import Question


class MalformedRecord(ValueError):
    """A record that cannot be turned into a question; the message says why."""


@dataclass(frozen=True)
class Paragraph:
    """One context paragraph as a dataset gives it, before pooling."""

    title: str
    text: str


@dataclass(frozen=True)
class Parsed:
    """What one record yields: its question and the paragraphs that came with it."""

    question: Question
    paragraphs: tuple[Paragraph, ...] = ()


@dataclass(frozen=True)
class Format:
    """A dataset format: how to recognise one of its records and how to parse it.

    ``distinct_paragraphs_per_title`` is true where one title can carry several different
    paragraphs (MuSiQue cuts articles into paragraphs); the corpus then keeps each distinct text
    instead of only the first one seen under a title.
    """

    name: str
    detect: Callable[[Mapping[str, Any]], bool]
    parse: Callable[[Mapping[str, Any], int], Parsed]
    distinct_paragraphs_per_title: bool = False


# -- field helpers -------------------------------------------------------------------------------


def _str(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedRecord(f"'{key}' must be a non-empty string")
    return value.strip()


def _id(record: Mapping[str, Any], key: str, line: int) -> str:
    value = record.get(key)
    if value is None:
        return f"line-{line}"
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedRecord(f"'{key}' must be a string or an integer")
    text = str(value).strip()
    if not text:
        raise MalformedRecord(f"'{key}' must not be empty")
    return text


def _str_list(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedRecord(f"{what} must be a list of strings")
    return value


def _answers(values: Sequence[str]) -> tuple[str, ...]:
    """Strip, drop empties and duplicates (keeping order); at least one must remain."""
    seen: dict[str, None] = {}
    for v in values:
        if v.strip():
            seen.setdefault(v.strip(), None)
    if not seen:
        raise MalformedRecord("no gold answer")
    return tuple(seen)


def _optional_str(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedRecord(f"'{key}' must be a string")
    return value.strip() or None


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def join_sentences(sentences: Sequence[str]) -> str:
    """A paragraph's text: its sentences, stripped, joined with single spaces."""
    return " ".join(s.strip() for s in sentences if s.strip())


def _hops_from_titles(titles: Sequence[str]) -> int | None:
    return len(titles) or None


# -- flashrag ------------------------------------------------------------------------------------


def _detect_flashrag(record: Mapping[str, Any]) -> bool:
    return "golden_answers" in record


def _parse_flashrag(record: Mapping[str, Any], line: int) -> Parsed:
    golden = _str_list(record.get("golden_answers"), "'golden_answers'")
    meta = record.get("metadata") or {}
    if not isinstance(meta, dict):
        raise MalformedRecord("'metadata' must be an object")

    supporting: tuple[str, ...] = ()
    facts: list[tuple[str, int]] = []
    sf = meta.get("supporting_facts")
    if sf is not None:
        if not isinstance(sf, dict):
            raise MalformedRecord("'metadata.supporting_facts' must be an object")
        titles = _str_list(sf.get("title", []), "'metadata.supporting_facts.title'")
        sent_ids = sf.get("sent_id", [])
        if not isinstance(sent_ids, list) or len(sent_ids) != len(titles):
            raise MalformedRecord("'metadata.supporting_facts' title and sent_id differ in length")
        supporting = _unique(titles)
        facts = [(t, s) for t, s in zip(titles, sent_ids, strict=True)]

    paragraphs: list[Paragraph] = []
    sentences_by_title: dict[str, list[str]] = {}
    ctx = meta.get("context")
    if ctx is not None:
        if not isinstance(ctx, dict):
            raise MalformedRecord("'metadata.context' must be an object")
        titles = _str_list(ctx.get("title", []), "'metadata.context.title'")
        key = "sentences" if "sentences" in ctx else "content"
        bodies = ctx.get(key, [])
        if not isinstance(bodies, list) or len(bodies) != len(titles):
            raise MalformedRecord(f"'metadata.context' title and {key} differ in length")
        for title, sentences in zip(titles, bodies, strict=True):
            sentences = _str_list(sentences, f"'metadata.context.{key}' items")
            sentences_by_title.setdefault(title, sentences)
            paragraphs.append(Paragraph(title, join_sentences(sentences)))

    metadata: dict[str, object] = {"context_titles": tuple(p.title for p in paragraphs)}
    if meta.get("level") is not None:
        metadata["level"] = meta["level"]
    if facts:
        metadata["supporting_facts"] = tuple(facts)
        evidence = [
            sentences_by_title[t][i]
            for t, i in facts
            if isinstance(i, int) and 0 <= i < len(sentences_by_title.get(t, ()))
        ]
        if len(evidence) == len(facts):
            metadata["evidence"] = tuple(evidence)
    sub_questions, sub_answers = _decomposition(meta.get("decomposition"))
    if sub_answers:
        metadata["decomposition_answers"] = sub_answers
    hops = meta.get("hops")
    question = Question(
        id=_id(record, "id", line),
        text=_str(record, "question"),
        answers=_answers(golden),
        type=_optional_str(meta, "type"),
        hops=hops if isinstance(hops, int) and hops > 0 else (
            len(sub_questions) or _hops_from_titles(supporting)
        ),
        supporting_titles=supporting,
        decomposition=sub_questions,
        metadata=metadata,
    )
    return Parsed(question, tuple(paragraphs))


def _decomposition(value: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Sub-questions and sub-answers of a ``metadata.decomposition`` list of {question, answer}."""
    if value is None:
        return (), ()
    if not isinstance(value, list) or not all(
        isinstance(s, dict) and isinstance(s.get("question"), str) for s in value
    ):
        raise MalformedRecord("'metadata.decomposition' must be a list of {question, answer}")
    return (
        tuple(s["question"] for s in value),
        tuple(str(s.get("answer", "")) for s in value),
    )


# -- official HotpotQA and 2WikiMultiHopQA (same shape) -------------------------------------------

_TWOWIKI_TYPES = frozenset({"compositional", "inference", "bridge_comparison"})


def _detect_hotpot_shape(record: Mapping[str, Any]) -> bool:
    return "_id" in record and "context" in record and "supporting_facts" in record


def _detect_2wiki(record: Mapping[str, Any]) -> bool:
    return _detect_hotpot_shape(record) and (
        "evidences" in record or record.get("type") in _TWOWIKI_TYPES
    )


def _detect_hotpotqa(record: Mapping[str, Any]) -> bool:
    return _detect_hotpot_shape(record) and not _detect_2wiki(record)


def _parse_hotpot_shape(record: Mapping[str, Any], line: int, extra_keys: Sequence[str]) -> Parsed:
    sf = record.get("supporting_facts", [])
    if not isinstance(sf, list):
        raise MalformedRecord("'supporting_facts' must be a list of [title, sent_id]")
    facts: list[tuple[str, int]] = []
    for fact in sf:
        if not (
            isinstance(fact, list)
            and len(fact) == 2
            and isinstance(fact[0], str)
            and isinstance(fact[1], int)
        ):
            raise MalformedRecord("'supporting_facts' items must be [title, sent_id]")
        facts.append((fact[0], fact[1]))
    supporting = _unique([t for t, _ in facts])

    ctx = record.get("context", [])
    if not isinstance(ctx, list):
        raise MalformedRecord("'context' must be a list of [title, [sentence]]")
    paragraphs: list[Paragraph] = []
    for item in ctx:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise MalformedRecord("'context' items must be [title, [sentence]]")
        sentences = _str_list(item[1], "'context' sentences")
        paragraphs.append(Paragraph(item[0], join_sentences(sentences)))

    metadata: dict[str, object] = {"context_titles": tuple(p.title for p in paragraphs)}
    if facts:
        metadata["supporting_facts"] = tuple(facts)
    for key in extra_keys:
        if record.get(key) is not None:
            metadata[key] = record[key]
    question = Question(
        id=_id(record, "_id", line),
        text=_str(record, "question"),
        answers=_answers([_str(record, "answer")]),
        type=_optional_str(record, "type"),
        hops=_hops_from_titles(supporting),
        supporting_titles=supporting,
        metadata=metadata,
    )
    return Parsed(question, tuple(paragraphs))


def _parse_hotpotqa(record: Mapping[str, Any], line: int) -> Parsed:
    return _parse_hotpot_shape(record, line, ("level",))


def _parse_2wiki(record: Mapping[str, Any], line: int) -> Parsed:
    return _parse_hotpot_shape(record, line, ("evidences",))


# -- official MuSiQue ----------------------------------------------------------------------------


_MUSIQUE_TYPE = re.compile(r"\d+hop\d*")  # 2hop, 3hop1, 3hop2, 4hop1, 4hop2, 4hop3


def _detect_musique(record: Mapping[str, Any]) -> bool:
    return "paragraphs" in record or "question_decomposition" in record


def _parse_musique(record: Mapping[str, Any], line: int) -> Parsed:
    qid = _id(record, "id", line)
    aliases = _str_list(record.get("answer_aliases", []), "'answer_aliases'")

    raw_paragraphs = record.get("paragraphs", [])
    if not isinstance(raw_paragraphs, list):
        raise MalformedRecord("'paragraphs' must be a list")
    paragraphs: list[Paragraph] = []
    by_idx: dict[int, str] = {}
    supporting: list[str] = []
    for p in raw_paragraphs:
        if not isinstance(p, dict):
            raise MalformedRecord("'paragraphs' items must be objects")
        title, text = _str(p, "title"), _str(p, "paragraph_text")
        paragraphs.append(Paragraph(title, " ".join(text.split())))
        if isinstance(p.get("idx"), int):
            by_idx[p["idx"]] = title
        if p.get("is_supporting") is True:
            supporting.append(title)

    steps = record.get("question_decomposition", [])
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise MalformedRecord("'question_decomposition' must be a list of objects")
    sub_questions = tuple(_str(s, "question") for s in steps)
    for s in steps:  # a step's supporting paragraph is gold even if is_supporting was left out
        if isinstance(s.get("paragraph_support_idx"), int) and s["paragraph_support_idx"] in by_idx:
            supporting.append(by_idx[s["paragraph_support_idx"]])

    metadata: dict[str, object] = {"context_titles": tuple(p.title for p in paragraphs)}
    if steps:
        metadata["decomposition_answers"] = tuple(str(s.get("answer", "")) for s in steps)
    if record.get("answerable") is not None:
        metadata["answerable"] = record["answerable"]
    prefix = qid.split("__", 1)[0]
    question = Question(
        id=qid,
        text=_str(record, "question"),
        answers=_answers([_str(record, "answer"), *aliases]),
        type=prefix if _MUSIQUE_TYPE.fullmatch(prefix) else None,
        hops=len(sub_questions) or None,
        supporting_titles=_unique(supporting),
        decomposition=sub_questions,
        metadata=metadata,
    )
    return Parsed(question, tuple(paragraphs))


# -- IRCoT / Adaptive-RAG processed JSONL --------------------------------------------------------


def _detect_ircot(record: Mapping[str, Any]) -> bool:
    return "question_text" in record and ("answers_objects" in record or "contexts" in record)


def _ircot_answers(value: object) -> list[str]:
    """Every span, number and date of a list of DROP-style answer objects."""
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        raise MalformedRecord("'answers_objects' must be a list of objects")
    golden: list[str] = []
    for obj in value:
        golden.extend(_str_list(obj.get("spans", []), "'answers_objects' spans"))
        number = obj.get("number")
        if number not in (None, ""):
            if not isinstance(number, str | int | float) or isinstance(number, bool):
                raise MalformedRecord("'answers_objects' number must be a string or a number")
            golden.append(str(number))
        date = obj.get("date")
        if date not in (None, ""):
            if not isinstance(date, dict):
                raise MalformedRecord("'answers_objects' date must be an object")
            parts = [str(date.get(k, "")).strip() for k in ("day", "month", "year")]
            golden.append(" ".join(p for p in parts if p))
    return golden


def _ircot_contexts(record: Mapping[str, Any], key: str) -> tuple[list[Paragraph], list[str]]:
    """The paragraphs under ``key`` and the titles of those marked ``is_supporting``."""
    raw = record.get(key, [])
    if not isinstance(raw, list):
        raise MalformedRecord(f"'{key}' must be a list")
    paragraphs: list[Paragraph] = []
    supporting: list[str] = []
    for item in raw:
        if not isinstance(item, dict):
            raise MalformedRecord(f"'{key}' items must be objects")
        title, text = _str(item, "title"), _str(item, "paragraph_text")
        flag = item.get("is_supporting", False)
        if not isinstance(flag, bool):
            raise MalformedRecord(f"'{key}' is_supporting must be true or false")
        paragraphs.append(Paragraph(title, " ".join(text.split())))
        if flag:
            supporting.append(title)
    return paragraphs, supporting


def _parse_ircot(record: Mapping[str, Any], line: int) -> Parsed:
    if "answers_objects" not in record:
        raise MalformedRecord("'answers_objects' is missing")
    golden = _ircot_answers(record["answers_objects"])
    pinned, pinned_supporting = _ircot_contexts(record, "pinned_contexts")
    paragraphs, supporting = _ircot_contexts(record, "contexts")
    paragraphs = pinned + paragraphs
    titles = _unique(pinned_supporting + supporting)
    metadata: dict[str, object] = {"context_titles": tuple(p.title for p in paragraphs)}
    if record.get("level") is not None:
        metadata["level"] = record["level"]
    question = Question(
        id=_id(record, "question_id", line),
        text=_str(record, "question_text"),
        answers=_answers(golden),
        type=_optional_str(record, "type"),
        hops=_hops_from_titles(titles),
        supporting_titles=titles,
        metadata=metadata,
    )
    return Parsed(question, tuple(paragraphs))


# -- plain question/answer JSONL -----------------------------------------------------------------


def _detect_qa(record: Mapping[str, Any]) -> bool:
    return "question" in record and ("answers" in record or "answer" in record)


def _parse_qa(record: Mapping[str, Any], line: int) -> Parsed:
    if "answers" in record:
        value = record["answers"]
        golden = [value] if isinstance(value, str) else _str_list(value, "'answers'")
    else:
        golden = [_str(record, "answer")]
    question = Question(
        id=_id(record, "id", line),
        text=_str(record, "question"),
        answers=_answers(golden),
        type=_optional_str(record, "type"),
    )
    return Parsed(question)


# Detection tries these in order: the more specific shapes first, plain ``qa`` last.
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("flashrag", _detect_flashrag, _parse_flashrag),
        Format("ircot", _detect_ircot, _parse_ircot, distinct_paragraphs_per_title=True),
        Format("musique", _detect_musique, _parse_musique, distinct_paragraphs_per_title=True),
        Format("2wiki", _detect_2wiki, _parse_2wiki),
        Format("hotpotqa", _detect_hotpotqa, _parse_hotpotqa),
        Format("qa", _detect_qa, _parse_qa),
    )
}


def detect_format(record: Mapping[str, Any]) -> Format | None:
    """The first format whose ``detect`` accepts ``record``, or None."""
    return next((f for f in FORMATS.values() if f.detect(record)), None)
