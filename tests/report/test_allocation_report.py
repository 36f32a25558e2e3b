"""The allocation pictures and HTML section: what they draw and say, not how they look."""

from __future__ import annotations

import html

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from forage.report.allocation import allocation_summary  # noqa: E402
from forage.report.allocation_report import (  # noqa: E402
    FRONTIER_LABEL,
    ORACLE_LABEL,
    allocation_html,
    draw_allocation,
    draw_rungs,
    rung_order,
    write_allocation_figures,
)

from report.test_allocation import GAP_UNIFORM, adaptive, uniform  # noqa: E402

LEVELS = {150.0: [(1, 200), (1, 200), (1, 200), (0, 200)],
          30.0: [(1, 50), (0, 50), (0, 50), (0, 50)]}
RUNGS = {150.0: ["read", "tree", "replan", "passages"], 30.0: ["read", "read", "read", None]}


def summary(dataset: str = "d"):
    rs = uniform(GAP_UNIFORM, dataset=dataset)
    rs += adaptive(LEVELS, rungs=RUNGS, dataset=dataset)
    return allocation_summary(rs, n_boot=50)


def test_the_curve_shows_uniform_frontier_adaptive_and_the_oracle_as_unattainable():
    entry = summary().datasets["d"]
    fig = draw_allocation(entry)
    try:
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["uniform rag", FRONTIER_LABEL, ORACLE_LABEL, "adaptive"]
        assert ORACLE_LABEL == "oracle (unattainable)"
        assert ax.get_xscale() == "log"
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        assert lines[ORACLE_LABEL].get_linestyle() == "--"
        ada = lines["adaptive"]
        assert list(ada.get_xdata()) == [50.0, 200.0]  # mean spent compute, not the budget
        assert list(ada.get_ydata()) == [0.25, 0.75]
        assert lines["adaptive"].get_linewidth() > lines["uniform rag"].get_linewidth()
        # The frontier runs from the cheapest configuration to the costliest.
        assert list(lines[FRONTIER_LABEL].get_xdata()) == [100.0, 400.0, 400.0]
    finally:
        plt.close(fig)


def test_rung_bars_stack_to_each_levels_question_count_in_ladder_order():
    entry = summary().datasets["d"]
    pol = entry.policies["adaptive"]
    assert rung_order(pol.levels) == ["read", "passages", "tree", "replan", "(none)"]
    fig = draw_rungs(entry)
    try:
        ax = fig.axes[0]
        heights: dict[float, float] = {}
        for patch in ax.patches:
            x = round(patch.get_x() + patch.get_width() / 2)
            heights[x] = heights.get(x, 0) + patch.get_height()
        assert heights == {0: 4, 1: 4}  # levels 30 and 150, four questions each
        assert [t.get_text() for t in ax.get_xticklabels()] == ["30", "150"]
        read = [p.get_height() for p in ax.containers[0]]  # the first stack: "read"
        assert read == [3, 1]
    finally:
        plt.close(fig)


def test_rungs_need_adaptive_results():
    entry = allocation_summary(uniform(GAP_UNIFORM), n_boot=10).datasets["d"]
    with pytest.raises(ValueError):
        draw_rungs(entry)


def test_figures_are_written_and_the_section_has_a_row_per_level(tmp_path):
    s = summary("<d&>")
    paths, errors = write_allocation_figures(tmp_path, s)
    assert errors == {}
    assert [p.name for p in paths["<d&>"]] == ["allocation_d.png", "rungs_d.png"]
    for p in paths["<d&>"]:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = allocation_html(s, paths)
    assert page.startswith('<section class="allocation">') and page.endswith("</section>")
    assert "<h3>&lt;d&amp;&gt;</h3>" in page and "<d&>" not in page
    assert page.count('src="data:image/png;base64,') == 2
    assert page.count('<tr class="level">') == 2
    assert "oracle (unattainable)" in page and "unattainable" in page
    text = html.unescape(page)
    # level 150: 0.75 at 200 units against a frontier of 0.5: +0.25, one question.
    assert "<td>150</td><td>4</td><td>0.750</td><td>200.0</td><td>0.500</td><td>+0.250 [" in text
    assert "n/a (below the cheapest uniform configuration (100.0 units))" in text
    assert "<td>read 1, passages 1, tree 1, replan 1</td>" in text  # ladder order, not input's
    # The oracle at 200 units upgrades one of q1, q2 (+300 each, 400 in room): 0.5, no gain.
    assert ("<td>0.500</td><td>n/a (the oracle gains nothing over the frontier at this "
            "compute)</td>") in text
    # best uniform 0.75 at 400 (rag@2); adaptive's curve reaches it at 200 units.
    assert "0.50x of rag@2 (0.750)" in text


def test_a_missing_figure_and_a_plot_error_are_said_not_raised(tmp_path):
    page = allocation_html(summary(), {"d": [tmp_path / "gone.png"]}, {"d": "ValueError: x"})
    assert "gone.png could not be read" in page
    assert "a plot could not be drawn: ValueError: x" in page
