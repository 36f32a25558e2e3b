"""Checks of option values shared by the commands, each failing as one ``ConfigError`` line.

Not here: what the cheapest run costs (``forage.eval.sweep.min_budget``), server options
(``forage.cli.backends``).
"""

from __future__ import annotations

import math

from forage.core.errors import ConfigError
from forage.eval.sweep import MIN_PROMPT_TOKENS, min_budget


def check_budget(value: float, option: str = "--budget") -> float:
    """``value`` if it is a finite budget that pays for the cheapest possible run."""
    if not math.isfinite(value):
        raise ConfigError(f"{option}: {value:g} is not a finite number of compute units")
    floor = min_budget()
    if value < floor:
        raise ConfigError(
            f"{option}: budget {value:g} is below the cheapest possible run ({floor:g} compute "
            f"units: one search call and a {MIN_PROMPT_TOKENS}-token prompt)"
        )
    return float(value)
