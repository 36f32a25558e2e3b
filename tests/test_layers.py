"""Dependencies point one way, as the README's layout says: no module imports a room above its own
(imports under ``if TYPE_CHECKING:`` are types only and do not count)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The README's line, cheapest room first; rooms it does not name sit where their imports put them.
EXTRA = {"data": "llm", "train": "eval"}  # data: beside llm/search; train: beside eval


def ranks() -> dict[str, int]:
    readme = (ROOT / "README.md").read_text()
    line = re.search(r"Dependencies point one way: `([^`]*)`", readme)
    assert line, "the README states the dependency line"
    out: dict[str, int] = {}
    for i, group in enumerate(line.group(1).split("←")):
        for room in group.split("/"):
            out[room.strip()] = i
    for room, beside in EXTRA.items():
        out[room] = out[beside]
    return out


def upward_imports(rank: dict[str, int]) -> list[str]:
    bad = []
    for path in sorted((ROOT / "src" / "forage").rglob("*.py")):
        parts = path.relative_to(ROOT / "src" / "forage").parts
        if len(parts) < 2 or parts[0] not in rank:
            continue
        room = parts[0]

        class Visitor(ast.NodeVisitor):
            def visit_If(self, node: ast.If) -> None:
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    self.generic_visit(node)

            def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
                target = (node.module or "").split(".")
                if target[0] == "forage" and len(target) > 1 and target[1] in rank \
                        and rank[target[1]] > rank[room]:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}")

        Visitor().visit(ast.parse(path.read_text()))
    return bad


def test_no_room_imports_a_room_above_it():
    rank = ranks()
    assert {"core", "runtime", "hierarchy", "allocation", "eval", "cli"} <= set(rank)
    assert upward_imports(rank) == []


def test_the_check_sees_an_upward_import():
    rank = ranks()
    rank["core"], rank["cli"] = rank["cli"], rank["core"]  # core now sits above everything
    assert any("src/forage/cli/" in b for b in upward_imports(rank))
