"""``import forage``: the few public names, cheap to import, and ``forage.ask`` / ``ask_async``
answering through the driver (on a test double; the README test runs the real model)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import forage
from forage.core.errors import InvalidBudget
from forage.llm.testing import FunctionLLM

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "examples" / "corpus"
QUESTION = "Who designed Skerry Point Lighthouse?"


def _reader(request) -> str:
    return " Odile Maren\n"


def test_import_forage_loads_no_heavy_dependency_even_after_touching_every_name():
    code = (
        "import sys, forage\n"
        "heavy = ('llama_cpp', 'torch', 'ray', 'fastapi', 'matplotlib')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "[getattr(forage, n) for n in forage.__all__]\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["[]", "[]"]


def test_every_public_name_is_documented_and_resolves():
    assert set(forage.__all__) >= {"ask", "ask_async", "bench", "Budget", "load_corpus",
                                   "EmbeddedLLM", "OpenAICompatLLM", "strategies", "Answer"}
    for name in forage.__all__:
        value = getattr(forage, name)
        assert (value.__doc__ or "").strip(), name
    with pytest.raises(AttributeError):
        forage.nothing_here  # noqa: B018


def test_strategies_lists_the_registry_even_after_a_strategy_module_was_imported():
    import forage.strategies.rag  # noqa: F401  (binds the subpackage on forage)

    specs = forage.strategies()
    assert {"tree", "rag", "thread"} <= set(specs)
    assert specs["tree"].ladder and specs["tree"].description


def test_ask_answers_with_a_trace_and_a_ledger_within_the_budget():
    llm = FunctionLLM(_reader)
    answer = forage.ask(QUESTION, corpus=str(CORPUS), strategy="rag", budget=3000, llm=llm)
    assert answer.text == "Odile Maren" and not answer.exhausted
    assert answer.task.goal == QUESTION and answer.task.status == "done"
    assert 0 < answer.ledger.compute <= 3000
    assert answer.ledger.compute == pytest.approx(answer.meta["ledger"]["compute"])
    assert [a.kind for a in answer.task.actions] == ["search", "generate"]


def test_ask_takes_a_loaded_corpus_or_a_search_tool():
    from forage.search.bm25 import BM25Search

    corpus = forage.load_corpus(CORPUS)
    for given in (corpus, BM25Search(corpus)):
        answer = forage.ask(QUESTION, corpus=given, strategy="rag", llm=FunctionLLM(_reader))
        assert answer.text == "Odile Maren"


async def test_ask_works_inside_a_running_event_loop_and_has_an_async_twin():
    llm = FunctionLLM(_reader)
    inside = forage.ask(QUESTION, corpus=CORPUS, strategy="rag", llm=llm)  # a notebook's case
    twin = await forage.ask_async(QUESTION, corpus=CORPUS, strategy="rag", llm=llm)
    assert inside.text == twin.text == "Odile Maren"


@pytest.mark.parametrize("budget,reason", [(float("inf"), "not_finite"), (10, "below_floor")])
def test_ask_refuses_a_budget_no_run_can_have_before_loading_anything(budget, reason):
    with pytest.raises(InvalidBudget) as e:
        forage.ask(QUESTION, corpus=CORPUS, budget=budget, model="/nonexistent.gguf")
    assert e.value.reason == reason


def test_ask_refuses_an_unknown_strategy_and_both_model_and_llm():
    with pytest.raises(forage.ForageError, match="unknown strategy 'nope'"):
        forage.ask(QUESTION, corpus=CORPUS, strategy="nope", llm=FunctionLLM(_reader))
    with pytest.raises(forage.ForageError, match="model or llm"):
        forage.ask(QUESTION, corpus=CORPUS, model="smollm2", llm=FunctionLLM(_reader))
