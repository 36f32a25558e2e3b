"""Cell statistics, bootstrap CIs and the efficiency figures against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forage.report.statistics import (
    Gain,
    MatchFigure,
    Point,
    auc_log_compute,
    bootstrap_ci,
    bootstrap_compute_to_match,
    cell_stats,
    common_range,
    compute_to_match,
    curve,
    efficiency,
    gain_at_equal_compute,
    pareto_frontier,
)

from eval.helpers import result


def test_bootstrap_ci_of_a_constant_is_the_constant():
    assert bootstrap_ci([0.5, 0.5, 0.5], n_boot=50, seed=3) == (0.5, 0.5)


def test_bootstrap_ci_of_two_values_spans_both():
    # Resample means of [0, 1] are 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4: the 2.5th
    # percentile is 0 and the 97.5th is 1 for any reasonable number of resamples.
    assert bootstrap_ci([0.0, 1.0], n_boot=2000, seed=0) == (0.0, 1.0)


def test_bootstrap_ci_follows_the_documented_draws():
    values = [1.0, 2.0, 4.0]
    idx = np.random.default_rng(11).integers(0, 3, size=(5, 3))
    means = sorted(sum(values[i] for i in row) / 3 for row in idx)
    # numpy's linear percentile of 5 sorted values: position p/100 * 4.
    lo = means[0] + (means[1] - means[0]) * 0.1
    hi = means[3] + (means[4] - means[3]) * 0.9
    got = bootstrap_ci(values, n_boot=5, seed=11)
    assert got == pytest.approx((lo, hi))
    assert bootstrap_ci(values, n_boot=5, seed=11) == got  # seeded: the same every time
    assert bootstrap_ci([], n_boot=5)[0] != bootstrap_ci([], n_boot=5)[0]  # nan for no values


def test_cell_stats_means_totals_and_counters():
    rs = [
        result(qid="a", acc=1.0, compute=100.0, prompt_tokens=10),
        result(qid="b", acc=0.0, compute=200.0, prompt_tokens=20),
        result(qid="c", acc=1.0, compute=300.0, prompt_tokens=30),
    ]
    s = cell_stats(rs, n_boot=100)
    assert s.n == 3
    assert s.acc == pytest.approx(2 / 3) and s.em == pytest.approx(2 / 3)
    assert s.compute_mean == 200.0 and s.compute_total == 600.0
    assert s.counters_mean["prompt_tokens"] == 20.0
    assert s.counters_total["prompt_tokens"] == 60.0
    assert s.counters_mean["search_calls"] == 1.0
    d = s.to_dict()
    assert d["prompt_tokens_mean"] == 20.0 and d["completion_tokens_total"] == 6.0
    assert 0.0 <= d["acc_ci"][0] <= 2 / 3 <= d["acc_ci"][1] <= 1.0


def test_results_journaled_before_the_wait_was_kept_apart_still_aggregate():
    old, new = result(qid="a"), result(qid="b")
    del old.usage["llm_wait_seconds"]  # a row written before the field existed
    old.usage["llm_seconds"], new.usage["llm_seconds"] = 3.0, 1.0
    new.usage["llm_wait_seconds"] = 2.0
    s = cell_stats([old, new], n_boot=10)
    assert s.counters_total["llm_seconds"] == 4.0 and s.counters_total["llm_wait_seconds"] == 2.0
    assert s.to_dict()["llm_wait_seconds_mean"] == 1.0


def test_cell_stats_refuses_mixed_cells():
    with pytest.raises(ValueError):
        cell_stats([result(budget=1.0e3), result(budget=2.0e3)])


def test_pareto_frontier_keeps_only_undominated_points():
    pts = [Point("a", 1, 100, 0.2), Point("b", 2, 200, 0.5), Point("c", 3, 150, 0.1),
           Point("d", 4, 300, 0.5), Point("e", 5, 400, 0.6), Point("f", 6, 100, 0.1)]
    assert [p.strategy for p in pareto_frontier(pts)] == ["a", "b", "e"]


FLAT = [Point("rag", 1, 100, 0.2), Point("rag", 2, 200, 0.4), Point("rag", 3, 400, 0.5),
        Point("react", 1, 150, 0.3), Point("react", 2, 300, 0.5)]
TREE = [Point("tree", 1, 80, 0.3), Point("tree", 2, 160, 0.5), Point("tree", 3, 320, 0.7)]


def test_compute_to_match_uses_the_cheapest_best_flat_point():
    m = compute_to_match(FLAT + TREE, "tree")
    assert m is not None
    assert (m.flat.strategy, m.flat.compute, m.target) == ("react", 300, 0.5)
    assert m.hierarchical == TREE[1]
    assert m.ratio == pytest.approx(160 / 300)


def test_compute_to_match_not_reached_and_absent():
    low = [Point("tree", 1, 80, 0.3), Point("tree", 2, 160, 0.45)]
    m = compute_to_match(FLAT + low, "tree")
    assert m is not None and m.hierarchical is None and m.ratio is None
    assert compute_to_match(FLAT, "tree") is None
    assert compute_to_match(TREE, "tree") is None


def test_gain_at_equal_compute_interpolates_in_log_compute():
    gains = gain_at_equal_compute(FLAT + TREE, "tree")
    # rag@100: tree between 80 (0.3) and 160 (0.5): log10(100/80)/log10(2) = 0.321928 of the way.
    frac = math.log10(100 / 80) / math.log10(2)
    assert gains["rag"][0] == pytest.approx((100, 0.3 + 0.2 * frac - 0.2))
    assert gains["rag"][1] == pytest.approx((200, 0.5 + 0.2 * math.log10(200 / 160) / math.log10(2) - 0.4))
    assert len(gains["rag"]) == 2  # rag@400 lies beyond the tree's range
    step = 0.2 * math.log10(150 / 80) / math.log10(2)  # react@150 and @300: same offset
    assert [c for c, _ in gains["react"]] == [150, 300]
    assert [g for _, g in gains["react"]] == pytest.approx([step, step])
    assert gain_at_equal_compute(FLAT, "tree") == {}


def test_auc_is_the_mean_score_over_log_compute():
    pts = [Point("a", 1, 10, 0.0), Point("a", 2, 100, 1.0), Point("a", 3, 1000, 1.0)]
    assert auc_log_compute(pts, 10, 1000) == pytest.approx(0.75)  # (0.5 + 1) / 2 decades
    assert auc_log_compute(pts, 10, 100) == pytest.approx(0.5)
    assert auc_log_compute(pts, 31.6227766, 100) == pytest.approx((0.5 + 1) / 2 * 1.0, abs=1e-6)
    assert auc_log_compute(pts, 5, 1000) is None  # not covered
    assert auc_log_compute(pts, 100, 100) is None  # empty range


def test_common_range_is_the_overlap_of_all_curves():
    pts = [Point("a", 1, 10, 0), Point("a", 2, 1000, 1), Point("b", 1, 50, 0), Point("b", 2, 500, 1)]
    assert common_range(pts) == (50, 500)
    assert common_range([Point("a", 1, 10, 0), Point("b", 1, 20, 0)]) is None
    assert [p.compute for p in curve(pts, "b")] == [50, 500]


def _table(tree_acc: float, tree_compute: float):
    qs = [f"q{i}" for i in range(6)]
    return {
        ("rag", 1.0): {q: (1.0 if i % 2 else 0.0, 200.0) for i, q in enumerate(qs)},
        ("tree", 1.0): {q: (tree_acc, tree_compute) for q in qs},
    }


def test_bootstrap_compute_to_match_ci():
    # The tree is always right at 100 units; rag's best is reached by any resample: ratio 0.5.
    assert bootstrap_compute_to_match(_table(1.0, 100.0), "tree", n_boot=200) == (0.5, 0.5, 1.0)
    # The tree never reaches rag's best (> 0 in almost every resample): unbounded, never reached.
    lo, hi, share = bootstrap_compute_to_match(_table(0.0, 100.0), "tree", n_boot=200, seed=1)
    assert hi == math.inf and share < 0.05
    assert bootstrap_compute_to_match(_table(1.0, 100.0), "absent", n_boot=10) is None


def test_efficiency_reports_na_without_the_hierarchical_strategy():
    rs = [result(qid=q, strategy="rag", budget=b, acc=a, compute=c)
          for q in ("a", "b") for b, a, c in ((500.0, 0.0, 100.0), (2000.0, 1.0, 300.0))]
    stats = [cell_stats([r for r in rs if r.budget == b], n_boot=50) for b in (500.0, 2000.0)]
    eff = efficiency(stats, rs, hierarchical="tree", n_boot=50).datasets["d"]
    assert eff.compute_to_match is None and eff.gains is None
    assert eff.not_applicable == "tree was not in the sweep"
    assert eff.auc["rag"] == pytest.approx(0.5)
    eff = efficiency(stats, rs, hierarchical="rag", n_boot=50).datasets["d"]
    assert eff.compute_to_match is None  # no flat strategy to match
    assert eff.not_applicable == "no flat strategy in the sweep"
    # The JSON edge: null and a reason, never a string standing in for a number.
    d = eff.to_dict()
    assert d["compute_to_match"] is None and d["gain_at_equal_compute"] is None
    assert d["not_applicable"] == "no flat strategy in the sweep"


def test_compute_to_match_ci_uses_every_question_when_cells_differ():
    table = {
        ("rag", 1.0): {"a": (1.0, 200.0), "b": (0.0, 200.0), "c": (1.0, 200.0)},
        ("tree", 1.0): {"a": (1.0, 100.0), "b": (1.0, 100.0)},  # c failed for the tree
    }
    lo, hi, share = bootstrap_compute_to_match(table, "tree", n_boot=300)
    assert lo == hi == 0.5 and share == 1.0


def test_efficiency_compute_to_match_is_na_when_no_flat_strategy_scores():
    rs = [result(qid=q, strategy=s, budget=500.0, acc=0.0, compute=c)
          for q in ("a", "b") for s, c in (("rag", 100.0), ("tree", 300.0))]
    stats = [cell_stats([r for r in rs if r.strategy == s], n_boot=20) for s in ("rag", "tree")]
    eff = efficiency(stats, rs, hierarchical="tree", n_boot=20).datasets["d"]
    assert eff.compute_to_match is None and eff.not_applicable == "no flat strategy scored above 0"
    assert eff.auc == {"rag": None, "tree": None}  # single points: no range


def test_efficiency_is_typed_and_its_json_keeps_the_numbers():
    rs = [result(qid=q, strategy=s, budget=b, acc=a, compute=c)
          for q in ("a", "b", "c")
          for s, b, a, c in (("rag", 500.0, 0.0, 100.0), ("rag", 2000.0, 1.0, 400.0),
                             ("tree", 500.0, 1.0, 200.0))]
    stats = [cell_stats([r for r in rs if (r.strategy, r.budget) == k], n_boot=20)
             for k in (("rag", 500.0), ("rag", 2000.0), ("tree", 500.0))]
    eff = efficiency(stats, rs, hierarchical="tree", n_boot=50).datasets["d"]
    ctm = eff.compute_to_match
    assert isinstance(ctm, MatchFigure) and ctm.reached and ctm.ratio == pytest.approx(0.5)
    assert ctm.ratio_ci == (0.5, 0.5) and ctm.reached_share == 1.0
    assert isinstance(eff.gains["rag"], Gain)
    d = eff.to_dict()
    assert d["compute_to_match"]["ratio"] == pytest.approx(0.5)
    assert d["compute_to_match"]["ratio_ci"] == [0.5, 0.5]
    assert d["gain_at_equal_compute"]["rag"]["mean"] == eff.gains["rag"].mean


def test_no_confidence_interval_from_a_single_value():
    assert all(math.isnan(v) for v in bootstrap_ci([1.0], n_boot=50))
    s = cell_stats([result(acc=1.0)], n_boot=50)
    assert all(math.isnan(v) for v in s.em_ci)
    # compute-to-match over one question: a point estimate, no interval
    rs = [result(qid="a", strategy="rag", acc=1.0, compute=200.0),
          result(qid="a", strategy="tree", acc=1.0, compute=100.0)]
    stats = [cell_stats([r], n_boot=20) for r in rs]
    ctm = efficiency(stats, rs, hierarchical="tree", n_boot=20).datasets["d"].compute_to_match
    assert ctm is not None and ctm.ratio == pytest.approx(0.5) and ctm.ratio_ci is None
