"""The trace of a run is its task tree: goals, actions, subtasks, conclusions, budgets.

A ``Task`` is plain data that strategies build and the driver fills: every LLM call or search the
driver runs for a task is appended to that task's ``actions``. ``prune()`` marks a finished task
whose internals left working memory; the record of them stays here for reports.

Not here: running anything, rendering prompts, persistence (reports read ``to_dict()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from forage.core.budget import Budget

ActionKind = Literal["generate", "search", "refused"]
Status = Literal["open", "done", "failed", "exhausted"]


@dataclass
class Action:
    """One call made for a task: what went in, what came out, what it cost."""

    kind: ActionKind
    input: str
    output: str
    cost: float = 0.0
    tokens: int = 0
    replayed: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "input": self.input,
            "output": self.output,
            "cost": self.cost,
            "tokens": self.tokens,
            "replayed": self.replayed,
            "meta": self.meta,
        }


@dataclass
class Task:
    """A node of the task tree."""

    goal: str
    budget: Budget | None = None
    thought: str = ""
    actions: list[Action] = field(default_factory=list)
    subtasks: list[Task] = field(default_factory=list)
    conclusion: str | None = None
    confidence: float | None = None
    status: Status = "open"
    pruned: bool = False

    def add(self, goal: str, budget: Budget | None = None) -> Task:
        child = Task(goal=goal, budget=budget)
        self.subtasks.append(child)
        return child

    def finish(
        self, conclusion: str, *, confidence: float | None = None, status: Status = "done"
    ) -> None:
        self.conclusion = conclusion
        self.confidence = confidence
        self.status = status

    def prune(self) -> None:
        """Mark this task's internals (and its subtasks') as dropped from working memory."""
        self.pruned = True
        for sub in self.subtasks:
            sub.prune()

    def walk(self) -> list[Task]:
        out = [self]
        for sub in self.subtasks:
            out.extend(sub.walk())
        return out

    def to_dict(self) -> dict[str, Any]:
        b = self.budget
        return {
            "goal": self.goal,
            "thought": self.thought,
            "actions": [a.to_dict() for a in self.actions],
            "subtasks": [s.to_dict() for s in self.subtasks],
            "conclusion": self.conclusion,
            "confidence": self.confidence,
            "status": self.status,
            "pruned": self.pruned,
            "budget": None
            if b is None
            else {"path": b.path, "limit": b.limit, "spent": b.spent, "usage": b.usage.to_dict()},
        }
