"""Building ``Result``s by hand for the metrics and report tests."""

from __future__ import annotations

from typing import Any

from forage.core.budget import Usage
from forage.report.results import Result


def result(
    *,
    dataset: str = "d",
    qid: str = "q1",
    strategy: str = "rag",
    budget: float = 1000.0,
    seed: int = 0,
    acc: float = 1.0,
    em: float | None = None,
    f1: float | None = None,
    compute: float = 100.0,
    prompt_tokens: int = 10,
    trace: dict[str, Any] | None = None,
    question: str = "Who?",
) -> Result:
    usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=2, llm_calls=1, search_calls=1)
    return Result(
        question_id=qid, strategy=strategy, knob=1, budget=budget, seed=seed,
        prediction="Paris", answers=["Paris"], em=acc if em is None else em,
        f1=acc if f1 is None else f1, acc=acc, compute=compute, usage=usage.to_dict(),
        exhausted=False, seconds=0.5,
        trace={"text": "Paris", "trace": trace or task(question)}, dataset=dataset,
        budget_level=0,
    )  # fmt: skip


def task(goal: str, *, pruned: bool = False, subtasks: list[dict] | None = None,
         conclusion: str | None = "Paris") -> dict[str, Any]:
    return {
        "goal": goal, "thought": "", "status": "done", "pruned": pruned, "budget": None,
        "conclusion": conclusion, "confidence": None, "subtasks": subtasks or [],
        "actions": [{"kind": "search", "input": goal, "output": "Doc A", "cost": 50.0,
                     "tokens": 0, "replayed": False, "meta": {}}],
    }  # fmt: skip
