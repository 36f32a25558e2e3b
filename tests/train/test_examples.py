"""Renderer equivalence: a training example's prompt is the request a strategy sends at inference.

The strongest form: replay. The examples of one gold record (every state of its trajectory) form a
table prompt -> completion; a strategy run against a model that answers *only* from that table,
and a search tool that returns the gold passages, must find every one of its requests in the table
and end at the gold answer. A prompt that differs by one character fails the run.
"""

from __future__ import annotations

import random

import pytest

from forage.core.budget import Budget
from forage.core.types import Document, Hit, Question
from forage.data.world import WorldSettings
from forage.hierarchy.thread_format import render_preamble
from forage.hierarchy.tree import Tree
from forage.llm.base import LLMRequest
from forage.llm.testing import FunctionLLM
from forage.prompts.exemplars import ExemplarSet
from forage.runtime.driver import run
from forage.strategies.ircot import IRCoT
from forage.strategies.rag import RAG
from forage.strategies.react import ReAct
from forage.strategies.self_ask import SelfAsk
from forage.train.examples import FORMATS, examples_for, pruned, thread_lines
from forage.train.gold import Gold, world_records

SHOTS = ExemplarSet.generic()


@pytest.fixture(scope="module")
def records() -> list[Gold]:
    return world_records(WorldSettings(seed=1001, entities=150, questions=40, hops=(1, 3)))


def _pick(records: list[Gold], hops: int) -> Gold:
    return next(g for g in records if len(g.hops) == hops and g.readable_hops()
                and g.question.split()[0] in ("Who", "What", "Where", "In", "Which"))


def table(fmts: tuple[str, ...], g: Gold, shots: ExemplarSet = SHOTS) -> dict[str, str]:
    """Every state's prompt -> completion (each format samples one state per call)."""
    out: dict[str, str] = {}
    for fmt in fmts:
        for seed in range(80):
            for e in examples_for(fmt, g, shots, random.Random(seed)):
                out[e.prompt] = e.completion
    return out


class Search:
    """Returns the gold passage for a query: by sub-question, or by what a step wrote."""

    name = "gold"

    def __init__(self, routes: dict[str, Document]) -> None:
        self.routes = routes

    def search(self, query: str, k: int = 5) -> list[Hit]:
        doc = self.routes.get(query)
        assert doc is not None, f"the strategy searched for an unexpected query {query!r}"
        return [Hit(doc, 1.0, 0)]


def _doc(p) -> Document:
    return Document(p.title, p.title, p.text)


async def replay(strategy, g: Gold, answers: dict[str, str], routes: dict[str, Document]):
    def reply(request: LLMRequest) -> str:
        assert request.prompt in answers, "a request no training example renders:\n" + \
            request.prompt[-400:]
        return answers[request.prompt]

    llm = FunctionLLM(reply)
    q = Question(id=g.id, text=g.question, answers=(g.answer,))
    ans = await run(strategy, q, llm=llm, tools=Search(routes), budget=Budget(100_000),
                    profile="completion")
    return ans, llm


def _routes(g: Gold) -> dict[str, Document]:
    from forage.train.examples import _resolved

    return {s.question: _doc(h.passage) for s, h in zip(_resolved(g), g.hops, strict=True)}


async def test_rag_requests_are_training_prompts(records):
    g = _pick(records, 1)
    routes = {g.question: _doc(g.hops[0].passage)}
    ans, llm = await replay(RAG(exemplars=SHOTS), g, table(("rag",), g), routes)
    assert ans.text == g.answer and len(llm.requests) == 1


@pytest.mark.parametrize("hops", [2, 3])
async def test_react_replays_its_training_trajectory(records, hops):
    g = _pick(records, hops)
    ans, llm = await replay(ReAct(exemplars=SHOTS, max_iterations=hops + 1), g,
                            table(("react",), g), _routes(g))
    assert ans.text == g.answer and ans.meta["finished"]
    assert len(llm.requests) == hops + 1


@pytest.mark.parametrize("hops", [2, 3])
async def test_self_ask_replays_follow_ups_reads_and_final_answer(records, hops):
    g = _pick(records, hops)
    ans, llm = await replay(SelfAsk(exemplars=SHOTS, max_follow_ups=hops + 1), g,
                            table(("self_ask", "rag"), g), _routes(g))
    assert ans.text == g.answer
    assert len(llm.requests) == 2 * hops + 1  # follow-ups, their reads, the final answer


async def test_ircot_replays_its_reasoning_chain(records):
    g = _pick(records, 2)
    answers = table(("ircot",), g)
    routes = {g.question: _doc(g.hops[0].passage)}
    from forage.strategies.direct import reasoning_sentences
    from forage.train.gold import to_dev_example

    sentences = reasoning_sentences(to_dev_example(g))
    routes[sentences[0]] = _doc(g.hops[1].passage)  # each sentence is searched in turn
    routes[sentences[1]] = _doc(g.hops[1].passage)  # (nothing new: the chain is complete)
    ans, llm = await replay(IRCoT(exemplars=SHOTS, max_steps=4), g, answers, routes)
    assert ans.text == g.answer and len(llm.requests) == 3


