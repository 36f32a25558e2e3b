"""``Result``: one strategy's run on one question under one budget, scored -- the record a sweep
journals and every report reads. Under a batch allocation (``allocation`` other than "uniform")
``budget`` is the batch's *mean* budget per question, ``given`` what this question was granted and
``compute`` what it spent.

Not here: producing results (``forage.eval.runner``), storing them (``forage.eval.journal``),
aggregating them (``forage.report.statistics``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Result:
    question_id: str
    strategy: str
    knob: int | None
    budget: float
    seed: int
    prediction: str
    answers: list[str]
    em: float
    f1: float
    acc: float
    compute: float
    usage: dict[str, float]
    exhausted: bool
    seconds: float
    hops: int | None = None
    qtype: str | None = None
    trace: dict[str, Any] = field(default_factory=dict)
    dataset: str = ""
    budget_level: int | None = None  # index of ``budget`` in the sweep's budget list
    # How the budget was allocated across the batch: "uniform" (every question gets ``budget``),
    # "adaptive" (a cascade spends ``budget`` x questions over the batch; ``given`` is what this
    # question was granted in all, ``rung`` the ladder rung whose answer was kept) or "oracle"
    # (the cheapest right configuration, from journaled results; unattainable, a bound).
    allocation: str = "uniform"
    given: float | None = None
    rung: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """The inverse of ``to_dict`` (unknown keys are ignored, so old rows still load)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
