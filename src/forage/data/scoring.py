"""Answer metrics: exact match, token F1 and a strict accuracy against a question's gold answers.

Answers are compared after the standard SQuAD normalisation (lowercase, punctuation removed, the
articles a/an/the removed, whitespace collapsed), taking the best score over all gold aliases.

- ``em`` and ``f1`` are HotpotQA's official answer metrics (``hotpot_evaluate_v1.py``): the
  normalised prediction equals a normalised gold answer; token F1, which is 0 when either side is
  "yes", "no" or "noanswer" and the two differ. Neither can be satisfied by hedging ("A or B" is
  not "A"); ``em`` is the headline score of curves and efficiency figures.
- ``acc`` is a *strict* cover match, for readers that answer in a short sentence: a gold answer
  appears in the prediction as a whole-word span, **and** the prediction is not much longer than
  it (at most ``max(2 * g, g + 2)`` tokens for a ``g``-token gold answer), **and** it does not
  also name another candidate of a comparison question (the alternatives joined by "or" in the
  question's own text: "Who was born first, A or B?"). For a yes/no question (a gold answer that
  normalises to "yes" or "no") ``acc`` reads the prediction's first word, and a prediction that
  contains both words is not accurate.

Not here: aggregating scores over a run, confidence intervals (``forage.eval``), retrieval recall
(``forage.eval.recall``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from forage.core.errors import DataError
from forage.core.text import normalize_answer
from forage.core.types import Question

YES_NO = frozenset({"yes", "no"})
_SPECIAL = frozenset({"yes", "no", "noanswer"})  # HotpotQA's F1 special case


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


def _f1_one(pred: str, gold: str) -> float:
    if (pred in _SPECIAL or gold in _SPECIAL) and pred != gold:
        return 0.0
    return _f1_tokens(pred.split(), gold.split())


def exact_match(prediction: str, golds: Iterable[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0."""
    pred = normalize_answer(prediction)
    return max((float(pred == normalize_answer(g)) for g in golds), default=0.0)


def token_f1(prediction: str, golds: Iterable[str]) -> float:
    """The best HotpotQA token F1 between the normalised prediction and any gold answer."""
    pred = normalize_answer(prediction)
    return max((_f1_one(pred, normalize_answer(g)) for g in golds), default=0.0)


def _span(needle: str, haystack: str) -> bool:
    """Whether normalised ``needle`` is a whole-word span of normalised ``haystack``."""
    return bool(needle) and f" {needle} " in f" {haystack} "


def max_answer_tokens(gold_tokens: int) -> int:
    """The longest prediction (in normalised tokens) ``acc`` accepts for a gold answer."""
    return max(2 * gold_tokens, gold_tokens + 2)


def strict_cover_match(prediction: str, golds: Iterable[str], others: Iterable[str] = ()) -> float:
    """1.0 if some gold answer is a whole-word span of the prediction, the prediction has at most
    ``max_answer_tokens`` tokens for that answer, and no ``others`` (competing candidates that
    are not themselves part of a gold answer) appears in it; else 0.0."""
    pred = normalize_answer(prediction)
    n_pred = len(pred.split())
    gold_norm = [g for g in map(normalize_answer, golds) if g]
    rivals = [o for o in map(normalize_answer, others)
              if o and not any(_span(o, g) or _span(g, o) for g in gold_norm)]  # fmt: skip
    if any(_span(o, pred) for o in rivals):
        return 0.0
    return max(
        (float(_span(g, pred) and n_pred <= max_answer_tokens(len(g.split()))) for g in gold_norm),
        default=0.0,
    )


# "A or B": the right side runs to the next clause mark; the left side starts after the last
# clause mark, or (without one) is the run of capitalised words just before "or".
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)
_CLAUSE = re.compile(r"[,;:?!.]")
_SMALL = frozenset({"of", "the", "for", "and", "de", "von", "van", "in", "on", "a", "an", "&"})


def _named(w: str) -> bool:
    return w[:1].isupper() or w[:1].isdigit()


def _trim(run: list[str]) -> str:
    while run and run[0].lower() in _SMALL:
        run.pop(0)
    while run and run[-1].lower() in _SMALL:
        run.pop()
    return " ".join(run)


def _left_candidate(left: str) -> str:
    parts = _CLAUSE.split(left)
    if len(parts) > 1:
        return parts[-1].strip()
    words = left.split()
    run: list[str] = []
    for i in range(len(words) - 1, 0, -1):  # never the question's first word
        w = words[i]
        if _named(w) or (w.lower() in _SMALL and run):
            run.insert(0, w)
        else:
            break
    return _trim(run) or (words[-1] if words else "")


def _right_candidate(right: str) -> str:
    segment = _CLAUSE.split(right)[0].strip()
    words = segment.split()
    if not words or not _named(words[0]):
        return segment
    run: list[str] = []
    for w in words:  # a name ends where the sentence goes on ("X is closer to ...")
        if not (_named(w) or w.lower() in _SMALL):
            break
        run.append(w)
    return _trim(run) or segment


def comparison_candidates(question: str) -> tuple[str, ...]:
    """The two alternatives a question offers with "or" ("Who was born first, A or B?" -> (A, B)),
    read from its text; () when it offers none."""
    found = list(_OR.finditer(question))
    if not found:
        return ()
    m = found[-1]
    right = _right_candidate(question[m.end():])
    left = _left_candidate(question[: m.start()])
    if not left or not right:
        return ()
    return (left, right)


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
    em = exact_match(prediction, question.answers)
    f1 = token_f1(prediction, question.answers)
    if is_yes_no(question):
        golds = {normalize_answer(a) for a in question.answers}
        words = set(normalize_answer(prediction).split())
        acc = float(yes_no(prediction) in golds and not YES_NO <= words)
    else:
        acc = strict_cover_match(prediction, question.answers,
                                 others=comparison_candidates(question.text))
    return Score(em=em, f1=f1, acc=acc)
