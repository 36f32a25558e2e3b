"""``forage.bench``: what ``forage bench`` runs, as a library call -- the lock, the journal, the
executor, the results and the report -- on the ``FunctionLLM`` double (the CLI test runs it end to
end with the real model)."""

from __future__ import annotations

import json

import pytest

import forage
from forage.core.errors import ConfigError, FolderInUse, SweepFailed
from forage.eval.bench import BenchProgress
from forage.eval.journal import Journal
from forage.llm.testing import FunctionLLM


def _llm(reply: str = " Selby Cove\n") -> FunctionLLM:
    return FunctionLLM(lambda request: reply)


class Recorder(BenchProgress):
    def __init__(self) -> None:
        self.events: list[str] = []
        self.cells: list[bool] = []

    def stage(self, what):
        self.events.append(what)
        return super().stage(what)

    def start(self, sweep):
        self.events.append(f"start {len(sweep.cells())}")

    def cell(self, cell, result, was_done):
        self.cells.append(was_done)

    def end(self):
        self.events.append("end")


def _bench(world, out, **kwargs):
    settings = {"strategies": ["rag"], "budgets": [1500, 500], "limit": 2, "out": out}
    return forage.bench([world], **{**settings, **kwargs})


def test_a_bench_journals_every_cell_writes_the_report_and_returns_typed_results(small_world,
                                                                                 tmp_path):
    out = tmp_path / "out"
    progress = Recorder()
    run = _bench(small_world.path, out, llm=_llm(), progress=progress)
    assert len(run.results) == 4 and not run.failures
    assert {(r.budget, r.knob) for r in run.results} == {(500.0, 1), (1500.0, 2)}  # rung i
    assert all(0 < r.compute <= r.budget for r in run.results)
    assert all(r.allocation == "uniform" and r.given == r.budget for r in run.results)
    assert run.backend.model == "function" and run.out == out
    data = json.loads(run.report.results_json.read_text())
    assert {(c["strategy"], c["budget"], c["allocation"]) for c in data["cells"]} == {
        ("rag", 500.0, "uniform"), ("rag", 1500.0, "uniform")}
    assert run.report.html.read_text().count('<details class="question"') == 2
    assert progress.events == ["loading datasets", "loading the model", "start 4", "end",
                               "writing the report"]
    assert progress.cells == [False] * 4


def test_a_rerun_takes_every_cell_from_the_journal_and_calls_nothing(small_world, tmp_path):
    out = tmp_path / "out"
    first = _bench(small_world.path, out, llm=_llm())
    again, progress = _llm(), Recorder()
    second = _bench(small_world.path, out, llm=again, progress=progress)
    assert progress.cells == [True] * 4 and again.requests == []
    assert [r.to_dict() for r in second.results] == [r.to_dict() for r in first.results]


def test_a_journal_of_another_configuration_is_refused_naming_what_changed(small_world, tmp_path):
    out = tmp_path / "out"
    _bench(small_world.path, out, llm=_llm())
    with pytest.raises(ConfigError, match="belongs to a different sweep.*budgets"):
        _bench(small_world.path, out, llm=_llm(), budgets=[500, 3000])


def test_a_folder_another_bench_holds_is_refused_before_the_model_loads(small_world, tmp_path):
    out = tmp_path / "out"
    loaded = []

    def load():
        loaded.append(True)
        return _llm()

    lock = Journal.lock(out / "journal.sqlite")
    try:
        with pytest.raises(FolderInUse):
            _bench(small_world.path, out, llm=load)
    finally:
        lock.release()
    assert loaded == []
    run = _bench(small_world.path, out, llm=load)  # the lock is free again
    assert loaded == [True] and len(run.results) == 4


def test_failed_cells_come_back_unjournaled_and_a_rerun_runs_them(small_world, tmp_path):
    out = tmp_path / "out"

    def broken(request):
        raise ValueError("a bug in the strategy")

    run = _bench(small_world.path, out, llm=FunctionLLM(broken))
    assert len(run.failures) == 4 and run.results == []
    assert "ValueError: a bug in the strategy" in run.failures[0].error
    with pytest.raises(SweepFailed, match="4 cell\\(s\\) failed"):
        run.raise_for_failures()
    fixed = _bench(small_world.path, out, llm=_llm())
    assert len(fixed.results) == 4 and not fixed.failures
    fixed.raise_for_failures()  # nothing to raise


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"strategies": ["rag", "nope"]}, "unknown strategy 'nope'"),
        ({"budgets": [10, 500]}, "below the cheapest possible run"),
        ({"seeds": [0, 0]}, "seeds repeat: 0"),
        ({"metric": "bleu"}, "unknown metric 'bleu'"),
        ({"split": "train"}, "unknown split 'train'"),
        ({"hierarchical": "nope"}, "unknown --hierarchical strategy 'nope'"),
        ({"limit": 0}, "at least 1"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(small_world, tmp_path, kwargs, message):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=message):
        _bench(small_world.path, out, llm=_llm(), **kwargs)
    assert not out.exists()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"allocation": "greedy"}, "unknown allocation policy 'greedy'"),
        ({"allocation": "adaptive", "strategies": ["read", "rag"]}, "unknown rung 'rag'"),
        ({"threshold": 0.7}, "settings of --allocation adaptive"),
        ({"allocation": "adaptive", "reserve": 1.5}, "reserve 1.5 is not in"),
        ({"allocation": "adaptive", "strategies": ["read", "read"]}, "listed twice"),
    ],
)
def test_bad_allocation_settings_are_refused_before_anything_is_written(small_world, tmp_path,
                                                                         kwargs, message):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=message):
        _bench(small_world.path, out, llm=_llm(), **{"strategies": None, **kwargs})
    assert not out.exists()


