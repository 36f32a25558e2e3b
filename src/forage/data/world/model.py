"""The generated world's data: its entities and the world that holds them with documents and questions.

Not here: generating them (``build``), phrasing (``text``), questions (``questions``), files (``export``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forage.data.world.build import WorldSettings
    from forage.data.world.questions import WorldQuestion
    from forage.data.world.text import RenderedDoc


@dataclass
class Entity:
    """One thing in the world. ``rels`` maps a relation to its object's id; ``attrs`` holds
    attributes (``gender`` is used for pronouns only). Treated as read-only once generated."""

    id: str
    kind: str
    name: str
    attrs: dict[str, int | str] = field(default_factory=dict)
    rels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class World:
    """A generated world: entities, their documents, and the questions of both splits."""

    settings: WorldSettings
    entities: tuple[Entity, ...]
    by_id: Mapping[str, Entity]
    subjects: Mapping[tuple[str, str], tuple[str, ...]]  # (relation, object id) -> subject ids
    partners: Mapping[str, tuple[str, ...]]  # entity id -> ids of its confusable look-alikes
    documents: Mapping[str, RenderedDoc] = field(default_factory=dict)
    questions: tuple[WorldQuestion, ...] = ()

    def split(self, name: str) -> tuple[WorldQuestion, ...]:
        return tuple(q for q in self.questions if q.split == name)

    def of_kind(self, *kinds: str) -> list[Entity]:
        return [e for e in self.entities if e.kind in kinds]
