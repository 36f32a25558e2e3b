"""A run's charged compute, and every decision taken against its budget, are a function of the run
alone (question, strategy, budget, seed, model): not of what ran before it on the same model.

The embedded backend reuses the KV prefix the previous call left, and the thread runtime keeps the
exemplar preamble an earlier run left in the KV cache. Both save wall time; neither may change what
a run is charged, or a resumed sweep would give other numbers than an uninterrupted one.
"""

from __future__ import annotations

import asyncio

import pytest

from forage.core.budget import Budget, Ledger
from forage.hierarchy.thread import Thread
from forage.llm.line_stream import ScriptedLineStream
from forage.llm.testing import StreamLLM
from forage.runtime import registry
from forage.runtime.driver import run
from forage.search.bm25 import BM25Search
from forage.search.testing import StaticSearch
from forage.core.types import Document


def charged(ledger: Ledger) -> list[tuple[object, ...]]:
    """Everything a ledger charges, call by call (wall-clock seconds left out)."""
    return [
        (e.kind, e.label, e.scope, e.cost, e.usage.prompt_tokens, e.usage.cached_prompt_tokens,
         e.usage.completion_tokens, e.usage.search_calls, e.usage.tool_tokens, e.replayed)
        for e in ledger.entries
    ]  # fmt: skip


# -- the thread's preamble reuse, on a scripted stream ---------------------------------------------

DOC = Document("d1", "Ivo Maren", "Ivo Maren was born in Selby Cove. He worked as a ferryman.")
ONE_TASK = [
    "Task 1: Where was Ivo Maren born?",
    "Search: Ivo Maren born",
    "Conclusion 1: Selby Cove",
    "Answer: Selby Cove",
]


def _thread(question, budget, stream):
    """The thread strategy through the driver, on a backend whose KV stream is ``stream``."""
    return asyncio.run(run(Thread(), question, llm=StreamLLM(stream), tools=StaticSearch([DOC]),
                           budget=budget))


def test_a_preamble_left_by_an_earlier_run_is_charged_as_if_the_run_had_evaluated_it():
    question = "Where was Ivo Maren born?"
    alone = Budget(100_000)
    _thread(question, alone, ScriptedLineStream(ONE_TASK))

    shared = ScriptedLineStream(ONE_TASK + ONE_TASK)
    _thread("Who was Ivo Maren?", Budget(100_000), shared)
    evaluated_before = shared.evaluated
    after = Budget(100_000)
    _thread(question, after, shared)

    assert shared.evaluated - evaluated_before < alone.ledger.usage.prompt_tokens  # reuse happened
    assert charged(after.ledger) == charged(alone.ledger)


def test_a_budget_that_fits_a_run_alone_fits_it_after_another_run():
    """Whether a line fits under the cap must not depend on what the KV cache holds."""
    question = "Where was Ivo Maren born?"
    probe = Budget(100_000)
    _thread(question, probe, ScriptedLineStream(ONE_TASK))
    first = probe.ledger.entries[0]
    tight = first.usage.prompt_tokens * probe.cost_model.prompt_token * 0.9  # too little to read
    # the preamble and question at the full rate; enough if the preamble were charged as cached
    alone = Budget(tight)
    a = _thread(question, alone, ScriptedLineStream(ONE_TASK))
    shared = ScriptedLineStream(ONE_TASK + ONE_TASK)
    _thread("Who was Ivo Maren?", Budget(100_000), shared)
    after = Budget(tight)
    b = _thread(question, after, shared)
    assert a.exhausted and alone.ledger.refused_calls == 1
    assert (a.text, a.exhausted) == (b.text, b.exhausted)
    assert charged(after.ledger) == charged(alone.ledger)


# -- the real embedded model -----------------------------------------------------------------------


def _run(llm, spec: str, knob: int, question, corpus, compute: float, seed: int = 0):
    budget = Budget(compute)
    answer = asyncio.run(
        run(registry.get(spec).build(knob), question, llm=llm, tools=BM25Search(corpus),
            budget=budget, seed=seed)
    )  # fmt: skip
    return answer, budget


@pytest.mark.embedded
def test_the_same_run_is_charged_the_same_alone_after_other_runs_and_on_a_fresh_model(
    smollm2, small_world
):
    """react: separate calls whose prompts share prefixes (the backend's prefix cache); thread:
    one KV stream whose preamble an earlier thread run leaves behind. Small budgets, smollm2."""
    from forage.llm.embedded import EmbeddedLLM

    q, other = small_world.test[0], small_world.test[1]
    corpus = small_world.corpus
    runs = {"react": (2, 300.0), "thread": (2, 500.0)}
    # Alone: a freshly loaded model, nothing ran on it before (a resumed sweep in a new process).
    fresh = EmbeddedLLM("smollm2", n_ctx=1024)
    alone = {name: _run(fresh, name, knob, q, corpus, c) for name, (knob, c) in runs.items()}
    del fresh
    # On the shared model: another question first, then this one (thread keeps the preamble the
    # other run left), then react after a thread run, and react straight after itself.
    _run(smollm2, "thread", 2, other, corpus, 500.0)
    after = {"thread": _run(smollm2, "thread", 2, q, corpus, 500.0)}
    after["react"] = _run(smollm2, "react", 2, q, corpus, 300.0)
    again = _run(smollm2, "react", 2, q, corpus, 300.0)

    for name, (answer, budget) in alone.items():
        assert budget.ledger.usage.llm_calls >= 1, name
        a_answer, a_budget = after[name]
        assert charged(a_budget.ledger) == charged(budget.ledger), name
        assert a_budget.spent == budget.spent <= runs[name][1], name
        assert (a_answer.text, a_answer.exhausted) == (answer.text, answer.exhausted), name
    assert charged(again[1].ledger) == charged(alone["react"][1].ledger)
    assert again[0].text == alone["react"][0].text
