"""The flat baselines, one module each; and ``forage.strategies()``.

Called, this package lists every registered strategy (built-ins and plug-ins) by name, as
``StrategySpec``s: ``forage.strategies()["tree"].description``. (It is a callable module so that
``forage.strategies`` is the same object whether or not a strategy module was imported first.)
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forage.runtime.registry import StrategySpec


class _Callable(types.ModuleType):
    def __call__(self) -> dict[str, StrategySpec]:
        """Every registered strategy (built-ins and plug-ins) by name."""
        from forage.runtime.registry import available

        return available()


sys.modules[__name__].__class__ = _Callable
