"""The adaptive cascade on a backend: one batch budget for many questions, rung by rung.

``run_batch(questions, mean_budget=B, ...)`` gives the batch ``B x len(questions)`` compute units
and lets ``forage.allocation.policy.cascade`` decide who gets what next. Each decision runs one
rung of the ladder for one question under a ``Budget`` of exactly its grant, through the driver
(so the ledger is the same as any other run's, replayed cache calls charged as computed).

**The rungs** are the tree at growing depth, and each starts from what the lower ones found
(``forage.hierarchy.tree.Prior``), so nothing is paid twice:

- ``read``: search the whole question, read the top passage, answer with a confidence;
- ``passages``: read the next passages for the whole question (up to 3 in all);
- ``tree``: plan, execute the sub-questions, synthesise (the first reading is its direct step);
- ``replan``: a larger budget with re-planning; sub-question conclusions found by ``tree`` are
  reused and its plan is not made again.

**Resuming.** Every rung's run is stored through a ``StepStore`` (the journal's ``steps`` table)
keyed by (dataset, policy, mean budget, seed, question, step number). The policy is deterministic
given the outcomes, so a rerun replays the stored steps in order, spending nothing, and runs only
what is missing. A stored step whose rung or grant differs from what the policy now asks (the code
changed) is run again and replaced.

Not here: the arithmetic (``forage.allocation.policy``), sweeps, journals and reports
(``forage.eval``, ``forage.report``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forage.allocation.policy import CascadeSettings, Outcome, QuestionState, Rung, cascade
from forage.allocation.steps import MemoryStepStore, StepKey, StepRecord, StepStore
from forage.core.budget import Budget, CostModel, Usage
from forage.core.budget_rules import min_budget
from forage.core.errors import ConfigError
from forage.core.types import Question
from forage.data.scoring import Score, score
from forage.hierarchy.tree import Prior, Tree
from forage.llm.base import LLM
from forage.llm.cache import CallStore
from forage.prompts.exemplars import ExemplarSet
from forage.report.results import Result
from forage.runtime.driver import run
from forage.runtime.registry import StrategySpec
from forage.search.base import SearchTool

POLICY = "adaptive"


@dataclass(frozen=True)
class BatchStep:
    """One rung run of a batch, as progress: which batch, which question (index of ``of``), what
    it gave, and whether it was replayed from the journal instead of run."""

    dataset: str
    mean_budget: float
    question: int
    of: int
    record: StepRecord
    replayed: bool

# How a sweep names the cascade's cells (it is not a per-question strategy: ``Sweep`` runs it).
ADAPTIVE_SPEC = StrategySpec(POLICY, "forage.allocation.cascade:run_batch", "", (),
                             "one batch budget: read every question once, then climb the ladder "
                             "where the answer is unsettled")

# name -> the tree's settings for that rung
RUNG_SETTINGS: dict[str, dict[str, Any]] = {
    "read": {"attempts": 1, "plan": False},
    "passages": {"attempts": 3, "plan": False},
    "tree": {"attempts": 2, "max_replans": 0},
    "replan": {"attempts": 3, "max_replans": 1},
}
RUNG_HELP = {
    "read": "search the whole question, read the top passage",
    "passages": "read the next passages for the whole question (3 in all)",
    "tree": "plan, execute, synthesise (the first reading is its direct step)",
    "replan": "a larger tree budget with re-planning (earlier conclusions reused)",
}
# Caps: what one escalation to the rung may be granted. Fix rates: how often the rung turns a
# wrong answer right. A priori values (see docs/LOG.md for what they were checked against on dev).
DEFAULT_LADDER = (
    Rung("read", 300.0, 0.25),
    Rung("passages", 450.0, 0.15),
    Rung("tree", 1500.0, 0.30),
    Rung("replan", 4000.0, 0.15),
)
DEFAULT_SETTINGS = CascadeSettings(DEFAULT_LADDER, threshold=0.5, reserve=0.1)


def ladder_of(names: Sequence[str], threshold: float | None = None, reserve: float | None = None
              ) -> CascadeSettings:
    """Settings whose ladder is the named rungs (default caps and fix rates), in the order given;
    ``ConfigError`` for an unknown rung."""
    known = {r.name: r for r in DEFAULT_LADDER}
    for name in names:
        if name not in known:
            raise ConfigError(f"unknown rung {name!r} for --allocation adaptive: choose from "
                              f"{', '.join(known)} (cheap to expensive)")
    base = DEFAULT_SETTINGS
    return CascadeSettings(
        tuple(known[n] for n in names) if names else base.ladder,
        base.threshold if threshold is None else threshold,
        base.reserve if reserve is None else reserve,
    )


async def run_rung(
    rung: str, question: Question, prior: Prior | None, grant: float, *, llm: LLM,
    tools: Mapping[str, SearchTool] | SearchTool, exemplars: ExemplarSet, seed: int,
    cache: CallStore | None, cost_model: CostModel | None, threshold: float = 0.5,
) -> StepRecord:
    """Run one rung for one question with ``grant`` compute units, starting from ``prior``; the
    tree settles (stops reading, does not plan) at ``threshold``, the cascade's."""
    strategy = Tree(**RUNG_SETTINGS[rung], threshold=threshold, prior=prior, exemplars=exemplars,
                    name=f"tree:{rung}")
    budget = Budget(grant, cost_model=cost_model)
    t0 = time.perf_counter()
    answer = await run(strategy, question, llm=llm, tools=tools, budget=budget, seed=seed,
                       cache=cache)
    return StepRecord(rung, grant, answer.text, float(answer.confidence or 0.0),
                      budget.ledger.compute, answer.exhausted, budget.ledger.usage.to_dict(),
                      time.perf_counter() - t0, answer.to_dict())


