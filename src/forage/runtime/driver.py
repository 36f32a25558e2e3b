"""The one driver that runs every strategy: executes its steps, meters them, records the trace.

``run(strategy, question, llm=..., tools=..., budget=...)`` drives the strategy's generator: each
``Generate`` goes through ``forage.llm.metered.complete`` (budget, cache), each ``Search`` through
``forage.search.base.metered_search``, each ``Parallel`` runs its steps concurrently, and an
``InStream`` opens the backend's KV line stream and hands the step's function ``StreamLines``, a
metered handle whose lines go through ``forage.llm.metered.write_line`` and whose searches go
through the same code as ``Search`` steps. Every call lands in the ledger and in the actions of the
task it was made for, with the cost of its own ledger entry: the driver is the only thing that
charges a budget. An answer that ends exhausted leaves the trace's root ``exhausted``, whoever
returned it. The generator is closed when the run ends, however it ends (its ``finally`` clauses
run).

Not here: any strategy's logic, prompts, or how results are scored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from forage.core.budget import Budget
from forage.core.budget_rules import budget_of
from forage.core.errors import BudgetExhausted, ConfigError, ContextOverflow
from forage.core.trace import Action, Task
from forage.core.types import Hit, Question
from forage.llm.base import LLM
from forage.llm.cache import CallStore
from forage.llm.line_stream import LineStream
from forage.llm.metered import MeteredLine, complete, write_line
from forage.search.base import SearchTool, metered_search
from forage.runtime.base import (
    Answer,
    Context,
    Generate,
    InStream,
    Parallel,
    Search,
    Step,
    Strategy,
)

log = logging.getLogger(__name__)


class Driver:
    """Executes steps for one run."""

    def __init__(
        self,
        llm: LLM,
        tools: Mapping[str, SearchTool],
        root: Task,
        *,
        cache: CallStore | None = None,
    ) -> None:
        if not tools:
            raise ConfigError("a run needs at least one search tool")
        self.llm = llm
        self.tools = dict(tools)
        self.default_tool = next(iter(self.tools))
        self.root = root
        self.cache = cache
        self.last_refusal: BudgetExhausted | None = None  # why the last refused step was refused

    def _task(self, task: Task | None) -> Task:
        return task if task is not None else self.root

    def _budget(self, task: Task) -> Budget:
        assert self.root.budget is not None, "the root task always has the run's budget"
        return budget_of(task, self.root.budget)

    def _refused(self, task: Task, input: str, error: BudgetExhausted) -> None:
        task.actions.append(Action("refused", input, str(error)))
        self.last_refusal = error

    async def execute(self, step: Step) -> Any:
        """Run one step; raises ``BudgetExhausted`` if it cannot be paid for."""
        if isinstance(step, Parallel):
            results = await asyncio.gather(
                *(self.execute(s) for s in step.steps), return_exceptions=True
            )
            for r in results:
                if isinstance(r, BaseException) and not isinstance(r, BudgetExhausted):
                    raise r
            return list(results)
        if isinstance(step, InStream):
            return await self._in_stream(step)
        task = self._task(step.task)
        budget = self._budget(task)
        if isinstance(step, Generate):
            try:
                response, entry = await complete(
                    self.llm, step.request, budget, cache=self.cache, label=step.label
                )
            except BudgetExhausted as e:
                self._refused(task, _request_text(step), e)
                raise
            except ContextOverflow as e:
                # A prompt that cannot fit is a step that cannot be paid for: the strategy gets
                # the chance to answer with what it has.
                exhausted = BudgetExhausted(str(e), counter="context")
                self._refused(task, _request_text(step), exhausted)
                raise exhausted from e
            task.actions.append(
                Action(
                    "generate",
                    _request_text(step),
                    response.text,
                    cost=entry.cost,
                    tokens=response.usage.prompt_tokens + response.usage.completion_tokens,
                    replayed=entry.replayed,
                    meta={"label": step.label, "prompt_tokens": response.usage.prompt_tokens},
                )
            )
            return response
        if isinstance(step, Search):
            return self.search(task, step.query, k=step.k, tool=step.tool,
                               count_tokens=self.llm.count_tokens)
        raise ConfigError(f"a strategy yielded {type(step).__name__}, not a step")


    def search(self, task: Task, query: str, *, k: int, tool: str | None,
               count_tokens: Callable[[str], int]) -> list[Hit]:
        """One metered search for ``task``, recorded in its actions (refused ones too)."""
        name = tool or self.default_tool
        if name not in self.tools:
            raise ConfigError(f"unknown search tool {name!r}")
        budget = self._budget(task)
        try:
            hits, entry = metered_search(self.tools[name], query, budget, k=k,
                                         count_tokens=count_tokens)
        except BudgetExhausted as e:
            self._refused(task, query, e)
            raise
        task.actions.append(
            Action(
                "search",
                query,
                "\n".join(h.document.title for h in hits),
                cost=entry.cost,
                meta={"ids": [h.document.id for h in hits], "tool": name},
            )
        )
        return hits

    async def _in_stream(self, step: InStream) -> Any:
        if not self.llm.capabilities.supports_kv_edit:
            raise ConfigError(
                "this strategy needs a backend that can edit its KV cache (the embedded llama.cpp "
                "runtime)"
            )
        task = self._task(step.task)

        def go() -> Any:
            with self.llm.line_stream(keep_prefix=step.keep_prefix) as stream:  # type: ignore[attr-defined]
                return step.fn(StreamLines(self, stream, task))

        if self.llm.capabilities.stream_blocks:
            return await asyncio.to_thread(go)
        return go()


class StreamLines:
    """The driver-owned handle of an ``InStream`` step: one KV line stream, metered.

    Reading the stream and cutting spans out of it cost nothing and are free to use. Evaluating and
    sampling happen only through ``line`` (``forage.llm.metered.write_line``, charged to the
    step's task's budget), searching only through ``search`` (charged and recorded in the trace
    like a ``Search`` step; token counts by the stream's tokenizer)."""

    def __init__(self, driver: Driver, stream: LineStream, task: Task) -> None:
        self._driver = driver
        self._stream = stream
        self._task = task
        self.budget = driver._budget(task)

    # -- reading and cutting (free) --
    def __len__(self) -> int:
        return len(self._stream)

    @property
    def capacity(self) -> int:
        return self._stream.capacity

    @property
    def tokens(self) -> list[Any]:
        return self._stream.tokens

    @property
    def peak_cells(self) -> int:
        return self._stream.peak_cells

    def encode(self, text: str, *, bos: bool = False) -> list[Any]:
        return self._stream.encode(text, bos=bos)

    def remove(self, start: int, end: int) -> None:
        self._stream.remove(start, end)

    def keep_prefix(self, tokens: Sequence[Any]) -> int:
        return self._stream.keep_prefix(tokens)

    # -- charged --
    def line(self, spans: Sequence[Sequence[Any]], *, max_tokens: int,
             options: Sequence[str] | None = None, unpaid_cells: int = 0,
             temperature: float = 0.0, seed: int = 0, label: str = "") -> MeteredLine:
        """Evaluate ``spans`` and write one line (``forage.llm.metered.write_line``); a refused
        line is recorded in the step's task, as a refused step is."""
        try:
            return write_line(self._stream, self.budget, spans, max_tokens=max_tokens,
                              options=options, unpaid_cells=unpaid_cells,
                              temperature=temperature, seed=seed, label=label)  # fmt: skip
        except BudgetExhausted as e:
            self._driver._refused(self._task, "line", e)
            raise

    def search(self, query: str, *, task: Task | None = None, k: int = 1,
               tool: str | None = None) -> list[Hit]:
        """A metered search for ``task`` (default: the step's), recorded in its actions."""
        return self._driver.search(task or self._task, query, k=k, tool=tool,
                                   count_tokens=lambda t: len(self._stream.encode(t)))

    @property
    def tool_name(self) -> str:
        return self._driver.default_tool


def _request_text(step: Generate) -> str:
    return step.request.text_for_counting()


async def run(
    strategy: Strategy,
    question: Question | str,
    *,
    llm: LLM,
    tools: Mapping[str, SearchTool] | SearchTool,
    budget: Budget,
    seed: int = 0,
    cache: CallStore | None = None,
    profile: str | None = None,
) -> Answer:
    """Answer ``question`` with ``strategy``; never spends beyond ``budget``.

    An exhausted answer says why in ``meta["refusal"]`` (the last refused step's reason) and
    ``meta["refusal_counter"]`` (``compute``, ``context``, a capped counter, ...)."""
    q = question if isinstance(question, Question) else Question(id="q", text=question)
    tool_map = tools if isinstance(tools, Mapping) else {tools.name: tools}
    root = Task(goal=q.text, budget=budget)
    chosen = profile or llm.capabilities.prompt_profile
    if chosen not in ("completion", "chat"):
        raise ConfigError(f"unknown prompt profile {chosen!r}")
    ctx = Context(
        question=q, root=root, budget=budget, seed=seed, profile=chosen,  # type: ignore[arg-type]
        tools=tuple(tool_map), capabilities=llm.capabilities,
    )
    driver = Driver(llm, tool_map, root, cache=cache)
    gen = strategy.steps(ctx)
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                step = gen.throw(error) if error is not None else gen.send(value)
            except StopIteration as stop:
                answer: Answer = stop.value
                break
            except BudgetExhausted as e:
                log.info("%s: budget exhausted before an answer", strategy.name)
                driver.last_refusal = driver.last_refusal or e
                root.status = "exhausted"
                answer = Answer(text="", task=root, exhausted=True)
                break
            value, error = None, None
            try:
                value = await driver.execute(step)
            except BudgetExhausted as e:
                error = e
    finally:
        gen.close()  # a run that ends early (an error, a cancelled task) still runs its finally
    if root.status == "open":
        root.finish(answer.text, confidence=answer.confidence,
                    status="exhausted" if answer.exhausted else "done")
    if answer.ledger is None:
        answer.ledger = budget.ledger
    answer.meta.setdefault("strategy", strategy.name)
    answer.meta.setdefault("ledger", budget.ledger.summary())
    if answer.exhausted and driver.last_refusal is not None:
        answer.meta.setdefault("refusal", str(driver.last_refusal))
        answer.meta.setdefault("refusal_counter", driver.last_refusal.counter)
    return answer
