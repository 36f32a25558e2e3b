"""Gold facts for training, read from each source into one shape: ``Gold`` with its ``Hop``s.

A ``Gold`` record is a question, its answer, the passages it rests on and, where the source has
one, its decomposition: each ``Hop`` is a sub-question (with ``#k`` references to earlier answers,
as the planner writes them), its answer, the supporting passage (title and full text, as a search
returns it) and the one sentence that states the fact (what few-shot exemplars quote). Planning-
only sources (Break, StrategyQA) have ``plan`` steps but no passages.

Sources:

- ``world_records(settings)``: a generated world (``forage.data.world``), both splits. It refuses
  what ``forage.train.guard.check_train_world`` refuses: evaluation seeds and held-out templates.
- ``musique_records(path)``: MuSiQue train (official JSON): steps, their supporting paragraphs.
  Steps written as knowledge-base triples (``X >> relation``) are no questions and are dropped.
- ``hotpotqa_records(path)``: HotpotQA train (official JSON): no decomposition; the supporting
  sentences and gold paragraphs.
- ``break_records(path)``: Break QDMR (CSV): ``return ...`` steps rewritten as plain requests.
- ``strategyqa_records(path)``: StrategyQA train (JSON): yes/no questions and their decompositions.

``to_dev_example`` turns a record into the ``DevExample`` the strategies' exemplar code reads.

Not here: rendering prompts (``forage.train.examples``), choosing and mixing (``mixture``),
deciding what may not be trained on (``guard``).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from forage.core.errors import DataError
from forage.data.records import join_sentences
from forage.data.world import WorldSettings, generate_world
from forage.prompts.exemplars import DevExample, DevStep
from forage.train.guard import check_train_world


@dataclass(frozen=True)
class Passage:
    title: str
    text: str


@dataclass(frozen=True)
class Hop:
    question: str  # may refer to earlier answers as #k
    answer: str
    passage: Passage | None = None  # the supporting passage, in full
    sentence: str = ""  # the sentence of ``passage`` that states the fact


@dataclass(frozen=True)
class Gold:
    """One question with everything known about how to answer it."""

    source: str
    id: str
    question: str
    answer: str
    hops: tuple[Hop, ...] = ()  # a decomposition whose steps have answers
    plan: tuple[str, ...] = ()  # a decomposition without answers (planning sources)
    passages: tuple[Passage, ...] = ()  # the gold passages (all hops', or the supporting ones)
    distractors: tuple[Passage, ...] = ()  # non-supporting passages of the same question
    evidence: tuple[tuple[str, str], ...] = ()  # (title, supporting sentence), when no hops

    @property
    def steps(self) -> tuple[str, ...]:
        """The decomposition as the planner writes it."""
        return tuple(h.question for h in self.hops) or self.plan

    def readable_hops(self) -> bool:
        """Every hop has a passage and a sentence that states its answer."""
        return bool(self.hops) and all(h.passage is not None and h.sentence for h in self.hops)


def to_dev_example(g: Gold) -> DevExample:
    """The record as the ``DevExample`` that exemplar code reads (steps only when readable)."""
    if g.readable_hops():
        steps = tuple(DevStep(h.question, h.answer, h.sentence, h.passage.title)  # type: ignore[union-attr]
                      for h in g.hops)
        return DevExample(g.question, g.answer, tuple(h.sentence for h in g.hops),
                          tuple(h.passage.title for h in g.hops), steps)  # type: ignore[union-attr]
    return DevExample(g.question, g.answer, tuple(s for _, s in g.evidence),
                      tuple(t for t, _ in g.evidence))


# -- sentences -------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<!\b[A-Z]\.)(?<=[.!?])\s+(?=[A-Z0-9\"'(])")  # not after an initial


def sentences_of(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def stating_sentence(text: str, answer: str, *, max_words: int = 60) -> str:
    """The first sentence of ``text`` that contains ``answer`` (any case), or ``""``."""
    needle = answer.lower().strip()
    if not needle:
        return ""
    for s in sentences_of(text):
        if needle in s.lower() and len(s.split()) <= max_words:
            return s
    return ""


# -- generated worlds ------------------------------------------------------------------------------


def world_records(settings: WorldSettings) -> list[Gold]:
    """Every question of the world ``settings`` generates, with its hops' documents;
    ``ConfigError`` for a world no model may train on (``guard.check_train_world``)."""
    check_train_world(settings)
    world = generate_world(settings)
    docs = world.documents
    out: list[Gold] = []
    for q in world.questions:
        passages = tuple(dict.fromkeys(Passage(docs[e].title, docs[e].document.text)
                                       for e, _ in q.support))
        hops: tuple[Hop, ...] = ()
        if len(q.support) == len(q.decomposition):  # one supporting sentence per step
            hops = tuple(
                Hop(sq, sa, Passage(docs[e].title, docs[e].document.text), docs[e].sentences[i])
                for (sq, sa), (e, i) in zip(q.decomposition, q.support, strict=True)
            )
        else:  # an intersection: its steps have list answers spread over many documents
            hops = tuple(Hop(sq, sa) for sq, sa in q.decomposition)
        support = {e for e, _ in q.support}
        distractors = tuple(Passage(docs[e].title, docs[e].document.text)
                            for e in q.context if e not in support)
        evidence = tuple((docs[e].title, docs[e].sentences[i]) for e, i in q.support)
        out.append(Gold(f"world{settings.seed}", q.id, q.text, q.answer, hops,
                        passages=passages, distractors=distractors, evidence=evidence))
    return out


# -- MuSiQue ---------------------------------------------------------------------------------------


def _json_records(path: Path) -> list[dict]:  # type: ignore[type-arg]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}") from e
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: neither JSON nor JSONL: {e}") from e
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{path}: expected a list of objects")
    return data


def musique_records(path: str | Path) -> list[Gold]:
    out: list[Gold] = []
    for r in _json_records(Path(path)):
        paras = {p["idx"]: Passage(p["title"], " ".join(p["paragraph_text"].split()))
                 for p in r.get("paragraphs", [])}
        hops: list[Hop] = []
        for s in r.get("question_decomposition", []):
            q, a = " ".join(str(s["question"]).split()), str(s["answer"])
            if ">>" in q:  # a knowledge-base triple, not a question: the record is unusable
                hops = []
                break
            p = paras.get(s.get("paragraph_support_idx"))
            hops.append(Hop(q.replace(" ?", "?"), a, p, stating_sentence(p.text, a) if p else ""))
        gold = tuple(dict.fromkeys(h.passage for h in hops if h.passage))
        supporting = {p.title for p in gold}
        distractors = tuple(p for p in paras.values() if p.title not in supporting)
        if hops:
            out.append(Gold("musique", str(r["id"]), str(r["question"]), str(r["answer"]),
                            tuple(hops), passages=gold, distractors=distractors))
    return out


# -- HotpotQA --------------------------------------------------------------------------------------


def hotpotqa_records(path: str | Path) -> list[Gold]:
    out: list[Gold] = []
    for r in _json_records(Path(path)):
        context = {t: list(s) for t, s in r["context"]}
        evidence = tuple((t, context[t][i].strip()) for t, i in r["supporting_facts"]
                         if t in context and 0 <= i < len(context[t]))
        titles = list(dict.fromkeys(t for t, _ in evidence))
        gold = tuple(Passage(t, join_sentences(context[t])) for t in titles)
        distractors = tuple(Passage(t, join_sentences(s)) for t, s in context.items()
                            if t not in titles)
        out.append(Gold("hotpotqa", str(r["_id"]), str(r["question"]), str(r["answer"]),
                        passages=gold, distractors=distractors, evidence=evidence))
    return out


# -- Break QDMR and StrategyQA (planning only) ---------------------------------------------------

_FILTER = re.compile(r"^#(\d+) (?:that|which|where|who|whose|with|in which) (.+)$", re.IGNORECASE)


_WH = frozenset({"what", "which", "who", "whom", "when", "where", "why", "how"})


def qdmr_step(step: str) -> str:
    """A QDMR ``return ...`` step as a plain request: ``#1 that ...`` -> ``Which of #1 ...?``,
    ``if ...`` -> ``Is it true that ...?``, ``number of ...`` -> ``How many ...?``, anything else
    ``What is ...?``."""
    s = " ".join(step.strip().removeprefix("return").split()).rstrip(" ?.")
    if m := _FILTER.match(s):
        return f"Which of #{m.group(1)} {m.group(2)}?"
    if s.lower().startswith("if "):
        return f"Is it true that {s[3:]}?"
    if s.lower().startswith("number of "):
        return f"How many {s[10:]}?"
    if s.split(" ", 1)[0].lower() in _WH:
        return s[:1].upper() + s[1:] + "?"
    return f"What is {s}?"


def break_records(path: str | Path) -> list[Gold]:
    out: list[Gold] = []
    try:
        with Path(path).open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}") from e
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: not a UTF-8 CSV file ({e})") from None
    for r in rows:
        if not isinstance(r.get("decomposition"), str) or "question_id" not in r:
            raise DataError(f"{path}: not a Break QDMR file (columns question_id, "
                            "question_text, decomposition)")
        steps = tuple(qdmr_step(s) for s in r["decomposition"].split(";") if s.strip())
        if 2 <= len(steps) <= 6:
            out.append(Gold("break", r["question_id"], " ".join(r["question_text"].split()), "",
                            plan=steps))
    return out


def strategyqa_records(path: str | Path) -> list[Gold]:
    out: list[Gold] = []
    for r in _json_records(Path(path)):
        steps = tuple(" ".join(s.split()) for s in r.get("decomposition", []))
        if 1 <= len(steps) <= 6:
            answer = "yes" if r.get("answer") else "no"
            out.append(Gold("strategyqa", str(r["qid"]), str(r["question"]), answer, plan=steps))
    return out


def records_in(folder: str | Path) -> Iterator[Gold]:
    """Every record of the shared training files in ``folder`` (``../shared/data/train``)."""
    folder = Path(folder)
    readers = {
        "musique_train_100.json": musique_records,
        "hotpotqa_train_100.json": hotpotqa_records,
        "break_qdmr_high_cwq_drop.csv": break_records,
        "strategyqa_train.json": strategyqa_records,
    }
    found = False
    for name, read in readers.items():
        if (folder / name).is_file():
            found = True
            try:
                records = read(folder / name)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
                raise DataError(f"{folder / name}: a record lacks what this file's format has "
                                f"({type(e).__name__}: {e})") from None
            yield from records
    if not found:
        raise DataError(f"{folder}: none of the training files {', '.join(readers)}")
