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


def test_token_capped_batches_stay_within_the_cap_and_keep_every_example():
    lengths = [((i * 53) % 600) + 20 for i in range(300)]
    settings = TrainSettings(seed=1, batch_size=16, batch_tokens=2048)
    batches = _batches(lengths, settings)
    assert sorted(i for b in batches for i in b) == list(range(300))
    for b in batches:
        assert len(b) <= 16
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 2048
    # short examples share a batch: fewer steps than one example a step, more than fixed 16s
    assert 300 / 16 < len(batches) < 300 / 2


def test_bad_format_weights_and_batch_tokens_are_refused():
    from forage.core.errors import ConfigError

    with pytest.raises(ConfigError, match="weight of format 'read'"):
        TrainSettings(format_weights=(("read", float("nan")),))
    with pytest.raises(ConfigError, match="batch tokens"):
        TrainSettings(batch_tokens=-1)
    assert TrainSettings(format_weights=(("read", 2.0),)).weight("read") == 2.0
    assert TrainSettings(format_weights=(("read", 2.0),)).weight("plan") == 1.0


def _tiny_llama():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=24,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1)
    return LlamaForCausalLM(config).eval()


def _batch(items):
    from forage.train.trainer import _collate

    return _collate(items, pad=0)


def test_completion_loss_is_each_examples_mean_over_its_completion_then_weighted():
    import torch
    import torch.nn.functional as F

    from forage.train.trainer import completion_loss

    model = _tiny_llama()
    short = ([3, 4, 5, 6, 7], [-100, -100, -100, 6, 7])  # 2 completion tokens
    long = ([8, 9, 10, 11, 12, 13, 14, 15], [-100, -100, 10, 11, 12, 13, 14, 15])  # 6
    batch = _batch([short, long])
    with torch.no_grad():
        got = completion_loss(model, batch, torch.tensor([2.0, 1.0]))
        logits = model(input_ids=batch["input_ids"],
                       attention_mask=batch["attention_mask"]).logits
    per = []
    for i, (_, labels) in enumerate([short, long]):
        y = torch.tensor(labels[1:])
        keep = y != -100
        per.append(F.cross_entropy(logits[i, : len(labels) - 1][keep], y[keep]))
    want = (2.0 * per[0] + 1.0 * per[1]) / 3.0
    assert torch.allclose(got, want, atol=1e-5)
    # a token-mean would weigh the long example by its 6 tokens: a different number
    token_mean = (2 * per[0] + 6 * per[1]) / 8
    assert not torch.allclose(got, token_mean, atol=1e-3)
