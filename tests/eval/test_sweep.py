"""Sweep planning: budget levels map to a compute cap and a ladder rung; bad budgets refused;
with the call cache a rerun into a new journal calls the model zero times and agrees."""

from __future__ import annotations

import dataclasses

import pytest

from forage.core.errors import ConfigError
from forage.eval.datasets import open_dataset, parse_hops, select
from forage.eval.journal import BackendIdentity, Journal
from forage.core.budget_rules import check_budgets, knob_for, min_budget
from forage.eval.sweep import Sweep, check_seeds
from forage.llm.cache import CallCache
from forage.llm.testing import FunctionLLM
from forage.runtime import registry

RAG = registry.get("rag")
FN = BackendIdentity.of(FunctionLLM(lambda r: ""))  # what any FunctionLLM declares


def test_knob_follows_the_ladder_and_clamps():
    spec = dataclasses.replace(RAG, ladder=(1, 3))
    assert [knob_for(spec, i) for i in range(4)] == [1, 3, 3, 3]


def test_budgets_sorted_and_checked():
    assert check_budgets([2000, 500]) == (500.0, 2000.0)
    assert min_budget() == 50 + 64 * 0.25 + 1
    with pytest.raises(ConfigError, match="below the cheapest possible run"):
        check_budgets([10, 500])
    with pytest.raises(ConfigError, match="repeat"):
        check_budgets([500, 500])


def test_hops_and_selection(small_world):
    assert parse_hops("2-4") == (2, 4) and parse_hops("3") == (3, 3) and parse_hops(None) is None
    with pytest.raises(ConfigError):
        parse_hops("4-2")
    picked = select(small_world.test, hops=(2, 2), limit=3)
    assert len(picked) == 3 and all(q.hops == 2 for q in picked)


async def test_cells_record_budget_level_and_knob_and_rerun_replays(small_world, tmp_path):
    ds = open_dataset(small_world.path, limit=2)
    sweep = Sweep([ds], [RAG], (3000.0, 500.0), (0,))
    assert sweep.budgets == (500.0, 3000.0)
    cells = sweep.cells()
    assert [(c.level, c.budget, c.knob) for c in cells] == [
        (0, 500.0, 1), (0, 500.0, 1), (1, 3000.0, 2), (1, 3000.0, 2)]
    llm = FunctionLLM(lambda r: "Paris")
    cache = CallCache(tmp_path / "cache.sqlite")
    with Journal.open(tmp_path / "a.sqlite", sweep.config(BackendIdentity.of(llm))) as j:
        first = (await sweep.run(llm=llm, journal=j, cache=cache)).results
    assert [(r.budget_level, r.knob, r.budget) for r in first] == [
        (c.level, c.knob, c.budget) for c in cells]
    assert all(r.compute <= r.budget for r in first)
    calls = len(llm.requests)
    assert calls == 4
    with Journal.open(tmp_path / "b.sqlite", sweep.config(BackendIdentity.of(llm))) as j:
        second = (await sweep.run(llm=llm, journal=j, cache=cache)).results
    assert len(llm.requests) == calls  # all replayed from the cache
    assert [(r.prediction, r.compute) for r in second] == [(r.prediction, r.compute) for r in first]


async def test_run_refuses_a_journal_of_another_model(small_world, tmp_path):
    sweep = Sweep([open_dataset(small_world.path, limit=1)], [RAG], (500.0,), (0,))
    other = dataclasses.replace(FN, model="other-model")
    with Journal.open(tmp_path / "j.sqlite", sweep.config(other)) as j:
        with pytest.raises(ConfigError, match="'other-model'"):
            await sweep.run(llm=FunctionLLM(lambda r: "x"), journal=j)


async def test_run_refuses_a_journal_of_the_same_model_with_other_prompts(small_world, tmp_path):
    # A journal built by a completion-profile backend, continued by a backend that serves a
    # model of the same name with chat prompts (the --base-url case).
    sweep = Sweep([open_dataset(small_world.path, limit=1)], [RAG], (500.0,), (0,))
    completion = dataclasses.replace(FN, profile="completion")
    chat = FunctionLLM(lambda r: "x")
    assert chat.capabilities.prompt_profile == "chat"
    with Journal.open(tmp_path / "j.sqlite", sweep.config(completion)) as j:
        with pytest.raises(ConfigError, match="completion prompts, not 'function' with chat"):
            await sweep.run(llm=chat, journal=j)
        assert len(j) == 0


