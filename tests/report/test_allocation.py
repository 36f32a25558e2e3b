"""The oracle, the frontier gap, compute-to-match and the oracle share, on inputs small enough to
work out by hand."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from forage.report.allocation import (
    ORACLE_NOTE,
    allocation_summary,
    compute_to_reach,
    frontier_at,
    oracle,
    oracle_curve,
)
from forage.report.statistics import Point

from eval.helpers import result


def row(qid: str, strategy: str, budget: float, em: float, compute: float, *, seed: int = 0,
        dataset: str = "d", allocation: str = "uniform", rung: str | None = None):
    r = result(dataset=dataset, qid=qid, strategy=strategy, budget=budget, seed=seed, acc=em,
               compute=compute)
    return replace(r, allocation=allocation, rung=rung)


def uniform(table: dict[tuple[str, float], list[tuple[float, float]]], **kw):
    """(strategy, budget) -> per question (em, compute), questions q0, q1, ..."""
    return [row(f"q{i}", s, b, em, c, **kw)
            for (s, b), per_q in table.items() for i, (em, c) in enumerate(per_q)]


def adaptive(levels: dict[float, list[tuple[float, float]]], policy: str = "adaptive",
             rungs: dict[float, list[str | None]] | None = None, dataset: str = "d"):
    return [row(f"q{i}", policy, b, em, c, allocation="adaptive", dataset=dataset,
                rung=(rungs or {}).get(b, [None] * len(per_q))[i])
            for b, per_q in levels.items() for i, (em, c) in enumerate(per_q)]


# -- the oracle --------------------------------------------------------------------------------


def test_oracle_picks_the_cheapest_right_configuration_per_question_and_seed():
    rs = uniform({("rag", 500.0): [(1, 100), (0, 100)],
                  ("tree", 500.0): [(1, 50), (0, 50)],
                  ("rag", 2000.0): [(0, 30), (0, 30)]})
    rs.append(row("q0", "rag", 500.0, 1, 100, seed=1))  # at seed 1 only rag@500 ran
    picks = {(r.question_id, r.seed): r for r in oracle(rs)}
    assert set(picks) == {("q0", 0), ("q1", 0), ("q0", 1)}
    q0 = picks[("q0", 0)]  # tree@500 is right at 50; rag@2000 is cheaper but wrong
    assert (q0.strategy, q0.allocation, q0.given, q0.rung) == ("oracle", "oracle", 500.0,
                                                               "tree@500")
    assert (q0.em, q0.compute) == (1, 50)
    assert q0.trace["oracle"] == {"strategy": "tree", "budget": 500.0, "knob": 1}
    q1 = picks[("q1", 0)]  # nobody right: the cheapest overall, score 0
    assert (q1.rung, q1.em, q1.compute) == ("rag@2000", 0, 30)
    assert picks[("q0", 1)].rung == "rag@500"
    # One cell per dataset: budget = the oracle batch's mean spent compute.
    assert [r.budget for r in picks.values()] == pytest.approx([(50 + 30 + 100) / 3] * 3)


def test_oracle_ignores_rows_that_are_not_uniform():
    rs = uniform({("rag", 500.0): [(0, 100)]})
    rs += adaptive({500.0: [(1, 10)]})
    (pick,) = oracle(rs)
    assert pick.em == 0 and pick.compute == 100


# Four questions, a cheap configuration A (10 units each) and a dear one B:
#   q0 A right; q1 A wrong, B right at 50 (+40); q2 A wrong, B right at 100 (+90); q3 nobody.
CURVE = uniform({("A", 1.0): [(1, 10), (0, 10), (0, 10), (0, 10)],
                 ("B", 1.0): [(1, 100), (1, 50), (1, 100), (0, 100)]})


def test_oracle_curve_at_a_tiny_budget_is_everyone_at_their_cheapest():
    c = oracle_curve(CURVE, [1.0, 10.0])
    assert [(p.score, p.compute) for p in c.points] == [(0.25, 10.0), (0.25, 10.0)]
    assert c.over_budget == (True, False)  # 1 unit a question buys nothing: over budget
    assert (c.cheapest.score, c.cheapest.compute) == (0.25, 10.0)


def test_oracle_curve_upgrades_the_cheapest_upgrades_first_while_the_total_fits():
    c = oracle_curve(CURVE, [20.0, 42.0, 42.5, 1000.0])
    # 20 x 4 = 80 = 40 base + 40: q1 fits; 42 x 4 = 168 < 40 + 40 + 90: q2 does not.
    assert [p.score for p in c.points] == [0.5, 0.5, 0.75, 0.75]
    assert [p.compute for p in c.points] == pytest.approx([20.0, 20.0, 42.5, 42.5])
    assert (c.full.score, c.full.compute) == (0.75, 42.5)
    d = c.to_dict()
    assert d["unattainable"] is True and d["note"] == ORACLE_NOTE
    assert d["points"][0]["over_budget"] is False


def test_oracle_curve_needs_one_dataset():
    with pytest.raises(ValueError):
        oracle_curve(CURVE + uniform({("A", 1.0): [(1, 10)]}, dataset="other"), [10.0])


# -- frontier and reach ------------------------------------------------------------------------


def test_frontier_at_interpolates_in_log_compute_and_stays_flat_past_the_costliest():
    pts = [Point("rag", 1, 100, 0.25), Point("rag", 2, 400, 0.75), Point("ircot", 1, 800, 0.5)]
    assert frontier_at(pts, 200)[0] == pytest.approx(0.5)  # half way in log10 between 100, 400
    assert frontier_at(pts, 600) == (0.75, None)  # flat: ircot@800 is dominated
    low, why = frontier_at(pts, 50)
    assert low is None and "below the cheapest" in why
    high, why = frontier_at(pts, 1600)
    assert (high, why) == (0.75, None)  # beyond every configuration: the best any one reached


def test_compute_to_reach_interpolates_along_the_curve():
    pts = [Point("a", 1, 100, 0.5), Point("a", 2, 400, 1.0)]
    assert compute_to_reach(pts, 0.75) == pytest.approx(200.0)
    assert compute_to_reach(pts, 0.5) == 100.0
    assert compute_to_reach(pts, 1.01) is None


# -- the summary -------------------------------------------------------------------------------

# rag@1 right on q0 at 100 units; rag@2 right on q0..q2 at 400: the frontier at 200 units is 0.5.
GAP_UNIFORM = {("rag", 1.0): [(1, 100), (0, 100), (0, 100), (0, 100)],
               ("rag", 2.0): [(1, 400), (1, 400), (1, 400), (0, 400)]}


def test_gap_to_the_frontier_sign_and_magnitude():
    rs = uniform(GAP_UNIFORM) + adaptive({
        150.0: [(1, 200), (1, 200), (1, 200), (0, 200)],  # 0.75 at 200: +0.25, one question
        250.0: [(0, 200), (0, 200), (0, 200), (0, 200)],  # 0 at 200: -0.5, two questions
        30.0: [(1, 50), (0, 50), (0, 50), (0, 50)],  # 50 units: left of every configuration
    })
    entry = allocation_summary(rs, n_boot=200).datasets["d"]
    lv = {lv.budget: lv for lv in entry.policies["adaptive"].levels}
    assert lv[150.0].frontier == pytest.approx(0.5)
    assert lv[150.0].gap == pytest.approx(0.25) and lv[150.0].gap_questions == pytest.approx(1.0)
    assert lv[150.0].within_one_question is True
    assert lv[250.0].gap == pytest.approx(-0.5) and lv[250.0].gap_questions == pytest.approx(-2.0)
    assert lv[250.0].within_one_question is False
    assert lv[30.0].gap is None and lv[30.0].within_one_question is None
    assert "below the cheapest uniform configuration" in lv[30.0].frontier_reason
    assert lv[30.0].gap_ci is None


def test_paired_interval_contains_the_estimate_and_collapses_when_resamples_agree():
    rng = np.random.default_rng(5)
    n = 40
    rs = uniform({("rag", 1.0): [(float(rng.random() < 0.3), 100) for _ in range(n)],
                  ("rag", 2.0): [(float(rng.random() < 0.5), 400) for _ in range(n)]})
    rs += adaptive({200.0: [(float(rng.random() < 0.5), 200) for _ in range(n)]})
    (lv,) = allocation_summary(rs, n_boot=300).datasets["d"].policies["adaptive"].levels
    lo, hi = lv.gap_ci
    assert lo < lv.gap < hi and lv.gap_defined == 1.0
    assert lv.gap_questions_ci == pytest.approx((lo * n, hi * n))
    # Every question alike: every resample is the same sample.
    same = uniform({("rag", 1.0): [(0, 100)] * 5, ("rag", 2.0): [(1, 400)] * 5})
    same += adaptive({200.0: [(1, 200)] * 5})
    (lv,) = allocation_summary(same, n_boot=100).datasets["d"].policies["adaptive"].levels
    assert lv.gap == pytest.approx(0.5)
    assert lv.gap_ci == pytest.approx((0.5, 0.5))


def test_compute_to_match_is_half_when_adaptive_reaches_the_best_uniform_at_half_its_compute():
    rs = uniform({("rag", 1.0): [(1, 100), (1, 100), (0, 100), (0, 100)],
                  ("rag", 2.0): [(1, 400), (1, 400), (1, 400), (0, 400)]})  # best: 0.75 at 400
    # 0.5 at 100 and 1.0 at 400: 0.75 half way in log compute, at 200 units.
    rs += adaptive({100.0: [(1, 100), (1, 100), (0, 100), (0, 100)],
                    400.0: [(1, 400), (1, 400), (1, 400), (1, 400)]})
    m = allocation_summary(rs, n_boot=200).datasets["d"].policies["adaptive"].compute_to_match
    assert m.target == 0.75 and (m.uniform.strategy, m.uniform.budget) == ("rag", 2.0)
    assert m.compute == pytest.approx(200.0) and m.ratio == pytest.approx(0.5)
    assert m.ratio_ci[0] <= m.ratio <= m.ratio_ci[1]


def test_compute_to_match_interval_collapses_and_an_unreached_target_is_unbounded():
    rs = uniform({("rag", 1.0): [(1, 400)] * 3}) + adaptive({100.0: [(1, 200)] * 3})
    m = allocation_summary(rs, n_boot=50).datasets["d"].policies["adaptive"].compute_to_match
    assert m.ratio == pytest.approx(0.5) and m.ratio_ci == pytest.approx((0.5, 0.5))
    assert m.reached_share == 1.0
    rs = uniform({("rag", 1.0): [(1, 400)] * 3}) + adaptive({100.0: [(0, 200)] * 3})
    summary = allocation_summary(rs, n_boot=50)
    m = summary.datasets["d"].policies["adaptive"].compute_to_match
    assert m.ratio is None and "never reaches" in m.reason
    assert m.ratio_ci == (math.inf, math.inf) and m.reached_share == 0.0
    d = json.loads(json.dumps(summary.to_dict()))  # strict JSON: inf is written as null
    assert d["datasets"]["d"]["policies"]["adaptive"]["compute_to_match"]["ratio_ci"] == [None,
                                                                                          None]


# cheap@1 right on q0 (100 units); big@2 right on q0, q1 and other@1 on q2, q3 (400 units): the
# frontier at 400 is 0.5; the oracle there upgrades q1..q3 (+300 each, 1,200 in room): 1.0.
SHARE_UNIFORM = {("cheap", 1.0): [(1, 100), (0, 100), (0, 100), (0, 100)],
                 ("big", 2.0): [(1, 400), (1, 400), (0, 400), (0, 400)],
                 ("other", 1.0): [(0, 400), (0, 400), (1, 400), (1, 400)]}


def test_share_of_the_oracle_gain_captured():
    rs = uniform(SHARE_UNIFORM) + adaptive({400.0: [(1, 400), (1, 400), (1, 400), (0, 400)]})
    (lv,) = allocation_summary(rs, n_boot=200).datasets["d"].policies["adaptive"].levels
    assert (lv.frontier, lv.oracle, lv.score) == (pytest.approx(0.5), 1.0, 0.75)
    assert lv.share == pytest.approx(0.5)
    assert lv.share_ci[0] <= lv.share <= lv.share_ci[1]


def test_share_is_none_where_the_oracle_gains_nothing():
    rs = uniform({("rag", 1.0): [(1, 100), (0, 100)]}) + adaptive({100.0: [(1, 100), (1, 100)]})
    (lv,) = allocation_summary(rs, n_boot=20).datasets["d"].policies["adaptive"].levels
    assert lv.oracle == lv.frontier == 0.5
    assert lv.share is None and lv.share_ci is None
    assert lv.share_reason == "the oracle gains nothing over the frontier at this compute"


def test_summary_uses_only_shared_questions_and_sets_oracle_rows_aside():
    rs = uniform(GAP_UNIFORM) + adaptive({150.0: [(1, 200), (1, 200), (1, 200), (0, 200)]})
    rs.append(row("q9", "rag", 1.0, 1, 100))  # only one configuration has q9
    base = allocation_summary(rs, n_boot=50).datasets["d"]
    assert (base.n_questions, base.dropped_questions) == (4, 1)
    with_oracle = allocation_summary(rs + oracle(rs), n_boot=50).datasets["d"]
    assert with_oracle.to_dict() == base.to_dict()
    assert base.policies["adaptive"].levels[0].gap == pytest.approx(0.25)


def test_rungs_are_counted_per_level_and_the_json_says_the_oracle_is_a_bound():
    rs = uniform(GAP_UNIFORM) + adaptive(
        {150.0: [(1, 200), (1, 200), (1, 200), (0, 200)]},
        rungs={150.0: ["read", "read", "tree", None]})
    summary = allocation_summary(rs, n_boot=20)
    (lv,) = summary.datasets["d"].policies["adaptive"].levels
    assert dict(lv.rungs) == {"read": 2, "tree": 1, "(none)": 1}
    d = json.loads(json.dumps(summary.to_dict()))
    entry = d["datasets"]["d"]
    assert entry["oracle"]["unattainable"] is True
    assert entry["policies"]["adaptive"]["levels"][0]["oracle_unattainable"] is True
    assert entry["policies"]["adaptive"]["levels"][0]["gap_questions"] == pytest.approx(1.0)
    assert [p["strategy"] for p in entry["frontier"]] == ["rag", "rag"]


def test_a_dataset_without_adaptive_results_still_has_its_frontier_and_oracle():
    entry = allocation_summary(uniform(GAP_UNIFORM), n_boot=20).datasets["d"]
    assert entry.policies == {} and entry.not_applicable == "no adaptive results"
    assert entry.oracle.full.score == 0.75 and len(entry.frontier) == 2


def test_the_interval_is_paired_and_seeded():
    # Adaptive answers exactly as rag@1 does, at its compute: on any resample of questions the
    # two agree, so a paired interval is a point; resampling them apart would give a wide one.
    rng = np.random.default_rng(2)
    cheap = [(float(rng.random() < 0.5), 100) for _ in range(30)]
    rs = uniform({("rag", 1.0): cheap,
                  ("rag", 2.0): [(float(rng.random() < 0.7), 400) for _ in range(30)]})
    rs += adaptive({100.0: cheap})
    (lv,) = allocation_summary(rs, n_boot=300, seed=4).datasets["d"].policies["adaptive"].levels
    assert lv.gap == pytest.approx(0.0) and lv.gap_ci == pytest.approx((0.0, 0.0))
    rs += adaptive({400.0: [(float(rng.random() < 0.6), 300) for _ in range(30)]})
    a = allocation_summary(rs, n_boot=300, seed=4).to_dict()
    assert a == allocation_summary(rs, n_boot=300, seed=4).to_dict()
    assert a != allocation_summary(rs, n_boot=300, seed=5).to_dict()
