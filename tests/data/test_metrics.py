"""Exact match, token F1 and accuracy: hand-computed cases and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forage.core.errors import DataError
from forage.core.types import Question
from forage.data.metrics import (
    Score,
    cover_match,
    exact_match,
    normalize_answer,
    score,
    token_f1,
    yes_no,
)


def q(*answers: str) -> Question:
    return Question(id="q", text="?", answers=answers)


# -- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  an  Apple,   a day ", "apple day"),
        ("Theatre of the Absurd", "theatre of absurd"),  # 'the' inside a word stays
        ("U.S.A.", "usa"),
        ("A", ""),
    ],
)
def test_squad_normalisation(raw: str, normalized: str) -> None:
    assert normalize_answer(raw) == normalized


# -- hand-computed scores ------------------------------------------------------------------------


def test_exact_match_ignores_case_punctuation_and_articles() -> None:
    assert exact_match("the Chief of Protocol.", ["Chief of Protocol"]) == 1.0
    assert exact_match("Chief Protocol", ["Chief of Protocol"]) == 0.0


def test_f1_hand_computed() -> None:
    # pred tokens: new york city (3); gold: new york (2); common 2 -> P 2/3, R 1 -> F1 0.8
    assert token_f1("New York City", ["New York"]) == pytest.approx(0.8)
    # pred: barack obama jr (3); gold: obama (1); common 1 -> P 1/3, R 1 -> F1 0.5
    assert token_f1("Barack Obama Jr.", ["Obama"]) == pytest.approx(0.5)
    # repeated tokens count by multiplicity: pred "a b b" -> "b b" (articles go); gold "b c"
    # common 1 -> P 1/2, R 1/2 -> F1 0.5
    assert token_f1("a b b", ["b c"]) == pytest.approx(0.5)
    assert token_f1("Paris", ["London"]) == 0.0


def test_best_alias_wins() -> None:
    assert token_f1("Mask of Fu Manchu", ["Fu", "The Mask of Fu Manchu"]) == 1.0
    assert exact_match("Missoula", ["Missoula, Montana", "Missoula"]) == 1.0
    # against 'Missoula, Montana' alone: P 1, R 1/2 -> 2/3
    assert token_f1("Missoula", ["Missoula, Montana"]) == pytest.approx(2 / 3)


def test_cover_match_needs_whole_words() -> None:
    assert cover_match("It was Paris, in France", ["paris"]) == 1.0
    assert cover_match("Parisian", ["Paris"]) == 0.0


def test_score_of_ordinary_question() -> None:
    # pred: it is new york city (5); gold 3 tokens; common 3 -> P 3/5, R 1 -> F1 0.75
    assert score("It is New York City", q("New York City")) == Score(
        em=0.0, f1=pytest.approx(0.75), acc=1.0
    )
    assert score("New York City", q("new york city")) == Score(1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("prediction", "gold", "hit"),
    [
        ("yes", "yes", 1.0),
        ("Yes, both were American.", "yes", 1.0),
        ("no", "yes", 0.0),
        ("No.", "no", 1.0),
        ("not really", "no", 0.0),  # 'not' is not 'no'
        ("They were both American, so yes", "yes", 0.0),  # must start with it
        ("", "no", 0.0),
    ],
)
def test_yes_no_questions_are_accuracy(prediction: str, gold: str, hit: float) -> None:
    assert score(prediction, q(gold)) == Score(hit, hit, hit)


def test_yes_no_word() -> None:
    assert yes_no("Yes!") == "yes"
    assert yes_no("nope") is None


def test_scoring_a_question_without_answers_is_an_error() -> None:
    with pytest.raises(DataError, match="no gold answers"):
        score("x", Question(id="empty", text="?"))


# -- properties ----------------------------------------------------------------------------------

# words that exercise the normalisation: articles, case, punctuation, non-ASCII, plus free text
answer_text = st.lists(
    st.sampled_from(["the", "The", "an", "a", "yes", "No", "Paris", "paris,", "Ünï", "x.y", "!", ""])
    | st.text(max_size=5),
    max_size=6,
).map(" ".join)


@given(answer_text, st.lists(answer_text, min_size=1, max_size=3))
def test_f1_is_in_unit_interval_and_exact_match_implies_full_f1(
    prediction: str, golds: list[str]
) -> None:
    f1 = token_f1(prediction, golds)
    assert 0.0 <= f1 <= 1.0
    if exact_match(prediction, golds) == 1.0:
        assert f1 == 1.0


@given(st.text(max_size=40))
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalize_answer(text)
    assert normalize_answer(once) == once


@given(answer_text, answer_text)
def test_f1_and_exact_match_are_symmetric(a: str, b: str) -> None:
    assert token_f1(a, [b]) == pytest.approx(token_f1(b, [a]))
    assert exact_match(a, [b]) == exact_match(b, [a])


@given(answer_text, st.lists(answer_text, min_size=1, max_size=3))
def test_score_fields_are_in_unit_interval(prediction: str, golds: list[str]) -> None:
    s = score(prediction, q(*golds))
    assert all(0.0 <= v <= 1.0 for v in (s.em, s.f1, s.acc))
