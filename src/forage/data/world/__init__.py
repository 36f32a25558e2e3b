"""The generated world: a deterministic fictional encyclopedia with compositional questions.

``generate_world(WorldSettings(...))`` (``build``) returns a ``World`` (``model``); ``text`` phrases
documents, ``questions`` asks questions, ``names`` invents names, ``export`` writes the files.
``WorldSettings(templates="heldout")`` writes an evaluation world in the phrasing of ``heldout``,
which no standard (training) world uses; ``overlap`` measures how much phrasing worlds share.
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
