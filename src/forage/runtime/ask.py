"""One question, one strategy, one budget: ``ask`` / ``ask_async`` (the library's front door,
``forage.ask``) and the building blocks ``forage ask`` and ``forage serve`` share.

``ask(question, corpus=..., strategy="tree", budget=3000, model="forage-small")`` loads what it is
given (a corpus path, a ``Corpus`` or a ready ``SearchTool``; a model name or a ready ``llm``),
checks the budget with the one validator (``forage.core.budget_rules``), runs the strategy through
the driver and returns its ``Answer`` (text, trace ``answer.task``, ledger ``answer.ledger``).
``build_strategy(name, knob)`` builds a registered strategy (a knob its constructor does not take
is a ``ConfigError``, not a ``TypeError``); ``bm25_over(path)`` puts a corpus (a folder of
.txt/.md or a JSONL of ``{id,title,text}``) behind BM25.

Not here: building LLM backends from command-line options or the environment
(``forage.cli.backends``), printing, HTTP.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from forage.core.budget import Budget
from forage.core.budget_rules import check_budget
from forage.core.errors import ConfigError
from forage.core.types import Question
from forage.llm.base import LLM
from forage.llm.cache import CallStore
from forage.runtime import registry
from forage.runtime.base import Answer, Strategy
from forage.runtime.driver import run
from forage.search.base import SearchTool
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus, load_corpus

T = TypeVar("T")

DEFAULT_STRATEGY = "tree"
DEFAULT_BUDGET = 3000.0


def build_strategy(name: str, knob: int | None = None) -> Strategy:
    """The registered strategy ``name`` with its budget knob set (``None``: its own default)."""
    spec = registry.get(name)
    if knob is not None and knob < 1:
        raise ConfigError(f"the knob of {spec.name} must be at least 1, not {knob}")
    try:
        return spec.build(knob)
    except TypeError as e:
        raise ConfigError(f"strategy {spec.name!r} cannot be built this way: {e}") from None


def bm25_over(path: str | Path, *, name: str = "bm25") -> BM25Search:
    """BM25 over the corpus at ``path`` (``DataError`` naming the file if it cannot be read)."""
    return BM25Search(load_corpus(path), name=name)


def search_tool(corpus: str | Path | Corpus | SearchTool) -> SearchTool:
    """A search tool for ``corpus``: BM25 over a path or a ``Corpus``; a ``SearchTool`` as is."""
    if isinstance(corpus, (str, Path)):
        return bm25_over(corpus)
    if isinstance(corpus, Corpus):
        return BM25Search(corpus)
    if hasattr(corpus, "search") and hasattr(corpus, "name"):
        return corpus
    raise ConfigError(f"corpus must be a path, a Corpus or a search tool, not {type(corpus).__name__}")


async def ask_async(
    question: str | Question,
    *,
    corpus: str | Path | Corpus | SearchTool,
    strategy: str | Strategy = DEFAULT_STRATEGY,
    budget: float | Budget = DEFAULT_BUDGET,
    model: str | None = None,
    llm: LLM | None = None,
    knob: int | None = None,
    seed: int = 0,
    cache: CallStore | None = None,
) -> Answer:
    """``ask`` for code that already runs an event loop (``await forage.ask_async(...)``)."""
    if isinstance(question, str) and not question.strip():
        raise ConfigError("the question is empty")
    if model is not None and llm is not None:
        raise ConfigError("give model or llm, not both")
    if isinstance(budget, Budget):
        spend = budget
    else:
        spend = Budget(check_budget(budget))
    built = build_strategy(strategy, knob) if isinstance(strategy, str) else strategy
    tool = search_tool(corpus)
    if llm is None:
        from forage.llm.embedded import EmbeddedLLM  # loads llama.cpp only when asked to

        llm = EmbeddedLLM(model) if model is not None else EmbeddedLLM()
    return await run(built, question, llm=llm, tools=tool, budget=spend, seed=seed, cache=cache)


def ask(question: str | Question, *, corpus: str | Path | Corpus | SearchTool,
        strategy: str | Strategy = DEFAULT_STRATEGY, budget: float | Budget = DEFAULT_BUDGET,
        model: str | None = None, llm: LLM | None = None, knob: int | None = None, seed: int = 0,
        cache: CallStore | None = None) -> Answer:
    """Answer one question over ``corpus`` with a registered ``strategy`` under ``budget``.

    ``corpus`` is a folder of .txt/.md files or a JSONL of ``{id, title, text}`` (searched with
    BM25), a ``Corpus``, or any ``SearchTool``. ``budget`` is compute units (completion token 1,
    prompt token 0.25, search call 50) or a ``Budget``; it is a hard cap. The model is ``llm`` (any
    backend: ``EmbeddedLLM``, ``OpenAICompatLLM``, a test double) or else the embedded ``model``
    (default ``forage-small``), loaded for this call: pass ``llm`` to ask several questions of one
    loaded model. ``knob`` sets the strategy's budget knob (passages, iterations, samples, ...).

    Returns the ``Answer``: ``text``, ``exhausted``, the trace (``answer.task``, a tree of goals,
    actions and conclusions) and the ledger (``answer.ledger``). Works inside a running event loop
    too (a notebook): the run then happens on a worker thread.
    """
    return run_sync(ask_async(question, corpus=corpus, strategy=strategy, budget=budget,
                              model=model, llm=llm, knob=knob, seed=seed, cache=cache))


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code, also where an event loop is running
    already (then on a worker thread with its own loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


__all__ = ["ask", "ask_async", "bm25_over", "build_strategy", "run_sync", "search_tool"]
