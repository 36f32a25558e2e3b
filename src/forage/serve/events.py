"""Progress of a running request, for streamed responses: wrappers of the run's LLM backend and
search tool that report each finished call to a callback.

``Observed(llm, emit)`` and ``ObservedSearch(tool, emit)`` behave exactly like what they wrap
(everything else is delegated) and call ``emit(event)`` after each call with a small dict:
``{"event": "generate", "prompt_tokens", "completion_tokens"}`` or
``{"event": "search", "query", "titles"}``. They change nothing about what is run or charged:
metering stays in the driver.

Not here: encoding events (``forage.serve.protocol``), budgets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from forage.core.types import Hit
from forage.llm.base import LLM, Capabilities, LLMRequest, LLMResponse
from forage.search.base import SearchTool

Emit = Callable[[dict[str, Any]], None]


class ObservedLLM:
    """``llm``, reporting each completed call."""

    def __init__(self, llm: LLM, emit: Emit) -> None:
        self._llm = llm
        self._emit = emit

    @property
    def model_id(self) -> str:
        return self._llm.model_id

    @property
    def capabilities(self) -> Capabilities:
        return self._llm.capabilities

    def count_tokens(self, text: str) -> int:
        return self._llm.count_tokens(text)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        response = await self._llm.complete(request)
        self._emit({"event": "generate", "prompt_tokens": response.usage.prompt_tokens,
                    "completion_tokens": response.usage.completion_tokens})
        return response

    def __getattr__(self, name: str) -> Any:  # e.g. the embedded model's lock and KV handles
        return getattr(self._llm, name)


class ObservedSearch:
    """``tool``, reporting each search."""

    def __init__(self, tool: SearchTool, emit: Emit) -> None:
        self._tool = tool
        self._emit = emit

    @property
    def name(self) -> str:
        return self._tool.name

    def search(self, query: str, k: int = 5) -> Sequence[Hit]:
        hits = self._tool.search(query, k)
        self._emit({"event": "search", "query": query,
                    "titles": [h.document.title for h in hits]})
        return hits

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tool, name)
