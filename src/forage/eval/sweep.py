"""Sweeps: strategies x budgets x datasets x seeds x questions, resumable from the journal.

**How a budget maps to a strategy.** The sweep's budgets are sorted from cheap to expensive;
budget level ``i`` does two things at once for every strategy:

1. it is a hard compute cap: the run gets a fresh ``Budget(budgets[i])`` (compute units of the
   cost model), and no call is ever made that the cap cannot pay for;
2. it sets the strategy's knob to ``spec.ladder[i]`` (passages read, iterations, samples, ...), the
   last rung of the ladder for levels past its end.

Both are written into every result (``budget``, ``budget_level``, ``knob``), so a table or a curve
never has to guess which knob a budget meant. The x axis of every efficiency figure is the compute
actually spent (from the ledger), not the cap.

Cells are planned in the order dataset, seed, budget level, strategy, question (so a sweep cut
short has every strategy at the cheap budgets first). A cell already in the journal is skipped
without running anything. An executor (``forage.eval.executor``) runs the rest: the local one in
this process, one after another in plan order, each journaled before the next starts; the Ray one
(``forage.eval.ray_executor``) on a cluster, results arriving in any order. Either way every result
is journaled by this process, once per cell, the moment it arrives. With a ``CallCache`` in record
mode a rerun replays model calls instead of recomputing them, and replayed calls still count their
original compute.

Not here: running cells (``forage.eval.executor``), storage (``forage.eval.journal``), statistics
(``forage.report.statistics``), output files (``forage.report.sweep_report``), the whole bench
with its lock and report (``forage.eval.bench``), argument parsing (``forage.cli.bench``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from forage.allocation.cascade import ADAPTIVE_SPEC, BatchStep, run_batch
from forage.allocation.policy import CascadeSettings
from forage.core.budget import CostModel
from forage.core.budget_rules import check_budgets, knob_for, min_budget
from forage.core.errors import ConfigError
from forage.core.types import Question
from forage.eval.datasets import SweepDataset
from forage.eval.executor import ABORT, Executor, LocalExecutor
from forage.eval.journal import BackendIdentity, CellKey, Journal, SweepConfig, cell_key
from forage.report.results import Result
from forage.llm.base import LLM
from forage.llm.cache import CallStore
from forage.search.base import SearchTool
from forage.search.bm25 import BM25Search
from forage.prompts.exemplars import ExemplarSet
from forage.runtime.registry import StrategySpec

logger = logging.getLogger(__name__)

def check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    """The seeds as given; ``ConfigError`` for none or a repeated one (a repeated seed would count
    one result twice: a larger n and a too-narrow interval)."""
    if not seeds:
        raise ConfigError("give at least one seed")
    repeated = sorted({s for s in seeds if list(seeds).count(s) > 1})
    if repeated:
        raise ConfigError(f"seeds repeat: {', '.join(map(str, repeated))} (each seed is run once)")
    return tuple(int(s) for s in seeds)


def check_importable(spec: StrategySpec) -> None:
    """``ConfigError`` when a strategy's class cannot be imported (checked before any work)."""
    module, _, attr = spec.target.partition(":")
    try:
        getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"strategy {spec.name!r} cannot be loaded from {spec.target}: {e}"
                          ) from None


@dataclass(frozen=True)
class ExemplarSettings:
    n_reader: int = 2
    n_multi: int = 2
    seed: int = 0


@dataclass(frozen=True)
class Cell:
    """One unit of work: a question, a strategy at a budget level, a seed."""

    dataset: str
    question: Question
    spec: StrategySpec
    level: int
    budget: float
    knob: int | None
    seed: int

    @property
    def key(self) -> CellKey:
        return (self.dataset, self.question.id, self.spec.name, self.budget, self.seed)


@dataclass(frozen=True)
class Failure:
    cell: Cell
    error: str


@dataclass(frozen=True)
class SweepRun:
    """What ``Sweep.run`` did: the results of every planned cell that has one, and the cells
    that failed (not journaled; a rerun tries them again)."""

    results: list[Result]
    failures: list[Failure]


