"""The report files: results.json keys, PNG plots, and one self-contained HTML page."""

from __future__ import annotations

import dataclasses
import html
import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from forage.report.sweep_report import describe, draw_dataset, render_task, write_report  # noqa: E402

from eval.helpers import result, task

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


# -- the plot (issue 10: labels, hidden points, frontier, n = 1, ticks) -------------------------


def _cells(results):
    from forage.report.sweep_report import aggregate

    return aggregate(results, n_boot=50)


def _figure_texts(fig):
    from matplotlib.text import Text

    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def test_a_dataset_name_with_dollars_and_backslashes_is_plotted_literally(tmp_path):
    # Before: matplotlib parsed "$...$" as mathtext and the sweep lost its report at the very end.
    name = r"run$\q{$ C:\data\set.jsonl"  # an even count of "$": mathtext would parse it
    rs = [dataclasses.replace(r, dataset=name, strategy=r"st$\x") for r in sweep_results()]
    rep = write_report(tmp_path, rs, hierarchical="tree", n_boot=50)
    assert rep.plot_errors == {}
    (png,) = rep.plots.values()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = draw_dataset(name, _cells(rs), "em")
    try:
        texts = {t.get_text() for t in _figure_texts(fig)}
        assert any(name in t for t in texts) and r"st$\x" in texts
    finally:
        plt.close(fig)


def test_a_plot_that_fails_does_not_lose_the_report(tmp_path, monkeypatch):
    import forage.report.sweep_report as report

    def broken(*args, **kwargs):
        raise ValueError("drawing bug")

    monkeypatch.setattr(report, "draw_dataset", broken)
    rep = write_report(tmp_path, sweep_results(), n_boot=20)
    assert rep.plots == {} and "drawing bug" in rep.plot_errors["d"]
    page = rep.html.read_text()
    assert "the plot could not be drawn: ValueError: drawing bug" in page
    assert page.count('<tr class="cell">') == 4 and rep.results_json.exists()


def test_plot_labels_do_not_overlap_and_coinciding_budgets_merge(tmp_path):
    # rag spends the same at 400 and 1500 (its knob saturates): one label "400/1500", not
    # "4001500" drawn twice at the same place; tree sits exactly on rag's points.
    rs = []
    for q in ("a", "b"):
        for b in (400.0, 1500.0, 4000.0):
            rs.append(result(qid=q, strategy="rag", budget=b, acc=0.5 if q == "a" else 0.0,
                             compute=300.0))
            rs.append(result(qid=q, strategy="tree", budget=b, acc=0.5 if q == "a" else 0.0,
                             compute=300.0))
    fig = draw_dataset("d", _cells(rs), "em")
    try:
        ax = fig.axes[0]
        renderer = fig.canvas.get_renderer()
        labels = [t for t in ax.texts if t.get_text()]
        assert sorted(t.get_text() for t in labels) == ["400/1500/4000", "400/1500/4000"]
        boxes = [t.get_window_extent(renderer) for t in labels]
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
        # identical points are drawn apart (dodged) with different markers
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        rag, tree = lines["rag"], lines["tree"]
        assert rag.get_marker() != tree.get_marker()
        px = [ln.get_transform().transform((300.0, 0.25))[0] for ln in (rag, tree)]
        assert abs(px[0] - px[1]) >= 2  # pixels apart
    finally:
        plt.close(fig)


def test_the_frontier_is_drawn_to_the_right_edge_and_ticks_are_plain_numbers():
    fig = draw_dataset("d", _cells(sweep_results()), "em")
    try:
        ax = fig.axes[0]
        (front,) = [ln for ln in ax.get_lines() if ln.get_label() == "Pareto frontier"]
        xs = front.get_xdata()
        assert xs[-1] == pytest.approx(ax.get_xlim()[1]) and len(xs) >= 2
        fig.canvas.draw()
        ticks = [t.get_text() for t in ax.get_xticklabels(minor=False)
                 + ax.get_xticklabels(minor=True) if t.get_text()]
        assert ticks and all(re.fullmatch(r"[0-9.,]+", t) for t in ticks), ticks
    finally:
        plt.close(fig)


def test_no_ci_for_a_single_run_and_html_auc_matches_the_terminal(tmp_path):
    # One question per cell: no interval anywhere, and no error bars.
    rs = [r if r.strategy == "rag" else dataclasses.replace(r, compute=r.budget / 100)
          for r in sweep_results() if r.question_id == "q1"]  # tree 5-20 units, rag 100-400
    rep = write_report(tmp_path, rs, hierarchical="tree", n_boot=50)
    page = rep.html.read_text()
    assert page.count("<td>—</td>") == 4 and "[1.00, 1.00]" not in page
    fig = draw_dataset("d", rep.cells, "em")
    try:
        assert not [c for c in fig.axes[0].collections if c.get_label().startswith("_")
                    and len(c.get_segments()) > 0]
    finally:
        plt.close(fig)
    # rag and tree do not overlap in compute: AUC falls back to each one's own range (marked *);
    # the page shows exactly what the terminal shows.
    text = describe(rep.efficiency.datasets["d"])
    assert "*" in text.auc
    assert html.escape(text.auc) in page and html.escape(text.compute_to_match) in page
    assert "n/a (one question)" in page
