"""``benchmarks/reader_calibration.py``'s pure helpers (importing it loads no model)."""

from __future__ import annotations

import pytest
from benchmark_scripts import load_benchmark

rc = load_benchmark("reader_calibration")


def test_the_paired_line_counts_discordant_readings_and_uses_exact_mcnemar():
    # 10 readings only the new model got right, 2 only the old one, 2 neither; one reading the
    # old run lacks is left out. McNemar exact, B ~ Binomial(12, 1/2): 2 * 79 / 4096 = 0.0386.
    old = {f"up{i}": False for i in range(10)} | {"down0": True, "down1": True}
    new = {f"up{i}": True for i in range(10)} | {"down0": False, "down1": False}
    old |= {"none0": False, "none1": False}
    new |= {"none0": False, "none1": False, "new_only": True}
    line = rc.paired_line("old", old, "new", new)
    assert line == ("  paired (new vs old, 14 readings): right thing 10 vs 2; better on 10, "
                    "worse on 2; McNemar p = 0.0386")


def test_the_paired_line_of_identical_runs_has_p_one():
    runs = {"a|whole/hop": True, "b|whole/hop": False}
    assert rc.paired_line("m", runs, "m2", runs).endswith("better on 0, worse on 0; McNemar p = 1")


def test_did_right_answers_where_the_passage_says_and_abstains_where_not():
    answerable, hop = {"kind": "whole/answerable"}, {"kind": "whole/hop"}
    assert rc.did_right(answerable, {"right": True, "confidence": 0.9})
    assert not rc.did_right(answerable, {"right": True, "confidence": 0.2})
    assert not rc.did_right(answerable, {"right": False, "confidence": 0.9})
    assert rc.did_right(hop, {"right": False, "confidence": 0.2})
    assert not rc.did_right(hop, {"right": True, "confidence": 0.9})


def test_balanced_is_the_mean_of_the_two_rates():
    rows = [{"kind": "whole/answerable"}] * 2 + [{"kind": "whole/hop"}] * 4
    res = [{"right": True, "confidence": 0.9}, {"right": True, "confidence": 0.1}] + [
        {"right": False, "confidence": c} for c in (0.1, 0.1, 0.1, 0.9)]
    assert rc.balanced(rows, res, 0.5) == pytest.approx((1 / 2 + 3 / 4) / 2)


def test_auroc_counts_ties_as_half():
    assert rc.auroc([0.9, 0.5], [0.5, 0.1]) == pytest.approx((1 + 1 + 0.5 + 1) / 4)
