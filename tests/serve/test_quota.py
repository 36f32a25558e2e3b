"""The per-key window arithmetic: reserve before running, settle to what was spent, never
overspend a window, a new window starts fresh, keys do not share, ``auto`` keeps a reserve."""

from __future__ import annotations

import random

import pytest

from forage.serve.quota import ANONYMOUS, KeyWindows, auto_grant, bucket, unmetered


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_reservation_is_refused_when_it_does_not_fit_and_settles_to_what_was_spent():
    w = KeyWindows(1000, 60, clock=Clock())
    hold = w.reserve("a", 700)
    assert hold is not None and w.left("a") == 300
    assert w.reserve("a", 400) is None  # the first run's reservation is still out
    assert hold.settle(250) == 250
    assert (w.left("a"), w.spent("a")) == (750, 250)
    assert w.reserve("a", 400) is not None


def test_concurrent_requests_cannot_both_take_the_last_units():
    w = KeyWindows(1000, 60, clock=Clock())
    w.reserve("a", 900).settle(900)
    first = w.reserve("a", 100)
    second = w.reserve("a", 100)
    assert first is not None and second is None
    first.settle(0)  # the first run spent nothing: the units come back
    assert w.reserve("a", 100) is not None


def test_settling_twice_or_above_the_reservation_charges_at_most_once_the_reservation():
    w = KeyWindows(1000, 60, clock=Clock())
    hold = w.reserve("a", 300)
    assert hold.settle(10_000) == 300
    assert hold.settle(5) == 300
    assert w.spent("a") == 300 and w.left("a") == 700
    assert w.reserve("a", 200).settle(float("nan")) == 200  # unknown spend: the whole hold


def test_a_new_window_starts_fresh_and_an_old_hold_does_not_reach_into_it():
    clock = Clock()
    w = KeyWindows(1000, 60, clock=clock)
    w.reserve("a", 1000).settle(1000)
    late = w.reserve("a", 1)
    assert late is None and w.left("a") == 0
    running = w.reserve("b", 600)
    clock.now += 45
    assert w.retry_after() == pytest.approx(15)
    clock.now += 15
    assert w.left("a") == 1000 and w.left("b") == 1000
    running.settle(600)  # it was reserved in the window that ended
    assert w.left("b") == 1000 and w.spent("b") == 0


def test_two_keys_do_not_share_a_window():
    w = KeyWindows(500, 60, clock=Clock())
    w.reserve("a", 500).settle(500)
    assert w.reserve("a", 50) is None
    assert w.reserve("b", 500) is not None


def test_random_interleavings_never_overspend_a_window():
    rng = random.Random(7)
    clock = Clock()
    w = KeyWindows(1000, 60, clock=clock)
    open_holds = []
    charged: dict[tuple[str, int], float] = {}
    for _ in range(3000):
        key = rng.choice("ab")
        action = rng.random()
        if action < 0.45:
            hold = w.reserve(key, rng.uniform(1, 400))
            if hold is not None:
                open_holds.append(hold)
        elif action < 0.9 and open_holds:
            hold = open_holds.pop(rng.randrange(len(open_holds)))
            c = hold.settle(rng.uniform(0, 1.2) * hold.units)
            charged[(hold.key, hold.index)] = charged.get((hold.key, hold.index), 0.0) + c
        else:
            clock.now += rng.uniform(0, 20)
        for k in "ab":
            assert 0 <= w.left(k) <= 1000
    assert charged and max(charged.values()) <= 1000 + 1e-6


def test_auto_keeps_a_reserve_then_funds_first_readings_from_it():
    kw = {"cap": 5000, "reserve": 100, "min_step": 60, "first_step": 300}
    assert auto_grant(10_000, **kw) == 5000
    assert auto_grant(1000, **kw) == 900  # what is left outside the reserve
    assert auto_grant(150, **kw) == 150  # only the reserve is left: a first reading
    assert auto_grant(120, **{**kw, "reserve": 1000}) == 120
    assert auto_grant(50, **kw) is None


def test_reserve_auto_never_grants_more_than_is_left():
    w = KeyWindows(1000, 60, clock=Clock())
    grants = []
    while (hold := w.reserve_auto("a", cap=400, reserve_share=0.1, min_step=60,
                                  first_step=300)) is not None:
        grants.append(hold.units)
    # the cap twice, what is left outside the reserve, then the reserve for a first reading
    assert grants == [400, 400, 100, 100]
    assert w.left("a") < 60


def test_bad_windows_are_refused_and_an_unmetered_hold_charges_nobody():
    with pytest.raises(ValueError):
        KeyWindows(0, 60)
    with pytest.raises(ValueError):
        KeyWindows(100, -1)
    assert unmetered(500).settle(120) == 120


def test_a_bucket_is_a_digest_of_the_bearer_token_and_no_token_is_anonymous():
    assert bucket("Bearer alice-key") == bucket("bearer  alice-key ") != bucket("Bearer bob-key")
    assert "alice" not in bucket("Bearer alice-key")
    assert bucket("") == bucket("Basic xyz") == bucket("Bearer ") == ANONYMOUS
