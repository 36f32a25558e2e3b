"""The trace viewer as a user sees it: ``/view/<id>`` of a live ``forage serve`` loaded in
headless Chromium (Debian's ``chromium``, driven by Playwright's Python API with
``executable_path``; no browser download), opened with the trace's own token as a browser would.

The test keeps a full-page screenshot, ``viewer.png``, in its ``tmp_path`` and copies it into
``$FORAGE_SCREENSHOT_DIR`` when that is set. Without Chromium or Playwright it is skipped with the
reason, unless ``FORAGE_REQUIRE_BROWSER=1`` (``.ci/run`` sets it), where their absence fails.
"""

from __future__ import annotations

from browser_support import chromium_page, keep_screenshot
from serve_helpers import ask, chat, live_server


def test_viewer_draws_the_tree_with_pruned_branches_budget_bars_and_documents(tmp_path):
    shot = tmp_path / "viewer.png"
    with live_server() as live:
        ext = chat(live, ask(budget=3000)).json()["forage"]
        nodes = ext["nodes"]
        n_pruned = sum(1 for n in nodes if n["pruned"])
        assert len(nodes) >= 3 and n_pruned >= 2
        with chromium_page(console_errors=True) as (page, errors):
            page.goto(live.url + ext["view_url"])
            # one <details> per node of the tree, the pruned ones marked and greyed
            assert page.locator("details.task").count() == len(nodes)
            assert page.locator("details.task.pruned").count() == n_pruned
            assert page.locator("tr.node").count() == len(nodes)
            assert page.locator("tr.node.pruned").count() == n_pruned
            pruned_summary = page.locator("details.task.pruned > summary").first
            assert pruned_summary.evaluate("e => getComputedStyle(e).color") == \
                "rgb(153, 153, 153)"
            assert page.locator(".pruned-badge").first.is_visible()
            # budget bars: the run's and one per node, the root's filled by what it spent
            assert page.locator("details.task .bar").count() == len(nodes)
            root_fill = page.locator("details.task .bar > span").first.evaluate(
                "e => e.getBoundingClientRect().width")
            assert root_fill > 0
            assert page.locator(".run-budget > span").evaluate(
                "e => e.getBoundingClientRect().width") > 0
            # searches and their documents open on demand (the page's script runs under CSP)
            doc = page.locator("details.doc").filter(has_text="born in Harrowgate").first
            assert not doc.is_visible()
            page.locator("#expand").click()
            assert doc.is_visible()
            assert "Ada Prell was born in Harrowgate" in doc.inner_text()
            assert page.locator("details.action.search").first.is_visible()
            for goal in ("Who founded the Lantern Society?", "Where was Ada Prell born?"):
                assert page.locator("details.task > summary", has_text=goal).count() >= 1
            page.screenshot(path=str(shot), full_page=True)
            assert errors == []
    keep_screenshot(shot)
