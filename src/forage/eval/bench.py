"""``forage.bench``: a whole sweep as one library call -- the lock, the journal, the executor, the
results and the report -- which ``forage bench`` wraps.

``bench(datasets, strategies=[...], budgets=[...], out=FOLDER, llm=...)`` checks every input
before any work, loads the datasets, plans the ``Sweep``, takes the output folder's lock (a second
bench into the same folder is refused with ``FolderInUse`` before a model loads), loads the backend
(``llm``: a backend, or a zero-argument function that builds one once the lock is held; default the
embedded ``model``), opens the journal for the sweep's configuration (a journal of another
configuration is refused, naming what changed), runs what the journal lacks on the local executor
with a call cache (``FOLDER/cache.sqlite``) or on the ``executor`` given (Ray), and writes
``results.json``, the plots and ``report.html``. It returns a ``BenchRun``: every planned cell's
``Result``, the cells that failed (not journaled; a rerun tries them again) and the ``Report``.
Rerunning with the same folder resumes.

``BenchProgress`` is how a caller watches: stages ("loading the model"), the planned sweep, each
finished cell; its methods do nothing by default. Not here: option parsing, terminal output
(``forage.cli.bench``), the sweep's order and journaling (``forage.eval.sweep``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from forage.allocation.cascade import BatchStep, ladder_of
from forage.allocation.policy import CascadeSettings
from forage.core.errors import ConfigError, SweepFailed
from forage.eval.datasets import SPLITS, SweepDataset, open_dataset, parse_hops
from forage.eval.executor import Executor, LocalExecutor
from forage.eval.journal import (
    BackendIdentity,
    Journal,
    file_digest,
    journaled_backend,
    journaled_results,
)
from forage.report.sweep_report import Report, write_report
from forage.report.results import Result
from forage.eval.sweep import Cell, Failure, Sweep
from forage.llm.base import LLM
from forage.llm.cache import CallCache
from forage.runtime import registry
from forage.runtime.ask import run_sync

METRICS = ("acc", "em", "f1")


class StartedExecutor(Executor, Protocol):
    """An executor with workers of its own (Ray): ``start`` brings them up and returns the backend
    they run; ``close`` stops them."""

    def start(self, sweep: Sweep) -> BackendIdentity: ...

    def close(self) -> None: ...


class BenchProgress:
    """Hooks ``bench`` calls as it goes. Every method does nothing here; subclass what you need."""

    def stage(self, what: str) -> AbstractContextManager[object]:
        """Around a slow step: "loading datasets", "loading the model", "starting the workers",
        "writing the report"."""
        return contextlib.nullcontext()

    def start(self, sweep: Sweep) -> None:
        """The sweep is planned and the backend is ready; cells are about to run."""

    def cell(self, cell: Cell, result: Result, was_done: bool) -> None:
        """A cell finished (``was_done``: its result came from the journal)."""

    def failure(self, cell: Cell, why: str) -> None:
        """A cell raised; it is not journaled."""

    def step(self, step: BatchStep) -> None:
        """An adaptive batch ran (or replayed) one rung for one question; its cells come when the
        whole batch is done."""

    def end(self) -> None:
        """Every cell has run (or failed)."""


@dataclass(frozen=True)
class BenchRun:
    """What a bench did: every planned cell's result (plan order), the cells that failed, the
    report written to ``out``, and the backend that answered."""

    results: list[Result]
    failures: list[Failure]
    report: Report
    backend: BackendIdentity
    out: Path

    def raise_for_failures(self) -> None:
        """``SweepFailed`` naming the first failed cell, if any failed."""
        if not self.failures:
            return
        first = self.failures[0]
        raise SweepFailed(
            f"{len(self.failures)} cell(s) failed and were not journaled (rerun to retry them); "
            f"first: {first.cell.spec.name}@{first.cell.budget:g} on {first.cell.dataset}/"
            f"{first.cell.question.id}: {first.error}"
        )


def backend_identity(llm: LLM, base_url: str | None = None, reported: Sequence[str] = ()
                     ) -> BackendIdentity:
    """What the journal records about the backend: for the embedded runtime the sha256 of the
    weights file (and of its LoRA adapter); for a server the model it reports (the one asked for,
    if it is listed); for anything else (a test double) its class and model."""
    if base_url:
        weights = llm.model_id if llm.model_id in reported else ",".join(reported)
        return BackendIdentity.of(llm, kind="openai-compatible", weights=f"served:{weights}")
    path = getattr(llm, "path", None)  # the embedded backend's weights file
    if not path:
        return BackendIdentity.of(llm)
    weights = f"sha256:{file_digest(path)}"
    adapter = getattr(llm, "adapter", None)
    if adapter:
        weights += f"+lora:{file_digest(adapter)}"
    return BackendIdentity.of(llm, kind="embedded", weights=weights)


def _default_identity(llm: LLM) -> BackendIdentity:
    base_url = getattr(llm, "base_url", None)  # an OpenAI-compatible client
    return backend_identity(llm, base_url, [llm.model_id] if base_url else ())


def check_choices(strategies: Sequence[str], *, hierarchical: str, split: str, metric: str,
                  limit: int | None) -> None:
    """``ConfigError`` for an unknown strategy, split or metric, or a limit below 1."""
    available = registry.available()
    if not strategies:
        raise ConfigError("give at least one strategy")
    for name in strategies:
        if name not in available:
            raise ConfigError(f"unknown strategy {name!r}: choose from {', '.join(sorted(available))}")
    if hierarchical not in available:
        raise ConfigError(f"unknown --hierarchical strategy {hierarchical!r}: choose from "
                          f"{', '.join(sorted(available))}")
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}: choose from {', '.join(SPLITS)}")
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}: choose from {', '.join(METRICS)}")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, not {limit}")


ALLOCATIONS = ("uniform", "adaptive", "oracle")


def check_allocation(allocation: str, strategies: Sequence[str] | None, threshold: float | None,
                     reserve: float | None, executor: object) -> CascadeSettings | None:
    """The cascade's settings for ``allocation="adaptive"`` (None for uniform); ``ConfigError``
    for an unknown policy, an unknown rung, cascade settings without it, or it on Ray."""
    if allocation not in ALLOCATIONS:
        raise ConfigError(f"unknown allocation policy {allocation!r}: choose from "
                          f"{', '.join(ALLOCATIONS)}")
    if allocation != "adaptive":
        if threshold is not None or reserve is not None:
            raise ConfigError("--threshold and --reserve are settings of --allocation adaptive")
        return None
    if executor is not None:
        raise ConfigError("--allocation adaptive runs on the local executor (one batch decides "
                          "as it goes); leave out --executor ray")
    return ladder_of(list(strategies or ()), threshold, reserve)


def bench(
    datasets: Sequence[str | Path | SweepDataset],
    *,
    strategies: Sequence[str] | None = None,
    budgets: Sequence[float] = (500.0, 2000.0, 8000.0),
    seeds: Sequence[int] = (0,),
    out: str | Path = "bench-out",
    llm: LLM | Callable[[], LLM] | None = None,
    model: str | None = None,
    executor: Callable[[Path], StartedExecutor] | None = None,
    identify: Callable[[LLM], BackendIdentity] | None = None,
    limit: int | None = None,
    split: str = "test",
    hops: str | tuple[int, int] | None = None,
    dev_size: int = 50,
    strict: bool = False,
    hierarchical: str = "tree",
    metric: str = "em",
    progress: BenchProgress | None = None,
    allocation: str = "uniform",
    threshold: float | None = None,
    reserve: float | None = None,
    against: Sequence[str | Path] = (),
) -> BenchRun:
    """Sweep ``strategies`` x ``budgets`` x ``datasets`` x ``seeds`` into ``out`` and write the
    report; resumable (see the module docstring).

    ``datasets``: world folders, question files, or ``SweepDataset``s already opened (``limit``,
    ``split``, ``hops``, ``dev_size`` and ``strict`` apply to paths). ``budgets``: compute units per
    question; budget level *i* is a hard cap and sets each strategy's knob to rung *i* of its
    ladder. The backend: ``llm`` (a backend, or a function that builds one, called once the
    folder's lock is held), else the embedded ``model`` (default ``forage-small``); or
    ``executor``, a function of the call cache's path that returns an executor with workers of its
    own (``forage.eval.ray_executor.RayExecutor``). ``identify`` says what the journal records
    about the backend (default ``backend_identity``). ``hierarchical`` and ``metric`` pick what the
    efficiency figures compare. Failed cells are in ``BenchRun.failures``
    (``raise_for_failures()`` raises them).

    ``allocation``: "uniform" (default: every question gets each budget; ``strategies`` default
    ``["rag"]``) or "adaptive": each budget is the *mean* per question of one batch budget per
    dataset, spent by the cascade (``forage.allocation``); ``strategies`` then names the ladder's
    rungs (default: read, passages, tree, replan) and ``threshold``/``reserve`` override the
    cascade's settings. Adaptive batches run on the local executor. "oracle" runs nothing: it
    reads the uniform results journaled in ``out`` and writes the report with the oracle (the
    cheapest right configuration per question: a bound no policy can reach) against the uniform
    frontier. ``against``: folders of uniform sweeps on the same questions whose results join the
    allocation section as the frontier (an adaptive sweep is compared with them).
    """
    hooks = progress or BenchProgress()
    cascade_settings = check_allocation(allocation, strategies, threshold, reserve, executor)
    uniform_elsewhere = [r for folder in against
                         for r in journaled_results(Path(folder) / "journal.sqlite")
                         if r.allocation == "uniform"]
    if allocation == "oracle":
        if strategies:
            raise ConfigError("--allocation oracle runs nothing: it reads the strategies "
                              "journaled in --out (leave out --strategies)")
        return _oracle(Path(out), uniform_elsewhere, hierarchical=hierarchical, metric=metric,
                       hooks=hooks)
    names = list(strategies or (() if cascade_settings else ("rag",)))
    check_choices(names if cascade_settings is None else ["tree"], hierarchical=hierarchical,
                  split=split, metric=metric, limit=limit)
    if not datasets:
        raise ConfigError("give at least one --dataset")
    if sum(x is not None for x in (llm, model, executor)) > 1:
        raise ConfigError("give one of llm, model or executor")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    hop_range = parse_hops(hops) if isinstance(hops, str) or hops is None else hops
    with hooks.stage("loading datasets"):
        opened = [d if isinstance(d, SweepDataset) else
                  open_dataset(d, split_name=split, limit=limit, hops=hop_range,
                               dev_size=dev_size, strict=strict) for d in datasets]  # fmt: skip
    available = registry.available()
    specs = [available[n] for n in names] if cascade_settings is None else [available["tree"]]
    sweep = Sweep(opened, specs, tuple(budgets), tuple(seeds), allocation=cascade_settings)
    # The folder's lock, taken before the model loads and held by the open journal until the
    # report is written: a second bench into the same folder is refused before it does anything.
    lock = Journal.lock(out / "journal.sqlite")
    workers: StartedExecutor | None = None
    backend: LLM | None = None
    try:
        if executor is not None:
            with hooks.stage("starting the workers (each loads the model)"):
                workers = executor(out / "cache.sqlite")
                try:
                    identity = workers.start(sweep)
                except BaseException:
                    workers.close()
                    raise
        else:
            with hooks.stage("loading the model"):
                backend = _load(llm, model)
                identity = (identify or _default_identity)(backend)
        journal = Journal.open(out / "journal.sqlite", sweep.config(identity), lock=lock)
    except BaseException:
        if workers is not None:
            workers.close()
        lock.release()
        raise
    try:
        cache: CallCache | None = None
        try:
            runner: Executor
            if workers is None:
                assert backend is not None
                cache = CallCache(out / "cache.sqlite", "record")
                runner = LocalExecutor(backend, cache)
            else:
                runner = workers
            hooks.start(sweep)
            outcome = run_sync(sweep.run(executor=runner, journal=journal, on_cell=hooks.cell,
                                         on_failure=hooks.failure, on_step=hooks.step))
            hooks.end()
        finally:
            if cache is not None:
                cache.close()
            if workers is not None:
                workers.close()
        meta = {
            "date": dt.datetime.now().isoformat(timespec="seconds"), "model": identity.model,
            "backend": f"{identity.kind} ({identity.profile} prompts, {identity.weights[:23]})",
            "datasets": ", ".join(f"{d.name} ({d.kind}, {d.split}, {len(d.questions)} q)"
                                  for d in opened),
            "budgets": ", ".join(f"{b:g}" for b in sweep.budgets),
            "seeds": ", ".join(map(str, sweep.seeds)),
        }  # fmt: skip
        with hooks.stage("writing the report"):
            report = write_report(out, outcome.results, hierarchical=hierarchical, metric=metric,
                                  meta=meta, against=uniform_elsewhere)
    finally:
        journal.close()
    return BenchRun(outcome.results, outcome.failures, report, identity, out)


def _oracle(out: Path, against: Sequence[Result], *, hierarchical: str, metric: str,
            hooks: BenchProgress) -> BenchRun:
    """``--allocation oracle``: the report of the uniform results journaled in ``out`` with the
    allocation section (oracle and frontier); runs no model."""
    path = out / "journal.sqlite"
    if not path.is_file():
        raise ConfigError(f"--allocation oracle computes from a journal and there is none at "
                          f"{path}: run a uniform sweep into --out {out} first")
    lock = Journal.lock(path)
    try:
        results = [r for r in journaled_results(path) if r.allocation == "uniform"]
        if not results:
            raise ConfigError(f"the journal at {path} holds no uniform results to compute the "
                              "oracle from")
        backend = journaled_backend(path)
        meta = {"date": dt.datetime.now().isoformat(timespec="seconds"), "model": backend.model,
                "allocation": "oracle (from the journaled uniform results; unattainable)"}
        with hooks.stage("writing the report"):
            report = write_report(out, results, hierarchical=hierarchical, metric=metric,
                                  meta=meta, against=against, oracle=True)
    finally:
        lock.release()
    return BenchRun(results, [], report, backend, out)


def _load(llm: LLM | Callable[[], LLM] | None, model: str | None) -> LLM:
    if llm is None:
        from forage.llm.embedded import EmbeddedLLM  # loads llama.cpp only when asked to

        return EmbeddedLLM(model) if model is not None else EmbeddedLLM()
    if hasattr(llm, "complete"):
        return llm  # type: ignore[return-value]
    return llm()  # type: ignore[operator]


__all__ = ["ALLOCATIONS", "BenchProgress", "BenchRun", "StartedExecutor", "backend_identity",
           "bench", "check_allocation"]
