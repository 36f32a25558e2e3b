"""Budget arithmetic outside a run: the cheapest useful run, knob ladders, which budget a task
spends, and the one validator of budgets that the CLI, the sweep, the library and the server call.

Every budget a user gives goes through ``check_budget`` (one budget) or ``check_budgets`` (a
sweep's list), so each kind of bad budget is refused with the same words everywhere; the error is
an ``InvalidBudget`` whose ``reason`` says which kind.

Not here: spending (``forage.core.budget``), running calls (``forage.llm.metered``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from forage.core.budget import CostModel
from forage.core.errors import ConfigError, InvalidBudget

if TYPE_CHECKING:
    from forage.core.budget import Budget
    from forage.core.trace import Task

MIN_PROMPT_TOKENS = 64  # the shortest prompt any reader sends (instructions + question)


class HasLadder(Protocol):
    ladder: tuple[int, ...]


def min_budget(cost_model: CostModel | None = None) -> float:
    """The cheapest useful run: one search call, a minimal prompt and one completion token."""
    cm = cost_model or CostModel()
    return cm.search_call + MIN_PROMPT_TOKENS * cm.prompt_token + cm.completion_token


def knob_for(spec: HasLadder, level: int) -> int | None:
    """The knob value of budget level ``level``: ``ladder[level]``, clamped to the last rung."""
    if not spec.ladder:
        return None
    return spec.ladder[min(level, len(spec.ladder) - 1)]


def budget_of(task: Task, run_budget: Budget) -> Budget:
    """The budget a step for ``task`` is charged to: the task's own, else the run's."""
    return task.budget or run_budget


def check_budget(
    value: float,
    *,
    cost_model: CostModel | None = None,
    cap: float | None = None,
    option: str | None = None,
) -> float:
    """``value`` as a float if a run may be given it: finite, at least ``min_budget`` and at most
    ``cap`` (if any). Otherwise ``InvalidBudget``; ``option`` (``--budget``) prefixes the message."""
    lead = f"{option}: " if option else ""
    if not math.isfinite(value):
        raise InvalidBudget(f"{lead}budget {value:g} is not a finite number of compute units",
                            reason="not_finite")
    floor = min_budget(cost_model)
    if value < floor:
        raise InvalidBudget(
            f"{lead}budget {value:g} is below the cheapest possible run ({floor:g} compute "
            f"units: one search call and a {MIN_PROMPT_TOKENS}-token prompt)",
            reason="below_floor",
        )
    if cap is not None and value > cap:
        raise InvalidBudget(f"{lead}budget {value:g} is above the cap of {cap:g} compute units",
                            reason="above_cap")
    return float(value)


def check_budgets(budgets: Sequence[float], cost_model: CostModel | None = None) -> tuple[float, ...]:
    """A sweep's budgets sorted ascending; each as ``check_budget``, none repeated, at least one."""
    if not budgets:
        raise ConfigError("give at least one budget")
    for b in budgets:
        check_budget(b, cost_model=cost_model)
    if len(set(budgets)) != len(budgets):
        raise ConfigError(f"budgets repeat: {', '.join(f'{b:g}' for b in budgets)}")
    return tuple(sorted(float(b) for b in budgets))


__all__ = ["MIN_PROMPT_TOKENS", "budget_of", "check_budget", "check_budgets", "knob_for",
           "min_budget"]
