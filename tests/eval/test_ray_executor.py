"""Sweeps on a real local Ray head (`ray start --head` on 127.0.0.1, torn down after the module):
the results equal the local executor's, with the same seeds and the same cache; a worker killed
mid-sweep is restarted (or its cells handed to the others) and every cell is journaled exactly once.

The scheduling tests use a test-double backend (``ray_doubles``, shipped to the workers by value);
the command-line test loads SmolLM2 in a Ray worker (``embedded``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import ray
from ray import cloudpickle

from forage.cli.app import main
from forage.eval.datasets import open_dataset
from forage.eval.journal import BackendIdentity, Journal
from forage.eval.ray_executor import RayExecutor, RaySettings
from forage.eval.sweep import Sweep
from forage.llm.cache import CallCache
from forage.runtime import registry

from . import ray_doubles

pytestmark = pytest.mark.ray

cloudpickle.register_pickle_by_value(ray_doubles)  # the workers import forage, not tests/


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_head():
    """A Ray head on 127.0.0.1 with 2 CPUs in a fresh temp folder; this process is its driver.

    Token authentication off (RAY_AUTH_MODE=disabled for the head and the bench subprocesses):
    this process read Ray's configuration when it imported Ray, before the fixture could set
    RAY_AUTH_MODE=token, and a loopback cluster that lives for one test module needs none."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_AUTH_MODE", "disabled")
        mp.setenv("RAY_worker_niceness", "0")  # workers at the tests' priority, not 15 steps lower
        yield from _ray_head()


def _ray_head():  # type: ignore[no-untyped-def]
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="forage-ray-", dir="/tmp")  # short: Ray's sockets live there
    log = open(Path(temp) / "head.log", "wb")  # noqa: SIM115 - closed at teardown
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
         "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2", f"--temp-dir={temp}",
         "--include-dashboard=false", "--disable-usage-stats"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert head.poll() is None, (Path(temp) / "head.log").read_text()[-3000:]
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert time.monotonic() < deadline, "the Ray head did not open its port in 180s"
            time.sleep(0.5)
        ray.init(address=address, logging_level=logging.WARNING)
        yield address
    finally:
        ray.shutdown()
        head.terminate()  # `ray start --block` stops the processes it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)  # its own session: only what it started
            head.wait()
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def plan(world: Path, *strategies: str, limit: int = 3) -> Sweep:
    ds = open_dataset(world, limit=limit)
    return Sweep([ds], [registry.get(s) for s in strategies], (500.0, 3000.0), (0, 1))


def comparable(result) -> dict:  # type: ignore[no-untyped-def]
    """A result without wall-clock fields and replay flags (a replayed call is the same call)."""
    r = json.loads(json.dumps(result.to_dict()))
    r.pop("seconds")
    r["usage"] = {k: v for k, v in r["usage"].items() if not k.endswith("seconds")}
    r["trace"]["meta"].pop("ledger", None)

    def strip(task: dict) -> None:
        for a in task["actions"]:
            a.pop("replayed")
        if task.get("budget"):
            task["budget"]["usage"] = {k: v for k, v in task["budget"]["usage"].items()
                                       if not k.endswith("seconds")}
        for s in task["subtasks"]:
            strip(s)

    strip(r["trace"]["trace"])
    return r


def llm_actions(result) -> list[dict]:  # type: ignore[no-untyped-def]
    out: list[dict] = []

    def walk(task: dict) -> None:
        out.extend(a for a in task["actions"] if a["kind"] == "generate")
        for s in task["subtasks"]:
            walk(s)

    walk(result.trace["trace"])
    return out


def run_local(sweep: Sweep, folder: Path, delay: float = 0.0):  # type: ignore[no-untyped-def]
    llm = ray_doubles.Recipe(delay)()
    cache = CallCache(folder / "cache.sqlite")
    try:
        with Journal.open(folder / "journal.sqlite", sweep.config(BackendIdentity.of(llm))) as j:
            return asyncio.run(sweep.run(llm=llm, journal=j, cache=cache))
    finally:
        cache.close()


def run_ray(sweep: Sweep, folder: Path, executor: RayExecutor, on_cell=None):  # type: ignore[no-untyped-def]
    identity = executor.start(sweep)
    with Journal.open(folder / "journal.sqlite", sweep.config(identity)) as j:
        run = asyncio.run(sweep.run(executor=executor, journal=j, on_cell=on_cell))
        assert len(j) == len(sweep.cells())  # one row per cell (the key is the primary key)
    return run


