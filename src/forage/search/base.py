"""The search protocol, and the one place where searches meet budgets.

A ``SearchTool`` returns ranked ``Hit``s for a query. ``metered_search`` reserves one search call,
runs the search, and commits it with the tokens of the text it returned (``tool_tokens``) and the
seconds it took; it returns the hits and the search's own ledger entry. Not here: any particular index (``bm25``, ``dense``, ``hybrid``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from forage.core.budget import Budget, Entry, Usage
from forage.core.types import Hit


@runtime_checkable
class SearchTool(Protocol):
    """Anything that ranks documents for a query."""

    @property
    def name(self) -> str: ...

    def search(self, query: str, k: int = 5) -> Sequence[Hit]: ...


def metered_search(
    tool: SearchTool,
    query: str,
    budget: Budget,
    *,
    k: int = 5,
    count_tokens: Callable[[str], int] = lambda s: max(1, len(s) // 4),
) -> tuple[list[Hit], Entry]:
    """Run one search charged to ``budget`` (refused with ``BudgetExhausted`` if it can't pay);
    returns the hits and this search's ledger entry."""
    with budget.reserve_search(label=tool.name) as call:
        t0 = time.perf_counter()
        hits = list(tool.search(query, k))
        seconds = time.perf_counter() - t0
        tokens = sum(count_tokens(h.document.content) for h in hits)
        entry = call.commit(Usage(search_calls=1, tool_tokens=tokens, tool_seconds=seconds))
    return hits, entry
