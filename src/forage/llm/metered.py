"""Run one LLM call through the budget: reserve, (replay or) call, commit.

This is the only place where LLM calls meet budgets, so every call of every strategy is charged the
same way. The prompt is counted before the call, ``max_tokens`` is clipped to what the budget can pay
for and to the context window, and a call that cannot fit is refused without running.

Not here: choosing prompts or parsing output (strategies), the backends themselves.
"""

from __future__ import annotations

import logging
import math
import time

from forage.core.budget import Budget, usage_of_llm_call
from forage.core.errors import ContextOverflow
from forage.llm.base import LLM, LLMRequest, LLMResponse, check_supported
from forage.llm.cache import CallCache

log = logging.getLogger(__name__)

# Chat templates add role markers, and some a default system prompt, that a plain-text count does
# not see; estimated counts (no exact tokenizer) can be ~20% low on short texts (measured against a
# llama.cpp server: 59 estimated vs 69 real tokens). Reservations must be upper bounds.
_CHAT_OVERHEAD = 32
_CHAT_OVERHEAD_PER_MESSAGE = 8
_ESTIMATE_FACTOR = 1.3
_ESTIMATE_SLACK = 8


def prompt_tokens_of(llm: LLM, request: LLMRequest) -> int:
    """Prompt tokens of ``request`` as reserved: exact for completion prompts on a backend with an
    exact tokenizer, otherwise a deliberate over-estimate."""
    if request.prompt is not None:
        n = llm.count_tokens(request.prompt)
    else:
        assert request.messages is not None
        n = _CHAT_OVERHEAD + sum(
            llm.count_tokens(m.content) + _CHAT_OVERHEAD_PER_MESSAGE for m in request.messages
        )
    if not llm.capabilities.exact_token_count:
        n = math.ceil(n * _ESTIMATE_FACTOR) + _ESTIMATE_SLACK
    return n


async def complete(
    llm: LLM,
    request: LLMRequest,
    budget: Budget,
    *,
    cache: CallCache | None = None,
    label: str = "",
) -> LLMResponse:
    """Run ``request`` on ``llm`` charged to ``budget``; raises ``BudgetExhausted`` if it can't fit."""
    caps = llm.capabilities
    check_supported(caps, request)
    prompt_tokens = prompt_tokens_of(llm, request)
    max_tokens = request.max_tokens
    if caps.context_window is not None:
        room = caps.context_window - prompt_tokens
        if room < 1:
            raise ContextOverflow(prompt_tokens, caps.context_window)
        max_tokens = min(max_tokens, room)
    # A backend without native n runs n calls and reads the prompt n times.
    billed_prompt = prompt_tokens if caps.supports_n else prompt_tokens * request.n
    reservation = budget.reserve_llm(
        billed_prompt, max_tokens, n=request.n, label=label or llm.model_id
    )
    clipped = request.model_copy(update={"max_tokens": reservation.max_tokens})
    try:
        cached = cache.get(llm.model_id, clipped) if cache is not None else None
        if cached is not None:
            response, replayed = cached, True
        else:
            t0 = time.perf_counter()
            response = await llm.complete(clipped)
            seconds = time.perf_counter() - t0
            response = response.model_copy(update={"seconds": seconds})
            replayed = False
            if cache is not None:
                cache.put(llm.model_id, clipped, response)
    except BaseException:
        budget.release(reservation)
        raise
    u = response.usage
    budget.commit(
        reservation,
        usage_of_llm_call(u.prompt_tokens, u.completion_tokens, u.cached_prompt_tokens, response.seconds),
        replayed=replayed,
        estimated=u.estimated,
    )
    log.debug("%s: %d+%d tokens%s", llm.model_id, u.prompt_tokens, u.completion_tokens,
              " (replayed)" if replayed else "")
    return response
