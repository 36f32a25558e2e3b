"""report.html as a user sees it: loaded in headless Chromium (Debian's ``chromium`` package,
driven by Playwright's Python API with ``executable_path``; no browser download).

The test keeps a full-page screenshot, ``report.png``, next to the report in its ``tmp_path``
(pytest keeps the last three runs under ``/tmp/pytest-of-$USER/``), and copies it into
``$FORAGE_SCREENSHOT_DIR`` when that is set. Without Chromium or Playwright the test is skipped
with the reason, unless ``FORAGE_REQUIRE_BROWSER=1`` (``.ci/run`` sets it after installing both),
where their absence fails.
"""

from __future__ import annotations

from browser_support import chromium_page, keep_screenshot

from forage.report.sweep_report import write_report

from .test_sweep_report import sweep_results


def test_report_renders_curves_tables_and_trace_trees_in_chromium(tmp_path):
    rep = write_report(tmp_path, sweep_results(), hierarchical="tree", n_boot=100,
                       meta={"model": "fn"})
    shot = tmp_path / "report.png"
    with chromium_page() as (page, errors):
        page.goto(rep.html.as_uri())
        # The curve: a decoded, non-empty image.
        img = page.locator("img[alt='d accuracy vs compute']")
        assert img.count() == 1
        assert img.evaluate("i => i.complete && i.naturalWidth > 300 && i.naturalHeight > 200")
        assert img.bounding_box()["width"] > 300
        # The tables: one row per cell, the efficiency figures with numbers, not n/a.
        assert page.locator("tr.cell").count() == 4
        assert page.locator("tr.cell").first.is_visible()
        eff = page.locator("table.efficiency").inner_text()
        assert "compute-to-match" in eff and "0.12x of rag@2000" in eff
        # The trace trees: collapsed questions; "expand all" opens every level, pruned
        # subtasks marked.
        questions = page.locator("details.question")
        assert questions.count() == 2
        assert not page.locator("details.task.pruned").first.is_visible()
        page.get_by_role("button", name="expand all").click()
        assert page.locator("details.task.pruned").first.is_visible()
        assert page.locator(".pruned-badge").first.is_visible()
        assert page.locator("details.question[open]").count() == 2
        # The filter hides the questions that do not match.
        page.get_by_placeholder("filter questions").fill("tarn")
        assert questions.nth(0).is_hidden() and questions.nth(1).is_visible()
        page.get_by_placeholder("filter questions").fill("")
        page.screenshot(path=str(shot), full_page=True)
        assert errors == []
    keep_screenshot(shot)
