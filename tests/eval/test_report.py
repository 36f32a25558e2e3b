"""The report files: results.json keys, PNG plots, and one self-contained HTML page."""

from __future__ import annotations

import json

from forage.eval.report import render_task, write_report

from .helpers import result, task

CELL_KEYS = {"dataset", "strategy", "budget", "budget_level", "knob", "n", "em", "f1", "acc",
             "em_ci", "f1_ci", "acc_ci", "compute_mean", "compute_total", "compute_ci",
             "prompt_tokens_mean", "completion_tokens_mean", "search_calls_mean",
             "llm_calls_total", "seconds_mean", "exhausted_rate"}


def sweep_results():
    rs = []
    for q, text in (("q1", "Who designed the tower?"), ("q2", "Where is Tarn Isle?")):
        for strategy, budgets in (("rag", (500.0, 2000.0)), ("tree", (500.0, 2000.0))):
            for b in budgets:
                tree_trace = task(text, subtasks=[task("first hop", pruned=True),
                                                  task("second hop")])
                rs.append(result(
                    qid=q, question=text, strategy=strategy, budget=b,
                    acc=1.0 if (strategy == "tree" or b == 2000.0) else 0.0,
                    compute=b / 5 if strategy == "rag" else b / 10,
                    trace=tree_trace if strategy == "tree" else None,
                ))  # fmt: skip
    return rs


def test_results_json_has_cells_and_efficiency(tmp_path):
    rep = write_report(tmp_path, sweep_results(), hierarchical="tree", n_boot=100,
                       meta={"model": "fn"})
    data = json.loads(rep.results_json.read_text())
    assert len(data["cells"]) == 4
    for cell in data["cells"]:
        assert CELL_KEYS <= set(cell), CELL_KEYS - set(cell)
        assert cell["n"] == 2
    rag500 = next(c for c in data["cells"] if c["strategy"] == "rag" and c["budget"] == 500.0)
    assert rag500["acc"] == 0.0 and rag500["compute_mean"] == 100.0
    eff = data["efficiency"]["datasets"]["d"]
    ctm = eff["compute_to_match"]
    # best flat: rag@2000 (acc 1 at 400 units); tree reaches acc 1 at 50 units: ratio 0.125.
    assert ctm["reached"] and ctm["ratio"] == 0.125 and ctm["flat_strategy"] == "rag"
    assert ctm["ratio_ci"] == [0.125, 0.125]
    assert {p["strategy"] for p in eff["pareto"]} == {"tree"}
    assert data["meta"] == {"model": "fn"}


def test_html_is_self_contained_with_tables_plots_and_traces(tmp_path):
    rep = write_report(tmp_path, sweep_results(), hierarchical="tree", n_boot=100)
    page = rep.html.read_text()
    assert rep.plots["d"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.count('<img alt="d accuracy vs compute" src="data:image/png;base64,') == 1
    assert page.count('<tr class="cell">') == 4
    assert "<td>rag</td><td>500</td>" in page and "<td>tree</td><td>2000</td>" in page
    assert page.count('<details class="question"') == 2
    assert "Who designed the tower?" in page and "Where is Tarn Isle?" in page
    assert page.count('<details class="task pruned"') == 4  # one per tree run
    assert 'class="badge pruned-badge">pruned</span>' in page
    assert "compute-to-match" in page
    for remote in ("http://", "https://", "<link", "<script src"):
        assert remote not in page


def test_render_task_marks_pruned_subtasks_and_escapes():
    out = render_task(task("<b>goal</b>", subtasks=[task("done part", pruned=True)]))
    assert "&lt;b&gt;goal&lt;/b&gt;" in out and "<b>goal</b>" not in out
    assert out.count("pruned-badge") == 1
    assert out.count("<details") == out.count("</details>")
