"""The generated world: a deterministic fictional encyclopedia with compositional questions.

``generate_world(WorldSettings(...))`` (``build``) returns a ``World`` (``model``); ``text`` phrases
documents, ``questions`` asks questions, ``names`` invents names, ``export`` writes the files.
"""

from forage.data.world.build import (
    MAX_HOPS,
    WorldSettings,
    generate_world,
    parse_hops,
    parse_types,
)
from forage.data.world.model import Entity, World

__all__ = ["MAX_HOPS", "Entity", "World", "WorldSettings", "generate_world", "parse_hops",
           "parse_types"]
