"""The cascade's arithmetic: grants, order of escalation, the reserve, and the two properties any
batch must have (never overspend; every question ends answered or exhausted)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from forage.allocation.policy import (
    Ask,
    CascadeSettings,
    Outcome,
    QuestionState,
    Rung,
    cascade,
    check_batch,
    expected_cost,
    expected_gain,
    next_escalation,
)
from forage.core.errors import ConfigError

LADDER = (Rung("read", 200, 0.2), Rung("passages", 300, 0.1), Rung("tree", 1500, 0.4))
MIN_STEP = 80.0


def drive(gen, answer):
    """Run a cascade to the end; ``answer(ask)`` gives each ask's Outcome. Returns (asks, states)."""
    asks = []
    try:
        ask = next(gen)
        while True:
            asks.append(ask)
            ask = gen.send(answer(ask))
    except StopIteration as stop:
        return asks, stop.value


def test_every_question_gets_rung_zero_first_and_confident_ones_stop_there():
    conf = [0.9, 0.2, 0.95, 0.1]
    asks, states = drive(cascade(4, 4000, CascadeSettings(LADDER, threshold=0.5, reserve=0.0),
                                 min_step=MIN_STEP),
                         lambda a: Outcome("x", conf[a.question] if a.rung == 0 else 0.3, 100))
    assert [(a.question, a.rung) for a in asks[:4]] == [(0, 0), (1, 0), (2, 0), (3, 0)]
    escalated = {a.question for a in asks[4:]}
    assert escalated == {1, 3}  # the two unconfident ones, never the settled ones
    assert states[0].rung == 0 and states[2].rung == 0
    assert states[1].rung == len(LADDER) - 1  # climbed the whole ladder: budget was ample


def test_the_least_confident_question_escalates_first():
    conf = [0.4, 0.1, 0.3]
    asks, _ = drive(cascade(3, 3 * 200 + 300, CascadeSettings(LADDER, reserve=0.0),
                            min_step=MIN_STEP),
                    lambda a: Outcome("x", conf[a.question], a.grant))
    assert asks[3] == Ask(1, 1, 300)  # after rung 0 the pool holds 300: one escalation


def test_expected_gain_and_cold_cost():
    assert expected_gain(QuestionState(answer="", confidence=0.9), Rung("r", 100, 0.5)) == 0.5
    assert expected_gain(QuestionState(answer="a", confidence=0.8), Rung("r", 100, 0.5)) == \
        pytest.approx(0.1)
    assert expected_cost(Rung("r", 100), []) == 50
    assert expected_cost(Rung("r", 100), [30, 50]) == 40


def test_a_cheap_rung_beats_a_slightly_more_useful_expensive_one():
    states = [QuestionState(rung=0, answer="a", confidence=0.2),
              QuestionState(rung=1, answer="b", confidence=0.2)]
    ask = next_escalation(states, CascadeSettings(LADDER), {1: [50.0], 2: [1000.0]}, 5000, MIN_STEP)
    assert ask == Ask(0, 1, 300)  # 0.8*0.1/50 beats 0.8*0.4/1000


def test_nothing_escalates_below_min_step_or_past_the_top():
    top = QuestionState(rung=2, answer="", confidence=0.0)
    assert next_escalation([top], CascadeSettings(LADDER), {}, 1e6, MIN_STEP) is None
    low = QuestionState(rung=0, answer="", confidence=0.0)
    assert next_escalation([low], CascadeSettings(LADDER), {}, MIN_STEP - 1, MIN_STEP) is None
    assert next_escalation([low], CascadeSettings(LADDER), {}, MIN_STEP, MIN_STEP) == \
        Ask(0, 1, MIN_STEP)


def test_the_reserve_is_released_for_questions_still_unsettled():
    # 2 questions; rung 0 spends 100 each; reserve 50% of 1000 = 500 held back. Escalations to
    # rung 1 (cap 300) fit outside the reserve for one question only; the other gets the reserve.
    asks, states = drive(cascade(2, 1000, CascadeSettings(LADDER[:2], reserve=0.5),
                                 min_step=MIN_STEP),
                         lambda a: Outcome("x", 0.1, 100 if a.rung == 0 else a.grant))
    rung1 = [a for a in asks if a.rung == 1]
    assert [a.grant for a in rung1] == [300, 300]
    assert sum(s.spent for s in states) <= 1000


def test_bad_settings_and_small_batches_are_refused():
    with pytest.raises(ConfigError, match="cheapest step"):
        check_batch(100, 2, MIN_STEP)
    with pytest.raises(ConfigError, match="at least one rung"):
        next(cascade(1, 1000, CascadeSettings(()), min_step=MIN_STEP))
    with pytest.raises(ConfigError, match="twice"):
        next(cascade(1, 1000, CascadeSettings((LADDER[0], LADDER[0])), min_step=MIN_STEP))
    with pytest.raises(ConfigError, match="below the cheapest"):
        next(cascade(1, 1000, CascadeSettings((Rung("r", 10),)), min_step=MIN_STEP))
    with pytest.raises(ConfigError, match="reserve"):
        next(cascade(1, 1000, CascadeSettings(LADDER, reserve=1.0), min_step=MIN_STEP))


def test_an_exhausted_rung_keeps_the_earlier_answer():
    s = QuestionState()
    s.apply(Ask(0, 0, 200), Outcome("paris", 0.3, 150))
    s.apply(Ask(0, 1, 300), Outcome("", 0.0, 300, exhausted=True))
    assert (s.answer, s.answered_by, s.exhausted, s.spent, s.granted) == ("paris", 0, False, 450, 500)


outcomes = st.tuples(st.booleans(), st.floats(0, 1), st.floats(0, 1), st.booleans())


@hsettings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 12),
    mean=st.floats(MIN_STEP, 3000),
    reserve=st.floats(0, 0.9),
    threshold=st.floats(0, 1),
    script=st.lists(outcomes, min_size=1, max_size=50),
)
def test_a_batch_never_overspends_and_every_question_ends_answered_or_exhausted(
    n, mean, reserve, threshold, script
):
    total = n * mean
    calls = iter(range(10**6))

    def answer(ask: Ask) -> Outcome:
        has, conf, share, over = script[next(calls) % len(script)]
        spent = ask.grant * (1.5 if over else share)  # a misbehaving runner may report more
        return Outcome("a" if has else "", conf, spent, exhausted=not has)

    asks, states = drive(cascade(n, total, CascadeSettings(LADDER, threshold, reserve),
                                 min_step=MIN_STEP), answer)
    assert sum(s.spent for s in states) <= total + 1e-6
    assert all(a.grant >= MIN_STEP - 1e-9 for a in asks)
    assert all(s.rung >= 0 for s in states)  # everyone got rung 0
    for s in states:
        assert bool(s.answer) != s.exhausted
