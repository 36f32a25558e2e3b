"""Pure parts of the hierarchical engine: dependencies, shares, confidence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forage.hierarchy.plan import (
    PlanStep,
    answer_support,
    confidence,
    ready_steps,
    resolve,
    share,
)
from forage.hierarchy.tree_prompts import parse_numbered_plan


def test_long_copied_answers_get_less_confidence():
    passage = "Kestilt is a city with a population of 9,800 and a harbour on the coast."
    short = confidence("9,800", passage, None)
    copied = confidence("Kestilt is a city with a population of 9,800", passage, None)
    assert short == 1.0 and copied == pytest.approx(6 / 9)


def test_ready_steps_wait_for_their_dependencies():
    plan = parse_numbered_plan("1. Who is A?\n2. What is B of #1?\n3. Who is C?")
    assert [s.index for s in ready_steps(plan, set(), set())] == [1, 3]
    assert [s.index for s in ready_steps(plan, {1}, {1, 3})] == [2]


def test_resolve_substitutes_conclusions():
    assert resolve(PlanStep(2, "Where was #1 born?", (1,)), {1: "Ada Prell"}) == "Where was Ada Prell born?"


def test_share_splits_what_is_left_after_the_reserve():
    assert share(1000, 3, 100) == pytest.approx(300)
    assert share(50, 2, 100) == 0.0
    assert share(1000, 0, 0) == 0.0


@given(st.floats(0, 1e6), st.integers(1, 20), st.floats(0, 1e4))
def test_shares_never_exceed_what_is_available(available, pending, reserve):
    assert share(available, pending, reserve) * pending <= available + 1e-6


def test_confidence_combines_support_and_token_probability():
    passage = "The Lantern Society was founded by Ada Prell in 1956."
    assert answer_support("Ada Prell", passage) == 1.0
    assert answer_support("Ada Smith", passage) == 0.5
    assert confidence("Ada Prell", passage, None) == 1.0
    assert confidence("Ada Prell", passage, [-0.5, -0.5]) == pytest.approx(0.6065, abs=1e-3)
    assert confidence("", passage, None) == 0.0


def test_the_probability_of_answering_is_one_minus_that_of_unknown():
    import math

    from forage.hierarchy.plan import answer_probability, confidence

    alts = ((" Paris", math.log(0.6)), (" unknown", math.log(0.3)), (" Unknown", math.log(0.05)),
            (" un", math.log(0.04)))  # "un" may begin another word: not counted
    assert answer_probability(alts) == pytest.approx(1 - 0.35)
    assert answer_probability(None) is None and answer_probability(()) is None
    passage = "Paris is the capital of France."
    sure = confidence("Paris", passage, [-0.1], ((" Paris", math.log(0.99)),))
    torn = confidence("Paris", passage, [-0.1], alts)
    assert torn == pytest.approx(sure * 0.65 / 1.0, rel=1e-6)
    assert confidence("Paris", passage, [-0.1]) == pytest.approx(sure)  # no alternatives: as before
    assert confidence("unknown", passage, [-0.1], alts) == 0.0


# -- when to stop reading, where refunds go ----------------------------------------------------


def test_reading_goes_on_while_the_last_passage_gains_at_least_the_run_average_rate():
    from forage.hierarchy.plan import worth_another_passage

    # 0.3 per 100 units against 0.3 per 150 (the search included): still above average.
    assert worth_another_passage(0.3, 100, run_gain=0.3, run_cost=150)
    # 0.1 per 100 units against 0.9 per 300 units: a poor patch, leave it.
    assert not worth_another_passage(0.1, 100, run_gain=0.9, run_cost=300)
    assert worth_another_passage(0.3, 100, run_gain=0.9, run_cost=300)  # exactly the average
    assert not worth_another_passage(0.0, 80, run_gain=0.5, run_cost=400)  # gained nothing


def test_a_run_that_has_gained_nothing_yet_keeps_reading():
    from forage.hierarchy.plan import worth_another_passage

    assert worth_another_passage(0.0, 100, run_gain=0.0, run_cost=250)
    assert worth_another_passage(0.0, 0, run_gain=0.0, run_cost=0)


def test_a_free_passage_is_worth_another_only_if_it_gained_something():
    from forage.hierarchy.plan import worth_another_passage

    assert worth_another_passage(0.2, 0, run_gain=0.5, run_cost=100)
    assert not worth_another_passage(0.0, 0, run_gain=0.5, run_cost=100)


def test_a_refund_goes_to_the_least_confident_open_subtask_below_the_threshold():
    from forage.hierarchy.plan import refund_target

    assert refund_target({0: 0.45, 1: 0.0, 2: 0.3}, threshold=0.5) == 1
    assert refund_target({3: 0.2, 1: 0.2}, threshold=0.5) == 1  # a tie: the earlier step
    assert refund_target({0: 0.9, 1: 0.6}, threshold=0.5) is None  # all confident: the parent
    assert refund_target({}, threshold=0.5) is None