def by_key(results) -> dict:  # type: ignore[no-untyped-def]
    out = {}
    for r in results:
        key = (r.dataset, r.question_id, r.strategy, r.budget, r.seed)
        assert key not in out, f"{key} twice"
        out[key] = comparable(r)
    return out


def test_ray_sweep_equals_the_local_sweep_and_shares_its_cache(ray_head, small_world, tmp_path):
    sweep = plan(small_world.path, "rag", "self_consistency")
    local = run_local(sweep, tmp_path / "local")
    assert not local.failures and len(local.results) == len(sweep.cells()) == 24

    settings = RaySettings(address=ray_head, workers=2)
    with RayExecutor(ray_doubles.Recipe(), cache_path=tmp_path / "ray" / "cache.sqlite",
                     settings=settings) as ex:
        remote = run_ray(sweep, tmp_path / "ray", ex)
        assert len(ex.served) == 2 and set(ex.served) == set(ex.worker_names)
    assert not remote.failures
    assert by_key(remote.results) == by_key(local.results)
    assert [r.question_id for r in remote.results] == [r.question_id for r in local.results]
    # Every call the workers made went into the driver's cache file, as a local sweep's do.
    stored = cache_size(tmp_path / "ray" / "cache.sqlite")
    assert stored == cache_size(tmp_path / "local" / "cache.sqlite") > 0

    # The same cache: a Ray sweep into a new journal replays every call and agrees.
    shutil.copy(tmp_path / "local" / "cache.sqlite", tmp_path / "replay.sqlite")
    with RayExecutor(ray_doubles.Recipe(), cache_path=tmp_path / "replay.sqlite",
                     settings=settings) as ex:
        replay = run_ray(sweep, tmp_path / "replay", ex)
    actions = [a for r in replay.results for a in llm_actions(r)]
    assert actions and all(a["replayed"] for a in actions)
    assert by_key(replay.results) == by_key(local.results)
    assert cache_size(tmp_path / "replay.sqlite") == stored


def cache_size(path: Path) -> int:
    cache = CallCache(path)
    try:
        return len(cache)
    finally:
        cache.close()


def killer(executor: RayExecutor, victim: int, log: list):  # type: ignore[no-untyped-def]
    """An ``on_cell`` that SIGKILLs worker ``victim``'s process when the first cell comes back
    (the workers are on this machine: it is the only node) and logs every cell it sees."""

    def on_cell(cell, result, skipped):  # type: ignore[no-untyped-def]
        log.append(cell.key)
        if len(log) == 1:
            pid = int(executor.worker_names[victim].split("@")[0])
            os.kill(pid, signal.SIGKILL)

    return on_cell


def test_a_killed_worker_is_restarted_and_its_cells_journaled_once(ray_head, small_world,
                                                                    tmp_path):
    sweep = plan(small_world.path, "rag", limit=4)  # 16 cells, 0.2 s each
    reference = run_local(sweep, tmp_path / "local")
    seen: list = []
    settings = RaySettings(address=ray_head, workers=2, max_restarts=2, max_task_retries=2)
    with RayExecutor(ray_doubles.Recipe(0.2), cache_path=tmp_path / "ray" / "cache.sqlite",
                     settings=settings) as ex:
        run = run_ray(sweep, tmp_path / "ray", ex, on_cell=killer(ex, 0, seen))
        restarted = set(ex.served) - set(ex.worker_names)
    assert restarted, f"no cell ran on a restarted worker: {dict(ex.served)}"
    assert not run.failures
    assert sorted(seen) == sorted(c.key for c in sweep.cells())  # each cell once, none lost
    assert by_key(run.results) == by_key(reference.results)


def test_a_worker_gone_for_good_hands_its_cells_to_the_others(ray_head, small_world, tmp_path):
    sweep = plan(small_world.path, "rag", limit=4)
    reference = run_local(sweep, tmp_path / "local")
    seen: list = []
    settings = RaySettings(address=ray_head, workers=2, max_restarts=0, max_task_retries=0)
    with RayExecutor(ray_doubles.Recipe(0.2), cache_path=tmp_path / "ray" / "cache.sqlite",
                     settings=settings) as ex:
        run = run_ray(sweep, tmp_path / "ray", ex, on_cell=killer(ex, 0, seen))
        served = dict(ex.served)
    dead, alive = ex.worker_names
    assert set(served) <= {dead, alive} and served[alive] > served.get(dead, 0)
    assert not run.failures
    assert sorted(seen) == sorted(c.key for c in sweep.cells())
    assert by_key(run.results) == by_key(reference.results)