@dataclass
class Sweep:
    """A planned sweep. ``cells()`` lists the work; ``run()`` does what the journal lacks."""

    datasets: Sequence[SweepDataset]
    specs: Sequence[StrategySpec]
    budgets: tuple[float, ...]
    seeds: tuple[int, ...] = (0,)
    exemplars: ExemplarSettings = field(default_factory=ExemplarSettings)
    cost_model: CostModel = field(default_factory=CostModel)
    # None: uniform budgets (every cell its own). Else one batch per (dataset, seed, budget
    # level), its budget the level x the dataset's questions, spent by the adaptive cascade.
    allocation: CascadeSettings | None = None

    def __post_init__(self) -> None:
        if self.allocation is not None:
            self.allocation.check(min_budget(self.cost_model))
            self.specs = [ADAPTIVE_SPEC]
        self.budgets = check_budgets(self.budgets, self.cost_model)
        if not self.specs:
            raise ConfigError("give at least one strategy")
        self.seeds = check_seeds(self.seeds)
        names = [d.name for d in self.datasets]
        if len(set(names)) != len(names):
            raise ConfigError(f"two datasets share a name: {', '.join(names)}")
        if len({s.name for s in self.specs}) != len(self.specs):
            raise ConfigError("a strategy is listed twice")
        for spec in self.specs:
            check_importable(spec)

    def config(self, backend: BackendIdentity) -> SweepConfig:
        """The sweep's identity, as the journal stores it, for runs on ``backend``."""
        return SweepConfig(
            datasets={d.name: d.digest for d in self.datasets},
            strategies={s.name: (s.knob, tuple(s.ladder)) for s in self.specs},
            budgets=self.budgets,
            seeds=tuple(self.seeds),
            backend=backend,
            exemplars=asdict(self.exemplars),
            cost_model=asdict(self.cost_model),
            allocation=self.allocation.to_dict() if self.allocation is not None else {},
        )

    def cells(self) -> list[Cell]:
        out = []
        for ds in self.datasets:
            for seed in self.seeds:
                for level, budget in enumerate(self.budgets):
                    for spec in self.specs:
                        for q in ds.questions:
                            out.append(Cell(ds.name, q, spec, level, budget, knob_for(spec, level),
                                            seed))
        return out

    def exemplar_set(self, ds: SweepDataset) -> ExemplarSet:
        if not ds.dev:
            return ExemplarSet.generic()
        e = self.exemplars
        return ExemplarSet.from_dev(ds.dev, n_reader=e.n_reader, n_multi=e.n_multi, seed=e.seed)

    async def run(
        self,
        *,
        journal: Journal,
        llm: LLM | None = None,
        cache: CallStore | None = None,
        tools: Mapping[str, SearchTool] | None = None,
        executor: Executor | None = None,
        on_cell: Callable[[Cell, Result, bool], None] | None = None,
        on_failure: Callable[[Cell, str], None] | None = None,
        on_step: Callable[[BatchStep], None] | None = None,
    ) -> SweepRun:
        """Run every cell the journal lacks; returns the results of all planned cells, in plan order.

        Cells run on ``executor``, or, given ``llm`` instead, on a ``LocalExecutor`` with ``cache``
        and ``tools`` (a dataset name -> search tool; default: BM25 over its corpus). Whatever
        runs them, results are journaled here, in this process, once per cell, as they arrive.
        ``on_cell(cell, result, skipped)`` is called after each cell, journaled or just run.
        A cell whose strategy raises (a bug, a prompt too long for the context) is logged, not
        journaled (so a rerun tries it again) and listed in ``SweepRun.failures``; the sweep goes
        on. Errors that every later cell would hit too (``ABORT``: bad configuration, an
        unreachable server, unloadable weights) end the sweep.
        """
        if (llm is None) == (executor is None):
            raise ConfigError("give Sweep.run either llm or executor")
        if executor is None:
            assert llm is not None
            executor = LocalExecutor(llm, cache, tools)
        stored = journal.config
        if stored.digest() != self.config(stored.backend).digest():
            raise ConfigError("the journal was opened for another sweep configuration")
        if not executor.matches(stored.backend):
            running = (f"{llm.model_id!r} with {llm.capabilities.prompt_profile} prompts"
                       if llm is not None else "the executor's backend")
            raise ConfigError(
                f"the journal was opened for model {stored.backend.model!r} with "
                f"{stored.backend.profile} prompts, not {running}"
            )
        done = {cell_key(r): r for r in journal.results()}
        plan = self.cells()
        if self.allocation is not None:
            if not isinstance(executor, LocalExecutor):
                raise ConfigError("--allocation adaptive runs on the local executor (one batch "
                                  "decides as it goes); leave out --executor ray")
            return await self._run_batches(plan, done, journal, executor, on_cell, on_failure,
                                           on_step)
        todo = []
        for cell in plan:
            prior = done.get(cell.key)
            if prior is None:
                todo.append(cell)
            elif on_cell:
                on_cell(cell, prior, True)
        fresh: dict[CellKey, Result] = {}
        failures: list[Failure] = []
        async for outcome in executor.outcomes(self, todo):
            cell = outcome.cell
            if cell.key in fresh or cell.key in done:  # an executor must yield a cell once
                logger.warning("%s came back twice (from %s); kept the first", cell.key,
                               outcome.worker)
                continue
            if outcome.result is None:
                why = outcome.error or "no result"
                failures.append(Failure(cell, why))
                if on_failure:
                    on_failure(cell, why)
                continue
            result = outcome.result
            journal.record(result)
            fresh[cell.key] = result
            logger.debug("%s: em %.0f compute %.0f (%s)", cell.key, result.em, result.compute,
                         outcome.worker)
            if on_cell:
                on_cell(cell, result, False)
        results = [r for c in plan if (r := done.get(c.key) or fresh.get(c.key)) is not None]
        return SweepRun(results, failures)

    async def _run_batches(
        self, plan: list[Cell], done: Mapping[CellKey, Result], journal: Journal,
        executor: LocalExecutor, on_cell: Callable[[Cell, Result, bool], None] | None,
        on_failure: Callable[[Cell, str], None] | None,
        on_step: Callable[[BatchStep], None] | None = None,
    ) -> SweepRun:
        """The adaptive allocation: one cascade per (dataset, seed, budget level), its rung runs
        journaled as steps, its per-question results journaled as cells."""
        assert self.allocation is not None
        batches: dict[tuple[str, int, int], list[Cell]] = {}
        for cell in plan:
            batches.setdefault((cell.dataset, cell.seed, cell.level), []).append(cell)
        by_name = {d.name: d for d in self.datasets}
        fresh: dict[CellKey, Result] = {}
        failures: list[Failure] = []
        for (name, seed, level), cells in batches.items():
            if all(c.key in done for c in cells):
                for c in cells:
                    if on_cell:
                        on_cell(c, done[c.key], True)
                continue
            ds = by_name[name]
            tools = (executor.tools or {}).get(name) or BM25Search(ds.corpus)
            try:
                results = await run_batch(
                    [c.question for c in cells], mean_budget=cells[0].budget, llm=executor.llm,
                    tools=tools, exemplars=self.exemplar_set(ds), settings=self.allocation,
                    seed=seed, cache=executor.cache, cost_model=self.cost_model, store=journal,
                    dataset=name, budget_level=level, on_step=on_step)
            except ABORT:
                raise
            except Exception as e:  # this batch fails; the others still run
                why = f"{type(e).__name__}: {e}"
                logger.info("batch %s@%g seed %d failed: %s", name, cells[0].budget, seed, why)
                for c in cells:
                    if c.key not in done:
                        failures.append(Failure(c, why))
                        if on_failure:
                            on_failure(c, why)
                continue
            for c, result in zip(cells, results, strict=True):
                was_done = c.key in done
                if not was_done:
                    journal.record(result)
                    fresh[c.key] = result
                if on_cell:
                    on_cell(c, done.get(c.key) or result, was_done)
        results = [r for c in plan if (r := done.get(c.key) or fresh.get(c.key)) is not None]
        return SweepRun(results, failures)


__all__ = [
    "ABORT",
    "Cell",
    "Failure",
    "SweepRun",
    "ExemplarSettings",
    "Sweep",
    "check_seeds",
]
