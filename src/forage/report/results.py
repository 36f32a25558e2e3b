"""``Result``: one strategy's run on one question under one budget, scored -- the record a sweep
journals and every report reads.

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """The inverse of ``to_dict`` (unknown keys are ignored, so old rows still load)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
