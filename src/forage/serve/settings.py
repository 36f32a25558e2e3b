"""The service's settings and limits, and the ``reasoning_effort`` presets.

A request's budget comes from, in order: its ``budget`` field (compute units), else the preset of
its ``reasoning_effort``, else ``default_effort``'s preset. The preset also sets the strategy's knob
(the rung of its registry ladder) unless the request gives ``knob``; ``max_search_calls`` caps the
searches on top of the compute budget. Every budget must lie in ``[min_budget, max_budget]`` (``forage.core.budget_rules.check_budget``).

``auto`` (``reasoning_effort: "auto"`` or ``budget: "auto"``) is not a preset: the adaptive cascade
runs under a grant the server decides, at most ``max_budget`` (see ``forage.serve.app``).

``key_budget`` (off when ``None``) gives every API key that many compute units per ``key_window``
seconds (``forage.serve.quota``); ``key_reserve`` is the share of it that ``auto`` requests leave
for first readings late in the window.

=========  ==============  ============  =====================
effort      compute units   ladder rung   max search calls
=========  ==============  ============  =====================
low         1000            0             3
medium      3000            1             6
high        8000            2             12
=========  ==============  ============  =====================

Not here: parsing requests (``forage.serve.protocol``), reading options or the environment (the CLI).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from forage.core.budget_rules import check_budget
from forage.core.errors import ConfigError


@dataclass(frozen=True)
class EffortPreset:
    budget: float
    rung: int  # index into the strategy's knob ladder (clamped to its last rung)
    max_search_calls: int


EFFORT_PRESETS: dict[str, EffortPreset] = {
    "low": EffortPreset(1000.0, 0, 3),
    "medium": EffortPreset(3000.0, 1, 6),
    "high": EffortPreset(8000.0, 2, 12),
}

# Strategies a service does not offer: the oracle ablation needs a dataset's gold decomposition.
NOT_SERVED = frozenset({"tree_oracle"})


@dataclass(frozen=True)
class ServeSettings:
    """Limits of one ``forage serve`` process. ``api_key=None`` means no authentication, which
    ``check_bind`` allows only on a loopback address."""

    api_key: str | None = None
    default_effort: str = "medium"
    max_budget: float = 20000.0
    max_search_calls: int = 32  # the most a request may ask for
    max_body_bytes: int = 256 * 1024
    max_question_chars: int = 8000
    max_concurrency: int = 2  # runs at once
    max_queue: int = 16  # runs waiting for a slot; beyond that, 429
    request_timeout: float = 300.0  # seconds per run, queueing excluded
    max_traces: int = 500  # kept in memory, oldest dropped first
    key_budget: float | None = None  # compute units per API key per window; None = unlimited
    key_window: float = 3600.0  # seconds
    key_reserve: float = 0.1  # share of key_budget that auto grants leave for late first readings

    def __post_init__(self) -> None:
        if self.default_effort not in EFFORT_PRESETS:
            raise ConfigError(f"unknown effort {self.default_effort!r}: low, medium or high")
        check_budget(self.max_budget, option="max budget")
        if not (math.isfinite(self.request_timeout) and self.request_timeout > 0):
            raise ConfigError(f"request timeout must be positive seconds, not {self.request_timeout:g}")
        for name in ("max_search_calls", "max_body_bytes", "max_question_chars",
                     "max_concurrency", "max_traces"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be at least 1")
        if self.max_queue < 0:
            raise ConfigError("max queue must be 0 or more")
        if self.key_budget is not None:
            if isinstance(self.key_budget, bool) or not (
                    math.isfinite(self.key_budget) and self.key_budget > 0):
                raise ConfigError(f"key budget must be a positive number of compute units, not "
                                  f"{self.key_budget!r}")
            check_budget(self.key_budget, option="key budget")
        if not (math.isfinite(self.key_window) and self.key_window > 0):
            raise ConfigError(f"key window must be positive seconds, not {self.key_window:g}")
        if not 0.0 <= self.key_reserve < 1.0:
            raise ConfigError(f"key reserve must be a share in [0, 1), not {self.key_reserve:g}")
        if self.api_key is not None and len(self.api_key) < 8:
            raise ConfigError("the API key must be at least 8 characters long")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None, no_auth: bool) -> str | None:
    """The key the server will require (``None`` = none), or ``ConfigError`` when the choice is
    unsafe: no key without ``--no-auth``, or ``--no-auth`` on an address other hosts can reach."""
    if no_auth:
        if api_key:
            raise ConfigError("--no-auth and an API key exclude each other")
        if not is_loopback(host):
            raise ConfigError(f"--no-auth is allowed only on a loopback address, not {host!r}")
        return None
    if not api_key:
        raise ConfigError("an API key is required: --api-key, or FORAGE_SERVE_API_KEY "
                          "(or --no-auth on 127.0.0.1)")
    return api_key
