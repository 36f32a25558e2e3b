"""Drawing one trace tree: budget bars as shares of the run's budget, documents under searches."""

from __future__ import annotations

import re

from forage.report.trace_html import render_task, subtree_cost


def task(goal, actions=(), subtasks=(), pruned=False):
    return {"goal": goal, "actions": list(actions), "subtasks": list(subtasks),
            "pruned": pruned, "status": "done"}


def search(cost, ids):
    return {"kind": "search", "input": "q", "output": "t", "cost": cost, "meta": {"ids": ids}}


TREE = task("root", [search(50, ["a"])], [task("child", [search(150, ["b", "zzz"])], pruned=True)])


def test_subtree_cost_adds_every_action_below():
    assert subtree_cost(TREE) == 200
    assert subtree_cost(TREE["subtasks"][0]) == 150


def test_bars_are_the_subtree_share_of_the_scale():
    out = render_task(TREE, scale=400)
    widths = [float(w) for w in re.findall(r'<span style="width:([\d.]+)%">', out)]
    assert widths == [50.0, 37.5]
    assert "bar" not in render_task(TREE)  # no scale, no bars (as before)


def test_documents_open_under_their_search_escaped_and_unknown_ids_skipped():
    docs = {"a": {"title": "A", "text": "alpha <b>bold</b>"}, "b": {"title": "B", "text": "beta"}}
    out = render_task(TREE, documents=docs)
    assert out.count('class="doc"') == 2
    assert "alpha &lt;b&gt;bold&lt;/b&gt;" in out and "<b>bold</b>" not in out
    assert "document zzz" not in out  # an id the corpus does not have is skipped
