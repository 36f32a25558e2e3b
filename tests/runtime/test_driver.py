"""The driver executes steps, meters them, fills the trace, and throws exhaustion into strategies."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from forage.core.budget import Budget
from forage.core.errors import ConfigError
from forage.core.types import Document
from forage.llm.base import LLMRequest
from forage.llm.testing import ScriptedLLM
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.runtime.base import Answer, Context, Generate, Parallel, Search
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
    from forage.llm.testing import FunctionLLM

    llm = FunctionLLM(lambda r: "x", capabilities=Capabilities(context_window=20, exact_token_count=True))
    ans = await run(RAG(k=1), "Who designed Skerry Point Lighthouse?", llm=llm, tools=tool, budget=Budget())
    assert ans.exhausted and llm.requests == []
    assert ans.task.actions[-1].kind == "refused"
    assert "context window" in ans.task.actions[-1].output


@dataclass(frozen=True)
class DrivesItself:
    name: str = "direct-drive"

    async def run_direct(self, question, *, llm, tools, budget, seed=0):
        from forage.core.budget import Usage
        from forage.core.trace import Task

        r = budget.reserve_search()
        budget.commit(r, Usage(search_calls=1))
        return Answer(text=f"{question.text}:{sorted(tools)}:{seed}", task=Task(question.text))


async def test_a_strategy_that_drives_the_model_itself_gets_backend_tools_and_budget(tool):
    budget = Budget(100)
    ans = await run(DrivesItself(), "q", llm=ScriptedLLM([]), tools=tool, budget=budget, seed=3)
    assert ans.text == "q:['bm25']:3"
    assert ans.meta["strategy"] == "direct-drive"
    assert ans.meta["ledger"]["search_calls"] == 1


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
