"""Masked question forms and their overlap between worlds (``forage.data.world.overlap``)."""

from __future__ import annotations

import pytest

from forage.data.world import WorldSettings, generate_world
from forage.data.world.overlap import mask, masked_forms, name_pattern, overlap

SIZE = {"entities": 300, "questions": 200, "hops": (1, 4)}


def test_mask_replaces_names_and_numbers_but_not_step_references() -> None:
    names = name_pattern(["Varo Keln", "Varo Kellen", "Isle of Marra"])
    assert mask("Was Varo Kellen born before 1931, on Isle of Marra?", names) == (
        "Was <E> born before <N>, on <E>?"
    )
    assert mask("Which of #1 has 12,300 people, as Varo Keln said?", names) == (
        "Which of #1 has <N> people, as <E> said?"
    )
    assert mask("Varo Kelnish", names) == "Varo Kelnish"  # names are whole phrases


def test_masked_forms_hold_one_form_per_question_and_per_step() -> None:
    w = generate_world(WorldSettings(seed=3, **SIZE))  # type: ignore[arg-type]
    forms = masked_forms(w)
    assert len(forms.questions) == len(w.questions)
    assert len(forms.subquestions) == sum(len(q.decomposition) for q in w.questions)
    assert not any(e.name in f for e in w.entities for f in forms.questions[:40])


@pytest.fixture(scope="module")
def others() -> list:
    return [generate_world(WorldSettings(seed=s, **SIZE)) for s in (11, 12)]  # type: ignore


def test_heldout_questions_share_no_form_with_standard_worlds(others: list) -> None:
    standard = overlap(generate_world(WorldSettings(seed=3, **SIZE)), others)  # type: ignore
    heldout = WorldSettings(seed=3, templates="heldout", **SIZE)  # type: ignore[arg-type]
    held = overlap(generate_world(heldout), others)
    assert standard.question_items > 0.3 and standard.subquestion_items > 0.8
    assert held.questions == held.question_items == 0.0
    # sub-questions keep the canonical forms, but held-out relations' forms are new
    assert 0.3 < held.subquestion_items < standard.subquestion_items
    assert overlap(others[0], [others[0]]).to_dict() == dict.fromkeys(
        ("questions", "question_items", "subquestions", "subquestion_items"), 1.0
    )
