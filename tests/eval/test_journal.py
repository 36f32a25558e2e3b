"""The journal: named migrations applied once, results stored and read back, another sweep's
configuration refused."""

from __future__ import annotations

import sqlite3

import pytest

from forage.core.errors import ConfigError
from forage.eval.journal import (
    MIGRATIONS,
    BackendIdentity,
    Journal,
    SweepConfig,
    cell_key,
    file_digest,
)

from .helpers import result, task


EMBEDDED = BackendIdentity("embedded", "smollm2", "completion", "sha256:aa")


def config(**changes) -> SweepConfig:
    base = dict(
        datasets={"d": "abc"}, strategies={"rag": ("k", (1, 2))}, budgets=(500.0, 2000.0),
        seeds=(0,), backend=EMBEDDED, exemplars={"n_reader": 2},
        cost_model={"search_call": 50.0}, forage="0.1.0",
    )  # fmt: skip
    base.update(changes)
    return SweepConfig(**base)


def test_results_round_trip_and_keys(tmp_path):
    r = result(qid="q7", trace=task("Who?", subtasks=[task("sub", pruned=True)]))
    with Journal.open(tmp_path / "j.sqlite", config()) as j:
        j.record(r)
        assert len(j) == 1
    with Journal.open(tmp_path / "j.sqlite", config()) as j:
        (back,) = list(j.results())
        assert back == r
        assert j.done() == {("d", "q7", "rag", 1000.0, 0)} == {cell_key(r)}


def test_migrations_are_named_applied_once_in_order(tmp_path):
    path = tmp_path / "j.sqlite"
    Journal.open(path, config()).close()
    Journal.open(path, config()).close()
    names = [row[0] for row in sqlite3.connect(path).execute(
        "SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [name for name, _ in MIGRATIONS]
    assert len(names) == len(set(names)) >= 2


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"budgets": (500.0, 4000.0)}, "budgets"),
        ({"datasets": {"d": "changed"}}, "datasets.d file changed"),
        ({"backend": BackendIdentity("embedded", "gemma3-270m", "completion", "sha256:bb")},
         "backend.model"),
        # The same model name served by a server with chat prompts is another backend.
        ({"backend": BackendIdentity("openai-compatible", "smollm2", "chat", "served:smollm2")},
         'backend.kind "embedded" -> "openai-compatible"'),
        ({"backend": BackendIdentity("embedded", "smollm2", "chat", "sha256:aa")},
         'backend.profile "completion" -> "chat"'),
        ({"backend": BackendIdentity("embedded", "smollm2", "completion", "sha256:cc")},
         "backend.weights"),
        ({"cost_model": {"search_call": 10.0}}, "cost_model.search_call 50.0 -> 10.0"),
        ({"forage": "0.2.0"}, 'forage "0.1.0" -> "0.2.0"'),
        ({"strategies": {"rag": ("k", (1, 2)), "react": ("iterations", (1,))}}, "strategies.react added"),
        ({"seeds": (0, 1)}, "seeds"),
        ({"exemplars": {"n_reader": 3}}, "exemplars.n_reader"),
    ],
)
def test_a_journal_of_another_sweep_is_refused(tmp_path, change, needle):
    path = tmp_path / "j.sqlite"
    with Journal.open(path, config()) as j:
        j.record(result())
    with pytest.raises(ConfigError, match="different sweep") as err:
        Journal.open(path, config(**change))
    assert needle in str(err.value) and "\n" not in str(err.value)
    with Journal.open(path, config()) as j:  # the original configuration still opens it
        assert len(j) == 1


def test_file_digest_changes_with_content(tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_text("one")
    d1 = file_digest(a)
    a.write_text("two")
    assert file_digest(a) != d1
