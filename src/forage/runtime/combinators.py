"""Composing sans-I/O step generators.

``gather(gens)`` runs several step generators concurrently: each round it yields one ``Parallel``
of every generator's pending step and sends each its own result back (a refused step's
``BudgetExhausted`` is thrown into the generator that asked for it). It returns the generators'
return values in order. Strategies use it to run independent subtasks at the same time.

Not here: executing steps (the driver does that).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from forage.core.errors import BudgetExhausted
from forage.runtime.base import Parallel, Step

StepGen = Generator[Step, Any, Any]


def gather(gens: Sequence[StepGen]) -> Generator[Step, Any, list[Any]]:
    results: list[Any] = [None] * len(gens)
    pending: dict[int, Step] = {}
    for i, g in enumerate(gens):
        try:
            pending[i] = next(g)
        except StopIteration as stop:
            results[i] = stop.value
    while pending:
        order = list(pending)
        if len(order) == 1:  # no need to wrap a single step
            i = order[0]
            try:
                outs = [(yield pending[i])]
            except BudgetExhausted as e:
                outs = [e]
        else:
            outs = yield Parallel(tuple(pending[i] for i in order))  # type: ignore[arg-type]
        for i, out in zip(order, outs, strict=True):
            g = gens[i]
            try:
                pending[i] = g.throw(out) if isinstance(out, BudgetExhausted) else g.send(out)
            except StopIteration as stop:
                del pending[i]
                results[i] = stop.value
    return results
