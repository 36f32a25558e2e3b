"""Run one strategy on one question under one budget and score it: the unit every sweep is made of.

``evaluate(spec, knob, question, ...)`` builds the strategy from the registry, runs it with a fresh
budget of ``budget`` compute units through the driver, and returns a ``Result``
(``forage.report.results``) with the prediction, its scores, every ledger counter and the trace.
Nothing here stores results or aggregates them (``forage.eval.journal``, ``forage.report``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from forage.core.budget import Budget, CostModel
from forage.core.types import Question
from forage.data.scoring import score
from forage.llm.base import LLM
from forage.llm.cache import CallStore
from forage.search.base import SearchTool
from forage.runtime.driver import run
from forage.prompts.exemplars import ExemplarSet
from forage.report.results import Result
from forage.runtime.registry import StrategySpec


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
        given=budget,
    )
