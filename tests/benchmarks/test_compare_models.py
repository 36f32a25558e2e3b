"""``benchmarks/compare_models.py`` on two tiny ``results.json`` files (it reads files only)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

cm = load_benchmark("compare_models")


def _run(path: Path, em: dict[str, float]) -> str:
    cells = [{"dataset": "d", "strategy": s, "budget": 1.0, "n": 20, "em": v,
              "em_ci": [v - 0.1, v + 0.1], "f1": v, "compute_mean": 10.0} for s, v in em.items()]
    eff = {"hierarchical": "tree", "datasets": {"d": {"auc": {}, "auc_own": {}}}}
    path.write_text(json.dumps({"cells": cells, "efficiency": eff}))
    return str(path)


def test_two_runs_print_a_row_per_cell_and_a_cell_by_cell_count(tmp_path, monkeypatch, capsys):
    a = _run(tmp_path / "a.json", {"tree": 0.5, "react": 0.25})
    b = _run(tmp_path / "b.json", {"tree": 0.75, "react": 0.25})
    monkeypatch.setattr(sys, "argv", ["compare_models.py", f"small={a}", f"big={b}"])
    assert cm.main() == 0
    out = capsys.readouterr().out
    assert "| tree | 1 | 0.500 [0.40, 0.60] | 0.500 | 10.0 | 0.750 [0.65, 0.85] | 0.750 | 10.0 |" in out
    assert ("- big vs small, cell by cell: higher in 1, equal in 1, lower in 0 of 2 cells; "
            "mean em 0.500 vs 0.375") in out


def test_runs_over_other_questions_are_refused(tmp_path, monkeypatch):
    a = _run(tmp_path / "a.json", {"tree": 0.5})
    b = _run(tmp_path / "b.json", {"react": 0.5})
    monkeypatch.setattr(sys, "argv", ["compare_models.py", f"a={a}", f"b={b}"])
    with pytest.raises(SystemExit, match="scored other cells"):
        cm.main()
    with pytest.raises(SystemExit, match="LABEL=path"):
        cm.load("no-label")


def test_with_journals_beside_the_results_each_cell_gets_a_paired_difference_and_mcnemar(
        tmp_path, monkeypatch, capsys):
    from forage.eval.journal import BackendIdentity, Journal, SweepConfig
    from forage.report.results import Result

    def sweep(name: str, right: list[int]) -> str:
        folder = tmp_path / name
        folder.mkdir()
        config = SweepConfig({"d": "x"}, {"tree": ("attempts", (1,))}, (1.0,), (0,),
                             BackendIdentity("test", name, "completion"))
        with Journal.open(folder / "journal.sqlite", config) as j:
            for i, ok in enumerate(right):
                j.record(Result(f"q{i}", "tree", 1, 1.0, 0, "", [], float(ok), float(ok),
                                float(ok), 10.0, {}, False, 0.0, dataset="d"))
        return _run(folder / "results.json", {"tree": sum(right) / len(right)})

    # 12 questions: b (only big right) = 10, c (only small right) = 2 -> exact p = 0.0386
    small = sweep("small", [0] * 10 + [1, 1])
    big = sweep("big", [1] * 10 + [0, 0])
    monkeypatch.setattr(sys, "argv", ["compare_models.py", f"small={small}", f"big={big}"])
    assert cm.main() == 0
    out = capsys.readouterr().out
    assert "big - small paired [CI] McNemar p" in out
    row = next(line for line in out.splitlines() if line.startswith("| tree |"))
    assert "+0.667 [" in row and "p=0.039" in row


def test_dataset_filter_compares_runs_on_the_dataset_they_share(tmp_path, monkeypatch, capsys):
    a = _run(tmp_path / "a.json", {"tree": 0.5})
    b = tmp_path / "b.json"
    _run(b, {"tree": 0.75})
    both = json.loads(b.read_text())  # b also swept a second dataset
    both["cells"].append({**both["cells"][0], "dataset": "other"})
    b.write_text(json.dumps(both))
    monkeypatch.setattr(sys, "argv", ["compare_models.py", f"a={a}", f"b={b}"])
    with pytest.raises(SystemExit, match="scored other cells"):
        cm.main()
    monkeypatch.setattr(sys, "argv", ["compare_models.py", f"a={a}", f"b={b}", "--dataset", "d"])
    assert cm.main() == 0
    out = capsys.readouterr().out
    assert "**d**" in out and "**other**" not in out
    monkeypatch.setattr(sys, "argv", ["compare_models.py", f"a={a}", f"b={b}", "--dataset", "x"])
    with pytest.raises(SystemExit, match="no cells of x"):
        cm.main()
