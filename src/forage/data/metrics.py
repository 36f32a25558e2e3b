"""Answer metrics: exact match, token F1 and accuracy against a question's gold answers.

Answers are compared after the standard SQuAD normalisation (lowercase, punctuation removed, the
articles a/an/the removed, whitespace collapsed), taking the best score over all gold aliases.
A yes/no question (a gold answer that normalises to "yes" or "no") is scored as accuracy: a
prediction whose first word is "yes" or "no" counts as that word, and em = f1 = acc = 1 when it
matches the gold answer, else 0. For other questions ``acc`` is *cover match*: the normalised gold
answer appears in the normalised prediction as a whole-word span (FlashRAG's "acc").

Not here: aggregating scores over a run, confidence intervals (``forage.eval``), retrieval recall
(``forage.eval.recall``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from forage.core.errors import DataError
from forage.core.text import normalize_answer
from forage.core.types import Question

YES_NO = frozenset({"yes", "no"})



@dataclass(frozen=True)
class Score:
    """The scores of one prediction, each in [0, 1]."""

    em: float
    f1: float
    acc: float


def _f1_tokens(prediction: list[str], gold: list[str]) -> float:
    if not prediction or not gold:
        return float(prediction == gold)
    common = sum((Counter(prediction) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision = common / len(prediction)
    recall = common / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, golds: Iterable[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0."""
    pred = normalize_answer(prediction)
    return max((float(pred == normalize_answer(g)) for g in golds), default=0.0)


def token_f1(prediction: str, golds: Iterable[str]) -> float:
    """The best token-level F1 between the normalised prediction and any gold answer."""
    pred = normalize_answer(prediction).split()
    return max((_f1_tokens(pred, normalize_answer(g).split()) for g in golds), default=0.0)


def cover_match(prediction: str, golds: Iterable[str]) -> float:
    """1.0 if some normalised gold answer is a whole-word span of the normalised prediction."""
    pred = f" {normalize_answer(prediction)} "
    return max(
        (float(bool(g.strip()) and f" {g} " in pred) for g in map(normalize_answer, golds)),
        default=0.0,
    )


def yes_no(prediction: str) -> str | None:
    """"yes" or "no" if the normalised prediction starts with that word, else None."""
    words = normalize_answer(prediction).split()
    return words[0] if words and words[0] in YES_NO else None


def is_yes_no(question: Question) -> bool:
    """Whether the question is scored as a yes/no question."""
    return any(normalize_answer(a) in YES_NO for a in question.answers)


def score(prediction: str, question: Question) -> Score:
    """Score ``prediction`` against ``question``'s gold answers (see the module docstring)."""
    if not question.answers:
        raise DataError(f"question {question.id!r} has no gold answers to score against")
    if is_yes_no(question):
        golds = {normalize_answer(a) for a in question.answers}
        hit = float(yes_no(prediction) in golds)
        return Score(em=hit, f1=hit, acc=hit)
    return Score(
        em=exact_match(prediction, question.answers),
        f1=token_f1(prediction, question.answers),
        acc=cover_match(prediction, question.answers),
    )
