"""How much of one world's question phrasing other worlds share, once entity names are masked.

``masked_forms(world)`` reduces each question and each gold sub-question to its *form*: the text
with every entity name of that world replaced by ``<E>`` and every number (years, populations) by
``<N>`` ("Where was <E> born?", "Which of #1 came out in <N>?"). ``overlap(evaluation, training)``
is the share of an evaluation world's forms that also occur in any training world: counted over
distinct forms and over items (questions, sub-questions), for whole questions and for gold
sub-questions. A share near 1 means the evaluation world asks in the training worlds' words (an
in-template measurement); near 0, in words the training worlds never use (transfer).

Occupations ("a pianist") and kind nouns ("record label") are vocabulary, not names: they stay.
``benchmarks/world_overlap.py`` prints the numbers for standard and held-out evaluation worlds.

Not here: generating worlds (``build``), their phrasing (``text``, ``heldout``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forage.data.world.model import World

_NUMBER = re.compile(r"(?<![#\w])\d+(?:,\d{3})*")  # 1931, 12,300; not the 1 of "#1"


@dataclass(frozen=True)
class Forms:
    """A world's masked forms: one per question, one per gold sub-question."""

    questions: tuple[str, ...]
    subquestions: tuple[str, ...]


@dataclass(frozen=True)
class Overlap:
    """Shares (0..1) of an evaluation world's forms that training worlds also have."""

    questions: float  # distinct whole-question forms
    question_items: float  # questions
    subquestions: float  # distinct sub-question forms
    subquestion_items: float  # sub-questions

    def to_dict(self) -> dict[str, float]:
        return {
            "questions": self.questions, "question_items": self.question_items,
            "subquestions": self.subquestions, "subquestion_items": self.subquestion_items,
        }  # fmt: skip


def name_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """A regex that finds any of ``names`` as a whole phrase (longest first)."""
    ordered = sorted(set(names), key=lambda n: (-len(n), n))
    return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, ordered)) + r")(?![\w-])")


def mask(text: str, names: re.Pattern[str]) -> str:
    """``text`` with every name ``names`` finds replaced by ``<E>`` and every number by ``<N>``."""
    return _NUMBER.sub("<N>", names.sub("<E>", text))


def masked_forms(world: World) -> Forms:
    names = name_pattern(e.name for e in world.entities)
    return Forms(
        questions=tuple(mask(q.text, names) for q in world.questions),
        subquestions=tuple(mask(s, names) for q in world.questions for s, _ in q.decomposition),
    )


def _shares(items: Sequence[str], known: set[str]) -> tuple[float, float]:
    distinct = set(items)
    if not items:
        return 0.0, 0.0
    return (
        sum(f in known for f in distinct) / len(distinct),
        sum(f in known for f in items) / len(items),
    )


def overlap(evaluation: World, training: Sequence[World]) -> Overlap:
    """The share of ``evaluation``'s forms that occur in any of the ``training`` worlds."""
    seen = [masked_forms(w) for w in training]
    forms = masked_forms(evaluation)
    q, qi = _shares(forms.questions, {f for s in seen for f in s.questions})
    s, si = _shares(forms.subquestions, {f for s in seen for f in s.subquestions})
    return Overlap(q, qi, s, si)
