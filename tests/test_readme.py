"""The README's library example runs as written, with the real embedded model.

The model's exact words differ between machines and llama.cpp builds, so the test checks what any
competent run prints: an answer drawn from the example corpus (or a run marked exhausted), a
compute total within the example's budget that equals the sum of the trace's action costs, and a
task tree for the question asked.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from answer_checks import assert_drawn_from, assert_short_span

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Who designed Skerry Point Lighthouse?"


def _all_actions(task: dict) -> list[dict]:
    return task["actions"] + [a for sub in task["subtasks"] for a in _all_actions(sub)]


@pytest.mark.embedded  # the example loads SmolLM2 in a subprocess
def test_readme_library_example_runs_and_answers():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "the README has a python example"
    example = blocks[0]
    assert QUESTION in example and "Budget(3000)" in example, "the example this test reads"
    r = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    first, _, rest = r.stdout.partition("\n")
    text, _, compute = first.rpartition(" ")  # print(answer.text, compute)
    tree = ast.literal_eval(rest.strip())  # print(answer.task.to_dict())

    assert tree["goal"] == QUESTION
    assert 0 < float(compute) <= 3000
    assert sum(a["cost"] for a in _all_actions(tree)) == pytest.approx(float(compute))
    assert any(a["kind"] == "search" for a in _all_actions(tree))
    if tree["status"] == "exhausted":
        return
    assert text.strip(), "not exhausted, so the example must print an answer"
    assert_short_span(text, QUESTION)
    corpus = [p.read_text() for p in (ROOT / "examples" / "corpus").iterdir()]
    assert_drawn_from(text, corpus, at_least=0.5)


@pytest.mark.embedded  # the example loads SmolLM2 in a subprocess
def test_readme_bench_example_runs_and_reports_every_cell(tmp_path):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    example = next(b for b in blocks if "forage.bench(" in b)
    (tmp_path / "data").symlink_to(ROOT / "data")  # run where the example's paths resolve
    r = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True,
                       cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line.split() for line in r.stdout.splitlines()]
    assert {(s, float(b)) for s, b, *_ in rows} == {
        (s, b) for s in ("rag", "self_consistency") for b in (500.0, 1500.0)}
    for _, budget, n, em, compute in rows:
        assert int(n) == 2 and 0 <= float(em) <= 1 and 0 < float(compute) <= float(budget)
    assert (tmp_path / "runs" / "readme-bench" / "report.html").exists()
