"""Trainer arithmetic that needs no model: the batch order."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the train extra (forage[train]) is not installed")

from forage.train.trainer import TrainSettings, _batches  # noqa: E402


def test_batches_cover_every_example_once_per_epoch_and_group_lengths():
    lengths = [((i * 37) % 100) + 1 for i in range(200)]
    settings = TrainSettings(seed=3, batch_size=4, epochs=2)
    batches = _batches(lengths, settings)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == sorted(list(range(200)) * 2)
    assert batches == _batches(lengths, settings)  # deterministic
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread / len(batches) < 20  # random batches of 4 would spread ~60
