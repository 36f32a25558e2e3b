"""forage: hierarchical test-time search under a hard compute budget.

The front door (everything else stays importable from its module, unadvertised)::

    import forage
    answer = forage.ask("Who designed Skerry Point Lighthouse?", corpus="examples/corpus")
    print(answer.text, answer.ledger.compute)

- ``ask`` / ``ask_async``: one question, one strategy, one budget -> ``Answer`` (text, trace
  ``answer.task``, ledger ``answer.ledger``);
- ``bench``: strategies x budgets x datasets x seeds, journaled and resumable, with the report
  (what ``forage bench`` runs) -> ``BenchRun``;
- ``Budget``, ``load_corpus``, ``EmbeddedLLM``, ``OpenAICompatLLM``; ``strategies()`` lists the
  registered strategies.

Importing ``forage`` is cheap: each name loads its module on first use, so llama.cpp, torch, Ray
and FastAPI are imported only by what needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forage import strategies
    from forage.core.budget import Budget
    from forage.core.errors import ForageError
    from forage.eval.bench import BenchRun, bench
    from forage.llm.embedded import EmbeddedLLM
    from forage.llm.openai_compat import OpenAICompatLLM
    from forage.runtime.ask import ask, ask_async
    from forage.runtime.base import Answer
    from forage.search.corpus import load_corpus

_HOMES = {
    "Answer": "forage.runtime.base",
    "BenchRun": "forage.eval.bench",
    "Budget": "forage.core.budget",
    "EmbeddedLLM": "forage.llm.embedded",
    "ForageError": "forage.core.errors",
    "OpenAICompatLLM": "forage.llm.openai_compat",
    "ask": "forage.runtime.ask",
    "ask_async": "forage.runtime.ask",
    "bench": "forage.eval.bench",
    "load_corpus": "forage.search.corpus",
}

__all__ = [
    "Answer",
    "BenchRun",
    "Budget",
    "EmbeddedLLM",
    "ForageError",
    "OpenAICompatLLM",
    "ask",
    "ask_async",
    "bench",
    "load_corpus",
    "strategies",
]


def __getattr__(name: str) -> Any:
    if name == "strategies":  # the subpackage, which is callable: forage.strategies()
        return importlib.import_module("forage.strategies")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'forage' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
