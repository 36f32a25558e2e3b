"""Few-shot material taken from a dev split, never from the questions being scored.

A ``DevExample`` is a dev question with its answer, the supporting sentences (``evidence``) and,
when the dataset has one, its gold decomposition as ``DevStep``s (sub-question, sub-answer,
evidence sentence, title). Every strategy renders its own few-shot format from these: a reader
exemplar (passage, question, answer), a ReAct trajectory, a Self-Ask chain, a plan.

``ExemplarSet.from_dev(questions)`` picks them deterministically (by seed) from dev questions;
``ExemplarSet.generic()`` holds hand-written examples about invented things, for ``forage ask``.

Not here: rendering any strategy's prompt.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from forage.core.types import Question
from forage.prompts.reader import GENERIC_READER_EXEMPLARS, Exemplar
from forage.prompts.spec import titled


@dataclass(frozen=True)
class DevStep:
    question: str
    answer: str
    evidence: str = ""
    title: str = ""


@dataclass(frozen=True)
class DevExample:
    question: str
    answer: str
    evidence: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    steps: tuple[DevStep, ...] = ()

    @property
    def passage(self) -> str:
        return " ".join(self.evidence)

    def resolved_steps(self) -> tuple[DevStep, ...]:
        """Steps with ``#k`` placeholders replaced by the answers of earlier steps."""
        answers: list[str] = []
        out = []
        for s in self.steps:
            out.append(DevStep(resolve_placeholders(s.question, answers), s.answer, s.evidence, s.title))
            answers.append(s.answer)
        return tuple(out)


_PLACEHOLDER = re.compile(r"#(\d+)")


def resolve_placeholders(text: str, answers: Sequence[str]) -> str:
    """Replace ``#k`` (1-based) by ``answers[k-1]``; unknown references are left as they are."""

    def sub(m: re.Match[str]) -> str:
        i = int(m.group(1)) - 1
        return answers[i] if 0 <= i < len(answers) else m.group(0)

    return _PLACEHOLDER.sub(sub, text)


def dev_example(q: Question) -> DevExample | None:
    """A ``DevExample`` from a loaded question (needs an answer and supporting evidence)."""
    if not q.answers:
        return None
    evidence = tuple(str(s) for s in q.metadata.get("evidence", ()) or ())  # type: ignore[union-attr]
    facts = q.metadata.get("supporting_facts", ()) or ()
    titles = tuple(str(t) for t, _ in facts) if facts else q.supporting_titles  # type: ignore[misc]
    answers = tuple(str(a) for a in q.metadata.get("decomposition_answers", ()) or ())  # type: ignore[union-attr]
    steps: tuple[DevStep, ...] = ()
    if q.decomposition and len(answers) == len(q.decomposition):
        hop_evidence = list(evidence) if len(evidence) == len(q.decomposition) else [""] * len(answers)
        hop_titles = list(titles) if len(titles) == len(q.decomposition) else [""] * len(answers)
        steps = tuple(
            DevStep(sq, sa, ev, t)
            for sq, sa, ev, t in zip(q.decomposition, answers, hop_evidence, hop_titles, strict=True)
        )
    return DevExample(q.text, q.answers[0], evidence, titles, steps)


@dataclass(frozen=True)
class ExemplarSet:
    """Few-shot material for every strategy's prompts."""

    reader: tuple[Exemplar, ...]
    multi_hop: tuple[DevExample, ...]

    @classmethod
    def from_dev(
        cls, questions: Sequence[Question], *, n_reader: int = 2, n_multi: int = 2, seed: int = 0
    ) -> ExemplarSet:
        """Pick exemplars from dev ``questions``: single-fact reader exemplars (one evidence
        sentence each, from a hop or a one-hop question) and multi-hop examples with steps."""
        rng = random.Random(seed)
        examples = [e for e in (dev_example(q) for q in questions) if e is not None]
        singles: list[Exemplar] = []
        for e in examples:
            for s in e.steps:
                if s.evidence and "#" not in s.question and len(s.answer.split()) <= 6:
                    singles.append(Exemplar(titled(s.title, s.evidence), s.question, s.answer))
            if not e.steps and e.answer.lower() not in ("yes", "no"):
                # No decomposition: a supporting sentence that states the answer still shows
                # how to read one passage for one question.
                for title, sentence in zip(e.titles, e.evidence, strict=False):
                    if e.answer.lower() in sentence.lower() and len(sentence.split()) <= 60:
                        passage = titled(title, sentence.strip())
                        singles.append(Exemplar(passage, e.question, e.answer))
                        break
        multi = [e for e in examples if len(e.steps) >= 2 and all(s.evidence for s in e.steps)]
        if not multi:  # datasets without decompositions: evidence-only examples
            multi = [e for e in examples if len(e.evidence) >= 2]
        rng.shuffle(singles)
        rng.shuffle(multi)
        reader = tuple(singles[:n_reader]) or GENERIC_READER_EXEMPLARS
        return cls(reader=reader, multi_hop=_diverse(multi, n_multi))

    @classmethod
    def generic(cls) -> ExemplarSet:
        return cls(reader=GENERIC_READER_EXEMPLARS, multi_hop=GENERIC_MULTI_HOP)


def _diverse(examples: Sequence[DevExample], n: int) -> tuple[DevExample, ...]:
    """Up to ``n`` examples, alternating between step counts so no single shape dominates (a tiny
    model copies the exemplars' step count), shortest first."""
    by_len: dict[int, list[DevExample]] = {}
    for e in examples:
        by_len.setdefault(len(e.steps) or len(e.evidence), []).append(e)
    picked: list[DevExample] = []
    while len(picked) < n and any(by_len.values()):
        for key in sorted(by_len):
            if by_len[key] and len(picked) < n:
                picked.append(by_len[key].pop(0))
    return tuple(picked)


GENERIC_MULTI_HOP: tuple[DevExample, ...] = (
    DevExample(
        question="In which town was the founder of the Lantern Society born?",
        answer="Harrowgate",
        evidence=(
            "The Lantern Society is a reading club founded in 1956 by the schoolteacher Ada Prell.",
            "Ada Prell was born in Harrowgate in 1921.",
        ),
        titles=("The Lantern Society", "Ada Prell"),
        steps=(
            DevStep(
                "Who founded the Lantern Society?",
                "Ada Prell",
                "The Lantern Society is a reading club founded in 1956 by the schoolteacher Ada Prell.",
                "The Lantern Society",
            ),
            DevStep(
                "In which town was #1 born?",
                "Harrowgate",
                "Ada Prell was born in Harrowgate in 1921.",
                "Ada Prell",
            ),
        ),
    ),
    DevExample(
        question="Who built the pier of the harbour where the ferry Morning Gull is moored?",
        answer="Eliel Strand",
        evidence=(
            "The ferry Morning Gull is moored at Quorra Bay.",
            "The stone pier of Quorra Bay was built in 1821 by the mason Eliel Strand.",
        ),
        titles=("Morning Gull", "Quorra Bay"),
        steps=(
            DevStep(
                "Where is the ferry Morning Gull moored?",
                "Quorra Bay",
                "The ferry Morning Gull is moored at Quorra Bay.",
                "Morning Gull",
            ),
            DevStep(
                "Who built the pier of #1?",
                "Eliel Strand",
                "The stone pier of Quorra Bay was built in 1821 by the mason Eliel Strand.",
                "Quorra Bay",
            ),
        ),
    ),
)
