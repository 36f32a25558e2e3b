"""What a strategy is: a sans-I/O generator that yields steps and receives their results.

A strategy never calls a model or a search tool itself. It yields ``Generate`` (an LLM request),
``Search`` (a query) or ``Parallel`` (independent steps to run concurrently) and receives the
``LLMResponse``, the list of ``Hit``s, or the list of results. When a step cannot be paid for, the
driver throws ``BudgetExhausted`` into the generator at that ``yield``: a strategy catches it and
answers with what it has (or lets it propagate, and the run ends with an empty, exhausted answer).
Inside ``Parallel`` a refused step's result is the ``BudgetExhausted`` instance itself.

Each step names the ``Task`` it works for; the driver charges that task's budget (or the run's) and
appends the call to the task's actions, so the trace tree is built as a by-product.

Not here: executing steps (``forage.runtime.driver``), prompts (``forage.prompts.common``).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Union, runtime_checkable

from forage.core.budget import Budget
from forage.core.trace import Task
from forage.core.types import Hit, Question
from forage.llm.base import Capabilities, LLMRequest, LLMResponse


@dataclass(frozen=True)
class Generate:
    request: LLMRequest
    task: Task | None = None
    label: str = ""


@dataclass(frozen=True)
class Search:
    query: str
    k: int = 5
    task: Task | None = None
    tool: str | None = None  # a tool name; None = the run's default tool


@dataclass(frozen=True)
class Parallel:
    steps: tuple[Union[Generate, Search], ...]


Step = Union[Generate, Search, Parallel]
StepResult = Union[LLMResponse, list[Hit], list[Any]]
Steps = Generator[Step, Any, "Answer"]


@dataclass
class Answer:
    """A strategy's final answer, with the trace tree it built."""

    text: str
    task: Task
    sources: tuple[str, ...] = ()
    confidence: float | None = None
    exhausted: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "sources": list(self.sources),
            "confidence": self.confidence,
            "exhausted": self.exhausted,
            "meta": self.meta,
            "trace": self.task.to_dict(),
        }


@dataclass(frozen=True)
class Context:
    """Everything a strategy may read about its run. No I/O handles."""

    question: Question
    root: Task
    budget: Budget
    seed: int = 0
    profile: Literal["completion", "chat"] = "completion"
    tools: tuple[str, ...] = ("default",)
    capabilities: Capabilities = field(default_factory=Capabilities)  # of the run's LLM backend
    meta: Mapping[str, Any] = field(default_factory=dict)


class Strategy(Protocol):
    """How a question is answered under a budget."""

    name: str

    def steps(self, ctx: Context) -> Steps: ...


@runtime_checkable
class DirectStrategy(Protocol):
    """A strategy that must drive the model itself (the single-stream KV runtime): the driver
    hands it the backend, tools and budget instead of executing its steps. It meters every call
    against ``budget`` with the same ledger rules as the driver."""

    name: str

    async def run_direct(
        self, question: Question, *, llm: Any, tools: Mapping[str, Any], budget: Budget,
        seed: int = 0,
    ) -> Answer: ...
