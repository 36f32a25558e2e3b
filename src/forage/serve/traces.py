"""The runs a ``forage serve`` process answered, kept in memory for ``/v1/traces`` and ``/view``.

A ``TraceRecord`` is plain data: the question, the answer, the task tree (``Task.to_dict()``), the
ledger's summary, the per-node ledger (``node_ledger``) and the texts of the documents its searches
returned. A run that was cancelled (client gone) or timed out is recorded too, with its ledger and
no tree. A run of the adaptive cascade also keeps which rung answered and the rungs it ran. ``TraceStore`` keeps the newest ``capacity`` records and drops the oldest, so memory stays
bounded however long the server runs.

Not here: running (``forage.serve.app``), HTML (``forage.serve.viewer``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from forage.report.trace_html import subtree_cost

RunStatus = Literal["done", "exhausted", "cancelled", "timeout", "failed"]


def node_ledger(task: Mapping[str, Any], node: str = "0") -> list[dict[str, Any]]:
    """One row per task of a trace tree, depth first: what the task's own calls used and what its
    subtree cost (``spent``), its own budget's limit where it had one, pruned or not."""
    actions = task.get("actions", [])
    budget = task.get("budget") or {}
    row = {
        "node": node,
        "goal": task.get("goal", ""),
        "status": task.get("status"),
        "pruned": bool(task.get("pruned")),
        "spent": subtree_cost(task),
        "own_cost": sum(float(a.get("cost") or 0.0) for a in actions),
        "budget_path": budget.get("path"),
        "budget_limit": budget.get("limit"),
        "llm_calls": sum(1 for a in actions if a.get("kind") == "generate"),
        "search_calls": sum(1 for a in actions if a.get("kind") == "search"),
        "refused_calls": sum(1 for a in actions if a.get("kind") == "refused"),
        "tokens": sum(int(a.get("tokens") or 0) for a in actions),
    }
    rows = [row]
    for i, sub in enumerate(task.get("subtasks", [])):
        rows.extend(node_ledger(sub, f"{node}.{i}"))
    return rows


def searched_ids(task: Mapping[str, Any]) -> list[str]:
    """Ids of every document any search of the tree returned, first appearance first."""
    ids: dict[str, None] = {}
    for a in task.get("actions", []):
        if a.get("kind") == "search":
            ids.update(dict.fromkeys((a.get("meta") or {}).get("ids", [])))
    for sub in task.get("subtasks", []):
        ids.update(dict.fromkeys(searched_ids(sub)))
    return list(ids)


@dataclass(frozen=True)
class TraceRecord:
    id: str
    created: int
    model: str
    strategy: str
    corpus: str
    question: str
    answer: str
    status: RunStatus
    budget: float
    max_search_calls: int
    knob: int | None
    ledger: dict[str, float]
    trace: dict[str, Any] = field(default_factory=dict)
    documents: dict[str, dict[str, str]] = field(default_factory=dict)
    # an adaptive-cascade run: {"rung": answering rung or None, "rungs": [one summary per rung]};
    # ``trace`` is then the answering rung's tree (earlier rungs' spend is in the ledger only)
    cascade: dict[str, Any] = field(default_factory=dict)

    @property
    def spent(self) -> float:
        return float(self.ledger.get("compute", 0.0))

    def nodes(self) -> list[dict[str, Any]]:
        return node_ledger(self.trace) if self.trace else []

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "created": self.created, "model": self.model,
                "status": self.status, "budget": self.budget, "spent": self.spent,
                "search_calls": self.ledger.get("search_calls", 0),
                "max_search_calls": self.max_search_calls}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "spent": self.spent, "nodes": self.nodes()}


class TraceStore:
    """The newest ``capacity`` records by id (oldest dropped first)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._records: OrderedDict[str, TraceRecord] = OrderedDict()

    def put(self, record: TraceRecord) -> None:
        self._records[record.id] = record
        self._records.move_to_end(record.id)
        while len(self._records) > self.capacity:
            self._records.popitem(last=False)

    def get(self, trace_id: str) -> TraceRecord | None:
        return self._records.get(trace_id)

    def recent(self, limit: int) -> list[TraceRecord]:
        return list(self._records.values())[-limit:][::-1]

    def __len__(self) -> int:
        return len(self._records)
