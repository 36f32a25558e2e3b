"""What a strategy is: a sans-I/O generator that yields steps and receives their results.

A strategy never calls a model or a search tool itself. It yields ``Generate`` (an LLM request),
``Search`` (a query) or ``Parallel`` (independent steps to run concurrently) and receives the
``LLMResponse``, the list of ``Hit``s, or the list of results. A strategy that cannot be written as
requests (the single-stream KV runtime writes lines into one KV sequence) yields one ``InStream``:
the driver opens the backend's line stream and hands the step's function a metered handle, through
which every line and search is charged and traced as any other step. When a step cannot be paid for, the
driver throws ``BudgetExhausted`` into the generator at that ``yield``: a strategy catches it and
answers with what it has (or lets it propagate, and the run ends with an empty, exhausted answer).
Inside ``Parallel`` a refused step's result is the ``BudgetExhausted`` instance itself.

Each step names the ``Task`` it works for; the driver charges that task's budget (or the run's) and
appends the call to the task's actions, so the trace tree is built as a by-product.

Not here: executing steps (``forage.runtime.driver``), prompts (``forage.prompts.reader``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Union

from forage.core.budget import Budget, Ledger
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


@dataclass(frozen=True)
class InStream:
    """Run ``fn(lines)`` on one KV line stream of the run's backend (a backend that declares
    ``supports_kv_edit``, held for the run); its result is the step's. ``lines`` is the driver's
    metered handle (``forage.runtime.driver.StreamLines``): read the stream and cut spans from it
    freely; write a line (``lines.line``) and search (``lines.search``) only through it, which
    charges ``task``'s budget (or the run's) and records the searches in the trace.
    ``keep_prefix``: keep the cells an earlier run left, if the strategy can reuse them."""

    fn: Callable[[Any], Any]
    keep_prefix: bool = False
    task: Task | None = None


Step = Union[Generate, Search, Parallel, InStream]
StepResult = Union[LLMResponse, list[Hit], list[Any]]
Steps = Generator[Step, Any, "Answer"]


@dataclass
class Answer:
    """A strategy's final answer, with the trace tree it built (``task``) and, once the driver has
    run it, the run's ``ledger`` (every call, refused ones included)."""

    text: str
    task: Task
    sources: tuple[str, ...] = ()
    confidence: float | None = None
    exhausted: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    ledger: Ledger | None = field(default=None, repr=False, compare=False)

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
