"""Paired statistics against cases whose answers are known by hand."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from forage.report.paired import (
    SequentialRule,
    mcnemar,
    mcnemar_counts,
    n_needed,
    normal_interval,
    paired_bootstrap,
    paired_bootstrap_statistic,
    sequential,
    should_stop,
    tost,
    tost_outcome,
    verdict,
)
from forage.report.statistics import bootstrap_ci

# -- McNemar ---------------------------------------------------------------------------------


def test_mcnemar_exact_p_of_ten_against_two():
    # B ~ Binomial(12, 1/2): P(B <= 2) = (1 + 12 + 66) / 4096; two-sided doubles it.
    m = mcnemar_counts(10, 2)
    assert m.p_exact == pytest.approx(2 * 79 / 4096) == pytest.approx(0.03857, abs=1e-5)
    assert m.p == m.p_exact
    # mid-p leaves out half of P(B = 2) on each side: 2 * (79 - 66 / 2) / 4096.
    assert m.p_mid == pytest.approx(92 / 4096)
    # continuity-corrected chi-square: (|10 - 2| - 1)^2 / 12, upper tail of chi-square(1).
    assert m.chi2 == pytest.approx(49 / 12)
    assert m.p_chi2 == pytest.approx(0.04331, abs=1e-4)


def test_mcnemar_is_symmetric_and_one_when_discordance_is_balanced():
    assert mcnemar_counts(2, 10).p_exact == mcnemar_counts(10, 2).p_exact
    for k in (0, 1, 5, 40):
        m = mcnemar_counts(k, k)
        assert m.p_exact == 1.0 and m.p_mid == pytest.approx(1.0)
    assert mcnemar_counts(0, 0).chi2 is None


def test_mcnemar_needs_six_one_sided_discordant_pairs_to_pass_five_percent():
    assert mcnemar_counts(0, 5).p_exact == pytest.approx(2 / 32)  # 0.0625: not significant
    assert mcnemar_counts(0, 6).p_exact == pytest.approx(2 / 64)  # 0.03125


def test_mcnemar_counts_x_right_y_wrong_as_b():
    x = [True, True, True, False, False, True]
    y = [False, False, True, True, False, True]
    m = mcnemar(x, y)
    assert (m.b, m.c, m.n) == (2, 1, 6)
    assert m.difference == pytest.approx((2 - 1) / 6)
    with pytest.raises(ValueError):
        mcnemar([True], [True, False])


def test_mcnemar_to_dict_is_strict_json():
    d = mcnemar_counts(0, 0, 10).to_dict()
    assert d["chi2"] is None and d["n"] == 10 and d["difference"] == 0
    json.dumps(d, allow_nan=False)


# -- paired bootstrap ------------------------------------------------------------------------


def test_paired_bootstrap_of_identical_arms_collapses_to_zero():
    y = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    d = paired_bootstrap(y, y, n_boot=500, seed=4)
    assert d.estimate == 0.0 and d.ci == (0.0, 0.0) and d.n == 7


def test_paired_bootstrap_is_the_bootstrap_of_the_differences():
    x = [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    y = [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    d = paired_bootstrap(x, y, n_boot=400, seed=7)
    assert d.estimate == pytest.approx(1 / 8)
    assert (d.x_mean, d.y_mean) == (pytest.approx(5 / 8), pytest.approx(4 / 8))
    diffs = [a - b for a, b in zip(x, y)]
    assert d.ci == bootstrap_ci(diffs, n_boot=400, seed=7)
    assert d.ci[0] <= d.estimate <= d.ci[1]
    assert d.ci[0] < d.ci[1]


def test_paired_bootstrap_of_two_questions_spans_both_differences():
    # d = [0, 1]: resample means are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4.
    d = paired_bootstrap([1.0, 1.0], [1.0, 0.0])
    assert d.estimate == 0.5 and d.ci == (0.0, 1.0)


def test_pairing_narrows_the_interval_when_questions_vary_more_than_arms():
    # y is right on half the questions; x is y plus two more right. Unpaired, question difficulty
    # dominates the spread; paired, only the two changed questions vary.
    y = np.array([1.0, 0.0] * 20)
    x = y.copy()
    x[[1, 3]] = 1.0
    paired = paired_bootstrap(x, y, n_boot=1000, seed=0)
    rng = np.random.default_rng(0)
    ix = rng.integers(0, 40, size=(1000, 40))
    iy = rng.integers(0, 40, size=(1000, 40))
    lo, hi = np.percentile(x[ix].mean(axis=1) - y[iy].mean(axis=1), [2.5, 97.5])
    assert (paired.ci[1] - paired.ci[0]) * 2 < hi - lo


def test_paired_bootstrap_statistic_uses_the_same_draws():
    x = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    y = [2.0, 7.0, 1.0, 8.0, 2.0, 8.0, 1.0, 8.0]
    via_stat = paired_bootstrap_statistic(
        x, y, lambda a, b: float(a.mean() - b.mean()), n_boot=300, seed=5)
    direct = paired_bootstrap(x, y, n_boot=300, seed=5)
    assert via_stat.estimate == pytest.approx(direct.estimate)
    assert via_stat.ci == pytest.approx(direct.ci)


def test_paired_bootstrap_statistic_of_a_constant_shift_is_exact():
    y = [0.2, 0.9, 0.4, 0.7, 0.1]
    x = [v + 1.0 for v in y]
    d = paired_bootstrap_statistic(x, y, lambda a, b: float(np.median(a) - np.median(b)),
                                   n_boot=200, seed=1)
    assert d.estimate == pytest.approx(1.0)
    assert d.ci == pytest.approx((1.0, 1.0))


def test_paired_vectors_must_match_and_short_ones_have_no_interval():
    with pytest.raises(ValueError):
        paired_bootstrap([1.0, 0.0], [1.0])
    one = paired_bootstrap([1.0], [0.0])
    assert one.estimate == 1.0 and all(math.isnan(v) for v in one.ci)
    assert one.to_dict()["ci"] == [None, None]
    json.dumps(one.to_dict(), allow_nan=False)


# -- sequential stopping and n_needed --------------------------------------------------------


def test_normal_interval_is_mean_plus_minus_z_se():
    lo, hi = normal_interval([1.0, -1.0, 1.0, -1.0])
    half = 1.959964 * math.sqrt(4 / 3) / 2  # s = sqrt(4/3), n = 4
    assert (lo, hi) == (pytest.approx(-half, rel=1e-6), pytest.approx(half, rel=1e-6))


def test_sequential_stops_when_the_interval_first_gets_narrow_enough():
    # +1, -1, +1, ...: at n = 16, s = sqrt(16/15) and the width 2 z s / 4 = 1.012 > 1;
    # at n = 17 (mean 1/17), s^2 = (17 - 1/17) / 16 and the width 0.978 <= 1.
    stream = [1.0, -1.0] * 50
    rule = SequentialRule(width=1.0)
    assert should_stop(stream[:16], rule) is None
    assert should_stop(stream[:17], rule) == "width"
    r = sequential(iter(stream), rule)
    assert (r.reason, r.n) == ("width", 17)
    assert r.narrow_enough and r.width <= 1.0 and r.estimate == pytest.approx(1 / 17)
    assert r.n_needed == 17


def test_sequential_never_stops_before_min_n():
    # Agreeing questions have zero spread: the interval is zero-wide from n = 2 on.
    r = sequential(itertools.repeat(0.0), SequentialRule(width=0.1, min_n=12))
    assert (r.reason, r.n, r.width) == ("width", 12, 0.0)


def test_sequential_reports_the_n_limit_and_what_would_be_needed():
    r = sequential(itertools.cycle([1.0, -1.0]), SequentialRule(width=0.1, max_n=30))
    assert (r.reason, r.n) == ("max_n", 30)
    assert not r.narrow_enough and r.width > 0.1
    sd = math.sqrt(30 / 29)
    assert r.n_needed == n_needed(0.1, sd) > 30


def test_sequential_reports_the_time_limit_with_a_fake_clock():
    ticks = itertools.count()  # 0 at the start, then one second per question
    r = sequential(itertools.cycle([1.0, 0.0]), SequentialRule(width=0.01, max_seconds=5.0),
                   clock=lambda: float(next(ticks)))
    assert (r.reason, r.n) == ("time", 5)


def test_sequential_says_when_the_stream_ran_out():
    r = sequential([1.0, 0.0, 1.0], SequentialRule(width=0.01))
    assert (r.reason, r.n) == ("exhausted", 3)
    empty = sequential([], SequentialRule(width=0.01))
    assert (empty.reason, empty.n, empty.n_needed) == ("exhausted", 0, None)


def test_sequential_can_judge_the_bootstrap_interval():
    rule = SequentialRule(width=1.0, method="bootstrap", n_boot=300, seed=2)
    r = sequential(itertools.cycle([1.0, -1.0]), rule)
    assert r.reason == "width" and r.n >= rule.min_n
    seen = list(itertools.islice(itertools.cycle([1.0, -1.0]), r.n))
    assert r.ci == bootstrap_ci(seen, n_boot=300, seed=2) and r.width <= 1.0
    assert r.n == rule.min_n or should_stop(seen[:-1], rule) is None


def test_n_needed_on_known_sds():
    # (2 * 1.96 * 0.5 / 0.1)^2 = 384.2: the sd of a 50/50 right/wrong difference.
    assert n_needed(0.1, 0.5) == 385
    assert n_needed(0.392, 1.0) == 100  # (2 * 1.96 / 0.392)^2 = 100
    assert n_needed(0.1, 0.0) == 2
    with pytest.raises(ValueError):
        n_needed(0.0, 1.0)


def test_a_rule_without_a_positive_width_is_refused():
    with pytest.raises(ValueError):
        SequentialRule(width=0.0)
    with pytest.raises(ValueError):
        SequentialRule(width=0.1, min_n=1)


# -- equivalence and verdicts ----------------------------------------------------------------


def _arms(n: int, differing: int) -> tuple[list[float], list[float]]:
    """x right on the first ``differing`` questions, y wrong on every question."""
    return [1.0] * differing + [0.0] * (n - differing), [0.0] * n


def test_tost_finds_arms_that_differ_on_one_question_in_a_hundred_equivalent():
    x, y = _arms(100, 1)
    e = tost(x, y, margin=0.05, n_boot=1000, seed=0)
    assert e.outcome == "equivalent" and e.level == pytest.approx(0.90)
    assert -0.05 < e.ci[0] <= e.estimate <= e.ci[1] < 0.05
    assert e.ci == bootstrap_ci([a - b for a, b in zip(x, y)], n_boot=1000, seed=0, level=0.90)


def test_tost_finds_a_sixty_point_difference_not_equivalent():
    x, y = _arms(100, 60)
    e = tost(x, y, margin=0.1, n_boot=1000, seed=0)
    assert e.outcome == "not equivalent" and e.ci[0] > 0.1


def test_tost_is_inconclusive_when_the_interval_straddles_the_margin():
    x, y = _arms(100, 5)
    e = tost(x, y, margin=0.05, n_boot=1000, seed=0)
    assert e.ci[0] < 0.05 < e.ci[1] and e.outcome == "inconclusive"
    json.dumps(e.to_dict(), allow_nan=False)


def test_tost_outcomes_on_hand_intervals():
    assert tost_outcome((-0.02, 0.03), 0.05) == "equivalent"
    assert tost_outcome((-0.02, 0.05), 0.05) == "inconclusive"  # touching the margin
    assert tost_outcome((0.06, 0.2), 0.05) == "not equivalent"
    assert tost_outcome((-0.3, -0.06), 0.05) == "not equivalent"
    assert tost_outcome((-0.1, 0.1), 0.05) == "inconclusive"
    assert tost_outcome((math.nan, math.nan), 0.05) == "inconclusive"


def test_verdict_follows_the_direction_the_claim_predicts():
    assert verdict((0.1, 0.3), "greater") == "supported"
    assert verdict((0.1, 0.3), "less") == "refuted"
    assert verdict((-0.3, -0.1), "less") == "supported"
    assert verdict((-0.3, -0.1), "greater") == "refuted"
    assert verdict((-0.1, 0.2), "greater") == "inconclusive"
    assert verdict((0.0, 0.2), "greater") == "inconclusive"  # touching zero is not excluding it
    assert verdict((math.nan, math.nan), "greater") == "inconclusive"


def test_verdict_of_an_equivalence_claim_follows_tost():
    assert verdict((-0.02, 0.03), "equivalent", margin=0.05) == "supported"
    assert verdict((0.06, 0.2), "equivalent", margin=0.05) == "refuted"
    assert verdict((-0.1, 0.1), "equivalent", margin=0.05) == "inconclusive"
    with pytest.raises(ValueError):
        verdict((-0.02, 0.03), "equivalent")
    with pytest.raises(ValueError):
        verdict((0.1, 0.3), "bigger")  # type: ignore[arg-type]
