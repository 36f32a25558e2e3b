"""Run one strategy on one question under one budget and score it: the unit every sweep is made of.

``evaluate(spec, knob, question, ...)`` builds the strategy from the registry, runs it with a fresh
budget of ``budget`` compute units through the driver, and returns a ``Result`` with the prediction,
its scores, every ledger counter and the trace. Nothing here stores results or aggregates them
(``forage.eval.journal``, ``forage.report.sweep_report``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from forage.core.budget import Budget, CostModel
from forage.core.types import Question
from forage.data.scoring import score
from forage.llm.base import LLM
from forage.llm.cache import CallStore
from forage.search.base import SearchTool
from forage.runtime.driver import run
from forage.prompts.exemplars import ExemplarSet
from forage.runtime.registry import StrategySpec


@dataclass
class Result:
    question_id: str
    strategy: str
    knob: int | None
    budget: float
    seed: int
    prediction: str
    answers: list[str]
    em: float
    f1: float
    acc: float
    compute: float
    usage: dict[str, float]
    exhausted: bool
    seconds: float
    hops: int | None = None
    qtype: str | None = None
    trace: dict[str, Any] = field(default_factory=dict)
    dataset: str = ""
    budget_level: int | None = None  # index of ``budget`` in the sweep's budget list

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """The inverse of ``to_dict`` (unknown keys are ignored, so old rows still load)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


async def evaluate(
    spec: StrategySpec,
    knob: int | None,
    question: Question,
    *,
    llm: LLM,
    tools: Mapping[str, SearchTool] | SearchTool,
    budget: float,
    exemplars: ExemplarSet,
    seed: int = 0,
    cache: CallStore | None = None,
    cost_model: CostModel | None = None,
    dataset: str = "",
    budget_level: int | None = None,
) -> Result:
    strategy = spec.build(knob, exemplars=exemplars)
    b = Budget(budget, cost_model=cost_model)
    t0 = time.perf_counter()
    answer = await run(strategy, question, llm=llm, tools=tools, budget=b, seed=seed, cache=cache)
    seconds = time.perf_counter() - t0
    s = score(answer.text, question)
    return Result(
        question_id=question.id,
        strategy=spec.name,
        knob=knob,
        budget=budget,
        seed=seed,
        prediction=answer.text,
        answers=list(question.answers),
        em=s.em,
        f1=s.f1,
        acc=s.acc,
        compute=b.ledger.compute,
        usage=b.ledger.usage.to_dict(),
        exhausted=answer.exhausted,
        seconds=seconds,
        hops=question.hops,
        qtype=question.type,
        trace=answer.to_dict(),
        dataset=dataset,
        budget_level=budget_level,
    )
