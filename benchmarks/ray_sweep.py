"""The same sweep on the local executor and on a local Ray cluster with 1 and 2 workers, side by side
in one run: wall time, its ratio to the local executor's, and Ray's overhead per cell.

Two sweeps over one generated world (``--world-seed``), each run three ways with a fresh cache
(so every run computes every call):

- ``model``: the embedded model (``--model``, one llama.cpp thread per process, local or worker),
  strategies ``--strategies`` at ``--budgets`` on ``--limit`` questions: what a user sees;
- ``instant``: the same plan answered by a test double that replies at once, so wall time is the
  executors' own cost (dispatch, result transfer, the call-cache round trips, journaling):
  ``overhead/cell`` = (wall on Ray - wall local) / cells.

The Ray instance is started once on this machine (``--cpus``, default 2), with its workers at
this process's priority (``worker_niceness`` 0; Ray's default, 15 steps lower, starves them on a
shared machine), and is not part of any wall time; starting the workers (each loads the model) is reported apart. Results of every run are
checked against the local run's (prediction and compute per cell), so a fast wrong run cannot pass.

Usage::

    PYTHONPATH=src python benchmarks/ray_sweep.py [--limit 3] [--model smollm2] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import ray

from forage.data.world import WorldSettings, generate_world
from forage.data.world.export import write_world
from forage.eval.datasets import open_dataset
from forage.eval.journal import BackendIdentity, Journal
from forage.eval.ray_executor import RayExecutor, RaySettings
from forage.eval.sweep import Sweep, SweepRun
from forage.llm.base import LLM
from forage.llm.cache import CallCache
from forage.llm.embedded import EmbeddedLLM
from forage.llm.testing import FunctionLLM
from forage.runtime import registry


@dataclass(frozen=True)
class Embedded:
    """The embedded model with one thread, built in whichever process calls it."""

    model: str

    def __call__(self) -> LLM:
        return EmbeddedLLM(self.model, n_ctx=2048, n_threads=1)


def _instant(request) -> str:  # type: ignore[no-untyped-def]
    return "Paris"


@dataclass(frozen=True)
class Instant:
    def __call__(self) -> LLM:
        return FunctionLLM(_instant, model_id="instant")


def run_local(sweep: Sweep, recipe, folder: Path) -> tuple[float, SweepRun]:  # type: ignore[no-untyped-def]
    llm = recipe()
    cache = CallCache(folder / "cache.sqlite")
    with Journal.open(folder / "journal.sqlite", sweep.config(BackendIdentity.of(llm))) as j:
        t0 = time.perf_counter()
        run = asyncio.run(sweep.run(llm=llm, journal=j, cache=cache))
        wall = time.perf_counter() - t0
    cache.close()
    return wall, run


def run_ray(sweep: Sweep, recipe, folder: Path, workers: int  # type: ignore[no-untyped-def]
            ) -> tuple[float, float, SweepRun]:
    settings = RaySettings(workers=workers)
    with RayExecutor(recipe, cache_path=folder / "cache.sqlite", settings=settings) as ex:
        t0 = time.perf_counter()
        identity = ex.start(sweep)
        started = time.perf_counter() - t0
        with Journal.open(folder / "journal.sqlite", sweep.config(identity)) as j:
            t0 = time.perf_counter()
            run = asyncio.run(sweep.run(executor=ex, journal=j))
            wall = time.perf_counter() - t0
    return started, wall, run


def summary(run: SweepRun) -> dict:
    return {(r.question_id, r.strategy, r.budget, r.seed): (r.prediction, round(r.compute, 6))
            for r in run.results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--strategies", default="rag")
    ap.add_argument("--budgets", default="500,1500")
    ap.add_argument("--limit", type=int, default=3, help="questions of the model sweep")
    ap.add_argument("--instant-limit", type=int, default=24, help="questions of the instant sweep")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    ap.add_argument("--world-seed", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    tmp = Path(tempfile.mkdtemp(prefix="ray-sweep-"))
    write_world(generate_world(WorldSettings(seed=args.world_seed, entities=200, hops=(1, 2),
                                             questions=120)), tmp / "world")
    specs = [registry.get(s) for s in args.strategies.split(",")]
    budgets = tuple(float(b) for b in args.budgets.split(","))
    plans = {
        "model": (Sweep([open_dataset(tmp / "world", limit=args.limit)], specs, budgets, (0,)),
                  Embedded(args.model)),
        "instant": (Sweep([open_dataset(tmp / "world", limit=args.instant_limit)], specs, budgets,
                          (0, 1)), Instant()),
    }

    t0 = time.perf_counter()
    # Workers at this process's priority (Ray's default runs them 15 niceness steps lower, which
    # on a shared machine measures the scheduler's priorities, not Ray's overhead).
    ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level=logging.WARNING,
             _system_config={"worker_niceness": 0})
    ray_start = time.perf_counter() - t0
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; Ray {ray.__version__} local "
          f"instance with {args.cpus} CPUs started in {ray_start:.1f}s (not in any wall time)")
    print(f"model sweep: {args.model}, {args.strategies} at {args.budgets}, {args.limit} questions;"
          f" instant sweep: the same plan on {args.instant_limit} questions x 2 seeds\n")
    header = (f"{'sweep':8} {'executor':10} {'cells':>5} {'start s':>8} {'wall s':>8} "
              f"{'vs local':>8} {'s/cell':>7} {'overhead/cell':>13}")
    print(header)
    print("-" * len(header))
    try:
        for name, (sweep, recipe) in plans.items():
            n = len(sweep.cells())
            local_wall, local = run_local(sweep, recipe, tmp / f"{name}-local")
            assert not local.failures, local.failures[:1]
            print(f"{name:8} {'local':10} {n:5d} {'':>8} {local_wall:8.2f} {1.0:8.2f} "
                  f"{local_wall / n:7.3f} {'':>13}", flush=True)
            for w in args.workers:
                started, wall, run = run_ray(sweep, recipe, tmp / f"{name}-ray{w}", w)
                assert not run.failures, run.failures[:1]
                same = summary(run) == summary(local)
                print(f"{name:8} {f'ray x{w}':10} {n:5d} {started:8.2f} {wall:8.2f} "
                      f"{wall / local_wall:8.2f} {wall / n:7.3f} "
                      f"{(wall - local_wall) / n * 1000:10.1f} ms"
                      + ("" if same else "  RESULTS DIFFER from local"), flush=True)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
