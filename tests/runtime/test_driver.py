"""The driver executes steps, meters them, fills the trace, and throws exhaustion into strategies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from forage.core.budget import Budget, CostModel
from forage.core.errors import ConfigError
from forage.core.types import Document
from forage.llm.base import LLMRequest
from forage.llm.testing import FunctionLLM, ScriptedLLM
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.runtime.base import Answer, Context, Generate, InStream, Parallel, Search
from forage.runtime.driver import run
from forage.prompts.exemplars import ExemplarSet, resolve_placeholders
from forage.strategies.rag import RAG

DOCS = Corpus(
    [
        Document("1", "Tarn Isle", "Tarn Isle hosts the Marrow Festival every August."),
        Document("2", "Skerry Point", "Skerry Point Lighthouse was designed by Odile Maren."),
        Document("3", "Brennock", "Brennock is a fishing port with a sea wall."),
    ]
)


@pytest.fixture
def tool():
    return BM25Search(DOCS)


async def test_rag_searches_then_reads_and_records_both(tool):
    llm = ScriptedLLM([" Odile Maren\n"])
    budget = Budget(10_000)
    ans = await run(RAG(k=1), "Who designed Skerry Point Lighthouse?", llm=llm, tools=tool, budget=budget)
    assert ans.text == "Odile Maren"
    assert ans.sources == ("Skerry Point",)
    assert [a.kind for a in ans.task.actions] == ["search", "generate"]
    assert "Skerry Point Lighthouse was designed" in llm.requests[0].text_for_counting()
    assert budget.ledger.usage.search_calls == 1 and budget.ledger.usage.llm_calls == 1


async def test_exhaustion_is_thrown_into_the_strategy_which_answers_with_what_it_has(tool):
    llm = ScriptedLLM(["never used"])
    budget = Budget(60)  # the search (50) fits; the reader's prompt does not
    ans = await run(RAG(k=1), "Who designed Skerry Point Lighthouse?", llm=llm, tools=tool, budget=budget)
    assert ans.exhausted and ans.text == ""
    assert ans.sources == ("Skerry Point",)
    assert [a.kind for a in ans.task.actions] == ["search", "refused"]
    assert budget.spent <= budget.limit


@dataclass(frozen=True)
class TwoAtOnce:
    name: str = "two"

    def steps(self, ctx: Context):
        a, b = yield Parallel(
            (Generate(LLMRequest(prompt="first", max_tokens=4)), Search("Brennock", k=1))
        )
        return Answer(text=f"{a.text}|{b[0].document.title}", task=ctx.root)


async def test_parallel_steps_return_results_in_order(tool):
    ans = await run(TwoAtOnce(), "q", llm=ScriptedLLM(["x"]), tools=tool, budget=Budget())
    assert ans.text == "x|Brennock"


@dataclass(frozen=True)
class Unhandled:
    name: str = "unhandled"

    def steps(self, ctx: Context):
        yield Search("anything")
        yield Search("anything")
        return Answer(text="done", task=ctx.root)


async def test_uncaught_exhaustion_ends_the_run_with_an_exhausted_answer(tool):
    ans = await run(Unhandled(), "q", llm=ScriptedLLM([]), tools=tool, budget=Budget(60))
    assert ans.exhausted and ans.task.status == "exhausted"


@dataclass(frozen=True)
class ChildBudget:
    name: str = "child"

    def steps(self, ctx: Context):
        sub = ctx.root.add("find the port", ctx.budget.split(100))
        hits = yield Search("port", k=1, task=sub)
        sub.finish(hits[0].document.title)
        refund = sub.budget.close()
        return Answer(text=sub.conclusion or "", task=ctx.root, meta={"refund": refund})


async def test_steps_are_charged_to_their_task_budget(tool):
    budget = Budget(1000)
    ans = await run(ChildBudget(), "q", llm=ScriptedLLM([]), tools=tool, budget=budget)
    assert ans.text == "Brennock"
    assert ans.meta["refund"] == pytest.approx(50)
    assert budget.ledger.entries[0].scope == "root/1"
    assert ans.task.subtasks[0].actions[0].kind == "search"
    assert budget.available == pytest.approx(950)


async def test_unknown_tool_is_a_config_error(tool):
    @dataclass(frozen=True)
    class BadTool:
        name: str = "bad"

        def steps(self, ctx):
            yield Search("x", tool="nope")
            return Answer("", ctx.root)

    with pytest.raises(ConfigError):
        await run(BadTool(), "q", llm=ScriptedLLM([]), tools=tool, budget=Budget())


def test_placeholders_resolve_to_earlier_answers():
    assert resolve_placeholders("Who founded #1 in #2?", ["Acme", "Paris"]) == "Who founded Acme in Paris?"
    assert resolve_placeholders("What about #3?", ["a"]) == "What about #3?"


def test_generic_exemplars_resolve_their_steps():
    ex = ExemplarSet.generic().multi_hop[0]
    assert ex.resolved_steps()[1].question == "In which town was Ada Prell born?"



async def test_a_prompt_too_long_for_the_context_is_thrown_in_as_exhaustion(tool):
    from forage.llm.base import Capabilities

    llm = FunctionLLM(lambda r: "x", capabilities=Capabilities(context_window=20, exact_token_count=True))
    budget = Budget()
    ans = await run(RAG(k=1), "Who designed Skerry Point Lighthouse?", llm=llm, tools=tool, budget=budget)
    assert ans.exhausted and llm.requests == []
    assert ans.task.actions[-1].kind == "refused"
    assert "context window" in ans.task.actions[-1].output
    # The refused step is in the ledger, and the answer says why it is empty.
    assert budget.ledger.refused_calls == 1
    assert ans.meta["ledger"]["refused_calls"] == 1
    assert ans.meta["refusal_counter"] == "context"
    assert "does not fit the context window" in ans.meta["refusal"]


async def test_an_answer_exhausted_by_the_budget_says_so(tool):
    ans = await run(RAG(k=1), "Who designed Skerry Point Lighthouse?", llm=ScriptedLLM([]),
                    tools=tool, budget=Budget(60))
    assert ans.meta["refusal_counter"] == "compute"
    assert "units" in ans.meta["refusal"]


class Yielding(FunctionLLM):
    """Gives the event loop a turn inside every call, as a real backend does, so that the calls
    of a ``Parallel`` interleave: all are reserved before any is committed."""

    async def complete(self, request):
        await asyncio.sleep(0)
        return await super().complete(request)


@dataclass(frozen=True)
class ThreeAtOnce:
    name: str = "three"

    def steps(self, ctx: Context):
        yield Parallel((
            Generate(LLMRequest(prompt="long " * 40, max_tokens=50, seed=1), label="big"),
            Generate(LLMRequest(prompt="short", max_tokens=50, seed=2), label="small"),
            Generate(LLMRequest(prompt="recorded earlier", max_tokens=50, seed=3), label="replay"),
        ))
        return Answer(text="", task=ctx.root)


async def test_each_parallel_call_records_its_own_cost_and_replayed_flag(tool, tmp_path):
    from forage.llm.cache import CallCache
    from forage.llm.metered import complete

    def reply(request):
        return "w " * (30 if request.prompt.startswith("long") else 2)

    cache = CallCache(tmp_path / "calls.sqlite", mode="record")
    llm = Yielding(reply)
    await complete(llm, LLMRequest(prompt="recorded earlier", max_tokens=50, seed=3), Budget(),
                   cache=cache)
    budget = Budget()
    ans = await run(ThreeAtOnce(), "q", llm=llm, tools=tool, budget=budget, cache=cache)
    by_label = {e.label: e for e in budget.ledger.entries}
    actions = {a.meta["label"]: a for a in ans.task.actions}
    assert len({e.cost for e in by_label.values()}) == 3  # three different costs
    for label in ("big", "small", "replay"):
        assert actions[label].cost == by_label[label].cost, label
        assert actions[label].replayed == by_label[label].replayed, label
    assert actions["replay"].replayed and not actions["big"].replayed
    assert sum(a.cost for a in ans.task.actions) == pytest.approx(budget.spent)


async def test_parallel_searches_record_their_own_cost(tool):
    @dataclass(frozen=True)
    class TwoSearches:
        name: str = "two-searches"

        def steps(self, ctx):
            yield Parallel((Search("port", k=1), Search("Skerry lighthouse port", k=2)))
            return Answer("", ctx.root)

    budget = Budget(cost_model=CostModel(tool_token=1.0))  # searches differ by their text
    ans = await run(TwoSearches(), "q", llm=ScriptedLLM([]), tools=tool, budget=budget)
    assert [a.cost for a in ans.task.actions] == [e.cost for e in budget.ledger.entries]
    assert len({a.cost for a in ans.task.actions}) == 2


@dataclass
class Finally:
    name: str = "finally"
    closed: bool = False

    def steps(self, ctx: Context):
        try:
            yield Search("x", tool="nope")  # the driver raises ConfigError at this step
            return Answer("", ctx.root)
        finally:
            self.closed = True


async def test_the_driver_closes_the_strategy_when_the_run_ends_early(tool):
    strategy = Finally()
    with pytest.raises(ConfigError) as info:
        await run(strategy, "q", llm=ScriptedLLM([]), tools=tool, budget=Budget())
    assert info.value is not None  # the traceback (and the run's frame) is still alive here
    assert strategy.closed


@dataclass(frozen=True)
class InOneStream:
    """A strategy that does all its work in one ``InStream`` step: ``write(lines)``."""

    write: object
    name: str = "in-stream"

    def steps(self, ctx: Context):
        text = yield InStream(self.write)
        return Answer(text=text, task=ctx.root)


def _write_and_search(lines):
    line = lines.line([lines.encode("Question: q\n")], max_tokens=8, options=["Answer:"],
                      label="one line")
    hits = lines.search("Skerry Point Lighthouse")
    return f"{line.generated.content.strip()}|{hits[0].document.title}"


async def test_an_in_stream_step_writes_and_searches_only_through_the_drivers_meter(tool):
    from forage.llm.line_stream import ScriptedLineStream
    from forage.llm.testing import StreamLLM

    budget = Budget(1000)
    stream = ScriptedLineStream(["Answer: Harrowgate"])
    strategy = InOneStream(_write_and_search)
    ans = await run(strategy, "q", llm=StreamLLM(stream), tools=tool, budget=budget)
    assert ans.text.startswith("Harrowgate|")
    kinds = [e.kind for e in budget.ledger.entries]
    assert kinds == ["llm", "search"]
    llm_entry = budget.ledger.entries[0]
    assert llm_entry.label == "one line" and llm_entry.usage.completion_tokens >= 1
    assert [a.kind for a in ans.task.actions] == ["search"]  # the driver traced the search
    assert ans.task.actions[0].cost == budget.ledger.entries[1].cost

    with pytest.raises(ConfigError, match="KV cache"):
        await run(strategy, "q", llm=ScriptedLLM([]), tools=tool, budget=Budget(1000))


async def test_a_refused_line_is_traced_and_the_exhausted_root_says_so(tool):
    from forage.llm.line_stream import ScriptedLineStream
    from forage.llm.testing import StreamLLM

    def too_long(lines):
        lines.line([lines.encode("Question: q\n" * 50)], max_tokens=8)
        return "unreachable"

    budget = Budget(5)
    ans = await run(InOneStream(too_long), "q", llm=StreamLLM(ScriptedLineStream(["Answer: x"])),
                    tools=tool, budget=budget)
    assert ans.exhausted and ans.text == "" and budget.spent == 0
    assert [a.kind for a in ans.task.actions] == ["refused"]
    assert ans.task.status == "exhausted"


async def test_an_exhausted_answer_a_strategy_returns_itself_marks_the_root_exhausted(tool):
    @dataclass(frozen=True)
    class GivesUp:
        name: str = "gives-up"

        def steps(self, ctx: Context):
            if False:
                yield
            return Answer(text="", task=ctx.root, exhausted=True)

    ans = await run(GivesUp(), "q", llm=ScriptedLLM([]), tools=tool, budget=Budget(100))
    assert ans.task.status == "exhausted"


def test_thread_runs_through_the_driver_on_the_embedded_model(gemma, small_world):
    import asyncio

    from forage.runtime import registry

    strategy = registry.get("thread").build(2)
    budget = Budget(4000)
    q = small_world.test[0]
    ans = asyncio.run(run(strategy, q, llm=gemma, tools=BM25Search(small_world.corpus), budget=budget))
    assert ans.meta["strategy"] == "thread"
    assert budget.spent <= budget.limit
    assert ans.meta["ledger"]["llm_calls"] >= 1
    assert ans.task.goal == q.text
