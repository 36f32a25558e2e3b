"""One request's run of the adaptive cascade (``reasoning_effort: "auto"``, ``budget: "auto"``,
model ``forage-adaptive``): ``forage.allocation.cascade.run_batch`` for a batch of one question,
and what the service needs from its ``Result``.

``auto_cap`` is the most an ``auto`` request is granted: the server's per-request cap, and never
more than the ladder can spend (the sum of its rungs' caps), so a request does not hold units of
its key's window that it cannot use. ``Meter`` estimates what a run has spent from the calls it
has made (``forage.serve.events``), for a cascade cancelled before it returns its ledger; cached
prompt tokens are counted as fresh, so the estimate is never below the real cost.

Not here: the cascade's arithmetic and runner (``forage.allocation``), HTTP (``forage.serve.app``).
"""

from __future__ import annotations

from typing import Any

from forage.allocation.cascade import DEFAULT_SETTINGS, run_batch
from forage.allocation.policy import CascadeSettings
from forage.core.budget import CostModel, Usage
from forage.core.types import Question
from forage.llm.base import LLM
from forage.prompts.exemplars import ExemplarSet
from forage.report.results import Result
from forage.search.base import SearchTool

SERVE_CASCADE: CascadeSettings = DEFAULT_SETTINGS


def auto_cap(per_request_cap: float, settings: CascadeSettings = SERVE_CASCADE) -> float:
    return min(per_request_cap, sum(r.cap for r in settings.ladder))


def first_step(settings: CascadeSettings = SERVE_CASCADE) -> float:
    """The cheapest rung's cap: what a first reading is granted."""
    return settings.ladder[0].cap


async def run_cascade(question: str, grant: float, *, llm: LLM, tool: SearchTool, seed: int,
                      settings: CascadeSettings = SERVE_CASCADE) -> Result:
    """The cascade for ``question`` with ``grant`` compute units in all."""
    [result] = await run_batch([Question(id="request", text=question)], mean_budget=grant,
                               llm=llm, tools={tool.name: tool},
                               exemplars=ExemplarSet.generic(), settings=settings, seed=seed)
    return result


def ledger_summary(result: Result) -> dict[str, float]:
    """The run's ledger as ``Ledger.summary`` writes it, summed over its rungs."""
    return {**Usage.from_dict(result.usage).to_dict(), "compute": result.compute}


def cascade_summary(result: Result) -> dict[str, Any]:
    """Which rung answered (``None``: none did) and one summary per rung run."""
    return {"rung": result.rung, "rungs": list(result.trace.get("rungs", []))}


class Meter:
    """An ``Emit`` callback that adds up the cost of the calls it hears of."""

    def __init__(self, cost_model: CostModel | None = None) -> None:
        self.cost_model = cost_model or CostModel()
        self.usage = Usage()

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event") == "generate":
            self.usage = self.usage + Usage(prompt_tokens=int(event["prompt_tokens"]),
                                            completion_tokens=int(event["completion_tokens"]),
                                            llm_calls=1)
        elif event.get("event") == "search":
            self.usage = self.usage + Usage(search_calls=1)

    @property
    def spent(self) -> float:
        return self.cost_model.cost(self.usage)


__all__ = ["SERVE_CASCADE", "Meter", "auto_cap", "cascade_summary", "first_step",
           "ledger_summary", "run_cascade"]
