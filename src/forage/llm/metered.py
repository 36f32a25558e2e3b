"""Run one LLM call through the budget: reserve, (replay or) call, commit.

This is the only place where LLM calls meet budgets, so every call of every strategy is charged
the same way: ``complete`` for a request, ``write_line`` for one line of a KV line stream (the
single-stream runtime's call, handed to it by the driver). The prompt is counted before the call, ``max_tokens`` is clipped to what the budget
can pay for and to the context window, and a call that cannot fit is refused without running (a
prompt longer than the context window too: it is written to the ledger as a refused call).
``complete`` returns the response *and* the call's own ledger entry.

Prefix caches are not charged. Every prompt token of a request is charged at the full prompt rate,
even when the backend reports some as served from its KV/prefix cache (the embedded backend reuses
the prefix the previous call left; servers report ``cached_tokens``). What a backend happens to hold
depends on whatever ran before in the process or on the server — other questions, other strategies,
an interrupted sweep — so charging it would make a run's cost, and every decision taken against the
budget, depend on history. Reuse still saves wall time; it is simply not a discount. (The cached rate
applies only to cells a run put in its own KV stream earlier in the same run: the single-stream
runtime, ``forage.hierarchy.thread``.)

Time. A call's ``llm_seconds`` is the model's own time (the backend's ``response.seconds``: for
the embedded model, the time the call held it) and ``llm_wait_seconds`` the rest of its wall time,
spent queueing for a model another call held (concurrent executors, a served model's other
requests). A backend that reports no time of its own has all of it counted as ``llm_seconds``. A
replayed call counts its original ``llm_seconds`` and no wait.

``write_line`` meters one line of a ``LineStream``: the line reads the whole stream, so the cells
already in the KV cache that this run put there are ``cached_prompt_tokens``, the input evaluated
now (pending spans, a forced prefix, tokens that end the line cleanly, and cells an earlier run
left that this run has not paid for yet) is fresh prompt tokens, and the sampled tokens are
completion tokens. It reserves before anything is evaluated (a line that cannot be paid for
evaluates nothing) and commits what the line used. KV lines are not replayed from a call cache:
a line's input is the stream's state, not a request.

Not here: choosing prompts or parsing output (strategies), the backends themselves.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from forage.core.budget import Budget, Entry, usage_of_llm_call
from forage.core.errors import ContextOverflow
from forage.llm.base import LLM, LLMRequest, LLMResponse, check_supported
from forage.llm.cache import CallStore
from forage.llm.line_stream import GeneratedLine, LineStream

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
    cache: CallStore | None = None,
    label: str = "",
) -> tuple[LLMResponse, Entry]:
    """Run ``request`` on ``llm`` charged to ``budget``; returns the response and this call's
    ledger entry. Raises ``BudgetExhausted`` if it can't be paid for, ``ContextOverflow`` if the
    prompt cannot fit the context window (both recorded in the ledger as refused calls)."""
    caps = llm.capabilities
    check_supported(caps, request)
    label = label or llm.model_id
    prompt_tokens = prompt_tokens_of(llm, request)
    max_tokens = request.max_tokens
    if caps.context_window is not None:
        room = caps.context_window - prompt_tokens
        if room < 1:
            overflow = ContextOverflow(prompt_tokens, caps.context_window)
            budget.refuse(label, str(overflow), "context")
            raise overflow
        max_tokens = min(max_tokens, room)
    # A backend without native n runs n calls and reads the prompt n times.
    billed_prompt = prompt_tokens if caps.supports_n else prompt_tokens * request.n
    with budget.reserve_llm(billed_prompt, max_tokens, n=request.n, label=label) as call:
        clipped = request.model_copy(update={"max_tokens": call.max_tokens})
        cached = cache.get(llm.model_id, clipped) if cache is not None else None
        if cached is not None:
            response, replayed, wait = cached, True, 0.0
        else:
            t0 = time.perf_counter()
            try:
                response = await llm.complete(clipped)
            except ContextOverflow:  # the backend counted more tokens than we did
                budget.refuse(label, "the prompt does not fit the context window", "context")
                raise
            total = time.perf_counter() - t0
            # The backend's own time when it reports one; the rest was waiting for the model.
            own = response.seconds if 0 < response.seconds <= total else total
            wait = total - own
            response = response.model_copy(update={"seconds": own})
            replayed = False
            if cache is not None:
                cache.put(llm.model_id, clipped, response)
        u = response.usage
        # All prompt tokens at the full rate: the backend's prefix-cache report is not charged.
        entry = call.commit(
            usage_of_llm_call(u.prompt_tokens, u.completion_tokens, 0, response.seconds, wait),
            replayed=replayed,
            estimated=u.estimated,
        )
    log.debug("%s: %d+%d tokens (%d reused by the backend, charged in full)%s", llm.model_id,
              u.prompt_tokens, u.completion_tokens, u.cached_prompt_tokens,
              " (replayed)" if replayed else "")
    return response, entry


@dataclass(frozen=True)
class MeteredLine:
    """What ``write_line`` did: where the line starts in the stream (after its input), the option
    chosen as its prefix (``None`` unconstrained), the generated rest, the tokens evaluated as input
    now (spans and the forced prefix), the prompt tokens charged and the call's ledger entry."""

    start: int
    choice: int | None
    generated: GeneratedLine
    evaluated_input: int
    prompt_tokens: int
    entry: Entry
    seconds: float


def write_line(
    stream: LineStream,
    budget: Budget,
    spans: Sequence[Sequence[Any]],
    *,
    max_tokens: int,
    options: Sequence[str] | None = None,
    unpaid_cells: int = 0,
    temperature: float = 0.0,
    seed: int = 0,
    label: str = "",
) -> MeteredLine:
    """Evaluate ``spans`` (input tokens), then write one line: choose its prefix among ``options``
    from the logits (if given), sample the rest up to the line break (at most ``max_tokens``,
    clipped to what the budget pays for). ``unpaid_cells``: cells at the stream's start that an
    earlier run left and this run has not been charged for (charged now as fresh input). Raises
    ``BudgetExhausted`` before evaluating anything if the line cannot be paid for."""
    cells = len(stream) - unpaid_cells
    new_input = unpaid_cells + sum(len(s) for s in spans)
    prefix_room = max(len(stream.encode(o)) for o in options) if options else 0
    with budget.reserve_llm(cells + new_input + prefix_room, max_tokens,
                            cached_prompt_tokens=cells, label=label) as call:  # fmt: skip
        t0 = time.perf_counter()
        for span in spans:
            stream.eval(span)
        start = len(stream)
        choice = stream.choose(options, temperature=temperature, seed=seed) if options else None
        forced = len(stream) - start
        g = stream.generate_line(call.max_tokens or 1, temperature=temperature, seed=seed)
        seconds = time.perf_counter() - t0
        fresh = new_input + forced + g.extra_input
        entry = call.commit(usage_of_llm_call(cells + fresh, g.sampled, cells, seconds))
    return MeteredLine(start, choice, g, new_input - unpaid_cells + forced, cells + fresh, entry,
                       seconds)
