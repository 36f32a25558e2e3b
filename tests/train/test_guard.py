"""The training guard's world checks: evaluation seeds and held-out templates never train."""

from __future__ import annotations

import pytest

from forage.core.errors import ConfigError
from forage.data.world import WorldSettings
from forage.train.gold import world_records
from forage.train.guard import TRAIN_SEED_MIN, check_train_world


def test_heldout_template_worlds_are_refused_whatever_their_seed() -> None:
    for seed in (3, TRAIN_SEED_MIN, TRAIN_SEED_MIN + 5):
        with pytest.raises(ConfigError, match="evaluation"):
            check_train_world(WorldSettings(seed=seed, templates="heldout"))
    with pytest.raises(ConfigError, match="reserved for evaluation"):
        check_train_world(WorldSettings(seed=3))
    check_train_world(WorldSettings(seed=TRAIN_SEED_MIN))  # a standard training world is fine


def test_world_records_refuse_heldout_and_evaluation_worlds() -> None:
    heldout = WorldSettings(seed=TRAIN_SEED_MIN, templates="heldout", entities=100, questions=10)
    with pytest.raises(ConfigError, match="for evaluation only"):
        world_records(heldout)
    with pytest.raises(ConfigError, match="reserved for evaluation"):
        world_records(WorldSettings(seed=3, entities=100, questions=10))
    assert len(world_records(WorldSettings(seed=TRAIN_SEED_MIN, entities=100, questions=10))) == 10
