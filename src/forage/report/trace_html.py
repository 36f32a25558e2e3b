"""A trace tree (``Task.to_dict()``) as HTML: nested ``<details>``, one per task, shared by the
bench report (``forage.report.sweep_report``) and the service's trace viewer (``forage.serve.viewer``).

Each task shows its status, goal and conclusion; pruned tasks are greyed and carry a ``pruned``
badge; a bar shows the compute its subtree spent as a share of ``scale`` (the run's budget);
actions (model calls, searches, refusals) open on demand, and a search shows the documents it
returned when their texts are given (``documents``: id -> ``{"title", "text"}``).

Not here: pages around the tree (the report, the viewer), its CSS (``forage.report.styles``),
statistics.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

MAX_TEXT = 1500  # characters of a prompt, output or document shown


def _e(x: Any) -> str:
    return html.escape(str(x))


def fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"
    return str(x)


def clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"… ({len(text)} chars)"


def subtree_cost(task: Mapping[str, Any]) -> float:
    """Compute units the actions of ``task`` and of all its subtasks cost."""
    own = sum(float(a.get("cost") or 0.0) for a in task.get("actions", []))
    return own + sum(subtree_cost(s) for s in task.get("subtasks", []))


def _bar(spent: float, scale: float) -> str:
    share = 0.0 if scale <= 0 or not math.isfinite(scale) else min(1.0, spent / scale)
    return (f'<span class="bar" title="{spent:.1f} of {scale:g} units">'
            f'<span style="width:{100 * share:.1f}%"></span></span>')


def _documents(ids: list[str], documents: Mapping[str, Mapping[str, str]]) -> str:
    parts = []
    for doc_id in ids:
        doc = documents.get(doc_id)
        if doc is None:
            continue
        parts.append(f'<details class="doc"><summary>document {_e(doc_id)}: '
                     f'{_e(doc.get("title", ""))}</summary><pre>{_e(clip(doc.get("text", "")))}'
                     "</pre></details>")
    return "".join(parts)


def render_task(task: Mapping[str, Any], depth: int = 0, *, scale: float | None = None,
                documents: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """One task and its subtasks as nested ``<details>``; with ``scale`` each task gets a bar of
    the compute its subtree spent, as a share of ``scale``."""
    pruned = bool(task.get("pruned"))
    badge = '<span class="badge pruned-badge">pruned</span>' if pruned else ""
    conclusion = task.get("conclusion")
    bar = _bar(subtree_cost(task), scale) if scale is not None else ""
    summary = (f"{bar}[{_e(task.get('status', ''))}] {_e(task.get('goal', ''))}{badge}"
               + (f" → <b>{_e(conclusion)}</b>" if conclusion else ""))
    parts = [f'<details class="task{" pruned" if pruned else ""}"{" open" if depth == 0 else ""}>'
             f"<summary>{summary}</summary>"]
    if task.get("thought"):
        parts.append(f"<pre>thought: {_e(clip(task['thought']))}</pre>")
    budget = task.get("budget")
    if budget:
        parts.append(f"<div>budget {_e(budget.get('path'))}: spent {fmt(budget.get('spent'), 1)}"
                     f" of {fmt(budget.get('limit'), 1)}</div>")
    for a in task.get("actions", []):
        output = str(a.get("output", ""))
        docs = ""
        if documents and a.get("kind") == "search":
            docs = _documents(list((a.get("meta") or {}).get("ids", [])), documents)
        parts.append(
            f'<details class="action {_e(a.get("kind"))}"><summary><span class="kind">'
            f'{_e(a.get("kind"))}</span> '
            f"cost {fmt(a.get('cost'), 1)}{' (replayed)' if a.get('replayed') else ''}: "
            f"{_e(clip(output).splitlines()[0] if output else '')}"
            f"</summary><pre>{_e(clip(str(a.get('input', ''))))}</pre>"
            f"<pre>→ {_e(clip(output))}</pre>{docs}</details>"
        )
    for sub in task.get("subtasks", []):
        parts.append(render_task(sub, depth + 1, scale=scale, documents=documents))
    parts.append("</details>")
    return "".join(parts)