def test_repeated_seeds_are_refused(small_world):
    with pytest.raises(ConfigError, match="seeds repeat: 0"):
        Sweep([open_dataset(small_world.path, limit=1)], [RAG], (500.0,), (0, 0))
    with pytest.raises(ConfigError, match="seeds repeat: 1"):
        check_seeds([1, 2, 1])
    assert check_seeds([2, 0]) == (2, 0)


def test_open_dataset_shared_file_split_and_corpus(tmp_path):
    from pathlib import Path

    shared = Path(__file__).resolve().parents[2] / "data" / "hotpotqa_dev_distractor_500.jsonl"
    ds = open_dataset(shared, limit=5)
    assert len(ds.dev) == 50 and len(ds.questions) == 5
    assert ds.questions[0].id not in {q.id for q in ds.dev}
    assert len(ds.corpus) > 4000  # pooled over all 500 questions
    assert len(open_dataset(shared, split_name="all").questions) == 500
    with pytest.raises(ConfigError, match="unknown dataset"):
        open_dataset(tmp_path / "missing.jsonl")
    with pytest.raises(ConfigError, match="unknown split"):
        open_dataset(shared, split_name="train")


def test_a_strategy_that_cannot_be_imported_is_refused_up_front(small_world):
    broken = dataclasses.replace(RAG, name="broken", target="forage.strategies.nowhere:Nothing")
    with pytest.raises(ConfigError, match="'broken' cannot be loaded"):
        Sweep([open_dataset(small_world.path, limit=1)], [broken], (500.0,), (0,))


async def test_a_failing_cell_is_listed_not_journaled_and_the_rest_run(small_world, tmp_path):
    ds = open_dataset(small_world.path, limit=3)
    sweep = Sweep([ds], [RAG], (500.0,), (0,))
    bad = ds.questions[1].text

    def reply(request):
        if bad in request.text_for_counting():
            raise RuntimeError("strategy bug")
        return "Paris"

    with Journal.open(tmp_path / "j.sqlite", sweep.config(FN)) as j:
        run = await sweep.run(llm=FunctionLLM(reply), journal=j)
        assert [r.question_id for r in run.results] == [ds.questions[0].id, ds.questions[2].id]
        assert [f.cell.question.id for f in run.failures] == [ds.questions[1].id]
        assert "RuntimeError: strategy bug" in run.failures[0].error
        assert len(j) == 2
        # A rerun retries only the failed cell.
        llm = FunctionLLM(lambda r: "Paris")
        run = await sweep.run(llm=llm, journal=j)
        assert len(llm.requests) == 1 and not run.failures and len(j) == 3


async def test_an_unreachable_server_ends_the_sweep(small_world, tmp_path):
    from forage.core.errors import ConnectError

    sweep = Sweep([open_dataset(small_world.path, limit=2)], [RAG], (500.0,), (0,))

    def down(request):
        raise ConnectError("cannot reach the server")

    with Journal.open(tmp_path / "j.sqlite", sweep.config(FN)) as j:
        with pytest.raises(ConnectError):
            await sweep.run(llm=FunctionLLM(down), journal=j)


async def test_results_from_an_executor_in_any_order_are_journaled_once_in_plan_order(
        small_world, tmp_path):
    # An executor that answers out of order and sends one outcome twice (a retried item whose
    # first attempt came back after all): the sweep journals and reports each cell once.
    from forage.eval.executor import CellRunner

    ds = open_dataset(small_world.path, limit=3)
    sweep = Sweep([ds], [RAG], (500.0, 3000.0), (0,))
    llm = FunctionLLM(lambda r: "Paris")

    class Shuffled:
        def matches(self, backend):
            return backend.matches(llm)

        async def outcomes(self, sweep, cells):
            runner = CellRunner(sweep, llm)
            done = [await runner.attempt(c) for c in reversed(cells)]
            for outcome in done + done[:1]:
                yield outcome

    seen = []
    with Journal.open(tmp_path / "j.sqlite", sweep.config(FN)) as j:
        run = await sweep.run(executor=Shuffled(), journal=j,
                              on_cell=lambda c, r, skipped: seen.append(c.key))
        assert len(j) == 6
    assert sorted(seen) == sorted(c.key for c in sweep.cells())
    assert [(r.question_id, r.budget) for r in run.results] == [
        (c.question.id, c.budget) for c in sweep.cells()]
    with pytest.raises(ConfigError, match="either llm or executor"):
        await sweep.run(executor=Shuffled(), llm=llm, journal=j)