async def run_batch(
    questions: Sequence[Question],
    *,
    mean_budget: float,
    llm: LLM,
    tools: Mapping[str, SearchTool] | SearchTool,
    exemplars: ExemplarSet,
    settings: CascadeSettings = DEFAULT_SETTINGS,
    seed: int = 0,
    cache: CallStore | None = None,
    cost_model: CostModel | None = None,
    store: StepStore | None = None,
    dataset: str = "",
    budget_level: int | None = None,
    on_step: Callable[[BatchStep], None] | None = None,
) -> list[Result]:
    """Answer every question out of one budget of ``mean_budget x len(questions)`` units; one
    ``Result`` per question (in order), ``allocation="adaptive"``. See the module docstring.
    ``on_step`` is called after each rung run (``BatchStep``; ``replayed``: it came from ``store``)."""
    for r in settings.ladder:
        if r.name not in RUNG_SETTINGS:
            raise ConfigError(f"unknown rung {r.name!r}: choose from {', '.join(RUNG_SETTINGS)}")
    store = store if store is not None else MemoryStepStore()
    n = len(questions)
    plan = cascade(n, mean_budget * n, settings, min_step=min_budget(cost_model))
    priors: list[Prior | None] = [None] * n
    records: list[list[StepRecord]] = [[] for _ in range(n)]
    try:
        ask = next(plan)
        while True:
            q = questions[ask.question]
            rung = settings.ladder[ask.rung].name
            key: StepKey = (dataset, POLICY, float(mean_budget), seed, q.id,
                            len(records[ask.question]))
            record = store.step(key)
            replayed = record is not None and record.rung == rung and abs(
                record.grant - ask.grant) <= 1e-6
            if not replayed:
                record = await run_rung(rung, q, priors[ask.question], ask.grant, llm=llm,
                                        tools=tools, exemplars=exemplars, seed=seed, cache=cache,
                                        cost_model=cost_model, threshold=settings.threshold)
                store.record_step(key, record)
            records[ask.question].append(record)
            if on_step is not None:
                on_step(BatchStep(dataset, float(mean_budget), ask.question, n, record, replayed))
            priors[ask.question] = Prior.from_meta(record.answer, record.confidence,
                                                   record.trace.get("meta", {}))
            ask = plan.send(Outcome(record.answer, record.confidence, record.spent,
                                    record.exhausted))
    except StopIteration as stop:
        states: list[QuestionState] = stop.value
    return [
        _result(q, s, recs, settings, mean_budget=mean_budget, seed=seed, dataset=dataset,
                budget_level=budget_level)
        for q, s, recs in zip(questions, states, records, strict=True)
    ]


def _result(q: Question, state: QuestionState, records: Sequence[StepRecord],
            settings: CascadeSettings, *, mean_budget: float, seed: int, dataset: str,
            budget_level: int | None) -> Result:
    # A question without gold answers (one a service was asked) is answered, not scored.
    s = score(state.answer, q) if q.answers else Score(0.0, 0.0, 0.0)
    usage = Usage()
    for r in records:
        usage = usage + Usage.from_dict(r.usage)
    # rung i is the question's i-th step: the record that gave the kept answer, else the last one
    kept = records[state.answered_by] if state.answered_by >= 0 else records[-1]
    trace: dict[str, Any] = dict(kept.trace)
    trace["rungs"] = [{"rung": r.rung, "grant": r.grant, "spent": r.spent, "answer": r.answer,
                       "confidence": r.confidence, "exhausted": r.exhausted} for r in records]
    answered = settings.ladder[state.answered_by].name if state.answered_by >= 0 else None
    return Result(
        question_id=q.id, strategy=POLICY, knob=None, budget=mean_budget, seed=seed,
        prediction=state.answer, answers=list(q.answers), em=s.em, f1=s.f1, acc=s.acc,
        compute=state.spent, usage=usage.to_dict(), exhausted=state.exhausted,
        seconds=sum(r.seconds for r in records), hops=q.hops, qtype=q.type, trace=trace,
        dataset=dataset, budget_level=budget_level, allocation=POLICY, given=state.granted,
        rung=answered,
    )  # fmt: skip


__all__ = [
    "ADAPTIVE_SPEC",
    "BatchStep",
    "DEFAULT_LADDER",
    "DEFAULT_SETTINGS",
    "MemoryStepStore",
    "POLICY",
    "RUNG_HELP",
    "RUNG_SETTINGS",
    "StepKey",
    "StepRecord",
    "StepStore",
    "ladder_of",
    "run_batch",
    "run_rung",
]
