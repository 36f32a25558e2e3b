"""One question, one strategy, one budget: the building blocks ``forage ask`` and ``forage serve``
share, so neither carries its own copy.

``build_strategy(name, knob)`` builds a registered strategy (a knob its constructor does not take is
a ``ConfigError``, not a ``TypeError``); ``bm25_over(path)`` puts a corpus (a folder of .txt/.md or a
JSONL of ``{id,title,text}``) behind BM25. Running is the driver's ``run``.

Not here: building LLM backends from options or the environment (``forage.cli.backends``), printing,
HTTP.
"""

from __future__ import annotations

from pathlib import Path

from forage.core.errors import ConfigError
from forage.runtime import registry
from forage.runtime.base import Strategy
from forage.search.bm25 import BM25Search
from forage.search.corpus import load_corpus


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