def test_an_adaptive_bench_spends_one_batch_budget_per_level_and_resumes_from_its_steps(
        small_world, tmp_path):
    out = tmp_path / "out"
    kwargs = {"strategies": None, "allocation": "adaptive", "limit": 4, "budgets": [400, 900]}
    steps = []

    class Steps(BenchProgress):
        def step(self, step):
            steps.append(step)

    run = _bench(small_world.path, out, llm=_llm(" unknown\n"), progress=Steps(), **kwargs)
    # every rung run was reported as it happened, none from the journal on a first run
    assert steps and not any(s.replayed for s in steps)
    assert {s.mean_budget for s in steps} == {400.0, 900.0} and all(s.of == 4 for s in steps)
    assert sum(len(r.trace["rungs"]) for r in run.results) == len(steps)
    assert {r.strategy for r in run.results} == {"adaptive"}
    assert len(run.results) == 8  # 4 questions x 2 levels
    for level in (400.0, 900.0):
        batch = [r for r in run.results if r.budget == level]
        assert sum(r.compute for r in batch) <= level * len(batch) + 1e-6
        assert all(r.allocation == "adaptive" and r.given is not None for r in batch)
        # nobody is confident: everyone is exhausted, the budget spread beyond the first reading
        assert all(r.exhausted and not r.prediction for r in batch)
    cells = json.loads((out / "results.json").read_text())["cells"]
    assert {c["allocation"] for c in cells} == {"adaptive"}
    assert all(c["given_mean"] <= c["budget"] * 4 for c in cells)
    rich = [r for r in run.results if r.budget == 900.0]
    assert max(len(r.trace["rungs"]) for r in rich) > 1
    import sqlite3

    db = sqlite3.connect(out / "journal.sqlite")
    assert db.execute("SELECT COUNT(*) FROM steps").fetchone()[0] >= 8
    # a kill after the rung runs were journaled but before the batch's results were: the rerun
    # replays the steps and calls the model for nothing
    with db:
        db.execute("DELETE FROM results")
    db.close()
    silent = FunctionLLM(lambda request: " unknown\n")
    steps.clear()
    again = _bench(small_world.path, out, llm=silent, progress=Steps(), **kwargs)
    assert silent.requests == []
    assert steps and all(s.replayed for s in steps)
    assert [r.compute for r in again.results] == [r.compute for r in run.results]


def test_the_oracle_reads_a_uniform_journal_and_an_adaptive_sweep_is_compared_with_it(
        small_world, tmp_path):
    uniform, adaptive = tmp_path / "uniform", tmp_path / "adaptive"
    with pytest.raises(ConfigError, match="no journal|none at"):
        forage.bench([], out=uniform, allocation="oracle")
    assert not (uniform / "journal.sqlite").exists()
    _bench(small_world.path, uniform, llm=_llm(), strategies=["rag", "direct"], limit=4)
    run = forage.bench([], out=uniform, allocation="oracle")
    data = json.loads((uniform / "results.json").read_text())
    oracle = data["allocation"]["datasets"]
    assert oracle  # one entry per dataset, computed without a model
    assert "oracle" in (uniform / "report.html").read_text()
    assert {r.allocation for r in run.results} == {"uniform"}
    both = _bench(small_world.path, adaptive, llm=_llm(), strategies=None, limit=4,
                  allocation="adaptive", against=[uniform])
    summary = json.loads((adaptive / "results.json").read_text())["allocation"]
    (entry,) = summary["datasets"].values()
    assert "adaptive" in entry["policies"]
    levels = entry["policies"]["adaptive"]["levels"]
    assert len(levels) == 2 and all(lv["compute"] > 0 for lv in levels)
    assert both.report.html.read_text().count("<h4>adaptive</h4>") == 1
