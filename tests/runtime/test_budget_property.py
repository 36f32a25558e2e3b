"""No strategy ever overspends: one property test over every entry of ``registry.available()``.

For each registered strategy, hypothesis draws a budget (from nothing to more than enough), the
strategy's knob from its ladder, a seed, and a model that answers every call with a reply drawn
from a pool of well-formed and malformed outputs of every prompt format (plans, ReAct actions,
follow-ups, verdicts, answer lines, garbage, nothing); it yields to the event loop inside each
call, so concurrent calls interleave as on a real backend. The search tool is ``StaticSearch``. Every
run must return an answer without raising, never spend beyond the budget, and leave a ledger and
a trace that agree (``answer_checks.assert_ledger_matches_trace``).

A strategy that needs a capability the ``FunctionLLM`` double lacks is listed in ``LINE_STREAM``
with the reason (a test checks that it really refuses the double) and runs on a
``ScriptedLineStream`` whose policy draws its lines the same way. Every other registered strategy,
plug-ins included, runs on the double: none is skipped.

Not here: what a strategy answers (its own tests), the budget arithmetic itself
(``tests/core/test_budget.py``).
"""

from __future__ import annotations

import asyncio

import pytest
from answer_checks import assert_ledger_matches_trace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forage.core.budget import Budget
from forage.core.errors import ConfigError
from forage.core.types import Document, Question
from forage.llm.base import Capabilities, LLMRequest
from forage.llm.line_stream import ScriptedLineStream
from forage.llm.testing import FunctionLLM, StreamLLM
from forage.runtime.driver import run
from forage.runtime.registry import available
from forage.search.testing import StaticSearch

QUESTION = Question(
    id="q",
    text="Where was the founder of the Lantern Society born?",
    answers=("Harrowgate",),
    hops=2,
    decomposition=("Who founded the Lantern Society?", "Where was #1 born?"),
)
DOCS = [
    Document("1", "Lantern Society", "The Lantern Society was founded by Ada Prell."),
    Document("2", "Ada Prell", "Ada Prell was born in Harrowgate."),
    Document("3", "Brennock", "Brennock is a fishing port with a sea wall."),
]

# Replies in every format a strategy parses, well-formed and not, so runs take every branch.
REPLIES = (
    "Harrowgate",
    " Ada Prell.\n",
    "",
    "\n",
    "unknown",
    " Yes",
    " No",
    "Supported: No",
    "1. Who founded the Lantern Society?\n2. Where was #1 born?",
    '{"steps": [{"question": "Who founded the Lantern Society?"}, '
    '{"question": "Where was #1 born?"}]}',
    " Ada Prell founded it.\nAction 1: Search[Ada Prell]",
    "Action 2: Finish[Harrowgate]",
    "Action 1: Lookup[",
    "Follow up: Who founded the Lantern Society?",
    "Intermediate answer: Ada Prell",
    "So the final answer is: Harrowgate",
    " Ada Prell was born in Harrowgate. So the answer is: Harrowgate.",
    "Ada Prell " * 40,
    "Question: Where was the founder of the Lantern Society born?\nAnswer:",
)

# Strategies that need a backend capability the FunctionLLM double lacks, and why.
LINE_STREAM = {
    "thread": "needs a backend that edits its KV cache (supports_kv_edit): driven by "
    "ScriptedLineStream, the model-free LineStream it runs on",
}

# Line-stream replies: one of the offered prefixes (the registered thread constrains its lines to
# them) with a drawn continuation, empty ones and cut-off ones included.
LINE_TAILS = (" Who founded the Lantern Society?", " Ada Prell", " Harrowgate", " ", "")

SPECS = available()


class InterleavingLLM(FunctionLLM):
    """A ``FunctionLLM`` that yields to the event loop inside every call, as a real backend does,
    so the calls of a ``Parallel`` step interleave (each must still be charged its own cost)."""

    async def complete(self, request: LLMRequest):  # type: ignore[override]
        await asyncio.sleep(0)
        return await super().complete(request)


def _budget_limits() -> st.SearchStrategy[float]:
    return st.one_of(
        st.sampled_from([0.0, 1.0, 49.9, 50.0, 60.0]),
        st.floats(0, 600, allow_nan=False),
        st.floats(600, 20_000, allow_nan=False),
    )


def _run_through_driver(strategy, data, budget: Budget, seed: int):
    def reply(request: LLMRequest) -> str:
        return data.draw(st.sampled_from(REPLIES), label="reply")

    profile = data.draw(st.sampled_from(["completion", "chat"]), label="profile")
    caps = Capabilities(supports_logprobs=True, exact_token_count=True, prompt_profile=profile)
    llm = InterleavingLLM(reply, capabilities=caps)
    return asyncio.run(run(strategy, QUESTION, llm=llm, tools=StaticSearch(DOCS), budget=budget,
                           seed=seed))


def _run_on_a_line_stream(strategy, data, budget: Budget, seed: int):
    def policy(options):
        prefix = data.draw(st.sampled_from(list(options)), label="prefix")
        line = prefix + data.draw(st.sampled_from(LINE_TAILS), label="tail")
        finish = data.draw(st.sampled_from(["stop", "stop", "length"]), label="finish")
        return (line, finish)

    return asyncio.run(run(strategy, QUESTION, llm=StreamLLM(ScriptedLineStream(policy)),
                           tools=StaticSearch(DOCS), budget=budget, seed=seed))


@pytest.mark.parametrize("name", sorted(LINE_STREAM))
def test_strategies_listed_for_a_line_stream_cannot_run_on_the_llm_double(name):
    """The listing is earned: on the FunctionLLM double these strategies refuse to run."""
    llm = FunctionLLM(lambda r: "Harrowgate")
    with pytest.raises(ConfigError, match="KV cache"):
        asyncio.run(run(SPECS[name].build(), QUESTION, llm=llm, tools=StaticSearch(DOCS),
                        budget=Budget(10_000)))


@pytest.mark.parametrize("name", sorted(SPECS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), limit=_budget_limits(), seed=st.integers(0, 3))
def test_no_strategy_ever_overspends(name, data, limit, seed):
    spec = SPECS[name]
    knob = data.draw(st.sampled_from(spec.ladder), label="knob")
    strategy = spec.build(knob)
    budget = Budget(limit)
    if name in LINE_STREAM:
        answer = _run_on_a_line_stream(strategy, data, budget, seed)
    else:
        answer = _run_through_driver(strategy, data, budget, seed)
    assert budget.spent <= limit + 1e-9
    assert isinstance(answer.text, str)
    assert_ledger_matches_trace(answer, budget)
    if limit == 0:  # nothing could be paid for, so nothing can have been read or answered
        assert answer.text == "" and budget.spent == 0
