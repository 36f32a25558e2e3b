"""Executors: who runs a sweep's cells. The interface, the per-process cell runner, the local one.

``Sweep.run`` decides *which* cells run (those the journal lacks) and writes every result into the
journal; an ``Executor`` only runs cells and hands back each one's ``Outcome`` as it finishes, in
any order. Two implementations:

- ``LocalExecutor`` (the default): every cell in this process, one after another, in plan order,
  each journaled before the next starts;
- ``forage.eval.ray_executor.RayExecutor``: cells on Ray actors that each keep a loaded model and
  the datasets' search indexes for their whole life.

``CellRunner`` is what both share: the state one process keeps while it runs cells (the backend,
the call cache, one BM25 index and one exemplar set per dataset, built on first use) and
``attempt(cell)``, which turns a cell into an ``Outcome``: a result, or the reason it failed (a
strategy's bug, a prompt too long for the context; not journaled, so a rerun tries it again).
Errors every later cell would hit too (``ABORT``: bad configuration, an unreachable server,
unloadable weights) are raised, not returned.

Not here: the journal and the order of the plan (``forage.eval.sweep``), Ray
(``forage.eval.ray_executor``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from forage.core.errors import ConfigError, EnvironmentProblem, ModelLoadError, ServerError
from forage.eval.runner import evaluate
from forage.report.results import Result
from forage.llm.base import LLM
from forage.llm.cache import CallStore
from forage.prompts.exemplars import ExemplarSet
from forage.search.base import SearchTool
from forage.search.bm25 import BM25Search

if TYPE_CHECKING:  # the sweep imports this module; only types flow back
    from forage.eval.journal import BackendIdentity
    from forage.eval.sweep import Cell, Sweep

logger = logging.getLogger(__name__)

ABORT = (ConfigError, ServerError, ModelLoadError, EnvironmentProblem)


@dataclass(frozen=True)
class Outcome:
    """What became of one cell: its ``result``, or ``error`` (why it failed). ``worker`` names the
    process that ran it (``local``, or ``pid@node`` on Ray)."""

    cell: Cell
    result: Result | None = None
    error: str | None = None
    worker: str = "local"


class Executor(Protocol):
    """Runs a sweep's cells; ``Sweep.run`` journals what it yields."""

    def matches(self, backend: BackendIdentity) -> bool:
        """Whether the backend that will answer is ``backend`` (the journal's)."""
        ...

    def outcomes(self, sweep: Sweep, cells: Sequence[Cell]) -> AsyncIterator[Outcome]:
        """Run ``cells``, yielding exactly one ``Outcome`` per cell as it finishes (any order);
        raises the first ``ABORT`` error."""
        ...


class CellRunner:
    """Runs cells of one sweep in one process, keeping each dataset's index and exemplars."""

    def __init__(self, sweep: Sweep, llm: LLM, cache: CallStore | None = None,
                 tools: Mapping[str, SearchTool] | None = None, worker: str = "local") -> None:
        self.sweep = sweep
        self.llm = llm
        self.cache = cache
        self.worker = worker
        self._by_name = {d.name: d for d in sweep.datasets}
        self._tools: dict[str, SearchTool] = dict(tools or {})
        self._exemplars: dict[str, ExemplarSet] = {}

    async def run(self, cell: Cell) -> Result:
        """The cell's result; raises whatever its strategy raised."""
        ds = self._by_name[cell.dataset]
        if ds.name not in self._tools:
            self._tools[ds.name] = BM25Search(ds.corpus)
        if ds.name not in self._exemplars:
            self._exemplars[ds.name] = self.sweep.exemplar_set(ds)
        return await evaluate(
            cell.spec, cell.knob, cell.question, llm=self.llm, tools=self._tools[ds.name],
            budget=cell.budget, exemplars=self._exemplars[ds.name], seed=cell.seed,
            cache=self.cache, cost_model=self.sweep.cost_model, dataset=cell.dataset,
            budget_level=cell.level,
        )  # fmt: skip

    async def attempt(self, cell: Cell) -> Outcome:
        """The cell's ``Outcome``; ``ABORT`` errors are raised, any other error is the outcome."""
        try:
            result = await self.run(cell)
        except ABORT:
            raise
        except Exception as e:  # one cell's failure; the others still run
            why = f"{type(e).__name__}: {e}"
            logger.info("%s failed: %s", cell.key, why)
            logger.debug("traceback of %s", cell.key, exc_info=True)
            return Outcome(cell, error=why, worker=self.worker)
        return Outcome(cell, result=result, worker=self.worker)


class LocalExecutor:
    """Every cell in this process, in plan order; the next starts after the last was journaled."""

    def __init__(self, llm: LLM, cache: CallStore | None = None,
                 tools: Mapping[str, SearchTool] | None = None) -> None:
        self.llm = llm
        self.cache = cache
        self.tools = tools

    def matches(self, backend: BackendIdentity) -> bool:
        return backend.matches(self.llm)

    async def outcomes(self, sweep: Sweep, cells: Sequence[Cell]) -> AsyncIterator[Outcome]:
        runner = CellRunner(sweep, self.llm, self.cache, self.tools)
        for cell in cells:
            yield await runner.attempt(cell)


__all__ = ["ABORT", "CellRunner", "Executor", "LocalExecutor", "Outcome"]
