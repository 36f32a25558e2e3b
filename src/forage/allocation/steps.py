"""One rung's run for one question of an adaptive allocation, as it is stored (``StepRecord``), its
key, and where it is stored (``StepStore``: the journal's ``steps`` table, or ``MemoryStepStore``).

Not here: deciding (``forage.allocation.policy``), running (``forage.allocation.cascade``), the
journal (``forage.eval.journal``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

StepKey = tuple[str, str, float, int, str, int]  # dataset, policy, mean budget, seed, question, step


@dataclass(frozen=True)
class StepRecord:
    """One rung's run for one question: what was asked, what it gave, what it cost."""

    rung: str
    grant: float
    answer: str
    confidence: float
    spent: float
    exhausted: bool
    usage: dict[str, float]
    seconds: float
    trace: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StepRecord:
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls)})


class StepStore(Protocol):
    def step(self, key: StepKey) -> StepRecord | None: ...

    def record_step(self, key: StepKey, record: StepRecord) -> None: ...


class MemoryStepStore:
    """A ``StepStore`` in a dict (tests, and runs that need no resuming)."""

    def __init__(self) -> None:
        self.steps: dict[StepKey, StepRecord] = {}

    def step(self, key: StepKey) -> StepRecord | None:
        return self.steps.get(key)

    def record_step(self, key: StepKey, record: StepRecord) -> None:
        self.steps[key] = record


__all__ = ["MemoryStepStore", "StepKey", "StepRecord", "StepStore"]