def test_errors_every_cell_would_hit_end_the_sweep_as_themselves(ray_head, small_world, tmp_path):
    from forage.core.errors import ConnectError, ModelLoadError

    sweep = plan(small_world.path, "rag", limit=2)
    settings = RaySettings(address=ray_head, workers=1)
    with RayExecutor(ray_doubles.Unloadable(), settings=settings) as ex:
        with pytest.raises(ModelLoadError, match="no weights at /models/missing.gguf"):
            ex.start(sweep)
    with RayExecutor(ray_doubles.Unreachable(), settings=settings) as ex:
        with pytest.raises(ConnectError, match="cannot reach the model server") as caught:
            run_ray(sweep, tmp_path / "down", ex)
    assert type(caught.value) is ConnectError  # itself, not Ray's wrapper with a traceback
    assert "Traceback" not in str(caught.value)


def test_ray_options_need_the_ray_executor(small_world, tmp_path, capsys):
    code = main(["bench", "--dataset", str(small_world.path), "--address", "127.0.0.1:1",
                 "--out", str(tmp_path / "b")])
    assert code == 2
    assert "--address, --workers, --cpus-per-worker and --connect-timeout need --executor ray" in (
        capsys.readouterr().err)
    code = main(["bench", "--dataset", str(small_world.path), "--executor", "ray",
                 "--workers", "0", "--out", str(tmp_path / "b")])
    assert code == 2
    assert "workers must be at least 1, not 0" in capsys.readouterr().err


def test_a_successful_ray_bench_prints_nothing_of_rays_on_stderr(ray_head, small_world, tmp_path):
    from stub_openai import StubServer  # type: ignore[import-not-found]

    with StubServer("ok") as stub:
        done = bench("--dataset", str(small_world.path), "--strategies", "rag", "--budgets", "500",
                     "--limit", "2", "--base-url", stub.url, "--retries", "0", "--executor", "ray",
                     "--address", ray_head, "--workers", "1", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-2000:]
    # No Ray log lines (an "E core_worker.cc" line, a token-auth WARNING): stderr is empty.
    assert done.stderr == "", done.stderr[-2000:]
    assert "wrote" in done.stdout


def journal_rows(folder: Path) -> dict:
    con = sqlite3.connect(f"file:{folder / 'journal.sqlite'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT dataset, question_id, strategy, budget, seed, result "
                           "FROM results").fetchall()
    finally:
        con.close()
    from forage.report.results import Result

    return {tuple(r[:5]): Result.from_dict(json.loads(r[5])) for r in rows}


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "forage.cli.app", "bench", *args],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.embedded  # SmolLM2 in this test's forage subprocess, then in one Ray worker
def test_bench_on_ray_with_smollm2_agrees_with_local_bench(ray_head, small_world, tmp_path):
    common = ["--dataset", str(small_world.path), "--strategies", "rag", "--budgets", "500,1500",
              "--limit", "2", "--model", "smollm2", "--n-ctx", "1024"]
    local = bench(*common, "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr[-2000:]
    # The same seeds and the same cache, on one Ray worker of the test's head.
    (tmp_path / "ray").mkdir()
    shutil.copy(tmp_path / "local" / "cache.sqlite", tmp_path / "ray" / "cache.sqlite")
    remote = bench(*common, "--executor", "ray", "--address", ray_head, "--workers", "1",
                   "--out", str(tmp_path / "ray"))
    assert remote.returncode == 0, remote.stderr[-2000:]
    a, b = journal_rows(tmp_path / "local"), journal_rows(tmp_path / "ray")
    assert len(a) == 4 and a.keys() == b.keys()
    assert {k: comparable(r) for k, r in a.items()} == {k: comparable(r) for k, r in b.items()}
    assert all(x["replayed"] for r in b.values() for x in llm_actions(r))
    # A fresh cache: the worker's own model answers every call, within every budget.
    fresh = bench(*common, "--executor", "ray", "--address", ray_head, "--workers", "1",
                  "--out", str(tmp_path / "fresh"))
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    c = journal_rows(tmp_path / "fresh")
    assert c.keys() == a.keys()
    assert all(r.compute <= r.budget for r in c.values())
    assert all(llm_actions(r) and not any(x["replayed"] for x in llm_actions(r))
               for r in c.values())
    assert json.loads((tmp_path / "fresh" / "results.json").read_text())["cells"]
