"""Small text helpers every report page shares: HTML escaping, numbers, file-name slugs.

Not here: pages (``forage.report.sweep_report``, ``forage.report.allocation_report``).
"""

from __future__ import annotations

import html
import math
import re
from typing import Any


def escape(x: Any) -> str:
    return html.escape(str(x))


def number(x: float | None, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals; "n/a" for None, "inf" for an infinity."""
    if x is None:
        return "n/a"
    return "inf" if math.isinf(x) else f"{x:.{digits}f}"


def slug(name: str) -> str:
    """``name`` as a safe file-name part."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "dataset"


def plain_number(x: float) -> str:
    """A tick label without exponents: 200, 1,500, 0.5."""
    return f"{x:,.0f}" if abs(x) >= 1 else f"{x:g}"


__all__ = ["escape", "number", "plain_number", "slug"]
