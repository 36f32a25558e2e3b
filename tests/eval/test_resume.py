"""A sweep killed mid-way (SIGKILL, in a subprocess) and started again ends with the same results
as an uninterrupted sweep, recomputing no finished cell and losing none."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

CHILD = Path(__file__).with_name("sweep_child.py")


def start(world: Path, out: Path, log: Path, delay: float) -> subprocess.Popen[bytes]:
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(world), str(out), str(log), str(delay)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def rows(out: Path) -> list[tuple]:
    db = out / "journal.sqlite"
    if not db.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return con.execute(
                "SELECT dataset, question_id, strategy, budget, seed, result, created FROM results "
                "ORDER BY rowid"
            ).fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:  # the table is not created yet
        return []


def comparable(result_json: str) -> dict:
    """A result without wall-clock fields and replay flags (a replayed call is the same call)."""
    r = json.loads(result_json)
    r.pop("seconds")
    r["usage"] = {k: v for k, v in r["usage"].items() if not k.endswith("seconds")}

    def strip(task: dict) -> None:
        for a in task["actions"]:
            a.pop("replayed")
        if task.get("budget"):
            task["budget"]["usage"] = {
                k: v for k, v in task["budget"]["usage"].items() if not k.endswith("seconds")
            }
        for s in task["subtasks"]:
            strip(s)

    strip(r["trace"]["trace"])
    r["trace"]["meta"].pop("ledger", None)
    return r


def prompts_of(result_json: str) -> set[str]:
    from sweep_child import prompt_hash  # type: ignore[import-not-found]

    r = json.loads(result_json)
    return {prompt_hash(a["input"]) for a in r["trace"]["trace"]["actions"] if a["kind"] == "generate"}


def test_killed_sweep_resumes_without_recomputing_or_losing(small_world, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(CHILD.parent))
    world = small_world.path

    # The reference: one uninterrupted sweep.
    ref_out, ref_log = tmp_path / "ref", tmp_path / "ref.log"
    p = start(world, ref_out, ref_log, 0.0)
    assert p.wait(timeout=120) == 0, p.stderr.read().decode()  # type: ignore[union-attr]
    reference = rows(ref_out)
    ref_calls = ref_log.read_text().split()
    assert len(reference) == 16  # 4 questions x 2 strategies x 2 budgets

    # The same sweep, killed once 5 cells are journaled, then started again.
    out, log = tmp_path / "run", tmp_path / "run.log"
    p = start(world, out, log, 0.3)
    deadline = time.monotonic() + 120
    while len(rows(out)) < 5:
        assert p.poll() is None, "the sweep finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    at_kill = rows(out)
    assert 5 <= len(at_kill) < 16
    calls_before = log.read_text().split()

    p = start(world, out, log, 0.0)
    assert p.wait(timeout=120) == 0, p.stderr.read().decode()  # type: ignore[union-attr]
    after = rows(out)
    calls_after = log.read_text().split()[len(calls_before):]

    # Nothing lost, nothing rewritten: the rows journaled before the kill are untouched.
    assert after[: len(at_kill)] == at_kill
    # Same results as the uninterrupted sweep, cell by cell.
    assert len(after) == len(reference)
    by_key = {row[:5]: comparable(row[5]) for row in reference}
    assert {row[:5]: comparable(row[5]) for row in after} == by_key
    # Nothing recomputed: the restart never called the model for a journaled cell's prompt, and
    # in all the two runs called it at most once more than the reference (the call in flight when
    # the process was killed).
    journaled_prompts = set().union(*(prompts_of(row[5]) for row in at_kill))
    assert not journaled_prompts & set(calls_after)
    assert len(calls_before) + len(calls_after) <= len(ref_calls) + 1
    assert set(calls_before) | set(calls_after) == set(ref_calls)


def test_rerun_of_a_finished_sweep_calls_nothing(small_world, tmp_path):
    out, log = tmp_path / "run", tmp_path / "run.log"
    for _ in range(2):
        p = start(small_world.path, out, log, 0.0)
        assert p.wait(timeout=120) == 0, p.stderr.read().decode()  # type: ignore[union-attr]
        if _ == 0:
            first = log.read_text().split()
    assert log.read_text().split() == first
    assert len(rows(out)) == 16