@pytest.mark.parametrize("planning,fmts", [("dag", ("plan", "read", "synth")),
                                           ("stepwise", ("next", "read", "synth"))])
async def test_tree_replays_plan_reads_and_synthesis(records, planning, fmts):
    g = _pick(records, 3)
    tree = Tree(exemplars=SHOTS, planning=planning, direct_first=False, max_depth=1)
    ans, llm = await replay(tree, g, table(fmts, g), _routes(g))
    assert ans.text == g.answer
    assert len(llm.requests) >= 5  # a plan (or one per step), three reads, a synthesis


async def test_tree_reading_first_abstains_then_plans(records):
    """Reading first, the tree meets the whole question with one hop's passage: the training
    prompt for that state is the request, its completion is "unknown", and the tree then plans,
    reads each step and synthesises the gold answer."""
    g = _pick(records, 3)
    first = g.hops[0].passage
    assert g.answer.lower() not in first.text.lower()
    routes = {**_routes(g), g.question: _doc(first)}
    answers = table(("abstain", "plan", "read", "synth"), g)
    tree = Tree(exemplars=SHOTS, planning="dag", direct_first=True, max_depth=1)
    ans, llm = await replay(tree, g, answers, routes)
    assert answers[llm.requests[0].prompt].strip() == "unknown"
    assert ans.text == g.answer and ans.meta["direct"] is False
    assert len(llm.requests) >= 6  # the first reading, a plan, three reads, a synthesis


def test_abstain_examples_show_passages_without_the_answer(records):
    made = [(g, e) for g in records if len(g.hops) >= 2 and g.readable_hops()
            for seed in range(3) for e in examples_for("abstain", g, SHOTS, random.Random(seed))]
    assert len(made) >= 20
    whole = 0
    for g, e in made:
        assert e.completion.strip() == "unknown"
        query = e.prompt[e.prompt.rindex("Passage:"):]
        asked = query[query.rindex("Question:"):]
        whole += g.question in asked
    assert 0.25 < whole / len(made) < 0.75  # both situations, the whole question about half


def test_thread_example_is_the_runtime_stream_in_its_pruned_view(records):
    g = _pick(records, 2)
    rows = thread_lines(g)
    kinds = [k for _, k in rows]
    examples = table(("thread",), g)
    start = render_preamble(SHOTS.multi_hop) + f"Question: {g.question}\n"
    # The stream before "Task 2": task 1 and its conclusion only (search and result pruned).
    j = [i for i, k in enumerate(kinds) if k == "task"][1]
    stream = start + "".join(f"{r}\n" for r in pruned(rows[:j]))
    assert examples[stream] == rows[j][0] + "\n"
    assert "Search:" not in stream[len(start):]
    # Before "Conclusion 1": the open task's search and result are still there.
    c = kinds.index("conclusion")
    stream = start + "".join(f"{r}\n" for r, _ in rows[:c])
    assert examples[stream] == rows[c][0] + "\n"
    assert "Result:" in stream[len(start):]


def test_every_format_renders_through_the_completion_renderer(records):
    g = _pick(records, 2)
    made = {fmt: examples_for(fmt, g, SHOTS, random.Random(0)) for fmt in FORMATS}
    assert all(made[f] for f in FORMATS if f != "plan") and made["plan"]
    for fmt, examples in made.items():
        for e in examples:
            assert e.completion.strip() and not e.prompt.endswith(e.completion)


def test_calibration_examples_are_balanced_so_the_question_shape_predicts_nothing(records):
    from forage.train.examples import _resolved

    rng = random.Random(0)  # one stream, as the mixture draws
    made = [(g, e) for _ in range(4) for g in records
            for e in examples_for("calib", g, SHOTS, rng)]
    assert len(made) >= 80
    by_shape: dict[bool, list[bool]] = {True: [], False: []}
    for g, e in made:
        query = e.prompt[e.prompt.rindex("Passage:"):]
        passage, asked = query[: query.rindex("Question:")], query[query.rindex("Question:"):]
        whole = g.question in asked
        answer = g.answer if whole else next(
            s.answer for s in _resolved(g) if f"Question: {s.question}\n" in asked + "\n")
        unknown = e.completion.strip() == "unknown"
        by_shape[whole].append(unknown)
        # what the label says is what the passage supports
        assert (answer.lower() in passage.lower()) != unknown, (asked, answer)
        if not unknown:
            assert e.completion.strip() == answer
    for shape, labels in by_shape.items():
        assert len(labels) >= 20, shape
        assert 0.3 < sum(labels) / len(labels) < 0.7, (shape, sum(labels), len(labels))
